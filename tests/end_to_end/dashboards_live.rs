//! The alert rules and dashboards, checked against a real Prometheus (the server of Debian's package, which the
//! deploy checks install beside promtool) scraping a running `omni demo`: every rule loads and evaluates, and every
//! panel's query of every dashboard returns series. A panel that names a metric or label nobody exports, or a
//! filter nothing matches, shows "No data" in Grafana; here it fails with the dashboard and panel named.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};
use serde_json::Value;

const ADMIN: &str = "dashboards-live-admin-key-0001";

/// Grafana's variables, as a panel over the demo's few minutes sees them.
const GRAFANA_VARS: &[(&str, &str)] = &[
    ("$__rate_interval", "1m"),
    ("$__interval", "15s"),
    ("$__range", "15m"),
    ("${datasource}", "prometheus"),
    ("$namespace", ".*"),
];

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Stops a process we started, by its PID: TERM, then KILL after `grace`.
fn stop(child: &mut Child, grace: Duration) {
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let started = Instant::now();
    while started.elapsed() < grace {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// A port nothing listens on now (Prometheus takes its listen address as a flag).
fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_rule_loads_and_every_dashboard_panel_has_data_from_a_running_demo() -> anyhow::Result<()> {
    omni_telemetry::init_for_tests();
    let prometheus = std::env::var("OMNI_PROMETHEUS_BIN")
        .ok()
        .filter(|p| Path::new(p).exists())
        .context("OMNI_PROMETHEUS_BIN is not set: run the suite with scripts/test.sh (its deploy checks install Prometheus)")?;
    let dir = std::env::temp_dir().join(format!("omni-dashboards-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir)?;
    let endpoints = dir.join("endpoints.json");
    let mut demo = Command::new(env!("CARGO_BIN_EXE_omni"))
        .args([
            "demo",
            "--orders",
            "120",
            "--marketplace-orders",
            "20",
            "--keep-running",
        ])
        .args(["--ephemeral-ports", "--admin-key", ADMIN])
        .arg("--data-dir")
        .arg(dir.join("data"))
        .arg("--endpoints-file")
        .arg(&endpoints)
        .env_remove("OMNI__KAFKA__BOOTSTRAP_SERVERS")
        .env_remove("OMNI__DATABASE__URL")
        .stdout(Stdio::from(std::fs::File::create(dir.join("demo.log"))?))
        .stderr(Stdio::from(std::fs::File::create(dir.join("demo.err"))?))
        .spawn()?;
    let mut server: Option<Child> = None;
    let outcome = check(&dir, &endpoints, &prometheus, &mut server).await;
    if let Some(server) = server.as_mut() {
        stop(server, Duration::from_secs(10));
    }
    stop(&mut demo, Duration::from_secs(30));
    if outcome.is_ok() {
        let _ = std::fs::remove_dir_all(&dir);
    }
    outcome.with_context(|| format!("logs in {}", dir.display()))
}

async fn check(
    dir: &Path,
    endpoints: &Path,
    prometheus: &str,
    server: &mut Option<Child>,
) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(420);
    let endpoints: Value = loop {
        if let Some(text) = std::fs::read_to_string(endpoints).ok().filter(|t| !t.is_empty()) {
            break serde_json::from_str(&text)?;
        }
        ensure!(Instant::now() < deadline, "the demo never wrote its endpoints");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let targets: Vec<String> = endpoints["services"]
        .as_object()
        .context("services in the endpoints file")?
        .values()
        .filter_map(|url| url.as_str().map(|u| u.trim_start_matches("http://").to_owned()))
        .collect();
    ensure!(targets.len() == 6, "{endpoints}");
    let rules = repo().join("charts/omni/files/prometheus/omni-alerts.yaml");
    let config = format!(
        "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nrule_files:\n  - {}\nscrape_configs:\n  - job_name: omni\n    static_configs:\n      - targets: [{}]\n",
        rules.display(),
        targets
            .iter()
            .map(|t| format!("'{t}'"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    std::fs::write(dir.join("prometheus.yml"), config)?;
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()?;
    // The port is free when chosen, not necessarily when Prometheus binds it: another try if it lost the race.
    let mut api = None;
    for _ in 0..3 {
        let port = free_port()?;
        let mut child = Command::new(prometheus)
            .arg(format!("--config.file={}", dir.join("prometheus.yml").display()))
            .arg(format!("--storage.tsdb.path={}", dir.join("tsdb").display()))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdout(Stdio::from(std::fs::File::create(dir.join("prometheus.log"))?))
            .stderr(Stdio::from(std::fs::File::create(dir.join("prometheus.err"))?))
            .spawn()?;
        let ready = Instant::now() + Duration::from_secs(30);
        let up = loop {
            if let Ok(Some(_)) = child.try_wait() {
                break false;
            }
            let answer = http.get(format!("http://127.0.0.1:{port}/-/ready")).send().await;
            if answer.is_ok_and(|a| a.status().is_success()) {
                break true;
            }
            if Instant::now() > ready {
                break false;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        };
        if up {
            *server = Some(child);
            api = Some(format!("http://127.0.0.1:{port}/api/v1"));
            break;
        }
        stop(&mut child, Duration::from_secs(5));
    }
    let api = api.context("prometheus did not start: see prometheus.err")?;
    // The demo runs its orders and its store shift, prints its report and keeps serving; Prometheus scrapes it
    // all along.
    loop {
        let report = std::fs::read_to_string(dir.join("demo.log")).unwrap_or_default();
        if report.contains("The mesh keeps running") {
            break;
        }
        if let Some(server) = server.as_mut()
            && let Ok(Some(status)) = server.try_wait()
        {
            bail!("prometheus exited ({status}): see prometheus.err");
        }
        ensure!(
            Instant::now() < deadline,
            "the demo did not finish its report in time"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    // A few more scrapes and rule evaluations after the last change.
    tokio::time::sleep(Duration::from_secs(5)).await;

    let rules: Value = http.get(format!("{api}/rules")).send().await?.json().await?;
    let mut evaluated = 0;
    for group in rules["data"]["groups"].as_array().context("rule groups")? {
        for rule in group["rules"].as_array().into_iter().flatten() {
            ensure!(
                rule["health"] == "ok",
                "rule {} is not healthy: {rule}",
                rule["name"]
            );
            evaluated += 1;
        }
    }
    let expected = std::fs::read_to_string(repo().join("charts/omni/files/prometheus/omni-alerts.yaml"))?
        .matches("- alert:")
        .count();
    ensure!(
        evaluated == expected,
        "{evaluated} rules loaded, the file has {expected}"
    );

    let mut empty = Vec::new();
    let mut queried = 0;
    let mut boards: Vec<PathBuf> = std::fs::read_dir(repo().join("charts/omni/files/dashboards"))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    boards.sort();
    for board in boards {
        let json: Value = serde_json::from_str(&std::fs::read_to_string(&board)?)?;
        let name = board
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        for (title, expr) in targets_of(&json["panels"]) {
            let expr = GRAFANA_VARS
                .iter()
                .fold(expr, |e, (var, value)| e.replace(var, value));
            let answer: Value = http
                .get(format!("{api}/query"))
                .query(&[("query", expr.as_str())])
                .send()
                .await?
                .json()
                .await?;
            ensure!(
                answer["status"] == "success",
                "{name} / {title}: {expr}: {answer}"
            );
            queried += 1;
            if answer["data"]["result"].as_array().is_none_or(Vec::is_empty) {
                empty.push(format!("{name} / {title}: {expr}"));
            }
        }
    }
    ensure!(queried > 40, "only {queried} panel queries found");
    ensure!(empty.is_empty(), "panels without data:\n{}", empty.join("\n"));
    Ok(())
}

/// `(panel title, expr)` of every target, rows' panels included.
fn targets_of(panels: &Value) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for panel in panels.as_array().into_iter().flatten() {
        out.extend(targets_of(&panel["panels"]));
        for target in panel["targets"].as_array().into_iter().flatten() {
            if let Some(expr) = target["expr"].as_str() {
                out.push((panel["title"].as_str().unwrap_or("?").to_owned(), expr.to_owned()));
            }
        }
    }
    out
}
