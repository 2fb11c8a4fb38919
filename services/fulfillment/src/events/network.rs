use omni_contracts::Topic;
use omni_contracts::events::{AvailabilityEvent, CatalogEvent};
use omni_kafka::{HandlerError, Incoming};

use crate::app::State;
use crate::db::network;

/// Keeps the nodes (from the catalog) and their stock (from availability) routing decides on.
pub async fn handle(state: State, incoming: Incoming) -> Result<(), HandlerError> {
    match incoming.topic {
        Topic::Catalog => {
            let event = incoming.decode::<CatalogEvent>()?;
            if let CatalogEvent::LocationUpserted(location) = event.data {
                state
                    .db
                    .transaction(move |conn| network::upsert_node(conn, &location))
                    .await?;
            }
        }
        Topic::Availability => {
            // Compacted topic: the latest picture of a SKU replaces the previous one, so replays are harmless.
            let event = incoming.decode::<AvailabilityEvent>()?;
            let AvailabilityEvent::Changed(changed) = event.data;
            let lag = (chrono::Utc::now() - changed.computed_at)
                .num_microseconds()
                .unwrap_or(0)
                .max(0);
            state.availability_lag.observe(lag as f64 / 1e6);
            state
                .db
                .transaction(move |conn| {
                    network::replace_stock(
                        conn,
                        &changed.sku,
                        &changed.locations,
                        &changed.channels,
                        &changed.fenced,
                    )
                })
                .await?;
        }
        other => {
            return Err(HandlerError::Permanent(format!(
                "unexpected topic {}",
                other.default_name()
            )));
        }
    }
    Ok(())
}
