//! The actix-web server: common middleware, extractor configuration and the operational endpoints.

use std::future::Future;
use std::net::TcpListener;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix_web::body::MessageBody;
use actix_web::dev::{Server, ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::{Next, from_fn};
use actix_web::{App, HttpResponse, HttpServer, web};
use omni_telemetry::Metrics;
use tracing::Instrument;

use crate::auth::ApiKeys;
use crate::authz::Table;
use crate::errors::{ApiError, Code};

/// Why a dependency is not usable, as `/health/ready` shows it to a caller with a key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Unready(String);

impl Unready {
    /// A dependency failed its check, for this reason.
    pub fn because(reason: impl std::fmt::Display) -> Self {
        Self(reason.to_string())
    }
}

/// An async check that resolves to `Err` when a dependency is not usable.
pub type CheckFn = Arc<dyn Fn() -> Pin<Box<dyn Future<Output = Result<(), Unready>> + Send>> + Send + Sync>;

/// A named dependency check for `/health/ready`.
#[derive(Clone)]
pub struct ReadinessCheck {
    /// Shown in the readiness answer, e.g. `database`.
    pub name: &'static str,
    /// The check.
    pub check: CheckFn,
}

impl ReadinessCheck {
    /// Wraps an async check.
    pub fn new<F, Fut>(name: &'static str, f: F) -> Self
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), Unready>> + Send + 'static,
    {
        Self {
            name,
            check: Arc::new(move || Box::pin(f())),
        }
    }
}

/// What the common part of every service's app needs.
#[derive(Clone)]
pub struct Shell {
    /// The service's name.
    pub service: &'static str,
    /// Its registry.
    pub metrics: Metrics,
    /// Accepted API keys.
    pub keys: ApiKeys,
    /// The service's authorization table.
    pub table: Table,
    /// Its database, for the audit route.
    pub audit: crate::audit::AuditLog,
    /// Largest body.
    pub body_limit: usize,
    /// The service's OpenAPI document.
    pub openapi: Arc<utoipa::openapi::OpenApi>,
    /// Checks behind `/health/ready`.
    pub readiness: Vec<ReadinessCheck>,
    /// The last readiness answer and when it was taken: probes within [`READINESS_REUSE`] share it, and only one
    /// runs the checks at a time, so callers (who need no key) cannot multiply the load on the dependencies.
    pub last_readiness: Arc<tokio::sync::Mutex<Option<(Instant, Readiness)>>>,
}

/// How long one readiness answer is reused.
pub const READINESS_REUSE: Duration = Duration::from_secs(1);

/// The outcome of every readiness check: `(name, "ok" or the reason)`.
#[derive(Debug, Clone)]
pub struct Readiness(Vec<(&'static str, Result<(), Unready>)>);

/// Starts the HTTP server on `listener`. Signals are left to the caller (`omni_runtime::ServiceContext`), which stops
/// the server gracefully on shutdown.
pub fn start<F>(shell: Shell, listener: TcpListener, grace: Duration, configure: F) -> std::io::Result<Server>
where
    F: Fn(&mut web::ServiceConfig) + Send + Clone + 'static,
{
    let server = HttpServer::new(move || {
        let shell = shell.clone();
        let body_limit = shell.body_limit;
        App::new()
            .app_data(web::Data::new(shell.keys.clone()))
            .app_data(web::Data::new(shell.clone()))
            .app_data(web::PayloadConfig::new(body_limit))
            .app_data(
                web::JsonConfig::default()
                    .limit(body_limit)
                    .error_handler(|err, _| json_error(err).into()),
            )
            .app_data(
                web::QueryConfig::default()
                    .error_handler(|err, _| ApiError::new(Code::InvalidQuery, err.to_string()).into()),
            )
            .app_data(
                web::PathConfig::default()
                    .error_handler(|err, _| ApiError::new(Code::InvalidPath, err.to_string()).into()),
            )
            .app_data(web::Data::new(shell.table))
            .app_data(web::Data::new(shell.audit.clone()))
            .wrap(from_fn(crate::authz::enforce))
            .wrap(from_fn(observe))
            .route("/health/live", web::get().to(live))
            .route("/health/ready", web::get().to(ready))
            .route("/metrics", web::get().to(metrics))
            .route("/openapi.json", web::get().to(openapi))
            .configure(|cfg| crate::audit::RULE.register(cfg, crate::audit::list_audit))
            .configure(configure.clone())
            .default_service(web::to(route_not_found))
    })
    .workers(2)
    .disable_signals()
    .shutdown_timeout(grace.as_secs().max(1))
    .listen(listener)?
    .run();
    Ok(server)
}

fn json_error(err: actix_web::error::JsonPayloadError) -> ApiError {
    use actix_web::error::JsonPayloadError as E;
    match err {
        E::OverflowKnownLength { length, limit } => ApiError::new(
            Code::PayloadTooLarge,
            format!("body of {length} bytes exceeds the limit of {limit} bytes"),
        ),
        E::Overflow { limit } => ApiError::new(
            Code::PayloadTooLarge,
            format!("body exceeds the limit of {limit} bytes"),
        ),
        E::ContentType => ApiError::new(
            Code::UnsupportedMediaType,
            "send the body as `Content-Type: application/json`",
        ),
        E::Deserialize(e) => ApiError::new(Code::InvalidBody, e.to_string()),
        other => ApiError::new(Code::InvalidBody, other.to_string()),
    }
}

async fn route_not_found(req: actix_web::HttpRequest) -> Result<HttpResponse, ApiError> {
    Err(ApiError::new(
        Code::RouteNotFound,
        format!("no route for {} {}", req.method(), req.path()),
    ))
}

/// The method as a metric label: one of the methods Omni serves, or `other` (so an unauthenticated caller
/// inventing methods cannot add series).
fn method_label(method: &actix_web::http::Method) -> &'static str {
    use actix_web::http::Method as M;
    match *method {
        M::GET => "GET",
        M::POST => "POST",
        M::PUT => "PUT",
        M::DELETE => "DELETE",
        M::PATCH => "PATCH",
        M::HEAD => "HEAD",
        M::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

/// Request id, span, metrics for every request.
async fn observe(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody + 'static>, actix_web::Error> {
    let request_id = req
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty() && v.len() <= 128 && v.chars().all(|c| c.is_ascii_graphic()))
        // Request ids are logged and audited: one that looks like a card number is replaced.
        .filter(|v| !omni_contracts::card_data::holds_card_number(v.as_bytes()))
        .map_or_else(|| uuid::Uuid::new_v4().to_string(), str::to_owned);
    let method = method_label(req.method());
    let service = req
        .app_data::<web::Data<Shell>>()
        .map_or("unknown", |shell| shell.service);
    let span = tracing::info_span!(
        "http.request",
        otel.kind = "server",
        omni.service = service,
        http.request.method = %method,
        url.path = %omni_contracts::card_data::mask_text(req.path()),
        request_id = %request_id,
        http.response.status_code = tracing::field::Empty,
    );
    let shell = req.app_data::<web::Data<Shell>>().cloned();
    let started = Instant::now();
    // Audit entries written while handling name this request and its trace.
    let audit = omni_db::audit::Context {
        request_id: Some(request_id.clone()),
        trace_id: span.in_scope(omni_kafka::trace::current_trace_id_if_any),
    };
    let mut res = omni_db::audit::CONTEXT
        .scope(audit, next.call(req).instrument(span.clone()))
        .await?;
    let status = res.status();
    span.record("http.response.status_code", status.as_u16());
    if let Ok(value) = HeaderValue::from_str(&request_id) {
        res.headers_mut()
            .insert(HeaderName::from_static("x-request-id"), value);
    }
    if let Some(shell) = shell {
        let route = res
            .request()
            .match_pattern()
            .unwrap_or_else(|| "unmatched".to_owned());
        shell
            .metrics
            .http_requests
            .with_label_values(&[&route, method, status.as_str()])
            .inc();
        shell
            .metrics
            .http_duration
            .with_label_values(&[&route, method])
            .observe(started.elapsed().as_secs_f64());
    }
    Ok(res)
}

async fn live() -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({ "status": "live" }))
}

/// `/health/ready`: up or down for anyone; which dependency failed, and why, only for a caller with a valid key.
async fn ready(shell: web::Data<Shell>, req: actix_web::HttpRequest) -> HttpResponse {
    let readiness = {
        let mut last = shell.last_readiness.lock().await;
        match last.as_ref() {
            Some((at, answer)) if at.elapsed() < READINESS_REUSE => answer.clone(),
            _ => {
                let answer = check_readiness(&shell.readiness).await;
                *last = Some((Instant::now(), answer.clone()));
                answer
            }
        }
    };
    let all_ok = readiness.0.iter().all(|(_, r)| r.is_ok());
    let status = if all_ok { "ready" } else { "not_ready" };
    let answer = if crate::auth::authenticate(&req).is_ok() {
        let checks: serde_json::Map<String, serde_json::Value> = readiness
            .0
            .into_iter()
            .map(|(name, r)| {
                (
                    name.to_owned(),
                    serde_json::Value::String(r.err().map_or_else(|| "ok".to_owned(), |e| e.to_string())),
                )
            })
            .collect();
        serde_json::json!({ "status": status, "checks": checks })
    } else {
        serde_json::json!({ "status": status })
    };
    if all_ok {
        HttpResponse::Ok().json(answer)
    } else {
        HttpResponse::ServiceUnavailable().json(answer)
    }
}

async fn check_readiness(checks: &[ReadinessCheck]) -> Readiness {
    let checks = checks.iter().map(|c| async move {
        let outcome = tokio::time::timeout(Duration::from_secs(3), (c.check)())
            .await
            .unwrap_or_else(|_| Err(Unready::because("timed out after 3 s")));
        (c.name, outcome)
    });
    Readiness(futures::future::join_all(checks).await)
}

async fn metrics(shell: web::Data<Shell>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4")
        .body(shell.metrics.render())
}

async fn openapi(shell: web::Data<Shell>) -> HttpResponse {
    HttpResponse::Ok().json(shell.openapi.as_ref())
}
