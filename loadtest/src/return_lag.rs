//! `omni-loadtest return-lag`: in-store returns at a store counter, each unit graded resellable and restocked there,
//! matched to the `omni.availability.v1` event that shows it on sale at that store; the lag between the two, on the
//! real backends and the whole mesh (returns → its outbox → the broker → allocation's ledger → its outbox → the
//! broker → the reader).
//!
//! Setup, not measured: one order per SKU of `--units` units, bought online, paid by card, shipped from the
//! warehouse (recorded by hand), so returns knows them delivered. Matching: the store starts with none of these
//! SKUs, so the k-th return of SKU s leaves exactly k on hand there, and the first availability event of s showing
//! k at the store is its answer (events of one SKU share a key, hence a partition and their order).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, ensure};
use futures::StreamExt;
use omni_contracts::Topic;
use omni_contracts::api::Capability;
use omni_testkit::fixtures::{order, sku, store};
use omni_testkit::testing::{ADMIN_KEY, eventually, receive_stock};
use omni_testkit::{Client, Mesh, Service};
use serde_json::json;

use crate::BackendArgs;
use crate::availability::{Reader, Seen};
use crate::backends::RunBackends;
use crate::stats::{Latencies, progress};

/// Where the orders ship from, and where they come back.
const WAREHOUSE: &str = "RL-WAREHOUSE";
const STORE: &str = "RL-STORE";
/// Settling the orders: how long each step may take.
const SETUP_WAIT: Duration = Duration::from_secs(120);

/// `return-lag` flags.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct ReturnLagArgs {
    /// SKUs, one order each (the returns go round-robin over them).
    #[arg(long, default_value_t = 40, value_parser = clap::value_parser!(u32).range(1..=1_000))]
    skus: u32,
    /// Units per order: each comes back in a return of its own (skus × units returns in all).
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..=100))]
    units: u32,
    /// Returns per second, paced evenly.
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u32).range(1..=1_000))]
    rate: u32,
    /// Most seconds to wait, after the last return, for the last availability events.
    #[arg(long, default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..=900))]
    drain_seconds: u64,
    /// fetch.wait.max.ms of the services' consumers and of the availability reader (kafka.fetch_wait_max_ms).
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..=1000))]
    fetch_wait_max_ms: u32,
}

/// One return as sent: when, and how long its answer took.
#[derive(Debug, Clone, Copy)]
struct Sent {
    at: Instant,
}

/// Runs the benchmark and prints the lag.
pub(crate) async fn run(backends: &BackendArgs, args: ReturnLagArgs) -> anyhow::Result<()> {
    let run = RunBackends::claim(backends)?;
    println!("== omni-loadtest return-lag (run {}) ==", run.run);
    println!("command: {}", std::env::args().collect::<Vec<_>>().join(" "));
    println!(
        "{} in-store returns at {} /s (one unit each, resellable, restocked at {STORE}), round-robin over {} SKUs \
         bought online and shipped from {WAREHOUSE}; all six services on PostgreSQL, Redis and the broker at {}; \
         fetch.wait.max.ms {}; load average before: {}.",
        args.skus * args.units,
        args.rate,
        args.skus,
        run.kafka,
        args.fetch_wait_max_ms,
        crate::stats::load_average()
    );
    let settings = run.settings(8, args.fetch_wait_max_ms);
    let mesh = run
        .start_services(settings.clone(), Service::ALL.to_vec())
        .await?;
    let outcome = measure(&run, &mesh, &settings, &args).await;
    if let Err(e) = mesh.stop().await {
        eprintln!("warning: a service stopped with an error: {e:#}");
    }
    let (lag, answered, missing, refused) = outcome?;
    println!();
    println!("== In-store return → unit in the availability stream ==");
    match lag {
        Some(lag) => println!(
            "lag (POST sent → the store's availability event): p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms; \
             {missing} never seen within the drain",
            lag.p50, lag.p99, lag.max
        ),
        None => println!("lag: nothing matched; {missing} never seen within the drain"),
    }
    if let Some(answered) = answered {
        println!(
            "the counter's answer (POST → 201): p50 {:.1} ms, p99 {:.1} ms",
            answered.p50, answered.p99
        );
    }
    ensure!(refused == 0, "{refused} returns were refused");
    Ok(())
}

type Measured = (
    Option<crate::stats::Summary>,
    Option<crate::stats::Summary>,
    usize,
    usize,
);

