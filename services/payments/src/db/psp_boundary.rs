//! What payments keeps of the PSP boundary: batches announced, and webhooks taken (in the caller's transaction).

use diesel::prelude::*;
use omni_contracts::PaymentIntentId;
use omni_db::DbConnection;

use super::schema::{payment_batches, psp_webhooks};
use crate::error::Result;

/// Claims the announcement of batch `name` of `intent`: `true` the first time, `false` after.
pub fn claim_batch(conn: &mut DbConnection, intent: PaymentIntentId, name: &str) -> Result<bool> {
    let known: i64 = payment_batches::table
        .find((intent.to_string(), name))
        .count()
        .get_result(conn)?;
    if known > 0 {
        return Ok(false);
    }
    diesel::insert_into(payment_batches::table)
        .values((
            payment_batches::intent_id.eq(intent.to_string()),
            payment_batches::name.eq(name),
            payment_batches::announced_at.eq(omni_db::now()),
        ))
        .execute(conn)?;
    Ok(true)
}

/// Takes a webhook by the PSP's event id: `true` the first time, `false` when it was taken before.
pub fn take_webhook(
    conn: &mut DbConnection,
    id: &str,
    psp: &str,
    kind: &str,
    operation_id: &str,
) -> Result<bool> {
    let known: i64 = psp_webhooks::table.find(id).count().get_result(conn)?;
    if known > 0 {
        return Ok(false);
    }
    diesel::insert_into(psp_webhooks::table)
        .values((
            psp_webhooks::id.eq(id),
            psp_webhooks::psp.eq(psp),
            psp_webhooks::kind.eq(kind),
            psp_webhooks::operation_id.eq(operation_id),
            psp_webhooks::received_at.eq(omni_db::now()),
        ))
        .execute(conn)?;
    Ok(true)
}
