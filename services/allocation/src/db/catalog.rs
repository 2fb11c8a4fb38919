use diesel::prelude::*;
use omni_contracts::{LocationId, Sku};
use omni_db::DbConnection;

use super::schema::{known_locations, known_skus};

/// Remembers a location announced by the catalog.
pub fn remember_location(conn: &mut DbConnection, id: &LocationId) -> omni_db::Result<()> {
    if !location_known(conn, id)? {
        diesel::insert_into(known_locations::table)
            .values((
                known_locations::id.eq(id.as_str()),
                known_locations::updated_at.eq(omni_db::now()),
            ))
            .execute(conn)?;
    }
    Ok(())
}

/// Remembers a SKU announced by the catalog, with its tags.
pub fn remember_sku(conn: &mut DbConnection, sku: &Sku, tags: &[String]) -> omni_db::Result<()> {
    let tags = serde_json::to_string(tags).unwrap_or_else(|_| "[]".into());
    if sku_known(conn, sku)? {
        diesel::update(known_skus::table.find(sku.as_str()))
            .set((
                known_skus::tags.eq(tags),
                known_skus::updated_at.eq(omni_db::now()),
            ))
            .execute(conn)?;
    } else {
        diesel::insert_into(known_skus::table)
            .values((
                known_skus::sku.eq(sku.as_str()),
                known_skus::tags.eq(tags),
                known_skus::updated_at.eq(omni_db::now()),
            ))
            .execute(conn)?;
    }
    Ok(())
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
