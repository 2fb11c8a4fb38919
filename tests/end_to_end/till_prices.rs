//! A till sells at the catalog's list price: a store associate cannot set another unit price on an order,
//! whatever channel it names (403 naming the line), a manager can, lines of SKUs without a list price are left as
//! sent, and a SKU whose price orders has not learned yet is refused (409), never waved through.

use omni_contracts::api::Capability;
use omni_contracts::api::Channel;
use omni_testkit::Service;
use omni_testkit::fixtures::{order, priced_sku, sku, store};
use std::time::Duration;

use anyhow::ensure;
use omni_testkit::Mesh;
use omni_testkit::testing::{ADMIN_KEY, embedded_options, on_mesh, receive_stock, settings};
use serde_json::json;

const WAIT: Duration = Duration::from_secs(60);
const ASSOCIATE: &str = "till-associate-key-0123456789";
const MANAGER: &str = "till-manager-key-0123456789";

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_associate_sells_at_the_list_price_and_a_manager_may_override_it() -> anyhow::Result<()> {
    omni_telemetry::init_for_tests();
    let mut settings = settings();
    for (key, role) in [
        (ASSOCIATE, omni_config::Role::Associate),
        (MANAGER, omni_config::Role::Manager),
    ] {
        settings.auth.api_keys.push(omni_config::ApiKeySettings {
            key: omni_config::Secret::new(key),
            name: format!("{role:?}").to_lowercase(),
            roles: vec![role],
            partner_id: None,
            locations: vec!["STORE-1".into()],
            ..Default::default()
        });
    }
    on_mesh(embedded_options(settings), tills).await
}

async fn tills(mesh: &Mesh) -> anyhow::Result<()> {
    let catalog = mesh.client(Service::Catalog, ADMIN_KEY);
    let allocation = mesh.client(Service::Allocation, ADMIN_KEY);
    let fulfillment = mesh.client(Service::Fulfillment, ADMIN_KEY);
    let store = store("STORE-1")
        .named("One")
        .capable(&[Capability::Ship, Capability::Pickup])
        .build()?;
    ensure!(catalog.post("/v1/locations", &store, &[]).await?.status == 201);
    let priced = priced_sku("TEE-1", 1999)?;
    ensure!(catalog.post("/v1/skus", &priced, &[]).await?.status == 201);
    let negative =
        json!({ "sku": "TEE-2", "title": "Tee", "price": { "amount_minor": -1, "currency": "EUR" } });
    let refused = catalog.post("/v1/skus", &negative, &[]).await?;
    ensure!(
        refused.status == 400
            && refused.body["message"]
                .as_str()
                .is_some_and(|m| m.contains("price"))
    );
    let unpriced = sku("CAP-1")?;
    ensure!(catalog.post("/v1/skus", &unpriced, &[]).await?.status == 201);
    for sku in ["TEE-1", "CAP-1"] {
        receive_stock(&allocation, "STORE-1", sku, 10).await?;
    }
    omni_testkit::testing::until_routing_sees(&fulfillment, "CAP-1", 10, WAIT).await?;

    let till = |price: i64, cap_price: i64| {
        order("TEE-1", 1, price)
            .line("CAP-1", 1, cap_price)
            .on(Channel::Pos)
            .pickup_at("STORE-1")
            .card("tok_tillsaletillsaletillsale")
            .build()
    };
    let associate = mesh.client(Service::Orders, ASSOCIATE);
    let ghost = order("GHOST-1", 1, 1)
        .on(Channel::Pos)
        .pickup_at("STORE-1")
        .card("tok_tillsaletillsaletillsale")
        .build()?;
    let unknown = associate
        .post("/v1/orders", &ghost, &[("Idempotency-Key", "till-0")])
        .await?;
    ensure!(
        unknown.status == 409
            && unknown.body["message"]
                .as_str()
                .is_some_and(|m| m.contains("not known to orders yet")),
        "a price orders has not learned is refused: {unknown:?}"
    );
    // Orders learns prices from the catalog topic: until it has, the listed price is refused too (409, retry).
    let listed = omni_testkit::testing::eventually("orders to learn the list prices", WAIT, || async {
        let answer = associate
            .post("/v1/orders", &till(1999, 500)?, &[("Idempotency-Key", "till-2")])
            .await?;
        Ok((answer.status != 409).then_some(answer))
    })
    .await?;
    ensure!(
        listed.status == 201,
        "the list price (and any price of an unpriced SKU): {listed:?}"
    );
    let cheaper = associate
        .post("/v1/orders", &till(999, 500)?, &[("Idempotency-Key", "till-1")])
        .await?;
    ensure!(cheaper.status == 403, "an associate's own price: {cheaper:?}");
    let message = cheaper.body["message"].as_str().unwrap_or_default();
    ensure!(
        message.starts_with("lines[0].unit_price_minor") && message.contains("1999"),
        "{message}"
    );
    let mut named_web = till(999, 500)?;
    named_web.channel = Channel::Web;
    let web = associate
        .post("/v1/orders", &named_web, &[("Idempotency-Key", "till-4")])
        .await?;
    ensure!(
        web.status == 403,
        "a till sale called `web` is checked all the same: {web:?}"
    );
    let manager = mesh.client(Service::Orders, MANAGER);
    let overridden = manager
        .post("/v1/orders", &till(999, 500)?, &[("Idempotency-Key", "till-3")])
        .await?;
    ensure!(overridden.status == 201, "a manager overrides: {overridden:?}");
    Ok(())
}
