//! `omni-loadtest pos-lag`: POS sales published on `omni.inventory.v1` at a paced rate, each matched to the
//! `omni.availability.v1` event allocation publishes for it; the lag between the two, on the real broker.
//!
//! Matching: every SKU starts with the same on-hand, and its k-th sale leaves exactly `UNITS - k` on hand, so
//! an availability event of SKU s showing `UNITS - k` at the store is the answer to s's k-th sale (events of one
//! SKU share a key, hence a partition, hence their order, from the till to the reader).

use std::collections::HashMap;
use std::time::{Duration, Instant};

use anyhow::{Context, ensure};
use chrono::{DateTime, Utc};
use omni_contracts::api::{MovementKind, StockMovement};
use omni_contracts::events::InventoryEvent;
use omni_contracts::{Envelope, EventPayload, LocationId, MovementId, Quantity, Sku, Topic};
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord};

use crate::BackendArgs;
use crate::availability::{Reader, Seen};
use crate::backends::{DbActivity, RunBackends, seed};
use crate::reservations::{LOCATION, sku_name};
use crate::stats::{CpuMeter, Latencies, progress, verdict};

/// On-hand of every SKU before the sales.
const UNITS: i64 = 1_000_000;
/// Goals, in milliseconds.
const GOAL_P50_MS: f64 = 10.0;
/// Sales per second of the warm-up.
const WARMUP_RATE: u32 = 50;
const GOAL_P99_MS: f64 = 50.0;

/// `pos-lag` flags.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct PosLagArgs {
    /// POS sales per second, paced evenly; several (`100,1000`) run one after the other, slowest first, each
    /// reported on its own. The goals apply at 1,000/s.
    #[arg(long, value_delimiter = ',', default_values_t = [1000_u32],
          value_parser = clap::value_parser!(u32).range(1..=20_000))]
    rate: Vec<u32>,
    /// Seconds of paced sales per rate (rate × seconds sales in all).
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=600))]
    seconds: u64,
    /// SKUs the sales go round-robin over (one store).
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    skus: u32,
    /// Unmeasured seconds of sales at 50/s first (connections, caches, prepared statements), drained before
    /// the measured rates.
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u64).range(0..=60))]
    warmup_seconds: u64,
    /// Most seconds to wait, after the last sale of a rate, for the last availability events.
    #[arg(long, default_value_t = 120, value_parser = clap::value_parser!(u64).range(1..=900))]
    drain_seconds: u64,
    /// fetch.wait.max.ms of allocation's consumers and of the availability reader (kafka.fetch_wait_max_ms).
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..=1000))]
    fetch_wait_max_ms: u32,
    /// Allocation's database pool (database.pool_size; 8 is the shipped default).
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u32).range(1..=64))]
    pool_size: u32,
}

/// One sale as sent.
#[derive(Debug, Clone, Copy)]
struct Sent {
    at: Instant,
    wall: DateTime<Utc>,
}

/// What one rate gave.
#[derive(Debug)]
struct Phase {
    rate: u32,
    lag: Option<crate::stats::Summary>,
    applied_rate: f64,
    offered_rate: f64,
    into_p50: f64,
    out_p50: f64,
    growing: bool,
    missing: usize,
}

