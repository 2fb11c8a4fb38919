use omni_contracts::api::StockMovement;
use omni_contracts::events::InventoryEvent;
use omni_kafka::{HandlerError, Incoming};

use crate::State;
use crate::db::{catalog, ledger};

/// Why a movement was not recorded.
#[derive(Debug, thiserror::Error)]
pub enum MovementError {
    /// The movement names a location or SKU the catalog never announced.
    #[error("{0}")]
    UnknownReference(String),
    /// The database failed.
    #[error(transparent)]
    Db(#[from] omni_db::Error),
}

impl From<diesel::result::Error> for MovementError {
    fn from(e: diesel::result::Error) -> Self {
        MovementError::Db(omni_db::Error::Query(e))
    }
}

/// Whether a movement was new.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recorded {
    /// Appended to the ledger.
    New,
    /// Its event id was already in the ledger; nothing changed.
    Duplicate,
}

/// Records a movement (HTTP or Kafka): ledger append and availability event in one transaction, then the hold
/// store. `principal` is audited for HTTP callers.
pub async fn record(
    state: &State,
    movement: StockMovement,
    principal: Option<String>,
) -> Result<Recorded, MovementError> {
    let _change = state.change_guard().await;
    let stored = movement.clone();
    let outcome = state
        .db
        .transaction(move |conn| -> Result<(Recorded, i64), MovementError> {
            if ledger::contains(conn, &stored.event_id.to_string())? {
                return Ok((Recorded::Duplicate, 0));
            }
            if !catalog::location_known(conn, &stored.location_id)? {
                return Err(MovementError::UnknownReference(format!("location_id: unknown location `{}`", stored.location_id)));
            }
            if !catalog::sku_known(conn, &stored.sku)? {
                return Err(MovementError::UnknownReference(format!("sku: unknown SKU `{}`", stored.sku)));
            }
            let current = ledger::on_hand(conn, &stored.location_id, &stored.sku)?;
            let delta = crate::domain::movement_delta(stored.kind, stored.quantity, current);
            ledger::append(conn, &stored, delta)?;
            if let Some(principal) = principal {
                let detail = serde_json::json!({ "event_id": stored.event_id, "kind": stored.kind, "quantity": stored.quantity, "delta": delta });
                omni_db::audit::record(conn, &principal, "inventory.movement.recorded", &format!("{}/{}", stored.location_id, stored.sku), &detail)?;
            }
            crate::events::publish_availability(conn, &stored.sku)?;
            Ok((Recorded::New, delta))
        })
        .await?;
    if let (Recorded::New, delta) = outcome {
        state.relay.notify_one();
        if let Err(e) = state
            .holds
            .adjust_on_hand(&movement.location_id, movement.sku.as_str(), delta)
            .await
        {
            // The ledger has it; the hot store will be rebuilt from the ledger.
            tracing::error!(error = %e, sku = %movement.sku, "Hold store missed a movement; rebuilding it from the ledger.");
            state.mark_stale();
        }
    }
    Ok(outcome.0)
}

/// `omni.inventory.v1` consumer.
pub async fn handle(state: State, incoming: Incoming) -> Result<(), HandlerError> {
    let event = incoming.decode::<InventoryEvent>()?;
    let InventoryEvent::Movement(movement) = event.data;
    match record(&state, movement, None).await {
        Ok(_) => Ok(()),
        Err(MovementError::UnknownReference(reason)) => Err(HandlerError::Permanent(reason)),
        Err(MovementError::Db(e)) => Err(HandlerError::Transient(e.to_string())),
    }
}
