//! The fulfillment service: routes each order to the best node with an explanation, and releases it to the
//! node once paid.
//!
//! Start reading at `events::orders` (an accepted order sourced, a paid one released), then `domain::routing`
//! (the choice of node and its explanation, pure) and [`app::routing_rules`] (the rules in force, hot-reloaded
//! from a file or Kubernetes). `db/` holds the network view and the fulfillments. This file wires them: [`run`].

pub mod app;
pub mod db;
pub mod domain;
pub mod error;
pub mod events;
pub mod metrics;
pub mod routes;

use std::sync::Arc;

use diesel_migrations::{EmbeddedMigrations, embed_migrations};
use omni_contracts::Topic;
use omni_kafka::consumer::stateful;
use omni_runtime::{ServiceContext, ServiceParts};
use utoipa::OpenApi;

/// The service's own migrations.
pub const MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations");

/// Most order events routed or released in one transaction (those already waiting).
pub const ORDERS_BATCH: usize = 256;

/// The OpenAPI document, generated from the handlers.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Omni fulfillment",
        description = "Routing decisions, fulfillments and store tasks."
    ),
    paths(
        routes::fulfillments::list::list_fulfillments,
        routes::fulfillments::complete::complete_fulfillment,
        routes::stock::get::get_stock,
        routes::routing_rules::list::list_routing_rules,
        routes::routing_rules::what_if::routing_what_if,
        routes::tasks::queue::store_queue,
        routes::tasks::get::get_task,
        routes::tasks::act::act_on_task,
        routes::tasks::arrive::customer_arrives
    ),
    components(schemas(omni_http::errors::ErrorBody))
)]
pub struct ApiDoc;

/// A kind of node's task deadlines from its settings.
fn schedule(settings: &omni_config::TaskWindows) -> domain::task::Schedule {
    let seconds = |s: u32| chrono::Duration::seconds(i64::from(s));
    domain::task::Schedule {
        accept_within: seconds(settings.accept_within_seconds),
        ready_within: seconds(settings.ready_within_seconds),
        windows: domain::task::Windows {
            pickup: seconds(settings.pickup_window_seconds),
            reminder_before: seconds(settings.pickup_reminder_before_seconds),
            curbside_handover: seconds(settings.curbside_handover_seconds),
        },
    }
}

/// Routing's cost model from its settings; each kind of node's handling time is its `ready_within`.
pub fn cost_model(settings: &omni_config::FulfillmentSettings) -> domain::routing::cost::CostModel {
    let routing = &settings.routing;
    let seconds = |s: u32| chrono::Duration::seconds(i64::from(s));
    domain::routing::cost::CostModel {
        per_km: routing.cost_per_km,
        split_penalty: routing.split_penalty,
        full_day: routing.full_day_cost,
        late_hour: routing.late_hour_cost,
        transit_km_per_hour: routing.transit_km_per_hour,
        max_splits: routing.max_splits,
        urgent_reserve: f64::from(routing.urgent_reserve_percent) / 100.0,
        urgent_within: seconds(routing.urgent_within_seconds),
        store_handling: seconds(settings.store.ready_within_seconds),
        warehouse_handling: seconds(settings.warehouse.ready_within_seconds),
    }
}

/// Runs fulfillment until its shutdown token is cancelled.
pub async fn run(ctx: ServiceContext) -> omni_runtime::Result<()> {
    let relay = ctx.outbox_relay();
    let availability_lag = prometheus::Histogram::with_opts(
        prometheus::HistogramOpts::new(
            "availability_lag_seconds",
            "From a stock change in allocation to routing seeing the new availability",
        )
        .buckets(omni_telemetry::metrics::LATENCY_BUCKETS.to_vec()),
    )
    .map_err(|e| omni_runtime::Error::Startup(e.to_string()))?;
    ctx.metrics
        .registry
        .register(Box::new(availability_lag.clone()))
        .map_err(|e| omni_runtime::Error::Startup(e.to_string()))?;
    let rules = Arc::new(app::routing_rules::RoutingRules::new(
        Some(ctx.settings.policies.routing_file.trim())
            .filter(|f| !f.is_empty())
            .map(std::path::PathBuf::from),
    ));
    if let Some(path) = rules.file.clone() {
        // A bad routing file stops the start, naming the rule and field.
        rules
            .sync_file(&path)
            .map_err(|e| omni_runtime::Error::Startup(e.to_string()))?;
    }
    let mut background: Vec<std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>> =
        vec![Box::pin(app::routing_rules::keep_file_current(
            rules.clone(),
            std::time::Duration::from_secs(ctx.settings.policies.reload_interval_seconds.max(1)),
            ctx.shutdown.clone(),
        ))];
    let namespace = ctx.settings.policies.kubernetes_namespace.trim();
    if !namespace.is_empty() {
        let client = omni_kube::watch::client(namespace)
            .await
            .map_err(|e| omni_runtime::Error::Startup(e.to_string()))?;
        tracing::info!(namespace, "Watching RoutingPolicy resources.");
        background.push(Box::pin(app::routing_rules::watch_kubernetes(
            rules.clone(),
            client,
            namespace.to_owned(),
            ctx.shutdown.clone(),
        )));
    }
    let state = app::State {
        db: ctx.db.clone(),
        relay: relay.waker(),
        availability_lag,
        rules,
        schedules: app::Schedules {
            store: schedule(&ctx.settings.fulfillment.store),
            warehouse: schedule(&ctx.settings.fulfillment.warehouse),
        },
        code_limits: app::CodeLimits {
            per_task: ctx.settings.fulfillment.pickup_code_attempts_per_task,
            per_client: ctx.settings.fulfillment.pickup_code_attempts_per_client,
            window: chrono::Duration::seconds(i64::from(
                ctx.settings.fulfillment.pickup_code_lockout_seconds,
            )),
        },
        trusted_proxies: ctx.settings.http.trusted_proxies.clone().into(),
        task_metrics: metrics::TaskMetrics::register(&ctx.metrics.registry)
            .map_err(|e| omni_runtime::Error::Startup(e.to_string()))?,
        cost_model: cost_model(&ctx.settings.fulfillment),
    };
    background.push(app::tasks::run_timers(state.clone(), ctx.shutdown.clone()));
    let consumers = vec![
        (
            ctx.consumer("network", vec![Topic::Catalog, Topic::Availability]),
            stateful(state.clone(), events::network::handle),
        ),
        (
            ctx.consumer("orders", vec![Topic::Orders]).batched(
                ORDERS_BATCH,
                omni_kafka::consumer::stateful_batch(state.clone(), events::orders::handle_batch),
            ),
            stateful(state.clone(), events::orders::handle),
        ),
        (
            ctx.consumer("reservations", vec![Topic::Reservations]),
            stateful(state.clone(), events::reservations::handle),
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
