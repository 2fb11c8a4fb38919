use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::envelope::AggregateKey;
use crate::ids::LocationId;
use crate::policies::WeatherCondition;
use crate::topic::Topic;

/// Context signals on `omni.signals.v1` (key = location) that buffer rules can match on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum SignalEvent {
    /// The weather at (or forecast for) a location.
    Weather(WeatherSignal),
}

/// The weather at a location, from a weather feed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WeatherSignal {
    /// The location.
    pub location_id: LocationId,
    /// What the weather is or is forecast to be.
    pub condition: WeatherCondition,
    /// When the feed observed or forecast it; an older signal than the one kept is ignored.
    pub observed_at: DateTime<Utc>,
    /// Until when it holds; afterwards the location counts as `clear`. Absent: until the next signal.
    #[serde(default)]
    pub valid_until: Option<DateTime<Utc>>,
}

crate::event_payload!(SignalEvent on Topic::Signals, {
    Weather(WeatherSignal) = "omni.signals.weather",
});

impl AggregateKey for WeatherSignal {
    fn aggregate_key(&self) -> String {
        self.location_id.to_string()
    }
}
