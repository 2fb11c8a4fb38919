//! The audit log: who did which privileged action to what, written in the action's own transaction, and sealed
//! into a hash chain that [`verify`] walks.
//!
//! Writers only insert (no lock, no read): [`record`] stores the entry with the request and trace that caused it
//! ([`Context`]). A sealer ([`seal`], run by every service a few times a second) then takes the unsealed entries
//! in the order they were recorded and gives each the next sequence number, the previous entry's hash and its own:
//! SHA-256 over the previous hash and every field as stored. An entry deleted or edited after it was sealed
//! breaks the chain at that point, and [`verify`] names the first broken link. One sealer at a time per schema
//! (a transaction-scoped advisory lock on PostgreSQL; SQLite has one writer).

use diesel::prelude::*;
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::schema::omni_audit_log;
use crate::{DbConnection, Result};

/// The hash the first entry of a chain links to.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// One audit entry.
#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, Serialize)]
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
    /// JSON detail (never secrets or card data); `before` and `after` where the action changed something.
    pub detail: String,
    /// When.
    pub recorded_at: chrono::NaiveDateTime,
    /// The HTTP request that caused it (`x-request-id`), if one did.
    pub request_id: Option<String>,
    /// The trace it belongs to (W3C trace id), if one was recording.
    pub trace_id: Option<String>,
    /// Its place in the chain, once sealed.
    pub seq: Option<i64>,
    /// The hash of the entry before it in the chain, once sealed.
    pub prev_hash: Option<String>,
    /// Its own hash, once sealed.
    pub hash: Option<String>,
}

impl AuditEntry {
    /// The hash of this entry after `prev_hash` at `seq`: SHA-256 over a JSON array of the link and every field.
    pub fn chained_hash(&self, seq: i64, prev_hash: &str) -> String {
        let recorded_at = self.recorded_at.format("%Y-%m-%dT%H:%M:%S%.6f").to_string();
        let fields = serde_json::json!([
            prev_hash,
            seq,
            self.id,
            self.principal,
            self.action,
            self.subject,
            self.detail,
            recorded_at,
            self.request_id,
            self.trace_id,
        ]);
        hex::encode(Sha256::digest(fields.to_string().as_bytes()))
    }
}

/// What caused the work in progress: the HTTP request and the trace. Set by the HTTP shell and the Kafka
/// consumers around a task; [`crate::Db::run`] carries it onto the blocking thread, where [`record`] reads it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Context {
    /// The request id (`x-request-id`).
    pub request_id: Option<String>,
    /// The W3C trace id.
    pub trace_id: Option<String>,
}

tokio::task_local! {
    /// The context of the current task (see [`Context`]).
    pub static CONTEXT: Context;
}

thread_local! {
    static ON_THIS_THREAD: std::cell::RefCell<Option<Context>> = const { std::cell::RefCell::new(None) };
}

/// The current task's context, to carry onto a blocking thread.
pub(crate) fn current() -> Option<Context> {
    CONTEXT.try_with(Context::clone).ok()
}

/// Runs `f` on this thread with `context` as the audit context.
pub(crate) fn with_context<T>(context: Option<Context>, f: impl FnOnce() -> T) -> T {
    let before = ON_THIS_THREAD.with(|c| c.replace(context));
    let out = f();
    ON_THIS_THREAD.with(|c| *c.borrow_mut() = before);
    out
}

fn context_here() -> Context {
    ON_THIS_THREAD
        .with(|c| c.borrow().clone())
        .or_else(current)
        .unwrap_or_default()
}

