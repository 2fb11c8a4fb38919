//! `GET /v1/orders`: bounded pages oldest first, filters by partner and status, and a partner key sees only its
//! own orders.

use anyhow::{Context, ensure};
use omni_config::{ApiKeySettings, Role, Secret};
use omni_contracts::api::{Channel, NewOrder};
use omni_testkit::Service;
use omni_testkit::fixtures::order;
use omni_testkit::testing::{ADMIN_KEY, settings};
use omni_testkit::{Mesh, MeshOptions};

const PARTNER_KEY: &str = "test-partner-acme-0123456789";

/// A tee shipped to Berlin, paid by card on the web or prepaid on the marketplace.
fn tee(channel: Channel) -> anyhow::Result<NewOrder> {
    let tee = order("TEE-1", 1, 1999).on(channel).ship_to(52.5, 13.4);
    match channel {
        Channel::Marketplace => tee.prepaid(),
        _ => tee.card("tok_abcdefghijklmnopqrstuvwx"),
    }
    .build()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn orders_are_listed_in_bounded_pages_and_partners_see_only_their_own() -> anyhow::Result<()> {
    omni_telemetry::init_for_tests();
    let dir = std::env::temp_dir().join(format!("omni-orders-list-{}", uuid::Uuid::new_v4().simple()));
    let mut settings = settings();
    settings.auth.api_keys.push(ApiKeySettings {
        key: Secret::new(PARTNER_KEY),
        name: "acme".into(),
        roles: vec![Role::Partner],
        partner_id: Some("acme".into()),
        locations: vec![],
        ..Default::default()
    });
    let mut options = MeshOptions::embedded(settings, dir.clone());
    options.ephemeral_ports = true;
    options.services = vec![Service::Orders];
    let mesh = Mesh::start(options).await?;
    let result = scenario(&mesh).await;
    let stopped = mesh.stop().await;
    let _ = std::fs::remove_dir_all(&dir);
    result?;
    stopped
}

async fn scenario(mesh: &Mesh) -> anyhow::Result<()> {
    let admin = mesh.client(Service::Orders, ADMIN_KEY);
    let partner = mesh.client(Service::Orders, PARTNER_KEY);
    for key in ["web-1", "web-2"] {
        let placed = admin
            .post("/v1/orders", &tee(Channel::Web)?, &[("Idempotency-Key", key)])
            .await?;
        ensure!(placed.status == 201, "{placed:?}");
    }
    let placed = partner
        .post(
            "/v1/orders",
            &tee(Channel::Marketplace)?,
            &[("Idempotency-Key", "acme-1")],
        )
        .await?;
    ensure!(placed.status == 201, "{placed:?}");

    let first = admin.get("/v1/orders?limit=2").await?;
    ensure!(first.status == 200, "{first:?}");
    ensure!(
        first.body["orders"].as_array().map(Vec::len) == Some(2),
        "{}",
        first.body
    );
    let next = first.body["next"].as_str().context("a next page")?;
    let second = admin.get(&format!("/v1/orders?limit=2&after={next}")).await?;
    ensure!(
        second.body["orders"].as_array().map(Vec::len) == Some(1),
        "{}",
        second.body
    );
    ensure!(second.body["next"].is_null() && second.body["orders"][0]["partner_id"] == "acme");

    let acme = admin.get("/v1/orders?partner=acme").await?;
    ensure!(
        acme.body["orders"].as_array().map(Vec::len) == Some(1),
        "{}",
        acme.body
    );
    let accepted = admin.get("/v1/orders?status=accepted").await?;
    ensure!(
        accepted.body["orders"].as_array().map(Vec::len) == Some(3),
        "{}",
        accepted.body
    );

    let own = partner.get("/v1/orders").await?;
    let listed = own.body["orders"].as_array().context("orders")?;
    ensure!(
        listed.len() == 1 && listed[0]["partner_id"] == "acme",
        "a partner sees only its own: {}",
        own.body
    );
    ensure!(partner.get("/v1/orders?partner=other").await?.status == 403);

    for bad in [
        "limit=0",
        "limit=101",
        "status=lost",
        "after=not-an-id",
        "colour=red",
    ] {
        let answer = admin.get(&format!("/v1/orders?{bad}")).await?;
        ensure!(answer.status == 400, "{bad}: {answer:?}");
    }
    Ok(())
}
