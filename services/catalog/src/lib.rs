//! The catalog service: owns locations (stores, warehouses) and SKUs, and announces every change on
//! `omni.catalog.v1` so allocation, fulfillment and the others keep their read models.
//!
//! Start reading at [`app::upsert`] (check, store, audit and announce a record in one transaction), then
//! `domain` (the checks, pure) and `db/` (the queries). This file wires them: [`run`].

pub mod app;
pub mod db;
pub mod domain;
pub mod error;
pub mod routes;

use diesel_migrations::{EmbeddedMigrations, embed_migrations};
use omni_runtime::{ServiceContext, ServiceParts};
use utoipa::OpenApi;

/// The service's own migrations.
pub const MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations");

/// The OpenAPI document, generated from the handlers.
#[derive(OpenApi)]
#[openapi(
    info(title = "Omni catalog", description = "Locations and SKUs."),
    paths(
        routes::locations::create::create_location,
        routes::locations::list::list_locations,
        routes::skus::create::create_sku,
        routes::skus::list::list_skus,
    ),
    components(schemas(omni_http::errors::ErrorBody))
)]
pub struct ApiDoc;

/// Runs the catalog service until its shutdown token is cancelled.
pub async fn run(ctx: ServiceContext) -> omni_runtime::Result<()> {
    let relay = ctx.outbox_relay();
    let state = app::State {
        db: ctx.db.clone(),
        relay: relay.waker(),
    };
    ctx.run(ServiceParts {
        openapi: ApiDoc::openapi(),
        authorization: routes::AUTHORIZATION,
        configure: move |cfg: &mut actix_web::web::ServiceConfig| routes::configure(cfg, state.clone()),
        consumers: vec![],
        relay,
        readiness: vec![],
        background: vec![],
    })
    .await
}
