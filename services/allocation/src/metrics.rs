//! Allocation's own Prometheus metrics (registered in the service's registry, so they carry the `omni_` prefix
//! and the `service` label).

use std::time::Duration;

/// `omni_reservation_duration_seconds{outcome}`, `omni_oversold_units` and
/// `omni_return_restock_available_seconds`.
#[derive(Clone)]
pub struct AllocationMetrics {
    /// How long placing a hold took, by outcome: `held`, `rejected` (short) or `failed`.
    pub reservation_duration: prometheus::HistogramVec,
    /// Units held beyond on-hand at the last reconciliation (a till selling a held unit shows here until the
    /// order is re-routed; anything that stays is oversold).
    pub oversold_units: prometheus::IntGauge,
    /// From a returned unit's restock at a store (the return's movement, written as the unit is graded) until the
    /// unit counts in that store's ATP.
    pub restock_available: prometheus::Histogram,
}

impl AllocationMetrics {
    /// Creates and registers them.
    pub fn register(registry: &prometheus::Registry) -> prometheus::Result<Self> {
        let reservation_duration = prometheus::HistogramVec::new(
            prometheus::HistogramOpts::new(
                "reservation_duration_seconds",
                "Placing a hold (checkout or order), from the request to the durable answer, by outcome",
            )
            .buckets(omni_telemetry::metrics::LATENCY_BUCKETS.to_vec()),
            &["outcome"],
        )?;
        let oversold_units = prometheus::IntGauge::new(
            "oversold_units",
            "Units held beyond on-hand at the last reconciliation",
        )?;
        let restock_available = prometheus::Histogram::with_opts(
            prometheus::HistogramOpts::new(
                "return_restock_available_seconds",
                "A returned unit restocked at a store: from its grading until it counts in the store's ATP",
            )
            .buckets(omni_telemetry::metrics::LATENCY_BUCKETS.to_vec()),
        )?;
        registry.register(Box::new(reservation_duration.clone()))?;
        registry.register(Box::new(oversold_units.clone()))?;
        registry.register(Box::new(restock_available.clone()))?;
        Ok(Self {
            reservation_duration,
            oversold_units,
            restock_available,
        })
    }

    /// Records one hold attempt.
    pub fn observe_hold(&self, outcome: HoldOutcome, took: Duration) {
        self.reservation_duration
            .with_label_values(&[outcome.as_str()])
            .observe(took.as_secs_f64());
    }
}

/// How a hold attempt ended, as a bounded label.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HoldOutcome {
    /// Held.
    Held,
    /// Not enough stock.
    Rejected,
    /// Invalid, or a dependency failed.
    Failed,
}

impl HoldOutcome {
    fn as_str(self) -> &'static str {
        match self {
            HoldOutcome::Held => "held",
            HoldOutcome::Rejected => "rejected",
            HoldOutcome::Failed => "failed",
        }
    }
}
