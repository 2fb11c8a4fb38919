//! What creating or changing a location or a SKU have in common: check, upsert, audit and announce in one
//! transaction.

use omni_contracts::Envelope;
use omni_contracts::events::CatalogEvent;
use omni_db::DbConnection;
use omni_http::Principal;
use serde::Serialize;

use super::State;
use crate::db::Upsert;
use crate::error::Error;

/// How one kind of catalog record is checked, stored and announced.
pub struct RecordKind<T> {
    /// Audit action, e.g. `catalog.location.upserted`.
    pub action: &'static str,
    /// Business checks beyond the wire types.
    pub check: fn(&T) -> Result<(), crate::domain::Invalid>,
    /// Inserts or updates the record.
    pub store: fn(&mut DbConnection, &T) -> omni_db::Result<Upsert>,
    /// The record's id, for the audit entry.
    pub subject: fn(&T) -> String,
    /// The event announcing it.
    pub event: fn(T) -> CatalogEvent,
}

/// Upserts `record` for `principal` (audited when it changed anything); returns whether it was new, changed or
/// the same again.
pub async fn upsert<T>(
    state: &State,
    principal: Principal,
    record: T,
    kind: RecordKind<T>,
) -> Result<Upsert, Error>
where
    T: Clone + Serialize + Send + 'static,
{
    (kind.check)(&record)?;
    let stored = record;
    let outcome = state
        .db
        .transaction(move |conn| -> Result<Upsert, Error> {
            let outcome = (kind.store)(conn, &stored)?;
            if outcome != Upsert::Unchanged {
                let after = serde_json::to_value(&stored).unwrap_or(serde_json::Value::Null);
                let detail = serde_json::json!({ "outcome": format!("{outcome:?}"), "after": after });
                omni_db::audit::record(
                    conn,
                    &principal.name,
                    kind.action,
                    &(kind.subject)(&stored),
                    &detail,
                )?;
                omni_kafka::outbox::enqueue(conn, &Envelope::new("catalog", (kind.event)(stored)))?;
            }
            Ok(outcome)
        })
        .await?;
    state.relay.notify_one();
    Ok(outcome)
}
