//! Nothing card-like leaves the vault (DESIGN §6), proven from outside: `omni dev` runs as a user runs it (its
//! holds in a real Redis); sandbox cards are tokenized and paid with, then card numbers are pushed into every
//! header, path, query and field that could reach a reason, a log line or a store, over HTTP and Kafka. Then every
//! database file, the Redis keys, every topic of the broker Omni writes (DLQs included; the inbound topics hold
//! what the senders wrote), the logs and every service's `/metrics` are searched for the numbers: none may hold
//! one; nor may anything outside the vault's database hold a vault token. The run's audit log then verifies with
//! `omni audit verify`. (The vault stores cards encrypted, so it holds none
//! in clear either.) Pickup codes too (issue 21): a pickup is made ready and handed over after a wrong code; neither
//! code may be in a log, an answer, or any store but fulfillment's (whose outbox carries the customer's
//! notification).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use anyhow::{Context, ensure};
use omni_testkit::Client;
use omni_testkit::testing::eventually;
use rdkafka::Message;
use rdkafka::consumer::{BaseConsumer, Consumer};
use serde_json::{Value, json};

const WAIT: Duration = Duration::from_secs(120);

/// CloudEvents headers of a message.
type Headers = Vec<(String, String)>;
const ADMIN: &str = "leak-sweep-admin-key-0001";
/// The sandbox cards pushed everywhere (services/payments/sandbox-test-cards.md).
const CARDS: [&str; 2] = ["4242424242424242", "5555555555554444"];

/// What must be found nowhere: each card's digits, plain and grouped.
fn needles() -> Vec<String> {
    CARDS
        .iter()
        .flat_map(|card| {
            let groups: Vec<&str> = (0..4).map(|i| &card[i * 4..i * 4 + 4]).collect();
            [(*card).to_owned(), groups.join(" "), groups.join("-")]
        })
        .collect()
}

