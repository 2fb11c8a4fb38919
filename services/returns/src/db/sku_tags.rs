//! The catalog's tags per SKU, for the return policy's final-sale items.

use diesel::prelude::*;
use omni_contracts::Sku;
use omni_db::DbConnection;

use super::schema::sku_tags;

/// Keeps a SKU's tags (the catalog's latest).
pub fn upsert(conn: &mut DbConnection, sku: &Sku, tags: &[String]) -> omni_db::Result<()> {
    let tags = serde_json::to_string(tags).unwrap_or_else(|_| "[]".to_owned());
    diesel::delete(sku_tags::table.find(sku.as_str())).execute(conn)?;
    diesel::insert_into(sku_tags::table)
        .values((sku_tags::sku.eq(sku.as_str()), sku_tags::tags.eq(tags)))
        .execute(conn)?;
    Ok(())
}

/// The tags of `sku` (none when the catalog never named it).
pub fn of(conn: &mut DbConnection, sku: &Sku) -> omni_db::Result<Vec<String>> {
    let tags: Option<String> = sku_tags::table
        .find(sku.as_str())
        .select(sku_tags::tags)
        .first(conn)
        .optional()?;
    Ok(tags
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or_default())
}

/// Whether the catalog named `sku` (as far as returns has read it).
pub fn is_known(conn: &mut DbConnection, sku: &Sku) -> omni_db::Result<bool> {
    let found: Option<String> = sku_tags::table
        .find(sku.as_str())
        .select(sku_tags::sku)
        .first(conn)
        .optional()?;
    Ok(found.is_some())
}
