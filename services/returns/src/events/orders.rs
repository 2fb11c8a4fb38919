//! `omni.orders.v1`: every order event, decoded and recorded in the read model (`app::read_model`).

use omni_contracts::events::OrderEvent;
use omni_kafka::{HandlerError, Incoming};

use crate::app::State;
use crate::error::ReadModelError;

/// Keeps the order read model returns are checked against.
pub async fn handle(state: State, incoming: Incoming) -> Result<(), HandlerError> {
    let event = incoming.decode::<OrderEvent>()?;
    let event_id = event.id.to_string();
    let policy = state.policy.clone();
    state
        .db
        .transaction(move |conn| -> Result<(), ReadModelError> {
            crate::app::read_model::record(conn, &event_id, &event.data, &policy)
        })
        .await?;
    // A return code may have been issued.
    state.relay.notify_one();
    Ok(())
}
