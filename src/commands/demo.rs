//! `omni demo`: the dev mesh plus a traffic simulator, a progress bar and a closing report.

use omni::Service;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};
use omni::Client;
use omni::client::{AllocationApi, OrdersApi, PaymentsApi, Refused};
use omni_config::Settings;
use omni_contracts::api::{
    Delivery, Latitude, Longitude, NewOrder, OrderLine, OrderStatus, Tender, UnitPrice,
};
use omni_contracts::{LocationId, Quantity, Sku};
use rand::Rng;
use serde_json::json;
use tokio::sync::Mutex;

use crate::demo_data::{LOCATIONS, SKUS};

/// Sandbox test card the sandbox PSP approves (documented in services/payments/sandbox-test-cards.md).
const APPROVED_CARD: &str = "4242 4242 4242 4242"; // sandbox test card
/// Sandbox test card the sandbox PSP declines.
const DECLINED_CARD: &str = "4000 0000 0000 0002"; // sandbox test card

/// Arguments of `omni demo`.
#[derive(Debug, clap::Args)]
pub(crate) struct DemoArgs {
    #[command(flatten)]
    dev: crate::commands::dev::DevArgs,
    /// How many orders to place.
    #[arg(long, default_value_t = 200, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    orders: u32,
    /// Orders in flight at once.
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u32).range(1..=256))]
    concurrency: u32,
    /// Milliseconds between POS sales at the stores racing the web orders (0: no POS sales).
    #[arg(long, default_value_t = 25, value_parser = clap::value_parser!(u64).range(0..=60_000))]
    pos_interval_ms: u64,
    /// Marketplace orders to send through the Kafka intake while the web orders run (about 10 % of them sent
    /// twice, one malformed message per 20).
    #[arg(long, default_value_t = 40, value_parser = clap::value_parser!(u32).range(0..=100_000))]
    marketplace_orders: u32,
    /// Keep the mesh running after the report until Ctrl-C.
    #[arg(long)]
    keep_running: bool,
}

#[derive(Default)]
struct Tally {
    accepted: u64,
    released: u64,
    failed: u64,
    rejected: u64,
    latencies_ms: Vec<f64>,
    failures: std::collections::BTreeMap<String, u64>,
}

/// The demo's pickup window: pickups left at the counter lapse while it runs.
const PICKUP_WINDOW_SECONDS: u32 = 20;

/// How long the demo's returns by mail wait for their parcels.
const RETURN_ITEMS_WITHIN_SECONDS: u64 = 5;

/// Orders for SKUs no single node holds together: routing splits each across two nodes.
const SPLIT_ORDERS: u32 = 4;

