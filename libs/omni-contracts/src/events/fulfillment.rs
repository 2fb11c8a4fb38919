use serde::{Deserialize, Serialize};

use super::keys::keyed_by_order;
use super::reservations::HoldLine;
use crate::envelope::AggregateKey;
use crate::ids::{FulfillmentId, LocationId, OrderId, ReservationId};
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
}

crate::event_payload!(FulfillmentEvent on Topic::Fulfillment, {
    Sourced(FulfillmentSourced) = "omni.fulfillment.sourced",
    Unsourceable(OrderUnsourceable) = "omni.fulfillment.unsourceable",
    Released(FulfillmentReleased) = "omni.fulfillment.released",
    Completed(FulfillmentCompleted) = "omni.fulfillment.completed",
});

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
    FulfillmentCompleted
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
