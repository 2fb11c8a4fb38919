//! `omni-loadtest intake`: partner orders/s through the orders service's Kafka intake ÷ a bare consumer reading
//! the same messages on the same broker, the whole pipeline's maximum rate (order in → `omni.order.reserved`
//! out), and that latency at half of the pipeline's maximum rate.
//!
//! Throughput: the run fills the partner's `omni.orders.inbound.<partner>.v1` with `--orders` valid partner orders while orders is
//! stopped, then starts it and measures from its first stored order to its last (`created_at` in its table),
//! so start-up and the consumer group join are not counted. The bare consumer then reads the same messages with
//! a fresh group, from its first message to the last. Pipeline maximum: fresh backends, the full mesh with ample
//! stock; `--pipeline-orders` partner orders are sent at once and a reader on `omni.orders.v1` times their
//! `omni.order.reserved` events, first to last. Intake alone is far faster than the saga behind it, so half of
//! intake's rate would only measure a growing queue. Latency: fresh backends again; partner orders are sent
//! paced at half the pipeline's maximum (or `--latency-rate`); the reader matches each order's
//! `omni.order.accepted` (which names the partner order id) and `omni.order.reserved`.

use omni_testkit::Service;
use omni_testkit::fixtures::warehouse;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, ensure};
use diesel::{Connection, RunQueryDsl};
use omni_contracts::Topic;
use omni_testkit::testing::ADMIN_KEY;
use omni_testkit::{DbBackend, HoldsBackend, KafkaBackend, Mesh, MeshOptions};
use rdkafka::Message;
use rdkafka::consumer::{Consumer, StreamConsumer};
use serde_json::json;

use crate::BackendArgs;
use crate::backends::RunBackends;
use crate::stats::{Latencies, ProcessSnapshot, ratio, verdict};

const PARTNER: &str = "acme-market";
const SKU: &str = "LT-INTAKE-1";
const STORE: &str = "LT-1";

/// Arguments of `omni-loadtest intake`.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct IntakeArgs {
    /// Partner orders in the throughput run (and messages the bare consumer reads).
    #[arg(long, default_value_t = 20_000, value_parser = clap::value_parser!(u64).range(100..=1_000_000))]
    orders: u64,
    /// Seconds of paced orders in the latency run.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=600))]
    latency_seconds: u64,
    /// Partner orders sent at once to find the whole pipeline's maximum rate (order in → reserved out). At least
    /// 1,000: a smaller burst's reserved events can arrive in one fetch, and first-to-last says nothing.
    #[arg(long, default_value_t = 3_000, value_parser = clap::value_parser!(u64).range(1_000..=100_000))]
    pipeline_orders: u64,
    /// The consumers' `fetch.wait.max.ms` in every phase (`kafka.fetch_wait_max_ms`, Omni's default 10): how long
    /// the broker may hold a fetch with nothing to answer, and on Nisshi also how long it spends assembling one.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..=5_000))]
    fetch_wait_max_ms: u32,
    /// Orders/s in the latency run; default: half the pipeline's maximum rate just measured.
    #[arg(long)]
    latency_rate: Option<f64>,
    /// Also print the throughput run as a timeline, every 50 ms instead of every tenth: orders stored, the cores
    /// busy in all and each program's. Shows whether intake waits (cores idle) or works (cores busy) when slow.
    #[arg(long)]
    timeline: bool,
    /// Most seconds to wait for the last reserved event after the paced orders.
    #[arg(long, default_value_t = 120, value_parser = clap::value_parser!(u64).range(1..=3_600))]
    drain_seconds: u64,
}

fn partner_order(id: &str) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "partner_id": PARTNER, "partner_order_id": id, "placed_at": chrono::Utc::now(),
        "currency": "EUR", "customer": { "tier": "standard" },
        "lines": [{ "sku": SKU, "quantity": 1, "unit_price_minor": 1000 }],
        "total_minor": 1000, "delivery": { "type": "ship", "lat": 52.51, "lon": 13.39 },
        "promise_by": chrono::Utc::now() + chrono::Duration::days(2),
        "tenders": [{ "type": "marketplace_prepaid" }]
    }))
    .unwrap_or_default()
}