fn found_in(haystack: &[u8], needles: &[String]) -> Option<String> {
    needles
        .iter()
        .find(|n| haystack.windows(n.len()).any(|w| w == n.as_bytes()))
        .cloned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_card_number_reaches_a_store_a_topic_a_log_or_the_metrics() -> anyhow::Result<()> {
    omni_telemetry::init_for_tests();
    let dir = std::env::temp_dir().join(format!("omni-leaks-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir)?;
    let endpoints = dir.join("endpoints.json");
    // Letters only: the sweep reads this prefix back from Redis, and a hex id can hold what looks like a card number.
    let prefix = format!("leak-{}", omni_testkit::testing::letters_id());
    let redis_url = omni_testkit::testing::redis_url();
    let mut child = Command::new(env!("CARGO_BIN_EXE_omni"))
        .args(["dev", "--ephemeral-ports", "--admin-key", ADMIN])
        .arg("--data-dir")
        .arg(dir.join("data"))
        .arg("--endpoints-file")
        .arg(&endpoints)
        .args(["--redis", &redis_url])
        .env("OMNI__REDIS__KEY_PREFIX", &prefix)
        .env("OMNI__TELEMETRY__LEVEL", "info")
        .env_remove("OMNI__KAFKA__BOOTSTRAP_SERVERS")
        .stdout(Stdio::from(std::fs::File::create(dir.join("stdout.log"))?))
        .stderr(Stdio::from(std::fs::File::create(dir.join("stderr.log"))?))
        .spawn()?;
    let swept = sweep(&endpoints).await;
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let exited = tokio::task::spawn_blocking(move || {
        let started = std::time::Instant::now();
        loop {
            if let Ok(Some(status)) = child.try_wait() {
                return Some(status);
            }
            if started.elapsed() > Duration::from_secs(30) {
                let _ = child.kill();
                let _ = child.wait();
                return None;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    })
    .await?;
    let outcome = swept.and_then(|(tokens, codes)| {
        ensure!(exited.is_some(), "omni dev did not stop within 30 s");
        // The audit of that run (demo data, tokenizations, refusals) is a chain that verifies.
        let verified = Command::new(env!("CARGO_BIN_EXE_omni"))
            .args(["audit", "verify"])
            .env("OMNI__DATABASE__DATA_DIR", dir.join("data"))
            .env_remove("OMNI__DATABASE__URL")
            .output()?;
        let report = String::from_utf8_lossy(&verified.stdout).into_owned();
        ensure!(
            verified.status.success()
                && report.matches(" intact: ").count() == omni_config::Service::ALL.len(),
            "the dev run's audit does not verify: {report}{}",
            String::from_utf8_lossy(&verified.stderr)
        );
        ensure!(
            !report.contains("audit catalog      intact: 0 entries"),
            "the demo data's catalog writes were not audited: {report}"
        );
        let needles = needles();
        // The stores and the logs, after the mesh stopped (its SQLite files closed).
        for file in files_under(&dir)? {
            let bytes = std::fs::read(&file)?;
            // The vault's own database holds the tokens (and the cards, encrypted); nothing else may.
            let in_vault = file
                .file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("payments.db"));
            let hits = if in_vault {
                found_in(&bytes, &needles)
            } else {
                found_in(&bytes, &needles).or_else(|| found_in(&bytes, &tokens))
            };
            // Pickup codes go to the customer in one event (the fulfillment outbox, the topic) and nowhere else: no
            // log line, no other service's store.
            let is_log = file.extension().is_some_and(|e| e == "log");
            let hits = hits.or_else(|| {
                let keeps_the_event = file
                    .file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with("fulfillment.db"));
                (is_log || !keeps_the_event)
                    .then(|| found_in(&bytes, &codes))
                    .flatten()
            });
            if let Some(n) = hits {
                let text = String::from_utf8_lossy(&bytes);
                let line = text.lines().find(|l| l.contains(&n)).unwrap_or_default();
                anyhow::bail!(
                    "`{n}` is in {}: {}",
                    file.display(),
                    line.chars().take(600).collect::<String>()
                );
            }
        }
        Ok(())
    });
    let redis = redis_holds_none(&redis_url, &prefix).await;
    let _ = std::fs::remove_dir_all(&dir);
    outcome.and(redis)
}

/// Every file under `dir` (the services' databases, their WAL files, the logs).
fn files_under(dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            out.extend(files_under(&path)?);
        } else {
            out.push(path);
        }
    }
    Ok(out)
}

/// Does the sweep and searches what is reachable while the mesh runs; the vault tokens it made.
async fn sweep(endpoints: &Path) -> anyhow::Result<(Vec<String>, Vec<String>)> {
    let text = eventually("omni dev to start and load its demo data", WAIT, || async {
        Ok(std::fs::read_to_string(endpoints).ok())
    })
    .await?;
    let endpoints: Value = serde_json::from_str(&text)?;
    let url = |service: &str| {
        endpoints["services"][service]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    };
    let bootstrap = endpoints["kafka_bootstrap"].as_str().context("kafka")?.to_owned();
    let admin = |service: &str| Client::new(url(service), ADMIN);
    let [visa, mastercard] = CARDS;

    // The vault's own door: tokenized, and paid with the legit way.
    let mut tokens = Vec::new();
    for card in CARDS {
        let token = admin("payments")
            .post(
                "/v1/payments/tokens",
                &json!({ "number": card, "exp_month": 12, "exp_year": 2031 }),
                &[],
            )
            .await?;
        ensure!(token.status == 201, "{token:?}");
        tokens.push(token.body["token"].as_str().context("token")?.to_owned());
    }
    let order = |sku: &str, customer: &str, token: &str| {
        json!({ "channel": "web", "currency": "EUR", "customer": { "id": customer, "tier": "standard" },
            "lines": [{ "sku": sku, "quantity": 1, "unit_price_minor": 8999 }],
            "delivery": { "type": "ship", "lat": 52.40, "lon": 13.10 },
            "tenders": [{ "type": "card", "token": token }] })
    };
    let paid = admin("orders")
        .post(
            "/v1/orders",
            &order("SNEAKER-42", "customer-1", &tokens[0]),
            &[("Idempotency-Key", "legit-1"), ("x-request-id", visa)],
        )
        .await?;
    ensure!(paid.status == 201, "{paid:?}");
    let paid_id = paid.body["id"].as_str().context("id")?.to_owned();

    // Card numbers where they do not belong, over HTTP: each refused, or (a request id) replaced.
    let refused = [
        (
            "orders",
            "/v1/orders",
            order(visa, "customer-2", &tokens[0]),
            "sku-1",
        ),
        (
            "orders",
            "/v1/orders",
            order("SNEAKER-42", mastercard, &tokens[0]),
            "customer-1",
        ),
        (
            "orders",
            "/v1/orders",
            order("SNEAKER-42", "c", &format!("tok_{visa}")),
            "token-1",
        ),
        ("orders", "/v1/orders", order("SNEAKER-42", "c", visa), "token-2"),
        (
            "catalog",
            "/v1/skus",
            json!({ "sku": visa, "title": "Card" }),
            "k",
        ),
        (
            "catalog",
            "/v1/skus",
            json!({ "sku": "GIFT-1", "title": "Gift 4242 4242 4242 4242" }),
            "k",
        ),
        (
            "catalog",
            "/v1/locations",
            json!({ "id": "STORE-X", "name": format!("Till {mastercard}"),
            "kind": "store", "lat": 52.5, "lon": 13.4, "timezone": "Europe/Berlin", "capabilities": ["ship"] }),
            "k",
        ),
        (
            "allocation",
            "/v1/inventory/movements",
            json!({ "event_id": uuid::Uuid::now_v7(), "location_id": "STORE-MITTE",
            "sku": visa, "kind": "receipt", "quantity": 1 }),
            "k",
        ),
        (
            "allocation",
            "/v1/reservations",
            json!({ "reservation_id": uuid::Uuid::now_v7(), "location_id": "STORE-MITTE",
            "channel": "web", "lines": [{ "sku": visa, "quantity": 1 }] }),
            "k",
        ),
        (
            "allocation",
            "/v1/policies",
            json!({ "id": visa, "description": "x" }),
            "k",
        ),
    ];
    for (service, path, body, key) in &refused {
        let answer = admin(service)
            .post(
                path,
                body,
                &[("Idempotency-Key", key), ("x-request-id", mastercard)],
            )
            .await?;
        ensure!(
            (400..500).contains(&answer.status),
            "{service} {path} took a card number: {answer:?}"
        );
        ensure!(
            found_in(answer.body.to_string().as_bytes(), &needles()).is_none(),
            "an error body repeats the card number: {answer:?}"
        );
    }
    let keyed = admin("orders")
        .post(
            "/v1/orders",
            &order("SNEAKER-42", "c", &tokens[0]),
            &[("Idempotency-Key", visa)],
        )
        .await?;
    ensure!(keyed.status == 400, "a card number as idempotency key: {keyed:?}");
    for path in [
        format!("/v1/orders/{visa}"),
        format!("/v1/orders?partner={visa}"),
        format!("/v1/orders/{}/cancel", visa),
    ] {
        let answer = admin("orders").get(&path).await?;
        ensure!(answer.status < 500, "{path}: {answer:?}");
    }
    ensure!(
        admin("allocation")
            .get(&format!("/v1/availability/{visa}"))
            .await?
            .status
            < 500
    );
    ensure!(
        admin("returns")
            .get(&format!("/v1/returns/orders/{mastercard}"))
            .await?
            .status
            < 500
    );

    // And over Kafka, on the demo partner's own topic and the shared one.
    let defaults = omni_config::Settings::defaults()?;
    let metrics = omni_telemetry::Metrics::new("leak-sweep")?;
    let producer = omni_kafka::Kafka::new(&defaults.kafka, &bootstrap).producer(&metrics)?;
    let names = omni_kafka::topics::TopicNames::new(&defaults.kafka.topics);
    let own = names.partner_inbound_name(omni_testkit::testing::DEMO_PARTNER);
    let shared_name = names.name(omni_contracts::Topic::OrdersInbound).to_owned();
    let partner_order = |edit: &dyn Fn(&mut Value)| {
        let mut o = json!({
            "partner_id": "northwind-market", "partner_order_id": format!("NW-LEAK-{}", omni_testkit::testing::letters_id()),
            "placed_at": "2026-11-23T09:00:00Z", "currency": "EUR", "customer": { "tier": "standard" },
            "lines": [{ "sku": "SNEAKER-42", "quantity": 1, "unit_price_minor": 8999 }], "total_minor": 8999,
            "delivery": { "type": "ship", "lat": 52.5, "lon": 13.4 }, "promise_by": "2026-11-26T18:00:00Z",
            "tenders": [{ "type": "marketplace_prepaid" }] });
        edit(&mut o);
        serde_json::to_vec(&o).unwrap_or_default()
    };
    let headers = |ce_id: &str, ce_type: &str, source: &str| {
        vec![
            ("ce_specversion".to_owned(), "1.0".to_owned()),
            ("ce_id".to_owned(), ce_id.to_owned()),
            ("ce_type".to_owned(), ce_type.to_owned()),
            ("ce_source".to_owned(), source.to_owned()),
            ("ce_time".to_owned(), chrono::Utc::now().to_rfc3339()),
        ]
    };
    let fresh = || uuid::Uuid::new_v4().to_string();
    let submitted = "omni.partner_order.submitted";
    let source = "/partners/northwind-market";
    let messages: Vec<(String, Headers, Vec<u8>)> = vec![
        (
            own.clone(),
            headers(&fresh(), submitted, source),
            partner_order(&|o| o["partner_order_id"] = json!(visa)),
        ),
        (
            own.clone(),
            headers(&fresh(), submitted, source),
            partner_order(&|o| o["customer"]["id"] = json!(visa)),
        ),
        (
            own.clone(),
            headers(&fresh(), submitted, source),
            partner_order(&|o| o["lines"][0]["sku"] = json!(mastercard)),
        ),
        (
            own.clone(),
            headers(&fresh(), submitted, source),
            partner_order(&|o| o["tenders"] = json!([{ "type": "card", "token": format!("tok_{visa}") }])),
        ),
        (
            own.clone(),
            headers(&fresh(), submitted, source),
            partner_order(&|o| o["partner_id"] = json!(visa)),
        ),
        (
            own.clone(),
            headers(visa, submitted, source),
            partner_order(&|_| {}),
        ),
        (
            own.clone(),
            headers(&fresh(), &format!("omni.{visa}"), source),
            partner_order(&|_| {}),
        ),
        (
            own.clone(),
            headers(&fresh(), submitted, &format!("/partners/{visa}")),
            partner_order(&|_| {}),
        ),
        (
            shared_name.clone(),
            headers(&fresh(), submitted, &format!("/partners/{mastercard}")),
            partner_order(&|_| {}),
        ),
    ];
    for (topic, headers, body) in &messages {
        producer.send_raw(topic, visa, headers, body).await?;
    }
    let orders = admin("orders");
    eventually("the paid order to be released", WAIT, || async {
        let now = orders.get(&format!("/v1/orders/{paid_id}")).await?;
        ensure!(now.body["status"] != "failed", "{}", now.body);
        Ok((now.body["status"] == "released").then_some(()))
    })
    .await?;
    let dlq = names.name(omni_contracts::Topic::OrdersInboundDlq).to_owned();
    eventually("every bad partner message to be dead-lettered", WAIT, || async {
        let dead = read_topics(&bootstrap, std::slice::from_ref(&dlq)).await?;
        Ok((dead.len() >= messages.len()).then_some(()))
    })
    .await?;

    // What is out there now: every topic of the broker and every service's metrics.
    let needles = needles();
    // Except the inbound topics: they hold what the senders wrote (this test's own card numbers), not Omni's.
    let written_by_omni: Vec<String> = all_topics(&bootstrap)
        .await?
        .into_iter()
        .filter(|t| *t != own && *t != shared_name)
        .collect();
    ensure!(written_by_omni.contains(&dlq), "{written_by_omni:?}");
    let everything = read_topics(&bootstrap, &written_by_omni).await?;
    ensure!(
        everything.len() > messages.len(),
        "read only {} messages",
        everything.len()
    );
    for (topic, bytes) in &everything {
        // No event carries a card number, nor a vault token: orders name cards by payment-method reference.
        if let Some(n) = found_in(bytes, &needles).or_else(|| found_in(bytes, &tokens)) {
            anyhow::bail!(
                "`{n}` is in a message on {topic}: {}",
                String::from_utf8_lossy(bytes)
            );
        }
    }
    for service in omni_config::Service::ALL {
        let metrics = Client::new(url(service.name()), ADMIN)
            .get_text("/metrics")
            .await?;
        if let Some(n) = found_in(metrics.as_bytes(), &needles) {
            anyhow::bail!("`{n}` is in {service}'s /metrics");
        }
    }
    let codes = pickup_codes_used(&admin, &bootstrap, &tokens[0]).await?;
    Ok((tokens, codes))
}

/// A pickup made ready and handed over, with a wrong code tried first; the two codes (they must never be logged).
async fn pickup_codes_used(
    admin: &dyn Fn(&str) -> Client,
    bootstrap: &str,
    token: &str,
) -> anyhow::Result<Vec<String>> {
    let placed = admin("orders")
        .post(
            "/v1/orders",
            &json!({ "channel": "web", "currency": "EUR", "customer": { "id": "pickup-1", "tier": "standard" },
                "lines": [{ "sku": "TEE-BLACK-M", "quantity": 1, "unit_price_minor": 1999 }],
                "delivery": { "type": "pickup", "location_id": "STORE-MITTE" },
                "tenders": [{ "type": "card", "token": token }] }),
            &[("Idempotency-Key", "pickup-leak-1")],
        )
        .await?;
    ensure!(placed.status == 201, "{placed:?}");
    let order_id = placed.body["id"].as_str().context("order id")?.to_owned();
    let fulfillment = admin("fulfillment");
    let task = eventually("the pickup's store task", WAIT, || async {
        let queue = fulfillment.get("/v1/stores/STORE-MITTE/tasks").await?.body;
        Ok(queue["tasks"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|t| t["order_id"] == order_id.as_str())
            .cloned())
    })
    .await?;
    let id = task["id"].as_str().context("task id")?.to_owned();
    for action in [
        json!({ "type": "accept" }),
        json!({ "type": "pick", "lines": [{ "sku": "TEE-BLACK-M", "picked": 1 }] }),
        json!({ "type": "pack", "parcels": [{ "weight_grams": 200 }] }),
        json!({ "type": "stage" }),
    ] {
        let done = fulfillment
            .post(
                &format!("/v1/tasks/{id}/actions"),
                &json!({ "action": action }),
                &[],
            )
            .await?;
        ensure!(done.status == 200, "{action}: {done:?}");
    }
    let defaults = omni_config::Settings::defaults()?;
    let topic = omni_kafka::topics::TopicNames::new(&defaults.kafka.topics)
        .name(omni_contracts::Topic::Fulfillment)
        .to_owned();
    let is_it = |m: &omni_testkit::kafka::Seen| {
        m.header("ce_type") == Some("omni.fulfillment.ready_for_pickup") && m.json()["task_id"] == id.as_str()
    };
    let seen =
        omni_testkit::kafka::collect(bootstrap, &[topic.as_str()], WAIT, |seen| seen.iter().any(is_it))
            .await?;
    let code = seen
        .iter()
        .find(|m| is_it(m))
        .and_then(|m| m.json()["pickup_code"].as_str().map(str::to_owned))
        .context("the pickup code")?;
    let wrong = if code == "QQQQWWWW" {
        "QQQQWWWX"
    } else {
        "QQQQWWWW"
    }
    .to_owned();
    for (pickup_code, status) in [(&wrong, 403), (&code, 200)] {
        let answer = fulfillment
            .post(
                &format!("/v1/tasks/{id}/actions"),
                &json!({ "action": { "type": "hand_over", "pickup_code": pickup_code } }),
                &[],
            )
            .await?;
        ensure!(answer.status == status, "hand over: {answer:?}");
        ensure!(
            !answer.body.to_string().contains(pickup_code.as_str()),
            "an answer repeats the pickup code: {answer:?}"
        );
    }
    Ok(vec![code, wrong])
}

/// Every topic the broker has (Omni's, the partners', the DLQs).
async fn all_topics(bootstrap: &str) -> anyhow::Result<Vec<String>> {
    let bootstrap = bootstrap.to_owned();
    tokio::task::spawn_blocking(move || -> anyhow::Result<Vec<String>> {
        let consumer: BaseConsumer = rdkafka::ClientConfig::new()
            .set("bootstrap.servers", &bootstrap)
            .create()?;
        let metadata = consumer.fetch_metadata(None, Duration::from_secs(10))?;
        Ok(metadata
            .topics()
            .iter()
            .map(|t| t.name().to_owned())
            .filter(|n| !n.starts_with("__"))
            .collect())
    })
    .await?
}

/// Every message now on `topics`, to the end of each partition: `(topic, key + headers + body)`.
async fn read_topics(bootstrap: &str, topics: &[String]) -> anyhow::Result<Vec<(String, Vec<u8>)>> {
    let (bootstrap, topics) = (bootstrap.to_owned(), topics.to_vec());
    tokio::task::spawn_blocking(move || -> anyhow::Result<Vec<(String, Vec<u8>)>> {
        use rdkafka::message::Headers;
        let consumer: BaseConsumer = rdkafka::ClientConfig::new()
            .set("bootstrap.servers", &bootstrap)
            .set(
                "group.id",
                format!("leak-sweep-{}", uuid::Uuid::new_v4().simple()),
            )
            .set("enable.auto.commit", "false")
            .create()?;
        let metadata = consumer.fetch_metadata(None, Duration::from_secs(10))?;
        let mut assignment = rdkafka::TopicPartitionList::new();
        let mut ends = std::collections::HashMap::new();
        for topic in metadata
            .topics()
            .iter()
            .filter(|t| topics.iter().any(|n| n == t.name()))
        {
            for partition in topic.partitions() {
                let (low, high) =
                    consumer.fetch_watermarks(topic.name(), partition.id(), Duration::from_secs(10))?;
                if high > low {
                    assignment.add_partition_offset(
                        topic.name(),
                        partition.id(),
                        rdkafka::Offset::Offset(low),
                    )?;
                    ends.insert((topic.name().to_owned(), partition.id()), high);
                }
            }
        }
        let mut out = Vec::new();
        if ends.is_empty() {
            return Ok(out);
        }
        consumer.assign(&assignment)?;
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        while !ends.is_empty() {
            ensure!(std::time::Instant::now() < deadline, "gave up reading {topics:?}");
            let Some(message) = consumer.poll(Duration::from_millis(200)) else {
                continue;
            };
            let message = message?;
            let mut bytes = message.key().unwrap_or_default().to_vec();
            if let Some(headers) = message.headers() {
                for header in headers.iter() {
                    bytes.extend_from_slice(header.key.as_bytes());
                    bytes.push(b'=');
                    bytes.extend_from_slice(header.value.unwrap_or_default());
                    bytes.push(b'\n');
                }
            }
            bytes.extend_from_slice(message.payload().unwrap_or_default());
            out.push((message.topic().to_owned(), bytes));
            let at = (message.topic().to_owned(), message.partition());
            if ends.get(&at).is_some_and(|end| message.offset() + 1 >= *end) {
                ends.remove(&at);
            }
        }
        Ok(out)
    })
    .await?
}

/// Whether the mesh's Redis keys (under `prefix`) hold no card number, whatever their type.
async fn redis_holds_none(url: &str, prefix: &str) -> anyhow::Result<()> {
    let client = redis::Client::open(url)?;
    let mut conn = client.get_multiplexed_async_connection().await?;
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{prefix}*"))
        .query_async(&mut conn)
        .await?;
    ensure!(!keys.is_empty(), "the holds were not in Redis under {prefix}");
    let needles = needles();
    for key in &keys {
        let kind: String = redis::cmd("TYPE").arg(key).query_async(&mut conn).await?;
        let values: Vec<Vec<u8>> = match kind.as_str() {
            "string" => vec![redis::cmd("GET").arg(key).query_async(&mut conn).await?],
            "hash" => redis::cmd("HGETALL").arg(key).query_async(&mut conn).await?,
            "set" => redis::cmd("SMEMBERS").arg(key).query_async(&mut conn).await?,
            "zset" => {
                redis::cmd("ZRANGE")
                    .arg(key)
                    .arg(0)
                    .arg(-1)
                    .query_async(&mut conn)
                    .await?
            }
            "list" => {
                redis::cmd("LRANGE")
                    .arg(key)
                    .arg(0)
                    .arg(-1)
                    .query_async(&mut conn)
                    .await?
            }
            _ => vec![],
        };
        for value in std::iter::once(key.as_bytes().to_vec()).chain(values) {
            if let Some(n) = found_in(&value, &needles) {
                anyhow::bail!("`{n}` is in Redis under {key}");
            }
        }
    }
    let _: () = redis::cmd("DEL").arg(&keys).query_async(&mut conn).await?;
    Ok(())
}
