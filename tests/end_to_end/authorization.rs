//! The authorization table, proven from outside. Every route of every service (each service's
//! `routes::AUTHORIZATION`) is called as every kind of caller (no key, two partners, a disabled partner, associates
//! of two stores, a manager, an auditor, a service, an admin), on the caller's own objects and on someone else's,
//! and must answer as the table says: 401 without a key, 403 for a role the rule does not name (and for a disabled
//! partner everywhere), 404 for an object the caller may not see, 403 for creating at a store it does not work
//! at, and otherwise an answer of the route itself. Refusals change nothing. A route a service serves (its
//! OpenAPI document) that is missing from the table, a rule without a route, or a rule this test cannot build a
//! call for fails the test. Then the attacks the table alone does not stop: a paid order's pinned hold cannot be
//! shortened, released or committed by a store, a card token pays only its owner's orders and never leaves
//! payments, and the lists show each caller only its own.

use omni_contracts::api::Capability;
use omni_contracts::api::Channel;
use omni_testkit::Service;
use omni_testkit::fixtures::{order, priced_sku, sku, store, warehouse};
use std::time::Duration;

use anyhow::{Context, bail, ensure};
use omni_config::{ApiKeySettings, Role, Secret};
use omni_http::{Method, Objects, Rule};
use omni_testkit::Mesh;
use omni_testkit::testing::{ADMIN_KEY, embedded_options, eventually, on_mesh, receive_stock, settings};
use serde_json::{Value, json};

const WAIT: Duration = Duration::from_secs(60);
const SKU: &str = "AUTHZ-1";
const PRICE: i64 = 1000;

/// The side of the world an object or a caller belongs to: store A and partner `acme`, or store B and partner
/// `other-market`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Side {
    A,
    B,
}

impl Side {
    fn store(self) -> &'static str {
        match self {
            Side::A => "STORE-A",
            Side::B => "STORE-B",
        }
    }

    fn partner(self) -> &'static str {
        match self {
            Side::A => "acme",
            Side::B => "other-market",
        }
    }
}

/// Who calls.
#[derive(Debug, Clone)]
struct Caller {
    name: &'static str,
    /// `None`: no `Authorization` header.
    key: Option<&'static str>,
    roles: Vec<Role>,
    /// A partner's or an associate's side; `None` for unscoped principals.
    side: Option<Side>,
    /// A disabled partner's key.
    disabled: bool,
}

fn callers() -> Vec<Caller> {
    let c = |name, key, roles: &[Role], side, disabled| Caller {
        name,
        key,
        roles: roles.to_vec(),
        side,
        disabled,
    };
    vec![
        c("anonymous", None, &[], None, false),
        c(
            "partner-a",
            Some("authz-partner-a-key-0001"),
            &[Role::Partner],
            Some(Side::A),
            false,
        ),
        c(
            "partner-b",
            Some("authz-partner-b-key-0001"),
            &[Role::Partner],
            Some(Side::B),
            false,
        ),
        c(
            "partner-paused",
            Some("authz-partner-paused-0001"),
            &[Role::Partner],
            None,
            true,
        ),
        c(
            "associate-a",
            Some("authz-associate-a-key-001"),
            &[Role::Associate],
            Some(Side::A),
            false,
        ),
        c(
            "associate-b",
            Some("authz-associate-b-key-001"),
            &[Role::Associate],
            Some(Side::B),
            false,
        ),
        c(
            "manager",
            Some("authz-manager-key-000001"),
            &[Role::Manager],
            None,
            false,
        ),
        c(
            "auditor",
            Some("authz-auditor-key-000001"),
            &[Role::Auditor],
            None,
            false,
        ),
        c(
            "service",
            Some("authz-service-key-000001"),
            &[Role::Service],
            None,
            false,
        ),
        c("admin", Some(ADMIN_KEY), &[Role::Admin], None, false),
    ]
}

fn with_callers() -> omni_config::Settings {
    let mut settings = settings();
    for caller in callers() {
        let Some(key) = caller.key.filter(|k| *k != ADMIN_KEY) else {
            continue;
        };
        let partner_id = caller.roles.contains(&Role::Partner).then(|| {
            if caller.disabled {
                "paused-market".to_owned()
            } else {
                caller.side.map_or("", Side::partner).to_owned()
            }
        });
        let locations = if caller.roles.contains(&Role::Associate) {
            caller
                .side
                .map(|s| vec![s.store().to_owned()])
                .unwrap_or_default()
        } else {
            vec![]
        };
        settings.auth.api_keys.push(ApiKeySettings {
            key: Secret::new(key),
            name: caller.name.to_owned(),
            roles: caller.roles.clone(),
            partner_id,
            locations,
            ..Default::default()
        });
    }
    // Every caller tries a wrong pickup code on each side's task, and must be told it is wrong (403), not yet
    // cut off from guessing (429, proven in the store task tests).
    settings.fulfillment.pickup_code_attempts_per_task = 1000;
    settings.fulfillment.pickup_code_attempts_per_client = 1000;
    settings.returns.code_attempts_per_order = 1000;
    settings.returns.code_attempts_per_client = 1000;
    // Partner orders promise no earlier than in two hours: a promise due at once would be reported late by the
    // store task's ready-by timer while the refusals run (a change none of them made).
    for partner in &mut settings.orders.partners {
        partner.earliest_promise_minutes = 120;
    }
    settings
}

/// Every service's part of the table.
fn table() -> Vec<(Service, &'static [Rule])> {
    omni_testkit::mesh::authorization().to_vec()
}

