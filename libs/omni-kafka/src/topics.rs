//! Physical topic names, dead-letter topics, and provisioning on a real broker.

use std::collections::BTreeMap;
use std::time::Duration;

use omni_contracts::Topic;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;

use crate::{Kafka, Result};

/// Partitions per topic when Omni creates them.
pub const DEFAULT_PARTITIONS: i32 = 3;

/// Logical topic → physical name, with config overrides applied.
#[derive(Clone, Debug)]
pub struct TopicNames {
    names: BTreeMap<Topic, String>,
}

impl TopicNames {
    /// Names from defaults and the `kafka.topics` overrides.
    pub fn new(overrides: &BTreeMap<String, String>) -> Self {
        let names = Topic::ALL
            .iter()
            .map(|t| {
                (
                    *t,
                    overrides
                        .get(t.key())
                        .cloned()
                        .unwrap_or_else(|| t.default_name().to_owned()),
                )
            })
            .collect();
        Self { names }
    }

    /// The physical name of a topic.
    pub fn name(&self, topic: Topic) -> &str {
        self.names
            .get(&topic)
            .map_or(topic.default_name(), String::as_str)
    }

    /// The logical topic of a physical name.
    pub fn topic_of(&self, name: &str) -> Option<Topic> {
        self.names
            .iter()
            .find(|(_, n)| n.as_str() == name)
            .map(|(t, _)| *t)
    }

    /// Where a consumer of `topic` dead-letters what it cannot handle: the inbound topic has its own
    /// contract DLQ; every other topic gets `<name>.dlq`.
    pub fn dead_letter_name(&self, topic: Topic) -> String {
        match topic {
            Topic::OrdersInbound => self.name(Topic::OrdersInboundDlq).to_owned(),
            other => format!("{}.dlq", self.name(other)),
        }
    }

    /// Every topic Omni uses, with its DLQ, and whether it is compacted.
    pub fn all_physical(&self) -> Vec<(String, bool)> {
        let mut all: Vec<(String, bool)> = Topic::ALL
            .iter()
            .map(|t| (self.name(*t).to_owned(), t.compacted()))
            .collect();
        for topic in Topic::ALL
            .iter()
            .filter(|t| !matches!(t, Topic::OrdersInbound | Topic::OrdersInboundDlq))
        {
            all.push((self.dead_letter_name(*topic), false));
        }
        all
    }
}

/// Creates every topic (and DLQ) that does not exist yet. Existing topics are left as they are.
pub async fn ensure_topics(kafka: &Kafka) -> Result<()> {
    let admin: AdminClient<DefaultClientContext> = kafka.client_config().create()?;
    let all = kafka.topics().all_physical();
    let new: Vec<NewTopic<'_>> = all
        .iter()
        .map(|(name, compacted)| {
            let topic = NewTopic::new(name, DEFAULT_PARTITIONS, TopicReplication::Fixed(1));
            if *compacted {
                topic.set("cleanup.policy", "compact")
            } else {
                topic
            }
        })
        .collect();
    let options = AdminOptions::new().operation_timeout(Some(Duration::from_secs(10)));
    for result in admin.create_topics(&new, &options).await? {
        match result {
            Ok(_) | Err((_, rdkafka::types::RDKafkaErrorCode::TopicAlreadyExists)) => {}
            Err((name, code)) => {
                tracing::warn!(topic = %name, error = %code, "Could not create topic; continuing, the broker may auto-create it.")
            }
        }
    }
    Ok(())
}