fn headers() -> Vec<(String, String)> {
    omni_testkit::kafka::partner_order_headers(
        &uuid::Uuid::now_v7().to_string(),
        &format!("/partners/{PARTNER}"),
    )
}

fn options(backends: &RunBackends, settings: omni_config::Settings, services: Vec<Service>) -> MeshOptions {
    MeshOptions {
        settings,
        kafka: KafkaBackend::External(backends.kafka.clone()),
        db: DbBackend::Postgres(backends.database.url.clone()),
        holds: HoldsBackend::Redis {
            url: backends.redis.url.clone(),
            prefix: backends.redis.prefix.clone(),
        },
        ephemeral_ports: true,
        services,
    }
}

/// Runs the benchmark and prints both sides and their ratio.
pub(crate) async fn run(backend_args: &BackendArgs, args: IntakeArgs) -> anyhow::Result<()> {
    let backends = RunBackends::claim(backend_args)?;
    let settings = backends.settings(8, args.fetch_wait_max_ms);
    println!("== omni-loadtest intake (run {}) ==", backends.run);
    println!(
        "{} partner orders; 2 cores; PostgreSQL sslmode={}; load average before: {}",
        args.orders,
        backend_args.database_sslmode.as_str(),
        crate::stats::load_average()
    );
    let metrics = omni_telemetry::Metrics::new("loadtest")?;
    let kafka = omni_kafka::Kafka::new(&settings.kafka, &backends.kafka);
    let producer = kafka.producer(&metrics)?;
    let inbound = kafka.topics().partner_inbound_name(PARTNER);

    // The whole mesh, with ample stock; orders learns the SKU, and a probe proves intake works end to end.
    let mesh = prepared_mesh(&backends, &settings, &producer, &inbound).await?;
    mesh.stop().await?;

    // Throughput: fill the topic while orders is down, then let it drain.
    send_all(
        &producer,
        &inbound,
        "TP",
        args.orders,
        "filling the partner's inbound topic",
    )
    .await?;
    let orders_only = Mesh::start(options(&backends, settings.clone(), vec![Service::Orders])).await?;
    let db_url = backends.database.url_in_schema("orders");
    let expected = i64::try_from(args.orders).unwrap_or(i64::MAX);
    let with_timeline = args.timeline;
    let drained =
        tokio::task::spawn_blocking(move || wait_for_intake(&db_url, expected, with_timeline)).await?;
    orders_only.stop().await?;
    let Drained {
        taken,
        seconds,
        by_tenth,
        cpu_by_program,
        timeline,
    } = drained?;
    let intake_rate = (taken - 1).max(1) as f64 / seconds.max(1e-6);
    println!(
        "intake: {taken} partner orders stored in {seconds:.2} s (first to last commit) = {intake_rate:.0} orders/s"
    );
    println!(
        "orders/s in each tenth of those seconds: {}",
        by_tenth
            .iter()
            .map(|n| format!("{:.0}", *n as f64 * 10.0 / seconds.max(1e-6)))
            .collect::<Vec<_>>()
            .join(" ")
    );
    println!(
        "CPU per order stored (µs, by program, the whole machine over those seconds): {}",
        per_order(&cpu_by_program, taken)
    );
    if args.timeline {
        println!("timeline (from the first order stored; cores busy of 2):");
        for line in &timeline {
            println!("  {line}");
        }
    }

    // The bare consumer: the same messages, a fresh group, nothing but counting.
    let (bare_rate, bare_first_rate) =
        bare_consumer(&backends.kafka, &inbound, args.orders, args.fetch_wait_max_ms).await?;

    // The pipeline's maximum: a burst through the whole mesh on fresh backends (no backlog from above).
    drop(backends);
    let pipeline = pipeline_maximum(
        backend_args,
        &metrics,
        args.pipeline_orders,
        args.drain_seconds,
        args.fetch_wait_max_ms,
    )
    .await?;

    // Latency at half the pipeline's maximum, through the whole mesh, on fresh backends again.
    let paced = args
        .latency_rate
        .unwrap_or(pipeline.rate.unwrap_or(1.0) / 2.0)
        .max(1.0);
    let backends = RunBackends::claim(backend_args)?;
    let settings = backends.settings(8, args.fetch_wait_max_ms);
    let kafka = omni_kafka::Kafka::new(&settings.kafka, &backends.kafka);
    let producer = kafka.producer(&metrics)?;
    let inbound = kafka.topics().partner_inbound_name(PARTNER);
    let orders_topic = kafka.topic_name(Topic::Orders).to_owned();
    let mesh = prepared_mesh(&backends, &settings, &producer, &inbound).await?;
    // Started once the mesh created the topics (a subscription to a topic not there yet waits for the next
    // metadata refresh); it reads from the start, so nothing sent below is missed.
    let reader = Reader::start(&backends.kafka, &orders_topic)?;
    let count = (paced * args.latency_seconds as f64).round().max(1.0) as u64;
    println!("latency: {count} partner orders at {paced:.0}/s through the whole mesh...");
    let mut sent_at: HashMap<String, Instant> = HashMap::new();
    let mut sends = Vec::with_capacity(usize::try_from(count).unwrap_or(0));
    let started = Instant::now();
    for n in 0..count {
        let due = started + Duration::from_secs_f64(n as f64 / paced);
        tokio::time::sleep_until(due.into()).await;
        let id = format!("LAT-{n:07}");
        sent_at.insert(id.clone(), Instant::now());
        // Sent without waiting for the broker's answer, so the pace holds whatever the produce latency.
        let (producer, inbound) = (producer.clone(), inbound.clone());
        sends.push(tokio::spawn(async move {
            producer
                .send_raw(&inbound, &id, &headers(), &partner_order(&id))
                .await
        }));
    }
    for send in sends {
        send.await??;
    }
    let deadline = Instant::now() + Duration::from_secs(args.drain_seconds);
    while reader.reserved(&sent_at) < sent_at.len() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let mut latencies = Latencies::default();
    let pairs = reader.matched(&sent_at);
    let reader_count = pairs.len();
    for (id, reserved_at) in pairs {
        latencies.record(reserved_at.duration_since(sent_at[&id]));
    }
    reader.stop();
    // Where the paced orders are now, so a shortfall says whether orders are still on their way or failed.
    let statuses = latency_statuses(backends.database.url_in_schema("orders")).await;
    mesh.stop().await?;
    let matched_count = reader_count;
    let matched = latencies.summary();

    println!();
    println!("== Ratio (intake orders/s ÷ bare consumer messages/s) ==");
    let r = ratio(intake_rate, bare_rate);
    println!(
        "intake {intake_rate:.0}/s ÷ bare {bare_rate:.0}/s (subscribe to last message) = {} (goal ≥ 0.3) {}",
        r.map_or("?".to_owned(), |r| format!("{r:.3}")),
        verdict(r, 0.3, false)
    );
    let r = ratio(intake_rate, bare_first_rate);
    println!(
        "intake {intake_rate:.0}/s ÷ bare {bare_first_rate:.0}/s (first to last message, prefetched) = {} (goal ≥ 0.3) {}",
        r.map_or("?".to_owned(), |r| format!("{r:.4}")),
        verdict(r, 0.3, false)
    );
    match pipeline.rate {
        Some(rate) => println!(
            "pipeline maximum (order in → omni.order.reserved out): {rate:.0} orders/s ({} of {} reserved, first to last; intake alone {intake_rate:.0}/s)",
            pipeline.reserved, args.pipeline_orders
        ),
        None => println!(
            "pipeline maximum: not measured ({} of {} reserved within the drain)",
            pipeline.reserved, args.pipeline_orders
        ),
    }
    match statuses {
        Ok(statuses) => println!("the paced orders now: {statuses}"),
        Err(e) => println!("the paced orders' statuses could not be read: {e:#}"),
    }
    match matched {
        Some(s) => println!(
            "order in → omni.order.reserved out at {paced:.0}/s: {matched_count} of {count} reserved within the drain; {s}"
        ),
        None => println!("order in → omni.order.reserved out: no order was reserved within the drain time"),
    }
    Ok(())
}