/// The objects of each side, made by the admin before anyone else calls.
#[derive(Debug, Clone)]
struct World {
    order: [String; 2],
    order_hold: [String; 2],
    fulfillment: [String; 2],
    task: [String; 2],
    checkout_hold: [String; 2],
    /// A sandbox card's token, for the orders of callers who are not partners.
    token: String,
    /// An order paid by that card and authorized, which the table's refund callers give 1 cent back on.
    paid_order: String,
    /// The code of a gift card, for the balance route.
    gift_code: String,
    /// A partner order of two units picked up at the side's store, for the returns routes.
    returnable: [String; 2],
    /// A return of one of its units, taken at the side's store.
    return_id: [String; 2],
}

impl World {
    fn of(&self, side: Side) -> usize {
        match side {
            Side::A => 0,
            Side::B => 1,
        }
    }
}

/// One call.
#[derive(Debug, Clone)]
struct Call {
    method: Method,
    path: String,
    body: Option<Value>,
    headers: Vec<(&'static str, String)>,
}

/// Whether a route acts on an existing object of one side (then it is called on each side's), creates one at a
/// side's store (likewise), or neither.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Target {
    None,
    Existing,
    CreateAt,
}

fn target(rule: &Rule) -> Target {
    match (rule.objects, rule.method, rule.path) {
        (_, _, "/v1/orders") => Target::None,
        (
            Objects::Holds | Objects::AtStores,
            Method::Post,
            "/v1/reservations" | "/v1/inventory/movements",
        ) => Target::CreateAt,
        (Objects::Returns, Method::Post, "/v1/returns") => Target::CreateAt,
        (Objects::Orders | Objects::Holds | Objects::AtStores | Objects::Returns, _, _) => Target::Existing,
        _ => Target::None,
    }
}

/// A fresh idempotency key, letters only ([`omni_testkit::testing::letters_id`]): a key that looks like a card
/// number is refused (400), which a hex uuid key did once in the ninth session's CI runs.
fn unique() -> String {
    omni_testkit::testing::letters_id()
}

