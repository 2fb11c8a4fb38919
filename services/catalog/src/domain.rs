//! Catalog rules that need no I/O.

use omni_contracts::api::{Location, SkuRecord};

/// A record that breaks a catalog rule; the message names the field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Invalid(pub String);

impl From<&str> for Invalid {
    fn from(reason: &str) -> Self {
        Self(reason.to_owned())
    }
}

/// Checks what the wire types cannot: names, time zones, capability lists, tags.
pub fn check_location(location: &Location) -> Result<(), Invalid> {
    if location.name.trim().is_empty() || location.name.len() > 200 {
        return Err("name: must be 1 to 200 characters".into());
    }
    let tz = &location.timezone;
    let tz_shaped = tz == "UTC"
        || (tz.contains('/')
            && tz.len() <= 64
            && tz
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "/_-+".contains(c)));
    if !tz_shaped {
        return Err(Invalid(format!(
            "timezone: `{tz}` is not an IANA zone name such as `Europe/Berlin`"
        )));
    }
    if let Some(region) = &location.region
        && (region.is_empty()
            || region.len() > 64
            || !region
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c)))
    {
        return Err(Invalid(format!(
            "region: `{region}` must be 1 to 64 letters, digits, '-', '_' or '.'"
        )));
    }
    if location.capabilities.is_empty() {
        return Err("capabilities: must name at least one of ship, pickup, curbside".into());
    }
    if location.kind == omni_contracts::api::LocationKind::Warehouse
        && location
            .capabilities
            .iter()
            .any(|c| *c != omni_contracts::api::Capability::Ship)
    {
        return Err("capabilities: a warehouse can only ship".into());
    }
    let curbside = location
        .capabilities
        .contains(&omni_contracts::api::Capability::Curbside);
    match (curbside, location.curbside_bays) {
        (true, 0) => return Err("curbside_bays: a curbside location needs at least 1 bay".into()),
        (false, 1..) => return Err("curbside_bays: only a location with curbside has bays".into()),
        (_, 201..) => return Err("curbside_bays: at most 200".into()),
        _ => {}
    }
    if location.pick_capacity.is_some_and(|c| c == 0 || c > 1_000_000) {
        return Err("pick_capacity: 1 to 1000000 units a day (leave it out for no limit)".into());
    }
    Ok(())
}

/// Checks a SKU's title and tags.
pub fn check_sku(sku: &SkuRecord) -> Result<(), Invalid> {
    if sku.title.trim().is_empty() || sku.title.len() > 500 {
        return Err("title: must be 1 to 500 characters".into());
    }
    if sku.reorder_point.is_some_and(|r| r > 1_000_000) {
        return Err("reorder_point: at most 1000000".into());
    }
    if sku.tags.len() > 50 {
        return Err("tags: at most 50".into());
    }
    if sku.price.is_some_and(|p| p.amount_minor < 0) {
        return Err("price.amount_minor: must not be negative".into());
    }
    if let Some(bad) = sku.tags.iter().find(|t| t.is_empty() || t.len() > 64) {
        return Err(Invalid(format!("tags: `{bad}` must be 1 to 64 characters")));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use omni_contracts::LocationId;
    use omni_contracts::api::*;

    fn warehouse(capabilities: Vec<Capability>) -> Location {
        Location {
            id: LocationId::parse("WH-1").unwrap(),
            name: "North".into(),
            kind: LocationKind::Warehouse,
            lat: Latitude::new(53.5).unwrap(),
            lon: Longitude::new(10.0).unwrap(),
            timezone: "Europe/Berlin".into(),
            region: None,
            capabilities,
            curbside_bays: 0,
            pick_capacity: None,
        }
    }

    #[test]
    fn a_warehouse_cannot_offer_pickup() {
        assert!(check_location(&warehouse(vec![Capability::Ship, Capability::Pickup])).is_err());
        assert!(check_location(&warehouse(vec![Capability::Ship])).is_ok());
    }

    #[test]
    fn a_curbside_store_has_bays_and_only_it_does() {
        let mut store = warehouse(vec![Capability::Ship, Capability::Curbside]);
        store.kind = LocationKind::Store;
        assert!(check_location(&store).unwrap_err().0.starts_with("curbside_bays"));
        store.curbside_bays = 3;
        assert!(check_location(&store).is_ok());
        store.curbside_bays = 201;
        assert!(check_location(&store).is_err());
        let mut shipper = warehouse(vec![Capability::Ship]);
        shipper.curbside_bays = 2;
        assert!(
            check_location(&shipper)
                .unwrap_err()
                .0
                .contains("only a location with curbside")
        );
        shipper.curbside_bays = 0;
        shipper.pick_capacity = Some(0);
        assert!(
            check_location(&shipper)
                .unwrap_err()
                .0
                .starts_with("pick_capacity")
        );
        shipper.pick_capacity = Some(500);
        assert!(check_location(&shipper).is_ok());
    }

    #[test]
    fn a_made_up_timezone_is_rejected() {
        let mut l = warehouse(vec![Capability::Ship]);
        l.timezone = "somewhere nice".into();
        assert!(check_location(&l).unwrap_err().0.starts_with("timezone"));
    }
}
