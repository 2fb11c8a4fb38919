//! The orders service: takes orders from every channel exactly once (HTTP with idempotency keys, partner
//! intake over Kafka) and drives each through the saga across the mesh.
//!
//! Start reading at [`app::accept`] (an order stored with its payer), [`app::dispatch`] (accepted orders sent on
//! to routing, closest promise first, within the in-flight bound) and [`app::saga`] (each reply moves an order
//! one step, the next event written in the same transaction; the steps themselves are pure, `domain::saga`).
//! `routes/` and `events/` decode and call `app/`; `db/` holds the queries. This file wires them: [`run`].

pub mod app;
pub mod db;
pub mod domain;
pub mod error;
pub mod events;
pub mod routes;

use std::sync::Arc;

use diesel_migrations::{EmbeddedMigrations, embed_migrations};
use omni_contracts::Topic;
use omni_kafka::consumer::stateful;
use omni_runtime::{ServiceContext, ServiceParts};
use tokio::sync::Notify;
use utoipa::OpenApi;

/// The service's own migrations.
pub const MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations");

/// Most partner orders taken in one transaction (those already waiting on the intake topic).
pub const INTAKE_BATCH: usize = 512;

/// Most intake batches handled at once (each in its own transaction): checking the next overlaps committing
/// the ones before.
pub const INTAKE_BATCHES_IN_FLIGHT: usize = 3;

/// Most saga replies applied in one transaction (those already waiting).
pub const SAGA_BATCH: usize = 256;

/// The OpenAPI document, generated from the handlers.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Omni orders",
        description = "Checkout, POS and partner orders, and their lifecycle."
    ),
    paths(
        routes::orders::create::create_order,
        routes::orders::get::get_order,
        routes::orders::list::list_orders,
        routes::orders::cancel::cancel_order
    ),
    components(schemas(omni_http::errors::ErrorBody))
)]
pub struct ApiDoc;

fn orders_total(registry: &prometheus::Registry) -> prometheus::Result<prometheus::IntCounterVec> {
    let counter = prometheus::IntCounterVec::new(
        prometheus::Opts::new("orders_total", "Orders entering each state, by channel"),
        &["channel", "state"],
    )?;
    registry.register(Box::new(counter.clone()))?;
    Ok(counter)
}

/// Runs the orders service until its shutdown token is cancelled.
pub async fn run(ctx: ServiceContext) -> omni_runtime::Result<()> {
    let relay = ctx.outbox_relay();
    let state = app::State {
        db: ctx.db.clone(),
        relay: relay.waker(),
        dispatch: Arc::new(Notify::new()),
        arrived: Arc::new(Notify::new()),
        settings: Arc::new(ctx.settings.orders.clone()),
        orders_total: orders_total(&ctx.metrics.registry)
            .map_err(|e| omni_runtime::Error::Startup(format!("cannot register orders' metrics: {e}")))?,
    };
    let consumers = vec![
        (
            // Partner orders do not depend on each other's order (a resend waits for the first order's insert
            // whichever batch holds it), so the next batches are checked while the ones before commit.
            ctx.consumer("intake", vec![Topic::OrdersInbound])
                .batched(
                    INTAKE_BATCH,
                    omni_kafka::consumer::stateful_batch(state.clone(), events::inbound::handle_batch),
                )
                .overlapping(INTAKE_BATCHES_IN_FLIGHT),
            stateful(state.clone(), events::inbound::handle),
        ),
        (
            ctx.consumer("catalog", vec![Topic::Catalog]),
            stateful(state.clone(), events::catalog::handle),
        ),
        (
            ctx.consumer(
                "saga",
                vec![Topic::Reservations, Topic::Payments, Topic::Fulfillment],
            )
            .batched(
                SAGA_BATCH,
                omni_kafka::consumer::stateful_batch(state.clone(), events::saga::handle_batch),
            ),
            stateful(state.clone(), events::saga::handle),
        ),
        (
            ctx.consumer("returns", vec![Topic::Returns]),
            stateful(state.clone(), events::returns::handle),
        ),
    ];
    let background = vec![app::dispatch::run(state.clone(), ctx.shutdown.clone())];
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
