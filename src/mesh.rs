//! The composition root: which services run, on which backends. [`Mesh::start`] connects the broker, the hold
//! store and each service's database, migrates, binds, builds each service's [`ServiceContext`] and runs the
//! services together; `omni serve`, `omni dev`, `omni demo` and the tests all start services through it.

use std::collections::{BTreeMap, HashMap};
use std::net::{SocketAddr, TcpListener};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, anyhow};
use omni_config::{Service, Settings};
use omni_db::{Db, Target};
use omni_kafka::{EmbeddedKafka, Kafka};
use omni_runtime::ServiceContext;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

/// Which broker.
#[derive(Debug, Clone)]
pub enum KafkaBackend {
    /// librdkafka's mock cluster in this process.
    Embedded,
    /// A real broker at these bootstrap servers.
    External(String),
}

/// Which databases.
#[derive(Debug, Clone)]
pub enum DbBackend {
    /// One SQLite file per service in this directory.
    Sqlite(PathBuf),
    /// One PostgreSQL database; each service in its own schema (or per-service URLs from settings).
    Postgres(String),
}

/// Which hold store.
#[derive(Debug, Clone)]
pub enum HoldsBackend {
    /// In-process.
    Memory,
    /// Redis at `url`, keys under `prefix`.
    Redis {
        /// `redis://...`
        url: String,
        /// Key prefix.
        prefix: String,
    },
}

/// How to start a mesh.
#[derive(Debug, Clone)]
pub struct MeshOptions {
    /// Effective settings (ports, keys, topics...).
    pub settings: Settings,
    /// Broker.
    pub kafka: KafkaBackend,
    /// Databases.
    pub db: DbBackend,
    /// Hold store.
    pub holds: HoldsBackend,
    /// Bind every service to port 0 instead of its configured port.
    pub ephemeral_ports: bool,
    /// The services to run (default: all six).
    pub services: Vec<Service>,
}

impl MeshOptions {
    /// The same mesh without one service (to keep it down while the rest runs).
    pub fn without(&self, service: Service) -> Self {
        Self {
            services: self.services.iter().copied().filter(|s| *s != service).collect(),
            ..self.clone()
        }
    }

    /// Every service on embedded backends, SQLite files in `data_dir`.
    pub fn embedded(settings: Settings, data_dir: PathBuf) -> Self {
        Self {
            settings,
            kafka: KafkaBackend::Embedded,
            db: DbBackend::Sqlite(data_dir),
            holds: HoldsBackend::Memory,
            ephemeral_ports: false,
            services: Service::ALL.to_vec(),
        }
    }
}

/// The mesh's authorization table: each service with its rules, in the order of [`Service::ALL`].
pub fn authorization() -> [(Service, &'static [omni_http::Rule]); 6] {
    Service::ALL.map(|service| (service, rules(service)))
}

/// A service's authorization table.
fn rules(service: Service) -> &'static [omni_http::Rule] {
    match service {
        Service::Catalog => omni_catalog::routes::AUTHORIZATION,
        Service::Allocation => omni_allocation::routes::AUTHORIZATION,
        Service::Orders => omni_orders::routes::AUTHORIZATION,
        Service::Fulfillment => omni_fulfillment::routes::AUTHORIZATION,
        Service::Payments => omni_payments::routes::AUTHORIZATION,
        Service::Returns => omni_returns::routes::AUTHORIZATION,
    }
}

/// A running mesh.
pub struct Mesh {
    endpoints: BTreeMap<Service, SocketAddr>,
    kafka_bootstrap: String,
    shutdown: CancellationToken,
    tasks: JoinSet<(Service, omni_runtime::Result<()>)>,
    /// Which service each task runs, to name one that panicked.
    task_ids: HashMap<tokio::task::Id, Service>,
    settings: Arc<Settings>,
    _embedded: Option<EmbeddedKafka>,
}

impl std::fmt::Debug for Mesh {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mesh")
            .field("endpoints", &self.endpoints)
            .field("kafka", &self.kafka_bootstrap)
            .finish()
    }
}

