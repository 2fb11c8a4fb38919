//! The oversell invariant on real PostgreSQL, Redis and Kafka: 64 concurrent clients hold 1–3 units on 1–3
//! lines across 20 SKUs × 2 locations (50 units each), and release or commit many of their holds while 8 tills
//! sell single units (a `pos` hold committed at once), while this
//! test's own Redis is killed (`kill -9`) and restarted empty twice. At every check and at the end: nothing is
//! held or committed beyond what was received, every acknowledged hold is in PostgreSQL, and Redis equals the
//! ledger once the load stops.

use omni_testkit::Service;
use omni_testkit::fixtures::store;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, ensure};
use omni_db::testing::{Backend, TestDatabase};
use omni_testkit::testing::{
    ADMIN_KEY, eventually, isolate_kafka, kafka_bootstrap, receive_stock, settings, unique_prefix,
};
use omni_testkit::{Client, DbBackend, HoldsBackend, KafkaBackend, Mesh, MeshOptions};
use rand::Rng;
use serde_json::json;

const CLIENTS: usize = 64;
const HOLDS_PER_CLIENT: usize = 20;
const SKUS: usize = 20;
const LOCATIONS: [&str; 2] = ["L1", "L2"];
const UNITS: i64 = 50;
const TILLS: usize = 8;
const SALES_PER_TILL: usize = 20;

/// A redis-server of this test's own, on a free port, that can be killed and restarted empty.
struct OwnRedis {
    port: u16,
    dir: std::path::PathBuf,
    child: Option<Child>,
}

