//! Crash test of partner intake on the real broker (Nisshi) and PostgreSQL: a feed of 5,000 partner orders with
//! 5 % exact duplicates and 1 % malformed messages, while `omni serve orders` is killed (`kill -9`) and
//! restarted at random 20 times. Afterwards: every valid partner order has exactly one order (none lost, none
//! twice) and every malformed message is in the DLQ with a reason.

use omni_testkit::fixtures::sku;
use std::collections::{BTreeMap, BTreeSet};
use std::process::Child;
use std::time::Duration;

use anyhow::{Context, ensure};
use omni_contracts::{Envelope, Topic};
use omni_testkit::Client;
use omni_testkit::kafka::collect;
use omni_testkit::testing::eventually;
use rand::{Rng, SeedableRng};
use serde_json::json;

use crate::processes::{self, Backends, ScratchDir, free_port, kill_hard, start_omni};

const ORDERS: usize = 5_000;
const DUPLICATE_PERCENT: usize = 5;
const MALFORMED_PERCENT: usize = 1;
const KILLS: usize = 20;
const ADMIN: &str = "crash-test-admin-key-0123456789";

struct Run {
    config: std::path::PathBuf,
    log: std::path::PathBuf,
    port: u16,
    _dir: ScratchDir,
}

fn start(run: &Run) -> anyhow::Result<Child> {
    start_omni(&["serve", "orders"], &run.config, &run.log)
}

async fn ready(run: &Run, child: &mut Child) -> anyhow::Result<()> {
    let base = format!("http://127.0.0.1:{}", run.port);
    processes::ready(&base, "/health/ready", child, "omni serve orders").await
}

fn order(id: &str, units: u32) -> serde_json::Value {
    json!({
        "partner_id": "acme-market", "partner_order_id": id, "placed_at": "2026-11-23T09:00:00Z",
        "currency": "EUR", "customer": { "tier": "standard" },
        "lines": [{ "sku": "CRASH-SKU", "quantity": units, "unit_price_minor": 250 }],
        "total_minor": i64::from(units) * 250,
        "delivery": { "type": "ship", "lat": 52.51, "lon": 13.39 },
        "promise_by": "2026-11-26T18:00:00Z", "tenders": [{ "type": "marketplace_prepaid" }]
    })
}

fn headers(ce_id: &str) -> Vec<(String, String)> {
    omni_testkit::kafka::partner_order_headers(ce_id, "/partners/acme-market")
}

/// One message of the feed.
struct Message {
    ce_id: String,
    body: Vec<u8>,
}

