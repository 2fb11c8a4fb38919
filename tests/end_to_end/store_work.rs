//! What the end-to-end tests of store work share: a network of shipping stores with stock, the stores' tasks
//! worked through to shipping, and waits on an order's status and a node's stock.

use std::time::Duration;

use anyhow::{Context, ensure};
use omni_contracts::api::Capability;
use omni_testkit::fixtures::{sku, store};
use omni_testkit::testing::{ADMIN_KEY, eventually, receive_stock};
use omni_testkit::{Client, Mesh, Service};
use serde_json::{Value, json};

/// How long a wait for the mesh may take.
pub(crate) const WAIT: Duration = Duration::from_secs(60);

/// Shipping stores at `(id, lat, lon)`, the tee and mug SKUs, 5 units of each `(store, sku)`; waits until routing
/// sees every one of them.
pub(crate) async fn stores(
    mesh: &Mesh,
    at: &[(&str, f64, f64)],
    stocked: &[(&str, &str)],
) -> anyhow::Result<()> {
    let catalog = mesh.client(Service::Catalog, ADMIN_KEY);
    let allocation = mesh.client(Service::Allocation, ADMIN_KEY);
    for (id, lat, lon) in at {
        let body = store(id).at(*lat, *lon).capable(&[Capability::Ship]).build()?;
        ensure!(catalog.post("/v1/locations", &body, &[]).await?.status == 201);
    }
    for code in ["TEE-1", "MUG-1"] {
        ensure!(catalog.post("/v1/skus", &sku(code)?, &[]).await?.status == 201);
    }
    for (location, sku) in stocked {
        receive_stock(&allocation, location, sku, 5).await?;
    }
    let fulfillment = mesh.client(Service::Fulfillment, ADMIN_KEY);
    for code in ["TEE-1", "MUG-1"] {
        let nodes = stocked.iter().filter(|(_, sku)| *sku == code).count();
        eventually(
            &format!("routing to see {code} at {nodes} stores"),
            WAIT,
            || async {
                let stock = fulfillment.get(&format!("/v1/stock/{code}")).await?.body;
                let seen = stock
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter(|n| n["atp"] == 5)
                    .count();
                Ok((seen == nodes).then_some(()))
            },
        )
        .await?;
    }
    Ok(())
}

pub(crate) async fn status_is(orders: &Client, id: &str, status: &str) -> anyhow::Result<()> {
    eventually(&format!("the order to be {status}"), WAIT, || async {
        let now = orders.get(&format!("/v1/orders/{id}")).await?.body;
        ensure!(
            !matches!(now["status"].as_str(), Some("failed" | "cancelled")),
            "{now}"
        );
        Ok((now["status"] == status).then_some(()))
    })
    .await
}

pub(crate) async fn try_task_at(
    fulfillment: &Client,
    store: &str,
    order_id: &str,
) -> anyhow::Result<Option<Value>> {
    let queue = fulfillment.get(&format!("/v1/stores/{store}/tasks")).await?;
    ensure!(queue.status == 200, "{queue:?}");
    Ok(queue.body["tasks"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|t| t["order_id"] == order_id)
        .cloned())
}

pub(crate) async fn task_at(fulfillment: &Client, store: &str, order_id: &str) -> anyhow::Result<Value> {
    try_task_at(fulfillment, store, order_id)
        .await?
        .with_context(|| format!("the order's task at {store}"))
}

pub(crate) async fn act(fulfillment: &Client, task: &Value, action: Value) -> anyhow::Result<Value> {
    let id = task["id"].as_str().context("task id")?;
    let answer = fulfillment
        .post(
            &format!("/v1/tasks/{id}/actions"),
            &json!({ "action": action }),
            &[],
        )
        .await?;
    ensure!(answer.status == 200, "{action}: {answer:?}");
    Ok(answer.body)
}

/// Accept, pick everything still open, pack, ship.
pub(crate) async fn ship(fulfillment: &Client, task: &Value) -> anyhow::Result<()> {
    act(fulfillment, task, json!({ "type": "accept" })).await?;
    let lines: Vec<Value> = task["lines"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|l| l["buckets"]["open"].as_u64() > Some(0))
        .map(|l| json!({ "sku": l["sku"], "picked": l["buckets"]["open"] }))
        .collect();
    act(fulfillment, task, json!({ "type": "pick", "lines": lines })).await?;
    act(
        fulfillment,
        task,
        json!({ "type": "pack", "parcels": [{ "weight_grams": 500 }] }),
    )
    .await?;
    let shipped = act(
        fulfillment,
        task,
        json!({ "type": "ship", "carrier": "DHL", "tracking": "JJD-SPLIT" }),
    )
    .await?;
    ensure!(shipped["state"] == "shipped", "{shipped}");
    Ok(())
}

/// Waits until `location` has `on_hand` of `sku` with `reserved` held.
pub(crate) async fn available_at(
    mesh: &Mesh,
    sku: &str,
    location: &str,
    on_hand: i64,
    reserved: i64,
) -> anyhow::Result<()> {
    let allocation = mesh.client(Service::Allocation, ADMIN_KEY);
    eventually(
        &format!("{sku} at {location}: {on_hand} on hand, {reserved} held"),
        WAIT,
        || async {
            let now = allocation.get(&format!("/v1/availability/{sku}")).await?.body;
            let here = now["locations"]
                .as_array()
                .into_iter()
                .flatten()
                .find(|l| l["location_id"] == location)
                .cloned()
                .unwrap_or_default();
            Ok((here["on_hand"] == on_hand && here["reserved"] == reserved).then_some(()))
        },
    )
    .await
}

/// Waits until routing's picture of `location` shows `atp` of `sku` (what the next order is routed on).
pub(crate) async fn routing_sees(mesh: &Mesh, sku: &str, location: &str, atp: i64) -> anyhow::Result<()> {
    let fulfillment = mesh.client(Service::Fulfillment, ADMIN_KEY);
    eventually(
        &format!("routing to see {atp} of {sku} at {location}"),
        WAIT,
        || async {
            let stock = fulfillment.get(&format!("/v1/stock/{sku}")).await?.body;
            let seen = stock
                .as_array()
                .into_iter()
                .flatten()
                .any(|n| n["location_id"] == location && n["atp"] == atp);
            Ok(seen.then_some(()))
        },
    )
    .await
}

/// Tokenizes the sandbox card `number` as `payments`' caller; its token.
pub(crate) async fn tokenize(payments: &Client, number: &str) -> anyhow::Result<String> {
    let answer = payments
        .post(
            "/v1/payments/tokens",
            &json!({ "number": number, "exp_month": 12, "exp_year": 2031 }),
            &[],
        )
        .await?;
    ensure!(answer.status == 201, "{answer:?}");
    Ok(answer.body["token"].as_str().context("token")?.to_owned())
}
