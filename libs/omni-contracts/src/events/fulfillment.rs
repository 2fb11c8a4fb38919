use serde::{Deserialize, Serialize};

use super::keys::keyed_by_order;
use super::plans::PlannedPart;
use super::reservations::HoldLine;
use crate::envelope::AggregateKey;
use crate::ids::{FulfillmentId, LocationId, OrderId, ReservationId, TaskId};
use crate::topic::Topic;

/// Events on `omni.fulfillment.v1`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum FulfillmentEvent {
    /// Routing chose a node; allocation holds the stock there.
    Sourced(FulfillmentSourced),
    /// No node can serve the order.
    Unsourceable(OrderUnsourceable),
    /// The node was told to fulfil.
    Released(FulfillmentReleased),
    /// The node shipped the order or handed it over: its units left the node.
    Completed(FulfillmentCompleted),
    /// A store task changed: an associate's action on it, or one of its timers.
    TaskChanged(StoreTaskChanged),
    /// A pickup or curbside order is ready at its store: the customer is told, with their pickup code.
    ReadyForPickup(ReadyForPickup),
    /// The node refused a released order's task: the order is routed again without it.
    Refused(FulfillmentRefused),
    /// The node stopped the work for good (the customer never collected it, or the order's cancel reached the
    /// store before the goods left): the order is cancelled, its hold released, its authorization voided.
    Cancelled(FulfillmentCancelled),
    /// A promise to the customer was not kept in time (ready-by, curbside hand-over).
    SlaBreached(SlaBreached),
    /// The pickup window closes soon: the customer is reminded.
    PickupReminder(PickupReminder),
    /// A store will not fulfil some units of its part (short on its shelf, sold at its till, rejected) while the
    /// rest goes on: allocation gives them back from the part's hold (they go to other nodes as new parts).
    HoldReduced(HoldReduced),
}

crate::event_payload!(FulfillmentEvent on Topic::Fulfillment, {
    Sourced(FulfillmentSourced) = "omni.fulfillment.sourced",
    Unsourceable(OrderUnsourceable) = "omni.fulfillment.unsourceable",
    Released(FulfillmentReleased) = "omni.fulfillment.released",
    Completed(FulfillmentCompleted) = "omni.fulfillment.completed",
    TaskChanged(StoreTaskChanged) = "omni.fulfillment.task_changed",
    ReadyForPickup(ReadyForPickup) = "omni.fulfillment.ready_for_pickup",
    Refused(FulfillmentRefused) = "omni.fulfillment.refused",
    Cancelled(FulfillmentCancelled) = "omni.fulfillment.cancelled",
    SlaBreached(SlaBreached) = "omni.fulfillment.sla_breached",
    PickupReminder(PickupReminder) = "omni.fulfillment.pickup_reminder",
    HoldReduced(HoldReduced) = "omni.fulfillment.hold_reduced",
});

/// `omni.fulfillment.hold_reduced`: units of a part its store will not fulfil, to give back from its hold.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HoldReduced {
    /// The order.
    pub order_id: OrderId,
    /// The part (fulfillment).
    pub fulfillment_id: FulfillmentId,
    /// Its hold.
    pub reservation_id: ReservationId,
    /// Its store.
    pub location_id: LocationId,
    /// The units given back.
    pub units: Vec<HoldLine>,
    /// Why, in the store's words.
    pub reason: String,
}

/// `omni.fulfillment.cancelled`: the node will never fulfil the order (nothing left it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FulfillmentCancelled {
    /// The order.
    pub order_id: OrderId,
    /// The fulfillment.
    pub fulfillment_id: FulfillmentId,
    /// Its node.
    pub location_id: LocationId,
    /// Why (`not collected within the pickup window`, `cancelled by ...`).
    pub reason: String,
}