/// CPU time per order by program, the four busiest by name and the rest together: a figure that moves far less
/// than a rate on a shared machine, so two builds can be compared by it.
fn per_order(spent: &[(String, f64)], orders: i64) -> String {
    let orders = orders.max(1) as f64;
    let micros = |seconds: f64| seconds * 1e6 / orders;
    let total = spent.iter().fold(0.0, |sum, (_, s)| sum + s);
    let mut parts: Vec<String> = spent
        .iter()
        .take(4)
        .map(|(name, seconds)| format!("{name} {:.1}", micros(*seconds)))
        .collect();
    let rest = spent.iter().skip(4).fold(0.0, |sum, (_, s)| sum + s);
    parts.push(format!("other {:.1}", micros(rest)));
    format!("{} (total {:.1})", parts.join(", "), micros(total))
}

/// Sends `count` partner orders `<prefix>-0000000`… as fast as the broker takes them (up to 1,000 in flight).
async fn send_all(
    producer: &omni_kafka::Producer,
    inbound: &str,
    prefix: &str,
    count: u64,
    what: &str,
) -> anyhow::Result<HashMap<String, Instant>> {
    use futures::StreamExt;
    let bar = crate::stats::progress(what, count);
    let mut sent = HashMap::new();
    let mut sends = futures::stream::FuturesUnordered::new();
    for n in 0..count {
        let id = format!("{prefix}-{n:07}");
        sent.insert(id.clone(), Instant::now());
        sends.push(async move {
            producer
                .send_raw(inbound, &id, &headers(), &partner_order(&id))
                .await
        });
        if sends.len() >= 1_000 {
            while let Some(done) = sends.next().await {
                done?;
                bar.inc(1);
            }
        }
    }
    while let Some(done) = sends.next().await {
        done?;
        bar.inc(1);
    }
    bar.finish_and_clear();
    Ok(sent)
}

