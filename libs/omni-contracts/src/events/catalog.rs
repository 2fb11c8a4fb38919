use serde::{Deserialize, Serialize};

use crate::api::{Location, SkuRecord};
use crate::envelope::AggregateKey;
use crate::topic::Topic;

/// Events on `omni.catalog.v1`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum CatalogEvent {
    /// A location was created or changed.
    LocationUpserted(Location),
    /// A SKU was created or changed.
    SkuUpserted(SkuRecord),
}

crate::event_payload!(CatalogEvent on Topic::Catalog, {
    LocationUpserted(Location) = "omni.catalog.location_upserted",
    SkuUpserted(SkuRecord) = "omni.catalog.sku_upserted",
});

impl AggregateKey for Location {
    fn aggregate_key(&self) -> String {
        self.id.to_string()
    }
}

impl AggregateKey for SkuRecord {
    fn aggregate_key(&self) -> String {
        self.sku.to_string()
    }
}
