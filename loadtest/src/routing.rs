//! `omni-loadtest routing`: how long routing takes to decide an order: 5-line orders shipped to random points,
//! routed over 1,000 nodes (stores and warehouses, each stocking part of the range, some of them busy) with the
//! shipped cost model and splits allowed, in this process (no backend: the decision is pure, what the
//! fulfillment service adds around it is a database read). Prints p50/p99/max and the CPU time per decision.
//! The goal: p99 ≤ 1 ms.

use std::time::Instant;

use omni_contracts::api::{Delivery, Latitude, LocationKind, Longitude, OrderLine, UnitPrice};
use omni_contracts::{Quantity, Sku};
use omni_fulfillment::domain::routing::cost::{CostModel, Timing};
use omni_fulfillment::domain::routing::{Node, Request, Stock, route};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::stats::{Latencies, progress, verdict};

/// The goal, in milliseconds.
const GOAL_P99_MS: f64 = 1.0;

/// `routing` flags.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct RoutingArgs {
    /// Nodes in the network.
    #[arg(long, default_value_t = 1_000, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    nodes: u32,
    /// Lines per order.
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..=100))]
    lines: u32,
    /// SKUs in the range.
    #[arg(long, default_value_t = 200, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    skus: u32,
    /// Share of the range each node stocks, in percent.
    #[arg(long, default_value_t = 30, value_parser = clap::value_parser!(u32).range(1..=100))]
    stocked_percent: u32,
    /// Decisions measured (after as many unmeasured ones as a tenth of them).
    #[arg(long, default_value_t = 5_000, value_parser = clap::value_parser!(u32).range(10..=1_000_000))]
    orders: u32,
    /// Seed of the network and orders, so a run can be repeated.
    #[arg(long, default_value_t = 21)]
    seed: u64,
}

pub(crate) fn run(args: RoutingArgs) -> anyhow::Result<()> {
    let mut rng = StdRng::seed_from_u64(args.seed);
    let skus: Vec<String> = (0..args.skus).map(|i| format!("SKU-{i:05}")).collect();
    let mut nodes = Vec::with_capacity(args.nodes as usize);
    let mut stock = Stock::default();
    for i in 0..args.nodes {
        let id = format!("NODE-{i:05}");
        // Germany-sized: 47–55 °N, 6–15 °E.
        let (lat, lon) = (rng.random_range(47.0..55.0), rng.random_range(6.0..15.0));
        let warehouse = i % 50 == 0;
        let caps = if warehouse { "ship" } else { "ship,pickup,curbside" };
        let mut node =
            Node::from_row(&id, lat, lon, caps).ok_or_else(|| anyhow::anyhow!("node {id} does not parse"))?;
        node.kind = if warehouse {
            LocationKind::Warehouse
        } else {
            LocationKind::Store
        };
        let capacity = if warehouse {
            20_000
        } else {
            rng.random_range(100..600)
        };
        node.pick_capacity = Some(capacity);
        node.picked_today = rng.random_range(0..capacity);
        for sku in &skus {
            if rng.random_range(0..100) < args.stocked_percent {
                stock.set(&id, sku, rng.random_range(0..12));
            }
        }
        nodes.push(node);
    }
    let model = CostModel::default();
    let now = chrono::Utc::now();
    let orders: Vec<(Delivery, Vec<OrderLine>, Option<chrono::DateTime<chrono::Utc>>)> = (0..args.orders
        + args.orders / 10)
        .map(|_| -> anyhow::Result<_> {
            let delivery = Delivery::Ship {
                lat: Latitude::new(rng.random_range(47.0..55.0))?,
                lon: Longitude::new(rng.random_range(6.0..15.0))?,
            };
            let mut lines = Vec::new();
            while lines.len() < args.lines as usize {
                let sku = &skus[rng.random_range(0..skus.len())];
                if lines.iter().any(|l: &OrderLine| l.sku.as_str() == sku) {
                    continue;
                }
                lines.push(OrderLine {
                    sku: Sku::parse(sku)?,
                    quantity: Quantity::new(rng.random_range(1..3))?,
                    unit_price_minor: UnitPrice::new(1999)?,
                });
            }
            let promise =
                (rng.random_range(0..3) > 0).then(|| now + chrono::Duration::hours(rng.random_range(4..72)));
            Ok((delivery, lines, promise))
        })
        .collect::<anyhow::Result<_>>()?;
    println!(
        "routing: {} nodes, {} SKUs ({} % stocked per node), {}-line orders shipped to random points, max_splits {}",
        args.nodes, args.skus, args.stocked_percent, args.lines, model.max_splits
    );
    let (warmup, measured) = orders.split_at((args.orders / 10) as usize);
    let mut parts = [0u32; 6];
    let decide =
        |(delivery, lines, promise): &(Delivery, Vec<OrderLine>, Option<chrono::DateTime<chrono::Utc>>)| {
            let request = Request {
                delivery,
                lines,
                timing: Timing {
                    now,
                    promise_by: *promise,
                },
            };
            route(&request, &nodes, &stock, &[], &model)
        };
    for order in warmup {
        std::hint::black_box(decide(order));
    }
    let bar = progress("routing decisions", u64::from(args.orders));
    let mut latencies = Latencies::default();
    let cpu_before = thread_cpu();
    let started = Instant::now();
    for order in measured {
        let start = Instant::now();
        let decision = std::hint::black_box(decide(order));
        latencies.record(start.elapsed());
        let n = decision.chosen.map_or(0, |p| p.parts.len()).min(5);
        parts[n] += 1;
        bar.inc(1);
    }
    let wall = started.elapsed();
    let cpu = thread_cpu().zip(cpu_before).map(|(after, before)| after - before);
    bar.finish_and_clear();
    let summary = latencies
        .summary()
        .ok_or_else(|| anyhow::anyhow!("no decision measured"))?;
    println!("decision time: {summary}");
    if let Some(cpu) = cpu {
        println!(
            "CPU per decision: {:.1} µs (wall {:.1} µs)",
            cpu * 1e6 / f64::from(args.orders),
            wall.as_secs_f64() * 1e6 / f64::from(args.orders)
        );
    }
    println!(
        "plans: {} unserved, {} one node, {} two, {} three, {} more",
        parts[0],
        parts[1],
        parts[2],
        parts[3],
        parts[4] + parts[5]
    );
    println!(
        "goal: p99 ≤ {GOAL_P99_MS} ms: {:.3} ms, {}",
        summary.p99,
        verdict(Some(summary.p99), GOAL_P99_MS, true)
    );
    Ok(())
}

/// This thread's CPU time in seconds (`/proc/thread-self/stat`: utime + stime).
fn thread_cpu() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/thread-self/stat").ok()?;
    let after = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    Some(ticks as f64 / 100.0)
}
