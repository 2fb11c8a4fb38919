//! Cancelling an order before release: its hold is released, an authorization that arrives afterwards is voided;
//! a released order's cancel is asked of its node, which stops the work. Payments is down while the order is held, so the
//! cancellation deterministically comes between the hold and the authorization.

use omni_testkit::Service;
use omni_testkit::fixtures::{order, sku, store};
use std::time::Duration;

use anyhow::{Context, ensure};
use omni_testkit::Mesh;
use omni_testkit::testing::{
    ADMIN_KEY, RealBackends, eventually, receive_stock, settings, token_from_payments_alone,
};
use serde_json::json;

const WAIT: Duration = Duration::from_secs(60);

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_cancelled_order_gives_back_its_hold_and_its_late_authorization_is_voided() -> anyhow::Result<()> {
    omni_telemetry::init_for_tests();
    let backends = RealBackends::new(settings())?;
    let options = backends.options.clone();
    let token = token_from_payments_alone(&options).await?;
    let without_payments = options.without(Service::Payments);
    let first = Mesh::start(without_payments).await?;
    let outcome = held_then_cancelled(&first, &token).await;
    first.stop().await?;
    let order_id = outcome?;

    let second = Mesh::start(options).await?;
    let outcome = voided_after_restart(&second, &order_id, &token).await;
    second.stop().await?;
    outcome
}

fn two_tees(token: &str) -> anyhow::Result<omni_contracts::api::NewOrder> {
    order("TEE-1", 2, 1999).card(token).build()
}

async fn held_then_cancelled(mesh: &Mesh, token: &str) -> anyhow::Result<String> {
    let catalog = mesh.client(Service::Catalog, ADMIN_KEY);
    let allocation = mesh.client(Service::Allocation, ADMIN_KEY);
    let orders = mesh.client(Service::Orders, ADMIN_KEY);
    let fulfillment = mesh.client(Service::Fulfillment, ADMIN_KEY);
    let store = store("STORE-1").named("One").build()?;
    ensure!(catalog.post("/v1/locations", &store, &[]).await?.status == 201);
    ensure!(catalog.post("/v1/skus", &sku("TEE-1")?, &[]).await?.status == 201);
    receive_stock(&allocation, "STORE-1", "TEE-1", 5).await?;
    eventually("routing to see the stock", WAIT, || async {
        let stock = fulfillment.get("/v1/stock/TEE-1").await?;
        Ok((stock.body[0]["atp"] == 5).then_some(()))
    })
    .await?;
    let placed = orders
        .post(
            "/v1/orders",
            &two_tees(token)?,
            &[("Idempotency-Key", "cancel-1")],
        )
        .await?;
    ensure!(placed.status == 201, "{placed:?}");
    let order_id = placed.body["id"].as_str().context("order id")?.to_owned();
    let path = format!("/v1/orders/{order_id}");
    eventually("the order to be held", WAIT, || async {
        Ok((orders.get(&path).await?.body["status"] == "reserved").then_some(()))
    })
    .await?;

    let cancelled = orders.post(&format!("{path}/cancel"), &json!({}), &[]).await?;
    ensure!(
        cancelled.status == 200 && cancelled.body["status"] == "cancelled",
        "{cancelled:?}"
    );
    let again = orders.post(&format!("{path}/cancel"), &json!({}), &[]).await?;
    ensure!(
        again.status == 200 && again.body["status"] == "cancelled",
        "cancelling twice is harmless: {again:?}"
    );
    eventually("the hold to be released", WAIT, || async {
        let availability = allocation.get("/v1/availability/TEE-1").await?;
        Ok((availability.body["locations"][0]["reserved"] == 0).then_some(()))
    })
    .await?;
    Ok(order_id)
}

async fn voided_after_restart(mesh: &Mesh, order_id: &str, token: &str) -> anyhow::Result<()> {
    let orders = mesh.client(Service::Orders, ADMIN_KEY);
    let payments = mesh.client(Service::Payments, ADMIN_KEY);
    // Payments now authorizes the reservation it missed; the cancelled order has it voided at once.
    eventually("the late authorization to be voided", WAIT, || async {
        let intents = payments
            .get(&format!("/v1/payments/intents?order_id={order_id}"))
            .await?;
        Ok((intents.body[0]["status"] == "voided").then_some(()))
    })
    .await?;
    ensure!(orders.get(&format!("/v1/orders/{order_id}")).await?.body["status"] == "cancelled");

    // A released order's cancel is asked of its node (202); nothing left the store, so it is cancelled.
    let placed = orders
        .post(
            "/v1/orders",
            &two_tees(token)?,
            &[("Idempotency-Key", "cancel-2")],
        )
        .await?;
    let second = placed.body["id"].as_str().context("order id")?.to_owned();
    eventually("the second order to be released", WAIT, || async {
        let current = orders.get(&format!("/v1/orders/{second}")).await?;
        ensure!(current.body["status"] != "failed", "{}", current.body);
        Ok((current.body["status"] == "released").then_some(()))
    })
    .await?;
    let asked = orders
        .post(&format!("/v1/orders/{second}/cancel"), &json!({}), &[])
        .await?;
    ensure!(
        asked.status == 202 && asked.body["status"] == "cancelling",
        "{asked:?}"
    );
    eventually("the released order to be cancelled by its node", WAIT, || async {
        let current = orders.get(&format!("/v1/orders/{second}")).await?;
        Ok((current.body["status"] == "cancelled").then_some(()))
    })
    .await?;
    let again = orders
        .post(&format!("/v1/orders/{second}/cancel"), &json!({}), &[])
        .await?;
    ensure!(again.status == 200, "{again:?}");
    Ok(())
}