/// Runs the benchmark and prints the lag.
pub(crate) async fn run(backends: &BackendArgs, args: PosLagArgs) -> anyhow::Result<()> {
    let mut rates = args.rate.clone();
    rates.sort_unstable();
    rates.dedup();
    let total: u64 = rates.iter().map(|r| u64::from(*r) * args.seconds).sum::<u64>()
        + u64::from(WARMUP_RATE) * args.warmup_seconds;
    ensure!(
        total / u64::from(args.skus) < UNITS as u64,
        "more sales per SKU than units on hand: raise --skus"
    );
    let run = RunBackends::claim(backends)?;
    println!("== omni-loadtest pos-lag (run {}) ==", run.run);
    println!("command: {}", std::env::args().collect::<Vec<_>>().join(" "));
    println!(
        "pos_sale movements at {rates:?} /s (slowest first), {} s each, round-robin over {} SKUs at {LOCATION}, \
         on the broker at {}; fetch.wait.max.ms {} (allocation's consumers and the reader); allocation pool {}; \
         load average before: {}.",
        args.seconds,
        args.skus,
        run.kafka,
        args.fetch_wait_max_ms,
        args.pool_size,
        crate::stats::load_average()
    );
    let settings = run.settings(args.pool_size, args.fetch_wait_max_ms);
    let mesh = run.start_mesh(settings.clone()).await?;
    let outcome = measure(&run, &mesh, &settings, &args, &rates).await;
    if let Err(e) = mesh.stop().await {
        eprintln!("warning: a service stopped with an error: {e:#}");
    }
    let phases = outcome?;
    report(&phases, args.fetch_wait_max_ms);
    Ok(())
}

