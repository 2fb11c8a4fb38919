//! `omni-loadtest reservations`: 3-line checkout holds/s through allocation, against raw Redis running the same
//! script and against a PostgreSQL row-lock allocation, on one hot SKU and on random SKUs, from one run.

pub(crate) mod allocation;
pub(crate) mod raw_redis;
pub(crate) mod rowlock;

use omni_testkit::Service;
use std::path::PathBuf;

use anyhow::ensure;
use rand::Rng;

use crate::BackendArgs;
use crate::backends::{DbActivity, RunBackends, analyze, seed};
use crate::stats::{CpuMeter, ratio, verdict};

/// The one store every hold is placed at (so the hot SKU is one stock row, one Redis field).
pub(crate) const LOCATION: &str = "LT-1";
/// The SKU every hold of the hot shape takes.
pub(crate) const HOT_SKU: &str = "LT-HOT";
/// SKUs are this prefix and 12 digits: what redis-benchmark makes of `LT-__rand_int__`.
pub(crate) const SKU_PREFIX: &str = "LT-";
/// Units received of each SKU at the store (the most one movement may carry).
const UNITS: i64 = 1_000_000;
/// Goal: allocation ÷ raw Redis EVALSHA.
const GOAL_RAW_REDIS: f64 = 0.5;

/// The name of the `i`-th SKU, exactly as redis-benchmark expands `LT-__rand_int__`.
pub(crate) fn sku_name(i: u32) -> String {
    format!("{SKU_PREFIX}{i:012}")
}

/// Which SKUs a hold takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Shape {
    /// Every hold takes the hot SKU plus two random ones: all clients contend for one stock row.
    Hot,
    /// Three distinct random SKUs per hold.
    Random,
}

impl Shape {
    /// The three SKUs of one hold.
    pub(crate) fn lines(self, rng: &mut impl Rng, skus: u32) -> [String; 3] {
        match self {
            Shape::Hot => {
                let i = allocation::distinct(rng, skus, 2);
                [HOT_SKU.to_owned(), sku_name(i[0]), sku_name(i[1])]
            }
            Shape::Random => {
                let i = allocation::distinct(rng, skus, 3);
                [sku_name(i[0]), sku_name(i[1]), sku_name(i[2])]
            }
        }
    }

    fn name(self) -> &'static str {
        match self {
            Shape::Hot => "hot",
            Shape::Random => "random",
        }
    }

    /// Goal: allocation ÷ row-lock allocation.
    fn rowlock_goal(self) -> f64 {
        match self {
            Shape::Hot => 10.0,
            Shape::Random => 4.0,
        }
    }
}

/// `reservations` flags.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct ReservationArgs {
    /// Concurrent clients on every side: HTTP clients, redis-benchmark connections, PostgreSQL sessions.
    #[arg(long, default_value_t = 32, value_parser = clap::value_parser!(u16).range(1..=256))]
    clients: u16,
    /// Measured seconds of each run (allocation and row-lock, per shape).
    #[arg(long, default_value_t = 15, value_parser = clap::value_parser!(u64).range(1..=600))]
    seconds: u64,
    /// Unmeasured seconds before each measured run (connections, caches, prepared statements).
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u64).range(0..=60))]
    warmup_seconds: u64,
    /// Most holds or transactions one run may issue, whatever --seconds says.
    #[arg(long, default_value_t = 300_000)]
    max_requests: u64,
    /// EVALSHA calls redis-benchmark makes per shape.
    #[arg(long, default_value_t = 300_000, value_parser = clap::value_parser!(u64).range(1..=10_000_000))]
    raw_requests: u64,
    /// SKUs stocked at the store (the random shape takes 3 distinct ones per hold).
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u32).range(3..=100_000))]
    skus: u32,
    /// Percent of placed holds the client releases at once (DELETE); the others are left to expire.
    #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u32).range(0..=100))]
    release_percent: u32,
    /// ttl_seconds of each hold (none expires during the run at the default).
    #[arg(long, default_value_t = 600, value_parser = clap::value_parser!(u32).range(1..=86_400))]
    ttl_seconds: u32,
    /// Allocation's database pool (database.pool_size; 8 is the shipped default).
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u32).range(1..=64))]
    pool_size: u32,
    /// Shapes to run, in order.
    #[arg(long, value_enum, value_delimiter = ',', default_values_t = [Shape::Random, Shape::Hot])]
    shapes: Vec<Shape>,
    /// The redis-benchmark binary.
    #[arg(long, default_value = "/usr/bin/redis-benchmark")]
    redis_benchmark: PathBuf,
}

