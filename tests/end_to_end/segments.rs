//! Segments reach the order flow (issue 21): units ring-fenced for curbside pickups or pre-orders are kept from
//! everyone else and sold to their own segment. A curbside order draws on the curbside fence, a pre-order on the
//! pre-order fence: routing sees their own figures (allocation publishes them beside the channel's), and the hold
//! is placed for their segment. On the embedded backends and on the real ones.

use std::time::Duration;

use anyhow::{Context, ensure};
use omni_contracts::api::Capability;
use omni_testkit::fixtures::{order, sku, store};
use omni_testkit::testing::{
    ADMIN_KEY, RealBackends, embedded_options, eventually, on_mesh, receive_stock, settings, tokenize,
};
use omni_testkit::{Client, Mesh, Service};
use serde_json::json;

const WAIT: Duration = Duration::from_secs(60);

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn curbside_and_preorders_draw_on_their_fences_on_embedded_backends() -> anyhow::Result<()> {
    omni_telemetry::init_for_tests();
    on_mesh(embedded_options(settings()), fenced).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn curbside_and_preorders_draw_on_their_fences_on_real_backends() -> anyhow::Result<()> {
    omni_telemetry::init_for_tests();
    let backends = RealBackends::new(settings())?;
    let mesh = Mesh::start(backends.options.clone()).await?;
    let result = fenced(&mesh).await;
    let stopped = mesh.stop().await;
    result?;
    stopped
}

async fn fenced(mesh: &Mesh) -> anyhow::Result<()> {
    let catalog = mesh.client(Service::Catalog, ADMIN_KEY);
    let allocation = mesh.client(Service::Allocation, ADMIN_KEY);
    let body = store("STORE-1")
        .at(52.52, 13.40)
        .capable(&[Capability::Ship, Capability::Pickup, Capability::Curbside])
        .bays(2)
        .build()?;
    ensure!(catalog.post("/v1/locations", &body, &[]).await?.status == 201);
    for code in ["CAP", "CONSOLE"] {
        ensure!(catalog.post("/v1/skus", &sku(code)?, &[]).await?.status == 201);
    }
    receive_stock(&allocation, "STORE-1", "CAP", 3).await?;
    receive_stock(&allocation, "STORE-1", "CONSOLE", 2).await?;
    for (id, sku, segment, units) in [
        ("curbside-caps", "CAP", "curbside", 2),
        ("console-preorders", "CONSOLE", "preorder", 2),
    ] {
        let rule = json!({ "id": id, "when": { "skus": [sku] },
            "effect": { "ring_fence": { "segment": segment, "amount": { "units": units } } } });
        let made = allocation.post("/v1/policies", &rule, &[]).await?;
        ensure!(made.status == 201, "{made:?}");
    }
    // Routing sees the fences: one cap and no console left for a web order.
    let fulfillment = mesh.client(Service::Fulfillment, ADMIN_KEY);
    for (sku, left) in [("CAP", 1), ("CONSOLE", 0)] {
        eventually(&format!("routing to see {sku} fenced"), WAIT, || async {
            let stock = fulfillment
                .get(&format!("/v1/stock/{sku}?channel=web"))
                .await?
                .body;
            let web = stock[0]["atp"].as_i64().unwrap_or(0);
            Ok((web == left).then_some(()))
        })
        .await?;
    }
    let token = tokenize(&mesh.client(Service::Payments, ADMIN_KEY)).await?.token;
    let orders = mesh.client(Service::Orders, ADMIN_KEY);

    // Everyone else is kept from the fences.
    let web = order("CAP", 2, 1500).card(&token).build()?;
    ensure!(ends(&orders, &web, "web-caps").await? == "failed");
    let web = order("CONSOLE", 1, 49900).card(&token).build()?;
    ensure!(ends(&orders, &web, "web-console").await? == "failed");

    // A curbside pickup takes all three caps, fence included; a pre-order takes a fenced console.
    let curbside = order("CAP", 3, 1500)
        .curbside_at("STORE-1")
        .card(&token)
        .build()?;
    ensure!(ends(&orders, &curbside, "curbside-caps").await? == "released");
    let preorder = order("CONSOLE", 2, 49900).preorder().card(&token).build()?;
    ensure!(ends(&orders, &preorder, "preorder-console").await? == "released");
    let held = allocation.get("/v1/availability/CAP").await?.body;
    let here = held["locations"]
        .as_array()
        .and_then(|l| l.iter().find(|l| l["location_id"] == "STORE-1"))
        .context("CAP at STORE-1")?;
    ensure!(here["reserved"] == 3, "{held}");
    Ok(())
}

/// Places an order and waits until it is released or failed; which one.
async fn ends(orders: &Client, body: &omni_contracts::api::NewOrder, key: &str) -> anyhow::Result<String> {
    let placed = orders
        .post("/v1/orders", body, &[("Idempotency-Key", key)])
        .await?;
    ensure!(placed.status == 201, "{placed:?}");
    let id = placed.body["id"].as_str().context("order id")?.to_owned();
    eventually(&format!("order {key} to settle"), WAIT, || async {
        let now = orders.get(&format!("/v1/orders/{id}")).await?.body;
        let status = now["status"].as_str().unwrap_or_default().to_owned();
        Ok(matches!(status.as_str(), "released" | "failed").then_some(status))
    })
    .await
}
