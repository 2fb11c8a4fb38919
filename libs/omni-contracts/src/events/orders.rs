use serde::{Deserialize, Serialize};

use super::keys::keyed_by_order;
use crate::api::{Order, PartnerOrder, Payer, PaymentMethod};
use crate::envelope::AggregateKey;
use crate::ids::{FulfillmentId, LocationId, OrderId, PaymentIntentId, ReservationId};
use crate::money::Money;
use crate::topic::Topic;

/// Events on the partners' `omni.orders.inbound.<partner>.v1`: orders from partner marketplaces.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum InboundOrderEvent {
    /// A partner submitted an order.
    Submitted(PartnerOrder),
}

crate::event_payload!(InboundOrderEvent on Topic::OrdersInbound, {
    Submitted(PartnerOrder) = "omni.partner_order.submitted",
});

impl AggregateKey for PartnerOrder {
    fn aggregate_key(&self) -> String {
        format!("{}:{}", self.partner_id, self.partner_order_id)
    }
}

/// Events on `omni.orders.v1`: the order lifecycle.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum OrderEvent {
    /// Omni took the order.
    Accepted(OrderAccepted),
    /// Stock is held for it.
    Reserved(OrderReserved),
    /// Its tenders are authorized.
    PaymentAuthorized(OrderPaymentAuthorized),
    /// A node was told to fulfil it.
    Released(OrderReleased),
    /// One part of a split order left its node (the others are still under way): payments captures its value.
    PartDelivered(OrderPartDelivered),
    /// The node shipped it or handed it over.
    Fulfilled(OrderFulfilled),
    /// Fulfilled and paid.
    Completed(OrderCompleted),
    /// A card authorization could not be renewed: the order awaits another payment.
    AwaitingPayment(OrderAwaitingPayment),
    /// It cannot complete.
    Failed(OrderFailed),
    /// Cancelled: holds are released and authorizations voided.
    Cancelled(OrderCancelled),
    /// A cancel asked for after payment: its node stops the work, unless the goods already left.
    CancelRequested(OrderCancelRequested),
    /// Its hold was refused at the chosen node: routing must choose again without the excluded nodes.
    RerouteRequested(OrderRerouteRequested),
    /// A partner sent an order it had sent before: nothing new was made; this names the first order.
    DuplicateReceived(OrderDuplicateReceived),
}

crate::event_payload!(OrderEvent on Topic::Orders, {
    Accepted(OrderAccepted) = "omni.order.accepted",
    Reserved(OrderReserved) = "omni.order.reserved",
    PaymentAuthorized(OrderPaymentAuthorized) = "omni.order.payment_authorized",
    Released(OrderReleased) = "omni.order.released",
    PartDelivered(OrderPartDelivered) = "omni.order.part_delivered",
    Fulfilled(OrderFulfilled) = "omni.order.fulfilled",
    Completed(OrderCompleted) = "omni.order.completed",
    AwaitingPayment(OrderAwaitingPayment) = "omni.order.awaiting_payment",
    Failed(OrderFailed) = "omni.order.failed",
    RerouteRequested(OrderRerouteRequested) = "omni.order.reroute_requested",
    Cancelled(OrderCancelled) = "omni.order.cancelled",
    CancelRequested(OrderCancelRequested) = "omni.order.cancel_requested",
    DuplicateReceived(OrderDuplicateReceived) = "omni.order.duplicate_received",
});

/// `omni.order.duplicate_received`: the acknowledgement of a partner order sent again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OrderDuplicateReceived {
    /// The order the first message made.
    pub order_id: OrderId,
    /// The partner.
    pub partner_id: crate::ids::PartnerId,
    /// Its own id of the order.
    pub partner_order_id: String,
    /// Where the order is now.
    pub status: crate::api::OrderStatus,
}

impl AggregateKey for OrderDuplicateReceived {
    fn aggregate_key(&self) -> String {
        self.order_id.to_string()
    }
}

/// `omni.order.cancelled`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OrderCancelled {
    /// The order.
    pub order_id: OrderId,
    /// Who cancelled it.
    pub by: String,
}

