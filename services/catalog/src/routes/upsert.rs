//! What creating or changing a location or a SKU have in common: check, upsert, audit and announce in one
//! transaction, and answer 201 for new, 200 for changed or unchanged.

use actix_web::HttpResponse;
use omni_contracts::Envelope;
use omni_contracts::events::CatalogEvent;
use omni_db::DbConnection;
use omni_http::{ApiError, Code, Principal};
use serde::Serialize;

use crate::State;
use crate::db::Upsert;

/// How one kind of catalog record is checked, stored and announced.
pub struct RecordKind<T> {
    /// Audit action, e.g. `catalog.location.upserted`.
    pub action: &'static str,
    /// Business checks beyond the wire types.
    pub check: fn(&T) -> Result<(), String>,
    /// Inserts or updates the record.
    pub store: fn(&mut DbConnection, &T) -> omni_db::Result<Upsert>,
    /// The record's id, for the audit entry.
    pub subject: fn(&T) -> String,
    /// The event announcing it.
    pub event: fn(T) -> CatalogEvent,
}

/// Upserts `record` as a manager or admin.
pub async fn upsert<T>(
    state: &State,
    principal: Principal,
    record: T,
    kind: RecordKind<T>,
) -> Result<HttpResponse, ApiError>
where
    T: Clone + Serialize + Send + 'static,
{
    (kind.check)(&record).map_err(|reason| ApiError::new(Code::InvalidBody, reason))?;
    let stored = record.clone();
    let outcome = state
        .db
        .transaction(move |conn| -> Result<Upsert, ApiError> {
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
    Ok(match outcome {
        Upsert::Created => HttpResponse::Created().json(record),
        Upsert::Updated | Upsert::Unchanged => HttpResponse::Ok().json(record),
    })
}
