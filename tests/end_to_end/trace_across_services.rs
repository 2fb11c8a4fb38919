//! One order, one trace: `omni dev` exports its spans over OTLP/HTTP to a real receiver (oteltap, started by
//! this test on 127.0.0.1), one web order is placed and released, and the spans of at least four services share
//! the trace of the `POST /v1/orders` that started it, across the Kafka hops (`traceparent`).

use std::collections::{BTreeSet, HashMap};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::{Context, ensure};
use omni_testkit::Client;
use omni_testkit::testing::eventually;
use serde_json::json;

const WAIT: Duration = Duration::from_secs(60);
const ADMIN: &str = "trace-test-admin-key-0123456789";

struct Stopped(Vec<Child>);

impl Drop for Stopped {
    fn drop(&mut self) {
        for child in &mut self.0 {
            let _ = Command::new("kill")
                .args(["-TERM", &child.id().to_string()])
                .status();
        }
        for child in &mut self.0 {
            for _ in 0..100 {
                if let Ok(Some(_)) = child.try_wait() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// `(trace id, span name, omni.service, url.path)` of every span oteltap printed so far.
fn spans(output: &std::path::Path) -> Vec<(String, String, Option<String>, Option<String>)> {
    let text = std::fs::read_to_string(output).unwrap_or_default();
    text.lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|span| span["traceId"].is_string())
        .map(|span| {
            let attribute = |key: &str| {
                span["attributes"].as_array().and_then(|a| {
                    a.iter()
                        .find(|kv| kv["key"] == key)
                        .and_then(|kv| kv["value"]["stringValue"].as_str().map(str::to_owned))
                })
            };
            (
                span["traceId"].as_str().unwrap_or_default().to_owned(),
                span["name"].as_str().unwrap_or_default().to_owned(),
                attribute("omni.service"),
                attribute("url.path"),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_order_is_one_trace_across_four_services_and_the_kafka_hops() -> anyhow::Result<()> {
    omni_telemetry::init_for_tests();
    let python = std::env::var("OMNI_OTELTAP_PYTHON").ok().filter(|p| std::path::Path::new(p).exists()).context(
        "OMNI_OTELTAP_PYTHON is not set: run the suite with scripts/test.sh (its deploy checks install oteltap)",
    )?;
    let dir = std::env::temp_dir().join(format!("omni-trace-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir)?;
    let output = dir.join("spans.ndjson");
    let port = free_port()?;
    // oteltap listens on the loopback interface only unless told otherwise.
    let receiver = Command::new(&python)
        .args(["-m", "oteltap", "--port", &port.to_string()])
        .stdout(std::fs::File::create(&output)?)
        .stderr(Stdio::null())
        .spawn()?;
    let mut running = Stopped(vec![receiver]);
    eventually("oteltap to listen", WAIT, || async {
        Ok(std::net::TcpStream::connect(("127.0.0.1", port))
            .is_ok()
            .then_some(()))
    })
    .await?;
    let endpoints = dir.join("endpoints.json");
    let dev = Command::new(env!("CARGO_BIN_EXE_omni"))
        .args(["dev", "--ephemeral-ports", "--admin-key", ADMIN])
        .arg("--data-dir")
        .arg(dir.join("data"))
        .arg("--endpoints-file")
        .arg(&endpoints)
        .env(
            "OMNI__TELEMETRY__OTLP_ENDPOINT",
            format!("http://127.0.0.1:{port}"),
        )
        .env_remove("OMNI__KAFKA__BOOTSTRAP_SERVERS")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()?;
    running.0.push(dev);
    let outcome = order_trace(&endpoints, &output).await;
    drop(running);
    let _ = std::fs::remove_dir_all(&dir);
    outcome
}

async fn order_trace(endpoints: &std::path::Path, output: &std::path::Path) -> anyhow::Result<()> {
    let text = eventually("omni dev to start", Duration::from_secs(120), || async {
        Ok(std::fs::read_to_string(endpoints).ok())
    })
    .await?;
    let endpoints: serde_json::Value = serde_json::from_str(&text)?;
    let url = |service: &str| {
        endpoints["services"][service]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    };
    let payments = Client::new(url("payments"), ADMIN);
    let orders = Client::new(url("orders"), ADMIN);
    let token = payments
        .post(
            "/v1/payments/tokens",
            &json!({ "number": "4242 4242 4242 4242", "exp_month": 1, "exp_year": 2031 }),
            &[],
        )
        .await?;
    let token = token.body["token"].as_str().context("token")?.to_owned();
    let order = omni_testkit::fixtures::order("TEE-BLACK-M", 1, 1999)
        .card(&token)
        .build()?;
    let placed = orders
        .post("/v1/orders", &order, &[("Idempotency-Key", "traced-1")])
        .await?;
    ensure!(placed.status == 201, "{placed:?}");
    let order_id = placed.body["id"].as_str().context("order id")?.to_owned();
    eventually("the order to be released", WAIT, || async {
        let status = orders.get(&format!("/v1/orders/{order_id}")).await?.body["status"].clone();
        ensure!(status != "failed", "the order failed");
        Ok((status == "released").then_some(()))
    })
    .await?;
    // Spans are exported in batches (every few seconds): wait until the order's trace shows four services.
    let services = eventually("spans of four services in the order's trace", WAIT, || async {
        let seen = spans(output);
        let Some(trace) = seen
            .iter()
            .find(|(_, name, service, path)| {
                name == "http.request"
                    && service.as_deref() == Some("orders")
                    && path.as_deref() == Some("/v1/orders")
            })
            .map(|(trace, ..)| trace.clone())
        else {
            return Ok(None);
        };
        let mut by_trace: HashMap<&str, BTreeSet<&str>> = HashMap::new();
        for (t, _, service, _) in &seen {
            if let Some(service) = service {
                by_trace.entry(t.as_str()).or_default().insert(service.as_str());
            }
        }
        let services: BTreeSet<String> = by_trace
            .get(trace.as_str())
            .map(|s| s.iter().map(|s| (*s).to_owned()).collect())
            .unwrap_or_default();
        Ok((services.len() >= 4).then_some(services))
    })
    .await?;
    for expected in ["orders", "fulfillment", "allocation", "payments"] {
        ensure!(
            services.contains(expected),
            "{expected} is not in the order's trace: {services:?}"
        );
    }
    ensure!(
        spans(output)
            .iter()
            .any(|(_, name, ..)| name == "kafka.consume" || name == "kafka.consume_batch"),
        "the trace crosses Kafka through consumer spans"
    );
    Ok(())
}
