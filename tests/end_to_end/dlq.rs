//! `omni dlq` as an operator uses it: a stock movement that overtook its SKU's catalog event is parked (not
//! retried for ever), listed and shown with its reason, and replayed once the catalog knows the SKU, once only.

use omni_testkit::fixtures::{sku, store};
use std::process::Command;
use std::time::Duration;

use anyhow::{Context, ensure};
use omni_contracts::api::{MovementKind, StockMovement};
use omni_contracts::events::InventoryEvent;
use omni_contracts::{Envelope, LocationId, MovementId, Quantity, Sku, Topic};
use omni_testkit::testing::{ADMIN_KEY, RealBackends, eventually, receive_stock, settings};
use omni_testkit::{Mesh, Service};

const WAIT: Duration = Duration::from_secs(60);

/// `omni dlq <args>` against the mesh's broker, topics and database; its stdout.
fn dlq(config: &std::path::Path, args: &[&str]) -> anyhow::Result<String> {
    let out = Command::new(env!("CARGO_BIN_EXE_omni"))
        .env_remove("OMNI_CONFIG")
        .env("OMNI__TELEMETRY__LEVEL", "warn")
        .arg("--config")
        .arg(config)
        .arg("dlq")
        .args(args)
        .output()?;
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    ensure!(
        out.status.success(),
        "omni dlq {args:?}: {:?}\n{stdout}{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(stdout)
}

/// The settings the CLI needs to see what the mesh sees: its broker, topic names, consumer groups and database.
fn cli_config(mesh: &Mesh, database_url: &str, dir: &std::path::Path) -> anyhow::Result<std::path::PathBuf> {
    let kafka = &mesh.settings().kafka;
    let mut toml = format!(
        "[kafka]\nbootstrap_servers = {:?}\ngroup_prefix = {:?}\n\n[database]\nurl = {:?}\n\n[kafka.topics]\n",
        mesh.kafka_bootstrap(),
        kafka.group_prefix,
        database_url
    );
    for (key, name) in &kafka.topics {
        toml.push_str(&format!("{key} = {name:?}\n"));
    }
    let path = dir.join("omni.toml");
    std::fs::write(&path, toml)?;
    Ok(path)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_movement_ahead_of_its_sku_is_parked_listed_and_replayed_once_after_the_fix() -> anyhow::Result<()>
{
    let mut backends = RealBackends::new(settings())?;
    backends.options.services = vec![Service::Catalog, Service::Allocation];
    let mesh = Mesh::start(backends.options.clone()).await?;
    let dir = std::env::temp_dir().join(format!("omni-dlq-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir)?;
    let outcome = parked_then_replayed(&mesh, &backends.database.url, &dir).await;
    let _ = std::fs::remove_dir_all(&dir);
    mesh.stop().await?;
    outcome
}

async fn parked_then_replayed(mesh: &Mesh, database_url: &str, dir: &std::path::Path) -> anyhow::Result<()> {
    let config = cli_config(mesh, database_url, dir)?;
    let kafka = omni_kafka::Kafka::new(&mesh.settings().kafka, mesh.kafka_bootstrap());
    let producer = kafka.producer(&omni_telemetry::Metrics::new("test")?)?;
    // A till's receipt of 3 units of a SKU the catalog has not announced yet.
    let receipt = Envelope::new(
        "store-system",
        InventoryEvent::Movement(StockMovement {
            event_id: MovementId::generate(),
            location_id: LocationId::parse("DLQ-STORE")?,
            sku: Sku::parse("DLQ-SKU")?,
            kind: MovementKind::Receipt,
            quantity: Quantity::new(3)?,
        }),
    );
    producer.publish(&receipt).await?;
    let ce_id = receipt.id.to_string();
    let dlq_topic = kafka.topics().dead_letter_name(Topic::Inventory);

    let listed = eventually("the receipt to be parked", WAIT, || async {
        let listed = dlq(&config, &["list"])?;
        Ok(listed.contains(&ce_id).then_some(listed))
    })
    .await?;
    let line = listed
        .lines()
        .find(|l| l.contains(&ce_id))
        .context("the parked receipt's line")?;
    ensure!(
        line.starts_with(&dlq_topic)
            && line.contains(" permanent allocation.inventory omni.inventory.movement ")
            && line.contains("unknown location `DLQ-STORE`")
            && !line.contains("replayed"),
        "list names the DLQ, cause, consumer, type and reason: {line}"
    );
    let position = line.split(' ').nth(1).context("the position")?;
    let shown = dlq(&config, &["show", &dlq_topic, position])?;
    ensure!(
        shown.contains(&format!("ce_id: {ce_id}"))
            && shown.contains("omni_dlq_cause: permanent")
            && shown.contains("\"sku\": \"DLQ-SKU\""),
        "show prints the headers and the body: {shown}"
    );

    // The fix: the catalog announces the store and the SKU; allocation learns them.
    let catalog = mesh.client(Service::Catalog, ADMIN_KEY);
    let allocation = mesh.client(Service::Allocation, ADMIN_KEY);
    let store = store("DLQ-STORE").named("Parked").build()?;
    ensure!(catalog.post("/v1/locations", &store, &[]).await?.status == 201);
    let sku = sku("DLQ-SKU")?;
    ensure!(catalog.post("/v1/skus", &sku, &[]).await?.status == 201);
    receive_stock(&allocation, "DLQ-STORE", "DLQ-SKU", 5).await?;

    let replayed = dlq(&config, &["replay", "--topic", &dlq_topic])?;
    ensure!(
        replayed.contains(&ce_id) && replayed.ends_with("1 message(s) replayed\n"),
        "the parked receipt is sent back: {replayed}"
    );
    let on_hand = || async {
        let availability = allocation.get("/v1/availability/DLQ-SKU").await?;
        anyhow::Ok(availability.body["locations"][0]["on_hand"].as_i64())
    };
    eventually("the replayed receipt to be recorded", WAIT, || async {
        Ok((on_hand().await? == Some(8)).then_some(()))
    })
    .await?;

    let again = dlq(&config, &["replay", "--topic", &dlq_topic])?;
    ensure!(
        again.ends_with("0 message(s) replayed\n"),
        "a second replay sends nothing: {again}"
    );
    let listed = dlq(&config, &["list", "--topic", &dlq_topic])?;
    ensure!(
        listed
            .lines()
            .any(|l| l.contains(&ce_id) && l.contains(" replayed ")),
        "list marks it replayed: {listed}"
    );
    let audit = allocation.get("/v1/audit?action=kafka.dlq.replayed").await?;
    let entries = audit.body["entries"].as_array().cloned().unwrap_or_default();
    ensure!(
        entries.len() == 1 && entries[0]["detail"]["ce_id"] == ce_id.as_str(),
        "the replay is in allocation's audit log: {}",
        audit.body
    );
    ensure!(on_hand().await? == Some(8), "stock counted once");
    Ok(())
}
