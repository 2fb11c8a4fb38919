//! The returns service. So far it keeps the read model of orders that returns at any store are checked against;
//! return authorizations, receipts and refunds come with the returns issue.
//!
//! Start reading at `app::read_model` (the read model kept from `omni.orders.v1`, decoded in `events::orders`),
//! then `routes::orders::lookup`.
//! This file wires them: [`run`].

pub mod app;
pub mod db;
pub mod error;
pub mod events;
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
    paths(routes::orders::lookup::lookup_order),
    components(schemas(omni_http::errors::ErrorBody))
)]
pub struct ApiDoc;

/// Runs returns until its shutdown token is cancelled.
pub async fn run(ctx: ServiceContext) -> omni_runtime::Result<()> {
    let relay = ctx.outbox_relay();
    let state = app::State { db: ctx.db.clone() };
    let consumers = vec![(
        ctx.consumer("orders", vec![Topic::Orders]),
        stateful(state.clone(), events::orders::handle),
    )];
    ctx.run(ServiceParts {
        openapi: ApiDoc::openapi(),
        authorization: routes::AUTHORIZATION,
        configure: move |cfg: &mut actix_web::web::ServiceConfig| routes::configure(cfg, state.clone()),
        consumers,
        relay,
        readiness: vec![],
        background: vec![],
    })
    .await
}
