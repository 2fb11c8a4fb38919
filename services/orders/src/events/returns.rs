//! What came back of orders: each unit returns announces graded (`omni.return.unit_graded`) and that came (any
//! disposition but `missing`) counts once on its order, so the order shows its returned quantities and a
//! `partially_returned` / `returned` state.

use omni_contracts::events::ReturnEvent;
use omni_kafka::{HandlerError, Incoming};

use crate::app::State;
use crate::db::orders;

/// `omni.returns.v1` consumer.
pub async fn handle(state: State, incoming: Incoming) -> Result<(), HandlerError> {
    let event = incoming.decode::<ReturnEvent>()?;
    let ReturnEvent::UnitGraded(unit) = event.data else {
        return Ok(());
    };
    if !unit.disposition.received() {
        return Ok(());
    }
    let event_id = event.id.to_string();
    state
        .db
        .transaction(move |conn| -> Result<(), HandlerError> {
            if !omni_db::inbox::claim(conn, "orders.returns", &event_id)? {
                return Ok(());
            }
            if !orders::add_returned(conn, unit.order_id, &unit.sku, 1)? {
                tracing::warn!(order.id = %unit.order_id, "A unit was returned of an order orders does not know.");
            }
            Ok(())
        })
        .await
}
