//! Returns anywhere (issue 23), through the whole mesh on the embedded backends and on the real ones: two tees
//! bought online, paid with two cards and shipped from the warehouse, are returned at another store, one at a
//! time at the counter. The first is back on sale at that store at once and refunded over both cards (the one
//! charged last first); a third tee is refused naming the rule; the second, damaged, is written off: refunded, never
//! on sale. Twenty counters racing to return an order's last unit: one return holds it, nineteen are refused.

use anyhow::{Context, ensure};
use omni_testkit::fixtures::order;
use omni_testkit::testing::{ADMIN_KEY, embedded_options, on_mesh, on_real_backends, settings};
use omni_testkit::{Client, Mesh, Service};
use serde_json::{Value, json};

use crate::store_work::{available_at, ship, status_is, stores, task_at, tokenize};

/// Two tests of `flow`, each on a mesh of its own with `settings`: `$embedded` on the embedded backends, `$real`
/// on the real ones.
macro_rules! on_both_backends {
    ($embedded:ident, $real:ident, $settings:expr, $flow:ident) => {
        #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
        async fn $embedded() -> anyhow::Result<()> {
            omni_telemetry::init_for_tests();
            on_mesh(embedded_options($settings), $flow).await
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
        async fn $real() -> anyhow::Result<()> {
            omni_telemetry::init_for_tests();
            on_real_backends($settings, $flow).await
        }
    };
}

on_both_backends!(
    a_tee_shipped_from_the_warehouse_is_returned_at_another_store_on_embedded_backends,
    a_tee_shipped_from_the_warehouse_is_returned_at_another_store_on_real_backends,
    settings(),
    returned_elsewhere
);

/// A return of one tee at STORE-B's counter, graded as given.
fn at_the_counter(request_id: &str, order_id: &str, quantity: u32, grade: &str, disposition: Value) -> Value {
    let units: Vec<Value> = (0..quantity)
        .map(|_| json!({ "sku": "TEE-1", "grade": grade, "disposition": disposition }))
        .collect();
    json!({
        "request_id": request_id,
        "order_id": order_id,
        "lines": [{ "sku": "TEE-1", "quantity": quantity, "reason": "does_not_fit" }],
        "method": { "type": "in_store", "location_id": "STORE-B" },
        "units": units,
    })
}

/// Asks `returns` for a return at STORE-B's counter (see [`at_the_counter`]).
async fn counter(
    returns: &Client,
    request_id: &str,
    order_id: &str,
    quantity: u32,
    grade: &str,
    disposition: Value,
) -> anyhow::Result<omni_testkit::client::Answer> {
    let asked = at_the_counter(request_id, order_id, quantity, grade, disposition);
    returns.post("/v1/returns", &asked, &[]).await
}

/// Waits until the order shows `tees` tees back and its returned `state`.
async fn returned_on_order(orders: &Client, id: &str, state: &str, tees: u32) -> anyhow::Result<()> {
    omni_testkit::testing::eventually(
        &format!("order {id} to show {tees} tees returned"),
        crate::store_work::WAIT,
        || async {
            let order = orders.get(&format!("/v1/orders/{id}")).await?.body;
            let shown = order["returns"]
                == json!({ "state": state, "lines": [{ "sku": "TEE-1", "quantity": tees }] });
            Ok(shown.then_some(()))
        },
    )
    .await
}

/// The `field` of the first `ce_type` event of order `id` on `topic`: what a notifier would send the customer.
async fn sent_to_the_customer(
    mesh: &Mesh,
    topic: omni_contracts::Topic,
    ce_type: &str,
    id: &str,
    field: &str,
) -> anyhow::Result<String> {
    let topic = mesh.topic(topic);
    let is_it =
        |m: &omni_testkit::kafka::Seen| m.header("ce_type") == Some(ce_type) && m.json()["order_id"] == id;
    let seen = omni_testkit::kafka::collect(
        mesh.kafka_bootstrap(),
        &[topic.as_str()],
        crate::store_work::WAIT,
        |seen| seen.iter().any(is_it),
    )
    .await?;
    seen.iter()
        .find(|m| is_it(m))
        .and_then(|m| m.json()[field].as_str().map(str::to_owned))
        .with_context(|| format!("{field} in {ce_type}"))
}

/// Waits until the return is settled, and answers it.
async fn settled(returns: &Client, id: &str) -> anyhow::Result<Value> {
    omni_testkit::testing::eventually(
        &format!("return {id} to be settled"),
        crate::store_work::WAIT,
        || async {
            let now = returns.get(&format!("/v1/returns/{id}")).await?.body;
            Ok((now["status"] == "settled").then_some(now))
        },
    )
    .await
}

on_both_backends!(
    twenty_counters_racing_for_the_last_unit_take_one_return_on_embedded_backends,
    twenty_counters_racing_for_the_last_unit_take_one_return_on_real_backends,
    settings(),
    last_unit_race
);

/// One tee, shipped; 20 clients ask to return it at once, each with its own request id: exactly one return holds
/// it, the others are refused naming the rule.
async fn last_unit_race(mesh: &Mesh) -> anyhow::Result<()> {
    let id = shipped(mesh, 1, "last-unit").await?;
    // Returns learns the delivery from fulfillment's event: wait until one return would be taken, without taking it.
    let returns = mesh.client(Service::Returns, ADMIN_KEY);
    omni_testkit::testing::eventually(
        "returns to learn the delivery",
        crate::store_work::WAIT,
        || async {
            let too_many = counter(
                &returns,
                "probe",
                &id,
                2,
                "resellable",
                json!({ "type": "restock" }),
            )
            .await?;
            Ok(too_many.body["message"]
                .as_str()
                .is_some_and(|m| m.starts_with("returnable_quantity"))
                .then_some(()))
        },
    )
    .await?;

    let mut racing = tokio::task::JoinSet::new();
    for n in 0..20 {
        let returns = mesh.client(Service::Returns, ADMIN_KEY);
        let asked = at_the_counter(
            &format!("race-{n}"),
            &id,
            1,
            "resellable",
            json!({ "type": "restock" }),
        );
        racing.spawn(async move { returns.post("/v1/returns", &asked, &[]).await });
    }
    let mut taken = 0;
    let mut refused = 0;
    while let Some(answer) = racing.join_next().await {
        let answer = answer??;
        match answer.status {
            201 => taken += 1,
            422 if answer.body["message"]
                .as_str()
                .is_some_and(|m| m.starts_with("returnable_quantity")) =>
            {
                refused += 1
            }
            _ => anyhow::bail!("a racing return answered {answer:?}"),
        }
    }
    ensure!(taken == 1 && refused == 19, "{taken} taken, {refused} refused");
    Ok(())
}

/// An order of `tees` tees paid with one card, shipped from the warehouse (STORE-B has none): its id.
async fn shipped(mesh: &Mesh, tees: u32, key: &str) -> anyhow::Result<String> {
    stores(
        mesh,
        &[("WAREHOUSE", 52.52, 13.40), ("STORE-B", 48.14, 11.58)],
        &[("WAREHOUSE", "TEE-1")],
    )
    .await?;
    let payments = mesh.client(Service::Payments, ADMIN_KEY);
    let orders = mesh.client(Service::Orders, ADMIN_KEY);
    let fulfillment = mesh.client(Service::Fulfillment, ADMIN_KEY);
    let visa = tokenize(&payments, "4242 4242 4242 4242").await?;
    let mut body = serde_json::to_value(
        order("TEE-1", i64::from(tees), 1999)
            .ship_to(52.52, 13.40)
            .build()?,
    )?;
    body["tenders"] = json!([{ "type": "card", "token": visa }]);
    let placed = orders
        .post("/v1/orders", &body, &[("Idempotency-Key", key)])
        .await?;
    ensure!(placed.status == 201, "{placed:?}");
    let id = placed.body["id"].as_str().context("order id")?.to_owned();
    status_is(&orders, &id, "released").await?;
    ship(&fulfillment, &task_at(&fulfillment, "WAREHOUSE", &id).await?).await?;
    status_is(&orders, &id, "completed").await?;
    Ok(id)
}

async fn returned_elsewhere(mesh: &Mesh) -> anyhow::Result<()> {
    stores(
        mesh,
        &[("WAREHOUSE", 52.52, 13.40), ("STORE-B", 48.14, 11.58)],
        &[("WAREHOUSE", "TEE-1")],
    )
    .await?;
    let payments = mesh.client(Service::Payments, ADMIN_KEY);
    let orders = mesh.client(Service::Orders, ADMIN_KEY);
    let fulfillment = mesh.client(Service::Fulfillment, ADMIN_KEY);
    let returns = mesh.client(Service::Returns, ADMIN_KEY);
    let visa = tokenize(&payments, "4242 4242 4242 4242").await?;
    let mastercard = tokenize(&payments, "5555 5555 5555 4444").await?;

    // Two tees (19.99 each), 20.00 on the Visa and 19.98 on the Mastercard, shipped from the warehouse.
    let mut body = serde_json::to_value(order("TEE-1", 2, 1999).ship_to(52.52, 13.40).build()?)?;
    body["tenders"] = json!([
        { "type": "card", "token": visa, "amount_minor": 2000 },
        { "type": "card", "token": mastercard },
    ]);
    let placed = orders
        .post("/v1/orders", &body, &[("Idempotency-Key", "return-me")])
        .await?;
    ensure!(placed.status == 201, "{placed:?}");
    let id = placed.body["id"].as_str().context("order id")?.to_owned();
    status_is(&orders, &id, "released").await?;

    // Nothing left yet: nothing to return.
    let early = counter(
        &returns,
        "too-early",
        &id,
        1,
        "resellable",
        json!({ "type": "restock" }),
    )
    .await?;
    ensure!(
        early.status == 422
            && early.body["code"] == "return_declined"
            && early.body["message"]
                .as_str()
                .is_some_and(|m| m.starts_with("not_delivered")),
        "{early:?}"
    );

    ship(&fulfillment, &task_at(&fulfillment, "WAREHOUSE", &id).await?).await?;
    status_is(&orders, &id, "completed").await?;

    // The first tee at STORE-B's counter, as new: on sale at STORE-B at once, refunded 19.99: the Mastercard
    // (charged last) gives back its 19.98, the Visa 0.01.
    let first = counter(
        &returns,
        "counter-1",
        &id,
        1,
        "resellable",
        json!({ "type": "restock" }),
    )
    .await?;
    ensure!(first.status == 201, "{first:?}");
    ensure!(
        first.body["units"][0]["refund_minor"] == 1999 && first.body["units"][0]["location_id"] == "STORE-B",
        "{}",
        first.body
    );
    let return_id = first.body["id"].as_str().context("return id")?.to_owned();
    available_at(mesh, "TEE-1", "STORE-B", 1, 0).await?;
    let done = settled(&returns, &return_id).await?;
    ensure!(done["refund_minor"] == 1999, "{done}");
    let intents = payments
        .get(&format!("/v1/payments/intents?order_id={id}"))
        .await?
        .body;
    let refunded = |tender: usize| intents[0]["money"][tender]["refunded"]["settled"].clone();
    ensure!(refunded(1) == 1998 && refunded(0) == 1, "{intents}");

    // Opening and receiving are audited, by whom and on which return.
    let audit = returns.get(&format!("/v1/audit?object={return_id}")).await?.body;
    let actions: Vec<&str> = audit["entries"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|e| e["actor"] == "test-admin")
        .filter_map(|e| e["action"].as_str())
        .collect();
    ensure!(actions == ["return.opened", "return.received"], "{audit}");

    // The order shows the tee back: partially returned.
    returned_on_order(&orders, &id, "partially_returned", 1).await?;

    // An order nobody placed: 404.
    let nobodys = counter(
        &returns,
        "nobodys",
        "0190d7a5-0000-7000-8000-000000000000",
        1,
        "resellable",
        json!({ "type": "restock" }),
    )
    .await?;
    ensure!(nobodys.status == 404, "{nobodys:?}");

    // An unknown reason or grade: 400 naming it, nothing taken.
    let mut odd = at_the_counter("odd-reason", &id, 1, "resellable", json!({ "type": "restock" }));
    odd["lines"][0]["reason"] = json!("bored");
    let answer = returns.post("/v1/returns", &odd, &[]).await?;
    ensure!(
        answer.status == 400
            && answer.body["message"]
                .as_str()
                .is_some_and(|m| m.contains("bored")),
        "{answer:?}"
    );
    let odd = at_the_counter("odd-grade", &id, 1, "like new", json!({ "type": "restock" }));
    let answer = returns.post("/v1/returns", &odd, &[]).await?;
    ensure!(
        answer.status == 400
            && answer.body["message"]
                .as_str()
                .is_some_and(|m| m.contains("like new")),
        "{answer:?}"
    );

    // The same request again: the same return.
    let again = counter(
        &returns,
        "counter-1",
        &id,
        1,
        "resellable",
        json!({ "type": "restock" }),
    )
    .await?;
    ensure!(
        again.status == 200 && again.body["id"] == return_id.as_str(),
        "{again:?}"
    );

    // Two more tees: one is left to return; refused, naming the rule, nothing changed.
    let more = counter(
        &returns,
        "counter-2",
        &id,
        2,
        "resellable",
        json!({ "type": "restock" }),
    )
    .await?;
    ensure!(
        more.status == 422
            && more.body["message"]
                .as_str()
                .is_some_and(|m| m.starts_with("returnable_quantity") && m.contains("1 can be returned")),
        "{more:?}"
    );

    // The second tee by mail: asked, withdrawn (twice: the same answer), asked again, then received at STORE-B's
    // returns desk damaged: written off, refunded, not on sale.
    let by_mail = |request_id: &str| {
        json!({
            "request_id": request_id, "order_id": id,
            "lines": [{ "sku": "TEE-1", "quantity": 1, "reason": "damaged" }],
            "method": { "type": "by_mail" },
        })
    };
    let asked = returns.post("/v1/returns", &by_mail("mail-1"), &[]).await?;
    ensure!(
        asked.status == 201
            && asked.body["status"] == "awaiting_items"
            && asked.body["expires_at"].is_string(),
        "{asked:?}"
    );
    let withdrawn_id = asked.body["id"].as_str().context("return id")?.to_owned();
    for _ in 0..2 {
        let withdrawn = returns
            .post(
                &format!("/v1/returns/{withdrawn_id}/cancellation"),
                &json!(null),
                &[],
            )
            .await?;
        ensure!(
            withdrawn.status == 200 && withdrawn.body["status"] == "cancelled",
            "{withdrawn:?}"
        );
    }
    let asked = returns.post("/v1/returns", &by_mail("mail-2"), &[]).await?;
    ensure!(asked.status == 201, "{asked:?}");
    let second_id = asked.body["id"].as_str().context("return id")?.to_owned();
    let receipt = json!({ "location_id": "STORE-B",
        "units": [{ "sku": "TEE-1", "grade": "damaged", "disposition": { "type": "write_off" } }] });
    let received = returns
        .post(&format!("/v1/returns/{second_id}/receipts"), &receipt, &[])
        .await?;
    ensure!(received.status == 200, "{received:?}");
    settled(&returns, &second_id).await?;
    available_at(mesh, "TEE-1", "STORE-B", 1, 0).await?;
    returned_on_order(&orders, &id, "returned", 2).await?;
    // A received return can neither be received again nor withdrawn.
    for again in ["receipts", "cancellation"] {
        let answer = returns
            .post(&format!("/v1/returns/{second_id}/{again}"), &receipt, &[])
            .await?;
        ensure!(answer.status == 409, "{again}: {answer:?}");
    }

    // Nothing is left to return, by mail either.
    let answer = returns.post("/v1/returns", &by_mail("mail-3"), &[]).await?;
    ensure!(answer.status == 422, "{answer:?}");
    Ok(())
}

on_both_backends!(
    a_mail_return_whose_items_never_come_expires_on_embedded_backends,
    a_mail_return_whose_items_never_come_expires_on_real_backends,
    expiring_soon(),
    never_sent
);

/// Returns wait two seconds for their items.
fn expiring_soon() -> omni_config::Settings {
    let mut settings = settings();
    settings.returns.items_within_seconds = 2;
    settings
}

/// Two tees shipped; a return of both by mail whose parcel never comes expires (audited, by the job), is no longer
/// received, and the tees can be returned again.
async fn never_sent(mesh: &Mesh) -> anyhow::Result<()> {
    let id = shipped(mesh, 2, "never-sent").await?;
    let returns = mesh.client(Service::Returns, ADMIN_KEY);
    let asked = json!({
        "request_id": "never-sent", "order_id": id,
        "lines": [{ "sku": "TEE-1", "quantity": 2, "reason": "no_longer_wanted" }],
        "method": { "type": "by_mail" },
    });
    let opened = omni_testkit::testing::eventually(
        "returns to learn the delivery",
        crate::store_work::WAIT,
        || async {
            let answer = returns.post("/v1/returns", &asked, &[]).await?;
            Ok((answer.status == 201).then_some(answer.body))
        },
    )
    .await?;
    let return_id = opened["id"].as_str().context("return id")?.to_owned();
    omni_testkit::testing::eventually(
        &format!("return {return_id} to expire"),
        crate::store_work::WAIT,
        || async {
            let now = returns.get(&format!("/v1/returns/{return_id}")).await?.body;
            Ok((now["status"] == "expired").then_some(()))
        },
    )
    .await?;
    let unit = json!({ "sku": "TEE-1", "grade": "resellable", "disposition": { "type": "restock" } });
    let late = returns
        .post(
            &format!("/v1/returns/{return_id}/receipts"),
            &json!({ "location_id": "STORE-B", "units": [unit.clone(), unit] }),
            &[],
        )
        .await?;
    ensure!(late.status == 409, "{late:?}");
    let audit = returns.get(&format!("/v1/audit?object={return_id}")).await?.body;
    ensure!(
        audit["entries"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|e| e["actor"] == "omni:returns" && e["action"] == "return.expired"),
        "{audit}"
    );
    let again = counter(
        &returns,
        "after-expiry",
        &id,
        2,
        "resellable",
        json!({ "type": "restock" }),
    )
    .await?;
    ensure!(again.status == 201, "{again:?}");
    Ok(())
}

on_both_backends!(
    a_large_refund_waits_for_a_store_managers_decision_on_embedded_backends,
    a_large_refund_waits_for_a_store_managers_decision_on_real_backends,
    with_a_manager(),
    left_to_a_manager
);

const CLERK: &str = "returns-associate-store-b-0123456789";
const MANAGER: &str = "returns-manager-store-b-0123456789";

/// Refunds above 10.00 need a store manager; STORE-B has an associate and a manager.
fn with_a_manager() -> omni_config::Settings {
    let mut settings = settings();
    settings.returns.manager_approval_above_minor = 1_000;
    for (key, name, role) in [
        (CLERK, "associate-store-b", omni_config::Role::Associate),
        (MANAGER, "manager-store-b", omni_config::Role::Manager),
    ] {
        settings.auth.api_keys.push(omni_config::ApiKeySettings {
            key: omni_config::Secret::new(key),
            name: name.into(),
            roles: vec![role],
            partner_id: None,
            locations: vec!["STORE-B".into()],
            ..Default::default()
        });
    }
    settings
}

/// Three tees shipped. A tee (19.99) brought to STORE-B's counter waits for the manager (`refund_above_limit`);
/// the associate can neither receive it nor decide; the manager approves; the tee is not in the bag after all, and
/// only the manager may refund it anyway (audited). A return the manager declines frees its units; a return the
/// manager opens is approved at once.
async fn left_to_a_manager(mesh: &Mesh) -> anyhow::Result<()> {
    let id = shipped(mesh, 3, "for-a-manager").await?;
    let clerk = mesh.client(Service::Returns, CLERK);
    let manager = mesh.client(Service::Returns, MANAGER);
    let asked = at_the_counter("manager-1", &id, 1, "resellable", json!({ "type": "restock" }));
    let opened = omni_testkit::testing::eventually(
        "returns to learn the delivery",
        crate::store_work::WAIT,
        || async {
            let answer = clerk.post("/v1/returns", &asked, &[]).await?;
            Ok((answer.status == 201).then_some(answer))
        },
    )
    .await?;
    ensure!(
        opened.body["status"] == "requested"
            && opened.body["awaiting_manager"]["rule"] == "refund_above_limit"
            && opened.body["units"].as_array().is_some_and(Vec::is_empty),
        "{opened:?}"
    );
    let return_id = opened.body["id"].as_str().context("return id")?.to_owned();
    let missing = |refund_override: bool| {
        json!({ "location_id": "STORE-B", "units": [{ "sku": "TEE-1", "grade": "resellable",
            "disposition": { "type": "missing" }, "refund_override": refund_override }] })
    };
    let early = clerk
        .post(&format!("/v1/returns/{return_id}/receipts"), &missing(false), &[])
        .await?;
    ensure!(early.status == 409, "received before the decision: {early:?}");
    let approve = json!({ "approve": true, "reason": "loyal customer" });
    let by_clerk = clerk
        .post(&format!("/v1/returns/{return_id}/decision"), &approve, &[])
        .await?;
    ensure!(by_clerk.status == 403, "an associate decided: {by_clerk:?}");
    let approved = manager
        .post(&format!("/v1/returns/{return_id}/decision"), &approve, &[])
        .await?;
    ensure!(
        approved.status == 200 && approved.body["status"] == "awaiting_items",
        "{approved:?}"
    );
    let overridden = clerk
        .post(&format!("/v1/returns/{return_id}/receipts"), &missing(true), &[])
        .await?;
    ensure!(
        overridden.status == 403,
        "an associate overrode a refund: {overridden:?}"
    );
    let received = manager
        .post(&format!("/v1/returns/{return_id}/receipts"), &missing(true), &[])
        .await?;
    ensure!(
        received.status == 200
            && received.body["units"][0]["refund_minor"] == 1999
            && received.body["units"][0]["refund_override"] == true,
        "{received:?}"
    );
    let admin = mesh.client(Service::Returns, ADMIN_KEY);
    settled(&admin, &return_id).await?;
    let audit = admin.get(&format!("/v1/audit?object={return_id}")).await?.body;
    let by_manager: Vec<&str> = audit["entries"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|e| e["actor"] == "manager-store-b")
        .filter_map(|e| e["action"].as_str())
        .collect();
    ensure!(
        by_manager == ["return.approved", "return.refund_override", "return.received"],
        "{audit}"
    );

    // An admin (who decides like a manager) asks for the last two tees by mail: approved at once; withdrawn. The
    // associate asks for them at STORE-B: they wait; the manager declines (rule `manager`), which frees them, and
    // the manager's own return of both at the counter is approved at once.
    let by_mail = json!({ "request_id": "manager-2", "order_id": id,
        "lines": [{ "sku": "TEE-1", "quantity": 2, "reason": "no_longer_wanted" }], "method": { "type": "by_mail" } });
    let asked = admin.post("/v1/returns", &by_mail, &[]).await?;
    ensure!(
        asked.status == 201 && asked.body["status"] == "awaiting_items",
        "an admin decides: {asked:?}"
    );
    let cancelled = admin
        .post(
            &format!(
                "/v1/returns/{}/cancellation",
                asked.body["id"].as_str().unwrap_or_default()
            ),
            &json!(null),
            &[],
        )
        .await?;
    ensure!(cancelled.status == 200, "{cancelled:?}");
    let asked_at_store = clerk.post("/v1/returns", &json!({ "request_id": "manager-3", "order_id": id,
        "lines": [{ "sku": "TEE-1", "quantity": 2, "reason": "no_longer_wanted" }], "method": { "type": "in_store", "location_id": "STORE-B" } }), &[]).await?;
    ensure!(
        asked_at_store.status == 201 && asked_at_store.body["status"] == "requested",
        "{asked_at_store:?}"
    );
    let waiting_id = asked_at_store.body["id"]
        .as_str()
        .context("return id")?
        .to_owned();
    let declined = manager
        .post(
            &format!("/v1/returns/{waiting_id}/decision"),
            &json!({ "approve": false, "reason": "worn" }),
            &[],
        )
        .await?;
    ensure!(
        declined.status == 200
            && declined.body["status"] == "declined"
            && declined.body["declined"]["rule"] == "manager",
        "{declined:?}"
    );
    let own = manager
        .post(
            "/v1/returns",
            &at_the_counter("manager-4", &id, 2, "open_box", json!({ "type": "write_off" })),
            &[],
        )
        .await?;
    ensure!(
        own.status == 201 && own.body["units"].as_array().map(Vec::len) == Some(2),
        "{own:?}"
    );
    Ok(())
}

on_both_backends!(
    a_customer_returns_by_mail_with_the_code_they_were_sent_on_embedded_backends,
    a_customer_returns_by_mail_with_the_code_they_were_sent_on_real_backends,
    three_wrong_codes(),
    with_the_code
);

/// Three wrong return codes per order lock its code.
fn three_wrong_codes() -> omni_config::Settings {
    let mut settings = settings();
    settings.returns.code_attempts_per_order = 3;
    settings
}

/// Two tees shipped: the customer is sent the order's return code. With it, and no API key, they ask to return a
/// tee by mail; a wrong code is refused (403) and counted; the third wrong one locks the order's code (429, even
/// for the right code). The code is never written in the return or the audit log.
async fn with_the_code(mesh: &Mesh) -> anyhow::Result<()> {
    let id = shipped(mesh, 2, "by-code").await?;
    let code = sent_to_the_customer(
        mesh,
        omni_contracts::Topic::Returns,
        "omni.return.code_issued",
        &id,
        "return_code",
    )
    .await?;
    let customer = Client::new(mesh.url(Service::Returns), "");
    let asked = |code: &str, request_id: &str| {
        json!({ "return_code": code, "request_id": request_id, "order_id": id,
            "lines": [{ "sku": "TEE-1", "quantity": 1, "reason": "does_not_fit" }] })
    };
    let wrong = customer
        .post("/v1/returns/by-code", &asked("AAAAAAAAAA", "mine-1"), &[])
        .await?;
    ensure!(wrong.status == 403, "a wrong code: {wrong:?}");
    let opened = customer
        .post(
            "/v1/returns/by-code",
            &asked(&code.to_ascii_lowercase(), "mine-1"),
            &[],
        )
        .await?;
    ensure!(
        opened.status == 201
            && opened.body["status"] == "awaiting_items"
            && opened.body["method"]["type"] == "by_mail"
            && opened.body["requested_by"]
                .as_str()
                .is_some_and(|b| b.starts_with("customer@127.0.0.1")),
        "{opened:?}"
    );
    let again = customer
        .post("/v1/returns/by-code", &asked(&code, "mine-1"), &[])
        .await?;
    ensure!(
        again.status == 200 && again.body["id"] == opened.body["id"],
        "{again:?}"
    );
    for n in 0..2 {
        let wrong = customer
            .post("/v1/returns/by-code", &asked("BBBBBBBBBB", "mine-2"), &[])
            .await?;
        ensure!(wrong.status == 403, "wrong code {n}: {wrong:?}");
    }
    let locked = customer
        .post("/v1/returns/by-code", &asked(&code, "mine-2"), &[])
        .await?;
    ensure!(locked.status == 429, "locked: {locked:?}");
    let return_id = opened.body["id"].as_str().context("return id")?;
    let audit = mesh
        .client(Service::Returns, ADMIN_KEY)
        .get(&format!("/v1/audit?object={return_id}"))
        .await?
        .body;
    ensure!(
        !audit.to_string().contains(&code) && !opened.body.to_string().contains(&code),
        "the code is never written: {audit}"
    );
    Ok(())
}

on_both_backends!(
    a_return_refunded_as_store_credit_leaves_the_card_alone_on_embedded_backends,
    a_return_refunded_as_store_credit_leaves_the_card_alone_on_real_backends,
    settings(),
    as_store_credit
);

/// A tee shipped and paid by card, returned at STORE-B's counter for store credit: payments issues 19.99 of store
/// credit (its code sent to the customer in `store_credit_issued`, never in the return), the return is settled
/// with the credit's reference, the card is not refunded, and the code pays 19.99.
async fn as_store_credit(mesh: &Mesh) -> anyhow::Result<()> {
    let id = shipped(mesh, 1, "store-credit").await?;
    let returns = mesh.client(Service::Returns, ADMIN_KEY);
    let payments = mesh.client(Service::Payments, ADMIN_KEY);
    let mut asked = at_the_counter("credit-1", &id, 1, "resellable", json!({ "type": "restock" }));
    asked["refund_to"] = json!("store_credit");
    let opened = omni_testkit::testing::eventually(
        "returns to learn the delivery",
        crate::store_work::WAIT,
        || async {
            let answer = returns.post("/v1/returns", &asked, &[]).await?;
            Ok((answer.status == 201).then_some(answer.body))
        },
    )
    .await?;
    let return_id = opened["id"].as_str().context("return id")?.to_owned();
    let done = settled(&returns, &return_id).await?;
    ensure!(
        done["refund_to"] == "store_credit" && done["store_credit"]["last4"].is_string(),
        "{done}"
    );
    let code = sent_to_the_customer(
        mesh,
        omni_contracts::Topic::Payments,
        "omni.payment.store_credit_issued",
        &id,
        "code",
    )
    .await?;
    ensure!(
        !done.to_string().contains(&code),
        "the code is not in the return: {done}"
    );
    let balance = payments
        .post("/v1/payments/gift-cards/balance", &json!({ "code": code }), &[])
        .await?;
    ensure!(
        balance.status == 200
            && balance.body["kind"] == "store_credit"
            && balance.body["available_minor"] == 1999,
        "{balance:?}"
    );
    let intents = payments
        .get(&format!("/v1/payments/intents?order_id={id}"))
        .await?
        .body;
    ensure!(
        intents[0]["money"][0]["refunded"]["settled"] == 0,
        "the card was refunded too: {intents}"
    );
    Ok(())
}

on_both_backends!(
    a_tee_is_exchanged_for_another_size_on_embedded_backends,
    a_tee_is_exchanged_for_another_size_on_real_backends,
    settings(),
    exchanged
);

/// A return of one tee for the tee a size up (`TEE-2`), shipped to the customer.
fn exchange_for(request_id: &str, order_id: &str, price_minor: i64, tenders: Value) -> Value {
    json!({
        "request_id": request_id,
        "order_id": order_id,
        "lines": [{ "sku": "TEE-1", "quantity": 1, "reason": "does_not_fit" }],
        "method": { "type": "by_mail" },
        "refund_to": "exchange",
        "exchange": {
            "lines": [{ "sku": "TEE-2", "quantity": 1, "unit_price_minor": price_minor }],
            "delivery": { "type": "ship", "lat": 52.52, "lon": 13.40 },
            "tenders": tenders,
        },
    })
}

/// Waits until orders shows the replacement order `id` in `status`, and answers it.
async fn replacement_in(orders: &Client, id: &str, status: &str) -> anyhow::Result<Value> {
    omni_testkit::testing::eventually(
        &format!("replacement order {id} to be {status}"),
        crate::store_work::WAIT,
        || async {
            let answer = orders.get(&format!("/v1/orders/{id}")).await?;
            Ok((answer.status == 200 && answer.body["status"] == status).then_some(answer.body))
        },
    )
    .await
}

/// Three tees shipped and paid by card; a second size (`TEE-2`) in the warehouse.
///
/// 1. By mail, for a size up at 24.99: the replacement order is held (not sourced) until the tee comes; received
///    at STORE-B, the tee is worth 19.99 of store credit that pays the replacement with a second card's 5.00; it
///    is released and sent on; the original card is not refunded.
/// 2. At the counter, for a size down at 14.99: the replacement goes on at once, and the 5.00 left goes back to the
///    original card.
/// 3. Withdrawn: the return is cancelled before its tee comes, and the held replacement order with it.
///
/// Bad input: a dearer replacement without a tender, and an exchange without `refund_to: exchange`, are refused
/// naming the field, and open nothing.
async fn exchanged(mesh: &Mesh) -> anyhow::Result<()> {
    let id = shipped(mesh, 3, "exchange").await?;
    let (catalog, allocation) = (
        mesh.client(Service::Catalog, ADMIN_KEY),
        mesh.client(Service::Allocation, ADMIN_KEY),
    );
    ensure!(
        catalog
            .post("/v1/skus", &omni_testkit::fixtures::sku("TEE-2")?, &[])
            .await?
            .status
            == 201
    );
    omni_testkit::testing::receive_stock(&allocation, "WAREHOUSE", "TEE-2", 5).await?;
    crate::store_work::routing_sees(mesh, "TEE-2", "WAREHOUSE", 5).await?;
    let returns = mesh.client(Service::Returns, ADMIN_KEY);
    let orders = mesh.client(Service::Orders, ADMIN_KEY);
    let payments = mesh.client(Service::Payments, ADMIN_KEY);
    let mastercard = tokenize(&payments, "5555 5555 5555 4444").await?;

    // Bad input first: nothing is opened. (Returns learns the delivery and TEE-2 from events: until it has, the
    // answer names those.)
    let unpaid = exchange_for("exchange-unpaid", &id, 2499, json!([]));
    let refused = omni_testkit::testing::eventually(
        "returns to learn the delivery and TEE-2",
        crate::store_work::WAIT,
        || async {
            let answer = returns.post("/v1/returns", &unpaid, &[]).await?;
            let about_tenders = answer.body["message"]
                .as_str()
                .is_some_and(|m| m.starts_with("exchange.tenders"));
            Ok((answer.status == 400 && about_tenders).then_some(answer.body))
        },
    )
    .await?;
    ensure!(
        refused["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("exchange.tenders") && m.contains("costs 500 more")),
        "{refused}"
    );
    let mut unknown = exchange_for("exchange-unknown", &id, 1999, json!([]));
    unknown["exchange"]["lines"][0]["sku"] = json!("NOPE-1");
    let refused = returns.post("/v1/returns", &unknown, &[]).await?;
    ensure!(
        refused.status == 400
            && refused.body["message"]
                .as_str()
                .is_some_and(|m| m.starts_with("exchange.lines[0].sku")),
        "{refused:?}"
    );
    let mut not_exchange = exchange_for("exchange-refund-to", &id, 1999, json!([]));
    not_exchange["refund_to"] = json!("original_tenders");
    let refused = returns.post("/v1/returns", &not_exchange, &[]).await?;
    ensure!(refused.status == 400, "{refused:?}");

    // 1. By mail, a size up.
    let asked = exchange_for(
        "exchange-up",
        &id,
        2499,
        json!([{ "type": "card", "token": mastercard }]),
    );
    let opened = returns.post("/v1/returns", &asked, &[]).await?;
    ensure!(opened.status == 201, "{opened:?}");
    let opened = opened.body;
    let exchange = &opened["exchange"];
    ensure!(
        opened["status"] == "awaiting_items"
            && exchange["status"] == "held"
            && exchange["total_minor"] == 2499
            && exchange["credit_minor"] == 1999
            && exchange["tenders"][0]["amount_minor"] == 500,
        "{opened}"
    );
    ensure!(
        !opened.to_string().contains(&mastercard),
        "the token is kept: {opened}"
    );
    let return_id = opened["id"].as_str().context("return id")?.to_owned();
    let replacement = exchange["order_id"]
        .as_str()
        .context("replacement id")?
        .to_owned();
    let held = replacement_in(&orders, &replacement, "held").await?;
    ensure!(
        held["exchange_for"]["return_id"] == return_id.as_str()
            && held["exchange_for"]["order_id"] == id.as_str()
            && held["total_minor"] == 2499
            && held["location_id"].is_null(),
        "{held}"
    );
    let receipt = json!({
        "location_id": "STORE-B",
        "units": [{ "sku": "TEE-1", "grade": "resellable", "disposition": { "type": "restock" } }],
    });
    let received = returns
        .post(&format!("/v1/returns/{return_id}/receipts"), &receipt, &[])
        .await?;
    ensure!(received.status == 200, "{received:?}");
    let sent_on = replacement_in(&orders, &replacement, "released").await?;
    let tenders = &sent_on["tenders"];
    ensure!(
        tenders[0]["type"] == "store_credit"
            && tenders[0]["amount_minor"] == 1999
            && tenders[1]["type"] == "card"
            && tenders[1]["amount_minor"] == 500,
        "{sent_on}"
    );
    let done = settled(&returns, &return_id).await?;
    ensure!(
        done["exchange"]["status"] == "released"
            && done["refund_minor"] == 1999
            && done["store_credit"]["last4"].is_string(),
        "{done}"
    );
    let paid = payments
        .get(&format!("/v1/payments/intents?order_id={replacement}"))
        .await?
        .body;
    ensure!(
        paid[0]["status"] == "authorized" && paid[0]["amount"]["amount_minor"] == 2499,
        "{paid}"
    );

    // 2. At the counter, a size down: the rest goes back to the card.
    let mut asked = at_the_counter(
        "exchange-down",
        &id,
        1,
        "resellable",
        json!({ "type": "restock" }),
    );
    asked["refund_to"] = json!("exchange");
    asked["exchange"] = json!({
        "lines": [{ "sku": "TEE-2", "quantity": 1, "unit_price_minor": 1499 }],
        "delivery": { "type": "ship", "lat": 52.52, "lon": 13.40 },
    });
    let opened = returns.post("/v1/returns", &asked, &[]).await?;
    ensure!(opened.status == 201, "{opened:?}");
    let down_id = opened.body["id"].as_str().context("return id")?.to_owned();
    let down = opened.body["exchange"]["order_id"]
        .as_str()
        .context("replacement id")?
        .to_owned();
    let done = settled(&returns, &down_id).await?;
    ensure!(
        done["exchange"]["status"] == "released"
            && done["exchange"]["credit_minor"] == 1499
            && done["exchange"]["rest_refunded_minor"] == 500,
        "{done}"
    );
    replacement_in(&orders, &down, "released").await?;
    let original = payments
        .get(&format!("/v1/payments/intents?order_id={id}"))
        .await?
        .body;
    ensure!(
        original[0]["money"][0]["refunded"]["settled"] == 500,
        "only the rest goes back to the original card: {original}"
    );

    // 3. Withdrawn before the tee comes: the held replacement is cancelled with it.
    let asked = exchange_for("exchange-withdrawn", &id, 1999, json!([]));
    let opened = returns.post("/v1/returns", &asked, &[]).await?;
    ensure!(opened.status == 201, "{opened:?}");
    let withdrawn_id = opened.body["id"].as_str().context("return id")?.to_owned();
    let withdrawn = opened.body["exchange"]["order_id"]
        .as_str()
        .context("replacement id")?
        .to_owned();
    replacement_in(&orders, &withdrawn, "held").await?;
    let cancelled = returns
        .post(
            &format!("/v1/returns/{withdrawn_id}/cancellation"),
            &json!(null),
            &[],
        )
        .await?;
    ensure!(
        cancelled.status == 200 && cancelled.body["exchange"]["status"] == "cancelled",
        "{cancelled:?}"
    );
    let gone = replacement_in(&orders, &withdrawn, "cancelled").await?;
    ensure!(
        gone["failure_reason"]
            .as_str()
            .is_some_and(|r| r.contains("the return was cancelled")),
        "{gone}"
    );
    Ok(())
}
