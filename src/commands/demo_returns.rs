//! The demo's returns (issue 23): once the shift is over, some completed web orders come back. Most are returned at
//! a store counter other than the node that delivered them, resellable: each unit is restocked there, and the demo
//! measures how soon that store's stock shows it. Some go by mail and are received at the warehouse's returns
//! desk; one arrives damaged and is written off; one parcel announced by mail is never sent, so that return
//! expires; one asks for more than was delivered and is declined, naming the rule. Each is refunded to the cards
//! the order was paid with (one, as store credit), and the orders show what came back. One more is exchanged at a
//! counter: a tee for the other colour (anything else like for like), picked up at that store; the replacement
//! order is paid by the store credit the returned unit is worth and goes on to that store.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use omni::{Client, Mesh, Service};
use serde_json::{Value, json};

use crate::demo_data::LOCATIONS;

/// Where returns by mail are received.
const RETURNS_DESK: &str = "WH-BRANDENBURG";

/// Completed web orders the demo returns (at most).
const RETURNED_ORDERS: usize = 12;

/// What the returns did.
#[derive(Debug, Default)]
pub(crate) struct Returned {
    /// Returned at a store other than the node that delivered the order, restocked there.
    pub at_another_store: u64,
    /// Milliseconds from the counter's answer until that store's stock showed the unit (polled every 5 ms).
    pub on_sale_after_ms: Vec<f64>,
    /// Restocked units whose store did not show them within 10 s.
    pub not_on_sale: u64,
    /// Sent by mail and received at the returns desk.
    pub by_mail: u64,
    /// Damaged units written off (refunded, never back on sale).
    pub written_off: u64,
    /// Returns by mail whose parcel never came: expired.
    pub expired: u64,
    /// Refused, by rule.
    pub declined: BTreeMap<String, u64>,
    /// Settled returns: refunded to the original tenders.
    pub settled: u64,
    /// What they refunded to the original tenders, in minor units.
    pub refunded_minor: i64,
    /// What they gave as store credit, in minor units (the second counter return asks for it).
    pub store_credit_minor: i64,
    /// Orders showing `returned` / `partially_returned`.
    pub orders_returned: u64,
    /// Orders showing `partially_returned`.
    pub orders_partially_returned: u64,
    /// Exchanged at a counter: each replacement order's id and where it stands at the end.
    pub exchanges: Vec<(String, String)>,
}

/// What a returned unit is exchanged for in the demo: a tee for the other colour, anything else like for like.
fn exchanged_for(sku: &str) -> &str {
    match sku {
        "TEE-BLACK-M" => "TEE-WHITE-M",
        "TEE-WHITE-M" => "TEE-BLACK-M",
        other => other,
    }
}

