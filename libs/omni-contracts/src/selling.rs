//! Who sells and to whom: the selling channel and the customer's tier, which orders, holds and policies all name.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A selling channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    /// The web shop.
    Web,
    /// The mobile app.
    App,
    /// A store till.
    Pos,
    /// Social commerce.
    Social,
    /// A partner marketplace (the partner is named on the order).
    Marketplace,
}

impl Channel {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Web => "web",
            Channel::App => "app",
            Channel::Pos => "pos",
            Channel::Social => "social",
            Channel::Marketplace => "marketplace",
        }
    }
}

/// A customer's tier; segments and rules can match on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum CustomerTier {
    /// Everyone.
    #[default]
    Standard,
    /// Customers with a ring-fenced share of stock.
    Vip,
}

impl CustomerTier {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            CustomerTier::Standard => "standard",
            CustomerTier::Vip => "vip",
        }
    }

    /// Reads the wire name.
    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "standard" => Some(CustomerTier::Standard),
            "vip" => Some(CustomerTier::Vip),
            _ => None,
        }
    }
}
