//! The saga's failure paths, each end to end on the mesh: out of stock everywhere, a declined card (the hold
//! goes back on sale), and a hold that lapses before the payment (the order fails, the units are on sale again).
//! The happy path is the walking skeleton; re-routing and cancellation have their own files.

use omni_testkit::Service;
use omni_testkit::fixtures::{order, sku, store};
use std::time::Duration;

use anyhow::{Context, ensure};
use omni_testkit::Mesh;
use omni_testkit::testing::{ADMIN_KEY, embedded_options, eventually, on_mesh, receive_stock, settings};
use serde_json::json;

const WAIT: Duration = Duration::from_secs(60);

/// One store with 3 units of TEE-1, visible to routing.
async fn stocked(mesh: &Mesh) -> anyhow::Result<()> {
    let catalog = mesh.client(Service::Catalog, ADMIN_KEY);
    let allocation = mesh.client(Service::Allocation, ADMIN_KEY);
    let store = store("STORE-1").named("One").build()?;
    ensure!(catalog.post("/v1/locations", &store, &[]).await?.status == 201);
    let sku = sku("TEE-1")?;
    ensure!(catalog.post("/v1/skus", &sku, &[]).await?.status == 201);
    receive_stock(&allocation, "STORE-1", "TEE-1", 3).await?;
    if mesh.endpoints().contains_key(&Service::Fulfillment) {
        let fulfillment = mesh.client(Service::Fulfillment, ADMIN_KEY);
        omni_testkit::testing::until_routing_sees(&fulfillment, "TEE-1", 3, WAIT).await?;
    }
    Ok(())
}

async fn tokenize(mesh: &Mesh, number: &str) -> anyhow::Result<String> {
    let payments = mesh.client(Service::Payments, ADMIN_KEY);
    let answer = payments
        .post(
            "/v1/payments/tokens",
            &json!({ "number": number, "exp_month": 1, "exp_year": 2031 }),
            &[],
        )
        .await?;
    Ok(answer.body["token"].as_str().context("token")?.to_owned())
}

async fn place(mesh: &Mesh, key: &str, quantity: u32, token: &str) -> anyhow::Result<String> {
    let orders = mesh.client(Service::Orders, ADMIN_KEY);
    let order = order("TEE-1", i64::from(quantity), 1999).card(token).build()?;
    let placed = orders
        .post("/v1/orders", &order, &[("Idempotency-Key", key)])
        .await?;
    ensure!(placed.status == 201, "{placed:?}");
    Ok(placed.body["id"].as_str().context("order id")?.to_owned())
}

async fn failed_with(mesh: &Mesh, order_id: &str) -> anyhow::Result<String> {
    let orders = mesh.client(Service::Orders, ADMIN_KEY);
    eventually("the order to fail", WAIT, || async {
        let current = orders.get(&format!("/v1/orders/{order_id}")).await?.body;
        ensure!(
            current["status"] != "released",
            "the order was released: {current}"
        );
        Ok((current["status"] == "failed")
            .then(|| current["failure_reason"].as_str().unwrap_or_default().to_owned()))
    })
    .await
}

