//! Builders for test data, as the contract types the services take: a store, a warehouse, a SKU, stock. Each
//! starts from plain defaults (Berlin, ships only, a title) and a test changes only what it is about:
//! `store("STORE-1").capable(&[Ship, Pickup])`, `store("S2").at(48.14, 11.58)`.

use omni_contracts::api::StockMovement;
use omni_contracts::api::{Capability, Latitude, Location, LocationKind, Longitude, MovementKind, SkuRecord};
use omni_contracts::{LocationId, MovementId, Quantity, Sku};

/// A store in Berlin (52.5, 13.4) that ships, named after its id.
pub fn store(id: &str) -> LocationBuilder {
    LocationBuilder::new(id, LocationKind::Store)
}

/// A warehouse in Berlin (52.5, 13.4), named after its id (warehouses only ship).
pub fn warehouse(id: &str) -> LocationBuilder {
    LocationBuilder::new(id, LocationKind::Warehouse)
}

/// A location being built; [`LocationBuilder::build`] (or `into()`) checks the id and coordinates.
#[derive(Debug, Clone)]
pub struct LocationBuilder {
    id: String,
    name: Option<String>,
    kind: LocationKind,
    lat: f64,
    lon: f64,
    region: Option<String>,
    capabilities: Vec<Capability>,
}

impl LocationBuilder {
    fn new(id: &str, kind: LocationKind) -> Self {
        Self {
            id: id.to_owned(),
            name: None,
            kind,
            lat: 52.5,
            lon: 13.4,
            region: None,
            capabilities: vec![Capability::Ship],
        }
    }

    /// Its display name (default: its id).
    #[must_use]
    pub fn named(mut self, name: &str) -> Self {
        self.name = Some(name.to_owned());
        self
    }

    /// Where it is.
    #[must_use]
    pub fn at(mut self, lat: f64, lon: f64) -> Self {
        self.lat = lat;
        self.lon = lon;
        self
    }

    /// Its region (for policies).
    #[must_use]
    pub fn in_region(mut self, region: &str) -> Self {
        self.region = Some(region.to_owned());
        self
    }

    /// What it can do (default: ship).
    #[must_use]
    pub fn capable(mut self, capabilities: &[Capability]) -> Self {
        self.capabilities = capabilities.to_vec();
        self
    }

    /// The location.
    pub fn build(self) -> anyhow::Result<Location> {
        Ok(Location {
            id: LocationId::parse(&self.id)?,
            name: self.name.unwrap_or_else(|| self.id.clone()),
            kind: self.kind,
            lat: Latitude::new(self.lat)?,
            lon: Longitude::new(self.lon)?,
            timezone: "Europe/Berlin".into(),
            region: self.region,
            capabilities: self.capabilities,
        })
    }
}

/// A SKU titled after its code, no tags, no price.
pub fn sku(code: &str) -> anyhow::Result<SkuRecord> {
    Ok(SkuRecord {
        sku: Sku::parse(code)?,
        title: code.to_owned(),
        tags: vec![],
        reorder_point: None,
        price: None,
    })
}

/// A receipt of `units` of `sku` at `location`, with a new movement id.
pub fn receipt(location: &str, sku: &str, units: i64) -> anyhow::Result<StockMovement> {
    Ok(StockMovement {
        event_id: MovementId::generate(),
        location_id: LocationId::parse(location)?,
        sku: Sku::parse(sku)?,
        kind: MovementKind::Receipt,
        quantity: Quantity::new(units)?,
    })
}