/// How hard the clients push.
#[derive(Debug, Clone)]
pub(crate) struct Load {
    /// Concurrent clients.
    pub clients: usize,
    /// SKUs to pick from.
    pub skus: u32,
    /// Hold lifetime.
    pub ttl_seconds: u32,
    /// Percent released at once.
    pub release_percent: u32,
    /// Most requests per run.
    pub max_requests: u64,
}

struct Measured<T> {
    run: T,
    cpu: Option<f64>,
    /// PostgreSQL transactions, rows read and rows written per operation (about).
    db: Option<(f64, f64, f64)>,
}

struct ShapeResults {
    shape: Shape,
    omni: Option<Measured<allocation::HoldRun>>,
    raw: Option<Measured<raw_redis::RawRun>>,
    rowlock: Option<Measured<rowlock::RowLockRun>>,
}

fn per_sec<T>(m: &Option<Measured<T>>, f: impl Fn(&T) -> f64) -> Option<f64> {
    m.as_ref().map(|m| f(&m.run))
}

fn cpu(m: Option<f64>) -> String {
    m.map_or_else(|| "n/a".to_owned(), |c| format!("{c:.0} %"))
}

fn db_cost(db: Option<(f64, f64, f64)>, per: &str) -> String {
    db.map_or_else(
        || "n/a".to_owned(),
        |(xacts, read, written)| {
            format!("~{xacts:.0} transactions, ~{read:.0} rows read, ~{written:.0} rows written per {per}")
        },
    )
}

/// PostgreSQL's counters now, if they can be read (the figures are informative, not required).
fn db_activity(url: &str) -> Option<DbActivity> {
    tokio::task::block_in_place(|| DbActivity::read(url))
        .map_err(|e| eprintln!("warning: cannot read pg_stat_database: {e:#}"))
        .ok()
}

