//! `omni.fulfillment.v1`: `completed` → what left for the customer, in the read model; anything else → acknowledge.

use omni_contracts::events::FulfillmentEvent;
use omni_kafka::{HandlerError, Incoming};

use crate::app::State;
use crate::error::ReadModelError;

/// Records each fulfillment's delivered units.
pub async fn handle(state: State, incoming: Incoming) -> Result<(), HandlerError> {
    let event = incoming.decode::<FulfillmentEvent>()?;
    let FulfillmentEvent::Completed(completed) = event.data else {
        return Ok(());
    };
    let (event_id, at) = (event.id.to_string(), event.time.naive_utc());
    state
        .db
        .transaction(move |conn| -> Result<(), ReadModelError> {
            crate::app::read_model::record_delivery(conn, &event_id, &completed, at)
        })
        .await?;
    // A return code may have been issued.
    state.relay.notify_one();
    Ok(())
}
