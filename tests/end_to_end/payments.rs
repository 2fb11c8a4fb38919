//! Payments a retailer can run on (issue 22), through the whole mesh on the embedded backends and on the real ones:
//! a split order paid with two cards is captured parcel by parcel (the second capture final) and refunded over
//! HTTP; a declined second card voids the first and fails the order; a gift card held for an order is whole again
//! once the order is cancelled. The order shows what was paid, refunded and is still due.

use anyhow::{Context, ensure};
use omni_testkit::fixtures::order;
use omni_testkit::testing::{ADMIN_KEY, RealBackends, embedded_options, eventually, on_mesh, settings};
use omni_testkit::{Client, Mesh, Service};
use serde_json::{Value, json};

use crate::store_work::{WAIT, routing_sees, ship, status_is, stores, task_at, tokenize};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn split_tenders_are_captured_per_parcel_voided_on_decline_and_gift_cards_restored_on_embedded_backends()
-> anyhow::Result<()> {
    omni_telemetry::init_for_tests();
    on_mesh(embedded_options(settings()), tenders).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn split_tenders_are_captured_per_parcel_voided_on_decline_and_gift_cards_restored_on_real_backends()
-> anyhow::Result<()> {
    omni_telemetry::init_for_tests();
    let backends = RealBackends::new(settings())?;
    let mesh = Mesh::start(backends.options.clone()).await?;
    let result = tenders(&mesh).await;
    let stopped = mesh.stop().await;
    result?;
    stopped
}

/// Two tees (19.99) from Berlin and a mug (8.99) from Potsdam: 48.97, in two parcels.
fn split_order(tenders: Vec<Value>) -> anyhow::Result<Value> {
    let mut body = serde_json::to_value(
        order("TEE-1", 2, 1999)
            .line("MUG-1", 1, 899)
            .ship_to(52.50, 13.35)
            .build()?,
    )?;
    body["tenders"] = Value::Array(tenders);
    Ok(body)
}

async fn place(orders: &Client, body: &Value, key: &str) -> anyhow::Result<String> {
    let placed = orders
        .post("/v1/orders", body, &[("Idempotency-Key", key)])
        .await?;
    ensure!(placed.status == 201, "{placed:?}");
    Ok(placed.body["id"].as_str().context("order id")?.to_owned())
}

/// Waits until the order's money is as given: (captured, refunded, voided, due).
async fn money_is(orders: &Client, id: &str, expected: (i64, i64, i64, i64)) -> anyhow::Result<Value> {
    eventually(
        &format!("order {id}'s money to be {expected:?}"),
        WAIT,
        || async {
            let now = orders.get(&format!("/v1/orders/{id}")).await?.body;
            let p = &now["payment"];
            let seen = (
                p["captured_minor"].as_i64().unwrap_or(-1),
                p["refunded_minor"].as_i64().unwrap_or(-1),
                p["voided_minor"].as_i64().unwrap_or(-1),
                p["due_minor"].as_i64().unwrap_or(-1),
            );
            Ok((seen == expected).then_some(now))
        },
    )
    .await
}

async fn tenders(mesh: &Mesh) -> anyhow::Result<()> {
    stores(
        mesh,
        &[("BERLIN", 52.52, 13.40), ("POTSDAM", 52.40, 13.06)],
        &[("BERLIN", "TEE-1"), ("POTSDAM", "MUG-1")],
    )
    .await?;
    let payments = mesh.client(Service::Payments, ADMIN_KEY);
    let orders = mesh.client(Service::Orders, ADMIN_KEY);
    let fulfillment = mesh.client(Service::Fulfillment, ADMIN_KEY);
    let visa = tokenize(&payments, "4242 4242 4242 4242").await?;
    let mastercard = tokenize(&payments, "5555 5555 5555 4444").await?;

    // Tenders that do not add up are refused at the door, naming the field; nothing is stored.
    let bad = split_order(vec![
        json!({ "type": "card", "token": visa, "amount_minor": 2000 }),
        json!({ "type": "card", "token": mastercard, "amount_minor": 2000 }),
    ])?;
    let refused = orders
        .post("/v1/orders", &bad, &[("Idempotency-Key", "bad-plan")])
        .await?;
    ensure!(
        refused.status == 400
            && refused.body["message"]
                .as_str()
                .is_some_and(|m| m.contains("tenders") && m.contains("4897")),
        "{refused:?}"
    );

    // 20.00 on the Visa, the rest (28.97) on the Mastercard; shipped in two parcels.
    let body = split_order(vec![
        json!({ "type": "card", "token": visa, "amount_minor": 2000 }),
        json!({ "type": "card", "token": mastercard }),
    ])?;
    let id = place(&orders, &body, "two-cards").await?;
    status_is(&orders, &id, "released").await?;
    let placed = orders.get(&format!("/v1/orders/{id}")).await?.body;
    ensure!(
        placed["tenders"][0]["amount_minor"] == 2000 && placed["tenders"][1]["amount_minor"] == 2897,
        "the order shows its payment plan: {placed}"
    );
    money_is(&orders, &id, (0, 0, 0, 4897)).await?;
    ship(&fulfillment, &task_at(&fulfillment, "BERLIN", &id).await?).await?;
    // The tees' 39.98: the Visa's 20.00 and 19.98 of the Mastercard.
    money_is(&orders, &id, (3998, 0, 0, 899)).await?;
    ship(&fulfillment, &task_at(&fulfillment, "POTSDAM", &id).await?).await?;
    status_is(&orders, &id, "completed").await?;
    let completed = money_is(&orders, &id, (4897, 0, 0, 0)).await?;
    ensure!(completed["payment"]["paid_minor"] == 4897, "{completed}");
    let intents = payments
        .get(&format!("/v1/payments/intents?order_id={id}"))
        .await?
        .body;
    ensure!(intents[0]["status"] == "captured", "{intents}");

    // A refund of 25.00 over HTTP: the Mastercard (charged last) gives back first.
    let refund =
        json!({ "refund_id": "R-two-cards", "order_id": id, "amount_minor": 2500, "reason": "damaged" });
    let answer = payments.post("/v1/payments/refunds", &refund, &[]).await?;
    ensure!(answer.status == 201, "{answer:?}");
    ensure!(
        answer.body["tenders"] == json!([{ "tender": 1, "kind": "refund", "amount_minor": 2500 }]),
        "{}",
        answer.body
    );
    let again = payments.post("/v1/payments/refunds", &refund, &[]).await?;
    ensure!(
        again.status == 200 && again.body == answer.body,
        "a refund asked again is the same: {again:?}"
    );
    let too_much = json!({ "refund_id": "R-more", "order_id": id, "amount_minor": 2398 });
    let answer = payments.post("/v1/payments/refunds", &too_much, &[]).await?;
    ensure!(
        answer.status == 422 && answer.body["code"] == "invalid_refund",
        "2,397 are left to give back: {answer:?}"
    );
    let refunded = money_is(&orders, &id, (4897, 2500, 0, 0)).await?;
    ensure!(refunded["payment"]["paid_minor"] == 2397, "{refunded}");
    // Payments shows each tender's buckets: the Visa's 20.00 captured, the Mastercard's 28.97 captured and 25.00 of
    // it refunded, nothing pending.
    let listed = payments
        .get(&format!("/v1/payments/intents?order_id={id}"))
        .await?
        .body;
    let bucket = |tender: usize, name: &str| listed[0]["money"][tender][name].clone();
    ensure!(
        bucket(0, "captured") == json!({ "settled": 2000, "pending": 0 })
            && bucket(1, "captured") == json!({ "settled": 2897, "pending": 0 })
            && bucket(1, "refunded") == json!({ "settled": 2500, "pending": 0 })
            && bucket(0, "refunded") == json!({ "settled": 0, "pending": 0 }),
        "{listed}"
    );

    // A declined second card: the first card's hold is released and the order fails with the reason.
    let declined = tokenize(&payments, "4000 0000 0000 0002").await?;
    let body = split_order(vec![
        json!({ "type": "card", "token": visa, "amount_minor": 1000 }),
        json!({ "type": "card", "token": declined }),
    ])?;
    let id = place(&orders, &body, "declined-second").await?;
    let failed = eventually("the order with a declined card to fail", WAIT, || async {
        let now = orders.get(&format!("/v1/orders/{id}")).await?.body;
        Ok((now["status"] == "failed").then_some(now))
    })
    .await?;
    ensure!(
        failed["failure_reason"]
            .as_str()
            .is_some_and(|r| r.contains("card_declined")),
        "{failed}"
    );
    money_is(&orders, &id, (0, 0, 1000, 0)).await?;
    // Its holds go back on sale: Berlin has 3 tees again for the next order (routing reads availability as a
    // stream, so the next order waits until routing sees them, or it could find Berlin short).
    routing_sees(mesh, "TEE-1", "BERLIN", 3).await?;

    // A gift card pays 30.00 of an order that is then cancelled: its balance is whole again.
    let issued = payments
        .post(
            "/v1/payments/gift-cards",
            &json!({ "issue_id": "gift-e2e", "amount_minor": 3000, "currency": "EUR" }),
            &[],
        )
        .await?;
    ensure!(issued.status == 201, "{issued:?}");
    let code = issued.body["code"]
        .as_str()
        .context("the code, shown once")?
        .to_owned();
    let reissued = payments
        .post(
            "/v1/payments/gift-cards",
            &json!({ "issue_id": "gift-e2e", "amount_minor": 3000, "currency": "EUR" }),
            &[],
        )
        .await?;
    ensure!(
        reissued.status == 200 && reissued.body.get("code").is_none(),
        "issued again: the same card, never its code again: {reissued:?}"
    );
    let body = split_order(vec![
        json!({ "type": "card", "token": visa }),
        json!({ "type": "gift_card", "code": code, "amount_minor": 3000 }),
    ])?;
    let id = place(&orders, &body, "gift").await?;
    status_is(&orders, &id, "released").await?;
    let shown = orders.get(&format!("/v1/orders/{id}")).await?.body.to_string();
    ensure!(!shown.contains(&code), "the order never shows the code: {shown}");
    let balance = |payments: Client, code: String| async move {
        let answer = payments
            .post("/v1/payments/gift-cards/balance", &json!({ "code": code }), &[])
            .await?;
        ensure!(answer.status == 200, "{answer:?}");
        Ok::<_, anyhow::Error>((
            answer.body["balance_minor"].clone(),
            answer.body["available_minor"].clone(),
        ))
    };
    ensure!(
        balance(payments.clone(), code.clone()).await? == (json!(3000), json!(0)),
        "held for the order"
    );
    let cancelled = orders
        .post(&format!("/v1/orders/{id}/cancel"), &json!({}), &[])
        .await?;
    ensure!(matches!(cancelled.status, 200 | 202), "{cancelled:?}");
    status_is_cancelled(&orders, &id).await?;
    eventually("the gift card to be whole again", WAIT, || async {
        Ok((balance(payments.clone(), code.clone()).await? == (json!(3000), json!(3000))).then_some(()))
    })
    .await?;
    money_is(&orders, &id, (0, 0, 4897, 0)).await?;
    Ok(())
}

async fn status_is_cancelled(orders: &Client, id: &str) -> anyhow::Result<()> {
    eventually("the order to be cancelled", WAIT, || async {
        let now = orders.get(&format!("/v1/orders/{id}")).await?.body;
        Ok((now["status"] == "cancelled").then_some(()))
    })
    .await
}