/// Runs every side for every shape and prints the figures and ratios.
pub(crate) async fn run(backends: &BackendArgs, args: ReservationArgs) -> anyhow::Result<()> {
    ensure!(
        args.redis_benchmark.exists(),
        "{} not found (--redis-benchmark)",
        args.redis_benchmark.display()
    );
    let load = Load {
        clients: usize::from(args.clients),
        skus: args.skus,
        ttl_seconds: args.ttl_seconds,
        release_percent: args.release_percent,
        max_requests: args.max_requests,
    };
    let run = RunBackends::claim(backends)?;
    let durability = rowlock::synchronous_commit(&run.database.url)?;
    let cores = std::thread::available_parallelism().map_or(0, usize::from);
    println!("== omni-loadtest reservations (run {}) ==", run.run);
    println!("command: {}", std::env::args().collect::<Vec<_>>().join(" "));
    println!(
        "{} clients per side, {} s measured after {} s warm-up, 3 lines x 1 unit per hold at {LOCATION}, {} SKUs; \
         {} % of holds released at once, the rest left to expire (ttl {} s); {cores} cores; \
         synchronous_commit={durability} for allocation and the row-lock baseline alike (one database, \
         ANALYZEd after each warm-up); \
         load average before: {}.",
        load.clients,
        args.seconds,
        args.warmup_seconds,
        args.skus,
        args.release_percent,
        args.ttl_seconds,
        crate::stats::load_average()
    );
    let mut results: Vec<ShapeResults> = args
        .shapes
        .iter()
        .map(|shape| ShapeResults {
            shape: *shape,
            omni: None,
            raw: None,
            rowlock: None,
        })
        .collect();

    // Omni: catalog + allocation on the real backends, stock received through the API.
    eprintln!("starting catalog and allocation (pool {})...", args.pool_size);
    let mesh = run.start_mesh(run.settings(args.pool_size, 10)).await?;
    let mut skus: Vec<String> = (0..args.skus).map(sku_name).collect();
    skus.push(HOT_SKU.to_owned());
    let seeded = seed(&mesh, LOCATION, &skus, UNITS).await;
    let measured = async {
        seeded?;
        for result in &mut results {
            let shape = result.shape;
            if args.warmup_seconds > 0 {
                allocation::run(
                    &mesh.url(Service::Allocation),
                    shape,
                    &load,
                    args.warmup_seconds,
                    &format!("{} warm-up", shape.name()),
                )
                .await?;
            }
            tokio::task::block_in_place(|| analyze(&run.database.url))?;
            let meter = CpuMeter::start();
            let db_before = db_activity(&run.database.url);
            let hold_run = allocation::run(
                &mesh.url(Service::Allocation),
                shape,
                &load,
                args.seconds,
                &format!("{} allocation holds", shape.name()),
            )
            .await?;
            let busy = meter.busy_percent();
            let db = db_before
                .zip(db_activity(&run.database.url))
                .map(|(before, after)| after.per_operation(&before, hold_run.held));
            println!(
                "[{}] allocation: {} holds in {:.1} s = {:.0} holds/s ({} released, {} short, {} failed); \
                 POST latency {}; CPU {}; PostgreSQL {}",
                shape.name(),
                hold_run.held,
                hold_run.elapsed.as_secs_f64(),
                crate::stats::rate(hold_run.held, hold_run.elapsed),
                hold_run.released,
                hold_run.short,
                hold_run.failed,
                hold_run
                    .latency
                    .summary()
                    .map_or_else(|| "n/a".to_owned(), |s| s.to_string()),
                cpu(busy),
                db_cost(db, "hold (its release included)")
            );
            if let Some(e) = &hold_run.first_error {
                println!("[{}] allocation: first unexpected answer: {e}", shape.name());
            }
            result.omni = Some(Measured {
                run: hold_run,
                cpu: busy,
                db,
            });
        }
        anyhow::Ok(())
    }
    .await;
    if let Err(e) = mesh.stop().await {
        eprintln!("warning: a service stopped with an error: {e:#}");
    }
    measured?;

    // Raw Redis: the same script through redis-benchmark, same concurrency.
    for result in &mut results {
        let shape = result.shape;
        eprintln!(
            "[{}] redis-benchmark: {} EVALSHA calls...",
            shape.name(),
            args.raw_requests
        );
        let (redis, bin, clients, requests, n) = (
            &run.redis,
            args.redis_benchmark.clone(),
            load.clients,
            args.raw_requests,
            args.skus,
        );
        let meter = CpuMeter::start();
        let raw = tokio::task::block_in_place(|| raw_redis::run(redis, &bin, shape, clients, requests, n))?;
        let busy = meter.busy_percent();
        println!(
            "[{}] raw redis EVALSHA: {} calls in {:.1} s = {:.0} calls/s (p50 {:.2} ms, p99 {:.2} ms); \
             {} holds placed by the script; CPU {}",
            shape.name(),
            raw.calls,
            raw.elapsed.as_secs_f64(),
            raw.per_sec,
            raw.p50,
            raw.p99,
            raw.held,
            cpu(busy)
        );
        println!("[{}] raw redis command: {}", shape.name(), raw.command);
        result.raw = Some(Measured {
            run: raw,
            cpu: busy,
            db: None,
        });
    }

    // PostgreSQL row locks, Saleor's shape, same database and durability.
    let baseline = rowlock::RowLock::prepare(&run.database.url, args.skus, u32::from(args.clients)).await?;
    for result in &mut results {
        let shape = result.shape;
        if args.warmup_seconds > 0 {
            baseline
                .run(
                    shape,
                    &load,
                    args.warmup_seconds,
                    &format!("{} row-lock warm-up", shape.name()),
                )
                .await?;
        }
        tokio::task::block_in_place(|| analyze(&run.database.url))?;
        let meter = CpuMeter::start();
        let db_before = db_activity(&run.database.url);
        let locked = baseline
            .run(
                shape,
                &load,
                args.seconds,
                &format!("{} row-lock orders", shape.name()),
            )
            .await?;
        let busy = meter.busy_percent();
        let db = db_before
            .zip(db_activity(&run.database.url))
            .map(|(before, after)| after.per_operation(&before, locked.allocated));
        println!(
            "[{}] PostgreSQL row-lock: {} orders in {:.1} s = {:.0} orders/s ({} short, {} failed); \
             transaction latency {}; CPU {}; PostgreSQL {}",
            shape.name(),
            locked.allocated,
            locked.elapsed.as_secs_f64(),
            crate::stats::rate(locked.allocated, locked.elapsed),
            locked.short,
            locked.failed,
            locked
                .latency
                .summary()
                .map_or_else(|| "n/a".to_owned(), |s| s.to_string()),
            cpu(busy),
            db_cost(db, "order")
        );
        if let Some(e) = &locked.first_error {
            println!("[{}] row-lock: first failure: {e}", shape.name());
        }
        result.rowlock = Some(Measured {
            run: locked,
            cpu: busy,
            db,
        });
    }
    let (units, rows) = baseline.totals().await?;
    println!(
        "row-lock check: {units} units allocated in warehouse_stock, {rows} warehouse_allocation rows \
         (3 per order, warm-up included)"
    );

    report(&results, &durability, cores);
    println!("load average after: {}", crate::stats::load_average());
    Ok(())
}

