//! The run's own slice of the real backends (a database, a Redis key prefix, topics and consumer groups),
//! removed when the run ends, and the catalog + allocation mesh started on them with stock to sell.

use omni_contracts::api::Capability;
use omni_testkit::Service;
use omni_testkit::fixtures::store;
use std::time::Duration;

use anyhow::{Context, bail, ensure};
use diesel::connection::SimpleConnection;
use diesel::{Connection, RunQueryDsl};
use futures::StreamExt;
use omni_config::Settings;
use omni_testkit::testing::{ADMIN_KEY, receive_stock};
use omni_testkit::{DbBackend, HoldsBackend, KafkaBackend, Mesh, MeshOptions};
use serde_json::json;

use crate::BackendArgs;

/// A short id naming everything this run creates.
pub(crate) fn run_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()[..12].to_owned()
}

/// A PostgreSQL database of this run's own, dropped (with its connections) when this is dropped.
#[derive(Debug)]
pub(crate) struct RunDatabase {
    admin: String,
    name: String,
    /// Its URL.
    pub url: String,
}

impl RunDatabase {
    /// Creates `omni_loadtest_<run>` through the admin URL; the mesh reaches it with `sslmode`.
    pub(crate) fn create(admin: &str, run: &str, sslmode: &str) -> anyhow::Result<Self> {
        let name = format!("omni_loadtest_{run}");
        let mut conn = diesel::PgConnection::establish(admin)
            .with_context(|| format!("cannot reach PostgreSQL at {}", omni_db::redact(admin)))?;
        conn.batch_execute(&format!("CREATE DATABASE {name}"))?;
        let base = admin.rsplit_once('/').map_or(admin, |(base, _)| base);
        Ok(Self {
            admin: admin.to_owned(),
            url: format!("{base}/{name}?sslmode={sslmode}"),
            name,
        })
    }

    /// Its URL with `schema` first on the search path (each service keeps its tables in its own schema).
    pub(crate) fn url_in_schema(&self, schema: &str) -> String {
        format!("{}&options=-csearch_path%3D{schema}", self.url)
    }
}

impl Drop for RunDatabase {
    fn drop(&mut self) {
        if let Ok(mut conn) = diesel::PgConnection::establish(&self.admin) {
            let _ = conn.batch_execute(&format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name));
        }
    }
}

/// A Redis key prefix of this run's own; its keys are deleted when this is dropped.
#[derive(Debug)]
pub(crate) struct RunRedis {
    /// `redis://host:port`.
    pub url: String,
    /// Prefix of every key the run writes.
    pub prefix: String,
}

impl RunRedis {
    /// The prefix `omni-loadtest-<run>` on the Redis at `url` (checked now).
    pub(crate) fn new(url: &str, run: &str) -> anyhow::Result<Self> {
        let client = redis::Client::open(url)?;
        let mut conn = client
            .get_connection_with_timeout(Duration::from_secs(5))
            .with_context(|| format!("cannot reach Redis at {url}"))?;
        let _: String = redis::cmd("PING").query(&mut conn)?;
        Ok(Self {
            url: url.to_owned(),
            prefix: format!("omni-loadtest-{run}"),
        })
    }

    /// Host and port of the URL, for `redis-benchmark`.
    pub(crate) fn host_port(&self) -> anyhow::Result<(String, u16)> {
        let rest = self
            .url
            .strip_prefix("redis://")
            .context("only redis:// URLs are supported")?;
        let rest = rest.split('/').next().unwrap_or(rest);
        ensure!(
            !rest.contains('@'),
            "redis-benchmark is driven without credentials"
        );
        Ok(match rest.rsplit_once(':') {
            Some((host, port)) => (host.to_owned(), port.parse().context("Redis port")?),
            None => (rest.to_owned(), 6379),
        })
    }