/// The call that exercises `rule` on `side`'s objects as `caller`; `None` when this test does not know the
/// route (which fails the test).
fn call_for(rule: &Rule, world: &World, side: Side, caller: &Caller) -> Option<Call> {
    let i = world.of(side);
    let (order, fulfillment, hold) = (&world.order[i], &world.fulfillment[i], &world.checkout_hold[i]);
    let call = |path: String, body: Option<Value>| Call {
        method: rule.method,
        path,
        body,
        headers: vec![],
    };
    Some(match (rule.method, rule.path) {
        (Method::Post, "/v1/locations") => {
            let id = format!("LOC-{}", &unique()[..12]);
            let location = warehouse(&id)
                .at(50.0, 10.0)
                .build()
                .unwrap_or_else(|e| panic!("the test location does not parse: {e}"));
            call(rule.path.into(), Some(json!(location)))
        }
        (Method::Post, "/v1/skus") => call(
            rule.path.into(),
            Some(json!(
                sku(&format!("NEW-{}", &unique()[..12]))
                    .unwrap_or_else(|e| panic!("the test SKU does not parse: {e}"))
            )),
        ),
        (Method::Get, "/v1/locations" | "/v1/skus" | "/v1/policies" | "/v1/routing-rules" | "/v1/audit") => {
            call(rule.path.into(), None)
        }
        (Method::Post, "/v1/inventory/movements") => call(
            rule.path.into(),
            Some(
                json!({ "event_id": uuid::Uuid::now_v7(), "location_id": side.store(), "sku": SKU,
                "kind": "receipt", "quantity": 1 }),
            ),
        ),
        (Method::Get, "/v1/availability/{sku}") => call(format!("/v1/availability/{SKU}"), None),
        (Method::Get, "/v1/stock/{sku}") => call(format!("/v1/stock/{SKU}"), None),
        (Method::Post, "/v1/routing/what-if") => call(
            rule.path.into(),
            Some(
                json!({ "rules": [{ "id": "authz-what-if", "effect": { "max_distance_km": 50 } }],
                "orders": [order] }),
            ),
        ),
        (Method::Post, "/v1/reservations") => call(
            rule.path.into(),
            Some(
                json!({ "reservation_id": uuid::Uuid::now_v7(), "location_id": side.store(),
                "channel": "web", "lines": [{ "sku": SKU, "quantity": 1 }], "ttl_seconds": 60 }),
            ),
        ),
        (Method::Get | Method::Delete, "/v1/reservations/{id}") => {
            call(format!("/v1/reservations/{hold}"), None)
        }
        (Method::Post, "/v1/reservations/{id}/extend") => call(
            format!("/v1/reservations/{hold}/extend"),
            Some(json!({ "ttl_seconds": 600 })),
        ),
        (Method::Post, "/v1/reservations/{id}/commit") => {
            call(format!("/v1/reservations/{hold}/commit"), None)
        }
        (Method::Post, "/v1/policies") => call(
            rule.path.into(),
            Some(json!({ "id": format!("p-{}", &unique()[..12]),
                "when": { "sku_tags": ["high-demand"], "channels": ["web"] },
                "effect": { "hold_back": { "units": 1 } } })),
        ),
        (Method::Get, "/v1/policies/{id}" | "/v1/policies/{id}/versions") => {
            call(rule.path.replace("{id}", "authz-policy"), None)
        }
        // Each caller the table admits changes a policy of its own (made just before), so that one caller's
        // change does not turn the next one's into a conflict; refused callers aim at the shared one.
        (Method::Put | Method::Delete, "/v1/policies/{id}") => {
            let id = if expected(rule, caller, None).is_ok() {
                format!("authz-{}-{}", caller.name, rule.method.as_str().to_lowercase())
            } else {
                "authz-policy".to_owned()
            };
            Call {
                headers: vec![("If-Match", "1".to_owned())],
                ..call(
                    format!("/v1/policies/{id}"),
                    (rule.method == Method::Put).then(|| policy(&id)),
                )
            }
        }
        (Method::Post, "/v1/orders") => Call {
            headers: vec![("Idempotency-Key", unique())],
            ..call(rule.path.into(), Some(order_body(caller, &world.token)))
        },
        (Method::Get, "/v1/orders") => call(rule.path.into(), None),
        (Method::Get, "/v1/orders/{id}") => call(format!("/v1/orders/{order}"), None),
        (Method::Post, "/v1/orders/{id}/cancel") => call(format!("/v1/orders/{order}/cancel"), None),
        (Method::Get, "/v1/fulfillments") => call(format!("/v1/fulfillments?order_id={order}"), None),
        (Method::Get, "/v1/stores/{location}/tasks") => {
            call(format!("/v1/stores/{}/tasks", side.store()), None)
        }
        (Method::Get, "/v1/tasks/{id}") => call(format!("/v1/tasks/{}", world.task[i]), None),
        (Method::Post, "/v1/tasks/{id}/actions") => call(
            format!("/v1/tasks/{}/actions", world.task[i]),
            Some(json!({ "action": { "type": "accept" } })),
        ),
        (Method::Post, "/v1/tasks/{id}/arrival") => call(
            format!("/v1/tasks/{}/arrival", world.task[i]),
            Some(json!({ "pickup_code": "WRONG234", "bay": "1", "vehicle": "red van" })),
        ),
        (Method::Post, "/v1/fulfillments/{id}/complete") => call(
            format!("/v1/fulfillments/{fulfillment}/complete"),
            Some(json!({ "how": "picked_up" })),
        ),
        (Method::Post, "/v1/payments/tokens") => call(
            rule.path.into(),
            Some(json!({ "number": "4242 4242 4242 4242", "exp_month": 12, "exp_year": 2031 })),
        ),
        (Method::Post, "/v1/payments/keys/rotate") => call(rule.path.into(), None),
        (Method::Get, "/v1/payments/intents") => call(format!("/v1/payments/intents?order_id={order}"), None),
        (Method::Post, "/v1/payments/refunds") => call(
            rule.path.into(),
            Some(
                json!({ "refund_id": unique(), "order_id": world.paid_order, "amount_minor": 1, "reason": "authz" }),
            ),
        ),
        (Method::Post, "/v1/payments/gift-cards") => call(
            rule.path.into(),
            Some(json!({ "issue_id": unique(), "amount_minor": 100, "currency": "EUR" })),
        ),
        (Method::Post, "/v1/payments/webhooks/{psp}") => call(
            "/v1/payments/webhooks/sandbox".into(),
            Some(
                json!({ "id": "evt_1", "type": "operation.succeeded", "operation_id": "x", "kind": "capture",
                "amount_minor": 1 }),
            ),
        ),
        (Method::Post, "/v1/payments/gift-cards/balance") => {
            call(rule.path.into(), Some(json!({ "code": world.gift_code })))
        }
        (Method::Get, "/v1/returns/orders/{id}") => call(format!("/v1/returns/orders/{order}"), None),
        (Method::Post, "/v1/returns") => call(
            rule.path.into(),
            Some(
                json!({ "request_id": format!("authz-return-{i}"), "order_id": world.returnable[i],
                "lines": [{ "sku": SKU, "quantity": 1, "reason": "does_not_fit" }],
                "method": { "type": "in_store", "location_id": side.store() } }),
            ),
        ),
        (Method::Get, "/v1/returns/{id}") => call(format!("/v1/returns/{}", world.return_id[i]), None),
        (Method::Post, "/v1/returns/{id}/receipts") => call(
            format!("/v1/returns/{}/receipts", world.return_id[i]),
            Some(json!({ "location_id": side.store(),
                "units": [{ "sku": SKU, "grade": "resellable", "disposition": { "type": "restock" } }] })),
        ),
        (Method::Post, "/v1/returns/by-code") => call(
            rule.path.into(),
            Some(
                json!({ "return_code": "AAAAAAAAAA", "request_id": format!("authz-by-code-{i}"),
                "order_id": world.returnable[i], "lines": [{ "sku": SKU, "quantity": 1, "reason": "does_not_fit" }] }),
            ),
        ),
        (Method::Post, "/v1/returns/{id}/decision") => call(
            format!("/v1/returns/{}/decision", world.return_id[i]),
            Some(json!({ "approve": true, "reason": "authorization test" })),
        ),
        (Method::Post, "/v1/returns/{id}/cancellation") => {
            call(format!("/v1/returns/{}/cancellation", world.return_id[i]), None)
        }
        _ => return None,
    })
}

fn policy(id: &str) -> Value {
    json!({ "id": id, "when": { "sku_tags": ["high-demand"], "channels": ["web"] },
        "effect": { "hold_back": { "units": 1 } } })
}