fn report(results: &[ShapeResults], durability: &str, cores: usize) {
    println!();
    println!("== Ratios (allocation holds/s ÷ baseline) ==");
    println!(
        "{:<7} {:<34} {:>14} {:>16} {:>9} {:>7}  verdict",
        "shape", "baseline", "allocation/s", "baseline/s", "ratio", "goal"
    );
    let mut why = Vec::new();
    for r in results {
        let omni = per_sec(&r.omni, |h| crate::stats::rate(h.held, h.elapsed));
        let raw = per_sec(&r.raw, |raw| raw.per_sec);
        let locked = per_sec(&r.rowlock, |l| crate::stats::rate(l.allocated, l.elapsed));
        let rows = [
            (
                "raw redis-benchmark EVALSHA",
                raw,
                GOAL_RAW_REDIS,
                format!("≥ {GOAL_RAW_REDIS}"),
            ),
            (
                "PostgreSQL row-lock (Saleor shape)",
                locked,
                r.shape.rowlock_goal(),
                format!("≥ {}×", r.shape.rowlock_goal()),
            ),
        ];
        for (name, baseline, goal, goal_text) in rows {
            let value = omni.zip(baseline).and_then(|(o, b)| ratio(o, b));
            println!(
                "{:<7} {:<34} {:>14} {:>16} {:>9} {:>7}  {}",
                r.shape.name(),
                name,
                omni.map_or_else(|| "-".to_owned(), |v| format!("{v:.0}")),
                baseline.map_or_else(|| "-".to_owned(), |v| format!("{v:.0}")),
                value.map_or_else(|| "-".to_owned(), |v| format!("{v:.3}")),
                goal_text,
                verdict(value, goal, false)
            );
        }
        why.extend(explain(r, durability, cores));
    }
    if !why.is_empty() {
        println!();
        println!("== Where a goal is missed, and the likely why ==");
        for line in why {
            println!("- {line}");
        }
    }
}

