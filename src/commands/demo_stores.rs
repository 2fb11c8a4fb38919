//! The demo's store shift: while orders are placed, associates work every store's queue. Ship-from-store orders
//! are accepted, picked, packed and shipped (one in twelve is found short on the shelf: the whole task is short, so
//! the order is routed to another node; one in seven of several units is a unit short: that unit goes to another
//! node as a new part of the order, the rest ships); pickups are made ready and handed over with the code the customer was sent;
//! curbside customers say they are at a bay, a runner is assigned and hands over at the car. One pickup in five is
//! never collected: its window lapses, the order is cancelled and its stock goes back on sale at the store.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::{Duration, Instant};

use omni::{Client, Mesh, Service};
use omni_contracts::Topic;
use serde_json::{Value, json};

use crate::demo_data::LOCATIONS;

/// What the shift did.
#[derive(Debug, Default)]
pub(crate) struct Shift {
    /// Ship-from-store tasks shipped.
    pub shipped: u64,
    /// Ship tasks found short on the shelf and routed to another node.
    pub short_rerouted: u64,
    /// Ship tasks with one unit short of several: that unit went to another node, the rest was shipped.
    pub partial_short: u64,
    /// Pickups handed over at the counter.
    pub picked_up: u64,
    /// Curbside orders handed over at the car.
    pub curbside: u64,
    /// Pickups left at the counter on purpose.
    pub left_uncollected: u64,
    /// Of those, the ones whose window lapsed (order cancelled) before the shift ended.
    pub uncollected: u64,
    /// Their units, back on sale at their stores.
    pub uncollected_units: u64,
    /// Seconds from release to ready for pickup, or to shipped.
    pub time_to_ready: Vec<f64>,
    /// Seconds curbside customers waited at the car.
    pub curbside_wait: Vec<f64>,
    /// Actions the stores could not take, by action and answer (an order cancelled meanwhile, a task that moved).
    pub refused: BTreeMap<String, u64>,
}

