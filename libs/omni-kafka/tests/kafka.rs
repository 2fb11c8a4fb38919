//! omni-kafka against a real Kafka-protocol peer: the embedded mock cluster, and the Nisshi broker when the
//! test script started one (`OMNI_TEST_KAFKA_BOOTSTRAP`).

use std::sync::atomic::AtomicUsize;
use std::sync::atomic::Ordering::SeqCst;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::ensure;
use omni_contracts::api::{MovementKind, StockMovement};
use omni_contracts::events::InventoryEvent;
use omni_contracts::{Envelope, LocationId, MovementId, Quantity, Sku, Topic};
use omni_db::testing::{Backend, TestDatabase};
use omni_kafka::consumer::{HandlerError, handler};
use omni_kafka::topics::TopicNames;
use omni_kafka::{ConsumerSpec, EmbeddedKafka, Kafka, OutboxRelay};
use tokio_util::sync::CancellationToken;

const WAIT: Duration = Duration::from_secs(30);

/// A broker for one test, with topics suffixed so nothing is shared.
struct Broker {
    name: &'static str,
    kafka: Kafka,
    _embedded: Option<EmbeddedKafka>,
}

/// Every scenario runs on the embedded broker and on the real one the test script started.
async fn brokers() -> anyhow::Result<Vec<Broker>> {
    brokers_with(|_| {}).await
}

/// [`brokers`] with changed Kafka settings.
async fn brokers_with(change: impl Fn(&mut omni_config::KafkaSettings)) -> anyhow::Result<Vec<Broker>> {
    omni_telemetry::init_for_tests();
    let mut settings = omni_testkit::testing::settings();
    change(&mut settings.kafka);
    omni_testkit::testing::isolate_kafka(&mut settings);
    let embedded = EmbeddedKafka::start(&TopicNames::new(&settings.kafka.topics))?;
    let local = Kafka::new(&settings.kafka, embedded.bootstrap_servers());
    let mut brokers = vec![Broker {
        name: "embedded",
        kafka: local,
        _embedded: Some(embedded),
    }];
    let bootstrap = omni_testkit::testing::kafka_bootstrap().ok_or_else(|| {
        anyhow::anyhow!("OMNI_TEST_KAFKA_BOOTSTRAP is not set: run the suite with scripts/test.sh")
    })?;
    let real = Kafka::new(&settings.kafka, &bootstrap);
    omni_kafka::topics::ensure_topics(&real).await?;
    brokers.push(Broker {
        name: "nisshi",
        kafka: real,
        _embedded: None,
    });
    Ok(brokers)
}

fn movement() -> anyhow::Result<Envelope<InventoryEvent>> {
    Ok(Envelope::new(
        "test",
        InventoryEvent::Movement(StockMovement {
            event_id: MovementId::generate(),
            location_id: LocationId::parse("S1")?,
            sku: Sku::parse("A")?,
            kind: MovementKind::Receipt,
            quantity: Quantity::new(1)?,
        }),
    ))
}

