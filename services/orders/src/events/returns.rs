//! What came back of orders, and the replacement orders of exchanges, from `omni.returns.v1`:
//!
//! - each unit returns announces graded (`omni.return.unit_graded`) and that came (any disposition but
//!   `missing`) counts once on its order, so the order shows its returned quantities and a `partially_returned` /
//!   `returned` state;
//! - an exchange's replacement order is held, released and withdrawn as returns asks (`app::exchange`).

use omni_contracts::events::ReturnEvent;
use omni_kafka::{HandlerError, Incoming};

use crate::app::State;
use crate::app::exchange;
use crate::db::orders;
use crate::error::SagaFailure;

/// `omni.returns.v1` consumer.
pub async fn handle(state: State, incoming: Incoming) -> Result<(), HandlerError> {
    let event = incoming.decode::<ReturnEvent>()?;
    let event_id = event.id.to_string();
    let data = event.data;
    let wanted = match &data {
        ReturnEvent::UnitGraded(unit) => unit.disposition.received(),
        ReturnEvent::ExchangeRequested(_)
        | ReturnEvent::ExchangeReleased(_)
        | ReturnEvent::ExchangeCancelled(_) => true,
        _ => false,
    };
    if !wanted {
        return Ok(());
    }
    let moved = state
        .db
        .transaction(move |conn| -> Result<crate::app::saga::Moved, SagaFailure> {
            if !omni_db::inbox::claim(conn, "orders.returns", &event_id)? {
                return Ok(None);
            }
            match &data {
                ReturnEvent::UnitGraded(unit) => {
                    if !orders::add_returned(conn, unit.order_id, &unit.sku, 1)? {
                        tracing::warn!(order.id = %unit.order_id, "A unit was returned of an order orders does not know.");
                    }
                    Ok(None)
                }
                ReturnEvent::ExchangeRequested(asked) => exchange::hold(conn, asked),
                ReturnEvent::ExchangeReleased(released) => exchange::release(conn, released),
                ReturnEvent::ExchangeCancelled(cancelled) => exchange::withdraw(conn, cancelled),
                _ => Ok(None),
            }
        })
        .await?;
    if moved.is_some() {
        state.count(moved);
        // A released replacement waits for the dispatcher; a refused or withdrawn one is announced.
        state.changed();
    }
    Ok(())
}
