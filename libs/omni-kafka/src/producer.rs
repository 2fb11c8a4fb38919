//! The idempotent producer.

use std::sync::{Arc, RwLock};
use std::time::Duration;

use omni_contracts::{Envelope, EventPayload, Topic};
use rdkafka::ClientConfig;
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord, Producer as _};

use crate::{Kafka, Result};

/// An idempotent producer (`enable.idempotence`, `acks=all`). Cloning shares it.
///
/// An idempotent producer that meets a fatal error (the broker answered `OutOfOrderSequenceNumber`, say, after a
/// leader change lost the producer's state) refuses every send after it. This one then replaces its client with a
/// fresh one, so the caller's retry (the relay's, a consumer's, a tool's) goes through: at-least-once, and the
/// consumers' inbox takes a message sent twice once.
#[derive(Clone)]
pub struct Producer {
    inner: Arc<RwLock<FutureProducer>>,
    config: ClientConfig,
    kafka: Kafka,
    metrics: omni_telemetry::Metrics,
}

impl std::fmt::Debug for Producer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Producer")
            .field("bootstrap", &self.kafka.bootstrap())
            .finish()
    }
}

impl Producer {
    pub(crate) fn new(kafka: &Kafka, metrics: omni_telemetry::Metrics) -> Result<Self> {
        let mut config = kafka.client_config();
        config
            .set("enable.idempotence", "true")
            .set("acks", "all")
            .set("linger.ms", kafka.settings().linger_ms.to_string())
            .set("message.timeout.ms", "30000")
            .set("compression.type", "none");
        Ok(Self {
            inner: Arc::new(RwLock::new(config.create()?)),
            config,
            kafka: kafka.clone(),
            metrics,
        })
    }

    /// The client in use.
    fn current(&self) -> FutureProducer {
        self.inner
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// After a failed send: when `used` (the client that failed) is in a fatal state, replaces it with a fresh
    /// client, once (a concurrent caller that saw the same failure finds it replaced already).
    fn renew_if_fatal(&self, used: &FutureProducer) {
        let Some((code, reason)) = used.client().fatal_error() else {
            return;
        };
        let mut inner = self
            .inner
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if inner.client().fatal_error().is_none() {
            return;
        }
        match self.config.create::<FutureProducer>() {
            Ok(fresh) => {
                tracing::warn!(?code, %reason, "The Kafka producer hit a fatal error; replaced it with a new one.");
                *inner = fresh;
            }
            Err(e) => {
                tracing::error!(error = %e, "The Kafka producer hit a fatal error and cannot be replaced.")
            }
        }
    }

    /// Sends one message to a physical topic and waits for the broker's acknowledgement.
    pub async fn send_raw(
        &self,
        topic: &str,
        key: &str,
        headers: &[(String, String)],
        body: &[u8],
    ) -> Result<()> {
        let mut owned = OwnedHeaders::new_with_capacity(headers.len());
        for (name, value) in headers {
            owned = owned.insert(Header {
                key: name,
                value: Some(value.as_bytes()),
            });
        }
        let record = FutureRecord::to(topic).key(key).payload(body).headers(owned);
        let producer = self.current();
        if let Err((e, _)) = producer.send(record, Duration::from_secs(30)).await {
            self.renew_if_fatal(&producer);
            return Err(crate::Error::Client(e));
        }
        self.metrics.kafka_produced.with_label_values(&[topic]).inc();
        Ok(())
    }

    /// Publishes an event directly (with the current trace context). Services publish state changes through
    /// the outbox instead; this is for tools, simulators and partners.
    pub async fn publish<T: EventPayload>(&self, envelope: &Envelope<T>) -> Result<()> {
        self.publish_on(self.kafka.topic_name(T::TOPIC), envelope).await
    }

    /// Publishes an event on a topic named outright: a partner's own inbound topic
    /// ([`crate::topics::TopicNames::partner_inbound_name`]) rather than its event's logical topic.
    pub async fn publish_on<T: EventPayload>(&self, topic: &str, envelope: &Envelope<T>) -> Result<()> {
        let mut headers: Vec<(String, String)> = envelope
            .headers()
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v))
            .collect();
        crate::trace::inject_current(&mut headers);
        self.send_raw(topic, &envelope.data.key(), &headers, &envelope.data.encode())
            .await
    }

    /// The physical name of a topic.
    pub fn topic_name(&self, topic: Topic) -> &str {
        self.kafka.topic_name(topic)
    }

    /// Asks the cluster for its metadata over this producer's own connections (a readiness check that opens
    /// nothing new).
    pub async fn ping(&self, timeout: Duration) -> Result<()> {
        let inner = self.current();
        let bootstrap = self.kafka.bootstrap().to_owned();
        tokio::task::spawn_blocking(move || {
            inner
                .client()
                .fetch_metadata(None, timeout)
                .map(|_| ())
                .map_err(|e| e.to_string())
        })
        .await
        .map_err(|e| e.to_string())
        .and_then(|r| r)
        .map_err(|reason| crate::Error::Unreachable { bootstrap, reason })
    }

    /// Waits until every queued message is acknowledged (shutdown).
    pub fn flush(&self, timeout: Duration) {
        let _ = self.current().flush(timeout);
    }
}