    /// Deletes every key under `pattern` (a glob below the prefix), in batches, without blocking Redis.
    pub(crate) fn delete(&self, pattern: &str) -> anyhow::Result<u64> {
        let mut conn = redis::Client::open(self.url.as_str())?.get_connection()?;
        let mut cursor: u64 = 0;
        let mut deleted = 0;
        loop {
            let (next, keys): (u64, Vec<String>) = redis::cmd("SCAN")
                .arg(cursor)
                .arg("MATCH")
                .arg(format!("{}:{pattern}", self.prefix))
                .arg("COUNT")
                .arg(2000)
                .query(&mut conn)?;
            if !keys.is_empty() {
                let n: u64 = redis::cmd("UNLINK").arg(&keys).query(&mut conn)?;
                deleted += n;
            }
            if next == 0 {
                return Ok(deleted);
            }
            cursor = next;
        }
    }
}

impl Drop for RunRedis {
    fn drop(&mut self) {
        let _ = self.delete("*");
    }
}

/// Everything one run owns on the backends. Dropping it removes the database and the Redis keys.
#[derive(Debug)]
pub(crate) struct RunBackends {
    /// Names the run's database, key prefix, topics and groups.
    pub run: String,
    /// Broker bootstrap servers.
    pub kafka: String,
    /// The run's database.
    pub database: RunDatabase,
    /// The run's Redis prefix.
    pub redis: RunRedis,
}

impl RunBackends {
    /// Claims a database and a Redis prefix on the backends named by `args`.
    pub(crate) fn claim(args: &BackendArgs) -> anyhow::Result<Self> {
        let Some(kafka) = args.kafka.clone().filter(|k| !k.is_empty()) else {
            bail!(
                "no broker: pass --kafka 127.0.0.1:PORT or set OMNI_TEST_KAFKA_BOOTSTRAP \
                 (eval \"$(scripts/test.sh --infra-only)\" starts a Nisshi broker and exports it)"
            );
        };
        let run = run_id();
        Ok(Self {
            database: RunDatabase::create(&args.database_url, &run, args.database_sslmode.as_str())?,
            redis: RunRedis::new(&args.redis_url, &run)?,
            kafka,
            run,
        })
    }

    /// Settings for the mesh: the test admin key, this run's topics and consumer groups, and the given
    /// pool size and consumer fetch wait.
    pub(crate) fn settings(&self, pool_size: u32, fetch_wait_max_ms: u32) -> Settings {
        let mut settings = omni_testkit::testing::settings();
        settings.kafka.group_prefix = format!("omni-loadtest-{}", self.run);
        for topic in omni_contracts::Topic::ALL {
            settings.kafka.topics.insert(
                topic.key().to_owned(),
                format!("{}.loadtest-{}", topic.default_name(), self.run),
            );
        }
        settings.database.pool_size = pool_size;
        settings.kafka.fetch_wait_max_ms = fetch_wait_max_ms;
        settings
    }

    /// Starts catalog and allocation on this run's backends, on ephemeral loopback ports.
    pub(crate) async fn start_mesh(&self, settings: Settings) -> anyhow::Result<Mesh> {
        self.start_services(settings, vec![Service::Catalog, Service::Allocation])
            .await
    }

    /// Starts `services` on this run's backends, on ephemeral loopback ports.
    pub(crate) async fn start_services(
        &self,
        settings: Settings,
        services: Vec<Service>,
    ) -> anyhow::Result<Mesh> {
        ensure!(
            settings.http.host == "127.0.0.1",
            "the benchmarks bind to 127.0.0.1 only"
        );
        Mesh::start(MeshOptions {
            settings,
            kafka: KafkaBackend::External(self.kafka.clone()),
            db: DbBackend::Postgres(self.database.url.clone()),
            holds: HoldsBackend::Redis {
                url: self.redis.url.clone(),
                prefix: self.redis.prefix.clone(),
            },
            ephemeral_ports: true,
            services,
        })
        .await
        .context("starting the services")
    }
}

