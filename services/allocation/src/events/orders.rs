use omni_contracts::events::OrderEvent;
use omni_contracts::{LocationId, ReservationId, Sku};
use omni_kafka::{HandlerError, Incoming};

use crate::State;
use crate::db::reservations;

/// Releases the holds of an order that failed or was cancelled.
pub async fn handle(state: State, incoming: Incoming) -> Result<(), HandlerError> {
    let event = incoming.decode::<OrderEvent>()?;
    let OrderEvent::Failed(failed) = event.data else {
        return Ok(());
    };
    let order_id = failed.order_id;
    let holds = state
        .db
        .run(move |conn| reservations::held_for_order(conn, order_id))
        .await?;
    for hold in holds {
        let (Ok(id), Ok(location)) = (
            ReservationId::parse(&hold.reservation_id),
            LocationId::parse(&hold.location_id),
        ) else {
            continue;
        };
        state
            .holds
            .release(id, &location)
            .await
            .map_err(|e| HandlerError::Transient(e.to_string()))?;
        let skus: Vec<Sku> = hold
            .lines
            .iter()
            .filter_map(|(s, _)| Sku::parse(s).ok())
            .collect();
        let hold_id = hold.reservation_id.clone();
        state
            .db
            .transaction(move |conn| -> Result<(), HandlerError> {
                reservations::mark_released(conn, &hold_id)?;
                for sku in &skus {
                    crate::events::publish_availability(conn, sku)?;
                }
                Ok(())
            })
            .await?;
        tracing::info!(order.id = %order_id, reservation.id = %id, "Released the hold of a failed order.");
    }
    state.relay.notify_one();
    Ok(())
}
