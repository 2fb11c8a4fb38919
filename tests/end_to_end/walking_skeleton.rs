//! The walking skeleton: one order through all six services, over Kafka and HTTP, with every state in a
//! database. The same scenario runs on the embedded backends (`omni dev`) and on the real ones the test
//! script starts (PostgreSQL, Redis, the Nisshi Kafka broker).

use omni_contracts::api::Capability;
use omni_testkit::Service;
use omni_testkit::fixtures::{order, sku, store, tagged_sku};
use std::time::Duration;

use anyhow::{Context, ensure};
use omni_contracts::api::{MovementKind, StockMovement};
use omni_contracts::events::InventoryEvent;
use omni_contracts::{Envelope, LocationId, MovementId, Quantity, Sku, Topic};
use omni_testkit::kafka::collect;
use omni_testkit::testing::{
    ADMIN_KEY, RealBackends, eventually, receive_stock, settings, token_from_payments_alone,
};
use omni_testkit::{Client, Mesh, MeshOptions};
use serde_json::json;

const WAIT: Duration = Duration::from_secs(60);

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_order_walks_through_every_service_on_embedded_backends() -> anyhow::Result<()> {
    omni_telemetry::init_for_tests();
    let dir = tempdir();
    let mut options = MeshOptions::embedded(settings(), dir.clone());
    options.ephemeral_ports = true;
    let result = walk_one_order(Mesh::start(options).await?).await;
    let _ = std::fs::remove_dir_all(dir);
    result
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_order_walks_through_every_service_on_real_backends() -> anyhow::Result<()> {
    omni_telemetry::init_for_tests();
    let backends = RealBackends::new(settings())?;
    let options = backends.options.clone();
    walk_one_order(Mesh::start(options).await?).await
}

async fn walk_one_order(mesh: Mesh) -> anyhow::Result<()> {
    let result = scenario(&mesh).await;
    let stopped = mesh.stop().await;
    result?;
    stopped
}

async fn scenario(mesh: &Mesh) -> anyhow::Result<()> {
    let catalog = mesh.client(Service::Catalog, ADMIN_KEY);
    let allocation = mesh.client(Service::Allocation, ADMIN_KEY);
    let orders = mesh.client(Service::Orders, ADMIN_KEY);
    let fulfillment = mesh.client(Service::Fulfillment, ADMIN_KEY);
    let payments = mesh.client(Service::Payments, ADMIN_KEY);
    let returns = mesh.client(Service::Returns, ADMIN_KEY);

    // Catalog: a store far away and one near the customer, and a SKU.
    for (id, lat, lon) in [("STORE-NEAR", 52.52, 13.40), ("STORE-FAR", 48.14, 11.58)] {
        let body = store(id)
            .at(lat, lon)
            .capable(&[Capability::Ship, Capability::Pickup])
            .build()?;
        let created = catalog.post("/v1/locations", &body, &[]).await?;
        ensure!(created.status == 201, "location: {created:?}");
    }
    let sku = catalog
        .post("/v1/skus", &tagged_sku("TEE-1", &["high-demand"])?, &[])
        .await?;
    ensure!(sku.status == 201, "sku: {sku:?}");
    eventually("allocation to learn the SKU", WAIT, || async {
        Ok((allocation.get("/v1/availability/TEE-1").await?.status == 200).then_some(()))
    })
    .await?;

    // Stock arrives as receipts on omni.inventory.v1, from a store system (here: this test's producer).
    let producer = omni_kafka::Kafka::new(&mesh.settings().kafka, mesh.kafka_bootstrap())
        .producer(&omni_telemetry::Metrics::new("test")?)?;
    for location in ["STORE-NEAR", "STORE-FAR"] {
        let receipt = StockMovement {
            event_id: MovementId::generate(),
            location_id: LocationId::parse(location)?,
            sku: Sku::parse("TEE-1")?,
            kind: MovementKind::Receipt,
            quantity: Quantity::new(5)?,
        };
        producer
            .publish(&Envelope::new("store-system", InventoryEvent::Movement(receipt)))
            .await?;
    }
    eventually("routing to see both stores' stock", WAIT, || async {
        let stock = fulfillment.get("/v1/stock/TEE-1").await?;
        Ok((stock.body.as_array().map(Vec::len) == Some(2)
            && stock.body[0]["atp"] == 5
            && stock.body[1]["atp"] == 5)
            .then_some(()))
    })
    .await?;

    // Omni measures how long a stock change takes to reach routing.
    let metrics = fulfillment.get_text("/metrics").await?;
    let observed = metrics
        .lines()
        .find(|l| l.starts_with("omni_availability_lag_seconds_count"))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|n| n.parse::<u64>().ok());
    ensure!(
        // Both receipts may arrive in one availability event (changes of one SKU are published together).
        observed.is_some_and(|n| n >= 1),
        "availability lag is measured: {observed:?}"
    );

    // Checkout: tokenize a sandbox card, place the order.
    let token = payments
        .post(
            "/v1/payments/tokens",
            &json!({ "number": "4242424242424242", "exp_month": 12, "exp_year": 2030 }),
            &[],
        )
        .await?;
    ensure!(token.status == 201, "tokenize: {token:?}");
    let token = token.body["token"].as_str().context("token")?.to_owned();
    let order = order("TEE-1", 2, 1999).card(&token).build()?;
    let placed = orders
        .post("/v1/orders", &order, &[("Idempotency-Key", "order-1")])
        .await?;
    ensure!(placed.status == 201, "order: {placed:?}");
    let order_id = placed.body["id"].as_str().context("order id")?.to_owned();
    let again = orders
        .post("/v1/orders", &order, &[("Idempotency-Key", "order-1")])
        .await?;
    ensure!(
        again.body["id"] == placed.body["id"],
        "a retry with the same key must answer the same order"
    );

    let released = eventually("the order to be released", WAIT, || async {
        let current = orders.get(&format!("/v1/orders/{order_id}")).await?;
        ensure!(
            current.body["status"] != "failed",
            "order failed: {}",
            current.body
        );
        Ok((current.body["status"] == "released").then_some(current.body))
    })
    .await?;
    ensure!(
        released["location_id"] == "STORE-NEAR",
        "routed to the nearest store: {released}"
    );
    ensure!(released["total_minor"] == 3998);

    // Every service holds its part of the truth.
    let sourcing = fulfillment
        .get(&format!("/v1/fulfillments?order_id={order_id}"))
        .await?;
    ensure!(sourcing.body[0]["status"] == "released", "{sourcing:?}");
    ensure!(
        sourcing.body[0]["explanation"]
            .as_str()
            .is_some_and(|e| e.contains("STORE-FAR")),
        "explanation lists every candidate"
    );
    // Released, the order's work waits in the near store's queue to be accepted.
    let queue = fulfillment.get("/v1/stores/STORE-NEAR/tasks").await?;
    let task = queue.body["tasks"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|t| t["order_id"] == order_id.as_str())
        .with_context(|| format!("the store task: {}", queue.body))?;
    ensure!(
        task["method"] == "ship"
            && task["state"] == "created"
            && task["fulfillment_id"] == sourcing.body[0]["id"]
            && task["lines"]
                == json!([{ "sku": "TEE-1", "ordered": 2, "buckets": { "open": 2, "picked": 0,
                "short": 0, "packed": 0, "staged": 0, "handed_over": 0, "shipped": 0, "released": 0 } }]),
        "{task}"
    );
    let far = fulfillment.get("/v1/stores/STORE-FAR/tasks").await?;
    ensure!(
        far.body["tasks"] == json!([]),
        "nothing for the far store: {}",
        far.body
    );
    let availability = allocation.get("/v1/availability/TEE-1").await?;
    let near = availability.body["locations"]
        .as_array()
        .context("locations")?
        .iter()
        .find(|l| l["location_id"] == "STORE-NEAR")
        .cloned();
    ensure!(
        near.as_ref().is_some_and(|l| l["reserved"] == 2 && l["atp"] == 3),
        "held at the near store: {availability:?}"
    );
    ensure!(availability.body["available"] == 8);
    let intents = payments
        .get(&format!("/v1/payments/intents?order_id={order_id}"))
        .await?;
    ensure!(intents.body.to_string().contains("authorized"), "{intents:?}");
    ensure!(
        !intents.body.to_string().contains("4242424242424242"),
        "no card number outside the vault"
    );
    eventually("returns to see the released order", WAIT, || async {
        let view = returns.get(&format!("/v1/returns/orders/{order_id}")).await?;
        Ok((view.body["status"] == "released").then_some(()))
    })
    .await?;

    // Every step is an event on its topic.
    let names = |t: Topic| mesh.topic(t);
    let topics: Vec<String> = [
        Topic::Orders,
        Topic::Fulfillment,
        Topic::Reservations,
        Topic::Payments,
    ]
    .into_iter()
    .map(names)
    .collect();
    let topic_refs: Vec<&str> = topics.iter().map(String::as_str).collect();
    let expected = [
        "omni.order.accepted",
        "omni.fulfillment.sourced",
        "omni.reservation.held",
        "omni.order.reserved",
        "omni.payment.authorized",
        "omni.order.payment_authorized",
        "omni.fulfillment.released",
        "omni.order.released",
    ];
    let seen = collect(mesh.kafka_bootstrap(), &topic_refs, WAIT, |seen| {
        expected.iter().all(|t| {
            seen.iter()
                .any(|m| m.key == order_id && m.header("ce_type") == Some(*t))
        })
    })
    .await?;
    let traceparents: Vec<_> = seen
        .iter()
        .filter(|m| m.key == order_id)
        .filter_map(|m| m.header("traceparent"))
        .collect();
    ensure!(
        traceparents.len() >= expected.len(),
        "every event carries a traceparent"
    );
    ensure!(
        seen.iter()
            .filter(|m| m.key == order_id)
            .all(|m| !String::from_utf8_lossy(&m.body).contains("4242424242424242")),
        "no card data in events"
    );

    partner_order_over_kafka(mesh, &producer, &orders).await?;

    // Bad input gets a clear 4xx naming the problem.
    let unknown_field = orders
        .post(
            "/v1/orders",
            &json!({ "channel": "web", "surprise": 1 }),
            &[("Idempotency-Key", "bad-1")],
        )
        .await?;
    ensure!(
        unknown_field.status == 400 && unknown_field.body["code"] == "invalid_body",
        "{unknown_field:?}"
    );
    ensure!(
        unknown_field.body["message"]
            .as_str()
            .is_some_and(|m| m.contains("surprise"))
    );
    let no_key = orders.post("/v1/orders", &order, &[]).await?;
    ensure!(
        no_key.status == 400 && no_key.body["code"] == "invalid_header",
        "{no_key:?}"
    );
    let anonymous = orders
        .with_key("not-a-real-key-at-all")
        .get(&format!("/v1/orders/{order_id}"))
        .await?;
    ensure!(
        anonymous.status == 401 && anonymous.body["type"] == "auth",
        "{anonymous:?}"
    );
    // Consumer lag per partition, from the Kafka client's statistics (every 5 s).
    eventually("consumer lag to be published", WAIT, || async {
        let metrics = orders.get_text("/metrics").await?;
        Ok(metrics
            .lines()
            .any(|l| {
                l.starts_with("omni_kafka_consumer_lag_messages{") && l.contains("consumer=\"orders.saga\"")
            })
            .then_some(()))
    })
    .await?;
    Ok(())
}

