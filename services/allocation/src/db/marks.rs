//! Availability marks: the SKUs whose availability changed since it was last published. Writers insert a mark in
//! the transaction that changed stock or holds; the publisher takes marks, publishes each SKU once, and deletes
//! exactly the marks it read (a mark written meanwhile waits for the next round).

use diesel::prelude::*;
use omni_contracts::Sku;
use omni_db::DbConnection;

use super::schema::availability_marks;

/// Notes, in the caller's transaction, that the availability of `sku` changed.
pub fn mark(conn: &mut DbConnection, sku: &Sku) -> omni_db::Result<()> {
    diesel::insert_into(availability_marks::table)
        .values((
            availability_marks::id.eq(uuid::Uuid::new_v4().to_string()),
            availability_marks::sku.eq(sku.as_str()),
        ))
        .execute(conn)?;
    Ok(())
}

/// Up to `limit` marks, as `(id, sku)`.
pub fn take(conn: &mut DbConnection, limit: i64) -> omni_db::Result<Vec<(String, String)>> {
    Ok(availability_marks::table
        .select((availability_marks::id, availability_marks::sku))
        .limit(limit)
        .load(conn)?)
}

/// Deletes the marks with these ids.
pub fn clear(conn: &mut DbConnection, ids: &[String]) -> omni_db::Result<usize> {
    Ok(diesel::delete(availability_marks::table.filter(availability_marks::id.eq_any(ids))).execute(conn)?)
}
