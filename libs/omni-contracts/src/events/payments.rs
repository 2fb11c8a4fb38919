use serde::{Deserialize, Serialize};

use super::keys::keyed_by_order;
use crate::envelope::AggregateKey;
use crate::ids::{FulfillmentId, OrderId, PaymentIntentId};
use crate::money::Money;
use crate::topic::Topic;

/// Events on `omni.payments.v1`. Never card data: tokens and references only.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum PaymentEvent {
    /// The PSP authorized the amount.
    Authorized(PaymentAuthorized),
    /// The PSP declined, or the tender could not be used.
    Declined(PaymentDeclined),
    /// Money was captured: the value of lines shipped or handed over.
    Captured(PaymentCaptured),
    /// Authorized money that will not be captured was released (the order failed or was cancelled, or the final
    /// capture took less than was authorized).
    Voided(PaymentVoided),
    /// A refund was carried out, split across the order's tenders.
    Refunded(PaymentRefunded),
    /// A refund was refused whole (more than is refundable, an unknown order): nothing moved.
    RefundRefused(PaymentRefundRefused),
    /// A card authorization was renewed before it lapsed: a new authorization, linked to the old one (voided).
    Reauthorized(PaymentReauthorized),
    /// A card authorization could not be renewed: the order awaits another payment.
    ReauthorizationFailed(PaymentReauthorizationFailed),
    /// The reconcile found a tender whose buckets differ from the PSP's own record.
    ReconcileDifference(PaymentReconcileDifference),
    /// A command: give money back on an order (sent by returns or any service; `POST /v1/payments/refunds` does
    /// the same). Payments answers with `refunded` or `refund_refused`.
    RefundRequested(RefundRequested),
    /// A command: issue store credit for money owed on an order (returns, for a return refunded as store credit).
    /// Payments answers with `store_credit_issued` or `refund_refused`.
    StoreCreditRequested(StoreCreditRequested),
    /// Store credit was issued for a command: the notification to the customer, with its code.
    StoreCreditIssued(StoreCreditIssued),
}

crate::event_payload!(PaymentEvent on Topic::Payments, {
    Authorized(PaymentAuthorized) = "omni.payment.authorized",
    Declined(PaymentDeclined) = "omni.payment.declined",
    Captured(PaymentCaptured) = "omni.payment.captured",
    Voided(PaymentVoided) = "omni.payment.voided",
    Refunded(PaymentRefunded) = "omni.payment.refunded",
    RefundRefused(PaymentRefundRefused) = "omni.payment.refund_refused",
    RefundRequested(RefundRequested) = "omni.payment.refund_requested",
    Reauthorized(PaymentReauthorized) = "omni.payment.reauthorized",
    ReauthorizationFailed(PaymentReauthorizationFailed) = "omni.payment.reauthorization_failed",
    ReconcileDifference(PaymentReconcileDifference) = "omni.payment.reconcile_difference",
    StoreCreditRequested(StoreCreditRequested) = "omni.payment.store_credit_requested",
    StoreCreditIssued(StoreCreditIssued) = "omni.payment.store_credit_issued",
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
    /// The part whose delivery was captured (absent on older events).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fulfillment_id: Option<FulfillmentId>,
    /// The last capture of the order: what was authorized and not captured is voided.
    #[serde(default, skip_serializing_if = "std::ops::Not::not", rename = "final")]
    pub final_capture: bool,
    /// What was captured per tender, in charge order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tenders: Vec<TenderAmount>,
}

/// An amount taken from (or given back to) one tender of an order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TenderAmount {
    /// The tender's position in the order's payment plan (0-based).
    pub tender: u32,
    /// What moved: `capture`, `refund` or `void`.
    pub kind: String,
    /// How much, in minor units of the order's currency.
    pub amount_minor: i64,
}

/// `omni.payment.voided`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PaymentVoided {
    /// The order.
    pub order_id: OrderId,
    /// The intent.
    pub payment_intent_id: PaymentIntentId,
    /// What was released.
    pub amount: Money,
    /// Why: `order_failed`, `order_cancelled`, `declined` (another tender was declined) or `final_capture`.
    pub reason: String,
    /// Per tender.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tenders: Vec<TenderAmount>,
}

