//! Buffer and segment policies end to end, through catalog and allocation on both backend sets: CRUD with
//! versions and audit, the storm example shaping availability and binding holds, weather signals and rule
//! windows re-publishing availability without any stock moving, and the policy file hot-reloaded.

use omni_contracts::api::Capability;
use omni_testkit::Service;
use omni_testkit::fixtures::store;
use std::time::Duration;

use anyhow::{Context, ensure};
use omni_config::{ApiKeySettings, Role, Secret};
use omni_contracts::Envelope;
use omni_contracts::events::{SignalEvent, WeatherSignal};
use omni_contracts::policies::WeatherCondition;
use omni_testkit::testing::{ADMIN_KEY, RealBackends, eventually, receive_stock, settings};
use omni_testkit::{Client, DbBackend, Mesh, MeshOptions};
use serde_json::{Value, json};

const WAIT: Duration = Duration::from_secs(30);
const MANAGER_KEY: &str = "test-manager-key-0123456789";
const ASSOCIATE_KEY: &str = "test-associate-key-0123456789";

/// Catalog + allocation with store S1 (region `berlin`), `SNEAKER` (tagged `high-demand`) and `CAP`, 5 each.
struct Stage {
    mesh: Mesh,
    backend: DbBackend,
    manager: Client,
    associate: Client,
    _backends: Option<RealBackends>,
    dir: std::path::PathBuf,
}