/// Reasons, from the measurements, for each missed goal of one shape.
fn explain(r: &ShapeResults, durability: &str, cores: usize) -> Vec<String> {
    let mut why = Vec::new();
    let (Some(omni), Some(raw), Some(locked)) = (&r.omni, &r.raw, &r.rowlock) else {
        return why;
    };
    let omni_rate = crate::stats::rate(omni.run.held, omni.run.elapsed);
    let omni_p50 = omni.run.latency.summary().map_or(0.0, |s| s.p50);
    let locked_rate = crate::stats::rate(locked.run.allocated, locked.run.elapsed);
    let locked_p50 = locked.run.latency.summary().map_or(0.0, |s| s.p50);
    let shape = r.shape.name();
    let omni_db = db_cost(omni.db, "hold");
    if ratio(omni_rate, raw.run.per_sec).is_some_and(|v| v < GOAL_RAW_REDIS) {
        why.push(format!(
            "[{shape}] vs raw Redis: the script is a small part of a hold. Through allocation a hold is an HTTP \
             request (JSON, API key; {} % of them then released by a second request), the same EVALSHA, and \
             PostgreSQL work before the answer ({omni_db}, synchronous_commit={durability}): p50 {omni_p50:.1} ms \
             against {:.2} ms for the bare script. The machine was {} busy during the allocation run ({cores} \
             cores shared by the HTTP clients, allocation, PostgreSQL, Redis and the broker): the rate is what \
             that database work costs, not what Redis can do.",
            omni.run.released * 100 / omni.run.held.max(1),
            raw.run.p50,
            cpu(omni.cpu),
        ));
    }
    if ratio(omni_rate, locked_rate).is_some_and(|v| v < r.shape.rowlock_goal()) {
        let contention = match r.shape {
            Shape::Hot => format!(
                "Here the hot row serialises the baseline: one transaction at a time holds it until its commit, \
                 so {locked_rate:.0} orders/s is about one commit every {:.1} ms; allocation would have to place \
                 {:.0} holds/s to be 10x that.",
                1000.0 / locked_rate.max(1.0),
                10.0 * locked_rate
            ),
            Shape::Random => {
                "With random SKUs the baseline seldom waits for a lock, so the ratio is about the \
                              cost of its transaction over the cost of allocation's database work."
                    .to_owned()
            }
        };
        why.push(format!(
            "[{shape}] vs PostgreSQL row locks: allocation does not take PostgreSQL off a hold's path, it does more \
             there than the baseline: {omni_db} (p50 {omni_p50:.1} ms, CPU {}), against {} for a row-lock order \
             (p50 {locked_p50:.1} ms, CPU {}). It can only win by the lock waits the baseline suffers. {contention}",
            cpu(omni.cpu),
            db_cost(locked.db, "order"),
            cpu(locked.cpu),
        ));
    }
    if let Some((_, read, _)) = omni.db
        && read > 200.0
    {
        why.push(format!(
            "[{shape}] allocation reads ~{read:.0} rows per hold: each hold and each release republishes the \
             availability of its 3 SKUs, and the held-units query (ledger::availability: reservation_lines joined \
             to reservations with status 'held') walks rows that grow with every hold placed during the run, so \
             the cost per hold rises as the run goes on."
        ));
    }
    why
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sku_names_match_what_redis_benchmark_makes_of_the_placeholder() {
        // redis-benchmark writes each __rand_int__ as 12 zero-padded digits.
        assert_eq!(sku_name(7), "LT-000000000007");
        assert_eq!(sku_name(999).len(), format!("{SKU_PREFIX}__rand_int__").len());
    }

    #[test]
    fn a_hot_hold_always_takes_the_hot_sku_and_lines_never_repeat() {
        let mut rng = rand::rng();
        for _ in 0..200 {
            let hot = Shape::Hot.lines(&mut rng, 3);
            assert_eq!(hot[0], HOT_SKU);
            let random = Shape::Random.lines(&mut rng, 3);
            let distinct: std::collections::BTreeSet<_> = random.iter().collect();
            assert_eq!(distinct.len(), 3);
            assert!(!random.contains(&HOT_SKU.to_owned()));
            assert_ne!(hot[1], hot[2]);
        }
    }
}
