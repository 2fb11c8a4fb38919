use diesel::prelude::*;
use omni_contracts::LocationId;
use omni_contracts::api::{Capability, Latitude, Location, LocationKind, Longitude};
use omni_db::DbConnection;

use super::Upsert;
use super::schema::locations;

#[derive(Queryable, Selectable)]
#[diesel(table_name = locations)]
struct LocationRow {
    id: String,
    name: String,
    kind: String,
    lat: f64,
    lon: f64,
    timezone: String,
    capabilities: String,
    region: Option<String>,
    curbside_bays: i32,
    pick_capacity: Option<i32>,
}

impl LocationRow {
    fn into_location(self) -> Result<Location, omni_contracts::ContractError> {
        Ok(Location {
            id: LocationId::parse(&self.id)?,
            name: self.name,
            kind: serde_json::from_value(serde_json::Value::String(self.kind)).map_err(|e| {
                omni_contracts::ContractError::InvalidField {
                    field: "kind",
                    reason: e.to_string(),
                }
            })?,
            lat: Latitude::new(self.lat)?,
            lon: Longitude::new(self.lon)?,
            timezone: self.timezone,
            region: self.region,
            capabilities: self
                .capabilities
                .split(',')
                .filter(|c| !c.is_empty())
                .filter_map(|c| {
                    serde_json::from_value::<Capability>(serde_json::Value::String(c.to_owned())).ok()
                })
                .collect(),
            curbside_bays: u32::try_from(self.curbside_bays).unwrap_or(0),
            pick_capacity: self.pick_capacity.and_then(|c| u32::try_from(c).ok()),
        })
    }
}

fn kind_name(kind: LocationKind) -> &'static str {
    match kind {
        LocationKind::Store => "store",
        LocationKind::Warehouse => "warehouse",
    }
}

fn capability_list(caps: &[Capability]) -> String {
    caps.iter()
        .map(|c| match c {
            Capability::Ship => "ship",
            Capability::Pickup => "pickup",
            Capability::Curbside => "curbside",
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// One location.
pub fn find(conn: &mut DbConnection, id: &LocationId) -> omni_db::Result<Option<Location>> {
    let row = locations::table
        .find(id.as_str())
        .select(LocationRow::as_select())
        .first(conn)
        .optional()?;
    Ok(row.and_then(|r| r.into_location().ok()))
}

/// Inserts or updates a location.
pub fn upsert(conn: &mut DbConnection, location: &Location) -> omni_db::Result<Upsert> {
    let existing = find(conn, &location.id)?;
    let now = omni_db::now();
    let values = (
        locations::name.eq(&location.name),
        locations::kind.eq(kind_name(location.kind)),
        locations::lat.eq(location.lat.degrees()),
        locations::lon.eq(location.lon.degrees()),
        locations::timezone.eq(&location.timezone),
        locations::capabilities.eq(capability_list(&location.capabilities)),
        locations::region.eq(location.region.as_deref()),
        locations::curbside_bays.eq(i32::try_from(location.curbside_bays).unwrap_or(i32::MAX)),
        locations::pick_capacity.eq(location
            .pick_capacity
            .map(|c| i32::try_from(c).unwrap_or(i32::MAX))),
        locations::updated_at.eq(now),
    );
    match existing {
        Some(current) if current == *location => Ok(Upsert::Unchanged),
        Some(_) => {
            diesel::update(locations::table.find(location.id.as_str()))
                .set(values)
                .execute(conn)?;
            Ok(Upsert::Updated)
        }
        None => {
            diesel::insert_into(locations::table)
                .values((
                    locations::id.eq(location.id.as_str()),
                    values,
                    locations::created_at.eq(now),
                ))
                .execute(conn)?;
            Ok(Upsert::Created)
        }
    }
}

/// A page of locations by id.
pub fn list(conn: &mut DbConnection, limit: i64, offset: i64) -> omni_db::Result<Vec<Location>> {
    let rows = locations::table
        .order(locations::id.asc())
        .limit(limit)
        .offset(offset)
        .select(LocationRow::as_select())
        .load(conn)?;
    Ok(rows.into_iter().filter_map(|r| r.into_location().ok()).collect())
}
