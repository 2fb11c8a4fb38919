use omni_contracts::api::OrderStatus;
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
                    order_views::update_status(conn, r.order_id, OrderStatus::Reserved, Some(&r.location_id))?
                }
                OrderEvent::PaymentAuthorized(p) => {
                    order_views::update_status(conn, p.order_id, OrderStatus::PaymentAuthorized, None)?
                }
                OrderEvent::Released(r) => {
                    order_views::update_status(conn, r.order_id, OrderStatus::Released, Some(&r.location_id))?
                }
                OrderEvent::Fulfilled(f) => order_views::update_status(
                    conn,
                    f.order_id,
                    OrderStatus::Fulfilled,
                    Some(&f.location_id),
                )?,
                OrderEvent::Completed(c) => {
                    order_views::update_status(conn, c.order_id, OrderStatus::Completed, None)?
                }
                OrderEvent::Failed(f) => {
                    order_views::update_status(conn, f.order_id, OrderStatus::Failed, None)?
                }
                // Still accepted: routing chooses another node.
                OrderEvent::RerouteRequested(_) => {}
                OrderEvent::Cancelled(c) => {
                    order_views::update_status(conn, c.order_id, OrderStatus::Cancelled, None)?
                }
                // An acknowledgement for the partner; the order did not change.
                OrderEvent::DuplicateReceived(_) => {}
            }
            Ok(())
        })
        .await
}