/// What the burst through the whole mesh showed.
struct Pipeline {
    /// Reserved orders/s from the first reserved event to the last; `None` when fewer than two were reserved.
    rate: Option<f64>,
    /// Orders of the burst reserved within the drain.
    reserved: usize,
}

/// Sends `count` partner orders at once through the whole mesh, on fresh backends, and times their
/// `omni.order.reserved` events from the first to the last.
async fn pipeline_maximum(
    backend_args: &BackendArgs,
    metrics: &omni_telemetry::Metrics,
    count: u64,
    drain_seconds: u64,
    fetch_wait_max_ms: u32,
) -> anyhow::Result<Pipeline> {
    let backends = RunBackends::claim(backend_args)?;
    let settings = backends.settings(8, fetch_wait_max_ms);
    let kafka = omni_kafka::Kafka::new(&settings.kafka, &backends.kafka);
    let producer = kafka.producer(metrics)?;
    let inbound = kafka.topics().partner_inbound_name(PARTNER);
    let orders_topic = kafka.topic_name(Topic::Orders).to_owned();
    let mesh = prepared_mesh(&backends, &settings, &producer, &inbound).await?;
    let reader = Reader::start(&backends.kafka, &orders_topic)?;
    println!("pipeline: {count} partner orders at once through the whole mesh...");
    let sent = send_all(&producer, &inbound, "PL", count, "sending the burst").await?;
    let deadline = Instant::now() + Duration::from_secs(drain_seconds);
    while reader.reserved(&sent) < sent.len() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let times: Vec<Instant> = reader.matched(&sent).into_iter().map(|(_, at)| at).collect();
    reader.stop();
    mesh.stop().await?;
    let span = times
        .iter()
        .max()
        .zip(times.iter().min())
        .map(|(last, first)| last.duration_since(*first).as_secs_f64());
    Ok(Pipeline {
        rate: span
            .filter(|s| *s > 0.0 && times.len() >= 2)
            .map(|s| (times.len() - 1) as f64 / s),
        reserved: times.len(),
    })
}

