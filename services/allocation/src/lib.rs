//! The allocation service: the inventory ledger (truth, in PostgreSQL), hot holds (Redis or in-memory) that
//! never oversell, and availability published on every change.

pub mod availability;
pub mod db;
pub mod domain;
pub mod events;
pub mod holds;
pub mod metrics;
pub mod policies;
pub mod publisher;
pub mod reservation;
pub mod routes;
pub mod writer;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use diesel_migrations::{EmbeddedMigrations, embed_migrations};
use omni_contracts::Topic;
use omni_db::Db;
use omni_http::ReadinessCheck;
use omni_kafka::consumer::stateful;
use omni_runtime::{ServiceContext, ServiceParts};
use tokio::sync::Notify;
use utoipa::OpenApi;

pub use holds::HoldStore;

/// The service's own migrations.
pub const MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations");

/// Most inventory movements applied in one transaction (those already waiting on the topic).
pub const INVENTORY_BATCH: usize = 256;
/// Most holds routing asked for whose records are written in one transaction (those already waiting).
pub const SOURCING_BATCH: usize = 128;

/// Shared state of handlers and consumers.
#[derive(Clone)]
pub struct State {
    /// Allocation's database (the truth).
    pub db: Db,
    /// The hot hold store.
    pub holds: HoldStore,
    /// Wakes the outbox relay.
    pub relay: Arc<Notify>,
    /// Wakes the availability publisher.
    pub availability: Arc<Notify>,
    /// Records new checkout holds, several per transaction.
    pub writer: writer::HoldWriter,
    /// Hold latency and oversold units.
    pub metrics: metrics::AllocationMetrics,
    /// How long an order's hold lasts.
    pub ttl: Duration,
    /// The buffer and segment policies in force.
    pub policies: Arc<policies::Policies>,
    stale: Arc<AtomicBool>,
    /// Changes to the store (reads of the ledger followed by writes to the store) hold this shared; a rebuild
    /// holds it exclusively, so a rebuild never interleaves with a change and counts it twice or not at all.
    changes: Arc<tokio::sync::RwLock<()>>,
}

impl State {
    /// After a commit that wrote events or availability marks: wakes the relay and the availability publisher.
    pub fn changed(&self) {
        self.relay.notify_one();
        self.availability.notify_one();
    }

    /// Marks the hold store as diverged from the ledger; it is rebuilt before the next reservation.
    pub fn mark_stale(&self) {
        self.stale.store(true, Ordering::SeqCst);
    }

    /// Rebuilds the hold store from the ledger when it is empty (fresh process, Redis restarted empty) or was
    /// marked stale. Returns whether the store can be trusted now; while it cannot, reservations fail closed.
    pub async fn holds_ready(&self) -> bool {
        let loaded = self.holds.is_loaded().await.unwrap_or(false);
        if loaded && !self.stale.load(Ordering::SeqCst) {
            return true;
        }
        match self.rebuild().await {
            Ok(()) => true,
            Err(e) => {
                tracing::error!(error = %e, "Cannot rebuild the hold store from the ledger.");
                false
            }
        }
    }