/// A marketplace order on its partner's `omni.orders.inbound.acme-market.v1`, sent twice, after a malformed message with the same key:
/// the malformed one is dead-lettered with its reason, the order is taken once and released.
async fn partner_order_over_kafka(
    mesh: &Mesh,
    producer: &omni_kafka::Producer,
    orders: &Client,
) -> anyhow::Result<()> {
    let names = |t: Topic| mesh.topic(t);
    let inbound = mesh.partner_topic("acme-market");
    let key = "acme-market:PO-1001";
    let broken_headers = vec![
        ("ce_specversion".to_owned(), "1.0".to_owned()),
        ("ce_id".to_owned(), uuid::Uuid::new_v4().to_string()),
        ("ce_type".to_owned(), "omni.partner_order.submitted".to_owned()),
        ("ce_source".to_owned(), "/partners/acme-market".to_owned()),
        ("ce_time".to_owned(), "2026-11-23T10:00:00Z".to_owned()),
    ];
    producer
        .send_raw(&inbound, key, &broken_headers, b"{\"partner_id\": 42")
        .await?;
    let partner_order: omni_contracts::api::PartnerOrder = serde_json::from_value(json!({
        "partner_id": "acme-market", "partner_order_id": "PO-1001",
        "placed_at": "2026-11-23T09:30:00Z", "currency": "EUR", "customer": { "tier": "standard" },
        "lines": [{ "sku": "TEE-1", "quantity": 1, "unit_price_minor": 2100 }],
        "total_minor": 2100,
        "delivery": { "type": "ship", "lat": 52.51, "lon": 13.39 },
        "promise_by": "2026-11-26T18:00:00Z",
        "tenders": [{ "type": "marketplace_prepaid" }]
    }))?;
    for _ in 0..2 {
        let submitted = omni_contracts::events::InboundOrderEvent::Submitted(partner_order.clone());
        producer
            .publish_on(&inbound, &Envelope::new("acme-market", submitted))
            .await?;
    }
    let orders_topic = names(Topic::Orders);
    let accepted = collect(mesh.kafka_bootstrap(), &[&orders_topic], WAIT, |seen| {
        seen.iter().any(|m| {
            m.header("ce_type") == Some("omni.order.accepted")
                && m.json()["order"]["partner_order_id"] == "PO-1001"
        })
    })
    .await?;
    let first = accepted
        .iter()
        .find(|m| {
            m.header("ce_type") == Some("omni.order.accepted")
                && m.json()["order"]["partner_order_id"] == "PO-1001"
        })
        .context("accepted event")?;
    ensure!(
        first.header("ce_partnerid") == Some("acme-market"),
        "a partner's order events carry the partner in a header: {:?}",
        first.headers
    );
    let partner_order_id = first.json()["order"]["id"]
        .as_str()
        .context("order id")?
        .to_owned();
    eventually("the partner order to be released", WAIT, || async {
        let current = orders.get(&format!("/v1/orders/{partner_order_id}")).await?;
        ensure!(
            current.body["status"] != "failed",
            "partner order failed: {}",
            current.body
        );
        Ok((current.body["status"] == "released").then_some(()))
    })
    .await?;
    let all = collect(mesh.kafka_bootstrap(), &[&orders_topic], WAIT, |seen| {
        seen.iter()
            .any(|m| m.key == partner_order_id && m.header("ce_type") == Some("omni.order.released"))
    })
    .await?;
    // Every state change of the partner's order is on omni.orders.v1 with the partner header; web orders have none.
    for event in all.iter().filter(|m| m.key == partner_order_id) {
        ensure!(
            event.header("ce_partnerid") == Some("acme-market"),
            "{:?} of the partner order lacks the partner header",
            event.header("ce_type")
        );
    }
    ensure!(
        all.iter()
            .filter(|m| m.key != partner_order_id)
            .all(|m| m.header("ce_partnerid").is_none()),
        "orders of no partner carry no partner header"
    );
    let taken = all
        .iter()
        .filter(|m| {
            m.header("ce_type") == Some("omni.order.accepted")
                && m.json()["order"]["partner_order_id"] == "PO-1001"
        })
        .count();
    ensure!(taken == 1, "the duplicate partner order was taken {taken} times");
    ensure!(
        all.iter()
            .any(|m| m.header("ce_type") == Some("omni.order.duplicate_received")
                && m.json()["order_id"] == partner_order_id.as_str()
                && m.header("ce_partnerid") == Some("acme-market")),
        "the duplicate is acknowledged to the partner with the first order's id"
    );
    let dlq = names(Topic::OrdersInboundDlq);
    let dead = collect(mesh.kafka_bootstrap(), &[&dlq], WAIT, |seen| !seen.is_empty()).await?;
    ensure!(
        dead[0].body == b"{\"partner_id\": 42",
        "the original bytes are kept"
    );
    ensure!(
        dead[0].header("omni_dlq_reason").is_some_and(|r| !r.is_empty()),
        "with the reason in a header"
    );
    Ok(())
}

