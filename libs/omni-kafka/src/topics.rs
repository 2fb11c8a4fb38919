//! Physical topic names, dead-letter topics, and provisioning on a real broker.

use std::collections::BTreeMap;
use std::time::Duration;

use omni_contracts::Topic;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;

use crate::{Kafka, Result};

/// Partitions per topic when Omni creates them.
pub const DEFAULT_PARTITIONS: i32 = 3;

/// Logical topic → physical name, with config overrides applied, and each registered partner's own inbound topic.
#[derive(Clone, Debug)]
pub struct TopicNames {
    names: BTreeMap<Topic, String>,
    /// Physical name of a partner's own inbound topic → the partner.
    partner_inbound: BTreeMap<String, String>,
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
        Self {
            names,
            partner_inbound: BTreeMap::new(),
        }
    }

    /// These names with an inbound topic of its own for each partner ([`Self::partner_inbound_name`]): what a
    /// consumer of [`Topic::OrdersInbound`] also reads, and what provisioning creates.
    #[must_use]
    pub fn with_partners<'a>(mut self, partners: impl IntoIterator<Item = &'a str>) -> Self {
        self.partner_inbound = partners
            .into_iter()
            .map(|partner| (self.partner_inbound_name(partner), partner.to_owned()))
            .collect();
        self
    }

    /// The inbound topic of one partner: the inbound topic's name with the partner before its version,
    /// `omni.orders.inbound.<partner>.v1` by default. Only that partner may write to it (Kafka ACLs,
    /// `docs/schemas/partner-intake.md`), so a message read from it is that partner's whatever it says.
    pub fn partner_inbound_name(&self, partner: &str) -> String {
        let shared = self.name(Topic::OrdersInbound);
        match shared.strip_suffix(".v1") {
            Some(stem) => format!("{stem}.{partner}.v1"),
            None => format!("{shared}.{partner}"),
        }
    }

    /// The partner whose own inbound topic this is, if it is one.
    pub fn partner_of(&self, name: &str) -> Option<&str> {
        self.partner_inbound.get(name).map(String::as_str)
    }

    /// The physical names of the partners' own inbound topics.
    pub fn partner_inbound_names(&self) -> impl Iterator<Item = &str> {
        self.partner_inbound.keys().map(String::as_str)
    }

    /// The physical name of a topic.
    pub fn name(&self, topic: Topic) -> &str {
        self.names
            .get(&topic)
            .map_or(topic.default_name(), String::as_str)
    }

    /// The logical topic of a physical name (a partner's own inbound topic is [`Topic::OrdersInbound`]).
    pub fn topic_of(&self, name: &str) -> Option<Topic> {
        if self.partner_inbound.contains_key(name) {
            return Some(Topic::OrdersInbound);
        }
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
        all.extend(self.partner_inbound.keys().map(|name| (name.clone(), false)));
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_partner_has_an_inbound_topic_of_its_own_read_as_the_inbound_topic() {
        let names = TopicNames::new(&BTreeMap::new()).with_partners(["acme", "other-market"]);
        assert_eq!(names.partner_inbound_name("acme"), "omni.orders.inbound.acme.v1");
        assert_eq!(names.partner_of("omni.orders.inbound.acme.v1"), Some("acme"));
        assert_eq!(names.partner_of("omni.orders.inbound.v1"), None);
        assert_eq!(names.partner_of("omni.orders.inbound.dlq.v1"), None);
        assert_eq!(
            names.topic_of("omni.orders.inbound.other-market.v1"),
            Some(Topic::OrdersInbound)
        );
        let all = names.all_physical();
        assert!(
            all.iter()
                .any(|(n, _)| n == "omni.orders.inbound.other-market.v1")
        );

        let prefixed = BTreeMap::from([(
            "orders_inbound".to_owned(),
            "t1.omni.orders.inbound.v1".to_owned(),
        )]);
        let names = TopicNames::new(&prefixed).with_partners(["acme"]);
        assert_eq!(
            names.partner_inbound_name("acme"),
            "t1.omni.orders.inbound.acme.v1"
        );
    }
}
