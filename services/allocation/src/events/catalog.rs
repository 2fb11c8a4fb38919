use omni_contracts::events::CatalogEvent;
use omni_kafka::{HandlerError, Incoming};

use crate::app::State;
use crate::db::catalog;

/// Keeps the read model of locations and SKUs.
pub async fn handle(state: State, incoming: Incoming) -> Result<(), HandlerError> {
    let event = incoming.decode::<CatalogEvent>()?;
    let event_id = event.id.to_string();
    let changed_sku = match &event.data {
        CatalogEvent::SkuUpserted(record) => Some(record.sku.clone()),
        CatalogEvent::LocationUpserted(_) => None,
    };
    state
        .db
        .transaction(move |conn| -> Result<(), HandlerError> {
            if !omni_db::inbox::claim(conn, "allocation.catalog", &event_id)? {
                return Ok(());
            }
            match &event.data {
                CatalogEvent::LocationUpserted(location) => catalog::remember_location(conn, location)?,
                CatalogEvent::SkuUpserted(sku) => catalog::remember_sku(conn, sku)?,
            }
            Ok(())
        })
        .await?;
    // New tags can bring a SKU under rules (or out of them).
    if let Some(sku) = changed_sku
        && state.policies.current().iter().next().is_some()
    {
        crate::app::policies::republish(&state, vec![sku]).await?;
    }
    Ok(())
}
