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
    /// Where ring-fences make what a VIP, a pre-order or a curbside pickup may sell differ from its channel's
    /// figure: that caller's figures (absent when no fence applies to the SKU).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fenced: Vec<FencedAvailability>,
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

/// What a caller of a tier, in a segment, may sell of a SKU on a channel, where fences make it differ from the
/// channel's figure.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FencedAvailability {
    /// The channel.
    pub channel: Channel,
    /// The customer's tier.
    pub tier: crate::api::CustomerTier,
    /// The segment (none: the tier alone).
    pub segment: Option<crate::policies::Segment>,
    /// `(location, available)` for every location with something to sell.
    pub locations: Vec<ChannelLocation>,
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
