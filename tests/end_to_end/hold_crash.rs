//! Crash test of the hold path (issue 24, DESIGN §4; short form): two allocation replicas (`omni serve
//! allocation`) on a PostgreSQL cluster and a Redis of the test's own, 20 SKUs × 2 locations × 5 units plus one
//! hot SKU, 32 clients holding, releasing, committing and asking again with the same id, with short TTLs so the
//! sweeper expires holds, while every 2–5 s one fault strikes, each kind in turn: `kill -9` of a replica (started
//! again), Redis killed and started again empty, every database connection cut at once (transactions aborted
//! mid-way, commits whose answer is lost), `FLUSHALL`, or PostgreSQL stopped as a crash stops it
//! (`pg_ctl stop -m immediate`) and started again. Failpoints
//! (`omni_allocation::failpoints`) widen the window between a snapshot's two reads of the ledger on both replicas,
//! and end the second replica now and then between Redis and the database (it is started again). Then, with every
//! fault over:
//!
//! - **no acknowledged hold lost**: every hold a client saw held has its row, every acknowledged commit is
//!   `committed` and every acknowledged release `released`, and the ledger counts every acknowledged commit;
//! - **no unit oversold**: replaying what the clients saw in time order (a hold counts from its acknowledgement until
//!   its end was asked or it lapsed, a commit's units leave stock once acknowledged), the units held at a location
//!   never exceed its stock; and nothing is held beyond on-hand in the ledger;
//! - **Redis equals the ledger** once the holds have lapsed and the reconciler ran;
//! - **no id held twice**: asked again, a held id answers the hold it made (200), never a second one (201).

use std::collections::BTreeMap;
use std::process::Child;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};
use omni_contracts::Envelope;
use omni_contracts::events::CatalogEvent;
use omni_testkit::fixtures::{sku, store};
use omni_testkit::testing::eventually;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};

use crate::processes::{Backends, PrivatePostgres, ScratchDir, free_port, kill_hard, start_omni_with, tail};

const ADMIN: &str = "hold-crash-admin-key-0123456789";
const LOCATIONS: [&str; 2] = ["CRASH-A", "CRASH-B"];
const SKUS: usize = 20;
const HOT: &str = "CRASH-HOT";
const UNITS: i64 = 5;
const CLIENTS: usize = 32;
/// How long the clients and the faults run.
const RUN: Duration = Duration::from_secs(40);
const KEY_PREFIX: &str = "hold-crash";

fn sku_name(n: usize) -> String {
    format!("CRASH-{n:02}")
}

fn every_sku() -> Vec<String> {
    (0..SKUS).map(sku_name).chain([HOT.to_owned()]).collect()
}

/// A Redis of the test's own (no persistence: started again, it is empty), on a fixed port.
struct PrivateRedis {
    bin: String,
    port: u16,
    log: std::path::PathBuf,
    child: Option<Child>,
}

impl PrivateRedis {
    fn start(&mut self) -> anyhow::Result<()> {
        let out = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)?;
        let child = std::process::Command::new(&self.bin)
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .stdin(std::process::Stdio::null())
            .stdout(out.try_clone()?)
            .stderr(out)
            .spawn()
            .with_context(|| format!("starting {}", self.bin))?;
        self.child = Some(child);
        Ok(())
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    async fn ready(&self) -> anyhow::Result<()> {
        let client = redis::Client::open(self.url())?;
        eventually("the test's Redis to answer", Duration::from_secs(20), || async {
            let Ok(mut conn) = client.get_multiplexed_async_connection().await else {
                return Ok(None);
            };
            let pong: redis::RedisResult<String> = redis::cmd("PING").query_async(&mut conn).await;
            Ok(pong.ok().map(|_| ()))
        })
        .await
    }

    fn kill(&mut self) -> anyhow::Result<()> {
        if let Some(mut child) = self.child.take() {
            kill_hard(&mut child)?;
        }
        Ok(())
    }

    async fn flush_all(&self) -> anyhow::Result<()> {
        let client = redis::Client::open(self.url())?;
        let mut conn = client.get_multiplexed_async_connection().await?;
        let _: () = redis::cmd("FLUSHALL").query_async(&mut conn).await?;
        Ok(())
    }
}

impl Drop for PrivateRedis {
    fn drop(&mut self) {
        let _ = self.kill();
    }
}

