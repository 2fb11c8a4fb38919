//! `omni.inventory.v1`: stock movements from tills and warehouses, recorded in batches.

use omni_contracts::events::InventoryEvent;
use omni_kafka::{HandlerError, Incoming};

use crate::app::State;
use crate::app::movements::{Recorded, record_many};
use omni_contracts::api::MovementKind;

/// `omni.inventory.v1` consumer: one message (as a batch of one).
pub async fn handle(state: State, incoming: Incoming) -> Result<(), HandlerError> {
    handle_batch(state, vec![incoming]).await
}

/// `omni.inventory.v1` consumer, for the movements already waiting: one transaction for all of them. Any
/// message that cannot be decoded or recorded fails the batch, and the consumer hands each message to
/// [`handle`] instead (which dead-letters only the bad one).
pub async fn handle_batch(state: State, batch: Vec<Incoming>) -> Result<(), HandlerError> {
    let mut movements = Vec::with_capacity(batch.len());
    let mut written_at = Vec::with_capacity(batch.len());
    for incoming in &batch {
        let event = incoming.decode::<InventoryEvent>()?;
        if let InventoryEvent::Movement(movement) = event.data {
            movements.push(movement);
            written_at.push(event.time);
        }
    }
    if movements.is_empty() {
        // Allocation's own replenishment requests share the topic; they are for planners, not for the ledger.
        return Ok(());
    }
    let kinds: Vec<MovementKind> = movements.iter().map(|m| m.kind).collect();
    let recorded = record_many(&state, movements, None).await?;
    // A returned unit counts in its store's ATP now: how long after returns restocked it.
    let now = chrono::Utc::now();
    for ((kind, at), recorded) in kinds.into_iter().zip(written_at).zip(recorded) {
        if kind == MovementKind::ReturnRestock && recorded == Recorded::New {
            let lag = (now - at).to_std().unwrap_or_default();
            state.metrics.restock_available.observe(lag.as_secs_f64());
        }
    }
    Ok(())
}