/// An order each kind of caller may place: a partner's marketplace order, an associate's till sale at its store
/// at the list price, anyone else's web order.
fn order_body(caller: &Caller, token: &str) -> Value {
    let line = order(SKU, 1, PRICE);
    let order = if caller.roles.contains(&Role::Partner) {
        let store = caller.side.unwrap_or(Side::A).store();
        line.on(Channel::Marketplace).pickup_at(store).prepaid()
    } else if let Some(side) = caller.side {
        line.on(Channel::Pos).pickup_at(side.store()).card(token)
    } else {
        line.ship_to(52.5, 13.4).card(token)
    };
    // Built from this file's constants: one that does not parse is a broken test, not a refused call.
    let order = order
        .build()
        .unwrap_or_else(|e| panic!("the test order does not parse: {e}"));
    serde_json::to_value(order).unwrap_or_else(|e| panic!("the test order is not JSON: {e}"))
}

/// What the table says a call must answer: `Ok(())` for "the route's own answer", `Err(status)` for a refusal.
fn expected(rule: &Rule, caller: &Caller, object_side: Option<Side>) -> Result<(), u16> {
    if matches!(rule.objects, Objects::PickupCode | Objects::ReturnCode) {
        // No key is asked for, and none opens it: only the customer's code does, and no caller here has it.
        return Err(403);
    }
    if rule.objects == Objects::PspSignature {
        // Likewise: only the PSP's signature opens it.
        return Err(401);
    }
    if caller.key.is_none() {
        return Err(401);
    }
    if caller.disabled || !rule.admits(&caller.roles) {
        return Err(403);
    }
    match (caller.side, object_side, target(rule)) {
        (Some(own), Some(side), Target::Existing) if own != side => Err(404),
        // A partner's return of another partner's order: that order does not exist for it.
        (Some(own), Some(side), Target::CreateAt)
            if own != side && rule.objects == Objects::Returns && caller.roles.contains(&Role::Partner) =>
        {
            Err(404)
        }
        (Some(own), Some(side), Target::CreateAt) if own != side => Err(403),
        _ => Ok(()),
    }
}

async fn send(mesh: &Mesh, service: Service, caller: &Caller, call: &Call) -> anyhow::Result<(u16, Value)> {
    let http = reqwest::Client::new();
    let url = format!("{}{}", mesh.url(service), call.path);
    let mut request = match call.method {
        Method::Get => http.get(&url),
        Method::Post => http.post(&url),
        Method::Put => http.put(&url),
        Method::Delete => http.delete(&url),
    };
    if let Some(key) = caller.key {
        request = request.bearer_auth(key);
    }
    for (name, value) in &call.headers {
        request = request.header(*name, value);
    }
    if let Some(body) = &call.body {
        request = request.json(body);
    }
    let response = request.timeout(Duration::from_secs(30)).send().await?;
    let status = response.status().as_u16();
    let text = response.text().await?;
    let body = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or(Value::String(text))
    };
    Ok((status, body))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_route_answers_every_caller_as_the_authorization_table_says() -> anyhow::Result<()> {
    omni_telemetry::init_for_tests();
    on_mesh(embedded_options(with_callers()), async |mesh| {
        every_served_route_has_a_rule(mesh).await?;
        readiness_tells_details_only_to_callers_with_a_key(mesh).await?;
        invented_methods_add_no_metric_series(mesh).await?;
        let mut world = build_world(mesh).await?;
        world.paid_order = paid_order(mesh, &world.token).await?;
        let before = snapshot(mesh, &world).await?;
        // Refusals first: none of them may change anything.
        let mut checked = 0;
        for allowed_phase in [false, true] {
            for (service, rules) in table() {
                for rule in rules {
                    for caller in callers() {
                        let sides: &[Option<Side>] = if target(rule) == Target::None {
                            &[None]
                        } else {
                            &[Some(Side::A), Some(Side::B)]
                        };
                        for side in sides {
                            let want = expected(rule, &caller, *side);
                            if want.is_ok() != allowed_phase {
                                continue;
                            }
                            let call = call_for(rule, &world, side.unwrap_or(Side::A), &caller)
                                .with_context(|| {
                                    format!(
                                        "{service}: no call for {} {}; teach this test the route",
                                        rule.method.as_str(),
                                        rule.path
                                    )
                                })?;
                            if matches!(call.method, Method::Put | Method::Delete)
                                && call.path.starts_with("/v1/policies/")
                                && want.is_ok()
                            {
                                let id = call.path.trim_start_matches("/v1/policies/");
                                let made = mesh
                                    .client(Service::Allocation, ADMIN_KEY)
                                    .post("/v1/policies", &policy(id), &[])
                                    .await?;
                                ensure!(made.status == 201, "{made:?}");
                            }
                            let (status, body) = send(mesh, service, &caller, &call).await?;
                            let what = format!(
                                "{} {} {} as {} on {side:?}'s object: {status} {body}",
                                service,
                                call.method.as_str(),
                                call.path,
                                caller.name
                            );
                            ensure!(status < 500, "a server error: {what}");
                            match want {
                                Err(refused) => {
                                    ensure!(status == refused, "expected {refused}: {what}");
                                    ensure!(
                                        body["code"].is_string() && body["message"].is_string(),
                                        "a refusal has the error body: {what}"
                                    );
                                }
                                Ok(()) => ensure!(
                                    (200..300).contains(&status) || status == 409,
                                    "expected the route's own answer: {what}"
                                ),
                            }
                            checked += 1;
                        }
                    }
                }
            }
            if !allowed_phase {
                let after = snapshot(mesh, &world).await?;
                ensure!(
                    before == after,
                    "a refused call changed something:\n{before}\n{after}"
                );
            }
        }
        ensure!(checked > 300, "only {checked} calls were checked");
        Ok(())
    })
    .await
}

