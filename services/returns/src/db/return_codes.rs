//! Orders' return codes (their SHA-256 only) and the wrong codes tried, by order and by client address: what
//! guessing is limited by. Wrong codes are written in their own transaction (the refused return changes nothing
//! else) and pruned once older than the window they count in.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use omni_contracts::OrderId;
use omni_db::DbConnection;

use super::schema::{order_views, return_code_failures};

/// The digest of the order's return code, if it was issued one.
pub fn digest_of(conn: &mut DbConnection, order: OrderId) -> omni_db::Result<Option<String>> {
    Ok(order_views::table
        .find(order.to_string())
        .select(order_views::return_code_sha256)
        .first::<Option<String>>(conn)
        .optional()?
        .flatten())
}

/// Keeps the digest of the order's new return code.
pub fn keep(conn: &mut DbConnection, order: OrderId, digest: &str) -> omni_db::Result<()> {
    diesel::update(order_views::table.find(order.to_string()))
        .set(order_views::return_code_sha256.eq(digest))
        .execute(conn)?;
    Ok(())
}

/// Records a wrong code tried for `order` from `client`.
pub fn record_failure(conn: &mut DbConnection, order: OrderId, client: &str) -> omni_db::Result<()> {
    diesel::insert_into(return_code_failures::table)
        .values((
            return_code_failures::id.eq(uuid::Uuid::now_v7().to_string()),
            return_code_failures::order_id.eq(order.to_string()),
            return_code_failures::client.eq(client),
            return_code_failures::at.eq(omni_db::now()),
        ))
        .execute(conn)?;
    Ok(())
}

/// Wrong codes tried since `since`: `(for the order, from the client)`.
pub fn failures(
    conn: &mut DbConnection,
    order: OrderId,
    client: &str,
    since: NaiveDateTime,
) -> omni_db::Result<(i64, i64)> {
    let for_order = return_code_failures::table
        .filter(return_code_failures::order_id.eq(order.to_string()))
        .filter(return_code_failures::at.gt(since))
        .count()
        .get_result(conn)?;
    let from_client = return_code_failures::table
        .filter(return_code_failures::client.eq(client))
        .filter(return_code_failures::at.gt(since))
        .count()
        .get_result(conn)?;
    Ok((for_order, from_client))
}

/// Forgets wrong codes from before `before` (at most `limit`); returns how many.
pub fn prune(conn: &mut DbConnection, before: NaiveDateTime, limit: i64) -> omni_db::Result<usize> {
    let old: Vec<String> = return_code_failures::table
        .filter(return_code_failures::at.le(before))
        .select(return_code_failures::id)
        .limit(limit)
        .load(conn)?;
    Ok(
        diesel::delete(return_code_failures::table.filter(return_code_failures::id.eq_any(old)))
            .execute(conn)?,
    )
}
