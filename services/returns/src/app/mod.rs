//! Returns' use cases and shared state.

pub mod customer;
pub mod exchange;
pub mod expiry;
pub mod lifecycle;
pub mod read_model;
pub mod returns;
pub mod settlement;

use std::sync::Arc;

use omni_db::Db;
use tokio::sync::Notify;

use crate::app::customer::CodeLimits;
use crate::domain::policy::ReturnPolicy;
use crate::metrics::ReturnMetrics;

/// Writes one of the returns' events to the outbox, in the caller's transaction.
pub(crate) fn announce(
    conn: &mut omni_db::DbConnection,
    event: omni_contracts::events::ReturnEvent,
) -> Result<(), crate::error::ReturnError> {
    omni_kafka::outbox::enqueue(conn, &omni_contracts::Envelope::new("returns", event))?;
    Ok(())
}

/// Shared state of handlers and consumers.
#[derive(Clone)]
pub struct State {
    /// The returns database.
    pub db: Db,
    /// Wakes the outbox relay after a commit.
    pub relay: Arc<Notify>,
    /// The return policy in force: each order keeps a snapshot of it taken when it is accepted.
    pub policy: Arc<ReturnPolicy>,
    /// Returns' metrics.
    pub metrics: ReturnMetrics,
    /// Wrong return codes allowed, and over how long.
    pub code_limits: CodeLimits,
    /// The proxies whose `X-Forwarded-For` names the client (`http.trusted_proxies`).
    pub trusted_proxies: Arc<[std::net::IpAddr]>,
    /// How long an approved return waits for its items before it expires.
    pub items_within: chrono::Duration,
}

impl State {
    /// The state from the settings' `[returns]`.
    pub fn new(
        db: Db,
        relay: Arc<Notify>,
        settings: &omni_config::ReturnsSettings,
        metrics: ReturnMetrics,
        trusted_proxies: Arc<[std::net::IpAddr]>,
    ) -> Self {
        Self {
            db,
            relay,
            metrics,
            code_limits: CodeLimits {
                per_order: i64::from(settings.code_attempts_per_order),
                per_client: i64::from(settings.code_attempts_per_client),
                window: chrono::Duration::seconds(
                    i64::try_from(settings.code_lockout_seconds).unwrap_or(i64::MAX / 1000),
                ),
            },
            trusted_proxies,
            policy: Arc::new(ReturnPolicy {
                window_days: settings.window_days,
                channel_window_days: settings.channel_window_days.clone(),
                final_sale_tags: settings.final_sale_tags.iter().cloned().collect(),
                manager_grace_days: settings.manager_grace_days,
                manager_approval_above_minor: settings.manager_approval_above_minor,
            }),
            items_within: chrono::Duration::seconds(
                i64::try_from(settings.items_within_seconds).unwrap_or(i64::MAX / 1000),
            ),
        }
    }
}