    /// Taken around every change that touches the ledger and then the hold store. Never call
    /// [`State::holds_ready`] while holding it.
    pub async fn change_guard(&self) -> tokio::sync::RwLockReadGuard<'_, ()> {
        self.changes.read().await
    }

    async fn rebuild(&self) -> Result<(), String> {
        let _exclusive = self.changes.write().await;
        self.stale.store(false, Ordering::SeqCst);
        let snapshot = self.ledger_snapshot().await?;
        self.holds.load(&snapshot).await.map_err(|e| e.to_string())?;
        tracing::info!(
            levels = snapshot.on_hand.len(),
            holds = snapshot.holds.len(),
            "Hold store rebuilt from the ledger."
        );
        Ok(())
    }

    async fn ledger_snapshot(&self) -> Result<holds::Snapshot, String> {
        self.db
            .run(|conn| -> omni_db::Result<holds::Snapshot> {
                let on_hand = db::ledger::all_levels(conn)?;
                let holds = db::reservations::all_held(conn)?
                    .into_iter()
                    .map(|h| holds::SnapshotHold {
                        id: h.reservation_id,
                        location: h.location_id,
                        lines: h.lines,
                    })
                    .collect();
                Ok(holds::Snapshot { on_hand, holds })
            })
            .await
            .map_err(|e| e.to_string())
    }

    /// Compares every level in the hold store with the ledger while no change is in flight, and reloads the
    /// store if any differs. Returns how many (location, SKU) levels differed.
    pub async fn reconcile(&self) -> Result<usize, String> {
        let _exclusive = self.changes.write().await;
        let snapshot = self.ledger_snapshot().await?;
        let expected = snapshot.expected_levels();
        self.metrics
            .oversold_units
            .set(holds::Snapshot::units_beyond_on_hand(&expected));
        let mut diverged = 0;
        let locations: std::collections::BTreeSet<&String> = expected.keys().map(|(l, _)| l).collect();
        for location in locations {
            let Ok(location_id) = omni_contracts::LocationId::parse(location) else {
                continue;
            };
            let have = self
                .holds
                .location_levels(&location_id)
                .await
                .map_err(|e| e.to_string())?;
            for ((_, sku), want) in expected
                .range((location.clone(), String::new())..)
                .take_while(|((l, _), _)| l == location)
            {
                let got = have.get(sku).copied().unwrap_or((0, 0));
                if got != *want {
                    tracing::warn!(location.id = %location, sku = %sku, ?got, ?want, "Hold store diverged from the ledger.");
                    diverged += 1;
                }
            }
        }
        if diverged > 0 {
            self.holds.load(&snapshot).await.map_err(|e| e.to_string())?;
            tracing::warn!(diverged, "Hold store repaired from the ledger.");
        }
        Ok(diverged)
    }
}

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
    let state = State {
        db: ctx.db.clone(),
        holds,
        relay: relay.waker(),
        availability: Arc::new(Notify::new()),
        writer: writer::HoldWriter::start(ctx.db.clone()),
        metrics: metrics::AllocationMetrics::register(&ctx.metrics.registry).map_err(|e| {
            omni_runtime::Error::Startup(format!("cannot register allocation's metrics: {e}"))
        })?,
        ttl: Duration::from_secs(ctx.settings.reservations.ttl_seconds),
        policies: Arc::new(policies::Policies::new(
            Some(ctx.settings.policies.file.trim())
                .filter(|f| !f.is_empty())
                .map(std::path::PathBuf::from),
        )),
        stale: Arc::new(AtomicBool::new(false)),
        changes: Arc::new(tokio::sync::RwLock::new(())),
    };
    if let Some(path) = state.policies.file.clone() {
        // A bad file stops the start, naming the rule and field; a write conflict with another replica applying
        // the same file at the same moment does not (the reload loop applies it again).
        let content = std::fs::read_to_string(&path).map_err(|e| {
            omni_runtime::Error::Startup(format!("policies.file: cannot read {}: {e}", path.display()))
        })?;
        policies::parse_file(&content)
            .map_err(|e| omni_runtime::Error::Startup(format!("policies.file {}: {e}", path.display())))?;
        if let Err(e) = policies::sync_file(&state, &path).await {
            tracing::warn!(error = %e, "Policy file not applied yet; retrying.");
        }
    }
    policies::reload(&state)
        .await
        .map_err(|e| omni_runtime::Error::Startup(format!("cannot load policies: {e}")))?;
    let kubernetes = match ctx.settings.policies.kubernetes_namespace.trim() {
        "" => {
            policies::retire_kubernetes(&state).await.map_err(|e| {
                omni_runtime::Error::Startup(format!("cannot retire Kubernetes policies: {e}"))
            })?;
            None
        }
        namespace => Some((
            omni_kube::watch::client(namespace)
                .await
                .map_err(omni_runtime::Error::Startup)?,
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
            async move { holds.ping().await.map_err(|e| e.to_string()) }
        })
    };
    let ctx_shutdown = ctx.shutdown.clone();
    let reconcile_every = Duration::from_secs(ctx.settings.reservations.reconcile_interval_seconds.max(1));
    let reload_every = Duration::from_secs(ctx.settings.policies.reload_interval_seconds.max(1));
    let http_state = state.clone();
    let mut background = vec![
        watch,
        sweeper(state.clone(), ctx_shutdown.clone()),
        reconciler(state.clone(), ctx_shutdown.clone(), reconcile_every),
        publisher::run(state.clone(), ctx_shutdown.clone()),
        Box::pin(policies::keep_current(
            state.clone(),
            ctx_shutdown.clone(),
            reload_every,
        )) as std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>,
    ];
    if let Some((client, namespace)) = kubernetes {
        tracing::info!(namespace = %namespace, "Watching BufferPolicy resources.");
        background.push(Box::pin(policies::watch_kubernetes(
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

/// Expires holds whose time has passed, once a second (bounded batches; more right away if a batch was full).
fn sweeper(
    state: State,
    shutdown: tokio_util::sync::CancellationToken,
) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>> {
    Box::pin(async move {
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => break,
                _ = tokio::time::sleep(Duration::from_secs(1)) => {}
            }
            match reservation::sweep(&state).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(expired = n, "Expired holds released."),
                Err(e) => tracing::warn!(error = %e, "Hold sweep failed; retrying."),
            }
        }
    })
}

/// Compares the hold store with the ledger every `every` and repairs divergence.
fn reconciler(
    state: State,
    shutdown: tokio_util::sync::CancellationToken,
    every: Duration,
) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>> {
    Box::pin(async move {
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => break,
                _ = tokio::time::sleep(every) => {}
            }
            if let Err(e) = state.reconcile().await {
                tracing::warn!(error = %e, "Reconciliation failed; retrying.");
            }
        }
    })
}
