//! Fulfillment's shared state and the routing rules in force.

pub mod routing_rules;
pub mod sourcing;
pub mod tasks;

use std::sync::Arc;

use omni_db::Db;
use tokio::sync::Notify;

/// Shared state of handlers and consumers.
#[derive(Clone)]
pub struct State {
    /// The fulfillment database.
    pub db: Db,
    /// Wakes the outbox relay.
    pub relay: Arc<Notify>,
    /// `omni_availability_lag_seconds`: from allocation computing a SKU's availability (in the transaction of
    /// the movement or hold that changed it) to routing seeing it.
    pub availability_lag: prometheus::Histogram,
    /// The routing rules in force.
    pub rules: Arc<routing_rules::RoutingRules>,
    /// How long a node has to accept a released order's task (`fulfillment.accept_within_seconds`).
    pub accept_within: chrono::Duration,
}
