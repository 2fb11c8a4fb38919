//! `omni.catalog.v1`: the SKUs' tags, for the return policy's final-sale items.

use omni_contracts::events::CatalogEvent;
use omni_kafka::{HandlerError, Incoming};

use crate::app::State;
use crate::error::ReadModelError;

/// Keeps each SKU's tags.
pub async fn handle(state: State, incoming: Incoming) -> Result<(), HandlerError> {
    let event = incoming.decode::<CatalogEvent>()?;
    state
        .db
        .transaction(move |conn| -> Result<(), ReadModelError> {
            crate::app::read_model::record_catalog(conn, &event.data)
        })
        .await?;
    Ok(())
}