async fn measure(
    run: &RunBackends,
    mesh: &omni_testkit::Mesh,
    settings: &omni_config::Settings,
    args: &PosLagArgs,
    rates: &[u32],
) -> anyhow::Result<Vec<Phase>> {
    let topics = omni_kafka::topics::TopicNames::new(&settings.kafka.topics);
    let skus: Vec<String> = (0..args.skus).map(sku_name).collect();

    // The reader is assigned before the stock arrives and sees the receipts' events first: once it has, it is
    // live, and every sale's lag is measured from a warm reader.
    let reader = Reader::start(
        &run.kafka,
        topics.name(Topic::Availability),
        args.fetch_wait_max_ms,
        LOCATION,
        UNITS,
    )?;
    seed(mesh, LOCATION, &skus, UNITS).await?;
    let seeded = tokio::time::timeout(Duration::from_secs(60), async {
        while reader.stocked(UNITS) < skus.len() {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    ensure!(
        seeded.is_ok(),
        "the receipts' availability events did not arrive within 60 s"
    );

    let producer: FutureProducer = rdkafka::ClientConfig::new()
        .set("bootstrap.servers", &run.kafka)
        .set("enable.idempotence", "true")
        .set("acks", "all")
        .set("linger.ms", settings.kafka.linger_ms.to_string())
        .set("message.timeout.ms", "30000")
        .set("queue.buffering.max.messages", "1000000")
        .create()
        .context("creating the POS producer")?;
    let mut till = Till {
        producer,
        topic: topics.name(Topic::Inventory).to_owned(),
        location: LocationId::parse(LOCATION)?,
        skus: skus.iter().map(|s| Sku::parse(s)).collect::<Result<_, _>>()?,
        sold: vec![0; skus.len()],
    };
    let mut expected_so_far = 0;
    if args.warmup_seconds > 0 {
        let warmup = till.sell(WARMUP_RATE, args.warmup_seconds, &reader).await?;
        expected_so_far += warmup.sent.len();
        // Bounded: a warm-up that never drains shows up as missing events in the first measured rate.
        let _ = tokio::time::timeout(Duration::from_secs(args.drain_seconds), async {
            while reader.answers() < expected_so_far {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
        .await;
    }
    let mut phases = Vec::new();
    for rate in rates {
        let db_before = db_activity(&run.database.url);
        let phase = till.sell(*rate, args.seconds, &reader).await?;
        expected_so_far += phase.sent.len();
        eprintln!(
            "{} sales sent at {rate}/s in {:.1?}; waiting for their availability events...",
            phase.sent.len(),
            phase.produced_in
        );
        let drained = tokio::time::timeout(Duration::from_secs(args.drain_seconds), async {
            while reader.answers() < expected_so_far {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
        .await
        .is_ok();
        let seen = reader.snapshot();
        let db = db_before
            .zip(db_activity(&run.database.url))
            .map(|(before, after)| after.per_operation(&before, phase.sent.len() as u64));
        phases.push(summarise(
            *rate,
            &phase,
            &seen,
            &skus,
            (drained, args.drain_seconds),
            db,
        ));
    }
    reader.stop().await;
    Ok(phases)
}

/// PostgreSQL's counters now, if they can be read (the figures are informative, not required).
fn db_activity(url: &str) -> Option<DbActivity> {
    tokio::task::block_in_place(|| DbActivity::read(url))
        .map_err(|e| eprintln!("warning: cannot read pg_stat_database: {e:#}"))
        .ok()
}

/// The POS producer: Omni's producer settings, one store, sales round-robin over the SKUs.
struct Till {
    producer: FutureProducer,
    topic: String,
    location: LocationId,
    skus: Vec<Sku>,
    sold: Vec<i64>,
}

/// The sales of one rate.
struct Sales {
    sent: HashMap<(u32, i64), Sent>,
    produced_in: Duration,
    failed: u64,
    cpu: Option<f64>,
}

impl Till {
    /// Sells one unit at a time at `rate` per second for `seconds`; remembers each sale by the on-hand it leaves.
    async fn sell(&mut self, rate: u32, seconds: u64, reader: &Reader) -> anyhow::Result<Sales> {
        let total = u64::from(rate) * seconds;
        let one = Quantity::new(1)?;
        let bar = progress(&format!("pos sales at {rate}/s"), total);
        let mut sent = HashMap::with_capacity(total as usize);
        let mut deliveries = Vec::with_capacity(total as usize);
        let mut failed = 0_u64;
        let meter = CpuMeter::start();
        let answered_before = reader.answers();
        let period = Duration::from_secs_f64(1.0 / f64::from(rate));
        let started = tokio::time::Instant::now();
        for i in 0..total {
            tokio::time::sleep_until(started + period.mul_f64(i as f64)).await;
            let sku = (i % self.skus.len() as u64) as usize;
            let event = Envelope::new(
                "pos",
                InventoryEvent::Movement(StockMovement {
                    event_id: MovementId::generate(),
                    location_id: self.location.clone(),
                    sku: self.skus[sku].clone(),
                    kind: MovementKind::PosSale,
                    quantity: one,
                }),
            );
            let mut headers = OwnedHeaders::new_with_capacity(8);
            for (name, value) in event.headers() {
                headers = headers.insert(Header {
                    key: name,
                    value: Some(value.as_bytes()),
                });
            }
            let (key, body) = (event.data.key(), event.data.encode());
            let record = FutureRecord::to(&self.topic)
                .key(&key)
                .payload(&body)
                .headers(headers);
            let at = Instant::now();
            match self.producer.send_result(record) {
                Ok(delivery) => {
                    self.sold[sku] += 1;
                    sent.insert(
                        (sku as u32, UNITS - self.sold[sku]),
                        Sent { at, wall: Utc::now() },
                    );
                    deliveries.push(delivery);
                }
                Err(_) => failed += 1,
            }
            if i % 100 == 0 {
                bar.set_position(i);
                bar.set_message(format!(
                    "{} availability events back",
                    reader.answers() - answered_before
                ));
            }
        }
        let produced_in = started.elapsed();
        bar.finish_and_clear();
        for delivery in deliveries {
            if !matches!(delivery.await, Ok(Ok(_))) {
                failed += 1;
            }
        }
        Ok(Sales {
            sent,
            produced_in,
            failed,
            cpu: meter.busy_percent(),
        })
    }
}

/// Matches one rate's sales to the events seen, prints its figures and returns them.
fn summarise(
    rate: u32,
    sales: &Sales,
    seen: &[Seen],
    skus: &[String],
    (drained, drain_seconds): (bool, u64),
    db: Option<(f64, f64, f64)>,
) -> Phase {
    let pairs = match_sales(&sales.sent, seen, skus);
    let (mut lag, mut into, mut out) = (Latencies::default(), Latencies::default(), Latencies::default());
    for (sent, seen) in &pairs {
        let total_ms = seen.at.saturating_duration_since(sent.at).as_secs_f64() * 1e3;
        let into_ms = (seen.computed_at - sent.wall).num_microseconds().unwrap_or(0) as f64 / 1e3;
        lag.record_ms(total_ms);
        into.record_ms(into_ms);
        out.record_ms(total_ms - into_ms);
    }
    let tenth = (pairs.len() / 10).max(1);
    let (mut first, mut last) = (Latencies::default(), Latencies::default());
    for (sent, seen) in pairs.iter().take(tenth) {
        first.record(seen.at.saturating_duration_since(sent.at));
    }
    for (sent, seen) in pairs.iter().rev().take(tenth) {
        last.record(seen.at.saturating_duration_since(sent.at));
    }
    let span = match (pairs.first(), pairs.iter().map(|(_, s)| s.at).max()) {
        (Some((first_sent, _)), Some(last_seen)) => last_seen.saturating_duration_since(first_sent.at),
        _ => Duration::ZERO,
    };
    let expected = sales.sent.len();
    let phase = Phase {
        rate,
        lag: lag.summary(),
        applied_rate: crate::stats::rate(pairs.len() as u64, span),
        offered_rate: crate::stats::rate(expected as u64, sales.produced_in),
        into_p50: into.summary().map_or(0.0, |s| s.p50),
        out_p50: out.summary().map_or(0.0, |s| s.p50),
        growing: match (first.summary(), last.summary()) {
            (Some(f), Some(l)) => l.p50 > 2.0 * f.p50 + 10.0,
            _ => false,
        },
        missing: expected - pairs.len(),
    };
    let fmt = |l: &Latencies| l.summary().map_or_else(|| "n/a".to_owned(), |s| s.to_string());
    println!();
    println!("-- {rate} sales/s --");
    println!(
        "sent {expected} sales in {:.1} s ({:.0} /s offered; {} not acknowledged by the broker); matched {} \
         availability events{}; CPU {}",
        sales.produced_in.as_secs_f64(),
        phase.offered_rate,
        sales.failed,
        pairs.len(),
        if drained {
            String::new()
        } else {
            format!(
                " ({} still missing after {drain_seconds} s of draining)",
                phase.missing
            )
        },
        sales
            .cpu
            .map_or_else(|| "n/a".to_owned(), |c| format!("{c:.0} %"))
    );
    println!(
        "allocation applied {:.0} sales/s end to end (matched events ÷ first sale to last event)",
        phase.applied_rate
    );
    if let Some((xacts, read, written)) = db {
        println!(
            "PostgreSQL: ~{xacts:.0} transactions, ~{read:.0} rows read, ~{written:.0} rows written per sale \
             (the outbox relay's included)"
        );
    }
    println!("lag, sale sent → availability event read: {}", fmt(&lag));
    println!(
        "  sale sent → availability computed in allocation: {}",
        fmt(&into)
    );
    println!(
        "  computed → read (commit, outbox relay, broker, reader): {}",
        fmt(&out)
    );
    println!("  first tenth of the sales: {}", fmt(&first));
    println!("  last tenth of the sales:  {}", fmt(&last));
    phase
}

/// Pairs each sale with the first availability event of its SKU showing the on-hand it left, in the order the
/// sales were sent; sales without such an event are left out (a redelivered event counts once).
fn match_sales<'a>(
    sent: &HashMap<(u32, i64), Sent>,
    seen: &'a [Seen],
    skus: &[String],
) -> Vec<(Sent, &'a Seen)> {
    let index: HashMap<&str, u32> = skus
        .iter()
        .enumerate()
        .map(|(i, s)| (s.as_str(), i as u32))
        .collect();
    let mut first_seen: HashMap<(u32, i64), &Seen> = HashMap::new();
    for s in seen {
        if let Some(i) = index.get(s.sku.as_str()) {
            first_seen.entry((*i, s.on_hand)).or_insert(s);
        }
    }
    let mut pairs: Vec<(Sent, &Seen)> = sent
        .iter()
        .filter_map(|(k, sent)| first_seen.get(k).map(|seen| (*sent, *seen)))
        .collect();
    pairs.sort_by_key(|(sent, _)| sent.at);
    pairs
}

fn report(phases: &[Phase], fetch_wait_max_ms: u32) {
    println!();
    println!("== Goals (at 1,000 sales/s; other rates for reference) ==");
    for phase in phases {
        let (p50, p99) = (phase.lag.map(|s| s.p50), phase.lag.map(|s| s.p99));
        let judged = phase.rate == 1000;
        let show = |v: Option<f64>| v.map_or_else(|| "-".to_owned(), |v| format!("{v:.1} ms"));
        println!(
            "{:>6}/s  lag p50 {:>10} (goal ≤ {GOAL_P50_MS} ms) {:<12}  p99 {:>10} (goal ≤ {GOAL_P99_MS} ms) {}",
            phase.rate,
            show(p50),
            if judged {
                verdict(p50, GOAL_P50_MS, true)
            } else {
                "reference"
            },
            show(p99),
            if judged {
                verdict(p99, GOAL_P99_MS, true)
            } else {
                "reference"
            },
        );
    }
    let mut why = Vec::new();
    for phase in phases {
        let missed = phase
            .lag
            .is_none_or(|s| s.p50 > GOAL_P50_MS || s.p99 > GOAL_P99_MS);
        if !missed {
            continue;
        }
        let rate = phase.rate;
        if phase.applied_rate < 0.95 * phase.offered_rate || phase.growing || phase.missing > 0 {
            why.push(format!(
                "[{rate}/s] allocation does not keep up: it applied {:.0} sales/s of the {:.0} offered, so a queue \
                 builds on omni.inventory.v1 and the lag grows through the run (last tenth against first). Its \
                 inventory consumer handles one movement at a time, each a PostgreSQL transaction (ledger append, \
                 on-hand and availability recomputed from the SKU's ledger and holds, outbox row) committed with \
                 synchronous_commit before the next; one consumer for every partition cannot overlap them.",
                phase.applied_rate, phase.offered_rate
            ));
        }
        why.push(format!(
            "[{rate}/s] where the time goes (p50): {:.1} ms from the sale to allocation computing availability \
             (producer, broker, allocation's fetch, any queue, the transaction so far), {:.1} ms from there to the \
             reader (commit, the outbox relay woken after it: a read, a publish with acks=all, a delete; the \
             broker; the reader's fetch). Each Kafka hop can wait up to fetch.wait.max.ms = {fetch_wait_max_ms} ms, \
             since the broker answers a waiting fetch only when it expires.",
            phase.into_p50, phase.out_p50
        ));
    }
    if !why.is_empty() {
        println!();
        println!("== Where a goal is missed, and the likely why ==");
        for line in why {
            println!("- {line}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_sale_meets_the_first_event_showing_the_on_hand_it_left() {
        let t0 = Instant::now();
        let wall = Utc::now();
        let skus = vec!["A".to_owned(), "B".to_owned()];
        let sale = |ms: u64| Sent {
            at: t0 + Duration::from_millis(ms),
            wall,
        };
        let event = |sku: &str, on_hand: i64, ms: u64| Seen {
            sku: sku.to_owned(),
            on_hand,
            computed_at: wall,
            at: t0 + Duration::from_millis(ms),
        };
        let sent = HashMap::from([
            ((0, UNITS - 1), sale(0)),
            ((1, UNITS - 1), sale(1)),
            ((0, UNITS - 2), sale(2)),
        ]);
        let seen = vec![
            event("A", UNITS, 0),     // the receipt: no sale left it
            event("A", UNITS - 1, 9), // A's first sale
            event("B", UNITS - 1, 12),
            event("A", UNITS - 1, 30), // redelivered: the first arrival counts
            event("C", UNITS - 1, 5),  // not a SKU of the run
        ];
        let pairs = match_sales(&sent, &seen, &skus);
        let lags: Vec<u128> = pairs
            .iter()
            .map(|(s, e)| e.at.duration_since(s.at).as_millis())
            .collect();
        // A's second sale never came back: it is missing, not matched to something else.
        assert_eq!(lags, vec![9, 11]);
    }
}
