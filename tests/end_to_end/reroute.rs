//! A hold refused at the node routing chose sends the order back to routing without that node, and it is
//! released at the next one. Routing is made to choose a node that will refuse deterministically: a buffer rule
//! whose time window opens after routing last heard of the node's stock (the rule re-check runs only hourly
//! here), so allocation, which applies rules at the moment of the hold, keeps every unit there from web.

use omni_testkit::Service;
use omni_testkit::fixtures::{order, sku, store};
use std::time::Duration;

use anyhow::{Context, ensure};
use omni_contracts::Topic;
use omni_testkit::kafka::collect;
use omni_testkit::testing::{
    ADMIN_KEY, RealBackends, eventually, receive_stock, settings, token_from_payments_alone,
};
use omni_testkit::{Mesh, MeshOptions};
use serde_json::json;

const WAIT: Duration = Duration::from_secs(60);

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_refused_hold_is_routed_again_on_embedded_backends() -> anyhow::Result<()> {
    omni_telemetry::init_for_tests();
    let dir = std::env::temp_dir().join(format!("omni-reroute-{}", uuid::Uuid::new_v4().simple()));
    let mut options = MeshOptions::embedded(slow_rule_checks(), dir.clone());
    options.ephemeral_ports = true;
    let mesh = Mesh::start(options).await?;
    let result = scenario(&mesh).await;
    let stopped = mesh.stop().await;
    let _ = std::fs::remove_dir_all(&dir);
    result?;
    stopped
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_refused_hold_is_routed_again_on_real_backends() -> anyhow::Result<()> {
    omni_telemetry::init_for_tests();
    let backends = RealBackends::new(slow_rule_checks())?;
    let mesh = Mesh::start(backends.options.clone()).await?;
    let result = scenario(&mesh).await;
    let stopped = mesh.stop().await;
    result?;
    stopped
}

fn slow_rule_checks() -> omni_config::Settings {
    let mut settings = settings();
    settings.policies.reload_interval_seconds = 3_600;
    settings
}

async fn scenario(mesh: &Mesh) -> anyhow::Result<()> {
    let catalog = mesh.client(Service::Catalog, ADMIN_KEY);
    let allocation = mesh.client(Service::Allocation, ADMIN_KEY);
    let orders = mesh.client(Service::Orders, ADMIN_KEY);
    let fulfillment = mesh.client(Service::Fulfillment, ADMIN_KEY);
    let payments = mesh.client(Service::Payments, ADMIN_KEY);

    for (id, lat, lon) in [("STORE-NEAR", 52.52, 13.40), ("STORE-FAR", 48.14, 11.58)] {
        let body = store(id).at(lat, lon).build()?;
        ensure!(catalog.post("/v1/locations", &body, &[]).await?.status == 201);
    }
    let sku = sku("TEE-1")?;
    ensure!(catalog.post("/v1/skus", &sku, &[]).await?.status == 201);
    for location in ["STORE-NEAR", "STORE-FAR"] {
        receive_stock(&allocation, location, "TEE-1", 5).await?;
    }

    // From two seconds from now on, web may not sell anything at the near store. Routing hears of the rule
    // being created (before its window opens), not of the window opening.
    let berlin: chrono_tz::Tz = "Europe/Berlin".parse().map_err(|e| anyhow::anyhow!("{e}"))?;
    let opens = chrono::Utc::now().with_timezone(&berlin) + chrono::Duration::seconds(2);
    let closes = opens + chrono::Duration::minutes(30);
    let rule = json!({ "id": "near-closed-for-web", "when": { "locations": ["STORE-NEAR"], "channels": ["web"],
        "local_time": { "from": opens.format("%H:%M:%S").to_string(), "to": closes.format("%H:%M:%S").to_string() } },
        "effect": { "hold_back": { "units": 1000 } } });
    let created = allocation.post("/v1/policies", &rule, &[]).await?;
    ensure!(created.status == 201, "{created:?}");
    eventually("routing to see both stores' stock for web", WAIT, || async {
        let stock = fulfillment.get("/v1/stock/TEE-1?channel=web").await?;
        Ok((stock.body.as_array().map(Vec::len) == Some(2)
            && stock.body[0]["atp"] == 5
            && stock.body[1]["atp"] == 5)
            .then_some(()))
    })
    .await?;
    while chrono::Utc::now().with_timezone(&berlin) < opens + chrono::Duration::milliseconds(200) {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    let token = payments
        .post(
            "/v1/payments/tokens",
            &json!({ "number": "4242 4242 4242 4242", "exp_month": 12, "exp_year": 2030 }),
            &[],
        )
        .await?;
    let token = token.body["token"].as_str().context("token")?.to_owned();
    let order = order("TEE-1", 1, 1999).card(&token).build()?;
    let placed = orders
        .post("/v1/orders", &order, &[("Idempotency-Key", "reroute-1")])
        .await?;
    ensure!(placed.status == 201, "{placed:?}");
    let order_id = placed.body["id"].as_str().context("order id")?.to_owned();
    let released = eventually("the order to be released", WAIT, || async {
        let current = orders.get(&format!("/v1/orders/{order_id}")).await?;
        ensure!(
            current.body["status"] != "failed",
            "the order failed: {}",
            current.body
        );
        Ok((current.body["status"] == "released").then_some(current.body))
    })
    .await?;
    ensure!(released["location_id"] == "STORE-FAR", "{released}");

    let topic = mesh.topic(Topic::Orders);
    let seen = collect(mesh.kafka_bootstrap(), &[topic.as_str()], WAIT, |seen| {
        seen.iter()
            .any(|m| m.header("ce_type") == Some("omni.order.reroute_requested"))
    })
    .await?;
    let reroute = seen
        .iter()
        .find(|m| m.header("ce_type") == Some("omni.order.reroute_requested"))
        .context("reroute event")?
        .json();
    ensure!(
        reroute["exclude"] == json!(["STORE-NEAR"]) && reroute["attempt"] == 1,
        "{reroute}"
    );
    ensure!(
        reroute["reason"]
            .as_str()
            .is_some_and(|r| r.starts_with("out of stock at STORE-NEAR")),
        "{reroute}"
    );
    Ok(())
}

/// A till sells the units an order holds at the near store: the shortage sends the order back to routing,
/// allocation gives up the short hold, and the order is held (then, once payments runs, released) at the far
/// store. Payments is down at first so the order is still held, not yet released, when the till sells.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_shortage_sends_a_held_order_back_to_routing() -> anyhow::Result<()> {
    omni_telemetry::init_for_tests();
    let backends = RealBackends::new(settings())?;
    let options = backends.options.clone();
    let token = token_from_payments_alone(&options).await?;
    let without_payments = options.without(Service::Payments);
    let first = Mesh::start(without_payments).await?;
    let outcome = held_then_short(&first, &token).await;
    first.stop().await?;
    let order_id = outcome?;

    let second = Mesh::start(options).await?;
    let orders = second.client(Service::Orders, ADMIN_KEY);
    let released = eventually("the re-routed order to be released", WAIT, || async {
        let current = orders.get(&format!("/v1/orders/{order_id}")).await?;
        ensure!(current.body["status"] != "failed", "{}", current.body);
        Ok((current.body["status"] == "released").then_some(current.body))
    })
    .await;
    second.stop().await?;
    let released = released?;
    ensure!(released["location_id"] == "STORE-FAR", "{released}");
    Ok(())
}

async fn held_then_short(mesh: &Mesh, token: &str) -> anyhow::Result<String> {
    let catalog = mesh.client(Service::Catalog, ADMIN_KEY);
    let allocation = mesh.client(Service::Allocation, ADMIN_KEY);
    let orders = mesh.client(Service::Orders, ADMIN_KEY);
    let fulfillment = mesh.client(Service::Fulfillment, ADMIN_KEY);
    for (id, lat, lon) in [("STORE-NEAR", 52.52, 13.40), ("STORE-FAR", 48.14, 11.58)] {
        let body = store(id).at(lat, lon).build()?;
        ensure!(catalog.post("/v1/locations", &body, &[]).await?.status == 201);
    }
    ensure!(catalog.post("/v1/skus", &sku("TEE-1")?, &[]).await?.status == 201);
    for location in ["STORE-NEAR", "STORE-FAR"] {
        receive_stock(&allocation, location, "TEE-1", 3).await?;
    }
    eventually("routing to see both stores", WAIT, || async {
        let stock = fulfillment.get("/v1/stock/TEE-1").await?;
        Ok((stock.body.as_array().map(Vec::len) == Some(2)).then_some(()))
    })
    .await?;
    let order = order("TEE-1", 2, 1999).card(token).build()?;
    let placed = orders
        .post("/v1/orders", &order, &[("Idempotency-Key", "shortage-1")])
        .await?;
    ensure!(placed.status == 201, "{placed:?}");
    let order_id = placed.body["id"].as_str().context("order id")?.to_owned();
    let order_path = format!("/v1/orders/{order_id}");
    eventually("the order to be held at the near store", WAIT, || async {
        let current = orders.get(&order_path).await?;
        Ok(
            (current.body["status"] == "reserved" && current.body["location_id"] == "STORE-NEAR")
                .then_some(()),
        )
    })
    .await?;

    // The till sells all three units on the shelf, two of them held for the order.
    let sale = json!({ "event_id": uuid::Uuid::now_v7(), "location_id": "STORE-NEAR", "sku": "TEE-1",
        "kind": "pos_sale", "quantity": 3 });
    ensure!(
        allocation
            .post("/v1/inventory/movements", &sale, &[])
            .await?
            .status
            == 201
    );
    eventually("the order to be held at the far store", WAIT, || async {
        let current = orders.get(&order_path).await?;
        ensure!(current.body["status"] != "failed", "{}", current.body);
        Ok(
            (current.body["status"] == "reserved" && current.body["location_id"] == "STORE-FAR")
                .then_some(()),
        )
    })
    .await?;
    eventually(
        "the short hold at the near store to be released",
        WAIT,
        || async {
            let availability = allocation.get("/v1/availability/TEE-1").await?;
            let near = availability.body["locations"]
                .as_array()
                .and_then(|l| l.iter().find(|l| l["location_id"] == "STORE-NEAR").cloned());
            Ok(near
                .is_some_and(|n| n["reserved"] == 0 && n["on_hand"] == 0)
                .then_some(()))
        },
    )
    .await?;
    Ok(order_id)
}
