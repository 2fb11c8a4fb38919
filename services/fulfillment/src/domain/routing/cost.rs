//! What one node serving part of an order costs, term by term, in minor units of the order's currency: shipping
//! (distance × cost per km), preference (routing rules that favour the node, as a negative cost), capacity (the
//! share of the node's daily pick capacity used once this part is picked × the cost of a full day) and deadline
//! risk (hours expected late for the promise × the cost of an hour late). A node whose capacity left today is
//! too small for the part cannot take it; one whose last units are kept for urgent orders takes only those
//! (the earliest deadlines get the last capacity).

use chrono::{DateTime, Duration, Utc};
use omni_contracts::api::LocationKind;
use omni_contracts::events::CostTerms;

use super::Node;

/// What routing weighs, and how far it may split an order (settings `fulfillment.routing`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CostModel {
    /// Shipping one part one km.
    pub per_km: f64,
    /// Each part after the first: another parcel, another pick, another hand-over.
    pub split_penalty: f64,
    /// A node's whole day of pick capacity: a part costs its share of that, counted with what the node already
    /// has today.
    pub full_day: f64,
    /// One hour expected late for the order's promise.
    pub late_hour: f64,
    /// How far a parcel travels in an hour, for the deadline risk of shipping.
    pub transit_km_per_hour: f64,
    /// How many times one order may be split: at most `max_splits + 1` nodes serve it (0: never split).
    pub max_splits: u32,
    /// The share of a node's daily capacity kept for urgent orders (0 to 1): a node whose capacity left would
    /// fall under it takes only orders promised within `urgent_within`.
    pub urgent_reserve: f64,
    /// An order promised within this of now is urgent.
    pub urgent_within: Duration,
    /// How long a store takes from release to shipped or ready, when idle (its `ready_within`).
    pub store_handling: Duration,
    /// How long a warehouse takes.
    pub warehouse_handling: Duration,
}

impl Default for CostModel {
    fn default() -> Self {
        Self {
            per_km: 5.0,
            split_penalty: 600.0,
            full_day: 1_000.0,
            late_hour: 200.0,
            transit_km_per_hour: 40.0,
            max_splits: 2,
            urgent_reserve: 0.1,
            urgent_within: Duration::hours(24),
            store_handling: Duration::hours(2),
            warehouse_handling: Duration::hours(24),
        }
    }
}

/// What routing knows of the order beyond its lines.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Timing {
    /// The decision's time.
    pub now: DateTime<Utc>,
    /// The promise to the customer (ship-by, pickup-by), if any.
    pub promise_by: Option<DateTime<Utc>>,
}

impl Timing {
    /// Whether the order is promised soon enough to use a node's last capacity.
    fn urgent(&self, model: &CostModel) -> bool {
        self.promise_by
            .is_some_and(|p| p - self.now <= model.urgent_within)
    }
}

/// Whether a node can take a part, and at what cost.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Fit {
    /// It can, at this cost.
    Fits(CostTerms),
    /// Its pick capacity left today is smaller than the part.
    OverCapacity {
        /// Units it can still pick today.
        left: u32,
        /// Units the part needs.
        needs: u32,
    },
    /// Taking the part would eat into the capacity kept for urgent orders, and this one is not.
    KeptForUrgent {
        /// Units it can still pick today.
        left: u32,
    },
}

impl Fit {
    /// Why the node cannot take the part, in words; `None` when it can.
    pub fn reason(&self) -> Option<String> {
        match self {
            Fit::Fits(_) => None,
            Fit::OverCapacity { left, needs } => Some(format!(
                "pick capacity left today: {left} units, the order needs {needs}"
            )),
            Fit::KeptForUrgent { left } => Some(format!(
                "its last {left} units of pick capacity today are kept for urgent orders"
            )),
        }
    }
}

/// What `node` (at `distance_km` from the customer when shipping, `None` for a collection at the node; counting
/// `bonus_km` nearer by the routing rules) costs to serve `units` of the order.
pub fn part_cost(
    model: &CostModel,
    timing: &Timing,
    node: &Node,
    distance_km: Option<f64>,
    bonus_km: f64,
    units: u32,
) -> Fit {
    let mut load = 0.0;
    if let Some(capacity) = node.pick_capacity {
        let left = capacity.saturating_sub(node.picked_today);
        if units > left {
            return Fit::OverCapacity { left, needs: units };
        }
        let kept = (f64::from(capacity) * model.urgent_reserve).ceil();
        if f64::from(left - units) < kept && !timing.urgent(model) {
            return Fit::KeptForUrgent { left };
        }
        load = f64::from(node.picked_today + units) / f64::from(capacity.max(1));
    }
    let handling = match node.kind {
        LocationKind::Store => model.store_handling,
        LocationKind::Warehouse => model.warehouse_handling,
    };
    let distance = distance_km.unwrap_or(0.0);
    let deadline_risk = timing.promise_by.map_or(0.0, |promise| {
        // A busy node is slower: at full load its handling takes twice as long.
        let handling_hours = handling.num_seconds() as f64 / 3600.0 * (1.0 + load);
        let transit_hours = distance / model.transit_km_per_hour.max(f64::MIN_POSITIVE);
        let hours_left = (promise - timing.now).num_seconds() as f64 / 3600.0;
        (handling_hours + transit_hours - hours_left).max(0.0) * model.late_hour
    });
    let shipping = cents(distance * model.per_km);
    let preference = cents(-bonus_km * model.per_km);
    let capacity = cents(load * model.full_day);
    let deadline_risk = cents(deadline_risk);
    Fit::Fits(CostTerms {
        shipping,
        preference,
        capacity,
        deadline_risk,
        total: cents(shipping + preference + capacity + deadline_risk),
    })
}

/// Rounded to a hundredth of a minor unit, so explanations read cleanly and compare exactly.
fn cents(value: f64) -> f64 {
    (value * 100.0).round() / 100.0
}