impl OwnRedis {
    fn start() -> anyhow::Result<Self> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let dir = std::env::temp_dir().join(format!("omni-redis-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir)?;
        let mut redis = Self {
            port,
            dir,
            child: None,
        };
        redis.spawn()?;
        Ok(redis)
    }

    fn spawn(&mut self) -> anyhow::Result<()> {
        let bin = std::env::var("OMNI_REDIS_SERVER_BIN").unwrap_or_else(|_| "redis-server".into());
        let child = Command::new(bin)
            .args([
                "--port",
                &self.port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .arg("--dir")
            .arg(&self.dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("cannot start redis-server (set OMNI_REDIS_SERVER_BIN)")?;
        self.child = Some(child);
        let started = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            ensure!(
                started.elapsed() < Duration::from_secs(10),
                "redis-server did not start"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(())
    }

    /// `kill -9`, then a new, empty server on the same port.
    fn crash_and_restart(&mut self) -> anyhow::Result<()> {
        if let Some(mut child) = self.child.take() {
            child.kill()?;
            child.wait()?;
        }
        self.spawn()
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }
}

impl Drop for OwnRedis {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Units held or committed beyond what was received, over every SKU and location (from PostgreSQL).
async fn oversold(allocation: &Client) -> anyhow::Result<i64> {
    let mut oversold = 0;
    for sku in 0..SKUS {
        let answer = allocation.get(&format!("/v1/availability/SKU-{sku}")).await?;
        ensure!(answer.status == 200, "{answer:?}");
        for at in answer.body["locations"].as_array().context("locations")? {
            let (on_hand, reserved) = (
                at["on_hand"].as_i64().unwrap_or(0),
                at["reserved"].as_i64().unwrap_or(0),
            );
            oversold += (reserved - on_hand).max(0) + (-on_hand).max(0);
        }
    }
    Ok(oversold)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_holds_never_oversell_even_when_redis_restarts_empty_twice() -> anyhow::Result<()> {
    omni_telemetry::init_for_tests();
    let bootstrap = kafka_bootstrap()
        .context("OMNI_TEST_KAFKA_BOOTSTRAP is not set: run the suite with scripts/test.sh")?;
    let database = TestDatabase::create(Backend::Postgres)?;
    let mut redis = OwnRedis::start()?;
    let mut settings = settings();
    isolate_kafka(&mut settings);
    let prefix = unique_prefix();
    let mesh = Mesh::start(MeshOptions {
        settings,
        kafka: KafkaBackend::External(bootstrap),
        db: DbBackend::Postgres(database.url.clone()),
        holds: HoldsBackend::Redis {
            url: redis.url(),
            prefix: prefix.clone(),
        },
        ephemeral_ports: true,
        services: vec![Service::Catalog, Service::Allocation],
    })
    .await?;
    let result = run_load(&mesh, &mut redis, &prefix).await;
    let stopped = mesh.stop().await;
    result?;
    stopped
}

async fn run_load(mesh: &Mesh, redis: &mut OwnRedis, prefix: &str) -> anyhow::Result<()> {
    let catalog = mesh.client(Service::Catalog, ADMIN_KEY);
    let allocation = mesh.client(Service::Allocation, ADMIN_KEY);
    for location in LOCATIONS {
        let body = store(location).build()?;
        ensure!(catalog.post("/v1/locations", &body, &[]).await?.status == 201);
    }
    for sku in 0..SKUS {
        ensure!(
            catalog
                .post(
                    "/v1/skus",
                    &json!({ "sku": format!("SKU-{sku}"), "title": "x" }),
                    &[]
                )
                .await?
                .status
                == 201
        );
        for location in LOCATIONS {
            receive_stock(&allocation, location, &format!("SKU-{sku}"), UNITS).await?;
        }
    }

    let done = Arc::new(AtomicUsize::new(0));
    let acknowledged = Arc::new(tokio::sync::Mutex::new(Vec::<String>::new()));
    let mut clients = tokio::task::JoinSet::new();
    for _ in 0..CLIENTS {
        let (allocation, done, acknowledged) = (allocation.clone(), done.clone(), acknowledged.clone());
        clients.spawn(async move {
            for _ in 0..HOLDS_PER_CLIENT {
                let (id, body, then) = {
                    let mut rng = rand::rng();
                    let mut skus: Vec<usize> = (0..SKUS).collect();
                    let lines: Vec<_> = (0..rng.random_range(1..=3))
                        .map(|_| {
                            let sku = skus.swap_remove(rng.random_range(0..skus.len()));
                            json!({ "sku": format!("SKU-{sku}"), "quantity": rng.random_range(1..=3) })
                        })
                        .collect();
                    let id = uuid::Uuid::now_v7().to_string();
                    let location = LOCATIONS[rng.random_range(0..LOCATIONS.len())];
                    let body = json!({ "reservation_id": id, "location_id": location, "channel": "web", "lines": lines, "ttl_seconds": 600 });
                    (id, body, rng.random_range(0..10))
                };
                if let Ok(answer) = allocation.post("/v1/reservations", &body, &[]).await
                    && answer.status == 201
                {
                    acknowledged.lock().await.push(id.clone());
                    match then {
                        0..=3 => drop(allocation.delete_path(&format!("/v1/reservations/{id}")).await),
                        4..=6 => drop(allocation.post(&format!("/v1/reservations/{id}/commit"), &json!({}), &[]).await),
                        _ => {}
                    }
                }
                done.fetch_add(1, Ordering::SeqCst);
            }
        });
    }

    // Tills at both stores sell single units at the same time, the way an integrated POS does: a hold on the
    // `pos` channel, committed at payment, so a till never sells a unit held for someone else.
    let pos_sold = Arc::new(AtomicUsize::new(0));
    for till in 0..TILLS {
        let (allocation, pos_sold) = (allocation.clone(), pos_sold.clone());
        clients.spawn(async move {
            for _ in 0..SALES_PER_TILL {
                let (id, body) = {
                    let mut rng = rand::rng();
                    let id = uuid::Uuid::now_v7().to_string();
                    let sku = format!("SKU-{}", rng.random_range(0..SKUS));
                    let body = json!({ "reservation_id": id, "location_id": LOCATIONS[till % LOCATIONS.len()],
                        "channel": "pos", "lines": [{ "sku": sku, "quantity": 1 }], "ttl_seconds": 60 });
                    (id, body)
                };
                if let Ok(answer) = allocation.post("/v1/reservations", &body, &[]).await
                    && answer.status == 201
                    && let Ok(sold) = allocation
                        .post(&format!("/v1/reservations/{id}/commit"), &json!({}), &[])
                        .await
                    && sold.status == 200
                {
                    pos_sold.fetch_add(1, Ordering::SeqCst);
                }
            }
        });
    }

    // A checker samples the invariant while the load runs; Redis is killed at a third and two thirds.
    let total = CLIENTS * HOLDS_PER_CLIENT;
    let finished = Arc::new(AtomicBool::new(false));
    let checker = {
        let (allocation, finished) = (allocation.clone(), finished.clone());
        tokio::spawn(async move {
            let mut worst = 0;
            let mut checks = 0;
            while !finished.load(Ordering::SeqCst) {
                if let Ok(over) = oversold(&allocation).await {
                    worst = worst.max(over);
                    checks += 1;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            (worst, checks)
        })
    };
    let mut rebuilds = Vec::new();
    for threshold in [total / 3, 2 * total / 3] {
        while done.load(Ordering::SeqCst) < threshold {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        redis.crash_and_restart()?;
        let restarted = Instant::now();
        let probe = redis::Client::open(redis.url())?;
        eventually(
            "the hold store to be rebuilt after the restart",
            Duration::from_secs(60),
            || {
                let probe = probe.clone();
                let key = format!("{prefix}:generation");
                async move {
                    let mut conn = probe.get_multiplexed_async_connection().await?;
                    let generation: Option<String> =
                        redis::cmd("GET").arg(&key).query_async(&mut conn).await?;
                    Ok(generation.map(|_| ()))
                }
            },
        )
        .await?;
        rebuilds.push(restarted.elapsed());
    }
    while clients.join_next().await.is_some() {}
    finished.store(true, Ordering::SeqCst);
    let (worst, checks) = checker.await?;
    let pos_sold = pos_sold.load(Ordering::SeqCst);
    println!(
        "oversell: {checks} checks during the run, worst {worst} units, {pos_sold} POS sales; rebuilds after restart took {rebuilds:?}"
    );
    ensure!(pos_sold > 0, "the tills sold something");
    ensure!(worst == 0, "units oversold during the run: {worst}");
    ensure!(oversold(&allocation).await? == 0, "units oversold at the end");

    let acknowledged = acknowledged.lock().await.clone();
    ensure!(
        acknowledged.len() > total / 4,
        "the load did place holds: {}",
        acknowledged.len()
    );
    for id in &acknowledged {
        let hold = allocation.get(&format!("/v1/reservations/{id}")).await?;
        ensure!(
            hold.status == 200,
            "acknowledged hold {id} is in PostgreSQL: {hold:?}"
        );
    }

    // Once the load stops, Redis equals the ledger, SKU by SKU and location by location.
    let mut conn = redis::Client::open(redis.url())?
        .get_multiplexed_async_connection()
        .await?;
    for sku in 0..SKUS {
        let answer = allocation.get(&format!("/v1/availability/SKU-{sku}")).await?;
        for at in answer.body["locations"].as_array().context("locations")? {
            let location = at["location_id"].as_str().unwrap_or_default();
            let field = format!("SKU-{sku}");
            let on_hand: Option<i64> = redis::cmd("HGET")
                .arg(format!("{prefix}:{{{location}}}:onhand"))
                .arg(&field)
                .query_async(&mut conn)
                .await?;
            let reserved: Option<i64> = redis::cmd("HGET")
                .arg(format!("{prefix}:{{{location}}}:reserved"))
                .arg(&field)
                .query_async(&mut conn)
                .await?;
            ensure!(
                on_hand.unwrap_or(0) == at["on_hand"].as_i64().unwrap_or(-1)
                    && reserved.unwrap_or(0) == at["reserved"].as_i64().unwrap_or(-1),
                "Redis ({on_hand:?}, {reserved:?}) differs from the ledger {at} for {field} at {location}"
            );
        }
    }
    Ok(())
}