/// `/health/ready` answers anyone up or down, and only a caller with a key which dependency is how.
async fn readiness_tells_details_only_to_callers_with_a_key(mesh: &Mesh) -> anyhow::Result<()> {
    let anonymous = reqwest::get(format!("{}/health/ready", mesh.url(Service::Orders)))
        .await?
        .json::<Value>()
        .await?;
    ensure!(anonymous == json!({ "status": "ready" }), "{anonymous}");
    let known = mesh
        .client(Service::Orders, "authz-auditor-key-000001")
        .get("/health/ready")
        .await?;
    ensure!(
        known.body["checks"]["database"] == "ok" && known.body["checks"]["kafka"] == "ok",
        "{known:?}"
    );
    Ok(())
}

/// Methods a caller invents are counted under one `other` label: no key can add series to `/metrics`.
async fn invented_methods_add_no_metric_series(mesh: &Mesh) -> anyhow::Result<()> {
    let http = reqwest::Client::new();
    for i in 0..3 {
        let method = reqwest::Method::from_bytes(format!("INVENTED{i}").as_bytes())?;
        let answer = http
            .request(method, format!("{}/v1/orders", mesh.url(Service::Orders)))
            .send()
            .await?;
        ensure!(answer.status().is_client_error(), "{}", answer.status());
    }
    let metrics = mesh
        .client(Service::Orders, ADMIN_KEY)
        .get_text("/metrics")
        .await?;
    ensure!(!metrics.contains("INVENTED"), "an invented method became a label");
    ensure!(
        metrics.contains("method=\"other\""),
        "invented methods are counted as `other`"
    );
    Ok(())
}

/// Every route in each service's OpenAPI document has a rule, and every rule a route.
async fn every_served_route_has_a_rule(mesh: &Mesh) -> anyhow::Result<()> {
    for (service, rules) in table() {
        let doc = mesh.client(service, ADMIN_KEY).get("/openapi.json").await?;
        let paths = doc.body["paths"].as_object().context("openapi paths")?;
        let mut served = Vec::new();
        for (path, item) in paths {
            for method in ["get", "post", "put", "delete", "patch"] {
                if item.get(method).is_some() {
                    served.push((method.to_uppercase(), path.clone()));
                }
            }
        }
        for (method, path) in &served {
            ensure!(
                rules
                    .iter()
                    .any(|r| r.method.as_str() == method && r.path == path),
                "{service} serves {method} {path}, which is missing from its authorization table"
            );
        }
        for rule in rules {
            ensure!(
                served
                    .iter()
                    .any(|(m, p)| m == rule.method.as_str() && p == rule.path),
                "{service}'s table names {} {}, which it does not serve",
                rule.method.as_str(),
                rule.path
            );
        }
    }
    Ok(())
}

