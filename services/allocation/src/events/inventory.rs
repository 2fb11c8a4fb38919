//! `omni.inventory.v1`: stock movements from tills and warehouses, recorded in batches.

use omni_contracts::events::InventoryEvent;
use omni_kafka::{HandlerError, Incoming};

use crate::app::State;
use crate::app::movements::record_many;

/// `omni.inventory.v1` consumer: one message (as a batch of one).
pub async fn handle(state: State, incoming: Incoming) -> Result<(), HandlerError> {
    handle_batch(state, vec![incoming]).await
}

/// `omni.inventory.v1` consumer, for the movements already waiting: one transaction for all of them. Any
/// message that cannot be decoded or recorded fails the batch, and the consumer hands each message to
/// [`handle`] instead (which dead-letters only the bad one).
pub async fn handle_batch(state: State, batch: Vec<Incoming>) -> Result<(), HandlerError> {
    let mut movements = Vec::with_capacity(batch.len());
    for incoming in &batch {
        if let InventoryEvent::Movement(movement) = incoming.decode::<InventoryEvent>()?.data {
            movements.push(movement);
        }
    }
    if movements.is_empty() {
        // Allocation's own replenishment requests share the topic; they are for planners, not for the ledger.
        return Ok(());
    }
    record_many(&state, movements, None).await?;
    Ok(())
}
