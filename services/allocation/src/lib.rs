//! The allocation service: the inventory ledger (truth, in PostgreSQL), hot holds (Redis or in-memory) that
//! never oversell, buffer and segment policies, and availability published on every change.
//!
//! Start reading at [`app::reservation`] (placing, extending, committing and releasing a hold: the database
//! decides, the hold store follows), then [`app::movements`] (the ledger) and [`app::availability`] (what each
//! channel may sell). `routes/` and `events/` only decode and call `app/`; `domain/` is pure; `db/` holds the
//! queries; `holds/` the hold store (Redis or in memory). This file wires them: [`run`].

pub mod app;
pub mod db;
pub mod domain;
pub mod error;
pub mod events;
pub mod failpoints;
pub mod holds;
pub mod metrics;
pub mod routes;

use std::time::Duration;

use diesel_migrations::{EmbeddedMigrations, embed_migrations};
use omni_contracts::Topic;
use omni_http::ReadinessCheck;
use omni_kafka::consumer::stateful;
use omni_runtime::{ServiceContext, ServiceParts};
use utoipa::OpenApi;

pub use holds::HoldStore;

/// The service's own migrations.
pub const MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations");

/// Most inventory movements applied in one transaction (those already waiting on the topic).
pub const INVENTORY_BATCH: usize = 256;
/// Most holds routing asked for whose records are written in one transaction (those already waiting).
pub const SOURCING_BATCH: usize = 128;

/// The OpenAPI document, generated from the handlers.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Omni allocation",
        description = "Inventory ledger, holds and availability."
    ),
    paths(
        routes::inventory::record_movement::record_movement,
        routes::availability::get::get_availability,
        routes::reservations::create::create_reservation,
        routes::reservations::get::get_reservation,
        routes::reservations::extend::extend_reservation,
        routes::reservations::commit::commit_reservation,
        routes::reservations::release::release_reservation,
        routes::policies::create::create_policy,
        routes::policies::list::list_policies,
        routes::policies::get::get_policy,
        routes::policies::replace::replace_policy,
        routes::policies::delete::delete_policy,
        routes::policies::versions::list_versions,
    ),
    components(schemas(omni_http::errors::ErrorBody))
)]
pub struct ApiDoc;

/// Runs allocation until its shutdown token is cancelled.
pub async fn run(ctx: ServiceContext, holds: HoldStore) -> omni_runtime::Result<()> {
    let relay = ctx.outbox_relay();
    let metrics = metrics::AllocationMetrics::register(&ctx.metrics.registry)
        .map_err(|e| omni_runtime::Error::Startup(format!("cannot register allocation's metrics: {e}")))?;
    failpoints::configure_from_env().map_err(omni_runtime::Error::Startup)?;
    let state = app::State::new(
        ctx.db.clone(),
        holds,
        relay.waker(),
        metrics,
        Duration::from_secs(ctx.settings.reservations.ttl_seconds),
        Some(ctx.settings.policies.file.trim())
            .filter(|f| !f.is_empty())
            .map(std::path::PathBuf::from),
    );
    if let Some(path) = state.policies.file.clone() {
        // A bad file stops the start, naming the rule and field; a write conflict with another replica applying
        // the same file at the same moment does not (the reload loop applies it again).
        let content = std::fs::read_to_string(&path).map_err(|e| {
            omni_runtime::Error::Startup(format!("policies.file: cannot read {}: {e}", path.display()))
        })?;
        app::policies::parse_file(&content)
            .map_err(|e| omni_runtime::Error::Startup(format!("policies.file {}: {e}", path.display())))?;
        if let Err(e) = app::policies::sync_file(&state, &path).await {
            tracing::warn!(error = %e, "Policy file not applied yet; retrying.");
        }
    }
    app::policies::reload(&state)
        .await
        .map_err(|e| omni_runtime::Error::Startup(format!("cannot load policies: {e}")))?;
    let kubernetes = match ctx.settings.policies.kubernetes_namespace.trim() {
        "" => {
            app::policies::retire_kubernetes(&state).await.map_err(|e| {
                omni_runtime::Error::Startup(format!("cannot retire Kubernetes policies: {e}"))
            })?;
            None
        }
        namespace => Some((
            omni_kube::watch::client(namespace)
                .await
                .map_err(|e| omni_runtime::Error::Startup(e.to_string()))?,
            namespace.to_owned(),
        )),
    };
    if !state.holds_ready().await {
        return Err(omni_runtime::Error::Startup(
            "cannot load the hold store from the ledger (redis.url)".into(),
        ));
    }
    let consumers = vec![
        (
            ctx.consumer("catalog", vec![Topic::Catalog]),
            stateful(state.clone(), events::catalog::handle),
        ),
        (
            ctx.consumer("inventory", vec![Topic::Inventory]).batched(
                INVENTORY_BATCH,
                omni_kafka::consumer::stateful_batch(state.clone(), events::inventory::handle_batch),
            ),
            stateful(state.clone(), events::inventory::handle),
        ),
        (
            ctx.consumer("sourcing", vec![Topic::Fulfillment]).batched(
                SOURCING_BATCH,
                omni_kafka::consumer::stateful_batch(state.clone(), events::sourcing::handle_batch),
            ),
            stateful(state.clone(), events::sourcing::handle),
        ),
        (
            ctx.consumer("orders", vec![Topic::Orders]),
            stateful(state.clone(), events::orders::handle),
        ),
        (
            ctx.consumer("signals", vec![Topic::Signals]),
            stateful(state.clone(), events::signals::handle),
        ),
    ];
    let watch = {
        let state = state.clone();
        let shutdown = ctx.shutdown.clone();
        Box::pin(async move {
            // A Redis that restarted empty is rebuilt within seconds, not on the next reservation only.
            loop {
                tokio::select! {
                    _ = shutdown.cancelled() => break,
                    _ = tokio::time::sleep(Duration::from_secs(2)) => { state.holds_ready().await; }
                }
            }
        }) as std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>
    };
    let holds_check = {
        let holds = state.holds.clone();
        ReadinessCheck::new("holds", move || {
            let holds = holds.clone();
            async move { holds.ping().await.map_err(omni_http::Unready::because) }
        })
    };
    let ctx_shutdown = ctx.shutdown.clone();
    let reconcile_every = Duration::from_secs(ctx.settings.reservations.reconcile_interval_seconds.max(1));
    let reload_every = Duration::from_secs(ctx.settings.policies.reload_interval_seconds.max(1));
    let http_state = state.clone();
    let mut background = vec![
        watch,
        app::upkeep::sweeper(state.clone(), ctx_shutdown.clone()),
        app::upkeep::reconciler(state.clone(), ctx_shutdown.clone(), reconcile_every),
        app::availability_publisher::run(state.clone(), ctx_shutdown.clone()),
        Box::pin(app::policies::keep_current(
            state.clone(),
            ctx_shutdown.clone(),
            reload_every,
        )) as std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>,
    ];
    if let Some((client, namespace)) = kubernetes {
        tracing::info!(namespace = %namespace, "Watching BufferPolicy resources.");
        background.push(Box::pin(app::policies::watch_kubernetes(
            state.clone(),
            client,
            namespace,
            ctx_shutdown,
        )));
    }
    ctx.run(ServiceParts {
        openapi: ApiDoc::openapi(),
        authorization: routes::AUTHORIZATION,
        configure: move |cfg: &mut actix_web::web::ServiceConfig| routes::configure(cfg, http_state.clone()),
        consumers,
        relay,
        readiness: vec![holds_check],
        background,
    })
    .await
}
