use serde::{Deserialize, Serialize};

use crate::api::StockMovement;
use crate::envelope::AggregateKey;
use crate::ids::{LocationId, MovementId, Sku};
use crate::topic::Topic;

/// Events on `omni.inventory.v1`: stock movements reported by stores, warehouses and Omni itself.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum InventoryEvent {
    /// One movement (receipt, POS sale, count, ...), keyed by SKU.
    Movement(StockMovement),
    /// A location fell below the SKU's reorder point: a draft transfer or purchase order.
    ReplenishmentRequested(ReplenishmentRequest),
}

/// How stock could come back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum ReplenishmentDraft {
    /// Move units from another location that has more than it needs.
    Transfer {
        /// Where they would come from.
        from_location_id: LocationId,
    },
    /// No location has spare units: buy them.
    PurchaseOrder {},
}

/// `omni.inventory.replenishment_requested`: one per crossing of the reorder point.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReplenishmentRequest {
    /// Unique per request.
    pub request_id: MovementId,
    /// The location short of stock.
    pub location_id: LocationId,
    /// The SKU.
    pub sku: Sku,
    /// On-hand after the movement that crossed the point.
    pub on_hand: i64,
    /// The SKU's reorder point.
    pub reorder_point: i64,
    /// Units that bring on-hand back to twice the reorder point.
    pub suggested_quantity: i64,
    /// The draft.
    pub draft: ReplenishmentDraft,
}

impl AggregateKey for ReplenishmentRequest {
    fn aggregate_key(&self) -> String {
        self.sku.to_string()
    }
}

crate::event_payload!(InventoryEvent on Topic::Inventory, {
    Movement(StockMovement) = "omni.inventory.movement",
    ReplenishmentRequested(ReplenishmentRequest) = "omni.inventory.replenishment_requested",
});

impl AggregateKey for StockMovement {
    fn aggregate_key(&self) -> String {
        self.sku.to_string()
    }
}
