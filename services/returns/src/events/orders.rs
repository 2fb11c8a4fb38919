use omni_contracts::events::OrderEvent;
use omni_kafka::{HandlerError, Incoming};

use crate::app::State;
use crate::db::order_views;

/// Keeps the order read model returns are checked against.
pub async fn handle(state: State, incoming: Incoming) -> Result<(), HandlerError> {
    let event = incoming.decode::<OrderEvent>()?;
    let event_id = event.id.to_string();
    state
        .db
        .transaction(move |conn| -> Result<(), HandlerError> {
            if !omni_db::inbox::claim(conn, "returns.orders", &event_id)? {
                return Ok(());
            }
            match &event.data {
                OrderEvent::Accepted(a) => order_views::insert_accepted(conn, &a.order)?,
                OrderEvent::Reserved(r) => {
                    order_views::update_status(conn, r.order_id, "reserved", Some(r.location_id.as_str()))?
                }
                OrderEvent::PaymentAuthorized(p) => {
                    order_views::update_status(conn, p.order_id, "payment_authorized", None)?
                }
                OrderEvent::Released(r) => {
                    order_views::update_status(conn, r.order_id, "released", Some(r.location_id.as_str()))?
                }
                OrderEvent::Fulfilled(f) => {
                    order_views::update_status(conn, f.order_id, "fulfilled", Some(f.location_id.as_str()))?
                }
                OrderEvent::Completed(c) => order_views::update_status(conn, c.order_id, "completed", None)?,
                OrderEvent::Failed(f) => order_views::update_status(conn, f.order_id, "failed", None)?,
                // Still accepted: routing chooses another node.
                OrderEvent::RerouteRequested(_) => {}
                OrderEvent::Cancelled(c) => order_views::update_status(conn, c.order_id, "cancelled", None)?,
                // An acknowledgement for the partner; the order did not change.
                OrderEvent::DuplicateReceived(_) => {}
            }
            Ok(())
        })
        .await
}
