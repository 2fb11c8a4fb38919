//! Accepting an order: stored in the caller's transaction, waiting for the dispatcher (`app::dispatch`), which
//! announces `omni.order.accepted` when it sends the order on to routing.

use omni_contracts::api::{AcceptedRequest, NewOrder, Order, OrderStatus, Payer};
use omni_contracts::{OrderId, PartnerId};
use omni_db::DbConnection;

use crate::db::orders;
use crate::error::AcceptError;

/// Who sent the order, when it is a partner's.
#[derive(Debug, Clone)]
pub struct PartnerRef {
    /// The partner.
    pub partner_id: PartnerId,
    /// Its own order id.
    pub partner_order_id: String,
}

/// Stores a new order in the caller's transaction, waiting for the dispatcher (which announces
/// `omni.order.accepted` when it sends the order on to routing, closest promise date first). For a partner order
/// already taken (same partner and partner order id) it returns the first order and writes nothing:
/// `(order, false)`. The order keeps its cards by payment-method reference, never by token; `payer` is whose
/// tokens may pay it.
pub fn accept(
    conn: &mut DbConnection,
    request: NewOrder,
    partner: Option<PartnerRef>,
    payer: Payer,
) -> Result<(Order, bool), AcceptError> {
    let total_minor = crate::domain::intake::check(&request, partner.is_some())?;
    let order = new_order(request.accepted(), partner, total_minor, payer);
    if !orders::insert_new(conn, [(&order, None)])?.contains(&order.id) {
        // The partner sent this order before (or a concurrent transaction stored it first): that one is the order.
        let existing = match (&order.partner_id, &order.partner_order_id) {
            (Some(partner_id), Some(partner_order_id)) => {
                orders::find_by_partner(conn, partner_id, partner_order_id)?
            }
            _ => None,
        };
        return match existing {
            Some(existing) => Ok((existing.to_order()?, false)),
            None => Err(AcceptError::Db(omni_db::Error::Inconsistent(format!(
                "order {} was neither stored nor found",
                order.id
            )))),
        };
    }
    tracing::info!(order.id = %order.id, channel = order.request.channel.as_str(), total_minor, "Order accepted.");
    Ok((order, true))
}

/// A new order in status `accepted`, not stored yet; `total_minor` is what [`crate::domain::intake::check`]
/// computed.
pub fn new_order(
    request: AcceptedRequest,
    partner: Option<PartnerRef>,
    total_minor: i64,
    placed_by: Payer,
) -> Order {
    let now = chrono::Utc::now();
    Order {
        id: OrderId::generate(),
        status: OrderStatus::Accepted,
        partner_id: partner.as_ref().map(|p| p.partner_id.clone()),
        partner_order_id: partner.map(|p| p.partner_order_id),
        request,
        placed_by,
        total_minor,
        location_id: None,
        failure_reason: None,
        payment: omni_contracts::api::OrderPayment::of(total_minor, OrderStatus::Accepted, 0, 0, 0),
        returns: Default::default(),
        exchange_for: None,
        created_at: now,
        updated_at: now,
    }
}