/// The whole mesh on `backends`, with a warehouse holding ample stock of the SKU, once a probe partner order went
/// through intake (so orders knows the SKU from the catalog topic).
async fn prepared_mesh(
    backends: &RunBackends,
    settings: &omni_config::Settings,
    producer: &omni_kafka::Producer,
    inbound: &str,
) -> anyhow::Result<Mesh> {
    let mesh = Mesh::start(options(
        backends,
        settings.clone(),
        omni_config::Service::ALL.to_vec(),
    ))
    .await?;
    let catalog = mesh.client(Service::Catalog, ADMIN_KEY);
    let allocation = mesh.client(Service::Allocation, ADMIN_KEY);
    let orders = mesh.client(Service::Orders, ADMIN_KEY);
    let store = warehouse(STORE).build()?;
    ensure!(matches!(
        catalog.post("/v1/locations", &store, &[]).await?.status,
        200 | 201
    ));
    let sku = json!({ "sku": SKU, "title": SKU });
    ensure!(matches!(
        catalog.post("/v1/skus", &sku, &[]).await?.status,
        200 | 201
    ));
    omni_testkit::testing::receive_stock(&allocation, STORE, SKU, 1_000_000).await?;
    let fulfillment = mesh.client(Service::Fulfillment, ADMIN_KEY);
    omni_testkit::testing::until_routing_sees(&fulfillment, SKU, 1_000_000, Duration::from_secs(60)).await?;
    omni_testkit::kafka::until_intake_takes_a_probe(
        producer,
        inbound,
        &orders,
        PARTNER,
        |id| Ok(partner_order(id)),
        Duration::from_millis(300),
    )
    .await?;
    Ok(mesh)
}

/// The paced orders by status (and failure reason), e.g. `released 1990, failed (no hold within 30 s) 10`.
async fn latency_statuses(db_url: String) -> anyhow::Result<String> {
    tokio::task::spawn_blocking(move || -> anyhow::Result<String> {
        let mut pg = diesel::PgConnection::establish(&db_url)?;
        let rows: Vec<StatusCount> = diesel::sql_query(
            "SELECT status, failure_reason, COUNT(*)::BIGINT AS orders FROM orders \
             WHERE partner_order_id LIKE 'LAT-%' GROUP BY 1, 2 ORDER BY 3 DESC",
        )
        .load(&mut pg)?;
        Ok(rows
            .iter()
            .map(|r| match &r.failure_reason {
                Some(reason) => format!("{} ({reason}) {}", r.status, r.orders),
                None => format!("{} {}", r.status, r.orders),
            })
            .collect::<Vec<_>>()
            .join(", "))
    })
    .await?
}

#[derive(diesel::QueryableByName)]
struct StatusCount {
    #[diesel(sql_type = diesel::sql_types::Text)]
    status: String,
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Text>)]
    failure_reason: Option<String>,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    orders: i64,
}

