//! The demo's marketplace: partner orders sent through the Kafka intake (`omni.orders.inbound.<partner>.v1`) as a partner
//! would, some of them twice and a few malformed, and what became of them.

use std::collections::BTreeMap;
use std::time::Duration;

use omni::{Client, Mesh};
use omni_contracts::Topic;
use rand::Rng;
use serde_json::json;

use crate::demo_data::{DEMO_PARTNER, LOCATIONS, SKUS};

/// What the feed sent.
#[derive(Debug, Default)]
pub(crate) struct Sent {
    /// Distinct valid partner orders.
    pub orders: u64,
    /// Valid orders sent a second time (a partner's resend).
    pub duplicates: u64,
    /// Messages that break the schema or a business rule.
    pub malformed: u64,
}

/// What became of the feed, read back from Omni.
#[derive(Debug, Default)]
pub(crate) struct Outcome {
    /// Partner orders Omni holds, by status.
    pub by_status: BTreeMap<String, u64>,
    /// Partner order ids taken more than once (must stay empty).
    pub taken_twice: u64,
    /// `omni.order.duplicate_received` acknowledgements seen.
    pub acknowledged: u64,
    /// DLQ entries, by reason (its first 70 characters).
    pub dead_letters: BTreeMap<String, u64>,
}

fn partner_order(id: &str) -> serde_json::Value {
    let mut rng = rand::rng();
    let lines: Vec<_> = (0..rng.random_range(1..=2))
        .map(|i| {
            let (sku, _, _) = SKUS[(rng.random_range(0..SKUS.len()) + i) % SKUS.len()];
            json!({ "sku": sku, "quantity": 1, "unit_price_minor": 1000 + 500 * i64::from(rng.random_range(0..8)) })
        })
        .collect();
    let total: i64 = lines
        .iter()
        .map(|l| l["unit_price_minor"].as_i64().unwrap_or(0))
        .sum();
    let delivery = if rng.random_bool(0.3) {
        let stores: Vec<_> = LOCATIONS.iter().filter(|l| l.id.starts_with("STORE")).collect();
        json!({ "type": "pickup", "location_id": stores[rng.random_range(0..stores.len())].id })
    } else {
        json!({ "type": "ship", "lat": 52.45 + rng.random_range(0.0..0.15), "lon": 13.25 + rng.random_range(0.0..0.3) })
    };
    let now = chrono::Utc::now();
    json!({
        "partner_id": DEMO_PARTNER, "partner_order_id": id, "placed_at": now,
        "currency": "EUR", "customer": { "tier": if rng.random_bool(0.1) { "vip" } else { "standard" } },
        "lines": lines, "total_minor": total, "delivery": delivery,
        "promise_by": now + chrono::Duration::hours(rng.random_range(6..72)),
        "tenders": [{ "type": "marketplace_prepaid" }]
    })
}

fn malformed(n: u64) -> Vec<u8> {
    let id = format!("NW-DEMO-BAD-{n}");
    let mut order = partner_order(&id);
    match n % 4 {
        0 => return format!("{{\"partner_id\": \"{DEMO_PARTNER}\", \"lines\": [").into_bytes(),
        1 => order["total_minor"] = json!(1),
        2 => order["lines"][0]["quantity"] = json!(-2),
        _ => order["lines"][0]["sku"] = json!("NO-SUCH-SKU"),
    }
    serde_json::to_vec(&order).unwrap_or_default()
}

fn headers() -> Vec<(String, String)> {
    omni::topic_reader::partner_order_headers(
        &uuid::Uuid::now_v7().to_string(),
        &format!("/partners/{DEMO_PARTNER}"),
    )
}