/// `omni.order.reroute_requested`: route the order again, avoiding the nodes that already refused it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OrderRerouteRequested {
    /// The order.
    pub order: Order,
    /// Nodes not to choose again.
    pub exclude: Vec<LocationId>,
    /// Why the last node could not take it.
    pub reason: String,
    /// 1 for the first re-route.
    pub attempt: u32,
    /// The part of a split order to route again (its lines only; the other parts go on): the fulfillment that
    /// could not be served. Absent: the whole order (older events, and orders never split).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub part: Option<crate::ids::FulfillmentId>,
}

impl AggregateKey for OrderRerouteRequested {
    fn aggregate_key(&self) -> String {
        self.order.id.to_string()
    }
}

/// `omni.order.accepted`: the whole order as accepted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OrderAccepted {
    /// The order.
    pub order: Order,
}

/// `omni.order.reserved`: what payments needs to authorize.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OrderReserved {
    /// The order.
    pub order_id: OrderId,
    /// The hold.
    pub reservation_id: ReservationId,
    /// Where stock is held.
    pub location_id: LocationId,
    /// The amount to authorize.
    pub amount: Money,
    /// The tenders to authorize it on (cards by payment-method reference, never by token).
    pub tenders: Vec<PaymentMethod>,
    /// Who placed the order: a card pays it only if this payer tokenized it.
    #[serde(default)]
    pub payer: Payer,
    /// The order's customer, when the channel named one: a card bound to a customer pays only their orders.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer_id: Option<crate::ids::CustomerId>,
}

/// `omni.order.payment_authorized`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OrderPaymentAuthorized {
    /// The order.
    pub order_id: OrderId,
    /// The authorized intent.
    pub payment_intent_id: PaymentIntentId,
    /// The node holding its stock.
    pub location_id: LocationId,
}

/// `omni.order.released`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OrderReleased {
    /// The order.
    pub order_id: OrderId,
    /// The fulfillment the node works on.
    pub fulfillment_id: FulfillmentId,
    /// The node.
    pub location_id: LocationId,
}

/// `omni.order.failed`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OrderFailed {
    /// The order.
    pub order_id: OrderId,
    /// Why, in words.
    pub reason: String,
}

impl AggregateKey for OrderAccepted {
    fn aggregate_key(&self) -> String {
        self.order.id.to_string()
    }
}

/// `omni.order.fulfilled`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OrderFulfilled {
    /// The order.
    pub order_id: OrderId,
    /// The node.
    pub location_id: LocationId,
    /// How it reached the customer.
    pub how: super::fulfillment::HandedOver,
    /// The value of what its last part delivered (the earlier parts' were announced with
    /// `omni.order.part_delivered`): payments captures it as the final capture and voids what is left. Absent from
    /// older events: the whole authorization is captured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delivered: Option<Money>,
    /// The fulfillment of that last part, when one left (absent when the order ends with a part no node took).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fulfillment_id: Option<FulfillmentId>,
}

/// `omni.order.awaiting_payment`: payments could not renew a card's authorization before it lapses.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OrderAwaitingPayment {
    /// The order.
    pub order_id: OrderId,
    /// Why, safe to show.
    pub reason: String,
}

/// `omni.order.part_delivered`: one part of a split order was shipped or handed over while others are still
/// under way; `amount` is the value of the units that left (the lines' unit prices), which payments captures.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OrderPartDelivered {
    /// The order.
    pub order_id: OrderId,
    /// The part's fulfillment.
    pub fulfillment_id: FulfillmentId,
    /// Its node.
    pub location_id: LocationId,
    /// The value of the units that left.
    pub amount: Money,
}

/// `omni.order.cancel_requested`: a paid order is to be cancelled. Its node decides: if nothing left it yet, the
/// work stops (`omni.fulfillment.cancelled`) and the order is cancelled; if it was shipped or handed over first,
/// the order is fulfilled as usual and the cancel came too late.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OrderCancelRequested {
    /// The order.
    pub order_id: OrderId,
    /// Who asked.
    pub by: String,
}

/// `omni.order.completed`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OrderCompleted {
    /// The order.
    pub order_id: OrderId,
}

keyed_by_order!(
    OrderAwaitingPayment,
    OrderCompleted,
    OrderFulfilled,
    OrderPartDelivered,
    OrderReserved,
    OrderPaymentAuthorized,
    OrderReleased,
    OrderFailed,
    OrderCancelled,
    OrderCancelRequested
);