/// Waits, without loading the database under test, until intake has stored `expected` throughput orders; returns
/// how many and the seconds from the first to the last. Progress comes from PostgreSQL's statistics (rows inserted
/// into `orders`, no scan); the exact count and span are read once they say enough rows are in. (Until this was
/// cheap, a `COUNT(*)` over the whole table every 20 ms on a new connection took a third of PostgreSQL's time.)
fn wait_for_intake(db_url: &str, expected: i64, with_timeline: bool) -> anyhow::Result<Drained> {
    // A timeline is read at twice the rate.
    let poll = Duration::from_millis(if with_timeline { 50 } else { 100 });
    let deadline = Instant::now() + Duration::from_secs(600);
    let mut pg = diesel::PgConnection::establish(db_url)?;
    let mut snapshots = vec![ProcessSnapshot::read()];
    loop {
        // Statistics lag commits (an idle backend reports its last ones up to 10 s later); the exact query below
        // decides.
        let inserted: Counted = diesel::sql_query(
            "SELECT COALESCE(SUM(n_tup_ins), 0)::BIGINT AS n FROM pg_stat_user_tables \
             WHERE schemaname = 'orders' AND relname = 'orders'",
        )
        .get_result(&mut pg)?;
        if inserted.n >= expected {
            let span: Span = diesel::sql_query(
                "SELECT COUNT(*)::BIGINT AS taken, \
                 COALESCE(EXTRACT(EPOCH FROM MIN(created_at)), 0)::FLOAT8 AS first, \
                 COALESCE(EXTRACT(EPOCH FROM MAX(created_at)), 0)::FLOAT8 AS last \
                 FROM orders WHERE partner_order_id LIKE 'TP-%'",
            )
            .get_result(&mut pg)?;
            if span.taken >= expected {
                let cpu_by_program = crate::stats::spent_over(&snapshots, span.first, span.last);
                // How steady intake was: orders stored in each tenth of the span.
                let tenths: Vec<Tenth> = diesel::sql_query(
                    "SELECT COUNT(o.tenth)::BIGINT AS taken FROM generate_series(0, 9) AS t(tenth) LEFT JOIN \
                     (SELECT LEAST(FLOOR((EXTRACT(EPOCH FROM created_at) - $1) / ($2 - $1) * 10), 9) AS tenth \
                     FROM orders WHERE partner_order_id LIKE 'TP-%') AS o ON o.tenth = t.tenth \
                     GROUP BY t.tenth ORDER BY t.tenth",
                )
                .bind::<diesel::sql_types::Double, _>(span.first)
                .bind::<diesel::sql_types::Double, _>(span.last.max(span.first + 1e-6))
                .load(&mut pg)?;
                let timeline = if with_timeline {
                    timeline(&mut pg, &snapshots, span.first, span.last)?
                } else {
                    Vec::new()
                };
                return Ok(Drained {
                    by_tenth: tenths.iter().map(|t| t.taken).collect(),
                    taken: span.taken,
                    seconds: span.last - span.first,
                    cpu_by_program,
                    timeline,
                });
            }
        }
        ensure!(
            Instant::now() < deadline,
            "intake stored fewer than {expected} orders within 600 s"
        );
        std::thread::sleep(poll);
        snapshots.push(ProcessSnapshot::read());
    }
}

