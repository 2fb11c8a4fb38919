use serde::{Deserialize, Serialize};

use super::keys::keyed_by_order;
use crate::envelope::AggregateKey;
use crate::ids::{OrderId, PaymentIntentId};
use crate::money::Money;
use crate::topic::Topic;

/// Events on `omni.payments.v1`. Never card data: tokens and references only.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum PaymentEvent {
    /// The PSP authorized the amount.
    Authorized(PaymentAuthorized),
    /// The PSP declined, or the tender could not be used.
    Declined(PaymentDeclined),
    /// The authorized amount was captured (the order was fulfilled).
    Captured(PaymentCaptured),
}

crate::event_payload!(PaymentEvent on Topic::Payments, {
    Authorized(PaymentAuthorized) = "omni.payment.authorized",
    Declined(PaymentDeclined) = "omni.payment.declined",
    Captured(PaymentCaptured) = "omni.payment.captured",
});

/// `omni.payment.authorized`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PaymentAuthorized {
    /// The order.
    pub order_id: OrderId,
    /// The intent.
    pub payment_intent_id: PaymentIntentId,
    /// What was authorized.
    pub amount: Money,
    /// The PSP's reference of the authorization.
    pub psp_reference: String,
    /// The order's tenders as payments knows them (cards with brand, last four and expiry), for the order to show.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub methods: Vec<crate::api::PaymentMethod>,
}

/// `omni.payment.declined`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PaymentDeclined {
    /// The order.
    pub order_id: OrderId,
    /// The intent.
    pub payment_intent_id: PaymentIntentId,
    /// Why, in words safe to show (no card data).
    pub reason: String,
    /// The order's tenders as payments knows them (cards with brand, last four and expiry), for the order to show.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub methods: Vec<crate::api::PaymentMethod>,
}

/// `omni.payment.captured`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PaymentCaptured {
    /// The order.
    pub order_id: OrderId,
    /// The intent.
    pub payment_intent_id: PaymentIntentId,
    /// What was captured.
    pub amount: Money,
}

keyed_by_order!(PaymentAuthorized, PaymentDeclined, PaymentCaptured);