/// Works every store's queue until `orders_done` and nothing new arrived for a few rounds, or `until`; then waits
/// (up to `until`) for the pickups left at the counter to lapse.
pub(crate) async fn work(
    mesh: &Mesh,
    admin_key: &str,
    orders_done: tokio_util::sync::CancellationToken,
    until: Instant,
) -> anyhow::Result<Shift> {
    let store = mesh.client(Service::Fulfillment, admin_key);
    let customer = Client::new(mesh.url(Service::Fulfillment), "");
    let mut shift = Shift::default();
    let mut opened = HashSet::new();
    let mut ready: Vec<Value> = Vec::new();
    let mut quiet = 0;
    while Instant::now() < until && !(orders_done.is_cancelled() && quiet >= 4) {
        let mut worked = 0;
        for location in LOCATIONS {
            let page = store
                .get(&format!(
                    "/v1/stores/{}/tasks?state=created&limit=100",
                    location.id
                ))
                .await?;
            for task in page.body["tasks"].as_array().into_iter().flatten() {
                let Some(id) = task["id"].as_str() else { continue };
                if !opened.insert(id.to_owned()) {
                    continue;
                }
                worked += 1;
                if let Some(staged) = work_one(&store, task, opened.len(), &mut shift).await? {
                    ready.push(staged);
                }
            }
        }
        if worked == 0 {
            quiet += 1;
            tokio::time::sleep(Duration::from_millis(250)).await;
        } else {
            quiet = 0;
        }
    }
    let codes = pickup_codes(mesh, &ready, until).await?;
    let mut left = Vec::new();
    for (n, task) in ready.iter().enumerate() {
        let id = task["id"].as_str().unwrap_or_default();
        let Some(code) = codes.get(id) else {
            *shift.refused.entry("no pickup code seen".into()).or_default() += 1;
            continue;
        };
        if n % 5 == 4 {
            shift.left_uncollected += 1;
            left.push(id.to_owned());
            continue;
        }
        if task["method"] == "curbside" {
            let bays = LOCATIONS
                .iter()
                .find(|l| task["location_id"] == l.id)
                .map_or(1, |l| l.bays.max(1));
            let arrival = json!({ "pickup_code": code, "bay": (n as u32 % bays + 1).to_string(),
                                  "vehicle": "blue estate, B-OM 4711" });
            let path = format!("/v1/tasks/{id}/arrival");
            let arrived = customer.post(&path, &arrival, &[]).await?;
            if arrived.status != 200 {
                *shift
                    .refused
                    .entry(format!("arrive {}", arrived.status))
                    .or_default() += 1;
                continue;
            }
            // The runner walks out to the bay.
            tokio::time::sleep(Duration::from_millis(150)).await;
            if act(
                &store,
                id,
                json!({ "type": "assign_runner", "runner": "kim" }),
                &mut shift,
            )
            .await?
            .is_none()
            {
                continue;
            }
        }
        let Some(handed) = act(
            &store,
            id,
            json!({ "type": "hand_over", "pickup_code": code }),
            &mut shift,
        )
        .await?
        else {
            continue;
        };
        if task["method"] == "curbside" {
            shift.curbside += 1;
            if let Some(wait) = seconds_between(&handed["arrived_at"], &handed["updated_at"]) {
                shift.curbside_wait.push(wait);
            }
        } else {
            shift.picked_up += 1;
        }
    }
    // The pickups left at the counter lapse when their window ends (the demo's is short).
    let mut lapsed = HashSet::new();
    while lapsed.len() < left.len() && Instant::now() < until {
        let waiting: Vec<&String> = left.iter().filter(|id| !lapsed.contains(*id)).collect();
        for id in waiting {
            let now = store.get(&format!("/v1/tasks/{id}")).await?.body;
            if now["state"] == "uncollected" {
                lapsed.insert(id.clone());
                shift.uncollected += 1;
                shift.uncollected_units += now["lines"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|l| l["buckets"]["released"].as_u64())
                    .sum::<u64>();
            }
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    Ok(shift)
}

/// Takes a new task through the store's steps; the task staged for its customer, for pickup and curbside.
async fn work_one(
    store: &Client,
    task: &Value,
    n: usize,
    shift: &mut Shift,
) -> anyhow::Result<Option<Value>> {
    let id = task["id"].as_str().unwrap_or_default();
    if act(store, id, json!({ "type": "accept" }), shift)
        .await?
        .is_none()
    {
        return Ok(None);
    }
    let lines: Vec<(Value, u64)> = task["lines"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|l| (l["sku"].clone(), l["ordered"].as_u64().unwrap_or(0)))
        .collect();
    let ship = task["method"] == "ship";
    if ship && n.is_multiple_of(12) {
        // A till sold the last units before the associate got there: every unit short, routed elsewhere.
        let short: Vec<Value> = lines
            .iter()
            .map(|(sku, units)| json!({ "sku": sku, "picked": 0, "short": units }))
            .collect();
        if act(store, id, json!({ "type": "pick", "lines": short }), shift)
            .await?
            .is_some()
        {
            shift.short_rerouted += 1;
        }
        return Ok(None);
    }
    // One multi-unit ship task in seven is a unit short of its first line: that unit goes to another node as a
    // new part of the order, the rest is shipped from here.
    let partial = ship && n % 7 == 3 && lines.iter().map(|(_, units)| units).sum::<u64>() > 1;
    let picks: Vec<Value> = lines
        .iter()
        .enumerate()
        .map(|(i, (sku, units))| {
            if partial && i == 0 {
                json!({ "sku": sku, "picked": units - 1, "short": 1 })
            } else {
                json!({ "sku": sku, "picked": units })
            }
        })
        .collect();
    if partial {
        shift.partial_short += 1;
    }
    if act(store, id, json!({ "type": "pick", "lines": picks }), shift)
        .await?
        .is_none()
    {
        return Ok(None);
    }
    let weight = 400 * lines.len().max(1);
    let packed = json!({ "type": "pack", "parcels": [{ "weight_grams": weight }] });
    if act(store, id, packed, shift).await?.is_none() {
        return Ok(None);
    }
    if ship {
        let shipped = json!({ "type": "ship", "carrier": "DHL", "tracking": format!("JJD{n:010}") });
        if let Some(after) = act(store, id, shipped, shift).await? {
            shift.shipped += 1;
            if let Some(s) = seconds_between(&after["released_at"], &after["updated_at"]) {
                shift.time_to_ready.push(s);
            }
        }
        return Ok(None);
    }
    let staged = act(store, id, json!({ "type": "stage" }), shift).await?;
    if let Some(s) = staged
        .as_ref()
        .and_then(|t| seconds_between(&t["released_at"], &t["ready_at"]))
    {
        shift.time_to_ready.push(s);
    }
    Ok(staged)
}

/// One action; the task after it, or `None` (counted) when the store could not take it.
async fn act(store: &Client, id: &str, action: Value, shift: &mut Shift) -> anyhow::Result<Option<Value>> {
    let name = action["type"].as_str().unwrap_or("?").to_owned();
    let answer = store
        .post(
            &format!("/v1/tasks/{id}/actions"),
            &json!({ "action": action }),
            &[],
        )
        .await?;
    if answer.status == 200 {
        return Ok(Some(answer.body));
    }
    *shift
        .refused
        .entry(format!("{name} {}", answer.status))
        .or_default() += 1;
    Ok(None)
}

/// The pickup codes customers were sent (`omni.fulfillment.ready_for_pickup`), by task.
async fn pickup_codes(
    mesh: &Mesh,
    ready: &[Value],
    until: Instant,
) -> anyhow::Result<HashMap<String, String>> {
    if ready.is_empty() {
        return Ok(HashMap::new());
    }
    let wanted: HashSet<&str> = ready.iter().filter_map(|t| t["id"].as_str()).collect();
    let topic = mesh.topic(Topic::Fulfillment);
    let is_code = |m: &omni::topic_reader::Seen| {
        m.header("ce_type") == Some("omni.fulfillment.ready_for_pickup")
            && m.json()["task_id"].as_str().is_some_and(|t| wanted.contains(t))
    };
    let timeout = until
        .saturating_duration_since(Instant::now())
        .max(Duration::from_secs(5));
    let seen = omni::topic_reader::collect(mesh.kafka_bootstrap(), &[topic.as_str()], timeout, |seen| {
        seen.iter().filter(|m| is_code(m)).count() >= wanted.len()
    })
    .await?;
    Ok(seen
        .iter()
        .filter(|m| is_code(m))
        .filter_map(|m| {
            let note = m.json();
            Some((
                note["task_id"].as_str()?.to_owned(),
                note["pickup_code"].as_str()?.to_owned(),
            ))
        })
        .collect())
}

/// Seconds from one RFC 3339 time to another.
fn seconds_between(from: &Value, to: &Value) -> Option<f64> {
    let parse = |v: &Value| chrono::DateTime::parse_from_rfc3339(v.as_str()?).ok();
    Some((parse(to)? - parse(from)?).as_seconds_f64().max(0.0))
}
