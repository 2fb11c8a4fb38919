//! The returns service (DESIGN §7): returns at any store or by mail, checked against the policy each order was
//! placed under and what it can still return, graded per unit at the receiving store, restocked there at once, and
//! refunded to the original tenders through payments.
//!
//! Start reading at [`app::returns`] (opening a return, receiving its units), [`app::lifecycle`] (a manager's
//! decision, a withdrawal, an expiry) and [`app::customer`] (customers with their return code), then `domain::policy`,
//! `domain::returnable` and `domain::refund` (the rules, pure), and [`app::read_model`] (what returns learns of
//! orders, deliveries and SKU tags from the other services' events). This file wires them: [`run`].

pub mod app;
pub mod db;
pub mod domain;
pub mod error;
pub mod events;
pub mod metrics;
pub mod routes;

use diesel_migrations::{EmbeddedMigrations, embed_migrations};
use omni_contracts::Topic;
use omni_kafka::consumer::stateful;
use omni_runtime::{ServiceContext, ServiceParts};
use utoipa::OpenApi;

/// The service's own migrations.
pub const MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations");

/// The OpenAPI document, generated from the handlers.
#[derive(OpenApi)]
#[openapi(
    info(title = "Omni returns", description = "Returns at any store."),
    paths(
        routes::orders::lookup::lookup_order,
        routes::returns::create::create_return,
        routes::returns::show::show_return,
        routes::returns::receive::receive_return,
        routes::returns::decide::decide_return,
        routes::returns::by_code::return_by_code,
        routes::returns::cancel::cancel_return,
    ),
    components(schemas(omni_http::errors::ErrorBody))
)]
pub struct ApiDoc;

/// Runs returns until its shutdown token is cancelled.
pub async fn run(ctx: ServiceContext) -> omni_runtime::Result<()> {
    let relay = ctx.outbox_relay();
    let metrics = metrics::ReturnMetrics::register(&ctx.metrics.registry)
        .map_err(|e| omni_runtime::Error::Startup(format!("cannot register returns' metrics: {e}")))?;
    let state = app::State::new(
        ctx.db.clone(),
        relay.waker(),
        &ctx.settings.returns,
        metrics,
        ctx.settings.http.trusted_proxies.clone().into(),
    );
    let background = vec![app::expiry::run(state.clone(), ctx.shutdown.clone())];
    let consumers = vec![
        (
            ctx.consumer("catalog", vec![Topic::Catalog]),
            stateful(state.clone(), events::catalog::handle),
        ),
        (
            ctx.consumer("orders", vec![Topic::Orders]),
            stateful(state.clone(), events::orders::handle),
        ),
        (
            ctx.consumer("fulfillment", vec![Topic::Fulfillment]),
            stateful(state.clone(), events::fulfillment::handle),
        ),
        (
            ctx.consumer("payments", vec![Topic::Payments]),
            stateful(state.clone(), events::payments::handle),
        ),
    ];
    ctx.run(ServiceParts {
        openapi: ApiDoc::openapi(),
        authorization: routes::AUTHORIZATION,
        configure: move |cfg: &mut actix_web::web::ServiceConfig| routes::configure(cfg, state.clone()),
        consumers,
        relay,
        readiness: vec![],
        background,
    })
    .await
}
