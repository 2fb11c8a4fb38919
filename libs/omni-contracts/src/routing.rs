//! Routing rules: data that narrows or steers where fulfillment sends an order. A rule applies to the orders its
//! conditions match (an absent condition matches everything; a list matches when any entry does); its effect
//! rules nodes out, limits how far a shipment may travel, or makes nodes count as nearer. Written as
//! `RoutingPolicy` resources in Kubernetes or in a routing file (`{"rules": [...]}`).

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::api::{Capability, Channel};
use crate::ids::{LocationId, PolicyId, Sku};

/// Most nodes one rule may name.
pub const MAX_RULE_LOCATIONS: usize = 1_000;
/// Largest distance a rule may use, in km (half the Earth's circumference).
pub const MAX_RULE_KM: u32 = 20_000;

/// A routing rule as written by its author.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct RoutingRule {
    /// Unique code, e.g. `no-ship-from-flagship`.
    pub id: PolicyId,
    /// What the rule is for, in words.
    #[serde(default)]
    pub description: String,
    /// A disabled rule is kept but never applies.
    #[serde(default = "enabled")]
    pub enabled: bool,
    /// Which orders it applies to.
    #[serde(default)]
    pub when: RoutingConditions,
    /// What it does.
    pub effect: RoutingEffect,
}

fn enabled() -> bool {
    true
}

/// Which orders a routing rule applies to. Each condition given must match.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct RoutingConditions {
    /// Orders from these channels.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channels: Option<Vec<Channel>>,
    /// Orders delivered this way (`ship`, `pickup`, `curbside`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deliveries: Option<Vec<Capability>>,
    /// Orders with a line of one of these SKUs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub skus: Option<Vec<Sku>>,
}

/// What a routing rule does to the orders it matches.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum RoutingEffect {
    /// Never send these orders to these nodes.
    Exclude(NodeList),
    /// Ship these orders only from nodes at most this many km from the customer.
    MaxDistanceKm(u32),
    /// These nodes count as `bonus_km` nearer than they are.
    Prefer(Preference),
}

/// Nodes a rule names.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct NodeList {
    /// The nodes.
    pub locations: Vec<LocationId>,
}

/// Nodes to prefer, and by how much.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct Preference {
    /// The nodes.
    pub locations: Vec<LocationId>,
    /// How many km nearer they count.
    pub bonus_km: u32,
}

/// A routing file: `{"rules": [...]}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RoutingFile {
    /// The rules.
    pub rules: Vec<RoutingRule>,
}

impl RoutingRule {
    /// Checks what the types cannot: bounded lists and distances. The error names the field.
    pub fn check(&self) -> Result<(), crate::ContractError> {
        let locations = match &self.effect {
            RoutingEffect::Exclude(list) => &list.locations,
            RoutingEffect::Prefer(preference) => &preference.locations,
            RoutingEffect::MaxDistanceKm(km) => {
                return (1..=MAX_RULE_KM).contains(km).then_some(()).ok_or_else(|| {
                    crate::ContractError::field(
                        "effect.max_distance_km",
                        format!("1 to {MAX_RULE_KM}, got {km}"),
                    )
                });
            }
        };
        if locations.is_empty() || locations.len() > MAX_RULE_LOCATIONS {
            return Err(crate::ContractError::field(
                "effect.locations",
                format!("1 to {MAX_RULE_LOCATIONS} nodes, got {}", locations.len()),
            ));
        }
        if let RoutingEffect::Prefer(Preference { bonus_km, .. }) = &self.effect
            && !(1..=MAX_RULE_KM).contains(bonus_km)
        {
            return Err(crate::ContractError::field(
                "effect.bonus_km",
                format!("1 to {MAX_RULE_KM}, got {bonus_km}"),
            ));
        }
        Ok(())
    }
}
