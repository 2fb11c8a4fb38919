//! Returns' Prometheus metrics (in the service's registry: `omni_` prefix, `service` label): returns by outcome,
//! units by reason, store and disposition, and the money refunded. The restock → available lag is measured where
//! the unit becomes available: allocation's `omni_return_restock_available_seconds`.

use omni_contracts::returns::Return;

/// `omni_returns_total{outcome}`, `omni_returned_units_total{reason,location,disposition}` and
/// `omni_return_refunds_minor_total{currency}`.
#[derive(Clone)]
pub struct ReturnMetrics {
    returns: prometheus::IntCounterVec,
    units: prometheus::IntCounterVec,
    refunds: prometheus::IntCounterVec,
}

/// How far a return went, as a bounded label.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Approved and stored.
    Opened,
    /// Refused by the policy or what the order can still return.
    Declined,
    /// Withdrawn before its items came.
    Cancelled,
    /// Its items never came.
    Expired,
    /// Refunded.
    Settled,
}

impl Outcome {
    fn as_str(self) -> &'static str {
        match self {
            Outcome::Opened => "opened",
            Outcome::Declined => "declined",
            Outcome::Cancelled => "cancelled",
            Outcome::Expired => "expired",
            Outcome::Settled => "settled",
        }
    }
}

impl ReturnMetrics {
    /// Creates and registers them.
    pub fn register(registry: &prometheus::Registry) -> prometheus::Result<Self> {
        let returns = prometheus::IntCounterVec::new(
            prometheus::Opts::new("returns_total", "Returns by how far they went"),
            &["outcome"],
        )?;
        let units = prometheus::IntCounterVec::new(
            prometheus::Opts::new(
                "returned_units_total",
                "Returned units graded, by the reason given, the store that received them and their disposition",
            ),
            &["reason", "location", "disposition"],
        )?;
        let refunds = prometheus::IntCounterVec::new(
            prometheus::Opts::new(
                "return_refunds_minor_total",
                "Money refunded for returned units, in minor units of the currency",
            ),
            &["currency"],
        )?;
        registry.register(Box::new(returns.clone()))?;
        registry.register(Box::new(units.clone()))?;
        registry.register(Box::new(refunds.clone()))?;
        Ok(Self {
            returns,
            units,
            refunds,
        })
    }

    /// Counts a return that went as far as `outcome`.
    pub fn count(&self, outcome: Outcome) {
        self.returns.with_label_values(&[outcome.as_str()]).inc();
    }

    /// Counts the units of a return just graded.
    pub fn graded(&self, r: &Return) {
        for unit in &r.units {
            let reason = r
                .lines
                .iter()
                .find(|l| l.sku == unit.sku)
                .map_or("unknown", |l| l.reason.as_str());
            self.units
                .with_label_values(&[reason, unit.location_id.as_str(), unit.disposition.as_str()])
                .inc();
        }
    }

    /// Counts money refunded.
    pub fn refunded(&self, money: omni_contracts::Money) {
        if let Ok(minor) = u64::try_from(money.amount_minor) {
            self.refunds
                .with_label_values(&[money.currency.as_str()])
                .inc_by(minor);
        }
    }
}
