//! Returns (DESIGN §7, issue 23): the bodies of `/v1/returns` and the words a return is made of: why a unit comes
//! back, how it is graded, what becomes of it, and where a return stands.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::api::{Delivery, OrderLine, PaymentMethod, Tender};
use crate::ids::{LocationId, OrderId, ReturnId, Sku};
use crate::money::Quantity;

/// Why a customer brings a unit back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReturnReason {
    /// Arrived broken.
    Damaged,
    /// Does not work.
    Defective,
    /// Not what was ordered.
    WrongItem,
    /// Not as the listing said.
    NotAsDescribed,
    /// Wrong size or fit.
    DoesNotFit,
    /// Changed their mind.
    NoLongerWanted,
    /// Came too late to be of use.
    ArrivedLate,
}

impl ReturnReason {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            ReturnReason::Damaged => "damaged",
            ReturnReason::Defective => "defective",
            ReturnReason::WrongItem => "wrong_item",
            ReturnReason::NotAsDescribed => "not_as_described",
            ReturnReason::DoesNotFit => "does_not_fit",
            ReturnReason::NoLongerWanted => "no_longer_wanted",
            ReturnReason::ArrivedLate => "arrived_late",
        }
    }
}

/// How a received unit is graded at the counter or the returns desk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Grade {
    /// As new: can be sold again as it is.
    Resellable,
    /// Opened, complete: sells as an open-box unit.
    OpenBox,
    /// Broken in use or in transit.
    Damaged,
    /// Does not work.
    Defective,
}

impl Grade {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Grade::Resellable => "resellable",
            Grade::OpenBox => "open_box",
            Grade::Damaged => "damaged",
            Grade::Defective => "defective",
        }
    }
}

/// What becomes of a received unit. Only the two restocks raise what the receiving store can sell.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Disposition {
    /// Back on sale at the receiving store, as its own SKU.
    Restock,
    /// Back on sale at the receiving store as another SKU (an open-box SKU, a seconds SKU).
    RestockAs {
        /// The SKU it is sold as.
        sku: Sku,
    },
    /// Destroyed or thrown away.
    WriteOff,
    /// Sent back to the vendor.
    ReturnToVendor,
    /// Announced but not in the parcel: not received, so never refunded (but by a manager's override).
    Missing,
}

impl Disposition {
    /// The wire name of its type.
    pub fn as_str(&self) -> &'static str {
        match self {
            Disposition::Restock => "restock",
            Disposition::RestockAs { .. } => "restock_as",
            Disposition::WriteOff => "write_off",
            Disposition::ReturnToVendor => "return_to_vendor",
            Disposition::Missing => "missing",
        }
    }

    /// The SKU a restock puts on sale (`None`: not a restock).
    pub fn restocked_sku<'a>(&'a self, returned: &'a Sku) -> Option<&'a Sku> {
        match self {
            Disposition::Restock => Some(returned),
            Disposition::RestockAs { sku } => Some(sku),
            Disposition::WriteOff | Disposition::ReturnToVendor | Disposition::Missing => None,
        }
    }

    /// Whether the unit came back (everything but `missing`).
    pub fn received(&self) -> bool {
        !matches!(self, Disposition::Missing)
    }
}

/// How the items come back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum ReturnMethod {
    /// Brought to a store's counter.
    InStore {
        /// The store.
        location_id: LocationId,
    },
    /// Sent by mail to a returns desk.
    ByMail,
}

/// Where the money goes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RefundTo {
    /// Back to the tenders that paid, last charged first.
    #[default]
    OriginalTenders,
    /// As store credit.
    StoreCredit,
    /// Toward a replacement order (`exchange`); what the returned units are worth beyond it goes back to the
    /// tenders that paid.
    Exchange,
}

impl RefundTo {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            RefundTo::OriginalTenders => "original_tenders",
            RefundTo::StoreCredit => "store_credit",
            RefundTo::Exchange => "exchange",
        }
    }
}

/// The store credit a return was refunded as (its code went to the customer, never here).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StoreCreditRef {
    /// The stored value's reference.
    pub reference: String,
    /// The code's last four.
    pub last4: String,
}

