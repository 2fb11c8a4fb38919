//! Returns' use cases and shared state.

pub mod read_model;
pub mod returns;

use std::sync::Arc;

use omni_db::Db;
use tokio::sync::Notify;

use crate::domain::policy::ReturnPolicy;

/// Shared state of handlers and consumers.
#[derive(Clone)]
pub struct State {
    /// The returns database.
    pub db: Db,
    /// Wakes the outbox relay after a commit.
    pub relay: Arc<Notify>,
    /// The return policy in force: each order keeps a snapshot of it taken when it is accepted.
    pub policy: Arc<ReturnPolicy>,
    /// Days a return by mail waits for its items.
    pub mail_return_days: u32,
}

impl State {
    /// The state from the settings' `[returns]`.
    pub fn new(db: Db, relay: Arc<Notify>, settings: &omni_config::ReturnsSettings) -> Self {
        Self {
            db,
            relay,
            policy: Arc::new(ReturnPolicy {
                window_days: settings.window_days,
                channel_window_days: settings.channel_window_days.clone(),
                final_sale_tags: settings.final_sale_tags.iter().cloned().collect(),
            }),
            mail_return_days: settings.mail_return_days,
        }
    }
}