async fn measure(
    run: &RunBackends,
    mesh: &Mesh,
    settings: &omni_config::Settings,
    args: &ReturnLagArgs,
) -> anyhow::Result<Measured> {
    let topics = omni_kafka::topics::TopicNames::new(&settings.kafka.topics);
    let reader = Reader::start(
        &run.kafka,
        topics.name(Topic::Availability),
        args.fetch_wait_max_ms,
        STORE,
        0,
    )?;
    let skus: Vec<String> = (0..args.skus).map(|i| format!("RL-{i:05}")).collect();
    let orders = shipped_orders(mesh, &skus, args.units).await?;

    let returns = mesh.client(Service::Returns, ADMIN_KEY);
    let total = args.skus * args.units;
    let bar = progress(&format!("returns at {}/s", args.rate), u64::from(total));
    let answered = Arc::new(Mutex::new(Latencies::default()));
    let refused = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut sent: HashMap<(usize, i64), Sent> = HashMap::new();
    let mut in_flight = tokio::task::JoinSet::new();
    let period = Duration::from_secs_f64(1.0 / f64::from(args.rate));
    let started = tokio::time::Instant::now();
    for i in 0..total as usize {
        tokio::time::sleep_until(started + period.mul_f64(i as f64)).await;
        let s = i % skus.len();
        let k = (i / skus.len()) as i64 + 1;
        let body = json!({
            "request_id": format!("rl-{}-{i}", run.run), "order_id": orders[s],
            "lines": [{ "sku": skus[s], "quantity": 1, "reason": "does_not_fit" }],
            "method": { "type": "in_store", "location_id": STORE },
            "units": [{ "sku": skus[s], "grade": "resellable", "disposition": { "type": "restock" } }],
        });
        let (returns, answered, refused) = (returns.clone(), answered.clone(), refused.clone());
        let at = Instant::now();
        sent.insert((s, k), Sent { at });
        in_flight.spawn(async move {
            match returns.post("/v1/returns", &body, &[]).await {
                Ok(answer) if answer.status == 201 => {
                    if let Ok(mut a) = answered.lock() {
                        a.record(at.elapsed());
                    }
                }
                Ok(answer) => {
                    eprintln!("a return was refused: {answer:?}");
                    refused.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                }
                Err(e) => {
                    eprintln!("a return failed: {e:#}");
                    refused.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                }
            }
        });
        bar.inc(1);
    }
    while in_flight.join_next().await.is_some() {}
    bar.finish_and_clear();
    let deadline = Instant::now() + Duration::from_secs(args.drain_seconds);
    let mut seen = reader.snapshot();
    while match_returns(&sent, &seen, &skus).len() < sent.len() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
        seen = reader.snapshot();
    }
    reader.stop().await;
    let pairs = match_returns(&sent, &seen, &skus);
    let mut lag = Latencies::default();
    for (sent, seen) in &pairs {
        lag.record(seen.at.duration_since(sent.at));
    }
    let answered = answered.lock().ok().and_then(|a| a.summary());
    Ok((
        lag.summary(),
        answered,
        sent.len() - pairs.len(),
        refused.load(std::sync::atomic::Ordering::Relaxed),
    ))
}

/// Each return `(sku index, k)` with the first event showing `k` of that SKU at the store.
fn match_returns<'a>(
    sent: &HashMap<(usize, i64), Sent>,
    seen: &'a [Seen],
    skus: &[String],
) -> Vec<(Sent, &'a Seen)> {
    let index: HashMap<&str, usize> = skus.iter().enumerate().map(|(i, s)| (s.as_str(), i)).collect();
    let mut first_seen: HashMap<(usize, i64), &Seen> = HashMap::new();
    for s in seen {
        if let Some(i) = index.get(s.sku.as_str()) {
            first_seen.entry((*i, s.on_hand)).or_insert(s);
        }
    }
    sent.iter()
        .filter_map(|(k, sent)| first_seen.get(k).map(|seen| (*sent, *seen)))
        .collect()
}