/// Sends `count` partner orders over `spread`, about 10 % of them twice and one malformed message per 20.
pub(crate) async fn feed(mesh: &Mesh, count: u32, spread: Duration) -> anyhow::Result<Sent> {
    let metrics = omni_telemetry::Metrics::new("demo-marketplace")?;
    let producer =
        omni_kafka::Kafka::new(&mesh.settings().kafka, mesh.kafka_bootstrap()).producer(&metrics)?;
    let topic = mesh.partner_topic(DEMO_PARTNER);
    let pause = spread / count.max(1);
    let mut sent = Sent::default();
    for n in 0..count {
        let id = format!("NW-DEMO-{:05}", n + 1);
        let body = serde_json::to_vec(&partner_order(&id))?;
        let key = format!("{DEMO_PARTNER}:{id}");
        producer.send_raw(&topic, &key, &headers(), &body).await?;
        sent.orders += 1;
        if rand::rng().random_bool(0.1) {
            producer.send_raw(&topic, &key, &headers(), &body).await?;
            sent.duplicates += 1;
        }
        if n % 20 == 10 {
            producer
                .send_raw(&topic, "bad", &headers(), &malformed(sent.malformed))
                .await?;
            sent.malformed += 1;
        }
        tokio::time::sleep(pause).await;
    }
    Ok(sent)
}

/// Waits (up to `limit`) until every valid order reached an end state, then reads what Omni made of the feed.
pub(crate) async fn outcome(
    mesh: &Mesh,
    orders: &Client,
    sent: &Sent,
    limit: Duration,
) -> anyhow::Result<Outcome> {
    let started = std::time::Instant::now();
    let mut outcome = Outcome::default();
    loop {
        let mut counts: BTreeMap<String, u64> = BTreeMap::new();
        let mut by_status: BTreeMap<String, u64> = BTreeMap::new();
        let mut after: Option<String> = None;
        loop {
            let path = match &after {
                Some(a) => format!("/v1/orders?partner={DEMO_PARTNER}&limit=100&after={a}"),
                None => format!("/v1/orders?partner={DEMO_PARTNER}&limit=100"),
            };
            let page = orders.get(&path).await?;
            for order in page.body["orders"].as_array().cloned().unwrap_or_default() {
                *counts
                    .entry(order["partner_order_id"].as_str().unwrap_or_default().to_owned())
                    .or_default() += 1;
                *by_status
                    .entry(order["status"].as_str().unwrap_or_default().to_owned())
                    .or_default() += 1;
            }
            match page.body["next"].as_str() {
                Some(next) => after = Some(next.to_owned()),
                None => break,
            }
        }
        let settled = by_status
            .iter()
            .filter(|(s, _)| matches!(s.as_str(), "released" | "failed" | "cancelled"))
            .map(|(_, n)| n)
            .sum::<u64>();
        outcome.by_status = by_status;
        outcome.taken_twice = counts.values().filter(|n| **n > 1).count() as u64;
        if settled >= sent.orders || started.elapsed() > limit {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let remaining = limit
        .saturating_sub(started.elapsed())
        .max(Duration::from_secs(5));
    let dlq = mesh.topic(Topic::OrdersInboundDlq);
    let expected = usize::try_from(sent.malformed).unwrap_or(usize::MAX);
    if let Ok(dead) = omni::topic_reader::collect(mesh.kafka_bootstrap(), &[&dlq], remaining, |seen| {
        seen.len() >= expected
    })
    .await
    {
        for entry in dead {
            let reason = entry.header("omni_dlq_reason").unwrap_or("no reason");
            let short: String = reason.chars().take(70).collect();
            *outcome.dead_letters.entry(short).or_default() += 1;
        }
    }
    let topic = mesh.topic(Topic::Orders);
    let expected = usize::try_from(sent.duplicates).unwrap_or(usize::MAX);
    let is_ack = |m: &omni::topic_reader::Seen| m.header("ce_type") == Some("omni.order.duplicate_received");
    if let Ok(seen) = omni::topic_reader::collect(
        mesh.kafka_bootstrap(),
        &[&topic],
        Duration::from_secs(5),
        |seen| seen.iter().filter(|m| is_ack(m)).count() >= expected,
    )
    .await
    {
        outcome.acknowledged = seen.iter().filter(|m| is_ack(m)).count() as u64;
    }
    Ok(outcome)
}