/// Runs the demo and prints the report.
pub(crate) async fn run(mut settings: Settings, args: DemoArgs) -> anyhow::Result<()> {
    if std::env::var_os("OMNI__TELEMETRY__LEVEL").is_none() && std::env::var_os("RUST_LOG").is_none() {
        // The report is the output; keep the services' logs to warnings unless asked otherwise.
        // The marketplace feed's malformed messages are dead-lettered on purpose; the report counts them.
        settings.telemetry.level = "warn,omni_kafka::consumer=error".into();
    }
    let telemetry = omni_telemetry::init(&settings.telemetry, "omni")?;
    // Short enough that the pickups left at the counter lapse while the demo runs.
    settings.fulfillment.store.pickup_window_seconds = PICKUP_WINDOW_SECONDS;
    settings.fulfillment.store.pickup_reminder_before_seconds = PICKUP_WINDOW_SECONDS / 2;
    // Short enough that the demo's return whose parcel is never sent expires while it runs.
    settings.returns.items_within_seconds = RETURN_ITEMS_WITHIN_SECONDS;
    let mut dev_args = args.dev.clone();
    if !dev_args.fresh && dev_args.data_dir.is_none() {
        // A demo measures a fresh run: its own data directory, emptied first.
        dev_args.data_dir = Some(std::path::PathBuf::from(&settings.database.data_dir).join("demo"));
        dev_args.fresh = true;
    }
    println!("Starting the mesh on embedded backends and loading demo data...");
    let dev = crate::commands::dev::start(settings, &dev_args, true).await?;
    let orders = dev.mesh.orders(&dev.admin_key);
    let payments = dev.mesh.payments(&dev.admin_key);
    let allocation = dev.mesh.allocation(&dev.admin_key);

    let bar = ProgressBar::new(u64::from(args.orders));
    bar.set_style(
        ProgressStyle::with_template("{spinner} orders {pos}/{len} [{bar:40}] {per_sec} eta {eta} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    let tally = Arc::new(Mutex::new(Tally::default()));
    let pos_done = tokio_util::sync::CancellationToken::new();
    let pos = tokio::spawn(pos_sales(
        allocation.0.clone(),
        Duration::from_millis(args.pos_interval_ms),
        pos_done.clone(),
    ));
    let marketplace = {
        // Spread over about as long as the web orders take (~15 ms each at the default concurrency).
        let spread =
            Duration::from_millis(u64::from(args.orders) * 15 / u64::from(args.concurrency.max(1)).max(1))
                .max(Duration::from_secs(1));
        let count = args.marketplace_orders;
        let mesh = &dev.mesh;
        async move { crate::commands::demo_marketplace::feed(mesh, count, spread).await }
    };
    let orders_done = tokio_util::sync::CancellationToken::new();
    let shift = crate::commands::demo_stores::work(
        &dev.mesh,
        &dev.admin_key,
        orders_done.clone(),
        Instant::now() + Duration::from_secs(120 + u64::from(args.orders) / 5),
    );
    let next = Arc::new(std::sync::atomic::AtomicU32::new(0));
    let started = Instant::now();
    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..args.concurrency {
        let (orders, payments, tally, next, bar) = (
            orders.clone(),
            payments.clone(),
            tally.clone(),
            next.clone(),
            bar.clone(),
        );
        let total = args.orders;
        workers.spawn(async move {
            while next.fetch_add(1, std::sync::atomic::Ordering::SeqCst) < total {
                let outcome = place_one(&orders, &payments).await;
                let mut t = tally.lock().await;
                match outcome {
                    Ok(Outcome::Released(ms)) => {
                        t.accepted += 1;
                        t.released += 1;
                        t.latencies_ms.push(ms);
                    }
                    Ok(Outcome::Failed(reason)) => {
                        t.accepted += 1;
                        t.failed += 1;
                        *t.failures.entry(reason).or_default() += 1;
                    }
                    Err(e) => {
                        t.rejected += 1;
                        *t.failures.entry(format!("not accepted: {e}")).or_default() += 1;
                    }
                }
                bar.set_message(format!(
                    "released {} failed {}",
                    t.released,
                    t.failed + t.rejected
                ));
                bar.inc(1);
            }
        });
    }
    let splitting = crate::commands::demo_splits::place(&orders, &payments, APPROVED_CARD, SPLIT_ORDERS);
    let placing = async {
        let placed = tokio::join!(
            async { while workers.join_next().await.is_some() {} },
            marketplace,
            splitting
        );
        orders_done.cancel();
        pos_done.cancel();
        (placed, started.elapsed())
    };
    let (((_, sent, split_ids), elapsed), shift) = tokio::join!(placing, shift);
    let sent = sent.context("sending the marketplace orders")?;
    let split_ids = split_ids.context("placing the split orders")?;
    let shift = shift.context("working the stores' queues")?;
    let pos = pos.await.unwrap_or_default();
    bar.finish();
    let oversold = oversold_units(&allocation).await?;
    let fulfillment = dev.mesh.client(Service::Fulfillment, &dev.admin_key);
    let lag = histogram_ms(
        &fulfillment.get_text("/metrics").await?,
        "omni_availability_lag_seconds",
    );
    let market =
        crate::commands::demo_marketplace::outcome(&dev.mesh, &orders.0, &sent, Duration::from_secs(60))
            .await?;
    let splits = crate::commands::demo_splits::outcome(
        &dev.mesh,
        &dev.admin_key,
        &orders,
        &payments,
        &split_ids,
        Duration::from_secs(30),
    )
    .await?;
    let t = tally.lock().await;
    let mut latencies = t.latencies_ms.clone();
    latencies.sort_by(f64::total_cmp);
    println!();
    println!("Omni demo report");
    println!("  orders placed     {}", args.orders);
    println!("  accepted          {}", t.accepted);
    println!("  released          {}", t.released);
    println!("  failed            {}", t.failed);
    println!("  not accepted      {}", t.rejected);
    for (reason, count) in &t.failures {
        println!("    {count:>5} × {reason}");
    }
    println!(
        "  order latency     p50 {:.1} ms, p99 {:.1} ms (POST to released, polled every 10 ms)",
        percentile(&latencies, 0.50),
        percentile(&latencies, 0.99)
    );
    println!(
        "  throughput        {:.1} orders/s over {:.1} s",
        f64::from(args.orders) / elapsed.as_secs_f64(),
        elapsed.as_secs_f64()
    );
    match lag {
        Some((count, p50, p99)) => println!(
            "  availability lag  p50 ≤ {p50} ms, p99 ≤ {p99} ms over {count} stock changes (stock change → routing, histogram buckets)"
        ),
        None => println!("  availability lag  not measured"),
    }
    println!(
        "  POS sales         {} at the stores, {} of them took a unit held for an online order (shortage raised)",
        pos.sold, pos.took_held
    );
    // A till sells what is on the shelf even if it is held online: each such sale can leave one unit held beyond
    // on-hand (a shortage event names the order to re-route). Anything beyond that would be Omni overselling.
    let oversold_by_omni = (oversold - i64::try_from(pos.took_held).unwrap_or(i64::MAX)).max(0);
    println!(
        "  oversold units    {oversold_by_omni} (held beyond on-hand: {oversold}, of which POS shelf sales explain up to {})",
        pos.took_held
    );
    let mut ready = shift.time_to_ready.clone();
    ready.sort_by(f64::total_cmp);
    let mut wait = shift.curbside_wait.clone();
    wait.sort_by(f64::total_cmp);
    println!(
        "  store shift       {} shipped from stores ({} found short on the shelf, routed to another node), {} picked up with their code, {} handed over at the car",
        shift.shipped, shift.short_rerouted, shift.picked_up, shift.curbside
    );
    println!(
        "                    time to ready p50 {:.1} s, p99 {:.1} s (release to ready for pickup, or shipped); curbside wait p50 {:.1} s, p99 {:.1} s",
        percentile(&ready, 0.50),
        percentile(&ready, 0.99),
        percentile(&wait, 0.50),
        percentile(&wait, 0.99)
    );
    println!(
        "  uncollected       {} of {} pickups left at the counter lapsed after the demo's {PICKUP_WINDOW_SECONDS} s window: order cancelled, {} units back on sale at their stores",
        shift.uncollected, shift.left_uncollected, shift.uncollected_units
    );
    println!(
        "  splits            {} of {} orders no single node could serve (routed to two nodes each) completed, {} parts shipped; {} ship tasks were a unit short: it went to another node, the rest shipped",
        splits.completed, splits.placed, splits.parts, shift.partial_short
    );
    println!(
        "  split tenders     the split orders paid {} with two cards, {} with a gift card and a card; captured per parcel {:.2}, refunded {:.2} ({} orders), voided {:.2}, paid {:.2}; completed orders whose captured + voided ≠ their amount: {}",
        splits.two_cards,
        splits.gift_and_card,
        minor_units(splits.money.captured_minor),
        minor_units(splits.money.refunded_minor),
        splits.refunded,
        minor_units(splits.money.voided_minor),
        minor_units(splits.money.paid_minor),
        splits.not_adding_up
    );
    for (what, count) in &shift.refused {
        println!("    {count:>5} × store action refused: {what}");
    }
    let returned =
        crate::commands::demo_returns::take(&dev.mesh, &dev.admin_key, Duration::from_secs(30)).await?;
    let allocation_metrics = dev
        .mesh
        .client(Service::Allocation, &dev.admin_key)
        .get_text("/metrics")
        .await?;
    let mut on_sale = returned.on_sale_after_ms.clone();
    on_sale.sort_by(f64::total_cmp);
    let declined: Vec<String> = returned
        .declined
        .iter()
        .map(|(rule, n)| format!("{n} {rule}"))
        .collect();
    println!(
        "  returns           {} at another store than the one that delivered them, {} by mail (received at the returns desk), {} damaged (written off), {} never sent (expired after {RETURN_ITEMS_WITHIN_SECONDS} s), declined: {}",
        returned.at_another_store,
        returned.by_mail,
        returned.written_off,
        returned.expired,
        if declined.is_empty() {
            "none".to_owned()
        } else {
            declined.join(", ")
        }
    );
    println!(
        "                    refunded {:.2} to the original cards and {:.2} as store credit (exchanges' credit included; {} returns settled); orders showing returned {}, partially returned {}",
        minor_units(returned.refunded_minor),
        minor_units(returned.store_credit_minor),
        returned.settled,
        returned.orders_returned,
        returned.orders_partially_returned
    );
    for (id, status) in &returned.exchanges {
        println!(
            "                    1 exchanged at a counter: its replacement order {id} was held until the unit came, paid by the store credit it was worth, and is {status}"
        );
    }
    match histogram_ms(&allocation_metrics, "omni_return_restock_available_seconds") {
        Some((count, p50, p99)) => println!(
            "                    each unit restocked at a counter was in that store's stock {:.1} ms (p50), {:.1} ms (max) after the counter answered, {} not within 10 s; restock → available in allocation p50 ≤ {p50} ms, p99 ≤ {p99} ms over {count} units",
            percentile(&on_sale, 0.50),
            on_sale.last().copied().unwrap_or(0.0),
            returned.not_on_sale
        ),
        None => println!("                    restock → available not measured (nothing restocked)"),
    }
    let statuses: Vec<String> = market.by_status.iter().map(|(s, n)| format!("{n} {s}")).collect();
    println!(
        "  marketplace       {} orders over Kafka ({} sent twice, {} malformed): {} taken ({}), {} taken twice",
        sent.orders,
        sent.duplicates,
        sent.malformed,
        market.by_status.values().sum::<u64>(),
        if statuses.is_empty() {
            "none".to_owned()
        } else {
            statuses.join(", ")
        },
        market.taken_twice
    );
    println!(
        "                    {} resends acknowledged with the first order; {} in the DLQ",
        market.acknowledged,
        market.dead_letters.values().sum::<u64>()
    );
    for (reason, count) in &market.dead_letters {
        println!("    {count:>5} × {reason}");
    }
    drop(t);
    let mut mesh = dev.mesh;
    let outcome = if args.keep_running {
        println!("The mesh keeps running; press Ctrl-C to stop.");
        tokio::select! {
            _ = crate::signals::terminated() => mesh.stop().await,
            exited = mesh.first_exit() => match exited { Some((name, Err(e))) => Err(anyhow::anyhow!("{name} stopped: {e}")), _ => Ok(()) },
        }
    } else {
        mesh.stop().await
    };
    telemetry.shutdown();
    outcome
}

#[derive(Debug, Default)]
struct PosTally {
    sold: u64,
    took_held: u64,
}

/// Sells one unit at a time at the stores' tills, racing the web orders for the last units: a random SKU at a
/// random store, if its shelf has one (a till sells what is physically there, held or not).
async fn pos_sales(
    allocation: Client,
    every: Duration,
    done: tokio_util::sync::CancellationToken,
) -> PosTally {
    let mut tally = PosTally::default();
    if every.is_zero() {
        return tally;
    }
    let stores: Vec<&str> = LOCATIONS
        .iter()
        .filter(|l| l.id.starts_with("STORE"))
        .map(|l| l.id)
        .collect();
    while !done.is_cancelled() {
        let (store, sku) = {
            let mut rng = rand::rng();
            (
                stores[rng.random_range(0..stores.len())],
                SKUS[rng.random_range(0..SKUS.len())].0,
            )
        };
        if let Ok(answer) = allocation
            .get(&format!("/v1/availability/{sku}?channel=pos"))
            .await
        {
            let shelf = answer.body["locations"]
                .as_array()
                .and_then(|l| l.iter().find(|l| l["location_id"] == store).cloned());
            let (on_hand, atp) = shelf.map_or((0, 0), |l| {
                (l["on_hand"].as_i64().unwrap_or(0), l["atp"].as_i64().unwrap_or(0))
            });
            if on_hand > 0 {
                let sale = json!({ "event_id": uuid::Uuid::now_v7(), "location_id": store, "sku": sku,
                                   "kind": "pos_sale", "quantity": 1 });
                if let Ok(a) = allocation.post("/v1/inventory/movements", &sale, &[]).await
                    && a.status == 201
                {
                    tally.sold += 1;
                    if atp == 0 {
                        tally.took_held += 1;
                    }
                }
            }
        }
        tokio::select! {
            _ = done.cancelled() => break,
            _ = tokio::time::sleep(every) => {}
        }
    }
    tally
}

enum Outcome {
    Released(f64),
    Failed(String),
}

async fn place_one(orders: &OrdersApi, payments: &PaymentsApi) -> anyhow::Result<Outcome> {
    let (card, order) = {
        let mut rng = rand::rng();
        let card = if rng.random_bool(0.05) {
            DECLINED_CARD
        } else {
            APPROVED_CARD
        };
        let lines = (0..rng.random_range(1..=3))
            .map(|_| {
                let (sku, _, _) = SKUS[rng.random_range(0..SKUS.len())];
                Ok(OrderLine {
                    sku: Sku::parse(sku)?,
                    quantity: Quantity::new(rng.random_range(1..=2))?,
                    unit_price_minor: UnitPrice::new(rng.random_range(500..9_000))?,
                })
            })
            .collect::<Result<Vec<_>, omni_contracts::ContractError>>()?;
        let delivery = if rng.random_bool(0.2) {
            Delivery::Pickup {
                location_id: LocationId::parse(LOCATIONS[rng.random_range(0..3)].id)?,
            }
        } else if rng.random_bool(0.12) {
            // The stores with curbside bays.
            let kerbs: Vec<_> = LOCATIONS.iter().filter(|l| l.bays > 0).collect();
            Delivery::Curbside {
                location_id: LocationId::parse(kerbs[rng.random_range(0..kerbs.len())].id)?,
            }
        } else {
            Delivery::Ship {
                lat: Latitude::new(52.3 + rng.random_range(0.0..0.4))?,
                lon: Longitude::new(12.8 + rng.random_range(0.0..0.9))?,
            }
        };
        (card, crate::demo_data::web_order(lines, delivery, vec![])?)
    };
    let token = payments.tokenize(card, 12, 2030).await?.token;
    let order = NewOrder {
        tenders: vec![Tender::card(token)],
        ..order
    };
    let key = uuid::Uuid::new_v4().to_string();
    let started = Instant::now();
    let placed = orders
        .place(&order, &key)
        .await
        .map_err(|e| match e.downcast::<Refused>() {
            // The report counts refusals by status and code, not by their whole message.
            Ok(refused) => anyhow::anyhow!("{} {}", refused.status, refused.body["code"]),
            Err(other) => other,
        })?;
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let order = orders.get(placed.id).await?;
        match order.status {
            OrderStatus::Released => return Ok(Outcome::Released(started.elapsed().as_secs_f64() * 1000.0)),
            OrderStatus::Failed => {
                let reason = order.failure_reason.unwrap_or_else(|| "unknown".into());
                return Ok(Outcome::Failed(
                    reason
                        .split([':', '('])
                        .next()
                        .unwrap_or("failed")
                        .trim()
                        .to_owned(),
                ));
            }
            _ if Instant::now() > deadline => {
                return Ok(Outcome::Failed("still in flight after 30 s".into()));
            }
            _ => tokio::time::sleep(Duration::from_millis(10)).await,
        }
    }
}

/// Units held beyond what is on hand, over every SKU and location (must be 0).
async fn oversold_units(allocation: &AllocationApi) -> anyhow::Result<i64> {
    let mut oversold = 0;
    for (sku, _, _) in SKUS {
        let availability = allocation.availability(&Sku::parse(sku)?).await?;
        for location in availability.locations {
            oversold += (location.reserved - location.on_hand).max(0);
        }
    }
    Ok(oversold)
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

/// `(count, p50, p99)` in milliseconds from the histogram `name` (in seconds): the upper bounds of the buckets the
/// percentiles fall in.
fn histogram_ms(metrics: &str, name: &str) -> Option<(u64, f64, f64)> {
    let bucket = format!("{name}_bucket");
    let mut buckets: Vec<(f64, u64)> = metrics
        .lines()
        .filter(|l| l.starts_with(&bucket))
        .filter_map(|l| {
            let le = l.split("le=\"").nth(1)?.split('"').next()?;
            let count = l.rsplit(' ').next()?.parse().ok()?;
            Some((
                if le == "+Inf" {
                    f64::INFINITY
                } else {
                    le.parse().ok()?
                },
                count,
            ))
        })
        .collect();
    buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
    let total = buckets.last()?.1;
    if total == 0 {
        return None;
    }
    let at = |p: f64| {
        let rank = (total as f64 * p).ceil() as u64;
        buckets
            .iter()
            .find(|(_, c)| *c >= rank)
            .map_or(f64::INFINITY, |(le, _)| le * 1000.0)
    };
    Some((total, at(0.50), at(0.99)))
}

/// Minor units as major units, for the report.
fn minor_units(minor: i64) -> f64 {
    minor as f64 / 100.0
}
