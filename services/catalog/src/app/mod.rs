//! Catalog's use cases and their shared state.

pub mod upsert;

use std::sync::Arc;

use omni_db::Db;
use tokio::sync::Notify;

/// Shared state of the handlers.
#[derive(Clone)]
pub struct State {
    /// The catalog database.
    pub db: Db,
    /// Wakes the outbox relay after a commit.
    pub relay: Arc<Notify>,
}