/// One line per interval between snapshots that overlaps the span from `first` to `last` (seconds since the
/// epoch): its start from `first`, orders stored in it per second, the cores busy and the three busiest programs.
fn timeline(
    pg: &mut diesel::PgConnection,
    snapshots: &[ProcessSnapshot],
    first: f64,
    last: f64,
) -> anyhow::Result<Vec<String>> {
    let bounds: Vec<f64> = snapshots.iter().map(|s| s.at).collect();
    // `width_bucket`: 0 before the first bound, i for [bounds[i-1], bounds[i]).
    let buckets: Vec<Bucket> = diesel::sql_query(
        "SELECT width_bucket(EXTRACT(EPOCH FROM created_at)::FLOAT8, $1) AS bucket, COUNT(*)::BIGINT AS taken \
         FROM orders WHERE partner_order_id LIKE 'TP-%' GROUP BY 1",
    )
    .bind::<diesel::sql_types::Array<diesel::sql_types::Double>, _>(&bounds)
    .load(pg)?;
    let taken: HashMap<i32, i64> = buckets.into_iter().map(|b| (b.bucket, b.taken)).collect();
    Ok(snapshots
        .windows(2)
        .enumerate()
        .filter(|(_, pair)| pair[1].at > first && pair[0].at <= last)
        .map(|(i, pair)| {
            let usage = crate::stats::usage_between(&pair[0], &pair[1]);
            let stored = taken
                .get(&(i32::try_from(i).unwrap_or(i32::MAX) + 1))
                .copied()
                .unwrap_or(0);
            let programs = usage
                .by_program
                .iter()
                .take(3)
                .map(|(name, cores)| format!("{name} {cores:.2}"))
                .collect::<Vec<_>>()
                .join(", ");
            format!(
                "{:+6.3} s  {:>7.0} orders/s  busy {}  ({programs})",
                pair[0].at - first,
                stored as f64 / (pair[1].at - pair[0].at).max(1e-6),
                usage.busy_cores.map_or("?".to_owned(), |c| format!("{c:.2}")),
            )
        })
        .collect())
}

#[derive(diesel::QueryableByName)]
struct Bucket {
    #[diesel(sql_type = diesel::sql_types::Integer)]
    bucket: i32,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    taken: i64,
}

/// What the orders service stored from the filled topic.
struct Drained {
    /// Orders stored.
    taken: i64,
    /// Seconds from the first order's commit to the last's.
    seconds: f64,
    /// Orders stored in each tenth of those seconds.
    by_tenth: Vec<i64>,
    /// CPU seconds each program on the machine spent over those seconds (interpolated between polls).
    cpu_by_program: Vec<(String, f64)>,
    /// The span poll by poll (see [`timeline`]), when asked for.
    timeline: Vec<String>,
}

#[derive(diesel::QueryableByName)]
struct Tenth {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    taken: i64,
}

#[derive(diesel::QueryableByName)]
struct Counted {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    n: i64,
}

#[derive(diesel::QueryableByName)]
struct Span {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    taken: i64,
    #[diesel(sql_type = diesel::sql_types::Double)]
    first: f64,
    #[diesel(sql_type = diesel::sql_types::Double)]
    last: f64,
}

/// Reads `count` messages of `topic` with a fresh group; returns messages/s from subscribing to the last (the
/// join and first fetch included), and from the first message to the last (already prefetched: memory speed).
async fn bare_consumer(
    bootstrap: &str,
    topic: &str,
    count: u64,
    fetch_wait_max_ms: u32,
) -> anyhow::Result<(f64, f64)> {
    let consumer: StreamConsumer = rdkafka::ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set(
            "group.id",
            format!("omni-loadtest-bare-{}", uuid::Uuid::new_v4().simple()),
        )
        .set("auto.offset.reset", "earliest")
        .set("enable.auto.commit", "false")
        // As orders' consumer: on Nisshi it also bounds how long the broker assembles one fetch.
        .set("fetch.wait.max.ms", fetch_wait_max_ms.to_string())
        .create()?;
    consumer.subscribe(&[topic])?;
    let subscribed = Instant::now();
    let mut first: Option<Instant> = None;
    let mut read = 0u64;
    let deadline = Instant::now() + Duration::from_secs(300);
    while read < count {
        let message = tokio::time::timeout(Duration::from_secs(30), consumer.recv())
            .await
            .context("the bare consumer stalled for 30 s")??;
        let payload = message.payload().unwrap_or_default();
        if payload.windows(3).any(|w| w == b"TP-") {
            first.get_or_insert_with(Instant::now);
            read += 1;
        }
        ensure!(
            Instant::now() < deadline,
            "the bare consumer did not finish within 300 s"
        );
    }
    let elapsed = first.map_or(Duration::ZERO, |f| f.elapsed());
    println!(
        "bare consumer: {read} messages, {:.2} s from subscribing (group join and first fetch included), {:.3} s from the first message",
        subscribed.elapsed().as_secs_f64(),
        elapsed.as_secs_f64()
    );
    Ok((
        read as f64 / subscribed.elapsed().as_secs_f64().max(1e-6),
        (read - 1).max(1) as f64 / elapsed.as_secs_f64().max(1e-6),
    ))
}

