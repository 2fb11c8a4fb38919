//! Every service's `/metrics` passes `promtool check metrics` (Prometheus' own lint of the exposition format:
//! names, types, help texts, counter suffixes), after some traffic so that the labelled series exist.

use omni_testkit::Service;
use omni_testkit::fixtures::{sku, store};
use std::io::Write;
use std::process::{Command, Stdio};

use anyhow::{Context, ensure};
use omni_testkit::Mesh;
use omni_testkit::testing::{ADMIN_KEY, embedded_options, on_mesh, receive_stock, settings};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_service_exposes_metrics_that_promtool_accepts() -> anyhow::Result<()> {
    omni_telemetry::init_for_tests();
    let promtool = std::env::var("OMNI_PROMTOOL_BIN")
        .ok()
        .filter(|p| std::path::Path::new(p).exists())
        .context("OMNI_PROMTOOL_BIN is not set: run the suite with scripts/test.sh (its deploy checks install promtool)")?;
    on_mesh(embedded_options(settings()), async |mesh| {
        lint(mesh, &promtool).await
    })
    .await
}

async fn lint(mesh: &Mesh, promtool: &str) -> anyhow::Result<()> {
    // Some traffic, so counters, histograms and gauges with labels have series.
    let catalog = mesh.client(Service::Catalog, ADMIN_KEY);
    let allocation = mesh.client(Service::Allocation, ADMIN_KEY);
    let store = store("STORE-1").named("One").build()?;
    ensure!(catalog.post("/v1/locations", &store, &[]).await?.status == 201);
    ensure!(catalog.post("/v1/skus", &sku("TEE-1")?, &[]).await?.status == 201);
    receive_stock(&allocation, "STORE-1", "TEE-1", 5).await?;
    let hold = json!({ "reservation_id": uuid::Uuid::new_v4(), "location_id": "STORE-1", "channel": "web",
        "lines": [{ "sku": "TEE-1", "quantity": 1 }], "ttl_seconds": 60 });
    ensure!(allocation.post("/v1/reservations", &hold, &[]).await?.status == 201);
    for service in omni_config::Service::ALL {
        let text = mesh.client(service, ADMIN_KEY).get_text("/metrics").await?;
        ensure!(text.contains("# TYPE omni_"), "{service}: no metrics");
        let mut child = Command::new(promtool)
            .args(["check", "metrics"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()?;
        child
            .stdin
            .take()
            .context("promtool's stdin")?
            .write_all(text.as_bytes())?;
        let output = child.wait_with_output()?;
        ensure!(
            output.status.success(),
            "{service}: promtool check metrics failed:\n{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    Ok(())
}