/// Two stores, a priced SKU stocked at both, a policy, and on each side: a partner's released pickup order
/// (with its pinned hold and fulfillment) and a checkout hold.
async fn build_world(mesh: &Mesh) -> anyhow::Result<World> {
    let admin = |service| mesh.client(service, ADMIN_KEY);
    for side in [Side::A, Side::B] {
        let store = store(side.store())
            .capable(&[Capability::Ship, Capability::Pickup])
            .build()?;
        let created = admin(Service::Catalog).post("/v1/locations", &store, &[]).await?;
        ensure!(created.status == 201, "{created:?}");
    }
    let sku = omni_contracts::api::SkuRecord {
        tags: vec!["high-demand".into()],
        ..priced_sku(SKU, PRICE)?
    };
    ensure!(admin(Service::Catalog).post("/v1/skus", &sku, &[]).await?.status == 201);
    for side in [Side::A, Side::B] {
        receive_stock(&admin(Service::Allocation), side.store(), SKU, 50).await?;
    }
    let created = admin(Service::Allocation)
        .post("/v1/policies", &policy("authz-policy"), &[])
        .await?;
    ensure!(created.status == 201, "{created:?}");
    eventually("routing to see both stores' stock", WAIT, || async {
        let stock = admin(Service::Fulfillment)
            .get(&format!("/v1/stock/{SKU}"))
            .await?;
        Ok((stock.body.as_array().map(Vec::len) == Some(2)).then_some(()))
    })
    .await?;

    let mut order = [String::new(), String::new()];
    let mut order_hold = [String::new(), String::new()];
    let mut fulfillment = [String::new(), String::new()];
    let mut task = [String::new(), String::new()];
    let mut checkout_hold = [String::new(), String::new()];
    for (i, side) in [Side::A, Side::B].into_iter().enumerate() {
        let partner = callers()
            .into_iter()
            .find(|c| c.roles == [Role::Partner] && c.side == Some(side) && !c.disabled)
            .context("partner")?;
        let placed = mesh
            .client(Service::Orders, partner.key.unwrap_or_default())
            .post(
                "/v1/orders",
                &order_body(&partner, ""),
                &[("Idempotency-Key", "world")],
            )
            .await?;
        ensure!(placed.status == 201, "{placed:?}");
        order[i] = placed.body["id"].as_str().context("order id")?.to_owned();
        let id = order[i].clone();
        let released = eventually("the partner's order to be released", WAIT, || async {
            let now = admin(Service::Orders).get(&format!("/v1/orders/{id}")).await?;
            ensure!(now.body["status"] != "failed", "{}", now.body);
            Ok((now.body["status"] == "released").then_some(now.body))
        })
        .await?;
        ensure!(released["location_id"] == side.store(), "{released}");
        let rows = admin(Service::Fulfillment)
            .get(&format!("/v1/fulfillments?order_id={id}"))
            .await?;
        fulfillment[i] = rows.body[0]["id"].as_str().context("fulfillment")?.to_owned();
        order_hold[i] = rows.body[0]["reservation_id"]
            .as_str()
            .context("the order's hold")?
            .to_owned();
        // Released: its work is in the store's queue.
        let queue = admin(Service::Fulfillment)
            .get(&format!("/v1/stores/{}/tasks", side.store()))
            .await?;
        task[i] = queue.body["tasks"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|t| t["order_id"] == id.as_str())
            .and_then(|t| t["id"].as_str())
            .with_context(|| format!("the order's store task: {}", queue.body))?
            .to_owned();
        // Allocation pins a paid order's hold when it reads the order's event: wait for it, so that what the
        // tests compare (before and after a refused call) is the settled world.
        let hold = order_hold[i].clone();
        eventually("the paid order's hold to be pinned", WAIT, || async {
            let held = admin(Service::Allocation)
                .get(&format!("/v1/reservations/{hold}"))
                .await?;
            Ok(held.body["expires_at"]
                .as_str()
                .is_some_and(|e| e.starts_with("9999"))
                .then_some(()))
        })
        .await?;
        eventually("returns to learn the order", WAIT, || async {
            let view = admin(Service::Returns)
                .get(&format!("/v1/returns/orders/{id}"))
                .await?;
            Ok((view.status == 200 && view.body["location_id"] == side.store()).then_some(()))
        })
        .await?;
        let hold_id = uuid::Uuid::now_v7().to_string();
        let hold = json!({ "reservation_id": hold_id, "location_id": side.store(), "channel": "web",
            "lines": [{ "sku": SKU, "quantity": 1 }], "ttl_seconds": 3600 });
        let held = admin(Service::Allocation)
            .post("/v1/reservations", &hold, &[])
            .await?;
        ensure!(held.status == 201, "{held:?}");
        checkout_hold[i] = hold_id;
    }
    let token = admin(Service::Payments)
        .post(
            "/v1/payments/tokens",
            &json!({ "number": "4242 4242 4242 4242", "exp_month": 12, "exp_year": 2031 }),
            &[],
        )
        .await?;
    let token = token.body["token"].as_str().context("token")?.to_owned();
    let gift = admin(Service::Payments)
        .post(
            "/v1/payments/gift-cards",
            &json!({ "issue_id": "world-gift", "amount_minor": 500, "currency": "EUR" }),
            &[],
        )
        .await?;
    ensure!(gift.status == 201, "{gift:?}");
    let mut returnable = [String::new(), String::new()];
    let mut return_id = [String::new(), String::new()];
    for (i, side) in [Side::A, Side::B].into_iter().enumerate() {
        (returnable[i], return_id[i]) = returned_once(mesh, side).await?;
    }
    Ok(World {
        order,
        order_hold,
        fulfillment,
        task,
        checkout_hold,
        token,
        paid_order: String::new(),
        gift_code: gift.body["code"].as_str().context("gift card code")?.to_owned(),
        returnable,
        return_id,
    })
}

/// A partner order of two units collected at `side`'s store, and a return of one of them taken there: what the
/// returns routes are called on.
async fn returned_once(mesh: &Mesh, side: Side) -> anyhow::Result<(String, String)> {
    let admin = |service| mesh.client(service, ADMIN_KEY);
    let partner = callers()
        .into_iter()
        .find(|c| c.roles == [Role::Partner] && c.side == Some(side) && !c.disabled)
        .context("partner")?;
    let body = order(SKU, 2, PRICE)
        .on(Channel::Marketplace)
        .pickup_at(side.store())
        .prepaid()
        .build()?;
    let placed = mesh
        .client(Service::Orders, partner.key.unwrap_or_default())
        .post("/v1/orders", &body, &[("Idempotency-Key", "world-returnable")])
        .await?;
    ensure!(placed.status == 201, "{placed:?}");
    let id = placed.body["id"].as_str().context("order id")?.to_owned();
    let fulfillment = eventually("the returnable order to be released", WAIT, || async {
        let rows = admin(Service::Fulfillment)
            .get(&format!("/v1/fulfillments?order_id={id}"))
            .await?;
        let now = admin(Service::Orders).get(&format!("/v1/orders/{id}")).await?;
        ensure!(now.body["status"] != "failed", "{}", now.body);
        Ok((now.body["status"] == "released")
            .then(|| rows.body[0]["id"].as_str().map(str::to_owned))
            .flatten())
    })
    .await?;
    let collected = admin(Service::Fulfillment)
        .post(
            &format!("/v1/fulfillments/{fulfillment}/complete"),
            &json!({ "how": "picked_up" }),
            &[],
        )
        .await?;
    ensure!(collected.status == 200, "{collected:?}");
    let asked = json!({ "request_id": format!("world-return-{}", side.store()), "order_id": id,
        "lines": [{ "sku": SKU, "quantity": 1, "reason": "does_not_fit" }],
        "method": { "type": "in_store", "location_id": side.store() } });
    let opened = eventually(
        "returns to take a return of the collected order",
        WAIT,
        || async {
            let opened = admin(Service::Returns).post("/v1/returns", &asked, &[]).await?;
            Ok((opened.status == 201).then_some(opened.body))
        },
    )
    .await?;
    Ok((id, opened["id"].as_str().context("return id")?.to_owned()))
}