/// `omni.payment.refunded`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PaymentRefunded {
    /// The order.
    pub order_id: OrderId,
    /// The intent.
    pub payment_intent_id: PaymentIntentId,
    /// The refund (its idempotency key).
    pub refund_id: String,
    /// What was given back in all: refunds of captured money plus voids of authorized money not captured yet.
    pub amount: Money,
    /// Each step, last charged tender first.
    pub tenders: Vec<TenderAmount>,
}

/// `omni.payment.refund_refused`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PaymentRefundRefused {
    /// The order.
    pub order_id: OrderId,
    /// The refund.
    pub refund_id: String,
    /// Why, naming the field.
    pub reason: String,
}

/// `omni.payment.refund_requested`: a command to payments.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RefundRequested {
    /// The order to refund.
    pub order_id: OrderId,
    /// The refund's id, chosen by the sender: its idempotency key (1 to 64 of `A-Z a-z 0-9 . _ -`).
    pub refund_id: String,
    /// How much to give back.
    pub amount: Money,
    /// Why (a reason code or words), kept with the refund.
    #[serde(default)]
    pub reason: String,
}

/// `omni.payment.store_credit_requested`: a command to payments.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoreCreditRequested {
    /// The order the money is owed on.
    pub order_id: OrderId,
    /// The issue's id, chosen by the sender: its idempotency key (1 to 64 of `A-Z a-z 0-9 . _ -`).
    pub issue_id: String,
    /// How much credit.
    pub amount: Money,
    /// Why (a reason code or words), kept in the audit log.
    #[serde(default)]
    pub reason: String,
}

/// `omni.payment.store_credit_issued`: the notification to the customer. It carries the credit's code, the one
/// place it is ever written in clear after the issue: a notifier passes it on, nothing logs it (its `Debug` hides
/// it).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoreCreditIssued {
    /// The order.
    pub order_id: OrderId,
    /// The command's issue id.
    pub issue_id: String,
    /// The credit.
    pub amount: Money,
    /// The stored value's reference (as payment methods show it).
    pub reference: String,
    /// The code's last four.
    pub last4: String,
    /// The code the customer pays with.
    pub code: String,
}

impl std::fmt::Debug for StoreCreditIssued {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoreCreditIssued")
            .field("order_id", &self.order_id)
            .field("issue_id", &self.issue_id)
            .field("amount", &self.amount)
            .field("reference", &self.reference)
            .field("last4", &self.last4)
            .field("code", &"<hidden>")
            .finish()
    }
}

/// `omni.payment.reauthorized`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PaymentReauthorized {
    /// The order.
    pub order_id: OrderId,
    /// The intent.
    pub payment_intent_id: PaymentIntentId,
    /// The new authorization's tender position.
    pub tender: u32,
    /// The tender whose authorization it renews (its rest voided).
    pub replaces: u32,
    /// What it holds.
    pub amount: Money,
    /// When it lapses in turn.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<chrono::DateTime<chrono::Utc>>,
}

/// `omni.payment.reauthorization_failed`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PaymentReauthorizationFailed {
    /// The order.
    pub order_id: OrderId,
    /// The intent.
    pub payment_intent_id: PaymentIntentId,
    /// Why, safe to show.
    pub reason: String,
}

/// A tender's money as one side states it, in minor units.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TenderBuckets {
    /// Held.
    pub authorized: i64,
    /// Taken.
    pub captured: i64,
    /// Given back.
    pub refunded: i64,
    /// Released.
    pub voided: i64,
}

/// `omni.payment.reconcile_difference`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PaymentReconcileDifference {
    /// The order.
    pub order_id: OrderId,
    /// The intent.
    pub payment_intent_id: PaymentIntentId,
    /// The tender's position.
    pub tender: u32,
    /// The PSP's reference of its authorization.
    pub psp_reference: String,
    /// What the ledger says (settled).
    pub ledger: TenderBuckets,
    /// What the PSP says (absent: it does not know the authorization).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub psp: Option<TenderBuckets>,
}

keyed_by_order!(
    PaymentReconcileDifference,
    PaymentReauthorized,
    PaymentReauthorizationFailed,
    PaymentAuthorized,
    PaymentDeclined,
    PaymentCaptured,
    PaymentVoided,
    PaymentRefunded,
    PaymentRefundRefused,
    RefundRequested,
    StoreCreditRequested,
    StoreCreditIssued
);
