//! Kubernetes mode against an in-memory Kubernetes API (kmock, `scripts/deploy/kube_api.py`): `omni dev`, started
//! with `policies.kubernetes_namespace` and a KUBECONFIG, watches `BufferPolicy` and `RoutingPolicy` resources and
//! hot-reloads them. A BufferPolicy becomes a `kubernetes` policy in allocation (versioned, not changeable over
//! HTTP, gone when the resource is); a RoutingPolicy steers fulfillment's next routing decision.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::{Context, bail, ensure};
use omni_testkit::Client;
use omni_testkit::testing::eventually;
use serde_json::{Value, json};

const WAIT: Duration = Duration::from_secs(60);
const NAMESPACE: &str = "omni";

/// A running process stopped (SIGTERM, then SIGKILL after 30 s) when dropped.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.0.id().to_string()])
            .status();
        let started = std::time::Instant::now();
        while started.elapsed() < Duration::from_secs(30) {
            if let Ok(Some(_)) = self.0.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The in-memory API: its base URL and the kubeconfig pointing at it.
fn start_kube_api(dir: &std::path::Path) -> anyhow::Result<(Running, String, std::path::PathBuf)> {
    let python = std::env::var("OMNI_KUBE_API_PYTHON")
        .ok()
        .filter(|p| std::path::Path::new(p).exists())
        .context("OMNI_KUBE_API_PYTHON is not set: run the suite with scripts/test.sh (its deploy checks install kmock)")?;
    let kubeconfig = dir.join("kubeconfig");
    let root = env!("CARGO_MANIFEST_DIR");
    let mut child = Command::new(python)
        .arg(format!("{root}/scripts/deploy/kube_api.py"))
        .args(["--port", "0", "--namespace", NAMESPACE, "--crd"])
        .arg(format!("{root}/charts/omni/crds"))
        .arg("--kubeconfig")
        .arg(&kubeconfig)
        // It exits when its stdin closes: keep the pipe open for its lifetime.
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()?;
    let stdout = child.stdout.take().context("stdout")?;
    let running = Running(child);
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line)?;
    let address = line
        .trim()
        .strip_prefix("listening ")
        .with_context(|| format!("kube_api.py did not start: `{line}`"))?;
    Ok((running, format!("http://{address}"), kubeconfig))
}

fn resource_url(api: &str, plural: &str, name: Option<&str>) -> String {
    let base = format!("{api}/apis/omni.dev/v1alpha1/namespaces/{NAMESPACE}/{plural}");
    name.map_or(base.clone(), |n| format!("{base}/{n}"))
}

