use serde::{Deserialize, Serialize};

use super::keys::keyed_by_order;
use crate::api::{Delivery, OrderLine, PaymentMethod};
use crate::envelope::AggregateKey;
use crate::ids::{LocationId, MovementId, OrderId, ReturnId, Sku};
use crate::money::Money;
use crate::returns::{Disposition, Grade, ReturnLine, ReturnMethod, StoreCreditRef};
use crate::topic::Topic;

/// Events on `omni.returns.v1`: a return's steps, keyed by its order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum ReturnEvent {
    /// A return was asked for.
    Requested(ReturnRequested),
    /// It was allowed.
    Approved(ReturnApproved),
    /// It was refused, naming the rule.
    Declined(ReturnDeclined),
    /// Its units were received at a location.
    Received(ReturnReceived),
    /// One unit was graded and disposed of.
    UnitGraded(ReturnUnitGraded),
    /// One unit went back on sale at the receiving store.
    UnitRestocked(ReturnUnitRestocked),
    /// Its refund was made.
    Settled(ReturnSettled),
    /// Its items never arrived in time.
    Expired(ReturnExpired),
    /// It was withdrawn before the items came.
    Cancelled(ReturnCancelled),
    /// An order can be returned by its customer with the code this carries (the notification to the customer).
    CodeIssued(ReturnCodeIssued),
    /// An approved exchange asks orders for its replacement order, held until the units come.
    ExchangeRequested(ExchangeRequested),
    /// The units came: the replacement goes on, paid by the credit they were worth.
    ExchangeReleased(ExchangeReleased),
    /// The replacement is withdrawn (the return ended without its units, or they were worth too little).
    ExchangeCancelled(ExchangeCancelled),
}

crate::event_payload!(ReturnEvent on Topic::Returns, {
    Requested(ReturnRequested) = "omni.return.requested",
    Approved(ReturnApproved) = "omni.return.approved",
    Declined(ReturnDeclined) = "omni.return.declined",
    Received(ReturnReceived) = "omni.return.received",
    UnitGraded(ReturnUnitGraded) = "omni.return.unit_graded",
    UnitRestocked(ReturnUnitRestocked) = "omni.return.unit_restocked",
    Settled(ReturnSettled) = "omni.return.settled",
    Expired(ReturnExpired) = "omni.return.expired",
    Cancelled(ReturnCancelled) = "omni.return.cancelled",
    CodeIssued(ReturnCodeIssued) = "omni.return.code_issued",
    ExchangeRequested(ExchangeRequested) = "omni.return.exchange_requested",
    ExchangeReleased(ExchangeReleased) = "omni.return.exchange_released",
    ExchangeCancelled(ExchangeCancelled) = "omni.return.exchange_cancelled",
});

/// `omni.return.requested`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReturnRequested {
    /// The return.
    pub return_id: ReturnId,
    /// The order.
    pub order_id: OrderId,
    /// What comes back.
    pub lines: Vec<ReturnLine>,
    /// How.
    pub method: ReturnMethod,
}

/// `omni.return.approved`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReturnApproved {
    /// The return.
    pub return_id: ReturnId,
    /// The order.
    pub order_id: OrderId,
    /// Who or what allowed it: `policy`, or the manager's principal.
    pub by: String,
}

/// `omni.return.declined`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReturnDeclined {
    /// The return.
    pub return_id: ReturnId,
    /// The order.
    pub order_id: OrderId,
    /// The rule that refused it.
    pub rule: String,
    /// What the rule says of it.
    pub reason: String,
}

/// `omni.return.received`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReturnReceived {
    /// The return.
    pub return_id: ReturnId,
    /// The order.
    pub order_id: OrderId,
    /// Where.
    pub location_id: LocationId,
    /// Units that came (missing ones not counted).
    pub units: u32,
}

/// `omni.return.unit_graded`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReturnUnitGraded {
    /// The return.
    pub return_id: ReturnId,
    /// The order.
    pub order_id: OrderId,
    /// The unit's position in the return.
    pub unit: u32,
    /// The SKU it was ordered as.
    pub sku: Sku,
    /// Its grade.
    pub grade: Grade,
    /// What becomes of it.
    pub disposition: Disposition,
    /// Where it was received.
    pub location_id: LocationId,
}

