//! The consumer inbox: one row per (consumer, event id) processed, written in the handler's transaction,
//! so a redelivered event is recognised and skipped.

use diesel::prelude::*;

use crate::schema::omni_inbox;
use crate::{DbConnection, Result};

/// Claims an event for a consumer inside the caller's transaction. `false` means it was processed before
/// and the caller must skip it. A concurrent duplicate makes the transaction fail on the primary key and
/// retry, after which this returns `false`.
pub fn claim(conn: &mut DbConnection, consumer: &str, event_id: &str) -> Result<bool> {
    Ok(claim_many(conn, consumer, &[event_id])?.contains(event_id))
}

/// Claims many events for a consumer inside the caller's transaction, in two statements whatever their number.
/// Returns the ids claimed now (each once, even when `event_ids` repeats one); the others were processed before
/// and the caller must skip them. A concurrent claim of one of them makes the transaction fail on the primary
/// key and retry.
pub fn claim_many(
    conn: &mut DbConnection,
    consumer: &str,
    event_ids: &[&str],
) -> Result<std::collections::HashSet<String>> {
    let seen: std::collections::HashSet<String> = omni_inbox::table
        .filter(omni_inbox::consumer.eq(consumer))
        .filter(omni_inbox::event_id.eq_any(event_ids))
        .select(omni_inbox::event_id)
        .load::<String>(conn)?
        .into_iter()
        .collect();
    let mut fresh = std::collections::HashSet::new();
    let now = crate::now();
    let rows: Vec<_> = event_ids
        .iter()
        .filter(|id| !seen.contains(**id) && fresh.insert((**id).to_owned()))
        .map(|id| {
            (
                omni_inbox::consumer.eq(consumer),
                omni_inbox::event_id.eq(*id),
                omni_inbox::received_at.eq(now),
            )
        })
        .collect();
    match conn {
        // One statement where the backend has multi-row inserts; SQLite (`omni dev`) row by row.
        DbConnection::Pg(pg) if !rows.is_empty() => {
            diesel::insert_into(omni_inbox::table).values(&rows).execute(pg)?;
        }
        DbConnection::Pg(_) => {}
        DbConnection::Sqlite(sqlite) => {
            for row in rows {
                diesel::insert_into(omni_inbox::table)
                    .values(row)
                    .execute(sqlite)?;
            }
        }
    }
    Ok(fresh)
}
