//! Fulfillment's shared state and the routing rules in force.

pub mod routing;
pub mod routing_rules;
pub mod sourcing;
pub mod tasks;
pub mod what_if;

use std::sync::Arc;

use omni_db::Db;

use crate::domain::task::Schedule;
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
    /// The deadlines of store tasks, per kind of node (`fulfillment.store`, `fulfillment.warehouse`).
    pub schedules: Schedules,
    /// How many wrong pickup codes are allowed (`fulfillment.pickup_code_*`).
    pub code_limits: CodeLimits,
    /// The proxies whose `X-Forwarded-For` names the client (`http.trusted_proxies`).
    pub trusted_proxies: Arc<[std::net::IpAddr]>,
    /// Store task metrics.
    pub task_metrics: crate::metrics::TaskMetrics,
    /// What routing weighs (`fulfillment.routing`, with each kind of node's `ready_within` as its handling time).
    pub cost_model: crate::domain::routing::cost::CostModel,
}

/// How many wrong pickup codes are allowed, per task and per client address, within `window`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CodeLimits {
    /// Per task, from anyone.
    pub per_task: u32,
    /// Per client address, across tasks.
    pub per_client: u32,
    /// How far back wrong codes count.
    pub window: chrono::Duration,
}

/// The deadlines of store tasks at each kind of node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Schedules {
    /// At stores.
    pub store: Schedule,
    /// At warehouses.
    pub warehouse: Schedule,
}

impl Schedules {
    /// The deadlines at a kind of node.
    pub fn of(&self, kind: omni_contracts::api::LocationKind) -> &Schedule {
        match kind {
            omni_contracts::api::LocationKind::Store => &self.store,
            omni_contracts::api::LocationKind::Warehouse => &self.warehouse,
        }
    }

    /// The deadlines at `location`: those of its kind (a store's, if the catalog has not announced it yet).
    pub fn at(
        &self,
        conn: &mut omni_db::DbConnection,
        location: &omni_contracts::LocationId,
    ) -> omni_db::Result<Schedule> {
        let kind = crate::db::network::profile(conn, location)?
            .map_or(omni_contracts::api::LocationKind::Store, |p| p.kind);
        Ok(*self.of(kind))
    }
}