impl Stage {
    async fn start(real: bool, policy_file: Option<&Value>) -> anyhow::Result<Self> {
        omni_telemetry::init_for_tests();
        let dir = std::env::temp_dir().join(format!("omni-policies-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir)?;
        let mut settings = settings();
        settings.policies.reload_interval_seconds = 1;
        for (key, name, role, locations) in [
            (MANAGER_KEY, "test-manager", Role::Manager, vec![]),
            (
                ASSOCIATE_KEY,
                "test-associate",
                Role::Associate,
                vec!["S1".to_owned()],
            ),
        ] {
            settings.auth.api_keys.push(ApiKeySettings {
                key: Secret::new(key),
                name: name.into(),
                roles: vec![role],
                partner_id: None,
                locations,
                ..Default::default()
            });
        }
        if let Some(file) = policy_file {
            let path = dir.join("policies.json");
            std::fs::write(&path, serde_json::to_vec_pretty(file)?)?;
            settings.policies.file = path.display().to_string();
        }
        let (mut options, backends) = if real {
            let backends = RealBackends::new(settings)?;
            (backends.options.clone(), Some(backends))
        } else {
            let mut options = MeshOptions::embedded(settings, dir.clone());
            options.ephemeral_ports = true;
            (options, None)
        };
        options.services = vec![Service::Catalog, Service::Allocation, Service::Fulfillment];
        let backend = options.db.clone();
        let mesh = Mesh::start(options).await?;
        let catalog = mesh.client(Service::Catalog, ADMIN_KEY);
        let allocation = mesh.client(Service::Allocation, ADMIN_KEY);
        let store = store("S1")
            .in_region("berlin")
            .capable(&[Capability::Ship, Capability::Pickup])
            .build()?;
        ensure!(catalog.post("/v1/locations", &store, &[]).await?.status == 201);
        for (sku, tags) in [("SNEAKER", json!(["high-demand"])), ("CAP", json!([]))] {
            let body = json!({ "sku": sku, "title": sku, "tags": tags });
            ensure!(catalog.post("/v1/skus", &body, &[]).await?.status == 201);
            receive_stock(&allocation, "S1", sku, 5).await?;
        }
        Ok(Self {
            manager: mesh.client(Service::Allocation, MANAGER_KEY),
            associate: mesh.client(Service::Allocation, ASSOCIATE_KEY),
            mesh,
            backend,
            _backends: backends,
            dir,
        })
    }

    /// `(available, rules)` of a SKU for a channel (and query extras such as `&tier=vip`).
    async fn available(&self, sku: &str, query: &str) -> anyhow::Result<(i64, Vec<String>)> {
        let answer = self
            .manager
            .get(&format!("/v1/availability/{sku}?{query}"))
            .await?;
        ensure!(
            answer.status == 200,
            "availability answered {}: {}",
            answer.status,
            answer.body
        );
        let rules = answer.body["rules"]
            .as_array()
            .map(|r| r.iter().filter_map(|r| r.as_str().map(str::to_owned)).collect())
            .unwrap_or_default();
        Ok((answer.body["available"].as_i64().unwrap_or(-1), rules))
    }

    async fn hold(&self, channel: &str, sku: &str, quantity: i64) -> anyhow::Result<u16> {
        let body = json!({ "reservation_id": uuid::Uuid::now_v7(), "location_id": "S1", "channel": channel,
            "lines": [{ "sku": sku, "quantity": quantity }], "ttl_seconds": 60 });
        Ok(self.manager.post("/v1/reservations", &body, &[]).await?.status)
    }

    async fn audit_actions(&self) -> anyhow::Result<Vec<(String, String, String)>> {
        let target = omni_testkit::mesh::db_target(self.mesh.settings(), &self.backend, Service::Allocation)?;
        let db = omni_db::Db::connect(target, 1)?;
        let entries = db.run(|conn| omni_db::audit::recent(conn, 1_000)).await?;
        Ok(entries
            .into_iter()
            .map(|e| (e.principal, e.action, e.subject))
            .collect())
    }

    async fn weather(&self, condition: WeatherCondition) -> anyhow::Result<()> {
        let producer = omni_kafka::Kafka::new(&self.mesh.settings().kafka, self.mesh.kafka_bootstrap())
            .producer(&omni_telemetry::Metrics::new("test")?)?;
        let signal = WeatherSignal {
            location_id: omni_contracts::LocationId::parse("S1")?,
            condition,
            observed_at: chrono::Utc::now(),
            valid_until: None,
        };
        producer
            .publish(&Envelope::new("weather-feed", SignalEvent::Weather(signal)))
            .await?;
        Ok(())
    }

    async fn stop(self) -> anyhow::Result<()> {
        let result = self.mesh.stop().await;
        let _ = std::fs::remove_dir_all(&self.dir);
        result
    }
}

fn last_units() -> Value {
    json!({ "id": "last-units", "description": "Hide the last 2 units of high-demand SKUs from web and marketplaces",
            "when": { "sku_tags": ["high-demand"], "channels": ["web", "marketplace"] },
            "effect": { "hold_back": { "units": 2 } } })
}

fn storm() -> Value {
    json!({ "id": "storm", "when": { "sku_tags": ["high-demand"], "channels": ["web", "marketplace"], "weather": ["storm"] },
            "effect": { "hold_back": { "units": 3 } } })
}

async fn on_both<F, Fut>(scenario: F) -> anyhow::Result<()>
where
    F: Fn(Stage) -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<Stage>>,
{
    for real in [false, true] {
        let stage = scenario(Stage::start(real, None).await?)
            .await
            .with_context(|| format!("real backends: {real}"))?;
        stage.stop().await?;
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_storm_example_shapes_availability_binds_holds_and_follows_the_weather() -> anyhow::Result<()> {
    on_both(|stage| async move {
        for rule in [last_units(), storm()] {
            let created = stage.manager.post("/v1/policies", &rule, &[]).await?;
            ensure!(created.status == 201, "{}", created.body);
            ensure!(created.body["version"] == 1 && created.body["source"] == "database");
        }
        let again = stage.manager.post("/v1/policies", &last_units(), &[]).await?;
        ensure!(
            again.status == 200,
            "the same rule again is a no-op: {}",
            again.body
        );

        ensure!(stage.available("SNEAKER", "channel=web").await? == (3, vec!["last-units".to_owned()]));
        ensure!(stage.available("SNEAKER", "channel=marketplace").await?.0 == 3);
        ensure!(stage.available("SNEAKER", "channel=pos").await? == (5, vec![]));
        ensure!(
            stage.available("CAP", "channel=web").await? == (5, vec![]),
            "untagged SKUs are untouched"
        );
        // Routing sees the same per-channel figures, so it does not send a web order to units web may not sell.
        let fulfillment = stage.mesh.client(Service::Fulfillment, ADMIN_KEY);
        for (query, expected) in [("?channel=web", 3), ("?channel=pos", 5), ("", 5)] {
            eventually("routing to see the channel's stock", WAIT, || async {
                let answer = fulfillment.get(&format!("/v1/stock/SNEAKER{query}")).await?;
                Ok((answer.body[0]["atp"] == expected).then_some(()))
            })
            .await?;
        }

        // Holds obey the buffer: web may take 3, not 4; the till may still take the rest.
        ensure!(
            stage.hold("web", "SNEAKER", 4).await? == 409,
            "web must not take the hidden units"
        );
        ensure!(stage.hold("web", "SNEAKER", 3).await? == 201);
        ensure!(stage.hold("web", "SNEAKER", 1).await? == 409);
        ensure!(stage.hold("pos", "SNEAKER", 2).await? == 201);
        ensure!(stage.available("SNEAKER", "channel=pos").await?.0 == 0);

        // A storm at the store hides 3 instead of 2, and availability is re-published without any stock moving.
        receive_stock(&stage.manager, "S1", "SNEAKER", 5).await?;
        ensure!(stage.available("SNEAKER", "channel=web").await?.0 == 3);
        stage.weather(WeatherCondition::Storm).await?;
        eventually("the storm rule to apply", WAIT, || async {
            Ok(
                (stage.available("SNEAKER", "channel=web").await? == (2, vec!["storm".to_owned()]))
                    .then_some(()),
            )
        })
        .await?;
        let events = omni_testkit::kafka::collect(
            stage.mesh.kafka_bootstrap(),
            &[stage.mesh.topic(omni_contracts::Topic::Availability).as_str()],
            WAIT,
            |seen| {
                seen.iter().any(|m| {
                    let body = m.json();
                    body["sku"] == "SNEAKER"
                        && body["channels"].as_array().is_some_and(|c| {
                            c.iter()
                                .any(|c| c["channel"] == "web" && c["rules"] == json!(["storm"]))
                        })
                })
            },
        )
        .await?;
        ensure!(!events.is_empty());
        stage.weather(WeatherCondition::Clear).await?;
        eventually("the storm rule to stop", WAIT, || async {
            Ok((stage.available("SNEAKER", "channel=web").await?.0 == 3).then_some(()))
        })
        .await?;
        Ok(stage)
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn policies_are_versioned_audited_and_only_managers_change_them() -> anyhow::Result<()> {
    on_both(|stage| async move {
        let rule = last_units();
        ensure!(stage.associate.post("/v1/policies", &rule, &[]).await?.status == 403);
        ensure!(stage.manager.post("/v1/policies", &rule, &[]).await?.status == 201);
        ensure!(
            stage.associate.get("/v1/policies/last-units").await?.status == 200,
            "staff may read"
        );

        let mut changed = rule.clone();
        changed["effect"] = json!({ "hold_back": { "units": 1 } });
        let path = "/v1/policies/last-units";
        let missing = stage.manager.put(path, &changed, &[]).await?;
        ensure!(
            missing.status == 400
                && missing.body["message"]
                    .as_str()
                    .unwrap_or_default()
                    .starts_with("If-Match")
        );
        let stale = stage.manager.put(path, &changed, &[("If-Match", "7")]).await?;
        ensure!(stale.status == 409, "a stale version is refused: {}", stale.body);
        let replaced = stage.manager.put(path, &changed, &[("If-Match", "1")]).await?;
        ensure!(
            replaced.status == 200 && replaced.body["version"] == 2,
            "{}",
            replaced.body
        );
        ensure!(
            stage.available("SNEAKER", "channel=web").await?.0 == 4,
            "the change applies at once"
        );
        let mut renamed = changed.clone();
        renamed["id"] = json!("other");
        ensure!(
            stage
                .manager
                .put(path, &renamed, &[("If-Match", "2")])
                .await?
                .status
                == 400
        );

        let deleted = stage.manager.delete_with(path, &[("If-Match", "2")]).await?;
        ensure!(deleted.status == 200, "{}", deleted.body);
        ensure!(stage.manager.get(path).await?.status == 404);
        ensure!(stage.available("SNEAKER", "channel=web").await?.0 == 5);
        let history = stage.manager.get(&format!("{path}/versions")).await?;
        let versions = history.body.as_array().context("versions")?;
        ensure!(versions.len() == 3, "{}", history.body);
        ensure!(versions[2]["spec"].is_null() && versions[1]["spec"]["effect"]["hold_back"]["units"] == 1);
        // Re-creating it continues the numbering: versions are never reused.
        let recreated = stage.manager.post("/v1/policies", &rule, &[]).await?;
        ensure!(recreated.body["version"] == 4, "{}", recreated.body);

        let audit = stage.audit_actions().await?;
        for action in ["policy.created", "policy.replaced", "policy.deleted"] {
            ensure!(
                audit.iter().any(|(who, what, subject)| who == "test-manager"
                    && what == action
                    && subject == "last-units"),
                "no {action} in the audit log: {audit:?}"
            );
        }
        Ok(stage)
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn rules_that_cannot_match_are_refused_naming_the_field() -> anyhow::Result<()> {
    let stage = Stage::start(false, None).await?;
    let effect = json!({ "hold_back": { "units": 1 } });
    for (rule, status, field) in [
        (
            json!({ "id": "a", "when": { "skus": ["NOPE"] }, "effect": effect }),
            422,
            "when.skus[0]",
        ),
        (
            json!({ "id": "a", "when": { "locations": ["NOWHERE"] }, "effect": effect }),
            422,
            "when.locations[0]",
        ),
        (
            json!({ "id": "a", "when": { "channels": [] }, "effect": effect }),
            422,
            "when.channels",
        ),
        (
            json!({ "id": "a", "when": { "skus": ["CAP"], "sku_tags": ["high-demand"] }, "effect": effect }),
            422,
            "when.sku_tags",
        ),
        (
            json!({ "id": "a", "when": { "regions": ["north"] }, "effect": effect }),
            422,
            "when.regions",
        ),
        (
            json!({ "id": "a", "when": { "dates": { "from": "2026-12-31", "to": "2026-01-01" } }, "effect": effect }),
            422,
            "when.dates",
        ),
        (
            json!({ "id": "a", "effect": { "hold_back": { "percent": 0 } } }),
            422,
            "effect.hold_back.percent",
        ),
        (
            json!({ "id": "a", "when": { "customer_tiers": ["vip"] },
                 "effect": { "ring_fence": { "segment": "vip", "amount": { "units": 2 } } } }),
            422,
            "when.customer_tiers",
        ),
        (
            json!({ "id": "a", "effect": { "hold_back": { "units": 1, "percent": 5 } } }),
            400,
            "",
        ),
        (
            json!({ "id": "a", "when": { "colour": ["red"] }, "effect": effect }),
            400,
            "",
        ),
    ] {
        let answer = stage.manager.post("/v1/policies", &rule, &[]).await?;
        let message = answer.body["message"].as_str().unwrap_or_default();
        ensure!(
            answer.status == status && message.starts_with(field),
            "{rule}: {} {}",
            answer.status,
            answer.body
        );
    }
    ensure!(
        stage.manager.get("/v1/policies").await?.body == json!([]),
        "nothing refused was stored"
    );
    stage.stop().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn ring_fences_keep_units_for_their_segment() -> anyhow::Result<()> {
    let stage = Stage::start(false, None).await?;
    let vip = json!({ "id": "vip-sneakers", "when": { "skus": ["SNEAKER"] },
                      "effect": { "ring_fence": { "segment": "vip", "amount": { "units": 2 } } } });
    ensure!(stage.manager.post("/v1/policies", &vip, &[]).await?.status == 201);
    ensure!(stage.available("SNEAKER", "channel=app").await? == (3, vec!["vip-sneakers".to_owned()]));
    ensure!(stage.available("SNEAKER", "channel=app&tier=vip").await? == (5, vec![]));
    ensure!(stage.hold("app", "SNEAKER", 4).await? == 409);
    let body = json!({ "reservation_id": uuid::Uuid::now_v7(), "location_id": "S1", "channel": "app", "tier": "vip",
        "lines": [{ "sku": "SNEAKER", "quantity": 4 }], "ttl_seconds": 60 });
    ensure!(
        stage.manager.post("/v1/reservations", &body, &[]).await?.status == 201,
        "a VIP may take the fenced units"
    );
    stage.stop().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_rule_window_opening_and_closing_republishes_availability() -> anyhow::Result<()> {
    let stage = Stage::start(false, None).await?;
    let berlin: chrono_tz::Tz = "Europe/Berlin".parse().map_err(|e| anyhow::anyhow!("{e}"))?;
    let opens = chrono::Utc::now().with_timezone(&berlin) + chrono::Duration::seconds(4);
    let closes = opens + chrono::Duration::seconds(4);
    let rule = json!({ "id": "flash", "when": { "skus": ["CAP"], "local_time": {
                           "from": opens.format("%H:%M:%S").to_string(), "to": closes.format("%H:%M:%S").to_string() } },
                       "effect": { "hold_back": { "units": 4 } } });
    ensure!(stage.manager.post("/v1/policies", &rule, &[]).await?.status == 201);
    let topic = stage.mesh.topic(omni_contracts::Topic::Availability);
    let cap_web = |m: &omni_testkit::kafka::Seen| -> Option<i64> {
        let body = m.json();
        (body["sku"] == "CAP").then_some(())?;
        body["channels"]
            .as_array()?
            .iter()
            .find(|c| c["channel"] == "web")?["available"]
            .as_i64()
    };
    // 5 (stock received), then 1 (window open), then 5 again (closed): published with no stock moving.
    let seen = omni_testkit::kafka::collect(stage.mesh.kafka_bootstrap(), &[topic.as_str()], WAIT, |seen| {
        let series: Vec<i64> = seen.iter().filter_map(cap_web).collect();
        series.windows(2).any(|w| w == [1, 5])
    })
    .await?;
    let series: Vec<i64> = seen.iter().filter_map(cap_web).collect();
    ensure!(series.contains(&1), "{series:?}");
    stage.stop().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_policy_file_is_applied_hot_reloaded_and_only_changed_there() -> anyhow::Result<()> {
    let file = json!({ "policies": [last_units()] });
    let stage = Stage::start(false, Some(&file)).await?;
    let path = std::path::PathBuf::from(&stage.mesh.settings().policies.file);
    let stored = stage.manager.get("/v1/policies/last-units").await?;
    ensure!(
        stored.body["source"] == "file" && stored.body["version"] == 1,
        "{}",
        stored.body
    );
    ensure!(stage.available("SNEAKER", "channel=web").await?.0 == 3);

    // Changed over HTTP: refused, the file owns it.
    let put = stage
        .manager
        .put("/v1/policies/last-units", &last_units(), &[("If-Match", "1")])
        .await?;
    ensure!(put.status == 409, "{}", put.body);

    // Edited on disk: picked up without a restart, as a new version.
    let mut edited = last_units();
    edited["effect"] = json!({ "hold_back": { "units": 4 } });
    std::fs::write(&path, serde_json::to_vec(&json!({ "policies": [edited] }))?)?;
    eventually("the edited file to apply", WAIT, || async {
        Ok((stage.available("SNEAKER", "channel=web").await?.0 == 1).then_some(()))
    })
    .await?;
    ensure!(stage.manager.get("/v1/policies/last-units").await?.body["version"] == 2);

    // A broken file changes nothing: the rules in force stay.
    std::fs::write(
        &path,
        br#"{"policies": [{"id": "x", "when": {"channels": []}, "effect": {"hold_back": {"units": 1}}}]}"#,
    )?;
    tokio::time::sleep(Duration::from_secs(3)).await;
    ensure!(stage.available("SNEAKER", "channel=web").await?.0 == 1);
    ensure!(stage.manager.get("/v1/policies/x").await?.status == 404);

    // Removed from the file: removed from force.
    std::fs::write(&path, br#"{"policies": []}"#)?;
    eventually("the emptied file to apply", WAIT, || async {
        Ok((stage.available("SNEAKER", "channel=web").await?.0 == 5).then_some(()))
    })
    .await?;
    stage.stop().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_bad_policy_file_stops_the_start_naming_the_rule_and_field() -> anyhow::Result<()> {
    omni_telemetry::init_for_tests();
    let dir = std::env::temp_dir().join(format!("omni-policies-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir)?;
    let path = dir.join("policies.json");
    let bad = json!({ "policies": [{ "id": "broken", "when": { "channels": [] }, "effect": { "hold_back": { "units": 1 } } }] });
    std::fs::write(&path, serde_json::to_vec(&bad)?)?;
    let mut settings = settings();
    settings.policies.file = path.display().to_string();
    let mut options = MeshOptions::embedded(settings, dir.clone());
    options.ephemeral_ports = true;
    options.services = vec![Service::Allocation];
    let mut mesh = Mesh::start(options).await?;
    let exited = tokio::time::timeout(WAIT, mesh.first_exit()).await;
    let _ = mesh.stop().await;
    let _ = std::fs::remove_dir_all(&dir);
    let Ok(Some((Service::Allocation, Err(refused)))) = exited else {
        anyhow::bail!("allocation kept running with a policy that can never match: {exited:?}");
    };
    let message = refused.to_string();
    ensure!(
        message.contains("policies.file")
            && message.contains("`broken`")
            && message.contains("when.channels"),
        "{message}"
    );
    Ok(())
}
