use diesel::prelude::*;
use omni_db::DbConnection;

use super::schema::idempotency_keys;

/// `(request hash, order id)` stored under a principal's key.
pub fn find(
    conn: &mut DbConnection,
    principal: &str,
    key: &str,
) -> omni_db::Result<Option<(String, String)>> {
    Ok(idempotency_keys::table
        .filter(idempotency_keys::principal.eq(principal))
        .filter(idempotency_keys::idempotency_key.eq(key))
        .select((idempotency_keys::request_hash, idempotency_keys::order_id))
        .first(conn)
        .optional()?)
}

/// Remembers a key's request and answer.
pub fn insert(
    conn: &mut DbConnection,
    principal: &str,
    key: &str,
    hash: &str,
    order_id: &str,
) -> omni_db::Result<()> {
    diesel::insert_into(idempotency_keys::table)
        .values((
            idempotency_keys::principal.eq(principal),
            idempotency_keys::idempotency_key.eq(key),
            idempotency_keys::request_hash.eq(hash),
            idempotency_keys::order_id.eq(order_id),
            idempotency_keys::created_at.eq(omni_db::now()),
        ))
        .execute(conn)?;
    Ok(())
}
