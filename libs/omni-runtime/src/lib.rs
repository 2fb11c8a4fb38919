//! Running one service: its HTTP shell ([`omni_http`]), consumers, outbox relay and background loops, started
//! together and drained in order on shutdown. A service's `run` builds its [`ServiceParts`] and hands them to
//! [`ServiceContext::run`]; the composition root (the `omni` package's `mesh`) builds the [`ServiceContext`].

use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

use actix_web::web;
use omni_config::Settings;
use omni_db::Db;
use omni_kafka::consumer::Handler;
use omni_kafka::{ConsumerSpec, Kafka, OutboxRelay, Producer};
use omni_telemetry::Metrics;
use tokio_util::sync::CancellationToken;

use omni_http::ApiKeys;
use omni_http::Unready;
use omni_http::server::{ReadinessCheck, Shell};

/// Why a service could not start or stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The listener could not be used.
    #[error("cannot serve HTTP: {0}")]
    Bind(#[source] std::io::Error),
    /// A consumer or the relay failed for good.
    #[error(transparent)]
    Kafka(#[from] omni_kafka::Error),
    /// The database failed at start.
    #[error(transparent)]
    Db(#[from] omni_db::Error),
    /// The API keys or the OIDC settings are refused.
    #[error(transparent)]
    Keys(#[from] omni_http::auth::KeysError),
    /// A service-specific start-up step failed.
    #[error("{0}")]
    Startup(String),
}

/// Result with [`Error`] as the default error.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything a service needs, built by the binary (or a test) from settings.
#[derive(Debug)]
pub struct ServiceContext {
    /// The service's name, e.g. `orders`.
    pub service: &'static str,
    /// Effective settings.
    pub settings: Arc<Settings>,
    /// Its database, migrated.
    pub db: Db,
    /// Kafka connection settings and topic names.
    pub kafka: Kafka,
    /// Its producer.
    pub producer: Producer,
    /// Its metrics registry.
    pub metrics: Metrics,
    /// The bound HTTP listener (port 0 in tests).
    pub listener: TcpListener,
    /// Cancelled to stop the service.
    pub shutdown: CancellationToken,
}

/// What a service adds to the shell.
pub struct ServiceParts<F> {
    /// Its OpenAPI document.
    pub openapi: utoipa::openapi::OpenApi,
    /// Its authorization table: a rule per route (`configure` registers routes through them).
    pub authorization: &'static [omni_http::Rule],
    /// Registers its routes and state.
    pub configure: F,
    /// Its consumers and their handlers.
    pub consumers: Vec<(ConsumerSpec, Handler)>,
    /// Its outbox relay.
    pub relay: OutboxRelay,
    /// Extra readiness checks (Redis, ...).
    pub readiness: Vec<ReadinessCheck>,
    /// Background loops (sweepers, timers) that stop on the shutdown token.
    pub background: Vec<std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>>,
}

impl ServiceContext {
    /// A relay for this service's outbox.
    pub fn outbox_relay(&self) -> OutboxRelay {
        OutboxRelay::new(
            self.service,
            self.db.clone(),
            self.producer.clone(),
            &self.settings.outbox,
            self.metrics.clone(),
        )
    }

    /// The consumer spec of one of this service's consumers.
    pub fn consumer(&self, name: &'static str, topics: Vec<omni_contracts::Topic>) -> ConsumerSpec {
        ConsumerSpec {
            service: self.service,
            name,
            topics,
            batching: None,
        }
    }

    /// Runs the service until the shutdown token is cancelled, then stops taking HTTP requests and messages,
    /// lets in-flight work finish, drains the outbox, flushes the producer and returns.
    pub async fn run<F>(self, parts: ServiceParts<F>) -> Result<()>
    where
        F: Fn(&mut web::ServiceConfig) + Send + Clone + 'static,
    {
        let keys = ApiKeys::from_settings(&self.settings.auth, &self.settings.orders.partners)?;
        let keys_for_jwks = keys.oidc().filter(|o| o.remote().is_some()).cloned();
        let key_watch = watch_keys(
            keys.clone(),
            Duration::from_secs(self.settings.auth.reload_seconds.max(1)),
            self.db.clone(),
            self.shutdown.clone(),
        );
        let mut readiness = vec![db_check(&self.db), kafka_check(&self.producer)];
        readiness.extend(parts.readiness);
        let shell = Shell {
            service: self.service,
            metrics: self.metrics.clone(),
            keys,
            table: omni_http::authz::Table(parts.authorization),
            audit: omni_http::audit::AuditLog(self.db.clone()),
            body_limit: self.settings.http.body_limit_bytes,
            openapi: Arc::new(with_bearer_auth(with_audit(parts.openapi))),
            readiness,
            last_readiness: Default::default(),
        };
        let grace = Duration::from_secs(self.settings.http.shutdown_grace_seconds);
        let server =
            omni_http::server::start(shell, self.listener, grace, parts.configure).map_err(Error::Bind)?;
        let server_handle = server.handle();
        let server_task = tokio::spawn(server);

        let relay_stop = CancellationToken::new();
        let relay_task = tokio::spawn(parts.relay.run(relay_stop.clone()));

        let mut workers = tokio::task::JoinSet::new();
        for (spec, handler) in parts.consumers {
            let kafka = self.kafka.clone();
            let producer = self.producer.clone();
            let metrics = self.metrics.clone();
            let shutdown = self.shutdown.clone();
            let name = spec.name;
            workers.spawn(async move {
                if let Err(e) = kafka
                    .consume(spec, producer, metrics, handler, shutdown.clone())
                    .await
                {
                    tracing::error!(consumer = name, error = %e, "Consumer failed; stopping the service.");
                    shutdown.cancel();
                }
            });
        }
        for task in parts.background {
            workers.spawn(task);
        }
        workers.spawn(seal_audit_log(self.db.clone(), self.shutdown.clone()));
        workers.spawn(key_watch);
        if let Some(oidc) = keys_for_jwks {
            workers.spawn(fetch_jwks(oidc, self.shutdown.clone()));
        }
        tracing::info!(service = self.service, "Service started.");

        self.shutdown.cancelled().await;
        tracing::info!(
            service = self.service,
            "Shutting down: draining HTTP, consumers and the outbox."
        );
        server_handle.stop(true).await;
        let _ = server_task.await;
        while workers.join_next().await.is_some() {}
        relay_stop.cancel();
        let _ = relay_task.await;
        self.producer.flush(Duration::from_secs(5));
        tracing::info!(service = self.service, "Service stopped.");
        Ok(())
    }
}

fn db_check(db: &Db) -> ReadinessCheck {
    let db = db.clone();
    ReadinessCheck::new("database", move || {
        let db = db.clone();
        async move { db.ping().await.map_err(Unready::because) }
    })
}

/// Kafka through the service's own producer: a probe opens no connection of its own.
fn kafka_check(producer: &Producer) -> ReadinessCheck {
    let producer = producer.clone();
    ReadinessCheck::new("kafka", move || {
        let producer = producer.clone();
        async move {
            producer
                .ping(Duration::from_secs(2))
                .await
                .map_err(Unready::because)
        }
    })
}

fn with_bearer_auth(mut doc: utoipa::openapi::OpenApi) -> utoipa::openapi::OpenApi {
    use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
    let components = doc.components.get_or_insert_with(Default::default);
    components.add_security_scheme("api_key", SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)));
    doc
}

/// How often the audit log's new entries are sealed into its hash chain.
const AUDIT_SEAL_EVERY: Duration = Duration::from_millis(500);

/// Seals the audit log's new entries into its chain until shutdown, then once more (`omni_db::audit::seal`).
async fn seal_audit_log(db: Db, shutdown: CancellationToken) {
    loop {
        let stopping = tokio::select! {
            () = tokio::time::sleep(AUDIT_SEAL_EVERY) => false,
            () = shutdown.cancelled() => true,
        };
        loop {
            match db.run(|conn| omni_db::audit::seal(conn, 1_000)).await {
                Ok(1_000) => continue,
                Ok(_) => break,
                Err(e) => {
                    tracing::warn!(error = %e, "Could not seal the audit log; retrying.");
                    break;
                }
            }
        }
        if stopping {
            return;
        }
    }
}

/// A service's OpenAPI document with the shell's audit route.
fn with_audit(mut openapi: utoipa::openapi::OpenApi) -> utoipa::openapi::OpenApi {
    openapi.merge(<omni_http::audit::AuditApi as utoipa::OpenApi>::openapi());
    openapi
}

/// The principal audit entries of the shell's own actions name.
const SHELL_PRINCIPAL: &str = "omni";

/// Re-reads the keys file and the OIDC key set every `every` until shutdown ([`ApiKeys::reload`]); a change of
/// keys is audited by name (`auth.keys.reloaded`), a file that does not validate is logged and changes nothing.
async fn watch_keys(keys: ApiKeys, every: Duration, db: Db, shutdown: CancellationToken) {
    loop {
        tokio::select! {
            () = tokio::time::sleep(every) => {}
            () = shutdown.cancelled() => return,
        }
        let reloaded = {
            let keys = keys.clone();
            tokio::task::spawn_blocking(move || keys.reload()).await
        };
        match reloaded {
            Ok(Ok(Some(changes))) if !changes.is_empty() => {
                tracing::info!(added = ?changes.added, removed = ?changes.removed, changed = ?changes.changed, "API keys reloaded.");
                let detail = serde_json::json!(changes);
                let audited = db
                    .transaction(move |conn| {
                        omni_db::audit::record(
                            conn,
                            SHELL_PRINCIPAL,
                            "auth.keys.reloaded",
                            "auth.keys_file",
                            &detail,
                        )
                    })
                    .await;
                if let Err(e) = audited {
                    tracing::error!(error = %e, "Could not audit a key reload.");
                }
            }
            Ok(Ok(_)) => {}
            Ok(Err(reason)) => {
                tracing::error!(%reason, "The keys file (or key set) does not validate; the keys stay as they were.");
            }
            Err(e) => tracing::error!(error = %e, "Reloading the keys failed."),
        }
    }
}

/// Fetches the OIDC issuer's key set from its URL at start and then every `auth.oidc.jwks_refresh_seconds`; after a
/// failure (the issuer unreachable), again within 5 s. Until the first fetch no bearer token verifies; API keys work
/// throughout.
async fn fetch_jwks(oidc: std::sync::Arc<omni_http::oidc::Verifier>, shutdown: CancellationToken) {
    let client = reqwest::Client::new();
    let Some((url, every)) = oidc.remote().map(|(u, e)| (u.to_owned(), e)) else {
        return;
    };
    loop {
        let wait = match oidc.fetch(&client).await {
            Ok(changed) => {
                if changed {
                    tracing::info!(%url, "OIDC key set fetched.");
                }
                every
            }
            Err(reason) => {
                tracing::warn!(%reason, "Could not fetch the OIDC key set; bearer tokens are checked against the last one.");
                every.min(Duration::from_secs(5))
            }
        };
        tokio::select! {
            () = tokio::time::sleep(wait) => {}
            () = shutdown.cancelled() => return,
        }
    }
}