fn tempdir() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("omni-skeleton-{}", uuid::Uuid::new_v4().simple()));
    let _ = std::fs::create_dir_all(&dir);
    dir
}

/// An order accepted and held while payments is down, then the whole mesh stopped: nothing is lost. The next
/// start finishes the saga from the committed offsets, the outboxes and the inboxes.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_order_accepted_before_a_restart_is_released_after_it() -> anyhow::Result<()> {
    omni_telemetry::init_for_tests();
    let backends = RealBackends::new(settings())?;
    let options = backends.options.clone();
    // The card is tokenized first, by payments alone; then payments stays down.
    let token = token_from_payments_alone(&options).await?;
    let without_payments = options.without(Service::Payments);
    let first = Mesh::start(without_payments).await?;
    let order_id = match accept_one_order(&first, &token).await {
        Ok(id) => id,
        Err(e) => {
            let _ = first.stop().await;
            return Err(e);
        }
    };
    first.stop().await?;

    let second = Mesh::start(options).await?;
    let orders = second.client(Service::Orders, ADMIN_KEY);
    let outcome = eventually("the order to be released after the restart", WAIT, || async {
        let current = orders.get(&format!("/v1/orders/{order_id}")).await?;
        ensure!(
            current.body["status"] != "failed",
            "order failed: {}",
            current.body
        );
        Ok((current.body["status"] == "released").then_some(()))
    })
    .await;
    second.stop().await?;
    outcome
}

