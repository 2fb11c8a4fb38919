//! Kafka over TLS: a Nisshi broker that accepts only TLS (a private CA), and a catalog service whose settings
//! carry `security.protocol=ssl` and the CA in `kafka.properties` (as the chart writes them for a managed
//! broker). A SKU created over HTTP reaches the broker through the outbox relay, and a TLS consumer reads it.

use omni_testkit::Service;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, ensure};
use omni_config::Secret;
use omni_contracts::Topic;
use omni_testkit::KafkaBackend;
use omni_testkit::testing::{ADMIN_KEY, embedded_options, on_mesh, settings};
use rdkafka::Message;
use rdkafka::consumer::{Consumer, StreamConsumer};

/// The TLS broker, killed when dropped.
struct Broker(Child);

impl Drop for Broker {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn services_produce_and_consume_through_a_tls_only_broker() -> anyhow::Result<()> {
    omni_telemetry::init_for_tests();
    let nisshi = std::env::var("OMNI_NISSHI_BIN")
        .context("OMNI_NISSHI_BIN is not set: run the suite with scripts/test.sh (it builds Nisshi)")?;
    let dir = std::env::temp_dir().join(format!("omni-kafka-tls-{}", uuid::Uuid::new_v4().simple()));
    let certs = omni_testkit::tls::certificates(&dir)?;
    let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
    let listener = format!("tcp://127.0.0.1:{port}");
    let _broker = Broker(
        Command::new(nisshi)
            .args([
                "broker",
                "--listener-url",
                &listener,
                "--advertised-listener-url",
                &listener,
            ])
            .args([
                "--storage-engine",
                "memory://nisshi/",
                "--group-initial-rebalance-delay",
                "0s",
            ])
            .arg("--cert")
            .arg(&certs.cert)
            .arg("--key")
            .arg(&certs.key)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("cannot start nisshi")?,
    );
    let started = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        ensure!(
            started.elapsed() < Duration::from_secs(30),
            "nisshi did not start"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let bootstrap = format!("127.0.0.1:{port}");
    let ca = certs.ca.display().to_string();

    // Without TLS the broker cannot be reached at all.
    let plain = omni_kafka::Kafka::new(&settings().kafka, &bootstrap);
    ensure!(
        plain.ping(Duration::from_secs(3)).await.is_err(),
        "a plain-text client reached the TLS-only broker"
    );

    let mut tls = settings();
    tls.kafka
        .properties
        .insert("security.protocol".into(), Secret::new("ssl"));
    tls.kafka
        .properties
        .insert("ssl.ca.location".into(), Secret::new(ca.as_str()));
    let mut options = embedded_options(tls);
    options.kafka = KafkaBackend::External(bootstrap.clone());
    options.services = vec![Service::Catalog];
    let outcome = on_mesh(options, async |mesh| {
        let catalog = mesh.client(Service::Catalog, ADMIN_KEY);
        let sku = omni_testkit::fixtures::sku("TLS-TEE-1")?;
        ensure!(catalog.post("/v1/skus", &sku, &[]).await?.status == 201);
        let consumer: StreamConsumer = rdkafka::ClientConfig::new()
            .set("bootstrap.servers", &bootstrap)
            .set("security.protocol", "ssl")
            .set("ssl.ca.location", &ca)
            .set(
                "group.id",
                format!("omni-tls-reader-{}", uuid::Uuid::new_v4().simple()),
            )
            .set("auto.offset.reset", "earliest")
            .create()?;
        consumer.subscribe(&[&mesh.topic(Topic::Catalog)])?;
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        loop {
            let message = tokio::time::timeout_at(deadline, consumer.recv())
                .await
                .context("no catalog event over TLS within 60 s")??;
            let body = String::from_utf8_lossy(message.payload().unwrap_or_default()).into_owned();
            if body.contains("TLS-TEE-1") {
                return Ok(());
            }
        }
    })
    .await;
    let _ = std::fs::remove_dir_all(&dir);
    outcome
}
