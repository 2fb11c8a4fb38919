use serde::{Deserialize, Serialize};

use super::keys::keyed_by_order;
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
});

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
    /// Every node considered.
    pub candidates: Vec<Candidate>,
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
    PickupReminder
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