/// The warehouse, the store and the SKUs; one order per SKU of `units` units, paid by card and shipped from the
/// warehouse; once returns knows each delivered, their ids (in the SKUs' order).
async fn shipped_orders(mesh: &Mesh, skus: &[String], units: u32) -> anyhow::Result<Vec<String>> {
    let admin = |service| mesh.client(service, ADMIN_KEY);
    let catalog = admin(Service::Catalog);
    for (id, lat, lon) in [(WAREHOUSE, 52.52, 13.40), (STORE, 48.14, 11.58)] {
        let body = store(id)
            .at(lat, lon)
            .capable(&[Capability::Ship, Capability::Pickup])
            .build()?;
        let answer = catalog.post("/v1/locations", &body, &[]).await?;
        ensure!(matches!(answer.status, 200 | 201), "location {id}: {answer:?}");
    }
    let bar = progress("orders bought and shipped", skus.len() as u64 * 2);
    for code in skus {
        let answer = catalog.post("/v1/skus", &sku(code)?, &[]).await?;
        ensure!(matches!(answer.status, 200 | 201), "SKU {code}: {answer:?}");
    }
    let allocation = admin(Service::Allocation);
    for code in skus {
        receive_stock(&allocation, WAREHOUSE, code, i64::from(units)).await?;
    }
    let fulfillment = admin(Service::Fulfillment);
    for code in skus {
        eventually(&format!("routing to see {code}"), SETUP_WAIT, || async {
            let stock = fulfillment.get(&format!("/v1/stock/{code}")).await?.body;
            let seen = stock.as_array().into_iter().flatten().any(|n| n["atp"] == units);
            Ok(seen.then_some(()))
        })
        .await?;
    }
    let payments = admin(Service::Payments);
    let token = payments
        .post(
            "/v1/payments/tokens",
            &json!({ "number": "4242 4242 4242 4242", "exp_month": 12, "exp_year": 2031 }),
            &[],
        )
        .await?;
    ensure!(token.status == 201, "tokenizing: {token:?}");
    let token = token.body["token"].as_str().context("token")?.to_owned();
    let placed: Vec<anyhow::Result<String>> = futures::stream::iter(skus)
        .map(|code| {
            let (mesh, token, bar) = (mesh, token.as_str(), &bar);
            async move {
                let id = bought_and_shipped(mesh, code, units, token).await?;
                bar.inc(2);
                Ok(id)
            }
        })
        .buffered(8)
        .collect()
        .await;
    bar.finish_and_clear();
    let ids = placed.into_iter().collect::<anyhow::Result<Vec<_>>>()?;
    // Returns learns each delivery from fulfillment's event: a return of one unit too many is then refused by the
    // returnable quantity (and before, by `not_delivered`).
    let returns = admin(Service::Returns);
    for (id, code) in ids.iter().zip(skus) {
        let probe = json!({ "request_id": format!("probe-{id}"), "order_id": id,
            "lines": [{ "sku": code, "quantity": units + 1, "reason": "does_not_fit" }],
            "method": { "type": "in_store", "location_id": STORE } });
        eventually(
            &format!("returns to know order {id} delivered"),
            SETUP_WAIT,
            || async {
                let answer = returns.post("/v1/returns", &probe, &[]).await?;
                Ok(answer.body["message"]
                    .as_str()
                    .is_some_and(|m| m.starts_with("returnable_quantity"))
                    .then_some(()))
            },
        )
        .await?;
    }
    Ok(ids)
}

/// One order of `units` × `code`, paid with `token`, released and recorded as shipped: its id.
async fn bought_and_shipped(mesh: &Mesh, code: &str, units: u32, token: &str) -> anyhow::Result<String> {
    let orders: Client = mesh.client(Service::Orders, ADMIN_KEY);
    let fulfillment = mesh.client(Service::Fulfillment, ADMIN_KEY);
    let body = order(code, i64::from(units), 1999)
        .ship_to(52.52, 13.40)
        .card(token)
        .build()?;
    let placed = orders
        .post("/v1/orders", &body, &[("Idempotency-Key", &format!("rl-{code}"))])
        .await?;
    ensure!(placed.status == 201, "order of {code}: {placed:?}");
    let id = placed.body["id"].as_str().context("order id")?.to_owned();
    let fulfillment_id = eventually(&format!("order {id} to be released"), SETUP_WAIT, || async {
        let now = orders.get(&format!("/v1/orders/{id}")).await?.body;
        ensure!(now["status"] != "failed", "order {id} failed: {now}");
        if now["status"] != "released" {
            return Ok(None);
        }
        let rows = fulfillment
            .get(&format!("/v1/fulfillments?order_id={id}"))
            .await?
            .body;
        Ok(rows[0]["id"].as_str().map(str::to_owned))
    })
    .await?;
    let shipped = fulfillment
        .post(
            &format!("/v1/fulfillments/{fulfillment_id}/complete"),
            &json!({ "how": "shipped" }),
            &[],
        )
        .await?;
    ensure!(shipped.status == 200, "shipping order {id}: {shipped:?}");
    Ok(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_return_meets_the_first_event_showing_the_units_it_brought_back() {
        let t0 = Instant::now();
        let skus = vec!["A".to_owned(), "B".to_owned()];
        let event = |sku: &str, on_hand: i64, ms: u64| Seen {
            sku: sku.to_owned(),
            on_hand,
            computed_at: chrono::Utc::now(),
            at: t0 + Duration::from_millis(ms),
        };
        let sent = HashMap::from([
            ((0, 1), Sent { at: t0 }),
            (
                (1, 1),
                Sent {
                    at: t0 + Duration::from_millis(1),
                },
            ),
            (
                (0, 2),
                Sent {
                    at: t0 + Duration::from_millis(2),
                },
            ),
        ]);
        let seen = vec![
            event("A", 1, 9),
            event("B", 1, 12),
            event("A", 1, 30), // redelivered: the first arrival counts
            event("C", 1, 5),  // not a SKU of the run
        ];
        let mut lags: Vec<u128> = match_returns(&sent, &seen, &skus)
            .iter()
            .map(|(s, e)| e.at.duration_since(s.at).as_millis())
            .collect();
        lags.sort_unstable();
        // A's second return never showed: missing, not matched to something else.
        assert_eq!(lags, vec![9, 11]);
    }
}
