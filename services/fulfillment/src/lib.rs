//! The fulfillment service: routes each order to the best node with an explanation, and releases it to the
//! node once paid.

pub mod db;
pub mod domain;
pub mod events;
pub mod routes;

use std::sync::Arc;

use diesel_migrations::{EmbeddedMigrations, embed_migrations};
use omni_contracts::Topic;
use omni_db::Db;
use omni_http::{ServiceContext, ServiceParts};
use omni_kafka::consumer::stateful;
use tokio::sync::Notify;
use utoipa::OpenApi;

/// The service's own migrations.
pub const MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations");

/// Shared state of handlers and consumers.
#[derive(Clone)]
pub struct State {
    /// The fulfillment database.
    pub db: Db,
    /// Wakes the outbox relay.
    pub relay: Arc<Notify>,
    /// `omni_availability_lag_seconds`: from allocation computing a SKU's availability (in the transaction of
    /// the movement or hold that changed it) to routing seeing it.
    pub availability_lag: prometheus::Histogram,
}

/// The OpenAPI document, generated from the handlers.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Omni fulfillment",
        description = "Routing decisions and fulfillments."
    ),
    paths(
        routes::fulfillments::list::list_fulfillments,
        routes::fulfillments::complete::complete_fulfillment,
        routes::stock::get::get_stock
    ),
    components(schemas(omni_http::errors::ErrorBody))
)]
pub struct ApiDoc;

/// Runs fulfillment until its shutdown token is cancelled.
pub async fn run(ctx: ServiceContext) -> omni_http::Result<()> {
    let relay = ctx.outbox_relay();
    let availability_lag = prometheus::Histogram::with_opts(
        prometheus::HistogramOpts::new(
            "availability_lag_seconds",
            "From a stock change in allocation to routing seeing the new availability",
        )
        .buckets(omni_telemetry::metrics::LATENCY_BUCKETS.to_vec()),
    )
    .map_err(|e| omni_http::Error::Startup(e.to_string()))?;
    ctx.metrics
        .registry
        .register(Box::new(availability_lag.clone()))
        .map_err(|e| omni_http::Error::Startup(e.to_string()))?;
    let state = State {
        db: ctx.db.clone(),
        relay: relay.waker(),
        availability_lag,
    };
    let consumers = vec![
        (
            ctx.consumer("network", vec![Topic::Catalog, Topic::Availability]),
            stateful(state.clone(), events::network::handle),
        ),
        (
            ctx.consumer("orders", vec![Topic::Orders]),
            stateful(state.clone(), events::orders::handle),
        ),
    ];
    ctx.run(ServiceParts {
        openapi: ApiDoc::openapi(),
        configure: move |cfg: &mut actix_web::web::ServiceConfig| routes::configure(cfg, state.clone()),
        consumers,
        relay,
        readiness: vec![],
        background: vec![],
    })
    .await
}