/// Where a return stands (DESIGN §7).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReturnStatus {
    /// Asked for, not decided yet.
    Requested,
    /// Allowed by the policy or a manager.
    Approved,
    /// Approved, waiting for the items (by mail).
    AwaitingItems,
    /// Items in, not all graded yet.
    Received,
    /// Every unit graded and disposed of; the refund is on its way.
    Graded,
    /// Refunded.
    Settled,
    /// Done.
    Closed,
    /// Refused, naming the rule.
    Declined,
    /// The items never arrived in time.
    Expired,
    /// Withdrawn before the items came.
    Cancelled,
}

impl ReturnStatus {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            ReturnStatus::Requested => "requested",
            ReturnStatus::Approved => "approved",
            ReturnStatus::AwaitingItems => "awaiting_items",
            ReturnStatus::Received => "received",
            ReturnStatus::Graded => "graded",
            ReturnStatus::Settled => "settled",
            ReturnStatus::Closed => "closed",
            ReturnStatus::Declined => "declined",
            ReturnStatus::Expired => "expired",
            ReturnStatus::Cancelled => "cancelled",
        }
    }

    /// Parses the wire name.
    pub fn parse(raw: &str) -> Option<Self> {
        [
            ReturnStatus::Requested,
            ReturnStatus::Approved,
            ReturnStatus::AwaitingItems,
            ReturnStatus::Received,
            ReturnStatus::Graded,
            ReturnStatus::Settled,
            ReturnStatus::Closed,
            ReturnStatus::Declined,
            ReturnStatus::Expired,
            ReturnStatus::Cancelled,
        ]
        .into_iter()
        .find(|s| s.as_str() == raw)
    }

    /// Whether its units still count against what the order can return (open or received).
    pub fn holds_units(self) -> bool {
        !matches!(
            self,
            ReturnStatus::Declined | ReturnStatus::Expired | ReturnStatus::Cancelled
        )
    }
}

/// One line of a return: units of one SKU of the order, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReturnLineRequest {
    /// The SKU, as ordered.
    pub sku: Sku,
    /// How many units.
    pub quantity: Quantity,
    /// Why.
    pub reason: ReturnReason,
}

/// One unit received, graded and disposed of.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UnitReceipt {
    /// The SKU it was ordered as.
    pub sku: Sku,
    /// Its grade.
    pub grade: Grade,
    /// What becomes of it.
    pub disposition: Disposition,
    /// Refund it although it did not come (`missing`): a store manager's explicit override, audited.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub refund_override: bool,
}

/// `POST /v1/returns`: a return authorization (RMA), or with `units` and an in-store method the whole return at
/// the counter in one call.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewReturn {
    /// The caller's key for this return (1 to 64 of `A-Z a-z 0-9 . _ -`): asked again, the same return answers.
    pub request_id: String,
    /// The order.
    #[schema(value_type = uuid::Uuid)]
    pub order_id: OrderId,
    /// What comes back.
    pub lines: Vec<ReturnLineRequest>,
    /// How.
    pub method: ReturnMethod,
    /// Where the money goes.
    #[serde(default)]
    pub refund_to: RefundTo,
    /// In store, at the counter: the units, graded, received now (one per returned unit).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub units: Vec<UnitReceipt>,
    /// With `refund_to: "exchange"`: the replacement to send or hand over instead of the money.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exchange: Option<ExchangeRequest>,
}

/// What a return asks for in exchange: a replacement order for the same customer, held until the returned units
/// are received. The returned units pay for it up to their worth (as store credit issued on receipt); a dearer
/// replacement is paid the rest by `tenders`, a cheaper one leaves the rest refunded to the original tenders.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExchangeRequest {
    /// What the customer gets instead (another size, another SKU), at its price (1 to 100 lines).
    pub lines: Vec<OrderLine>,
    /// How it reaches them: shipped, or picked up at a store.
    pub delivery: Delivery,
    /// What pays the difference when the replacement costs more than the returned units are worth (card tokens
    /// of the caller, gift cards); empty otherwise. One may leave its amount out: it pays the rest.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tenders: Vec<Tender>,
}

/// Where a return's replacement order stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ExchangeStatus {
    /// Created (or about to be) and held until the returned units are received.
    Held,
    /// The units came: the replacement goes on like any order, paid by the credit and its tenders.
    Released,
    /// Withdrawn (the return ended without its units, the replacement was cancelled or refused, or the units
    /// received are worth less than the credit the replacement counts on): the return refunds instead.
    Cancelled,
}