fn metrics() -> omni_telemetry::Metrics {
    omni_telemetry::Metrics::new("test").unwrap_or_else(|e| panic!("{e}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_consumer_span_continues_the_producer_trace() -> anyhow::Result<()> {
    for broker in brokers().await? {
        consumer_span_continues_producer_trace(&broker).await?;
    }
    Ok(())
}

async fn consumer_span_continues_producer_trace(broker: &Broker) -> anyhow::Result<()> {
    let producer = broker.kafka.producer(&metrics())?;
    let sent_trace = {
        let span = tracing::info_span!("checkout");
        let _entered = span.enter();
        let trace = omni_kafka::trace::current_trace_id();
        // Publish while the span is current (the future is polled inside it).
        futures_lite_block(&producer, movement()?).await?;
        trace
    };
    ensure!(
        sent_trace != "00000000000000000000000000000000",
        "the producer span has a trace id"
    );
    let received = Arc::new(Mutex::new(None::<String>));
    let shutdown = CancellationToken::new();
    let sink = received.clone();
    let stop = shutdown.clone();
    let on_message = handler(move |_incoming| {
        let sink = sink.clone();
        let stop = stop.clone();
        async move {
            *sink.lock().map_err(|e| HandlerError::Transient(e.to_string()))? =
                Some(omni_kafka::trace::current_trace_id());
            stop.cancel();
            Ok(())
        }
    });
    let spec = ConsumerSpec {
        service: "test",
        name: "trace",
        topics: vec![Topic::Inventory],
        batching: None,
    };
    tokio::time::timeout(
        WAIT,
        broker
            .kafka
            .consume(spec, producer, metrics(), on_message, shutdown),
    )
    .await??;
    let got = received.lock().map_err(|e| anyhow::anyhow!("{e}"))?.clone();
    ensure!(
        got.as_deref() == Some(sent_trace.as_str()),
        "{}: consumer trace {got:?} != producer trace {sent_trace}",
        broker.name
    );
    Ok(())
}

async fn futures_lite_block(
    producer: &omni_kafka::Producer,
    envelope: Envelope<InventoryEvent>,
) -> anyhow::Result<()> {
    use tracing::Instrument;
    producer
        .publish(&envelope)
        .instrument(tracing::Span::current())
        .await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_outbox_relay_delivers_once_after_a_crash_between_commit_and_send() -> anyhow::Result<()> {
    for (backend, broker) in [Backend::Sqlite, Backend::Postgres]
        .into_iter()
        .zip(brokers().await?)
    {
        let database = TestDatabase::create(backend)?;
        let db = database.migrated(omni_db::COMMON_MIGRATIONS).await?;
        let event = movement()?;
        let id = event.id.to_string();
        // The state change committed with its event; then the process died before any relay ran.
        db.transaction(move |conn| omni_kafka::outbox::enqueue(conn, &event))
            .await?;
        let outbox = omni_testkit::testing::settings().outbox;
        // A new process starts its relay: it finds the row and sends it, then deletes it.
        let relay = OutboxRelay::new(
            "test",
            db.clone(),
            broker.kafka.producer(&metrics())?,
            &outbox,
            metrics(),
        );
        ensure!(
            relay.relay_once().await? == 1,
            "{backend:?} via {}: the committed event is sent after the restart",
            broker.name
        );
        ensure!(relay.relay_once().await? == 0, "{backend:?}: and not again");
        let topic = broker.kafka.topic_name(Topic::Inventory).to_owned();
        let seen = omni_testkit::kafka::collect(broker.kafka.bootstrap(), &[&topic], WAIT, |s| !s.is_empty())
            .await?;
        tokio::time::sleep(Duration::from_millis(300)).await;
        let again =
            omni_testkit::kafka::collect(broker.kafka.bootstrap(), &[&topic], WAIT, |s| !s.is_empty())
                .await?;
        ensure!(
            seen.len() == 1 && again.len() == 1,
            "{backend:?}: exactly one message on the topic"
        );
        ensure!(
            seen[0].header("ce_id") == Some(id.as_str()),
            "{backend:?}: it is the committed event"
        );
        let depth = db.run(omni_db::outbox::depth).await?;
        ensure!(depth == 0, "{backend:?}: the outbox is empty");
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_malformed_message_goes_to_the_dead_letter_topic_and_the_next_one_is_handled() -> anyhow::Result<()>
{
    for broker in brokers().await? {
        dead_letters_and_moves_on(&broker).await?;
    }
    Ok(())
}

async fn dead_letters_and_moves_on(broker: &Broker) -> anyhow::Result<()> {
    let producer = broker.kafka.producer(&metrics())?;
    let topic = broker.kafka.topic_name(Topic::Inventory).to_owned();
    let bad_headers = vec![
        ("ce_specversion".to_owned(), "1.0".to_owned()),
        ("ce_id".to_owned(), uuid::Uuid::new_v4().to_string()),
        ("ce_type".to_owned(), "omni.inventory.movement".to_owned()),
        ("ce_source".to_owned(), "/test".to_owned()),
        ("ce_time".to_owned(), "2026-11-23T10:00:00Z".to_owned()),
    ];
    producer
        .send_raw(&topic, "A", &bad_headers, br#"{"event_id": "nope"}"#)
        .await?;
    let good = movement()?;
    let good_id = good.id;
    producer.publish(&good).await?;
    let handled = Arc::new(Mutex::new(Vec::new()));
    let shutdown = CancellationToken::new();
    let (sink, stop) = (handled.clone(), shutdown.clone());
    let on_message = handler(move |incoming| {
        let (sink, stop) = (sink.clone(), stop.clone());
        async move {
            let event = incoming.decode::<InventoryEvent>()?;
            sink.lock()
                .map_err(|e| HandlerError::Transient(e.to_string()))?
                .push(event.id);
            stop.cancel();
            Ok(())
        }
    });
    let spec = ConsumerSpec {
        service: "test",
        name: "dlq",
        topics: vec![Topic::Inventory],
        batching: None,
    };
    tokio::time::timeout(
        WAIT,
        broker
            .kafka
            .consume(spec, producer, metrics(), on_message, shutdown),
    )
    .await??;
    ensure!(
        *handled.lock().map_err(|e| anyhow::anyhow!("{e}"))? == vec![good_id],
        "{}: the good message after the bad one is handled",
        broker.name
    );
    let dlq = broker.kafka.topics().dead_letter_name(Topic::Inventory);
    let dead =
        omni_testkit::kafka::collect(broker.kafka.bootstrap(), &[&dlq], WAIT, |s| !s.is_empty()).await?;
    ensure!(dead[0].body == br#"{"event_id": "nope"}"#, "original bytes kept");
    let reason = dead[0].header("omni_dlq_reason").unwrap_or_default();
    ensure!(
        reason.contains("event_id"),
        "the reason names the field: {reason}"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_that_keeps_failing_is_parked_after_its_retries_and_the_ones_behind_it_go_on()
-> anyhow::Result<()> {
    let brokers = brokers_with(|kafka| {
        kafka.retry.max_attempts = 4;
        kafka.retry.initial_backoff_ms = 5;
        kafka.retry.max_backoff_ms = 20;
    })
    .await?;
    for broker in brokers {
        parks_a_poison_message(&broker).await?;
    }
    Ok(())
}

/// One partition (one key): a message whose handler always fails transiently (a corrupt row), then one whose
/// database is down for longer than the retries allow, then three good ones.
async fn parks_a_poison_message(broker: &Broker) -> anyhow::Result<()> {
    let producer = broker.kafka.producer(&metrics())?;
    let (poison, outage) = (movement()?, movement()?);
    let good = [movement()?, movement()?, movement()?];
    for envelope in [&poison, &outage].into_iter().chain(&good) {
        producer.publish(envelope).await?;
    }
    let tries: Arc<Mutex<std::collections::HashMap<uuid::Uuid, u32>>> = Arc::default();
    let handled = Arc::new(Mutex::new(Vec::new()));
    let shutdown = CancellationToken::new();
    let (poison_id, outage_id) = (poison.id, outage.id);
    let (tried, sink, stop) = (tries.clone(), handled.clone(), shutdown.clone());
    let on_message = handler(move |incoming| {
        let (tried, sink, stop) = (tried.clone(), sink.clone(), stop.clone());
        async move {
            let id = incoming.decode::<InventoryEvent>()?.id;
            let attempt = {
                let mut tries = tried.lock().map_err(|e| HandlerError::Permanent(e.to_string()))?;
                let attempt = tries.entry(id).or_default();
                *attempt += 1;
                *attempt
            };
            if id == poison_id {
                return Err(HandlerError::Transient("the movement's row is corrupt".into()));
            }
            if id == outage_id && attempt <= 6 {
                return Err(HandlerError::Unavailable("the database is down".into()));
            }
            let mut handled = sink.lock().map_err(|e| HandlerError::Permanent(e.to_string()))?;
            handled.push(id);
            if handled.len() == 4 {
                stop.cancel();
            }
            Ok(())
        }
    });
    let spec = ConsumerSpec {
        service: "test",
        name: "poison",
        topics: vec![Topic::Inventory],
        batching: None,
    };
    let registry = metrics();
    tokio::time::timeout(
        WAIT,
        broker
            .kafka
            .consume(spec, producer, registry.clone(), on_message, shutdown),
    )
    .await??;
    let mut expected = vec![outage.id];
    expected.extend(good.iter().map(|g| g.id));
    ensure!(
        *handled.lock().map_err(|e| anyhow::anyhow!("{e}"))? == expected,
        "{}: the messages behind the poison one are handled, in order, and the outage is waited out",
        broker.name
    );
    let tries = tries.lock().map_err(|e| anyhow::anyhow!("{e}"))?.clone();
    ensure!(
        tries.get(&poison.id) == Some(&4) && tries.get(&outage.id) == Some(&7),
        "{}: the poison message is tried 4 times (kafka.retry.max_attempts), the outage 7: {tries:?}",
        broker.name
    );
    let dlq = broker.kafka.topics().dead_letter_name(Topic::Inventory);
    let dead =
        omni_testkit::kafka::collect(broker.kafka.bootstrap(), &[&dlq], WAIT, |s| !s.is_empty()).await?;
    ensure!(
        dead.len() == 1 && dead[0].header("ce_id") == Some(poison.id.to_string().as_str()),
        "{}: only the poison message is parked: {dead:?}",
        broker.name
    );
    let reason = dead[0].header("omni_dlq_reason").unwrap_or_default();
    ensure!(
        reason == "still failing after 4 attempts: the movement's row is corrupt"
            && dead[0].header("omni_dlq_cause") == Some("exhausted"),
        "{}: the DLQ copy says why and how: {reason}",
        broker.name
    );
    let parked = registry
        .kafka_dead_lettered
        .with_label_values(&[broker.kafka.topic_name(Topic::Inventory), "poison", "exhausted"])
        .get();
    ensure!(
        parked == 1,
        "{}: omni_kafka_dead_lettered_total counts it: {parked}",
        broker.name
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batched_consumer_handles_waiting_messages_together_and_a_failed_batch_one_by_one()
-> anyhow::Result<()> {
    for broker in brokers().await? {
        batches_and_falls_back(&broker).await?;
    }
    Ok(())
}

async fn batches_and_falls_back(broker: &Broker) -> anyhow::Result<()> {
    let producer = broker.kafka.producer(&metrics())?;
    let topic = broker.kafka.topic_name(Topic::Inventory).to_owned();
    // 20 good movements with one malformed message among the last ones, all waiting before the consumer starts.
    let mut good = Vec::new();
    for n in 0..20 {
        if n == 18 {
            let headers = vec![
                ("ce_specversion".to_owned(), "1.0".to_owned()),
                ("ce_id".to_owned(), uuid::Uuid::new_v4().to_string()),
                ("ce_type".to_owned(), "omni.inventory.movement".to_owned()),
                ("ce_source".to_owned(), "/test".to_owned()),
                ("ce_time".to_owned(), "2026-11-23T10:00:00Z".to_owned()),
            ];
            producer.send_raw(&topic, "A", &headers, b"{}").await?;
        }
        let event = movement()?;
        good.push(event.id);
        producer.publish(&event).await?;
    }
    let batched = Arc::new(Mutex::new(Vec::new()));
    let single = Arc::new(Mutex::new(Vec::new()));
    let shutdown = CancellationToken::new();
    let expected = good.len();
    let done = {
        let (batched, single, stop) = (batched.clone(), single.clone(), shutdown.clone());
        move || {
            let n = batched
                .lock()
                .map_or(0, |b: std::sync::MutexGuard<'_, Vec<_>>| b.len())
                + single
                    .lock()
                    .map_or(0, |s: std::sync::MutexGuard<'_, Vec<_>>| s.len());
            if n >= expected {
                stop.cancel();
            }
        }
    };
    let on_batch: omni_kafka::consumer::BatchHandler = {
        let (sink, done) = (batched.clone(), done.clone());
        Arc::new(move |messages: Vec<omni_kafka::Incoming>| {
            let (sink, done) = (sink.clone(), done.clone());
            Box::pin(async move {
                // All or nothing, as the contract asks: decode every message before recording any.
                let ids = messages
                    .iter()
                    .map(|m| m.decode::<InventoryEvent>().map(|e| e.id))
                    .collect::<Result<Vec<_>, _>>()?;
                sink.lock()
                    .map_err(|e| HandlerError::Transient(e.to_string()))?
                    .extend(ids);
                done();
                Ok(())
            })
        })
    };
    let on_message = {
        let (sink, done) = (single.clone(), done.clone());
        handler(move |incoming| {
            let (sink, done) = (sink.clone(), done.clone());
            async move {
                // A lone message (the embedded broker sometimes hands over just one) is slow: meanwhile the client
                // fetches the rest, and the next reads find batches waiting.
                tokio::time::sleep(Duration::from_millis(50)).await;
                let event = incoming.decode::<InventoryEvent>()?;
                sink.lock()
                    .map_err(|e| HandlerError::Transient(e.to_string()))?
                    .push(event.id);
                done();
                Ok(())
            }
        })
    };
    let spec = ConsumerSpec {
        service: "test",
        name: "batched",
        topics: vec![Topic::Inventory],
        batching: None,
    }
    .batched(8, on_batch);
    tokio::time::timeout(
        WAIT,
        broker
            .kafka
            .consume(spec, producer, metrics(), on_message, shutdown),
    )
    .await??;
    let (batched, single) = (
        batched.lock().map_err(|e| anyhow::anyhow!("{e}"))?.clone(),
        single.lock().map_err(|e| anyhow::anyhow!("{e}"))?.clone(),
    );
    ensure!(
        !batched.is_empty(),
        "{}: waiting messages were handled in batches",
        broker.name
    );
    ensure!(
        !single.is_empty(),
        "{}: the batch with the malformed message was handled one by one",
        broker.name
    );
    let mut all: Vec<_> = batched.iter().chain(single.iter()).copied().collect();
    all.sort();
    let mut want = good.clone();
    want.sort();
    ensure!(
        all == want,
        "{}: every good message handled exactly once",
        broker.name
    );
    let dlq = broker.kafka.topics().dead_letter_name(Topic::Inventory);
    let dead =
        omni_testkit::kafka::collect(broker.kafka.bootstrap(), &[&dlq], WAIT, |s| !s.is_empty()).await?;
    ensure!(
        dead.iter().any(|d| d.body == b"{}"),
        "{}: the malformed message is in the DLQ",
        broker.name
    );
    Ok(())
}

/// An overlapping consumer keeps several batches in flight (never more than it allows), yet every message is
/// handled once and, after a restart in the same group, nothing is read again (every offset was stored, in order).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_overlapping_consumer_keeps_batches_in_flight_and_stores_every_offset() -> anyhow::Result<()> {
    for broker in brokers().await? {
        overlaps_and_commits(&broker).await?;
    }
    Ok(())
}

/// `(batch number, ids)` in the order the batches finished (`usize::MAX`: handled one by one).
type Finished = Arc<Mutex<Vec<(usize, Vec<uuid::Uuid>)>>>;

async fn overlaps_and_commits(broker: &Broker) -> anyhow::Result<()> {
    let producer = broker.kafka.producer(&metrics())?;
    let mut sent = Vec::new();
    for _ in 0..40 {
        let event = movement()?;
        sent.push(event.id);
        producer.publish(&event).await?;
    }
    let finished: Finished = Arc::new(Mutex::new(Vec::new()));
    let started = Arc::new(AtomicUsize::new(0));
    // Batch handlers running at once now, and the most seen.
    let (running, peak) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let consume = |finished: Finished, expected: usize, limit: Duration| {
        let shutdown = CancellationToken::new();
        let stop = shutdown.clone();
        let (started, in_batches, stop_batches) = (started.clone(), finished.clone(), stop.clone());
        let (running, peak) = (running.clone(), peak.clone());
        let on_batch: omni_kafka::consumer::BatchHandler =
            Arc::new(move |messages: Vec<omni_kafka::Incoming>| {
                let (finished, stop, started) = (in_batches.clone(), stop_batches.clone(), started.clone());
                let (running, peak) = (running.clone(), peak.clone());
                Box::pin(async move {
                    let n = started.fetch_add(1, SeqCst);
                    peak.fetch_max(running.fetch_add(1, SeqCst) + 1, SeqCst);
                    // Each batch commits slowly, so the next ones are read and started meanwhile.
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    running.fetch_sub(1, SeqCst);
                    let ids = messages
                        .iter()
                        .map(|m| m.decode::<InventoryEvent>().map(|e| e.id))
                        .collect::<Result<Vec<_>, _>>()?;
                    let mut finished = finished
                        .lock()
                        .map_err(|e| HandlerError::Transient(e.to_string()))?;
                    finished.push((n, ids));
                    if finished.iter().map(|(_, ids)| ids.len()).sum::<usize>() >= expected {
                        stop.cancel();
                    }
                    Ok(())
                })
            });
        let on_message = {
            let (finished, stop) = (finished.clone(), stop.clone());
            handler(move |incoming| {
                let (finished, stop) = (finished.clone(), stop.clone());
                async move {
                    // A lone message (the broker handed over just one) is slow too: meanwhile the client fetches
                    // the rest, and the next reads find batches waiting.
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    let id = incoming.decode::<InventoryEvent>()?.id;
                    let mut finished = finished
                        .lock()
                        .map_err(|e| HandlerError::Transient(e.to_string()))?;
                    finished.push((usize::MAX, vec![id]));
                    if finished.iter().map(|(_, ids)| ids.len()).sum::<usize>() >= expected {
                        stop.cancel();
                    }
                    Ok(())
                }
            })
        };
        let spec = ConsumerSpec {
            service: "test",
            name: "overlapping",
            topics: vec![Topic::Inventory],
            batching: None,
        }
        .batched(4, on_batch)
        .overlapping(3);
        let kafka = broker.kafka.clone();
        let producer = producer.clone();
        async move {
            let stopper = shutdown.clone();
            let stop_later = tokio::spawn(async move {
                tokio::time::sleep(limit).await;
                stopper.cancel();
            });
            let outcome = kafka
                .consume(spec, producer, metrics(), on_message, shutdown)
                .await;
            stop_later.abort();
            outcome
        }
    };
    tokio::time::timeout(WAIT, consume(finished.clone(), sent.len(), WAIT)).await??;
    let first_run = finished.lock().map_err(|e| anyhow::anyhow!("{e}"))?.clone();
    let mut handled: Vec<uuid::Uuid> = first_run.iter().flat_map(|(_, ids)| ids.clone()).collect();
    handled.sort();
    let mut want = sent.clone();
    want.sort();
    ensure!(
        handled == want,
        "{}: every message handled exactly once",
        broker.name
    );
    let peak = peak.load(SeqCst);
    ensure!(
        (2..=3).contains(&peak),
        "{}: batches overlapped, three at most (peak {peak}; batches in finishing order {:?})",
        broker.name,
        first_run.iter().map(|(n, _)| *n).collect::<Vec<_>>()
    );
    // The same group again: everything was committed, so nothing comes back within a few seconds.
    let again = Arc::new(Mutex::new(Vec::new()));
    tokio::time::timeout(WAIT, consume(again.clone(), 1, Duration::from_secs(5))).await??;
    let again = again.lock().map_err(|e| anyhow::anyhow!("{e}"))?.clone();
    ensure!(
        again.is_empty(),
        "{}: {} batches read again after a clean restart",
        broker.name,
        again.len()
    );
    Ok(())
}

/// A broker that answers a produce with `OutOfOrderSequenceNumber` (its idempotence state for the producer was lost,
/// as seen in CI while a service was being killed) puts librdkafka's idempotent producer in a fatal state: every
/// later send fails. The producer replaces its client, so the next try goes through.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_producer_that_hits_a_fatal_error_recovers_on_the_next_send() -> anyhow::Result<()> {
    use rdkafka::mocking::MockCluster;
    use rdkafka::types::{RDKafkaApiKey, RDKafkaRespErr};

    omni_telemetry::init_for_tests();
    let cluster = MockCluster::new(1)?;
    cluster.create_topic("fatal.test", 1, 1)?;
    let settings = omni_testkit::testing::settings();
    let kafka = Kafka::new(&settings.kafka, &cluster.bootstrap_servers());
    let producer = kafka.producer(&metrics())?;
    producer.send_raw("fatal.test", "k", &[], b"first").await?;
    cluster.request_errors(
        RDKafkaApiKey::Produce,
        &[RDKafkaRespErr::RD_KAFKA_RESP_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER],
    );
    let refused = producer.send_raw("fatal.test", "k", &[], b"second").await;
    ensure!(refused.is_err(), "the broker refused the send: {refused:?}");
    let mut sent = false;
    for _ in 0..3 {
        if producer.send_raw("fatal.test", "k", &[], b"second").await.is_ok() {
            sent = true;
            break;
        }
    }
    ensure!(sent, "a send after the fatal error goes through");
    Ok(())
}