/// Returns some of the demo's completed web orders (see the module's note); waits up to `wait` for refunds and
/// the expiry.
pub(crate) async fn take(mesh: &Mesh, admin_key: &str, wait: Duration) -> anyhow::Result<Returned> {
    let orders = mesh.client(Service::Orders, admin_key);
    let fulfillment = mesh.client(Service::Fulfillment, admin_key);
    let allocation = mesh.client(Service::Allocation, admin_key);
    let returns = mesh.client(Service::Returns, admin_key);
    let mut done = Returned::default();
    let page = orders.get("/v1/orders?status=completed&limit=100").await?;
    anyhow::ensure!(page.status == 200, "listing the completed orders: {page:?}");
    let page = page.body;
    let candidates: Vec<Value> = page["orders"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|o| o["channel"] == "web" && o["partner_id"].is_null())
        .filter(|o| o["tenders"].as_array().is_some_and(|t| !t.is_empty()))
        .take(RETURNED_ORDERS + 1)
        .cloned()
        .collect();
    let mut opened: Vec<String> = Vec::new();
    let mut returned_orders: Vec<String> = Vec::new();
    let mut never_sent: Option<String> = None;
    for (n, order) in candidates.iter().enumerate() {
        let Some(id) = order["id"].as_str() else { continue };
        let Some(sku) = order["lines"][0]["sku"].as_str() else {
            continue;
        };
        let delivered_from = delivered_from(&fulfillment, id).await?;
        let store = LOCATIONS
            .iter()
            .map(|l| l.id)
            .find(|l| l.starts_with("STORE") && Some(*l) != delivered_from.as_deref())
            .unwrap_or(RETURNS_DESK);
        let line =
            |quantity: u32, reason: &str| json!([{ "sku": sku, "quantity": quantity, "reason": reason }]);
        let unit = |grade: &str, disposition: &str| json!([{ "sku": sku, "grade": grade, "disposition": { "type": disposition } }]);
        let request_id = format!("demo-return-{id}");
        let answer = match n % 6 {
            // The one beyond the others: exchanged at another store's counter, picked up there.
            _ if n == RETURNED_ORDERS => {
                let price = order["lines"][0]["unit_price_minor"].as_i64().unwrap_or(0);
                let asked = json!({ "request_id": request_id, "order_id": id, "lines": line(1, "does_not_fit"),
                    "method": { "type": "in_store", "location_id": store }, "units": unit("resellable", "restock"),
                    "refund_to": "exchange",
                    "exchange": {
                        "lines": [{ "sku": exchanged_for(sku), "quantity": 1, "unit_price_minor": price }],
                        "delivery": { "type": "pickup", "location_id": store },
                    } });
                returns.post("/v1/returns", &asked, &[]).await?
            }
            // The last one of a few: asks for more than was delivered.
            5 if done.declined.is_empty() => {
                let asked = json!({ "request_id": request_id, "order_id": id, "lines": line(1000, "does_not_fit"),
                    "method": { "type": "in_store", "location_id": store } });
                returns.post("/v1/returns", &asked, &[]).await?
            }
            // By mail, never sent: expires.
            4 if never_sent.is_none() => {
                let asked = json!({ "request_id": request_id, "order_id": id, "lines": line(1, "no_longer_wanted"),
                    "method": { "type": "by_mail" } });
                returns.post("/v1/returns", &asked, &[]).await?
            }
            // By mail, received at the returns desk as new.
            2 | 3 => {
                let asked = json!({ "request_id": request_id, "order_id": id, "lines": line(1, "wrong_item"),
                    "method": { "type": "by_mail" } });
                let opened = returns.post("/v1/returns", &asked, &[]).await?;
                match opened.body["id"].as_str() {
                    Some(return_id) if opened.status == 201 => {
                        let receipt =
                            json!({ "location_id": RETURNS_DESK, "units": unit("resellable", "restock") });
                        returns
                            .post(&format!("/v1/returns/{return_id}/receipts"), &receipt, &[])
                            .await?
                    }
                    _ => opened,
                }
            }
            // Damaged: written off at another store's counter.
            1 if done.written_off == 0 => {
                let asked = json!({ "request_id": request_id, "order_id": id, "lines": line(1, "damaged"),
                    "method": { "type": "in_store", "location_id": store }, "units": unit("damaged", "write_off") });
                returns.post("/v1/returns", &asked, &[]).await?
            }
            // At another store's counter, as new: on sale there at once.
            _ => {
                let before = on_hand(&allocation, sku, store).await?;
                let refund_to = if done.at_another_store == 1 {
                    "store_credit"
                } else {
                    "original_tenders"
                };
                let asked = json!({ "request_id": request_id, "order_id": id, "lines": line(1, "does_not_fit"),
                    "method": { "type": "in_store", "location_id": store }, "units": unit("resellable", "restock"),
                    "refund_to": refund_to });
                let answered = returns.post("/v1/returns", &asked, &[]).await?;
                if answered.status == 201 {
                    let since = Instant::now();
                    let mut shown = false;
                    while since.elapsed() < Duration::from_secs(10) {
                        if on_hand(&allocation, sku, store).await? > before {
                            done.on_sale_after_ms.push(since.elapsed().as_secs_f64() * 1000.0);
                            shown = true;
                            break;
                        }
                        tokio::time::sleep(Duration::from_millis(5)).await;
                    }
                    if !shown {
                        done.not_on_sale += 1;
                    }
                }
                answered
            }
        };
        match answer.status {
            200 | 201 => {
                let Some(return_id) = answer.body["id"].as_str() else {
                    continue;
                };
                if answer.body["status"] == "awaiting_items" {
                    never_sent = Some(return_id.to_owned());
                    continue;
                }
                let written_off = answer.body["units"][0]["disposition"]["type"] == "write_off";
                let by_mail = answer.body["method"]["type"] == "by_mail";
                if let Some(replacement) = answer.body["exchange"]["order_id"].as_str() {
                    done.exchanges.push((replacement.to_owned(), String::new()));
                } else {
                    match (written_off, by_mail) {
                        (true, _) => done.written_off += 1,
                        (false, true) => done.by_mail += 1,
                        (false, false) => done.at_another_store += 1,
                    }
                }
                opened.push(return_id.to_owned());
                returned_orders.push(id.to_owned());
            }
            422 => {
                let rule = answer.body["message"]
                    .as_str()
                    .and_then(|m| m.split(':').next())
                    .unwrap_or("unknown")
                    .to_owned();
                *done.declined.entry(rule).or_default() += 1;
            }
            _ => anyhow::bail!("a demo return was answered {answer:?}"),
        }
    }
    settle(&returns, &opened, never_sent.as_deref(), wait, &mut done).await?;
    replacements_sent_on(&orders, wait, &mut done.exchanges).await?;
    for id in &returned_orders {
        let order = orders.get(&format!("/v1/orders/{id}")).await?.body;
        match order["returns"]["state"].as_str() {
            Some("returned") => done.orders_returned += 1,
            Some("partially_returned") => done.orders_partially_returned += 1,
            _ => {}
        }
    }
    Ok(done)
}