/// An order of the admin's paid by the world's card and authorized: what the refund route gives 1 cent back on
/// (the world's partner orders are cancelled by the cancel route before refunds are called). Made only where the
/// routes are called, so that the lists of other tests see only the world's two orders.
async fn paid_order(mesh: &Mesh, token: &str) -> anyhow::Result<String> {
    let admin = |service| mesh.client(service, ADMIN_KEY);
    let paid = json!({ "channel": "web", "currency": "EUR",
        "lines": [{ "sku": SKU, "quantity": 1, "unit_price_minor": PRICE }],
        "delivery": { "type": "ship", "lat": 52.5, "lon": 13.4 }, "tenders": [{ "type": "card", "token": token }] });
    let placed = admin(Service::Orders)
        .post("/v1/orders", &paid, &[("Idempotency-Key", "world-paid")])
        .await?;
    ensure!(placed.status == 201, "{placed:?}");
    let paid_order = placed.body["id"].as_str().context("order id")?.to_owned();
    eventually("the paid order to be released", WAIT, || async {
        let now = admin(Service::Orders)
            .get(&format!("/v1/orders/{paid_order}"))
            .await?;
        ensure!(now.body["status"] != "failed", "{}", now.body);
        Ok((now.body["status"] == "released").then_some(()))
    })
    .await?;
    Ok(paid_order)
}