/// Announces one store and the SKUs through the catalog, then receives `units` of each at the store through
/// allocation (which learns of them from `omni.catalog.v1`).
pub(crate) async fn seed(mesh: &Mesh, location: &str, skus: &[String], units: i64) -> anyhow::Result<()> {
    let catalog = mesh.client(Service::Catalog, ADMIN_KEY);
    let allocation = mesh.client(Service::Allocation, ADMIN_KEY);
    let body = store(location)
        .capable(&[Capability::Ship, Capability::Pickup])
        .build()?;
    let answer = catalog.post("/v1/locations", &body, &[]).await?;
    ensure!(
        matches!(answer.status, 200 | 201),
        "creating location {location}: {answer:?}"
    );
    let bar = crate::stats::progress("seeding SKUs", skus.len() as u64 * 2);
    let results: Vec<anyhow::Result<()>> = futures::stream::iter(skus)
        .map(|sku| {
            let (catalog, bar) = (&catalog, &bar);
            async move {
                let answer = catalog
                    .post("/v1/skus", &json!({ "sku": sku, "title": sku }), &[])
                    .await?;
                ensure!(
                    matches!(answer.status, 200 | 201),
                    "creating SKU {sku}: {answer:?}"
                );
                bar.inc(1);
                Ok(())
            }
        })
        .buffer_unordered(16)
        .collect()
        .await;
    results.into_iter().collect::<anyhow::Result<()>>()?;
    let results: Vec<anyhow::Result<()>> = futures::stream::iter(skus)
        .map(|sku| {
            let (allocation, bar) = (&allocation, &bar);
            async move {
                receive_stock(allocation, location, sku, units).await?;
                bar.inc(1);
                Ok(())
            }
        })
        .buffer_unordered(16)
        .collect()
        .await;
    bar.finish_and_clear();
    results.into_iter().collect::<anyhow::Result<()>>()
}

/// PostgreSQL's counters for one database (`pg_stat_database`): what a run cost the database.
#[derive(Debug, Clone, Copy, Default, diesel::QueryableByName)]
pub(crate) struct DbActivity {
    /// Transactions committed or rolled back (every autocommit statement is one).
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    pub xacts: i64,
    /// Rows read by scans (returned by sequential and index scans, or fetched by index scans).
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    pub rows_read: i64,
    /// Rows inserted, updated or deleted.
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    pub rows_written: i64,
}

impl DbActivity {
    /// The counters of the database at `url` now, from a fresh session. Backends publish their counts about
    /// once a second while busy, so a figure over a run of several seconds is close, not exact.
    pub(crate) fn read(url: &str) -> anyhow::Result<Self> {
        let mut pg = diesel::PgConnection::establish(url).context("connecting to read pg_stat_database")?;
        Ok(diesel::sql_query(
            "SELECT (xact_commit + xact_rollback)::BIGINT AS xacts, \
                    (tup_returned + tup_fetched)::BIGINT AS rows_read, \
                    (tup_inserted + tup_updated + tup_deleted)::BIGINT AS rows_written \
             FROM pg_stat_database WHERE datname = current_database()",
        )
        .get_result(&mut pg)?)
    }

    /// What happened since `earlier`, per `operations` (none: zeros).
    pub(crate) fn per_operation(&self, earlier: &DbActivity, operations: u64) -> (f64, f64, f64) {
        let n = operations.max(1) as f64;
        (
            (self.xacts - earlier.xacts) as f64 / n,
            (self.rows_read - earlier.rows_read) as f64 / n,
            (self.rows_written - earlier.rows_written) as f64 / n,
        )
    }
}

/// `ANALYZE`s every table of the database at `url`, as autovacuum does on a running system: fresh tables have
/// no statistics, and a benchmark of a few seconds would otherwise measure plans made for empty tables.
pub(crate) fn analyze(url: &str) -> anyhow::Result<()> {
    let mut pg = diesel::PgConnection::establish(url).context("connecting to ANALYZE")?;
    pg.batch_execute("ANALYZE")?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_cost_is_spread_over_the_operations() {
        let before = DbActivity {
            xacts: 100,
            rows_read: 1_000,
            rows_written: 10,
        };
        let after = DbActivity {
            xacts: 300,
            rows_read: 5_000,
            rows_written: 70,
        };
        assert_eq!(after.per_operation(&before, 20), (10.0, 200.0, 3.0));
        // No operations: the whole difference, not a division by zero.
        assert_eq!(after.per_operation(&before, 0), (200.0, 4_000.0, 60.0));
    }
}
