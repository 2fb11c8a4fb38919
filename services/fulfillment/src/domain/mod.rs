//! Routing and fulfillment rules: pure functions, no I/O.

pub mod routing;
pub mod task;

/// Where a fulfillment is: sourced at a node, then released to it once paid, then completed when the node
/// shipped or handed it over. A fulfillment whose hold was refused (the order routed again) is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum FulfillmentStatus {
    /// The node was chosen; allocation is asked to hold the stock there.
    Sourced,
    /// The order was routed again: this attempt is over.
    Refused,
    /// Paid and handed to the node to ship or hand over.
    Released,
    /// The node shipped it or handed it over.
    Completed,
    /// The order was cancelled, or failed, before the node shipped it or handed it over: nothing leaves.
    Cancelled,
}

impl FulfillmentStatus {
    /// The stored and wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            FulfillmentStatus::Sourced => "sourced",
            FulfillmentStatus::Refused => "refused",
            FulfillmentStatus::Released => "released",
            FulfillmentStatus::Completed => "completed",
            FulfillmentStatus::Cancelled => "cancelled",
        }
    }
}

impl std::fmt::Display for FulfillmentStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A stored status this code never writes.
#[derive(Debug, thiserror::Error)]
#[error("unknown fulfillment status `{0}`")]
pub struct UnknownStatus(String);

impl TryFrom<String> for FulfillmentStatus {
    type Error = UnknownStatus;
    fn try_from(raw: String) -> Result<Self, UnknownStatus> {
        Ok(match raw.as_str() {
            "sourced" => FulfillmentStatus::Sourced,
            "refused" => FulfillmentStatus::Refused,
            "released" => FulfillmentStatus::Released,
            "completed" => FulfillmentStatus::Completed,
            "cancelled" => FulfillmentStatus::Cancelled,
            _ => return Err(UnknownStatus(raw)),
        })
    }
}
