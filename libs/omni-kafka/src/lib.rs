//! Kafka for Omni services: an idempotent producer, at-least-once consumers that store offsets only after the
//! handler committed, CloudEvents headers with W3C `traceparent` propagation, the transactional outbox relay,
//! the dead-letter helper, topic provisioning and the embedded broker used by `omni dev`.

pub mod consumer;
pub mod dead_letters;
pub mod embedded;
pub mod outbox;
pub mod producer;
pub mod topics;
pub mod trace;

use std::collections::BTreeMap;
use std::time::Duration;

use omni_config::KafkaSettings;
use omni_contracts::Topic;
use rdkafka::ClientConfig;

pub use consumer::{ConsumerSpec, HandlerError, Incoming};
pub use embedded::EmbeddedKafka;
pub use outbox::{OutboxRelay, outbox_message};
pub use producer::Producer;

/// A message's headers as text, in order: `(name, value)`, values that are not UTF-8 read lossily (tools and
/// tests that read topics; the consumers keep theirs in [`Incoming`]).
pub fn headers_as_text<M: rdkafka::Message>(message: &M) -> Vec<(String, String)> {
    use rdkafka::message::Headers;
    message
        .headers()
        .map(|h| {
            h.iter()
                .map(|x| {
                    (
                        x.key.to_owned(),
                        String::from_utf8_lossy(x.value.unwrap_or_default()).into_owned(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Why a Kafka operation failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The broker could not be reached at start.
    #[error("cannot reach Kafka at {bootstrap} (kafka.bootstrap_servers): {reason}")]
    Unreachable {
        /// The configured bootstrap servers.
        bootstrap: String,
        /// What the client said.
        reason: String,
    },
    /// The client library reported an error.
    #[error("kafka: {0}")]
    Client(#[from] rdkafka::error::KafkaError),
    /// The outbox could not be read or updated.
    #[error(transparent)]
    Db(#[from] omni_db::Error),
}

/// Result with [`Error`] as the default error.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Connection settings and topic names shared by a service's producer and consumers.
#[derive(Clone, Debug)]
pub struct Kafka {
    bootstrap: String,
    settings: KafkaSettings,
    topics: topics::TopicNames,
}

impl Kafka {
    /// Settings for a broker at `bootstrap` (the configured one, or the embedded broker's address).
    pub fn new(settings: &KafkaSettings, bootstrap: &str) -> Self {
        Self {
            bootstrap: bootstrap.to_owned(),
            settings: settings.clone(),
            topics: topics::TopicNames::new(&settings.topics),
        }
    }

    /// With an inbound topic of its own for each of `partners` ([`topics::TopicNames::with_partners`]).
    #[must_use]
    pub fn with_partners<'a>(mut self, partners: impl IntoIterator<Item = &'a str>) -> Self {
        self.topics = self.topics.with_partners(partners);
        self
    }

    /// The bootstrap servers in use.
    pub fn bootstrap(&self) -> &str {
        &self.bootstrap
    }

    /// Physical topic names.
    pub fn topics(&self) -> &topics::TopicNames {
        &self.topics
    }

    /// The configured name of a topic.
    pub fn topic_name(&self, topic: Topic) -> &str {
        self.topics.name(topic)
    }

    pub(crate) fn client_config(&self) -> ClientConfig {
        let mut config = ClientConfig::new();
        config.set("bootstrap.servers", &self.bootstrap);
        let extra: &BTreeMap<String, omni_config::Secret> = &self.settings.properties;
        for (key, value) in extra {
            config.set(key, value.expose());
        }
        config
    }

    /// Creates the idempotent producer.
    pub fn producer(&self, metrics: &omni_telemetry::Metrics) -> Result<Producer> {
        Producer::new(self, metrics.clone())
    }

    /// Checks the broker answers a metadata request (start-up and `/health/ready`).
    pub async fn ping(&self, timeout: Duration) -> Result<()> {
        let config = self.client_config();
        let bootstrap = self.bootstrap.clone();
        tokio::task::spawn_blocking(move || {
            use rdkafka::producer::Producer as _;
            let client: rdkafka::producer::BaseProducer = config.create()?;
            client
                .client()
                .fetch_metadata(None, timeout)
                .map(|_| ())
                .map_err(|e| Error::Unreachable {
                    bootstrap,
                    reason: e.to_string(),
                })
        })
        .await
        .map_err(|e| Error::Unreachable {
            bootstrap: self.bootstrap.clone(),
            reason: e.to_string(),
        })?
    }

    pub(crate) fn settings(&self) -> &KafkaSettings {
        &self.settings
    }
}
