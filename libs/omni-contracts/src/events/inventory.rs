use serde::{Deserialize, Serialize};

use crate::api::StockMovement;
use crate::envelope::AggregateKey;
use crate::topic::Topic;

/// Events on `omni.inventory.v1`: stock movements reported by stores, warehouses and Omni itself.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum InventoryEvent {
    /// One movement (receipt, POS sale, count, ...), keyed by SKU.
    Movement(StockMovement),
}

crate::event_payload!(InventoryEvent on Topic::Inventory, {
    Movement(StockMovement) = "omni.inventory.movement",
});

impl AggregateKey for StockMovement {
    fn aggregate_key(&self) -> String {
        self.sku.to_string()
    }
}
