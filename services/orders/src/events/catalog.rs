//! Keeps orders' view of the catalog (SKUs, locations and their capabilities) for intake checks.

use omni_contracts::events::CatalogEvent;
use omni_kafka::{HandlerError, Incoming};

use crate::app::State;
use crate::db::catalog;

/// `omni.catalog.v1` consumer.
pub async fn handle(state: State, incoming: Incoming) -> Result<(), HandlerError> {
    let event = incoming.decode::<CatalogEvent>()?;
    state
        .db
        .transaction(move |conn| -> Result<(), HandlerError> {
            match &event.data {
                CatalogEvent::LocationUpserted(location) => catalog::remember_location(conn, location)?,
                CatalogEvent::SkuUpserted(record) => catalog::remember_sku(conn, record)?,
            }
            Ok(())
        })
        .await
}
