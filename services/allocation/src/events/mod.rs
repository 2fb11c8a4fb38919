//! What allocation consumes (catalog, inventory, sourcing decisions, order failures) and the events it writes.

pub mod catalog;
pub mod inventory;
pub mod orders;
pub mod sourcing;

use omni_contracts::events::{AvailabilityChanged, AvailabilityEvent};
use omni_contracts::{Envelope, Sku};
use omni_db::DbConnection;

/// Writes the current availability of `sku` to the outbox, in the caller's transaction.
pub fn publish_availability(conn: &mut DbConnection, sku: &Sku) -> omni_db::Result<()> {
    let locations = crate::db::ledger::availability(conn, sku)?;
    let event = AvailabilityEvent::Changed(AvailabilityChanged {
        sku: sku.clone(),
        locations,
        computed_at: chrono::Utc::now(),
    });
    omni_kafka::outbox::enqueue(conn, &Envelope::new("allocation", event))
}