async fn kube(request: reqwest::RequestBuilder) -> anyhow::Result<Value> {
    let response = request.send().await?;
    let status = response.status();
    let body: Value = response.json().await?;
    ensure!(
        status.is_success(),
        "the Kubernetes API answered {status}: {body}"
    );
    Ok(body)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn policy_resources_are_watched_and_hot_reloaded_by_allocation_and_fulfillment() -> anyhow::Result<()> {
    omni_telemetry::init_for_tests();
    let dir = std::env::temp_dir().join(format!("omni-crd-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir)?;
    let (kube_api, api, kubeconfig) = start_kube_api(&dir)?;
    let endpoints = dir.join("endpoints.json");
    let omni = Running(
        omni_dev(&dir, &endpoints, &[])
            .env("KUBECONFIG", &kubeconfig)
            .env("OMNI__POLICIES__KUBERNETES_NAMESPACE", NAMESPACE)
            .env("OMNI__POLICIES__RELOAD_INTERVAL_SECONDS", "1")
            .spawn()?,
    );
    let outcome = watched(&api, &endpoints).await;
    drop(omni);
    drop(kube_api);
    let outcome = match outcome {
        Ok(()) => retired_without_kubernetes(&dir).await,
        failed => failed,
    };
    let _ = std::fs::remove_dir_all(&dir);
    outcome
}

/// `omni dev` on the embedded backends with its data in `dir/data`, writing its endpoints to `endpoints`.
fn omni_dev(dir: &std::path::Path, endpoints: &std::path::Path, extra_args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_omni"));
    command
        .args([
            "dev",
            "--ephemeral-ports",
            "--admin-key",
            "crd-test-admin-key-1234",
        ])
        .args(extra_args)
        .arg("--data-dir")
        .arg(dir.join("data"))
        .arg("--endpoints-file")
        .arg(endpoints)
        .env_remove("OMNI__KAFKA__BOOTSTRAP_SERVERS")
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    command
}

/// `omni dev` again on the same data, without Kubernetes mode: the policy whose resource was left in place is
/// deleted (it could otherwise never be changed or removed).
async fn retired_without_kubernetes(dir: &std::path::Path) -> anyhow::Result<()> {
    let endpoints = dir.join("endpoints-2.json");
    let _omni = Running(
        omni_dev(dir, &endpoints, &["--no-seed"])
            .env_remove("KUBECONFIG")
            .env_remove("OMNI__POLICIES__KUBERNETES_NAMESPACE")
            .spawn()?,
    );
    let text = eventually("omni dev to start again", Duration::from_secs(120), || async {
        Ok(std::fs::read_to_string(&endpoints).ok())
    })
    .await?;
    let endpoints: Value = serde_json::from_str(&text)?;
    let allocation = Client::new(
        endpoints["services"]["allocation"]
            .as_str()
            .context("allocation url")?
            .to_owned(),
        endpoints["admin_key"].as_str().context("admin key")?,
    );
    let answer = allocation.get("/v1/policies/kube-left-behind").await?;
    ensure!(
        answer.status == 404,
        "a Kubernetes policy outlived Kubernetes mode: {}",
        answer.body
    );
    let versions = allocation.get("/v1/policies/kube-left-behind/versions").await?;
    let last = versions
        .body
        .as_array()
        .and_then(|v| v.last())
        .cloned()
        .unwrap_or_default();
    ensure!(
        last["spec"].is_null() && last["changed_by"] == "kubernetes mode off",
        "the retirement is not in the history: {}",
        versions.body
    );
    Ok(())
}

async fn watched(api: &str, endpoints: &std::path::Path) -> anyhow::Result<()> {
    let text = eventually(
        "omni dev to start and load its demo data",
        Duration::from_secs(120),
        || async { Ok(std::fs::read_to_string(endpoints).ok()) },
    )
    .await?;
    let endpoints: Value = serde_json::from_str(&text)?;
    let key = endpoints["admin_key"].as_str().context("admin key")?;
    let service = |name: &str| -> anyhow::Result<Client> {
        Ok(Client::new(
            endpoints["services"][name]
                .as_str()
                .context("service url")?
                .to_owned(),
            key,
        ))
    };
    let (allocation, fulfillment, orders) = (
        service("allocation")?,
        service("fulfillment")?,
        service("orders")?,
    );
    let http = reqwest::Client::new();

    // A BufferPolicy becomes a `kubernetes` policy, version 1.
    let buffer = json!({
        "apiVersion": "omni.dev/v1alpha1", "kind": "BufferPolicy",
        "metadata": { "name": "kube-tote-buffer" },
        "spec": { "description": "Keep 5 tote bags back from the web",
                  "when": { "skus": ["BAG-TOTE"], "channels": ["web"] },
                  "effect": { "hold_back": { "units": 5 } } }
    });
    kube(http.post(resource_url(api, "bufferpolicies", None)).json(&buffer)).await?;
    let policy = eventually("allocation to apply the BufferPolicy", WAIT, || async {
        let answer = allocation.get("/v1/policies/kube-tote-buffer").await?;
        Ok((answer.status == 200).then_some(answer.body))
    })
    .await?;
    ensure!(
        policy["source"] == "kubernetes" && policy["version"] == 1,
        "{policy}"
    );
    // It is in force: the web's availability of the SKU names it.
    eventually("the rule to shape availability", WAIT, || async {
        let answer = allocation.get("/v1/availability/BAG-TOTE?channel=web").await?;
        Ok(answer.body["rules"]
            .as_array()
            .is_some_and(|r| r.iter().any(|id| id == "kube-tote-buffer"))
            .then_some(()))
    })
    .await?;
    // Only Kubernetes changes it: HTTP answers 409.
    let replace = allocation
        .put(
            "/v1/policies/kube-tote-buffer",
            &json!({ "id": "kube-tote-buffer", "effect": { "hold_back": { "units": 1 } } }),
            &[("If-Match", "\"1\"")],
        )
        .await?;
    ensure!(
        replace.status == 409,
        "HTTP changed a Kubernetes policy: {} {}",
        replace.status,
        replace.body
    );

    // A patch is a new version, hot-reloaded.
    kube(
        http.patch(resource_url(api, "bufferpolicies", Some("kube-tote-buffer")))
            .header("Content-Type", "application/merge-patch+json")
            .body(json!({ "spec": { "effect": { "hold_back": { "units": 7 } } } }).to_string()),
    )
    .await?;
    eventually("the patched rule to be version 2", WAIT, || async {
        let answer = allocation.get("/v1/policies/kube-tote-buffer").await?;
        Ok((answer.body["version"] == 2 && answer.body["effect"]["hold_back"]["units"] == 7).then_some(()))
    })
    .await?;

    // A resource that is not a valid rule is refused by the API server's schema.
    let bad = http
        .post(resource_url(api, "bufferpolicies", None))
        .json(
            &json!({ "apiVersion": "omni.dev/v1alpha1", "kind": "BufferPolicy",
            "metadata": { "name": "bad-percent" },
            "spec": { "effect": { "hold_back": { "percent": 250 } } } }),
        )
        .send()
        .await?;
    // The in-memory API does not validate; allocation's own checks leave the bad rule out.
    if bad.status().is_success() {
        tokio::time::sleep(Duration::from_secs(3)).await;
        let answer = allocation.get("/v1/policies/bad-percent").await?;
        ensure!(
            answer.status == 404,
            "an invalid rule was applied: {}",
            answer.body
        );
    }

    // Deleting the resource deletes the policy.
    kube(http.delete(resource_url(api, "bufferpolicies", Some("kube-tote-buffer")))).await?;
    eventually("the policy to be deleted", WAIT, || async {
        Ok((allocation.get("/v1/policies/kube-tote-buffer").await?.status == 404).then_some(()))
    })
    .await?;

    // A RoutingPolicy: marketplace shipments never leave from Berlin Mitte (the nearest store to the example).
    let routing = json!({
        "apiVersion": "omni.dev/v1alpha1", "kind": "RoutingPolicy",
        "metadata": { "name": "no-mitte-shipments" },
        "spec": { "when": { "channels": ["marketplace"], "deliveries": ["ship"] },
                  "effect": { "exclude": { "locations": ["STORE-MITTE"] } } }
    });
    kube(
        http.post(resource_url(api, "routingpolicies", None))
            .json(&routing),
    )
    .await?;
    eventually("fulfillment to apply the RoutingPolicy", WAIT, || async {
        let answer = fulfillment.get("/v1/routing-rules").await?;
        Ok(answer.body["rules"]
            .as_array()
            .is_some_and(|r| r.iter().any(|rule| rule["id"] == "no-mitte-shipments"))
            .then_some(()))
    })
    .await?;
    let order_id = send_ship_example(&endpoints, &orders).await?;
    let explanation = eventually("the order to be routed", WAIT, || async {
        let answer = fulfillment
            .get(&format!("/v1/fulfillments?order_id={order_id}"))
            .await?;
        Ok(answer.body.as_array().and_then(|f| f.first()).cloned())
    })
    .await?;
    ensure!(explanation["location_id"] != "STORE-MITTE", "{explanation}");
    let text = explanation.to_string();
    ensure!(
        text.contains("excluded by routing rule `no-mitte-shipments`"),
        "{text}"
    );

    // A resource left in place when Kubernetes mode is switched off (checked after the restart).
    let left = json!({
        "apiVersion": "omni.dev/v1alpha1", "kind": "BufferPolicy",
        "metadata": { "name": "kube-left-behind" },
        "spec": { "effect": { "hold_back": { "units": 1 } } }
    });
    kube(http.post(resource_url(api, "bufferpolicies", None)).json(&left)).await?;
    eventually("allocation to apply the last BufferPolicy", WAIT, || async {
        Ok((allocation.get("/v1/policies/kube-left-behind").await?.status == 200).then_some(()))
    })
    .await?;
    Ok(())
}

/// Sends the published ship-to-home example (a new partner order id) through the Kafka intake; its order's id.
async fn send_ship_example(endpoints: &Value, orders: &Client) -> anyhow::Result<String> {
    let bootstrap = endpoints["kafka_bootstrap"].as_str().context("kafka_bootstrap")?;
    let defaults = omni_config::Settings::defaults()?;
    let metrics = omni_telemetry::Metrics::new("test")?;
    let producer = omni_kafka::Kafka::new(&defaults.kafka, bootstrap).producer(&metrics)?;
    let inbound = omni_kafka::topics::TopicNames::new(&defaults.kafka.topics)
        .partner_inbound_name(omni_testkit::testing::DEMO_PARTNER);
    let mut example: Value = serde_json::from_str(&std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/docs/schemas/examples/ship-to-home.json"
    ))?)?;
    example["partner_order_id"] = json!("NW-CRD-ROUTING-1");
    let headers = omni_testkit::kafka::partner_order_headers(&uuid::Uuid::new_v4().to_string(), "/crd-test");
    producer
        .send_raw(
            &inbound,
            "NW-CRD-ROUTING-1",
            &headers,
            &serde_json::to_vec(&example)?,
        )
        .await?;
    eventually("the order to be taken", WAIT, || async {
        let listed = orders
            .get("/v1/orders?partner=northwind-market&limit=100")
            .await?;
        let found = listed.body["orders"].as_array().and_then(|o| {
            o.iter()
                .find(|o| o["partner_order_id"] == "NW-CRD-ROUTING-1")
                .and_then(|o| o["id"].as_str().map(str::to_owned))
        });
        if let Some(order) = listed.body["orders"].as_array().and_then(|o| {
            o.iter()
                .find(|o| o["partner_order_id"] == "NW-CRD-ROUTING-1" && o["status"] == "failed")
        }) {
            bail!("the routed order failed: {order}");
        }
        Ok(found)
    })
    .await
}
