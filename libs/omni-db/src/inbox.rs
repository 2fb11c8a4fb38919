//! The consumer inbox: one row per (consumer, event id) processed, written in the handler's transaction,
//! so a redelivered event is recognised and skipped.

use diesel::prelude::*;

use crate::schema::omni_inbox;
use crate::{DbConnection, Result};

/// Claims an event for a consumer inside the caller's transaction. `false` means it was processed before
/// and the caller must skip it. A concurrent duplicate makes the transaction fail on the primary key and
/// retry, after which this returns `false`.
pub fn claim(conn: &mut DbConnection, consumer: &str, event_id: &str) -> Result<bool> {
    let seen: i64 = omni_inbox::table
        .filter(omni_inbox::consumer.eq(consumer))
        .filter(omni_inbox::event_id.eq(event_id))
        .count()
        .get_result(conn)?;
    if seen > 0 {
        return Ok(false);
    }
    diesel::insert_into(omni_inbox::table)
        .values((
            omni_inbox::consumer.eq(consumer),
            omni_inbox::event_id.eq(event_id),
            omni_inbox::received_at.eq(crate::now()),
        ))
        .execute(conn)?;
    Ok(true)
}