/// A return's replacement order, as the return shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Exchange {
    /// The replacement order (in orders).
    #[schema(value_type = uuid::Uuid)]
    pub order_id: OrderId,
    /// What it sends or hands over.
    pub lines: Vec<OrderLine>,
    /// How.
    pub delivery: Delivery,
    /// Its total, in minor units.
    pub total_minor: i64,
    /// What the returned units pay of it (their worth, at most the total), in minor units: issued as store
    /// credit on receipt.
    pub credit_minor: i64,
    /// What pays the rest (`total_minor - credit_minor`), by reference.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tenders: Vec<PaymentMethod>,
    /// Whose card tokens pay the rest: who asked for the exchange.
    pub placed_by: crate::api::Payer,
    /// Where it stands.
    pub status: ExchangeStatus,
    /// Why it was cancelled, when it was.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cancelled_reason: Option<String>,
    /// What the received units were worth beyond the credit, refunded to the original tenders, once done.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rest_refunded_minor: Option<i64>,
}

/// `POST /v1/returns/{id}/receipts`: units of an approved return received at a location.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReceiveReturn {
    /// Where they were received (a store's counter or a returns desk).
    pub location_id: LocationId,
    /// Every unit of the return, graded (`missing` for one that was not in the parcel).
    pub units: Vec<UnitReceipt>,
}

/// A return a customer asks for themselves, by mail, with their order's return code (no API key).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CustomerReturn {
    /// The code the customer was sent (`omni.return.code_issued`).
    pub return_code: String,
    /// The customer's own id for this request: the same id again answers the same return.
    pub request_id: String,
    /// The order.
    #[schema(value_type = uuid::Uuid)]
    pub order_id: OrderId,
    /// What comes back, and why.
    pub lines: Vec<ReturnLineRequest>,
}

impl std::fmt::Debug for CustomerReturn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CustomerReturn")
            .field("return_code", &"<hidden>")
            .field("request_id", &self.request_id)
            .field("order_id", &self.order_id)
            .field("lines", &self.lines)
            .finish()
    }
}

/// A store manager's decision on a return the policy left to one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReturnDecision {
    /// Allow it (its items are then awaited) or decline it.
    pub approve: bool,
    /// Why, for the audit log (and the customer, when declined).
    pub reason: String,
}

/// A line of a return as it stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReturnLine {
    /// The SKU.
    pub sku: Sku,
    /// Units asked to return.
    pub quantity: u32,
    /// Why.
    pub reason: ReturnReason,
    /// Units received so far.
    pub received: u32,
}

/// A received unit as it stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReturnUnit {
    /// Its position in the return (from 0).
    pub unit: u32,
    /// The SKU it was ordered as.
    pub sku: Sku,
    /// Its grade.
    pub grade: Grade,
    /// What became of it.
    pub disposition: Disposition,
    /// Where it was received.
    pub location_id: LocationId,
    /// What it refunds, in minor units (0 for a missing unit).
    pub refund_minor: i64,
    /// Refunded by a manager's override although it did not come.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub refund_override: bool,
}

/// Why a return was declined: the rule and what it says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Declined {
    /// The rule, e.g. `return_window`, `final_sale`, `returnable_quantity`.
    pub rule: String,
    /// What it says of this return.
    pub reason: String,
}

/// A return as the API shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Return {
    /// The return (RMA) id.
    #[schema(value_type = uuid::Uuid)]
    pub id: ReturnId,
    /// The caller's key.
    pub request_id: String,
    /// The order.
    #[schema(value_type = uuid::Uuid)]
    pub order_id: OrderId,
    /// Where it stands.
    pub status: ReturnStatus,
    /// How the items come back.
    pub method: ReturnMethod,
    /// Where the money goes.
    pub refund_to: RefundTo,
    /// What comes back.
    pub lines: Vec<ReturnLine>,
    /// The units received, graded and disposed of.
    pub units: Vec<ReturnUnit>,
    /// What the received units refund, in minor units of the order's currency.
    pub refund_minor: i64,
    /// Why it was declined, when it was.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub declined: Option<Declined>,
    /// Who asked.
    pub requested_by: String,
    /// When it was asked.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
    /// Why it waits for a store manager's decision, while it does (`requested`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub awaiting_manager: Option<Declined>,
    /// The store credit it was refunded as, once issued.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub store_credit: Option<StoreCreditRef>,
    /// When a return whose items are to come expires if they never do.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<DateTime<Utc>>,
    /// The replacement order of an exchange.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exchange: Option<Exchange>,
}