/// One allocation replica.
struct Replica {
    config: std::path::PathBuf,
    log: std::path::PathBuf,
    port: u16,
    /// Its failpoints (`OMNI_FAILPOINTS`), empty for none.
    failpoints: String,
    child: Option<Child>,
}

impl Replica {
    fn base(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    async fn start(&mut self) -> anyhow::Result<()> {
        let mut child = start_omni_with(
            &["serve", "allocation"],
            &self.config,
            &self.log,
            &[(omni_allocation::failpoints::ENV, &self.failpoints)],
        )?;
        let ready =
            crate::processes::ready(&self.base(), "/health/live", &mut child, "omni serve allocation").await;
        self.child = Some(child);
        ready.with_context(|| tail(&self.log, 30))
    }

    fn kill(&mut self) -> anyhow::Result<()> {
        if let Some(mut child) = self.child.take() {
            kill_hard(&mut child)?;
        }
        Ok(())
    }

    /// Starts it again after a kill or a crash; a start that a failpoint ends before it is ready (the sweeper, say,
    /// struck one) is counted and made again, at most 10 times.
    async fn restart(&mut self, faults: &mut BTreeMap<&str, u32>) -> anyhow::Result<()> {
        let mut attempts = 0;
        loop {
            attempts += 1;
            match self.start().await {
                Ok(()) => return Ok(()),
                Err(_) if attempts < 10 && self.crashed()? => {
                    *faults.entry("replica crashed at a failpoint").or_default() += 1;
                    self.child = None;
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Whether it ended on its own (a failpoint crashed it).
    fn crashed(&mut self) -> anyhow::Result<bool> {
        Ok(match &mut self.child {
            Some(child) => child.try_wait()?.is_some(),
            None => false,
        })
    }
}

impl Drop for Replica {
    fn drop(&mut self) {
        let _ = self.kill();
    }
}

/// What the clients saw, in time order as they saw it.
#[derive(Debug, Default)]
struct Seen {
    holds: Vec<SeenHold>,
    /// Ids answered 201 a second time.
    twice: Vec<String>,
}

#[derive(Debug, Clone)]
struct SeenHold {
    id: String,
    location: String,
    sku: String,
    quantity: i64,
    /// When its placement was first asked, and how long it lasts from then at least.
    asked: Instant,
    ttl: Duration,
    /// When a client saw it held.
    acknowledged: Instant,
    /// Its end as asked: when, how, and when it was acknowledged (`None`: never, or refused: it lapsed).
    end: Option<(Instant, Ending, Option<Instant>)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ending {
    Released,
    Committed,
}

/// Calls one replica after the other until one answers other than 5xx (a replica killed, Redis down, a rebuild
/// under way), for at most 15 s; `None` if none did.
async fn call(
    http: &reqwest::Client,
    bases: &[String],
    method: reqwest::Method,
    path: &str,
    body: Option<&Value>,
    rng: &mut rand::rngs::StdRng,
) -> anyhow::Result<Option<(u16, Value)>> {
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(15) {
        let base = &bases[rng.random_range(0..bases.len())];
        let mut request = http
            .request(method.clone(), format!("{base}{path}"))
            .bearer_auth(ADMIN);
        if let Some(body) = body {
            request = request.json(body);
        }
        if let Ok(answer) = request.send().await {
            let status = answer.status().as_u16();
            if status < 500 {
                let body = answer.json::<Value>().await.unwrap_or(Value::Null);
                return Ok(Some((status, body)));
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Ok(None)
}

/// Asks for the hold `body` (`POST /v1/reservations`) as [`call`] does.
async fn ask_hold(
    http: &reqwest::Client,
    bases: &[String],
    body: &Value,
    rng: &mut rand::rngs::StdRng,
) -> anyhow::Result<Option<(u16, Value)>> {
    call(
        http,
        bases,
        reqwest::Method::POST,
        "/v1/reservations",
        Some(body),
        rng,
    )
    .await
}

/// One client until `until`: holds one line at a random location, sometimes asks again with the same id, then
/// releases, commits or lets it lapse.
async fn client(
    n: usize,
    bases: Arc<[String]>,
    until: Instant,
    seen: Arc<Mutex<Seen>>,
) -> anyhow::Result<()> {
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()?;
    let mut rng = rand::rngs::StdRng::seed_from_u64(20261207 + n as u64);
    let skus = every_sku();
    while Instant::now() < until {
        let id = uuid::Uuid::now_v7().to_string();
        let location = LOCATIONS[rng.random_range(0..LOCATIONS.len())];
        let sku = if rng.random_bool(0.3) {
            HOT.to_owned()
        } else {
            skus[rng.random_range(0..SKUS)].clone()
        };
        let quantity = rng.random_range(1..=2);
        let ttl = rng.random_range(1..=3u64);
        let body = json!({
            "reservation_id": id, "location_id": location, "channel": "web",
            "lines": [{ "sku": sku, "quantity": quantity }], "ttl_seconds": ttl,
        });
        let asked = Instant::now();
        let Some((status, answer)) = ask_hold(&http, &bases, &body, &mut rng).await? else {
            continue;
        };
        let acknowledged = Instant::now();
        match status {
            // Placed now, or (asked again after a lost answer) placed before: either way held if it says so.
            201 | 200 if answer["status"] == "held" => {}
            200 | 201 | 409 | 422 => continue,
            other => bail!("a hold was answered {other}: {answer}"),
        }
        let mut hold = SeenHold {
            id: id.clone(),
            location: location.to_owned(),
            sku,
            quantity,
            asked,
            ttl: Duration::from_secs(ttl),
            acknowledged,
            end: None,
        };
        if rng.random_bool(0.2) {
            let again = ask_hold(&http, &bases, &body, &mut rng).await?;
            if let Some((201, _)) = again {
                seen.lock()
                    .map_err(|_| anyhow::anyhow!("poisoned"))?
                    .twice
                    .push(id.clone());
            }
        }
        let (method, path, how) = match rng.random_range(0..10) {
            0..=3 => (
                reqwest::Method::DELETE,
                format!("/v1/reservations/{id}"),
                Ending::Released,
            ),
            4..=6 => (
                reqwest::Method::POST,
                format!("/v1/reservations/{id}/commit"),
                Ending::Committed,
            ),
            _ => {
                seen.lock()
                    .map_err(|_| anyhow::anyhow!("poisoned"))?
                    .holds
                    .push(hold);
                tokio::time::sleep(Duration::from_secs(ttl)).await;
                continue;
            }
        };
        let sent = Instant::now();
        let ended = call(&http, &bases, method, &path, None, &mut rng).await?;
        let acknowledged = match ended {
            Some((200, answer)) => {
                let status = answer["status"].as_str().unwrap_or_default();
                let expected = match how {
                    Ending::Released => "released",
                    Ending::Committed => "committed",
                };
                // Released after it lapsed answers `expired`: not this client's release.
                (status == expected).then(Instant::now)
            }
            Some((404, answer)) => bail!("a hold acknowledged to {n} is unknown: {id} {answer}"),
            _ => None,
        };
        hold.end = Some((sent, how, acknowledged));
        seen.lock()
            .map_err(|_| anyhow::anyhow!("poisoned"))?
            .holds
            .push(hold);
    }
    Ok(())
}

/// Replays what the clients saw: at every acknowledged hold, the units held at its location (acknowledged, not yet
/// asked to end, not lapsed) are at most its stock (less the commits acknowledged before). Every interval is
/// within the hold's true one, so a breach is a real oversell.
fn oversold(holds: &[SeenHold]) -> Vec<String> {
    #[derive(Clone, Copy)]
    enum Step {
        End(i64),
        Leave(i64),
        Start(i64),
    }
    /// When, in which order among steps at the same instant, what, and of which hold.
    type Timed<'a> = (Instant, u8, Step, &'a str);
    let mut steps: BTreeMap<(String, String), Vec<Timed<'_>>> = BTreeMap::new();
    for h in holds {
        let lapses = h.asked + h.ttl;
        let end = h.end.map_or(lapses, |(sent, _, _)| sent.min(lapses));
        let key = (h.location.clone(), h.sku.clone());
        let entry = steps.entry(key).or_default();
        if end > h.acknowledged {
            entry.push((h.acknowledged, 2, Step::Start(h.quantity), h.id.as_str()));
            entry.push((end, 0, Step::End(h.quantity), h.id.as_str()));
        }
        if let Some((_, Ending::Committed, Some(at))) = h.end {
            entry.push((at, 1, Step::Leave(h.quantity), h.id.as_str()));
        }
    }
    let mut breaches = Vec::new();
    for ((location, sku), mut steps) in steps {
        steps.sort_by_key(|(at, order, _, _)| (*at, *order));
        let (mut held, mut stock) = (0i64, UNITS);
        for (_, _, step, id) in steps {
            match step {
                Step::End(q) => held -= q,
                Step::Leave(q) => stock -= q,
                Step::Start(q) => {
                    held += q;
                    if held > stock {
                        breaches.push(format!(
                            "{sku} at {location}: {held} held of {stock} by hold {id}"
                        ));
                    }
                }
            }
        }
    }
    breaches
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn holds_survive_kills_an_emptied_redis_and_never_oversell() -> anyhow::Result<()> {
    omni_telemetry::init_for_tests();
    let bin = std::env::var("OMNI_REDIS_SERVER_BIN")
        .context("OMNI_REDIS_SERVER_BIN is not set: run the suite with scripts/test.sh")?;
    let backends = Backends::new()?;
    let dir = ScratchDir::new("hold-crash")?;
    let mut redis = PrivateRedis {
        bin,
        port: free_port()?,
        log: dir.join("redis.log"),
        child: None,
    };
    redis.start()?;
    redis.ready().await?;
    let mut postgres = PrivatePostgres::create(&dir.join("postgres"))?;
    let mut replicas = Vec::new();
    for n in 0..2 {
        let port = free_port()?;
        let config = dir.join(&format!("allocation-{n}.toml"));
        std::fs::write(
            &config,
            format!(
                "[http.ports]\nallocation = {port}\n\n{backends}\
                 [redis]\nurl = \"{redis}\"\nkey_prefix = \"{KEY_PREFIX}\"\n\n\
                 [reservations]\nttl_seconds = 900\nreconcile_interval_seconds = 2\n\n\
                 [[auth.api_keys]]\nkey = \"{ADMIN}\"\nname = \"crash-admin\"\nroles = [\"admin\"]\n",
                backends = backends.toml_on(&postgres.url(), 6_000),
                redis = redis.url(),
            ),
        )?;
        replicas.push(Replica {
            config,
            log: dir.join(&format!("allocation-{n}.log")),
            port,
            failpoints: failpoints(n),
            child: None,
        });
    }
    for replica in &mut replicas {
        replica.start().await?;
    }
    let outcome = crash_run(&backends, &mut redis, &mut postgres, &mut replicas).await;
    let logs: String = replicas
        .iter()
        .map(|r| format!("\n--- {}:\n{}", r.log.display(), tail(&r.log, 40)))
        .collect();
    outcome.with_context(|| logs)
}

async fn crash_run(
    backends: &Backends,
    redis: &mut PrivateRedis,
    postgres: &mut PrivatePostgres,
    replicas: &mut [Replica],
) -> anyhow::Result<()> {
    // Allocation learns locations and SKUs from the catalog topic, as in production; then the stock arrives.
    let settings = &backends.settings;
    let metrics = omni_telemetry::Metrics::new("hold-crash")?;
    let kafka = omni_kafka::Kafka::new(&settings.kafka, &settings.kafka.bootstrap_servers);
    let producer = kafka.producer(&metrics)?;
    for location in LOCATIONS {
        producer
            .publish(&Envelope::new(
                "catalog",
                CatalogEvent::LocationUpserted(store(location).build()?),
            ))
            .await?;
    }
    for name in every_sku() {
        producer
            .publish(&Envelope::new("catalog", CatalogEvent::SkuUpserted(sku(&name)?)))
            .await?;
    }
    let allocation = omni_testkit::Client::new(replicas[0].base(), ADMIN);
    for location in LOCATIONS {
        for name in every_sku() {
            omni_testkit::testing::receive_stock(&allocation, location, &name, UNITS).await?;
        }
    }

    let bases: Arc<[String]> = replicas.iter().map(Replica::base).collect();
    let seen = Arc::new(Mutex::new(Seen::default()));
    let until = Instant::now() + RUN;
    let mut clients = tokio::task::JoinSet::new();
    for n in 0..CLIENTS {
        clients.spawn(client(n, bases.clone(), until, seen.clone()));
    }
    // The faults, one every 2–5 s, until the clients stop, each kind in turn.
    let mut rng = rand::rngs::StdRng::seed_from_u64(24);
    let mut faults: BTreeMap<&str, u32> = BTreeMap::new();
    let mut turn = 0;
    while Instant::now() + Duration::from_secs(5) < until {
        let next = Instant::now() + Duration::from_millis(rng.random_range(2_000..5_000));
        while Instant::now() < next {
            tokio::time::sleep(Duration::from_millis(100)).await;
            restart_crashed(replicas, &mut faults).await?;
        }
        turn += 1;
        match turn % 5 {
            0 => {
                let n = rng.random_range(0..replicas.len());
                replicas[n].kill()?;
                tokio::time::sleep(Duration::from_millis(300)).await;
                replicas[n].restart(&mut faults).await?;
                *faults.entry("replica killed").or_default() += 1;
            }
            2 => {
                cut_database_connections(&postgres.url()).await?;
                *faults.entry("database connections cut").or_default() += 1;
            }
            4 => {
                postgres.stop_immediately()?;
                tokio::time::sleep(Duration::from_millis(300)).await;
                postgres.start()?;
                *faults.entry("database stopped at once and started").or_default() += 1;
            }
            1 => {
                redis.kill()?;
                tokio::time::sleep(Duration::from_millis(300)).await;
                redis.start()?;
                redis.ready().await?;
                *faults.entry("redis restarted empty").or_default() += 1;
            }
            _ => {
                redis.flush_all().await?;
                *faults.entry("flushall").or_default() += 1;
            }
        }
    }
    while let Some(done) = clients.join_next().await {
        done??;
    }
    restart_crashed(replicas, &mut faults).await?;
    let seen = std::mem::take(&mut *seen.lock().map_err(|_| anyhow::anyhow!("poisoned"))?);
    tracing::info!(
        ?faults,
        struck = ?failpoints_struck(replicas)?,
        holds = seen.holds.len(),
        "Hold crash run over; checking."
    );
    for kind in [
        "replica killed",
        "database connections cut",
        "database stopped at once and started",
        "redis restarted empty",
        "flushall",
    ] {
        ensure!(faults.contains_key(kind), "{kind} never struck: {faults:?}");
    }
    ensure!(
        seen.holds.len() >= 100,
        "only {} holds were acknowledged",
        seen.holds.len()
    );

    // No id held twice.
    ensure!(seen.twice.is_empty(), "ids answered 201 twice: {:?}", seen.twice);

    // No acknowledged hold lost.
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()?;
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    let mut committed: BTreeMap<(String, String), i64> = BTreeMap::new();
    for hold in &seen.holds {
        let path = format!("/v1/reservations/{}", hold.id);
        let (status, now) = call(
            &http,
            &bases_of(replicas),
            reqwest::Method::GET,
            &path,
            None,
            &mut rng,
        )
        .await?
        .context("no replica answers")?;
        ensure!(
            status == 200,
            "acknowledged hold {} is lost: {status} {now}",
            hold.id
        );
        if let Some((_, how, Some(_))) = hold.end {
            let want = match how {
                Ending::Released => "released",
                Ending::Committed => "committed",
            };
            ensure!(
                now["status"] == want,
                "hold {} was acknowledged {want}, is {now}",
                hold.id
            );
            if how == Ending::Committed {
                *committed
                    .entry((hold.location.clone(), hold.sku.clone()))
                    .or_default() += hold.quantity;
            }
        }
    }

    // No unit oversold, as the clients saw it.
    let breaches = oversold(&seen.holds);
    ensure!(breaches.is_empty(), "oversold: {breaches:#?}");

    // Every hold lapses; then the ledger holds nothing, counts every acknowledged commit, and Redis equals it.
    let allocation = omni_testkit::Client::new(replicas[0].base(), ADMIN);
    let mut ledger: BTreeMap<(String, String), i64> = BTreeMap::new();
    for name in every_sku() {
        let levels = eventually(
            &format!("every hold of {name} to lapse"),
            Duration::from_secs(30),
            || async {
                let answer = allocation.get(&format!("/v1/availability/{name}")).await?.body;
                let locations = answer["locations"].as_array().cloned().unwrap_or_default();
                let idle = locations.iter().all(|l| l["reserved"] == 0);
                Ok(idle.then_some(locations))
            },
        )
        .await?;
        for level in levels {
            let location = level["location_id"].as_str().unwrap_or_default().to_owned();
            let on_hand = level["on_hand"].as_i64().unwrap_or(-1);
            let acknowledged = committed
                .get(&(location.clone(), name.clone()))
                .copied()
                .unwrap_or(0);
            ensure!(
                (0..=UNITS - acknowledged).contains(&on_hand),
                "{name} at {location}: {on_hand} on hand after {acknowledged} acknowledged commits of {UNITS}"
            );
            ledger.insert((location, name.clone()), on_hand);
        }
    }
    let client = redis::Client::open(redis.url())?;
    eventually("Redis to equal the ledger", Duration::from_secs(30), || async {
        let mut conn = client.get_multiplexed_async_connection().await?;
        for location in LOCATIONS {
            let on_hand: BTreeMap<String, i64> = redis::cmd("HGETALL")
                .arg(format!("{KEY_PREFIX}:{{{location}}}:onhand"))
                .query_async(&mut conn)
                .await?;
            let reserved: BTreeMap<String, i64> = redis::cmd("HGETALL")
                .arg(format!("{KEY_PREFIX}:{{{location}}}:reserved"))
                .query_async(&mut conn)
                .await?;
            for name in every_sku() {
                let want = ledger
                    .get(&(location.to_owned(), name.clone()))
                    .copied()
                    .unwrap_or(0);
                if on_hand.get(&name).copied().unwrap_or(0) != want
                    || reserved.get(&name).copied().unwrap_or(0) != 0
                {
                    return Ok(None);
                }
            }
        }
        Ok(Some(()))
    })
    .await?;
    Ok(())
}

/// The failpoints of replica `n`: every snapshot of the ledger pauses between its two reads (widening the window
/// a change must not slip through), and the second replica dies now and then between Redis and the database: after
/// the store held and before the ledger recorded, after the ledger recorded and before the answer, after the
/// ledger ended a hold and before the store followed, and after a load filled the store and before its generation
/// committed.
fn failpoints(n: usize) -> String {
    use omni_allocation::failpoints as fp;
    let mut armed = vec![format!("{}=sleep(50)", fp::SNAPSHOT_BETWEEN_READS)];
    if n == 1 {
        armed.extend([
            format!("{}=1%return(crash)", fp::HOLD_BETWEEN_STORE_AND_LEDGER),
            format!("{}=1%return(crash)", fp::HOLD_BETWEEN_LEDGER_AND_ANSWER),
            format!("{}=2%return(crash)", fp::END_BETWEEN_LEDGER_AND_STORE),
            format!("{}=30%return(crash)", fp::LOAD_BETWEEN_STORE_AND_COMMIT),
        ]);
    }
    armed.join(";")
}

/// How many times each failpoint ended a replica, from their logs.
fn failpoints_struck(replicas: &[Replica]) -> anyhow::Result<BTreeMap<String, u32>> {
    let mut struck = BTreeMap::new();
    for replica in replicas {
        let log = std::fs::read_to_string(&replica.log)?;
        for line in log.lines() {
            if let Some(name) = line
                .strip_prefix("failpoint ")
                .and_then(|rest| rest.strip_suffix(": the process ends here"))
            {
                *struck.entry(name.to_owned()).or_default() += 1;
            }
        }
    }
    Ok(struck)
}

/// Starts again every replica a failpoint ended, counting them by the failpoint each names in its log.
async fn restart_crashed(replicas: &mut [Replica], faults: &mut BTreeMap<&str, u32>) -> anyhow::Result<()> {
    for replica in replicas.iter_mut() {
        if replica.crashed()? {
            *faults.entry("replica crashed at a failpoint").or_default() += 1;
            replica.child = None;
            replica.restart(faults).await?;
        }
    }
    Ok(())
}

/// Terminates every other connection to the run's database (the replicas' pools), as a PostgreSQL restart would.
async fn cut_database_connections(url: &str) -> anyhow::Result<()> {
    use diesel::{Connection, RunQueryDsl};
    let url = url.to_owned();
    tokio::task::spawn_blocking(move || -> anyhow::Result<()> {
        let mut conn = diesel::PgConnection::establish(&url)?;
        diesel::sql_query(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
             WHERE datname = current_database() AND pid <> pg_backend_pid()",
        )
        .execute(&mut conn)?;
        Ok(())
    })
    .await?
}

fn bases_of(replicas: &[Replica]) -> Vec<String> {
    replicas.iter().map(Replica::base).collect()
}