/// Catalog, stock and one order, returning once the order is held (payments is not running).
async fn accept_one_order(mesh: &Mesh, token: &str) -> anyhow::Result<String> {
    let catalog = mesh.client(Service::Catalog, ADMIN_KEY);
    let allocation = mesh.client(Service::Allocation, ADMIN_KEY);
    let fulfillment = mesh.client(Service::Fulfillment, ADMIN_KEY);
    let body = store("STORE-1").named("One").build()?;
    ensure!(catalog.post("/v1/locations", &body, &[]).await?.status == 201);
    ensure!(catalog.post("/v1/skus", &sku("MUG")?, &[]).await?.status == 201);
    receive_stock(&allocation, "STORE-1", "MUG", 3).await?;
    omni_testkit::testing::until_routing_sees(&fulfillment, "MUG", 3, WAIT).await?;
    let order = order("MUG", 1, 900).ship_to(52.4, 13.3).card(token).build()?;
    let placed = mesh
        .client(Service::Orders, ADMIN_KEY)
        .post("/v1/orders", &order, &[("Idempotency-Key", "restart-1")])
        .await?;
    ensure!(placed.status == 201, "{placed:?}");
    let id = placed.body["id"]
        .as_str()
        .map(str::to_owned)
        .context("order id")?;
    let orders = mesh.client(Service::Orders, ADMIN_KEY);
    eventually("the order to be held, waiting for payment", WAIT, || async {
        Ok((orders.get(&format!("/v1/orders/{id}")).await?.body["status"] == "reserved").then_some(()))
    })
    .await?;
    Ok(id)
}
