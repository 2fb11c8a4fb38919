use diesel::prelude::*;
use omni_contracts::api::{Location, SkuRecord};
use omni_contracts::{LocationId, Sku};
use omni_db::DbConnection;

use super::schema::{known_locations, known_skus};

/// Remembers a location announced by the catalog, with where it is.
pub fn remember_location(conn: &mut DbConnection, location: &Location) -> omni_db::Result<()> {
    let (lat, lon) = (location.lat.degrees(), location.lon.degrees());
    if location_known(conn, &location.id)? {
        diesel::update(known_locations::table.find(location.id.as_str()))
            .set((
                known_locations::lat.eq(lat),
                known_locations::lon.eq(lon),
                known_locations::updated_at.eq(omni_db::now()),
            ))
            .execute(conn)?;
    } else {
        diesel::insert_into(known_locations::table)
            .values((
                known_locations::id.eq(location.id.as_str()),
                known_locations::lat.eq(lat),
                known_locations::lon.eq(lon),
                known_locations::updated_at.eq(omni_db::now()),
            ))
            .execute(conn)?;
    }
    Ok(())
}

/// Where every known location is: `(id, lat, lon)`.
pub fn location_points(conn: &mut DbConnection) -> omni_db::Result<Vec<(String, f64, f64)>> {
    Ok(known_locations::table
        .select((known_locations::id, known_locations::lat, known_locations::lon))
        .load(conn)?)
}

/// Remembers a SKU announced by the catalog, with its tags and reorder point.
pub fn remember_sku(conn: &mut DbConnection, record: &SkuRecord) -> omni_db::Result<()> {
    let tags = serde_json::to_string(&record.tags).unwrap_or_else(|_| "[]".into());
    let reorder_point = record.reorder_point.map(i64::from);
    if sku_known(conn, &record.sku)? {
        diesel::update(known_skus::table.find(record.sku.as_str()))
            .set((
                known_skus::tags.eq(tags),
                known_skus::reorder_point.eq(reorder_point),
                known_skus::updated_at.eq(omni_db::now()),
            ))
            .execute(conn)?;
    } else {
        diesel::insert_into(known_skus::table)
            .values((
                known_skus::sku.eq(record.sku.as_str()),
                known_skus::tags.eq(tags),
                known_skus::reorder_point.eq(reorder_point),
                known_skus::updated_at.eq(omni_db::now()),
            ))
            .execute(conn)?;
    }
    Ok(())
}

/// The SKU's reorder point, if it has one.
pub fn reorder_point(conn: &mut DbConnection, sku: &Sku) -> omni_db::Result<Option<i64>> {
    Ok(known_skus::table
        .find(sku.as_str())
        .select(known_skus::reorder_point)
        .first(conn)
        .optional()?
        .flatten())
}

/// Whether the catalog announced the location.
pub fn location_known(conn: &mut DbConnection, id: &LocationId) -> omni_db::Result<bool> {
    let n: i64 = known_locations::table
        .filter(known_locations::id.eq(id.as_str()))
        .count()
        .get_result(conn)?;
    Ok(n > 0)
}

/// Whether the catalog announced the SKU.
pub fn sku_known(conn: &mut DbConnection, sku: &Sku) -> omni_db::Result<bool> {
    let n: i64 = known_skus::table
        .filter(known_skus::sku.eq(sku.as_str()))
        .count()
        .get_result(conn)?;
    Ok(n > 0)
}