/// Reads `omni.orders.v1` from the start: which order is which partner order, and when each was reserved.
struct Reader {
    partner_of: Arc<Mutex<HashMap<String, String>>>,
    reserved_at: Arc<Mutex<HashMap<String, Instant>>>,
    stop: tokio_util::sync::CancellationToken,
}

impl Reader {
    fn start(bootstrap: &str, topic: &str) -> anyhow::Result<Self> {
        let consumer: StreamConsumer = rdkafka::ClientConfig::new()
            .set("bootstrap.servers", bootstrap)
            .set(
                "group.id",
                format!("omni-loadtest-reader-{}", uuid::Uuid::new_v4().simple()),
            )
            .set("auto.offset.reset", "earliest")
            .set("enable.auto.commit", "false")
            .set("fetch.wait.max.ms", "10")
            .create()?;
        consumer.subscribe(&[topic])?;
        let (partner_of, reserved_at) = (
            Arc::new(Mutex::new(HashMap::new())),
            Arc::new(Mutex::new(HashMap::new())),
        );
        let stop = tokio_util::sync::CancellationToken::new();
        let (p, r, s) = (partner_of.clone(), reserved_at.clone(), stop.clone());
        tokio::spawn(async move {
            loop {
                let message = tokio::select! {
                    _ = s.cancelled() => break,
                    m = consumer.recv() => m,
                };
                let Ok(message) = message else { continue };
                let at = Instant::now();
                let kind = message
                    .headers()
                    .and_then(|h| {
                        use rdkafka::message::Headers;
                        h.iter()
                            .find(|h| h.key == "ce_type")
                            .and_then(|h| h.value.map(|v| String::from_utf8_lossy(v).into_owned()))
                    })
                    .unwrap_or_default();
                let body: serde_json::Value =
                    serde_json::from_slice(message.payload().unwrap_or_default()).unwrap_or_default();
                match kind.as_str() {
                    "omni.order.accepted" => {
                        if let (Some(order), Some(partner_order)) = (
                            body["order"]["id"].as_str(),
                            body["order"]["partner_order_id"].as_str(),
                        ) && let Ok(mut p) = p.lock()
                        {
                            p.insert(order.to_owned(), partner_order.to_owned());
                        }
                    }
                    "omni.order.reserved" => {
                        if let (Some(order), Ok(mut r)) = (body["order_id"].as_str(), r.lock()) {
                            r.entry(order.to_owned()).or_insert(at);
                        }
                    }
                    _ => {}
                }
            }
        });
        Ok(Self {
            partner_of,
            reserved_at,
            stop,
        })
    }

    /// `(partner order id, reserved at)` for the sent orders reserved so far.
    fn matched(&self, sent: &HashMap<String, Instant>) -> Vec<(String, Instant)> {
        let (Ok(partner_of), Ok(reserved_at)) = (self.partner_of.lock(), self.reserved_at.lock()) else {
            return Vec::new();
        };
        reserved_at
            .iter()
            .filter_map(|(order, at)| {
                let partner_order = partner_of.get(order)?;
                sent.contains_key(partner_order)
                    .then(|| (partner_order.clone(), *at))
            })
            .collect()
    }

    fn reserved(&self, sent: &HashMap<String, Instant>) -> usize {
        self.matched(sent).len()
    }

    fn stop(self) {
        self.stop.cancel();
    }
}
