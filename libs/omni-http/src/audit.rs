//! `GET /v1/audit` on every service: its audit log, for auditors, filtered and paged, oldest first. Each service
//! lists [`RULE`] in its authorization table and registers [`list_audit`] through it; the shell provides the
//! database ([`AuditLog`]).

use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use omni_config::Role;
use omni_db::audit::{AuditEntry, Filter};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::authz::{Method, Objects, Rule};
use crate::errors::{ApiError, Code};

/// Reads the service's audit log.
pub const RULE: Rule = Rule::new(Method::Get, "/v1/audit", &[Role::Auditor], Objects::AuditLog);

/// Most entries on one page.
pub const MAX_PAGE: i64 = 500;

/// The service's database, for the audit route.
#[derive(Debug, Clone)]
pub struct AuditLog(pub omni_db::Db);

/// `GET /v1/audit` parameters.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct AuditQuery {
    /// Only entries of this principal (its name).
    pub actor: Option<String>,
    /// Only this action, e.g. `reservation.released`.
    pub action: Option<String>,
    /// Only entries about this object (the subject as recorded, e.g. an order id).
    pub object: Option<String>,
    /// Recorded at or after (RFC 3339).
    pub since: Option<DateTime<Utc>>,
    /// Recorded before (RFC 3339).
    pub until: Option<DateTime<Utc>>,
    /// The `next` of the previous page.
    pub after: Option<String>,
    /// Entries per page, 1 to 500 (default 100).
    pub limit: Option<i64>,
}

/// One entry as the route shows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditView {
    /// Entry id.
    pub id: String,
    /// Who.
    pub actor: String,
    /// What.
    pub action: String,
    /// To what.
    pub object: String,
    /// Detail: `before` and `after` where the action changed something.
    pub detail: serde_json::Value,
    /// When.
    pub recorded_at: DateTime<Utc>,
    /// The request (or, for work a Kafka event caused, `event:<ce_id>`).
    pub request_id: Option<String>,
    /// The trace.
    pub trace_id: Option<String>,
    /// Its place in the hash chain (absent until sealed, a moment after it is written).
    pub seq: Option<i64>,
    /// Its hash in the chain.
    pub hash: Option<String>,
}

impl From<AuditEntry> for AuditView {
    fn from(e: AuditEntry) -> Self {
        Self {
            detail: serde_json::from_str(&e.detail).unwrap_or(serde_json::Value::String(e.detail)),
            id: e.id,
            actor: e.principal,
            action: e.action,
            object: e.subject,
            recorded_at: e.recorded_at.and_utc(),
            request_id: e.request_id,
            trace_id: e.trace_id,
            seq: e.seq,
            hash: e.hash,
        }
    }
}

/// A page of entries.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditPage {
    /// Oldest first.
    pub entries: Vec<AuditView>,
    /// Pass as `after` for the next page; absent on the last.
    pub next: Option<String>,
}

/// Lists the service's audit entries matching the filters, oldest first, a page at a time.
#[utoipa::path(
    get, path = "/v1/audit", params(AuditQuery),
    responses(
        (status = 200, description = "A page of entries", body = AuditPage),
        (status = 400, description = "A filter is malformed", body = crate::errors::ErrorBody),
        (status = 403, description = "Not an auditor", body = crate::errors::ErrorBody),
    ),
    security(("api_key" = []))
)]
pub async fn list_audit(
    log: web::Data<AuditLog>,
    query: web::Query<AuditQuery>,
) -> Result<HttpResponse, ApiError> {
    let query = query.into_inner();
    let limit = query.limit.unwrap_or(100);
    if !(1..=MAX_PAGE).contains(&limit) {
        return Err(ApiError::new(
            Code::InvalidQuery,
            format!("limit: 1 to {MAX_PAGE}"),
        ));
    }
    let filter = Filter {
        actor: query.actor,
        action: query.action,
        object: query.object,
        since: query.since.map(|t| t.naive_utc()),
        until: query.until.map(|t| t.naive_utc()),
        after: query.after,
    };
    let entries = log
        .0
        .run(move |conn| omni_db::audit::page(conn, &filter, limit + 1))
        .await?;
    let more = entries.len() > usize::try_from(limit).unwrap_or(usize::MAX);
    let mut entries: Vec<AuditView> = entries.into_iter().map(AuditView::from).collect();
    entries.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
    let next = more.then(|| entries.last().map(|e| e.id.clone())).flatten();
    Ok(HttpResponse::Ok().json(AuditPage { entries, next }))
}

/// The audit route's part of a service's OpenAPI document.
#[derive(utoipa::OpenApi)]
#[openapi(paths(list_audit), components(schemas(AuditPage, AuditView)))]
pub struct AuditApi;
