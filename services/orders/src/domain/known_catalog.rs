//! The catalog as orders knows it, for a set of orders: whether each order's SKUs exist and its pickup or
//! curbside store offers that. Loaded once per batch (`db::catalog::known_for`), checked without I/O.

use crate::domain::Invalid;
use std::collections::{HashMap, HashSet};

use omni_contracts::api::{Delivery, NewOrder};

/// The part of the catalog a set of orders refers to.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct KnownCatalog {
    /// SKUs the catalog announced.
    pub skus: HashSet<String>,
    /// Locations the catalog announced, with their capabilities (`ship`, `pickup`, `curbside`).
    pub locations: HashMap<String, Vec<String>>,
}

impl KnownCatalog {
    /// Whether the catalog has every SKU of `order` and the store it is picked up or handed over at, with that
    /// capability; the error names the field.
    pub fn check<T>(&self, order: &NewOrder<T>) -> Result<(), Invalid> {
        if let Some(line) = order.lines.iter().find(|l| !self.skus.contains(l.sku.as_str())) {
            return Err(Invalid(format!("lines: unknown SKU `{}`", line.sku)));
        }
        let (location, needs) = match &order.delivery {
            Delivery::Ship { .. } => return Ok(()),
            Delivery::Pickup { location_id } => (location_id, "pickup"),
            Delivery::Curbside { location_id } => (location_id, "curbside"),
        };
        match self.locations.get(location.as_str()) {
            None => Err(Invalid(format!(
                "delivery.location_id: unknown location `{location}`"
            ))),
            Some(capabilities) if !capabilities.iter().any(|c| c == needs) => Err(Invalid(format!(
                "delivery.location_id: `{location}` does not offer {needs}"
            ))),
            Some(_) => Ok(()),
        }
    }
}

/// The SKUs and stores `orders` refer to (what [`KnownCatalog`] must be loaded for).
pub fn referenced<'a, T: 'a>(
    orders: impl IntoIterator<Item = &'a NewOrder<T>>,
) -> (HashSet<&'a str>, HashSet<&'a str>) {
    let (mut skus, mut locations) = (HashSet::new(), HashSet::new());
    for order in orders {
        skus.extend(order.lines.iter().map(|l| l.sku.as_str()));
        if let Delivery::Pickup { location_id } | Delivery::Curbside { location_id } = &order.delivery {
            locations.insert(location_id.as_str());
        }
    }
    (skus, locations)
}
