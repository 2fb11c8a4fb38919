use omni_contracts::events::{OrderCancelled, OrderEvent, OrderFailed, OrderRerouteRequested};
use omni_kafka::{HandlerError, Incoming};

use crate::app::State;
use crate::app::reservation;
use crate::db::reservations;

/// Follows orders: a paid order's holds are pinned until fulfilled (they no longer expire); a failed order's
/// holds, and those of an order routed again (after a shortage), are released.
pub async fn handle(state: State, incoming: Incoming) -> Result<(), HandlerError> {
    let event = incoming.decode::<OrderEvent>()?;
    match event.data {
        OrderEvent::PaymentAuthorized(paid) => {
            let order_id = paid.order_id;
            let pinned = state
                .db
                .transaction(move |conn| reservations::pin_for_order(conn, order_id))
                .await?;
            tracing::debug!(order.id = %order_id, pinned, "Holds of a paid order pinned until fulfilled.");
        }
        OrderEvent::Failed(OrderFailed { order_id, .. })
        | OrderEvent::Cancelled(OrderCancelled { order_id, .. })
        | OrderEvent::RerouteRequested(OrderRerouteRequested {
            order: omni_contracts::api::Order { id: order_id, .. },
            ..
        }) => {
            let holds = state
                .db
                .run(move |conn| reservations::held_for_order(conn, order_id))
                .await?;
            for hold in holds {
                match reservation::end(&state, hold.reservation_id, reservation::Ending::Released).await {
                    Ok(_) => {
                        tracing::info!(order.id = %order_id, reservation.id = %hold.reservation_id, "Released the hold of a failed order.")
                    }
                    Err(e) => return Err(e.into()),
                }
            }
        }
        _ => {}
    }
    Ok(())
}