async fn available(mesh: &Mesh) -> anyhow::Result<i64> {
    let allocation = mesh.client(Service::Allocation, ADMIN_KEY);
    let answer = allocation.get("/v1/availability/TEE-1?channel=web").await?;
    answer.body["available"].as_i64().context("available")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_order_no_node_can_serve_fails_as_out_of_stock() -> anyhow::Result<()> {
    omni_telemetry::init_for_tests();
    on_mesh(embedded_options(settings()), async |mesh| {
        stocked(mesh).await?;
        let token = tokenize(mesh, "4242 4242 4242 4242").await?;
        let order = place(mesh, "too-many", 5, &token).await?;
        let reason = failed_with(mesh, &order).await?;
        ensure!(
            reason.contains("STORE-1"),
            "the reason names the node and why: {reason}"
        );
        ensure!(available(mesh).await? == 3, "nothing stays held");
        Ok(())
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_declined_card_fails_the_order_and_its_hold_goes_back_on_sale() -> anyhow::Result<()> {
    omni_telemetry::init_for_tests();
    on_mesh(embedded_options(settings()), async |mesh| {
        stocked(mesh).await?;
        // The sandbox PSP's documented declining card.
        let token = tokenize(mesh, "4000 0000 0000 0002").await?;
        let order = place(mesh, "declined", 2, &token).await?;
        let reason = failed_with(mesh, &order).await?;
        ensure!(reason.contains("card_declined"), "{reason}");
        eventually("the hold to be released", WAIT, || async {
            Ok((available(mesh).await? == 3).then_some(()))
        })
        .await
    })
    .await
}

/// Payments is down, so the order waits for its authorization while its 2-second hold lapses.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_hold_that_lapses_before_payment_fails_the_order_and_frees_the_units() -> anyhow::Result<()> {
    omni_telemetry::init_for_tests();
    let mut settings = settings();
    settings.reservations.ttl_seconds = 2;
    let options = embedded_options(settings);
    let token = omni_testkit::testing::token_from_payments_alone(&options).await?;
    on_mesh(options.without(Service::Payments), async |mesh| {
        stocked(mesh).await?;
        let order = place(mesh, "lapses", 2, &token).await?;
        let orders = mesh.client(Service::Orders, ADMIN_KEY);
        eventually("the order to be held", WAIT, || async {
            let status = orders.get(&format!("/v1/orders/{order}")).await?.body["status"].clone();
            Ok((status == "reserved" || status == "failed").then_some(()))
        })
        .await?;
        let reason = failed_with(mesh, &order).await?;
        ensure!(reason.contains("expired before the payment"), "{reason}");
        eventually("the units to be on sale again", WAIT, || async {
            Ok((available(mesh).await? == 3).then_some(()))
        })
        .await
    })
    .await
}

/// A released order is fulfilled when its store ships it: the fulfillment completes (an associate of another
/// store cannot), allocation commits the hold so the units leave on-hand, the order becomes `fulfilled`, payments
/// captures the authorization once, and the order is `completed`.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_shipped_order_is_fulfilled_and_its_units_leave_on_hand() -> anyhow::Result<()> {
    omni_telemetry::init_for_tests();
    let mut settings = settings();
    settings.auth.api_keys.push(omni_config::ApiKeySettings {
        key: omni_config::Secret::new("associate-elsewhere-key-0123456789"),
        name: "associate-elsewhere".into(),
        roles: vec![omni_config::Role::Associate],
        partner_id: None,
        locations: vec!["STORE-2".into()],
        ..Default::default()
    });
    on_mesh(embedded_options(settings), async |mesh| {
        stocked(mesh).await?;
        let token = tokenize(mesh, "4242 4242 4242 4242").await?;
        let order = place(mesh, "shipped", 2, &token).await?;
        let orders = mesh.client(Service::Orders, ADMIN_KEY);
        eventually("the order to be released", WAIT, || async {
            let current = orders.get(&format!("/v1/orders/{order}")).await?.body;
            ensure!(current["status"] != "failed", "{current}");
            Ok((current["status"] == "released").then_some(()))
        })
        .await?;
        let fulfillment = mesh.client(Service::Fulfillment, ADMIN_KEY);
        let listed = fulfillment
            .get(&format!("/v1/fulfillments?order_id={order}"))
            .await?
            .body;
        let id = listed
            .as_array()
            .and_then(|f| f.iter().find(|f| f["status"] == "released"))
            .and_then(|f| f["id"].as_str())
            .context("a released fulfillment")?
            .to_owned();
        let path = format!("/v1/fulfillments/{id}/complete");
        let elsewhere = mesh.client(Service::Fulfillment, "associate-elsewhere-key-0123456789");
        let refused = elsewhere.post(&path, &json!({ "how": "shipped" }), &[]).await?;
        ensure!(refused.status == 404, "another store's associate: {refused:?}");
        let bad = fulfillment
            .post(&path, &json!({ "how": "teleported" }), &[])
            .await?;
        ensure!(bad.status == 400, "{bad:?}");
        let done = fulfillment.post(&path, &json!({ "how": "shipped" }), &[]).await?;
        ensure!(
            done.status == 200 && done.body["status"] == "completed",
            "{done:?}"
        );
        let again = fulfillment.post(&path, &json!({ "how": "shipped" }), &[]).await?;
        ensure!(
            again.status == 200 && again.body["status"] == "completed",
            "{again:?}"
        );
        // Recorded by hand, the store task is closed too: shipped, out of the store's queue of work left.
        let queue = fulfillment.get("/v1/stores/STORE-1/tasks?state=shipped").await?;
        let task = &queue.body["tasks"][0];
        ensure!(
            task["order_id"] == order.as_str() && task["lines"][0]["buckets"]["shipped"] == 2,
            "{}",
            queue.body
        );
        let open = fulfillment.get("/v1/stores/STORE-1/tasks").await?;
        ensure!(open.body["tasks"] == json!([]), "{}", open.body);
        // Fulfilled, then completed once payments captured the authorization.
        eventually("the order to be completed", WAIT, || async {
            let status = orders.get(&format!("/v1/orders/{order}")).await?.body["status"].clone();
            Ok((status == "completed").then_some(()))
        })
        .await?;
        let payments = mesh.client(Service::Payments, ADMIN_KEY);
        let intents = payments
            .get(&format!("/v1/payments/intents?order_id={order}"))
            .await?
            .body;
        let statuses: Vec<_> = intents
            .as_array()
            .map(|i| i.iter().map(|i| i["status"].clone()).collect())
            .unwrap_or_default();
        ensure!(
            statuses == vec![json!("captured")],
            "one intent, captured once: {intents}"
        );
        let topic = mesh.topic(omni_contracts::Topic::Orders);
        let seen = omni_testkit::kafka::collect(mesh.kafka_bootstrap(), &[&topic], WAIT, |seen| {
            seen.iter()
                .any(|m| m.key == order && m.header("ce_type") == Some("omni.order.completed"))
        })
        .await?;
        ensure!(
            seen.iter()
                .any(|m| m.key == order && m.header("ce_type") == Some("omni.order.fulfilled")),
            "fulfilled is announced before completed"
        );
        // The metrics an SRE alerts on: orders by state and channel, hold latency by outcome, oversold units.
        let metrics = orders.get_text("/metrics").await?;
        for state in [
            "accepted",
            "reserved",
            "payment_authorized",
            "released",
            "fulfilled",
            "completed",
        ] {
            ensure!(
                metrics.lines().any(|l| l.starts_with("omni_orders_total{")
                    && l.contains("channel=\"web\"")
                    && l.contains(&format!("state=\"{state}\""))
                    && l.ends_with(" 1")),
                "omni_orders_total counts the order entering {state}:\n{metrics}"
            );
        }
        let allocation_metrics = mesh
            .client(Service::Allocation, ADMIN_KEY)
            .get_text("/metrics")
            .await?;
        ensure!(
            allocation_metrics
                .lines()
                .any(|l| l.starts_with("omni_reservation_duration_seconds_count{")
                    && l.contains("outcome=\"held\"")),
            "hold latency by outcome"
        );
        ensure!(
            allocation_metrics
                .lines()
                .any(|l| l.starts_with("omni_oversold_units")),
            "oversold units"
        );
        let allocation = mesh.client(Service::Allocation, ADMIN_KEY);
        eventually("the units to leave on-hand", WAIT, || async {
            let answer = allocation.get("/v1/availability/TEE-1?channel=web").await?.body;
            let store = answer["locations"]
                .as_array()
                .and_then(|l| l.iter().find(|l| l["location_id"] == "STORE-1").cloned())
                .unwrap_or_default();
            Ok((store["on_hand"] == 1 && store["atp"] == 1).then_some(()))
        })
        .await
    })
    .await
}
