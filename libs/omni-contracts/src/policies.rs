//! Buffer and segment policies: data that decides how much of a location's ATP a channel or a customer segment
//! may sell. Conditions all have to match (an absent condition matches everything); the effect either holds
//! units back from whoever the rule matches or ring-fences units for one segment. How matching rules combine is
//! in `docs/POLICIES.md`.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::ids::{LocationId, PolicyId, Sku};
use crate::selling::{Channel, CustomerTier};

/// A policy as written by its author (`POST /v1/policies`, a policy file, a `BufferPolicy` resource).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PolicySpec {
    /// Unique code, e.g. `storm-buffer`.
    pub id: PolicyId,
    /// What the rule is for, in words.
    #[serde(default)]
    pub description: String,
    /// A disabled rule is kept but never applies.
    #[serde(default = "enabled")]
    pub enabled: bool,
    /// Among matching hold-backs (and among ring-fences of one segment) only the highest priority counts.
    #[serde(default)]
    pub priority: i32,
    /// When the rule applies.
    #[serde(default)]
    pub when: Conditions,
    /// What it does.
    pub effect: Effect,
}

fn enabled() -> bool {
    true
}

/// Conditions of a rule. Each one given must match; a list matches when any of its entries does.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct Conditions {
    /// These SKUs only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub skus: Option<Vec<Sku>>,
    /// SKUs carrying any of these catalog tags.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sku_tags: Option<Vec<String>>,
    /// These locations only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub locations: Option<Vec<LocationId>>,
    /// Locations in any of these catalog regions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub regions: Option<Vec<String>>,
    /// Selling channels the rule applies to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channels: Option<Vec<Channel>>,
    /// Customer tiers the rule applies to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer_tiers: Option<Vec<CustomerTier>>,
    /// A time of day at the location (its own time zone); `from` after `to` spans midnight.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub local_time: Option<TimeWindow>,
    /// A season: local dates, both ends included.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dates: Option<DateRange>,
    /// The location's current weather signal is one of these.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weather: Option<Vec<WeatherCondition>>,
    /// The SKU sold fast at the location lately.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub velocity: Option<Velocity>,
}

/// A local time-of-day window, `HH:MM` (or `HH:MM:SS`) to `HH:MM` (end excluded).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct TimeWindow {
    /// Start, e.g. `18:00`.
    pub from: String,
    /// End, e.g. `22:00` (excluded).
    pub to: String,
}

/// A range of local dates, both ends included.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct DateRange {
    /// First day.
    pub from: NaiveDate,
    /// Last day.
    pub to: NaiveDate,
}

/// Sales velocity: at least `units` sold (POS sales and fulfilled holds) at the location in the last
/// `window_minutes`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct Velocity {
    /// How far back to count, 1 to 43,200 minutes (30 days).
    pub window_minutes: u32,
    /// Units sold in that window for the rule to apply (at least 1).
    pub units: u32,
}

/// A weather condition, as reported on `omni.signals.v1`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum WeatherCondition {
    /// Nothing notable.
    Clear,
    /// Rain.
    Rain,
    /// Snow.
    Snow,
    /// A storm (forecast or under way).
    Storm,
    /// A heat wave.
    Heat,
    /// A cold snap.
    Cold,
}

/// A customer segment that units can be ring-fenced for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum Segment {
    /// Customers of the VIP tier.
    Vip,
    /// Pre-orders.
    Preorder,
    /// Curbside pick-ups.
    Curbside,
}

impl Segment {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Segment::Vip => "vip",
            Segment::Preorder => "preorder",
            Segment::Curbside => "curbside",
        }
    }
}

/// What a rule does where it applies.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Effect {
    /// Withhold units from whoever the rule matches.
    HoldBack(Amount),
    /// Keep units for one segment: withheld from everyone else the rule matches.
    RingFence(RingFence),
}

/// How many units: a count, or a percentage of on-hand (rounded up).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Amount {
    /// This many units.
    Units(u32),
    /// This share of on-hand, 1 to 100.
    Percent(u32),
}

/// Units kept for a segment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct RingFence {
    /// Who the units are kept for.
    pub segment: Segment,
    /// How many.
    pub amount: Amount,
}

/// Where a policy came from; only database policies can be changed over HTTP.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PolicySource {
    /// Created over HTTP, kept in allocation's database.
    Database,
    /// Loaded from the policy file (`policies.file`).
    File,
    /// A `BufferPolicy` resource in the watched namespace (`policies.kubernetes_namespace`).
    Kubernetes,
}

/// A stored policy: its spec and its version.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Policy {
    /// The rule.
    #[serde(flatten)]
    pub spec: PolicySpec,
    /// Starts at 1; every change adds one.
    pub version: i64,
    /// Where it came from.
    pub source: PolicySource,
    /// Who changed it last (the principal, or `file`).
    pub updated_by: String,
    /// When.
    pub updated_at: DateTime<Utc>,
}

/// A policy file: `{"policies": [...]}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PolicyFile {
    /// The rules.
    pub policies: Vec<PolicySpec>,
}

/// A rule that shaped an availability answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AppliedRule {
    /// The rule.
    pub id: PolicyId,
    /// Its version.
    pub version: i64,
    /// Units it withheld at the location.
    pub withheld: i64,
}

/// One version in a policy's history (`GET /v1/policies/{id}/versions`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct PolicyVersion {
    /// The policy.
    pub id: PolicyId,
    /// The version.
    pub version: i64,
    /// The rule as it was; absent for a deletion.
    pub spec: Option<PolicySpec>,
    /// Where the change came from.
    pub source: PolicySource,
    /// Who made it.
    pub changed_by: String,
    /// When.
    pub changed_at: DateTime<Utc>,
}
