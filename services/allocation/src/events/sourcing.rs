//! `omni.fulfillment.v1`: routing's sourcing decisions and completed fulfillments, decoded and applied by
//! `app::sourcing`.

use omni_contracts::events::FulfillmentEvent;
use omni_kafka::{HandlerError, Incoming};

use crate::app::State;

/// Places the hold routing asked for: Redis (or memory) first, then PostgreSQL with the outbox, then the
/// acknowledgement (the stored offset). If the database write fails the hold is undone.
pub async fn handle(state: State, incoming: Incoming) -> Result<(), HandlerError> {
    handle_batch(state, vec![incoming]).await
}

/// The fulfillment events already waiting, applied in order (`app::sourcing::apply`: one commit for the batch;
/// if it fails, the consumer takes the messages one by one).
pub async fn handle_batch(state: State, batch: Vec<Incoming>) -> Result<(), HandlerError> {
    let events = batch
        .iter()
        .map(|incoming| incoming.decode::<FulfillmentEvent>())
        .collect::<Result<Vec<_>, _>>()?;
    Ok(crate::app::sourcing::apply(&state, events).await?)
}
