//! The audit log: who did which privileged action to what, written in the action's own transaction.

use diesel::prelude::*;

use crate::schema::omni_audit_log;
use crate::{DbConnection, Result};

/// One audit entry.
#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable)]
#[diesel(table_name = omni_audit_log)]
pub struct AuditEntry {
    /// Entry id (UUIDv7).
    pub id: String,
    /// The principal's name.
    pub principal: String,
    /// What was done, e.g. `inventory.movement.recorded`.
    pub action: String,
    /// What it was done to, e.g. a SKU at a location.
    pub subject: String,
    /// JSON detail (never secrets or card data).
    pub detail: String,
    /// When.
    pub recorded_at: chrono::NaiveDateTime,
}

/// Records an action in the caller's transaction.
pub fn record(
    conn: &mut DbConnection,
    principal: &str,
    action: &str,
    subject: &str,
    detail: &serde_json::Value,
) -> Result<()> {
    diesel::insert_into(omni_audit_log::table)
        .values((
            omni_audit_log::id.eq(uuid::Uuid::now_v7().to_string()),
            omni_audit_log::principal.eq(principal),
            omni_audit_log::action.eq(action),
            omni_audit_log::subject.eq(subject),
            omni_audit_log::detail.eq(detail.to_string()),
            omni_audit_log::recorded_at.eq(crate::now()),
        ))
        .execute(conn)?;
    Ok(())
}

/// The newest entries first.
pub fn recent(conn: &mut DbConnection, limit: i64) -> Result<Vec<AuditEntry>> {
    Ok(omni_audit_log::table
        .order(omni_audit_log::id.desc())
        .limit(limit)
        .select(AuditEntry::as_select())
        .load(conn)?)
}
