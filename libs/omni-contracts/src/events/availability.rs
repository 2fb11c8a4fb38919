use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::api::LocationAvailability;
use crate::envelope::AggregateKey;
use crate::ids::Sku;
use crate::topic::Topic;

/// Events on `omni.availability.v1` (compacted: the latest per SKU is the truth).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum AvailabilityEvent {
    /// The per-location stock picture of a SKU after a change.
    Changed(AvailabilityChanged),
}

/// The per-location stock picture of one SKU.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AvailabilityChanged {
    /// The SKU.
    pub sku: Sku,
    /// Every location that has stocked it.
    pub locations: Vec<LocationAvailability>,
    /// When allocation computed it.
    pub computed_at: DateTime<Utc>,
}

crate::event_payload!(AvailabilityEvent on Topic::Availability, {
    Changed(AvailabilityChanged) = "omni.availability.changed",
});

impl AggregateKey for AvailabilityChanged {
    fn aggregate_key(&self) -> String {
        self.sku.to_string()
    }
}
