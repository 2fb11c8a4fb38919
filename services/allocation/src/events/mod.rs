//! What allocation consumes (catalog, inventory, sourcing decisions, order failures) and the events it writes.

pub mod catalog;
pub mod inventory;
pub mod orders;
pub mod signals;
pub mod sourcing;

use omni_contracts::events::{AvailabilityChanged, AvailabilityEvent};
use omni_contracts::{Envelope, Sku};
use omni_db::DbConnection;

use crate::domain::policy::PolicySet;

/// Notes, in the caller's transaction, that the availability of `sku` changed; the publisher sends it after
/// the commit (call `State::changed` then).
pub fn availability_changed(conn: &mut DbConnection, sku: &Sku) -> omni_db::Result<()> {
    crate::db::marks::mark(conn, sku)
}

/// Writes the current availability of `sku` to the outbox, per location and per channel under `policies`, in
/// the caller's transaction.
pub fn publish_availability(conn: &mut DbConnection, policies: &PolicySet, sku: &Sku) -> omni_db::Result<()> {
    let now = chrono::Utc::now();
    let picture = crate::availability::SkuPicture::read(conn, policies, sku, now)?;
    let event = AvailabilityEvent::Changed(AvailabilityChanged {
        sku: sku.clone(),
        channels: picture.channels(policies, now),
        locations: picture.levels,
        computed_at: now,
    });
    omni_kafka::outbox::enqueue(conn, &Envelope::new("allocation", event))
}