/// Waits (up to `wait`) until every opened return is settled and the never-sent one expired; sums the refunds.
async fn settle(
    returns: &Client,
    opened: &[String],
    never_sent: Option<&str>,
    wait: Duration,
    done: &mut Returned,
) -> anyhow::Result<()> {
    let deadline = Instant::now() + wait;
    loop {
        let mut settled = 0;
        let (mut refunded, mut credited) = (0, 0);
        for id in opened {
            let r = returns.get(&format!("/v1/returns/{id}")).await?.body;
            if r["status"] == "settled" {
                settled += 1;
                let minor = r["refund_minor"].as_i64().unwrap_or(0);
                if r["refund_to"] == "store_credit" || r["refund_to"] == "exchange" {
                    credited += minor;
                } else {
                    refunded += minor;
                }
            }
        }
        let expired = match never_sent {
            Some(id) => {
                u64::from(returns.get(&format!("/v1/returns/{id}")).await?.body["status"] == "expired")
            }
            None => 0,
        };
        let all = settled == opened.len() as u64 && expired == u64::from(never_sent.is_some());
        if all || Instant::now() > deadline {
            done.settled = settled;
            done.refunded_minor = refunded;
            done.store_credit_minor = credited;
            done.expired = expired;
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Waits (up to `wait`) until each replacement order left `held` and its saga reached a resting state (released
/// to its store, or failed); keeps where each stands.
async fn replacements_sent_on(
    orders: &Client,
    wait: Duration,
    replacements: &mut [(String, String)],
) -> anyhow::Result<()> {
    let deadline = Instant::now() + wait;
    for (id, status) in replacements.iter_mut() {
        loop {
            let order = orders.get(&format!("/v1/orders/{id}")).await?.body;
            *status = order["status"].as_str().unwrap_or("unknown").to_owned();
            let resting = matches!(
                status.as_str(),
                "released" | "fulfilled" | "completed" | "failed" | "cancelled"
            );
            if resting || Instant::now() > deadline {
                break;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
    Ok(())
}

/// The node that delivered the order (its first completed fulfillment).
async fn delivered_from(fulfillment: &Client, order_id: &str) -> anyhow::Result<Option<String>> {
    let listed = fulfillment
        .get(&format!("/v1/fulfillments?order_id={order_id}"))
        .await?
        .body;
    Ok(listed
        .as_array()
        .into_iter()
        .flatten()
        .find(|f| f["status"] == "completed")
        .and_then(|f| f["location_id"].as_str())
        .map(str::to_owned))
}

/// Units of `sku` on hand at `store`.
async fn on_hand(allocation: &Client, sku: &str, store: &str) -> anyhow::Result<i64> {
    let answer = allocation.get(&format!("/v1/availability/{sku}")).await?.body;
    Ok(answer["locations"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|l| l["location_id"] == store)
        .and_then(|l| l["on_hand"].as_i64())
        .unwrap_or(0))
}