/// `omni.return.unit_restocked`: the unit is on sale again at `location_id`; the ledger movement that puts it there
/// (`return_restock` on `omni.inventory.v1`, id `movement_id`) left in the same transaction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReturnUnitRestocked {
    /// The return.
    pub return_id: ReturnId,
    /// The order.
    pub order_id: OrderId,
    /// The unit's position in the return.
    pub unit: u32,
    /// The SKU it is sold as now.
    pub sku: Sku,
    /// The store.
    pub location_id: LocationId,
    /// The stock movement's id.
    pub movement_id: MovementId,
}

/// `omni.return.settled`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReturnSettled {
    /// The return.
    pub return_id: ReturnId,
    /// The order.
    pub order_id: OrderId,
    /// What was refunded (or issued as store credit).
    pub refunded: Money,
    /// `original_tenders` or `store_credit`.
    pub refund_to: String,
}

/// `omni.return.expired`: the items never arrived within the return's time; its units can be returned again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReturnExpired {
    /// The return.
    pub return_id: ReturnId,
    /// The order.
    pub order_id: OrderId,
}

/// `omni.return.cancelled`: withdrawn before its items came; its units can be returned again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReturnCancelled {
    /// The return.
    pub return_id: ReturnId,
    /// The order.
    pub order_id: OrderId,
    /// Who withdrew it.
    pub by: String,
}

/// `omni.return.code_issued`: the notification to the customer once something of their order was delivered. It
/// carries the order's return code, the one place it is ever written in clear: a notifier passes it on, nothing
/// logs it (its `Debug` hides it); returns keeps only its hash.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReturnCodeIssued {
    /// The order.
    pub order_id: OrderId,
    /// The code the customer asks for returns of the order with (`POST /v1/returns/by-code`).
    pub return_code: String,
}

impl std::fmt::Debug for ReturnCodeIssued {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReturnCodeIssued")
            .field("order_id", &self.order_id)
            .field("return_code", &"<hidden>")
            .finish()
    }
}

/// `omni.return.exchange_requested`: orders creates the replacement order (`replacement_order_id`, once) for the
/// customer of `order_id`, held (`held`) until `exchange_released`. Its tenders pay `total - credit_minor`; the
/// credit is added on release.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExchangeRequested {
    /// The return.
    pub return_id: ReturnId,
    /// The order returned from (its customer, channel and currency are the replacement's).
    pub order_id: OrderId,
    /// The replacement order's id.
    pub replacement_order_id: OrderId,
    /// What it sends or hands over.
    pub lines: Vec<OrderLine>,
    /// How.
    pub delivery: Delivery,
    /// What the returned units will pay of it, in minor units.
    pub credit_minor: i64,
    /// What pays the rest, by reference (each with its amount).
    pub tenders: Vec<PaymentMethod>,
    /// Whose card tokens pay the rest (`partner:<id>`, `principal:<name>`): who asked for the exchange.
    pub placed_by: String,
}

/// `omni.return.exchange_released`: the returned units came; the replacement order goes on, its credit paid by
/// the store credit named here (none when the credit is 0).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExchangeReleased {
    /// The return.
    pub return_id: ReturnId,
    /// The order returned from.
    pub order_id: OrderId,
    /// The replacement order.
    pub replacement_order_id: OrderId,
    /// The store credit that pays `credit_minor` of it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credit: Option<StoreCreditRef>,
    /// What it pays, in minor units.
    pub credit_minor: i64,
}

/// `omni.return.exchange_cancelled`: the replacement order is withdrawn while held; the return refunds instead.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExchangeCancelled {
    /// The return.
    pub return_id: ReturnId,
    /// The order returned from.
    pub order_id: OrderId,
    /// The replacement order.
    pub replacement_order_id: OrderId,
    /// Why.
    pub reason: String,
}

keyed_by_order!(
    ExchangeRequested,
    ExchangeReleased,
    ExchangeCancelled,
    ReturnCodeIssued,
    ReturnRequested,
    ReturnApproved,
    ReturnDeclined,
    ReturnReceived,
    ReturnUnitGraded,
    ReturnUnitRestocked,
    ReturnSettled,
    ReturnExpired,
    ReturnCancelled
);