/// `omni.fulfillment.sla_breached`: a store task missed a deadline the customer was promised.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SlaBreached {
    /// The order.
    pub order_id: OrderId,
    /// The task.
    pub task_id: TaskId,
    /// Its store.
    pub location_id: LocationId,
    /// Which promise: `ready_by` (shipped or ready for pickup), `curbside_handover` (arrived to handed over).
    pub breach: String,
    /// When it was due.
    pub due: chrono::DateTime<chrono::Utc>,
}

/// `omni.fulfillment.pickup_reminder`: the order waits at the store and the pickup window closes at `closes`;
/// a notifier reminds the customer (their pickup code was in `ready_for_pickup`, and is not repeated).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PickupReminder {
    /// The order.
    pub order_id: OrderId,
    /// The task.
    pub task_id: TaskId,
    /// Where to collect it.
    pub location_id: LocationId,
    /// When the window closes: uncollected, the order is cancelled.
    pub closes: chrono::DateTime<chrono::Utc>,
}

/// `omni.fulfillment.refused`: the node will not fulfil what was released to it (the store rejected its task).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FulfillmentRefused {
    /// The order.
    pub order_id: OrderId,
    /// The fulfillment.
    pub fulfillment_id: FulfillmentId,
    /// The node that refused.
    pub location_id: LocationId,
    /// Why, in the store's words.
    pub reason: String,
}

/// `omni.fulfillment.task_changed`: where a store task is after a change, and what changed it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoreTaskChanged {
    /// The order.
    pub order_id: OrderId,
    /// The fulfillment the task does.
    pub fulfillment_id: FulfillmentId,
    /// The task.
    pub task_id: TaskId,
    /// Its store.
    pub location_id: LocationId,
    /// The action that changed it (`accept`, `pick`, `pack`, `ship`, `stage`, `hand_over`, ...).
    pub action: String,
    /// Its state after (`accepted`, `picking`, `picked`, `packed`, `shipped`, `ready_for_pickup`, ...).
    pub state: String,
    /// Its version after.
    pub version: u32,
}

/// `omni.fulfillment.ready_for_pickup`: the notification to the customer. It carries the pickup code, the one
/// place the code is ever written in clear: a notifier passes it on, nothing logs it (its `Debug` hides it).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReadyForPickup {
    /// The order.
    pub order_id: OrderId,
    /// The task.
    pub task_id: TaskId,
    /// Where to collect it.
    pub location_id: LocationId,
    /// The single-use code the customer shows (or types in) to collect it.
    pub pickup_code: String,
}

/// One node considered by routing, and how it scored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Candidate {
    /// The node.
    pub location_id: LocationId,
    /// Distance to the customer (0 for pickup at that store).
    pub distance_km: f64,
    /// Whether it can serve the delivery type and has every line in stock.
    pub eligible: bool,
    /// Why not, when it is not.
    pub reason: Option<String>,
    /// What serving the whole order from this node would cost, when it could (absent from older events).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost: Option<CostTerms>,
}

/// What one part of a plan costs, term by term, in minor units of the order's currency (routing's model: the
/// settings under `fulfillment.routing`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CostTerms {
    /// Shipping: the distance to the customer × the cost per km (0 when the customer collects it).
    pub shipping: f64,
    /// Routing rules that prefer the node, as a (negative) cost: their bonus km × the cost per km.
    pub preference: f64,
    /// How busy the node is today: its share of the day's pick capacity used once this part is picked × the
    /// cost of a full day.
    pub capacity: f64,
    /// Deadline risk: the hours by which the part is expected to miss the order's promise × the cost of an
    /// hour late.
    pub deadline_risk: f64,
    /// The sum of the terms.
    pub total: f64,
}

/// One node's share of a routing plan.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PlanPart {
    /// The node.
    pub location_id: LocationId,
    /// The lines it serves.
    pub lines: Vec<HoldLine>,
    /// Its cost, term by term.
    pub cost: CostTerms,
}

