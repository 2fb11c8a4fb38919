use omni_contracts::events::CatalogEvent;
use omni_kafka::{HandlerError, Incoming};

use crate::app::State;
use crate::db::catalog;

/// Keeps the read model of locations and SKUs, and opens new locations in the hold store.
pub async fn handle(state: State, incoming: Incoming) -> Result<(), HandlerError> {
    let event = incoming.decode::<CatalogEvent>()?;
    let event_id = event.id.to_string();
    let known = event.data.clone();
    let changed_sku = match &event.data {
        CatalogEvent::SkuUpserted(record) => Some(record.sku.clone()),
        CatalogEvent::LocationUpserted(_) => None,
    };
    let opened = state
        .db
        .transaction(move |conn| -> Result<_, HandlerError> {
            let first = omni_db::inbox::claim(conn, "allocation.catalog", &event_id)?;
            match &event.data {
                CatalogEvent::LocationUpserted(location) => {
                    if first {
                        catalog::remember_location(conn, location)?;
                    }
                    // Again on a redelivery: the hold store may not have opened it before.
                    let generation = crate::db::generation::current_shared(conn)?;
                    Ok(Some((location.id.clone(), generation)))
                }
                CatalogEvent::SkuUpserted(sku) => {
                    if first {
                        catalog::remember_sku(conn, sku)?;
                    }
                    Ok(None)
                }
            }
        })
        .await?;
    match &known {
        CatalogEvent::SkuUpserted(record) => state.known.remember_skus([&record.sku]),
        CatalogEvent::LocationUpserted(location) => state.known.remember_location(&location.id),
    }
    // A new location takes holds at once: the hold store opens it under the ledger's generation.
    if let Some((location, generation)) = opened
        && let Err(e) = state.holds.open_location(&location, generation).await
    {
        tracing::error!(error = %e, location.id = %location, "Hold store could not open a new location; rebuilding it from the ledger.");
        state.mark_stale();
    }
    // New tags can bring a SKU under rules (or out of them).
    if let Some(sku) = changed_sku
        && state.policies.current().iter().next().is_some()
    {
        crate::app::policies::republish(&state, vec![sku]).await?;
    }
    Ok(())
}
