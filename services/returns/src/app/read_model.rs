//! The order read model returns are checked against: each order event recorded once, in one transaction.

use omni_contracts::api::OrderStatus;
use omni_contracts::events::OrderEvent;

use crate::db::order_views;
use crate::error::ReadModelError;

/// Records one order event (once per `event_id`) in the caller's transaction.
pub fn record(
    conn: &mut omni_db::DbConnection,
    event_id: &str,
    event: &OrderEvent,
) -> Result<(), ReadModelError> {
    if !omni_db::inbox::claim(conn, "returns.orders", event_id)? {
        return Ok(());
    }
    match event {
        OrderEvent::Accepted(a) => {
            let lines = serde_json::to_string(&a.order.request.lines).map_err(|source| {
                ReadModelError::Unstorable {
                    order_id: a.order.id,
                    source,
                }
            })?;
            order_views::insert_accepted(conn, &a.order, &lines)?;
        }
        OrderEvent::Reserved(r) => {
            order_views::update_status(conn, r.order_id, OrderStatus::Reserved, Some(&r.location_id))?
        }
        OrderEvent::PaymentAuthorized(p) => {
            order_views::update_status(conn, p.order_id, OrderStatus::PaymentAuthorized, None)?
        }
        OrderEvent::Released(r) => {
            order_views::update_status(conn, r.order_id, OrderStatus::Released, Some(&r.location_id))?
        }
        OrderEvent::Fulfilled(f) => {
            order_views::update_status(conn, f.order_id, OrderStatus::Fulfilled, Some(&f.location_id))?
        }
        OrderEvent::Completed(c) => {
            order_views::update_status(conn, c.order_id, OrderStatus::Completed, None)?
        }
        OrderEvent::Failed(f) => order_views::update_status(conn, f.order_id, OrderStatus::Failed, None)?,
        // Still accepted: routing chooses another node.
        OrderEvent::RerouteRequested(_) => {}
        // One part of a split order left; the order stays released until every part has.
        OrderEvent::PartDelivered(_) => {}
        OrderEvent::AwaitingPayment(a) => {
            order_views::update_status(conn, a.order_id, OrderStatus::AwaitingPayment, None)?
        }
        OrderEvent::Cancelled(c) => {
            order_views::update_status(conn, c.order_id, OrderStatus::Cancelled, None)?
        }
        OrderEvent::CancelRequested(c) => {
            order_views::update_status(conn, c.order_id, OrderStatus::Cancelling, None)?
        }
        // An acknowledgement for the partner; the order did not change.
        OrderEvent::DuplicateReceived(_) => {}
    }
    Ok(())
}