/// What refused calls must leave as it was: the orders, their holds and fulfillments, the checkout holds, the
/// stock, the policy, the data key version.
async fn snapshot(mesh: &Mesh, world: &World) -> anyhow::Result<String> {
    let admin = |service| mesh.client(service, ADMIN_KEY);
    let mut out = Vec::new();
    for i in 0..2 {
        let order = admin(Service::Orders)
            .get(&format!("/v1/orders/{}", world.order[i]))
            .await?;
        out.push(format!(
            "order {} {}",
            order.body["status"], order.body["location_id"]
        ));
        for hold in [&world.order_hold[i], &world.checkout_hold[i]] {
            let held = admin(Service::Allocation)
                .get(&format!("/v1/reservations/{hold}"))
                .await?;
            out.push(format!(
                "hold {} {}",
                held.body["status"], held.body["expires_at"]
            ));
        }
        let rows = admin(Service::Fulfillment)
            .get(&format!("/v1/fulfillments?order_id={}", world.order[i]))
            .await?;
        out.push(format!("fulfillment {}", rows.body[0]["status"]));
        let task = admin(Service::Fulfillment)
            .get(&format!("/v1/tasks/{}", world.task[i]))
            .await?;
        out.push(format!("task {} {}", task.body["state"], task.body["version"]));
    }
    let availability = admin(Service::Allocation)
        .get(&format!("/v1/availability/{SKU}"))
        .await?;
    out.push(format!("availability {}", availability.body["locations"]));
    let policy = admin(Service::Allocation)
        .get("/v1/policies/authz-policy")
        .await?;
    out.push(format!("policy {}", policy.body["version"]));
    let locations = admin(Service::Catalog).get("/v1/locations").await?;
    out.push(format!(
        "locations {}",
        locations.body.as_array().map_or(0, Vec::len)
    ));
    Ok(out.join("\n"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_store_cannot_shorten_release_or_commit_a_paid_orders_pinned_hold() -> anyhow::Result<()> {
    omni_telemetry::init_for_tests();
    on_mesh(embedded_options(with_callers()), async |mesh| {
        let world = build_world(mesh).await?;
        let hold = &world.order_hold[0];
        let as_key = |key: &str| mesh.client(Service::Allocation, key);
        let (associate_a, associate_b) = (
            as_key("authz-associate-a-key-001"),
            as_key("authz-associate-b-key-001"),
        );
        let service = as_key("authz-service-key-000001");
        let before = as_key(ADMIN_KEY).get(&format!("/v1/reservations/{hold}")).await?;
        ensure!(
            before.body["status"] == "held"
                && before.body["expires_at"]
                    .as_str()
                    .is_some_and(|e| e.starts_with("9999")),
            "the paid order's hold is pinned: {before:?}"
        );
        let shorten = json!({ "ttl_seconds": 1 });
        let extend = format!("/v1/reservations/{hold}/extend");
        let commit = format!("/v1/reservations/{hold}/commit");
        let release = format!("/v1/reservations/{hold}");

        let other_store = associate_b.post(&extend, &shorten, &[]).await?;
        ensure!(
            other_store.status == 404,
            "another store's associate: {other_store:?}"
        );
        let own_store = associate_a.post(&extend, &shorten, &[]).await?;
        ensure!(
            own_store.status == 403,
            "an order's hold is the saga's: {own_store:?}"
        );
        ensure!(associate_a.post(&commit, &json!({}), &[]).await?.status == 403);
        ensure!(associate_a.delete_path(&release).await?.status == 403);
        ensure!(associate_b.delete_path(&release).await?.status == 404);
        let pinned = service.post(&extend, &shorten, &[]).await?;
        ensure!(
            pinned.status == 409
                && pinned.body["message"]
                    .as_str()
                    .is_some_and(|m| m.contains("pinned")),
            "not even the service shortens a pinned hold: {pinned:?}"
        );

        let after = as_key(ADMIN_KEY).get(&format!("/v1/reservations/{hold}")).await?;
        ensure!(after.body == before.body, "the hold changed: {after:?}");
        Ok(())
    })
    .await
}

/// A card token is not cash: an associate of store B who learns the token store A's till made for a customer
/// cannot pay with it (the order fails, and payments never opens the card), and the token never leaves payments:
/// orders keep, show and announce the card's payment-method reference and what may be shown of it.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_card_token_pays_only_its_owners_orders_and_stays_in_payments() -> anyhow::Result<()> {
    omni_telemetry::init_for_tests();
    on_mesh(embedded_options(with_callers()), async |mesh| {
        build_world(mesh).await?;
        let caller = |name: &str| {
            callers()
                .into_iter()
                .find(|c| c.name == name)
                .context("no such caller")
        };
        let (associate_a, associate_b) = (caller("associate-a")?, caller("associate-b")?);
        let as_caller = |c: &Caller, service| mesh.client(service, c.key.unwrap_or_default());
        let omni_testkit::testing::Tokenized { token, reference } =
            omni_testkit::testing::tokenize(&as_caller(&associate_a, Service::Payments)).await?;

        let place = async |c: &Caller| -> anyhow::Result<String> {
            let placed = as_caller(c, Service::Orders)
                .post(
                    "/v1/orders",
                    &order_body(c, &token),
                    &[("Idempotency-Key", "card-of-store-a")],
                )
                .await?;
            ensure!(placed.status == 201, "{placed:?}");
            ensure!(
                !placed.body.to_string().contains(&token)
                    && placed.body["tenders"][0]["reference"] == reference.as_str(),
                "the order keeps the card's reference, never its token: {}",
                placed.body
            );
            Ok(placed.body["id"].as_str().context("order id")?.to_owned())
        };
        let own = place(&associate_a).await?;
        let stolen = place(&associate_b).await?;

        let admin = mesh.client(Service::Orders, ADMIN_KEY);
        let settled = |id: String| {
            let admin = admin.clone();
            async move {
                eventually("the order to be decided", WAIT, || async {
                    let now = admin.get(&format!("/v1/orders/{id}")).await?;
                    let status = now.body["status"].as_str().unwrap_or_default().to_owned();
                    Ok(matches!(status.as_str(), "released" | "failed").then_some(now.body))
                })
                .await
            }
        };
        let own = settled(own).await?;
        ensure!(
            own["status"] == "released"
                && own["tenders"][0]["card"]["last4"] == "4242"
                && own["tenders"][0]["card"]["brand"] == "visa",
            "the till's own sale is paid and shows the card's last four: {own}"
        );
        let stolen = settled(stolen).await?;
        ensure!(
            stolen["status"] == "failed"
                && stolen["failure_reason"]
                    .as_str()
                    .is_some_and(|r| r.contains("not issued to the payer")),
            "another store's associate paid with the token: {stolen}"
        );

        let topics = [
            mesh.topic(omni_contracts::Topic::Orders),
            mesh.topic(omni_contracts::Topic::Payments),
        ];
        let topics: Vec<&str> = topics.iter().map(String::as_str).collect();
        let stolen_id = stolen["id"].as_str().context("id")?.to_owned();
        let seen = omni_testkit::kafka::collect(mesh.kafka_bootstrap(), &topics, WAIT, |seen| {
            seen.iter()
                .any(|m| m.header("ce_type") == Some("omni.order.failed") && m.key == stolen_id)
        })
        .await?;
        for message in &seen {
            let text = String::from_utf8_lossy(&message.body);
            ensure!(
                !text.contains(&token) && !text.contains("tok_"),
                "a token in an event on {}: {text}",
                message.topic
            );
        }
        ensure!(
            seen.iter()
                .any(|m| String::from_utf8_lossy(&m.body).contains(&reference)),
            "the events name the card by its reference"
        );
        Ok(())
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn lists_show_each_caller_only_its_own_orders_and_fulfillments() -> anyhow::Result<()> {
    omni_telemetry::init_for_tests();
    on_mesh(embedded_options(with_callers()), async |mesh| {
        let world = build_world(mesh).await?;
        let orders = |key: &str| mesh.client(Service::Orders, key);
        for (key, side) in [
            ("authz-partner-a-key-0001", Side::A),
            ("authz-partner-b-key-0001", Side::B),
            ("authz-associate-a-key-001", Side::A),
            ("authz-associate-b-key-001", Side::B),
        ] {
            let page = orders(key).get("/v1/orders").await?;
            ensure!(page.status == 200, "{page:?}");
            let mut ids: Vec<&str> = page.body["orders"]
                .as_array()
                .context("orders")?
                .iter()
                .filter_map(|o| o["id"].as_str())
                .collect();
            ids.sort_unstable();
            let i = world.of(side);
            let mut own = [world.order[i].as_str(), world.returnable[i].as_str()];
            own.sort_unstable();
            ensure!(ids == own, "{key} sees only its side's orders: {ids:?}");
        }
        let other = orders("authz-partner-a-key-0001")
            .get("/v1/orders?partner=other-market")
            .await?;
        ensure!(other.status == 403, "a partner names another partner: {other:?}");
        let everything = orders("authz-auditor-key-000001").get("/v1/orders").await?;
        ensure!(
            everything.body["orders"].as_array().map(Vec::len) == Some(4),
            "{everything:?}"
        );
        Ok(())
    })
    .await
}

#[test]
fn the_published_table_is_the_enforced_one() -> anyhow::Result<()> {
    let published = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/AUTHORIZATION.md"))?;
    let table = omni_http::authz::markdown(&table());
    if !published.contains(&table) {
        bail!(
            "docs/AUTHORIZATION.md does not hold the table the services enforce; run `omni authz` and paste:\n{table}"
        );
    }
    Ok(())
}