/// Records an action in the caller's transaction, with the request and trace that caused it.
pub fn record(
    conn: &mut DbConnection,
    principal: &str,
    action: &str,
    subject: &str,
    detail: &serde_json::Value,
) -> Result<()> {
    let context = context_here();
    diesel::insert_into(omni_audit_log::table)
        .values((
            omni_audit_log::id.eq(uuid::Uuid::now_v7().to_string()),
            omni_audit_log::principal.eq(principal),
            omni_audit_log::action.eq(action),
            omni_audit_log::subject.eq(subject),
            omni_audit_log::detail.eq(detail.to_string()),
            omni_audit_log::recorded_at.eq(crate::now()),
            omni_audit_log::request_id.eq(context.request_id),
            omni_audit_log::trace_id.eq(context.trace_id),
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

/// Which entries to list (every field optional).
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// The principal.
    pub actor: Option<String>,
    /// The action, exactly.
    pub action: Option<String>,
    /// The subject, exactly.
    pub object: Option<String>,
    /// Recorded at or after.
    pub since: Option<chrono::NaiveDateTime>,
    /// Recorded before.
    pub until: Option<chrono::NaiveDateTime>,
    /// Entries after this id (the last of the previous page), oldest first.
    pub after: Option<String>,
}

/// One page of entries matching `filter`, oldest first.
pub fn page(conn: &mut DbConnection, filter: &Filter, limit: i64) -> Result<Vec<AuditEntry>> {
    let mut query = omni_audit_log::table.into_boxed();
    if let Some(actor) = &filter.actor {
        query = query.filter(omni_audit_log::principal.eq(actor.clone()));
    }
    if let Some(action) = &filter.action {
        query = query.filter(omni_audit_log::action.eq(action.clone()));
    }
    if let Some(object) = &filter.object {
        query = query.filter(omni_audit_log::subject.eq(object.clone()));
    }
    if let Some(since) = filter.since {
        query = query.filter(omni_audit_log::recorded_at.ge(since));
    }
    if let Some(until) = filter.until {
        query = query.filter(omni_audit_log::recorded_at.lt(until));
    }
    if let Some(after) = &filter.after {
        query = query.filter(omni_audit_log::id.gt(after.clone()));
    }
    Ok(query
        .order(omni_audit_log::id.asc())
        .limit(limit)
        .select(AuditEntry::as_select())
        .load(conn)?)
}

/// Seals up to `limit` unsealed entries onto the chain in one transaction, oldest first; returns how many. Does
/// nothing while another sealer holds the schema's lock.
pub fn seal(conn: &mut DbConnection, limit: i64) -> Result<usize> {
    conn.transaction(|conn| {
        if let DbConnection::Pg(pg) = conn {
            #[derive(QueryableByName)]
            struct Locked {
                #[diesel(sql_type = diesel::sql_types::Bool)]
                locked: bool,
            }
            let lock: Locked = diesel::sql_query(
                "SELECT pg_try_advisory_xact_lock(hashtext(current_schema() || '.omni_audit_seal')) AS locked",
            )
            .get_result(pg)?;
            if !lock.locked {
                return Ok(0);
            }
        }
        let last: Option<(Option<i64>, Option<String>)> = omni_audit_log::table
            .filter(omni_audit_log::seq.is_not_null())
            .order(omni_audit_log::seq.desc())
            .select((omni_audit_log::seq, omni_audit_log::hash))
            .first(conn)
            .optional()?;
        let (mut seq, mut prev) = match last {
            Some((Some(seq), Some(hash))) => (seq, hash),
            _ => (0, GENESIS.to_owned()),
        };
        let unsealed: Vec<AuditEntry> = omni_audit_log::table
            .filter(omni_audit_log::seq.is_null())
            .order((omni_audit_log::recorded_at.asc(), omni_audit_log::id.asc()))
            .limit(limit)
            .select(AuditEntry::as_select())
            .load(conn)?;
        for entry in &unsealed {
            seq += 1;
            let hash = entry.chained_hash(seq, &prev);
            diesel::update(omni_audit_log::table.find(&entry.id))
                .set((
                    omni_audit_log::seq.eq(seq),
                    omni_audit_log::prev_hash.eq(&prev),
                    omni_audit_log::hash.eq(&hash),
                ))
                .execute(conn)?;
            prev = hash;
        }
        Ok(unsealed.len())
    })
}

/// What walking the chain found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verification {
    /// Every sealed entry links to the one before and hashes as sealed.
    Intact {
        /// Sealed entries.
        sealed: i64,
        /// Entries not sealed yet (recorded in the last moments, or no sealer is running).
        unsealed: i64,
    },
    /// The first link that does not hold.
    Broken {
        /// The sequence number where the chain breaks.
        seq: i64,
        /// The entry found there, if any (none: an entry was deleted).
        id: Option<String>,
        /// What is wrong.
        reason: String,
    },
}

/// Walks the whole chain in sequence order, `page` entries at a time, and names the first broken link.
pub fn verify(conn: &mut DbConnection, page: i64) -> Result<Verification> {
    let mut expected_seq = 1_i64;
    let mut prev = GENESIS.to_owned();
    loop {
        let entries: Vec<AuditEntry> = omni_audit_log::table
            .filter(omni_audit_log::seq.ge(expected_seq))
            .order(omni_audit_log::seq.asc())
            .limit(page.max(1))
            .select(AuditEntry::as_select())
            .load(conn)?;
        if entries.is_empty() {
            break;
        }
        for entry in entries {
            let seq = entry.seq.unwrap_or_default();
            let broken = |reason: String| Verification::Broken {
                seq: expected_seq,
                id: (seq == expected_seq).then(|| entry.id.clone()),
                reason,
            };
            if seq != expected_seq {
                return Ok(broken(format!(
                    "entry {expected_seq} is missing (the next one is {seq}): deleted"
                )));
            }
            if entry.prev_hash.as_deref() != Some(prev.as_str()) {
                return Ok(broken(
                    "it does not link to the entry before it (that one was edited or replaced)".into(),
                ));
            }
            if entry.hash.as_deref() != Some(entry.chained_hash(seq, &prev).as_str()) {
                return Ok(broken("its fields do not hash as sealed: edited".into()));
            }
            prev = entry.hash.clone().unwrap_or_default();
            expected_seq += 1;
        }
    }
    let unsealed: i64 = omni_audit_log::table
        .filter(omni_audit_log::seq.is_null())
        .count()
        .get_result(conn)?;
    Ok(Verification::Intact {
        sealed: expected_seq - 1,
        unsealed,
    })
}

/// The hash of the last sealed entry (the chain's head), if any.
pub fn head(conn: &mut DbConnection) -> Result<Option<String>> {
    Ok(omni_audit_log::table
        .filter(omni_audit_log::seq.is_not_null())
        .order(omni_audit_log::seq.desc())
        .select(omni_audit_log::hash)
        .first::<Option<String>>(conn)
        .optional()?
        .flatten())
}