impl Mesh {
    /// Connects every backend (failing with one clear line naming the backend and its config key), migrates,
    /// binds and starts the services.
    pub async fn start(options: MeshOptions) -> anyhow::Result<Self> {
        let settings = Arc::new(options.settings);
        let partners = settings.orders.partners.iter().map(|p| p.id.as_str());
        let topics =
            omni_kafka::topics::TopicNames::new(&settings.kafka.topics).with_partners(partners.clone());
        let (bootstrap, embedded) = match &options.kafka {
            KafkaBackend::Embedded => {
                let embedded =
                    EmbeddedKafka::start(&topics).context("cannot start the embedded Kafka broker")?;
                (embedded.bootstrap_servers().to_owned(), Some(embedded))
            }
            KafkaBackend::External(bootstrap) => (bootstrap.clone(), None),
        };
        let kafka = Kafka::new(&settings.kafka, &bootstrap).with_partners(partners);
        kafka.ping(Duration::from_secs(10)).await?;
        if embedded.is_none() {
            omni_kafka::topics::ensure_topics(&kafka).await?;
        }
        let holds = match &options.holds {
            HoldsBackend::Memory => omni_allocation::HoldStore::Memory(Default::default()),
            HoldsBackend::Redis { url, prefix } => omni_allocation::HoldStore::Redis(
                omni_allocation::holds::RedisHolds::connect_with(
                    url,
                    prefix,
                    &redis_options(&settings.redis)?,
                )
                .await
                .map_err(|e| anyhow!("cannot reach Redis at {} (redis.url): {e}", omni_db::redact(url)))?,
            ),
        };
        let shutdown = CancellationToken::new();
        let mut contexts = Vec::new();
        for &service in &options.services {
            let target = db_target(&settings, &options.db, service)?;
            let db = Db::connect(target.clone(), settings.database.pool_size)
                .map_err(|e| anyhow!("{e} ({})", db_key(&settings, service)))?;
            db.migrate(migrations(service))
                .await
                .with_context(|| format!("migrating the {service} database"))?;
            let metrics = omni_telemetry::Metrics::new(service.name())?;
            let producer = kafka.producer(&metrics)?;
            let port = if options.ephemeral_ports {
                0
            } else {
                settings.http.port(service)
            };
            let addr = format!("{}:{port}", settings.http.host);
            let listener = TcpListener::bind(&addr).with_context(|| {
                format!("cannot bind {service} to {addr} (http.host, http.ports.{service})")
            })?;
            listener.set_nonblocking(true)?;
            contexts.push((
                service,
                ServiceContext {
                    service: service.name(),
                    settings: settings.clone(),
                    db,
                    kafka: kafka.clone(),
                    producer,
                    metrics,
                    listener,
                    shutdown: shutdown.child_token(),
                },
            ));
        }
        let mut endpoints = BTreeMap::new();
        let mut tasks = JoinSet::new();
        let mut task_ids = HashMap::new();
        for (service, ctx) in contexts {
            endpoints.insert(service, ctx.listener.local_addr()?);
            let holds = holds.clone();
            let task = tasks.spawn(async move {
                let result = match service {
                    Service::Catalog => omni_catalog::run(ctx).await,
                    Service::Allocation => omni_allocation::run(ctx, holds).await,
                    Service::Orders => omni_orders::run(ctx).await,
                    Service::Fulfillment => omni_fulfillment::run(ctx).await,
                    Service::Payments => omni_payments::run(ctx).await,
                    Service::Returns => omni_returns::run(ctx).await,
                };
                (service, result)
            });
            task_ids.insert(task.id(), service);
        }
        Ok(Self {
            endpoints,
            kafka_bootstrap: bootstrap,
            shutdown,
            tasks,
            task_ids,
            settings,
            _embedded: embedded,
        })
    }

    /// `http://host:port` of a service.
    pub fn url(&self, service: Service) -> String {
        self.endpoints
            .get(&service)
            .map(|a| format!("http://{a}"))
            .unwrap_or_default()
    }

    /// A client of `service` sending `key`.
    pub fn client(&self, service: Service, key: &str) -> crate::Client {
        crate::Client::new(self.url(service), key)
    }

    /// Catalog's typed API, as `key`.
    pub fn catalog(&self, key: &str) -> crate::client::CatalogApi {
        crate::client::CatalogApi(self.client(Service::Catalog, key))
    }

    /// Allocation's typed API, as `key`.
    pub fn allocation(&self, key: &str) -> crate::client::AllocationApi {
        crate::client::AllocationApi(self.client(Service::Allocation, key))
    }

    /// Orders' typed API, as `key`.
    pub fn orders(&self, key: &str) -> crate::client::OrdersApi {
        crate::client::OrdersApi(self.client(Service::Orders, key))
    }

    /// Payments' typed API, as `key`.
    pub fn payments(&self, key: &str) -> crate::client::PaymentsApi {
        crate::client::PaymentsApi(self.client(Service::Payments, key))
    }

