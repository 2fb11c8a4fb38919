//! Fulfillment's store task metrics (registered in the service's registry, so they carry the `omni_` prefix and the
//! `service` label). Open tasks are counted from the database; the rest from committed changes
//! ([`crate::app::tasks::Observation`]), recorded after their transaction, so a change that rolled back is never
//! counted.

use crate::app::tasks::Observation;
use crate::domain::task::TaskState;

/// Buckets for store work: a minute to a few days.
const STORE_BUCKETS: &[f64] = &[
    60.0, 300.0, 600.0, 1800.0, 3600.0, 7200.0, 14400.0, 28800.0, 86400.0, 259_200.0,
];

/// Buckets for a customer waiting at the kerb: seconds to an hour.
const WAIT_BUCKETS: &[f64] = &[
    15.0, 30.0, 60.0, 120.0, 180.0, 300.0, 600.0, 900.0, 1800.0, 3600.0,
];

/// The store task metrics.
#[derive(Clone)]
pub struct TaskMetrics {
    /// `omni_store_tasks_open{location, state}`: tasks with work left, by store and state.
    pub open: prometheus::IntGaugeVec,
    /// `omni_store_task_changes_total{action}`: associates' actions, customers' arrivals and timer firings.
    pub changes: prometheus::IntCounterVec,
    /// `omni_store_task_time_to_ready_seconds{method}`: from release to ready for pickup, or to shipped.
    pub time_to_ready: prometheus::HistogramVec,
    /// `omni_curbside_wait_seconds`: from a curbside customer's arrival to the hand-over at the car.
    pub curbside_wait: prometheus::Histogram,
    /// `omni_pickups_uncollected_total{location}`: pickups whose window lapsed (stock back on sale there).
    pub uncollected: prometheus::IntCounterVec,
    /// `omni_store_task_sla_breaches_total{location, breach}`: promises missed (`ready_by`, `curbside_handover`).
    pub breaches: prometheus::IntCounterVec,
}

impl TaskMetrics {
    /// Creates and registers them.
    pub fn register(registry: &prometheus::Registry) -> prometheus::Result<Self> {
        use prometheus::{Histogram, HistogramOpts, HistogramVec, IntCounterVec, IntGaugeVec, Opts};
        let open = IntGaugeVec::new(
            Opts::new(
                "store_tasks_open",
                "Store tasks with work left, by store and state",
            ),
            &["location", "state"],
        )?;
        let changes = IntCounterVec::new(
            Opts::new(
                "store_task_changes_total",
                "Changes of store tasks, by action (or timer)",
            ),
            &["action"],
        )?;
        let time_to_ready = HistogramVec::new(
            HistogramOpts::new(
                "store_task_time_to_ready_seconds",
                "From release to ready for pickup (pickup, curbside) or shipped (ship)",
            )
            .buckets(STORE_BUCKETS.to_vec()),
            &["method"],
        )?;
        let curbside_wait = Histogram::with_opts(
            HistogramOpts::new(
                "curbside_wait_seconds",
                "From a curbside customer's arrival to the hand-over at the car",
            )
            .buckets(WAIT_BUCKETS.to_vec()),
        )?;
        let uncollected = IntCounterVec::new(
            Opts::new(
                "pickups_uncollected_total",
                "Pickups not collected within their window (order cancelled, stock back on sale at the store)",
            ),
            &["location"],
        )?;
        let breaches = IntCounterVec::new(
            Opts::new(
                "store_task_sla_breaches_total",
                "Promises to customers missed by store tasks, by store and promise",
            ),
            &["location", "breach"],
        )?;
        registry.register(Box::new(open.clone()))?;
        registry.register(Box::new(changes.clone()))?;
        registry.register(Box::new(time_to_ready.clone()))?;
        registry.register(Box::new(curbside_wait.clone()))?;
        registry.register(Box::new(uncollected.clone()))?;
        registry.register(Box::new(breaches.clone()))?;
        Ok(Self {
            open,
            changes,
            time_to_ready,
            curbside_wait,
            uncollected,
            breaches,
        })
    }

    /// Records a committed change.
    pub fn record(&self, seen: &Observation) {
        let location = seen.location.as_str();
        self.changes.with_label_values(&[seen.action]).inc();
        if let Some(seconds) = seen.time_to_ready {
            self.time_to_ready
                .with_label_values(&[seen.method.as_str()])
                .observe(seconds);
        }
        if let Some(seconds) = seen.curbside_wait {
            self.curbside_wait.observe(seconds);
        }
        if seen.state == TaskState::Uncollected {
            self.uncollected.with_label_values(&[location]).inc();
        }
        for breach in &seen.breaches {
            self.breaches
                .with_label_values(&[location, breach.as_str()])
                .inc();
        }
    }

    /// Sets the open task counts to `counts` (`(location, state, tasks)`); a store and state seen before with none
    /// left now reads 0 (a series that vanished would read as "no data", not as an empty queue).
    pub fn set_open(&self, counts: &[(String, TaskState, i64)]) {
        use prometheus::core::Collector;
        for family in self.open.collect() {
            for metric in family.get_metric() {
                let labels: std::collections::HashMap<&str, &str> =
                    metric.get_label().iter().map(|l| (l.name(), l.value())).collect();
                if let (Some(location), Some(state)) = (labels.get("location"), labels.get("state")) {
                    self.open.with_label_values(&[*location, *state]).set(0);
                }
            }
        }
        for (location, state, tasks) in counts {
            self.open
                .with_label_values(&[location.as_str(), state.as_str()])
                .set(*tasks);
        }
    }
}
