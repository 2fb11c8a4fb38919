use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::api::{Channel, LocationAvailability};
use crate::envelope::AggregateKey;
use crate::ids::{LocationId, PolicyId, Sku};
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
    /// What each channel may sell of it once buffer rules apply (standard customers, no segment).
    #[serde(default)]
    pub channels: Vec<ChannelAvailability>,
    /// When allocation computed it.
    pub computed_at: DateTime<Utc>,
}

/// What one channel may sell of a SKU.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChannelAvailability {
    /// The channel.
    pub channel: Channel,
    /// The sum over the locations.
    pub available: i64,
    /// `(location, available)` for every location with something to sell.
    pub locations: Vec<ChannelLocation>,
    /// The rules that withheld units anywhere.
    pub rules: Vec<PolicyId>,
}

/// What one channel may sell at one location.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChannelLocation {
    /// The location.
    pub location_id: LocationId,
    /// Units the channel may sell there.
    pub available: i64,
}

crate::event_payload!(AvailabilityEvent on Topic::Availability, {
    Changed(AvailabilityChanged) = "omni.availability.changed",
});

impl AggregateKey for AvailabilityChanged {
    fn aggregate_key(&self) -> String {
        self.sku.to_string()
    }
}