    /// Every service's address.
    pub fn endpoints(&self) -> &BTreeMap<Service, SocketAddr> {
        &self.endpoints
    }

    /// The broker's bootstrap servers.
    pub fn kafka_bootstrap(&self) -> &str {
        &self.kafka_bootstrap
    }

    /// The settings the mesh runs with.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// The physical name of a topic in this mesh (tests give theirs a unique suffix).
    pub fn topic(&self, topic: omni_contracts::Topic) -> String {
        omni_kafka::topics::TopicNames::new(&self.settings.kafka.topics)
            .name(topic)
            .to_owned()
    }

    /// The physical name of a partner's own inbound topic in this mesh.
    pub fn partner_topic(&self, partner: &str) -> String {
        omni_kafka::topics::TopicNames::new(&self.settings.kafka.topics).partner_inbound_name(partner)
    }

    /// A token that stops the mesh when cancelled.
    pub fn shutdown_token(&self) -> CancellationToken {
        self.shutdown.clone()
    }

    /// Waits until a service stops on its own (an error), returning which and its result.
    pub async fn first_exit(&mut self) -> Option<(Service, omni_runtime::Result<()>)> {
        loop {
            match self.tasks.join_next().await? {
                Ok(exit) => return Some(exit),
                Err(e) => {
                    // Every task's id was recorded when it was spawned.
                    if let Some(&service) = self.task_ids.get(&e.id()) {
                        return Some((service, Err(panicked(service, &e))));
                    }
                }
            }
        }
    }

    /// Stops every service gracefully and waits for them; returns the first error.
    pub async fn stop(mut self) -> anyhow::Result<()> {
        self.shutdown.cancel();
        let mut first_error = None;
        while let Some(joined) = self.tasks.join_next().await {
            match joined {
                Ok((_, Ok(()))) => {}
                Ok((service, Err(e))) => first_error = first_error.or(Some(anyhow!("{service}: {e}"))),
                Err(e) => {
                    let service = self.task_ids.get(&e.id()).map_or("a service", |s| s.name());
                    first_error = first_error.or(Some(anyhow!("{service}: its task failed: {e}")));
                }
            }
        }
        match first_error {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
}

fn panicked(service: Service, e: &tokio::task::JoinError) -> omni_runtime::Error {
    omni_runtime::Error::Startup(format!("{service}: its task failed: {e}"))
}

/// The embedded migrations of a service.
pub fn migrations(service: Service) -> diesel_migrations::EmbeddedMigrations {
    match service {
        Service::Catalog => omni_catalog::MIGRATIONS,
        Service::Allocation => omni_allocation::MIGRATIONS,
        Service::Orders => omni_orders::MIGRATIONS,
        Service::Fulfillment => omni_fulfillment::MIGRATIONS,
        Service::Payments => omni_payments::MIGRATIONS,
        Service::Returns => omni_returns::MIGRATIONS,
    }
}

fn db_key(settings: &Settings, service: Service) -> String {
    if settings.database.urls.contains_key(service.name()) {
        format!("database.urls.{service}")
    } else {
        "database.url".to_owned()
    }
}

/// Where a service's database is: a per-service URL from settings wins, then the backend's default.
pub fn db_target(settings: &Settings, backend: &DbBackend, service: Service) -> anyhow::Result<Target> {
    if let Some(url) = settings.database.urls.get(service.name()) {
        return Ok(Target::parse(url.expose(), None)?);
    }
    Ok(match backend {
        DbBackend::Sqlite(dir) => Target::Sqlite(dir.join(format!("{service}.db"))),
        DbBackend::Postgres(url) => {
            if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
                return Err(
                    crate::InvalidConfiguration::new("`database.url` must be a postgres:// URL").into(),
                );
            }
            Target::Postgres {
                url: url.clone(),
                schema: Some(service.name().to_owned()),
            }
        }
    })
}

/// The Redis settings beyond the URL: cluster mode and the CA to trust for `rediss://`.
fn redis_options(redis: &omni_config::RedisSettings) -> anyhow::Result<omni_allocation::holds::RedisOptions> {
    let ca_file = redis.ca_file.trim();
    let ca_pem = if ca_file.is_empty() {
        None
    } else {
        Some(std::fs::read(ca_file).map_err(|e| anyhow!("redis.ca_file: cannot read {ca_file}: {e}"))?)
    };
    Ok(omni_allocation::holds::RedisOptions {
        cluster: redis.cluster,
        ca_pem,
    })
}