/// A way to serve the whole order: one part per node, and what it costs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PlanOption {
    /// Its parts, one per node.
    pub parts: Vec<PlanPart>,
    /// The split penalty: each part after the first costs this much.
    pub split_penalty: f64,
    /// The parts' costs and the split penalty.
    pub total: f64,
}

/// `omni.fulfillment.sourced`: the decision with its explanation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FulfillmentSourced {
    /// The order.
    pub order_id: OrderId,
    /// The fulfillment created for it.
    pub fulfillment_id: FulfillmentId,
    /// The hold allocation is asked to place.
    pub reservation_id: ReservationId,
    /// The chosen node.
    pub location_id: LocationId,
    /// What to hold there.
    pub lines: Vec<HoldLine>,
    /// The order's channel: its buffer rules bind the hold (absent from older events: no rules apply).
    #[serde(default)]
    pub channel: Option<crate::api::Channel>,
    /// The customer's tier.
    #[serde(default)]
    pub tier: crate::api::CustomerTier,
    /// The order's segment (a curbside pickup, a pre-order): its hold may draw on that segment's ring-fence
    /// (a VIP draws on the VIP fence by its tier). Absent: none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub segment: Option<crate::policies::Segment>,
    /// Every node considered.
    pub candidates: Vec<Candidate>,
    /// The cheapest plans routing found, the chosen one first (absent from older events).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub plans: Vec<PlanOption>,
    /// Every part of the chosen plan, this one included (one when the order is not split; each part is its own
    /// fulfillment, hold and task, announced by its own `sourced`). Empty in older events: this is the only part.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub plan: Vec<PlannedPart>,
    /// The part of the order this plan replaces (a part routed again); absent for the order's first routing, or
    /// a whole order routed again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replaces: Option<FulfillmentId>,
    /// The rule that decided, in words.
    pub rule: String,
}

/// `omni.fulfillment.unsourceable`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OrderUnsourceable {
    /// The order.
    pub order_id: OrderId,
    /// Every node considered and why it was not eligible.
    pub candidates: Vec<Candidate>,
    /// The part that was to be routed again and cannot be (absent: the whole order).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub part: Option<FulfillmentId>,
}

/// `omni.fulfillment.released`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FulfillmentReleased {
    /// The order.
    pub order_id: OrderId,
    /// The fulfillment.
    pub fulfillment_id: FulfillmentId,
    /// The node.
    pub location_id: LocationId,
}

keyed_by_order!(
    FulfillmentSourced,
    OrderUnsourceable,
    FulfillmentReleased,
    FulfillmentCompleted,
    StoreTaskChanged,
    ReadyForPickup,
    FulfillmentRefused,
    FulfillmentCancelled,
    SlaBreached,
    PickupReminder,
    HoldReduced
);

/// How a fulfillment reached the customer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum HandedOver {
    /// Handed to the carrier.
    Shipped,
    /// Collected at the counter or the kerb.
    PickedUp,
}

/// `omni.fulfillment.completed`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FulfillmentCompleted {
    /// The order.
    pub order_id: OrderId,
    /// The fulfillment.
    pub fulfillment_id: FulfillmentId,
    /// The node.
    pub location_id: LocationId,
    /// How.
    pub how: HandedOver,
    /// Its hold, to commit (absent from older events: every hold of the order).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reservation_id: Option<ReservationId>,
    /// The units that left, when not every held unit did (some went to another node): only these leave on-hand,
    /// the rest of the hold is released. Empty: everything held left.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub left: Vec<HoldLine>,
    /// Every unit that left, per SKU, whether or not all held units did (what orders charges for). Empty on older
    /// events.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub delivered: Vec<HoldLine>,
}

impl std::fmt::Debug for ReadyForPickup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReadyForPickup")
            .field("order_id", &self.order_id)
            .field("task_id", &self.task_id)
            .field("location_id", &self.location_id)
            .field("pickup_code", &"<hidden>")
            .finish()
    }
}