/// The feed, shuffled: every valid order once, 5 % of them again (the same bytes; half with the same `ce_id`,
/// a redelivery, half with a new one, a partner's resend), and 1 % malformed ones of several kinds.
fn feed(rng: &mut rand::rngs::StdRng) -> (Vec<Message>, BTreeSet<String>, Vec<Vec<u8>>) {
    let mut messages = Vec::new();
    let mut valid = BTreeSet::new();
    for n in 0..ORDERS {
        let id = format!("CRASH-{n:05}");
        let body = serde_json::to_vec(&order(&id, 1 + (n % 3) as u32)).unwrap_or_default();
        let ce_id = uuid::Uuid::new_v4().to_string();
        messages.push(Message {
            ce_id: ce_id.clone(),
            body: body.clone(),
        });
        if n % (100 / DUPLICATE_PERCENT) == 0 {
            let ce_id = if n % 2 == 0 {
                ce_id
            } else {
                uuid::Uuid::new_v4().to_string()
            };
            messages.push(Message { ce_id, body });
        }
        valid.insert(id);
    }
    let mut malformed = Vec::new();
    for n in 0..ORDERS * MALFORMED_PERCENT / 100 {
        let id = format!("BROKEN-{n:03}");
        let body = match n % 5 {
            0 => format!("{{\"partner_id\": \"acme-market\", \"partner_order_id\": \"{id}\"").into_bytes(),
            1 => {
                let mut o = order(&id, 1);
                o["lines"][0]["quantity"] = json!(0);
                serde_json::to_vec(&o).unwrap_or_default()
            }
            2 => {
                let mut o = order(&id, 1);
                o["total_minor"] = json!(1);
                serde_json::to_vec(&o).unwrap_or_default()
            }
            3 => {
                let mut o = order(&id, 1);
                o["partner_id"] = json!("unknown-market");
                serde_json::to_vec(&o).unwrap_or_default()
            }
            _ => {
                let mut o = order(&id, 1);
                o["surprise"] = json!(true);
                serde_json::to_vec(&o).unwrap_or_default()
            }
        };
        malformed.push(body.clone());
        messages.push(Message {
            ce_id: uuid::Uuid::new_v4().to_string(),
            body,
        });
    }
    // Shuffle (Fisher-Yates), so duplicates and bad messages are spread through the feed.
    for i in (1..messages.len()).rev() {
        let j = rng.random_range(0..=i);
        messages.swap(i, j);
    }
    (messages, valid, malformed)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn partner_intake_takes_every_order_exactly_once_while_killed_twenty_times() -> anyhow::Result<()> {
    omni_telemetry::init_for_tests();
    let backends = Backends::new()?;
    let settings = &backends.settings;
    let bootstrap = settings.kafka.bootstrap_servers.clone();
    let dir = ScratchDir::new("crash")?;
    let port = free_port()?;
    let config = format!(
        "[http.ports]\norders = {port}\n\n{backends}\
         [[auth.api_keys]]\nkey = \"{ADMIN}\"\nname = \"crash-admin\"\nroles = [\"admin\"]\n\n\
         [[orders.partners]]\nid = \"acme-market\"\nname = \"Acme\"\n",
        backends = backends.toml(6_000),
    );
    let run = Run {
        config: dir.join("omni.toml"),
        log: dir.join("orders.log"),
        port,
        _dir: dir,
    };
    std::fs::write(&run.config, config)?;

    let metrics = omni_telemetry::Metrics::new("crash-test")?;
    let kafka = omni_kafka::Kafka::new(&settings.kafka, &bootstrap);
    let producer = kafka.producer(&metrics)?;
    // Orders learns the SKU from the catalog topic, as in production.
    let sku = sku("CRASH-SKU")?;
    producer
        .publish(&Envelope::new(
            "catalog",
            omni_contracts::events::CatalogEvent::SkuUpserted(sku),
        ))
        .await?;

    let mut child = start(&run)?;
    let outcome = crash_run(&run, &mut child, &producer, &kafka).await;
    let _ = kill_hard(&mut child);
    outcome
}

async fn crash_run(
    run: &Run,
    child: &mut Child,
    producer: &omni_kafka::Producer,
    kafka: &omni_kafka::Kafka,
) -> anyhow::Result<()> {
    ready(run, child).await?;
    let orders = Client::new(format!("http://127.0.0.1:{}", run.port), ADMIN);
    let inbound = kafka.topics().partner_inbound_name("acme-market");
    // The catalog reached orders once a probe order is taken.
    omni_testkit::kafka::until_intake_takes_a_probe(
        producer,
        &inbound,
        &orders,
        "acme-market",
        |id| Ok(serde_json::to_vec(&order(id, 1))?),
        Duration::from_millis(500),
    )
    .await?;

    let mut rng = rand::rngs::StdRng::seed_from_u64(20261123);
    let (messages, valid, malformed) = feed(&mut rng);
    let total = messages.len();
    // The feed runs in the background, paced over ~20 s, while the service is killed and restarted.
    let sender = {
        let producer = producer.clone();
        let inbound = inbound.clone();
        tokio::spawn(async move {
            for (n, message) in messages.iter().enumerate() {
                let key = format!("k{}", n % 64);
                let mut attempt = 0;
                // A send the broker refuses (an idempotent producer's sequence is reset: the broker answered
                // `OutOfOrderSequenceNumber` once in CI while the service was being killed) is sent again, as a
                // partner does; the same `ce_id` makes it a redelivery, which Omni takes once.
                while let Err(e) = producer
                    .send_raw(&inbound, &key, &headers(&message.ce_id), &message.body)
                    .await
                {
                    attempt += 1;
                    if attempt >= 5 {
                        return Err(e.into());
                    }
                    tracing::warn!(error = %e, attempt, "The broker refused a send; sending it again.");
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                if n % 256 == 0 {
                    tokio::time::sleep(Duration::from_millis(1_000)).await;
                }
            }
            Ok::<usize, anyhow::Error>(messages.len())
        })
    };
    let mut kills = 0;
    while kills < KILLS {
        let alive = Duration::from_millis(rng.random_range(300..2_500));
        tokio::time::sleep(alive).await;
        kill_hard(child)?;
        kills += 1;
        *child = start(run)?;
        ready(run, child).await?;
    }
    let sent = sender.await??;
    ensure!(sent == total, "the whole feed was sent");

    // Drain: every valid order taken, every malformed one dead-lettered.
    let taken = eventually(
        "every valid partner order to be taken",
        Duration::from_secs(300),
        || async {
            let taken = all_partner_orders(&orders).await?;
            let ids: BTreeSet<&String> = taken.keys().collect();
            Ok(valid.iter().all(|id| ids.contains(id)).then_some(taken))
        },
    )
    .await?;
    let twice: Vec<_> = taken.iter().filter(|(_, n)| **n > 1).collect();
    ensure!(twice.is_empty(), "partner orders taken more than once: {twice:?}");
    let unexpected: Vec<_> = taken
        .keys()
        .filter(|id| !valid.contains(*id) && !id.starts_with("PROBE-"))
        .collect();
    ensure!(
        unexpected.is_empty(),
        "orders that should not exist: {unexpected:?}"
    );
    let dlq = kafka.topics().dead_letter_name(Topic::OrdersInbound);
    let dead = collect(kafka.bootstrap(), &[&dlq], Duration::from_secs(120), |seen| {
        malformed.iter().all(|m| seen.iter().any(|d| &d.body == m))
    })
    .await?;
    for body in &malformed {
        let entry = dead
            .iter()
            .find(|d| &d.body == body)
            .context("a malformed message is missing from the DLQ")?;
        ensure!(
            entry.header("omni_dlq_reason").is_some_and(|r| !r.is_empty()),
            "a DLQ entry without a reason"
        );
    }
    println!(
        "crash test: {total} messages ({} valid orders, {} malformed), {kills} kills; {} orders taken once each, \
         {} DLQ entries",
        valid.len(),
        malformed.len(),
        taken.len(),
        dead.len()
    );
    Ok(())
}

/// Every order of the partner, counted by partner order id, read page by page.
async fn all_partner_orders(orders: &Client) -> anyhow::Result<BTreeMap<String, usize>> {
    let mut counts = BTreeMap::new();
    let mut after: Option<String> = None;
    loop {
        let path = match &after {
            Some(a) => format!("/v1/orders?partner=acme-market&limit=100&after={a}"),
            None => "/v1/orders?partner=acme-market&limit=100".to_owned(),
        };
        let page = orders.get(&path).await?;
        ensure!(
            page.status == 200,
            "listing answered {}: {}",
            page.status,
            page.body
        );
        for o in page.body["orders"].as_array().cloned().unwrap_or_default() {
            let id = o["partner_order_id"].as_str().unwrap_or_default().to_owned();
            *counts.entry(id).or_insert(0) += 1;
        }
        match page.body["next"].as_str() {
            Some(next) => after = Some(next.to_owned()),
            None => return Ok(counts),
        }
    }
}
