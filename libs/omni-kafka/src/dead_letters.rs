//! The dead-letter topics as an operator sees them: what is parked there and why, and re-driving it to the topic it
//! came from once the cause is fixed (`omni dlq list|show|replay`).
//!
//! Replaying is idempotent twice over: the consumers apply an event once (their inbox claims its `ce_id`; partner
//! intake knows each partner order id), and the replay consumer group (`<kafka.group_prefix>.dlq-replay`) records
//! how far each DLQ partition was replayed, so a second replay sends only what was parked since.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use omni_contracts::Topic;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::{Message, Offset, TopicPartitionList};

use crate::{Error, Kafka, Producer, Result};

/// The headers the consumer adds when it parks a message (`omni_dlq_reason`, ...); a replay takes them off.
pub const DLQ_HEADER_PREFIX: &str = "omni_dlq_";

/// A message parked in a dead-letter topic.
#[derive(Debug, Clone)]
pub struct Parked {
    /// The DLQ it is in.
    pub dlq: String,
    /// Its partition there.
    pub partition: i32,
    /// Its offset there.
    pub offset: i64,
    /// Its key (as sent, card numbers masked).
    pub key: String,
    /// Its headers: the original ones, then `omni_dlq_*`.
    pub headers: Vec<(String, String)>,
    /// Its body (card numbers masked).
    pub payload: Vec<u8>,
    /// Whether a replay already sent it back.
    pub replayed: bool,
}

impl Parked {
    /// A header's value.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// `<partition>:<offset>`, how `omni dlq show` names it.
    pub fn position(&self) -> String {
        format!("{}:{}", self.partition, self.offset)
    }

    /// The physical topic it was read from.
    pub fn original_topic(&self) -> Option<&str> {
        self.header("omni_dlq_topic")
    }

    /// Why it was parked.
    pub fn reason(&self) -> &str {
        self.header("omni_dlq_reason").unwrap_or("")
    }

    /// `permanent`, `exhausted` (or empty for a message parked before causes were recorded).
    pub fn cause(&self) -> &str {
        self.header("omni_dlq_cause").unwrap_or("")
    }

    /// The consumer that parked it, `<service>.<name>`.
    pub fn consumer(&self) -> &str {
        self.header("omni_dlq_consumer").unwrap_or("")
    }

    /// Its CloudEvents id, if it had one.
    pub fn event_id(&self) -> &str {
        self.header("ce_id").unwrap_or("")
    }

    /// The headers it arrived with, without the `omni_dlq_*` ones: what a replay sends.
    pub fn original_headers(&self) -> Vec<(String, String)> {
        self.headers
            .iter()
            .filter(|(k, _)| !k.starts_with(DLQ_HEADER_PREFIX))
            .cloned()
            .collect()
    }
}

/// What a replay did.
#[derive(Debug, Default)]
pub struct Replay {
    /// Sent back to their topics, in order.
    pub replayed: Vec<Parked>,
    /// Left parked: not selected, or without the topic they came from.
    pub left: usize,
}

impl Kafka {
    /// Every dead-letter topic of this deployment: the partner intake's contract DLQ and `<topic>.dlq` of each
    /// other topic.
    pub fn dead_letter_topics(&self) -> Vec<String> {
        Topic::ALL
            .iter()
            .filter(|t| !matches!(t, Topic::OrdersInboundDlq))
            .map(|t| self.topics().dead_letter_name(*t))
            .collect()
    }

    fn replay_group(&self) -> String {
        format!("{}.dlq-replay", self.settings().group_prefix)
    }

    fn replay_consumer(&self) -> Result<BaseConsumer> {
        let mut config = self.client_config();
        config
            .set("group.id", self.replay_group())
            .set("enable.auto.commit", "false")
            .set("enable.auto.offset.store", "false");
        Ok(config.create()?)
    }

    /// Everything parked in `dlq` now (its end when called), at most `limit` messages, oldest first; within
    /// `timeout`. A DLQ that does not exist yet holds nothing.
    pub async fn parked(&self, dlq: &str, limit: usize, timeout: Duration) -> Result<Vec<Parked>> {
        let consumer = self.replay_consumer()?;
        let dlq = dlq.to_owned();
        tokio::task::spawn_blocking(move || read_parked(&consumer, &dlq, limit, timeout))
            .await
            .map_err(|e| unreachable_task(&e))?
    }

    /// Sends what is parked in `dlq` and not replayed yet, and what `select` takes of it, back to the topic each
    /// came from (its original key, body and headers), then records how far the DLQ was replayed: up to the
    /// first message left parked in each partition.
    pub async fn replay(
        &self,
        producer: &Producer,
        dlq: &str,
        select: impl Fn(&Parked) -> bool,
        timeout: Duration,
    ) -> Result<Replay> {
        let parked = self.parked(dlq, usize::MAX, timeout).await?;
        let mut outcome = Replay::default();
        // Per partition: the offset up to which everything is replayed, as long as nothing was left before it.
        let mut done_up_to: BTreeMap<i32, Option<i64>> = BTreeMap::new();
        for message in parked.into_iter().filter(|m| !m.replayed) {
            let contiguous = done_up_to
                .entry(message.partition)
                .or_insert(Some(message.offset));
            let send_to = message
                .original_topic()
                .map(str::to_owned)
                .filter(|_| select(&message));
            let Some(topic) = send_to else {
                outcome.left += 1;
                *contiguous = None;
                continue;
            };
            producer
                .send_raw(
                    &topic,
                    &message.key,
                    &message.original_headers(),
                    &message.payload,
                )
                .await?;
            if let Some(next) = contiguous {
                *next = message.offset + 1;
            }
            outcome.replayed.push(message);
        }
        let mut positions = TopicPartitionList::new();
        for (partition, next) in done_up_to {
            if let Some(next) = next {
                positions.add_partition_offset(dlq, partition, Offset::Offset(next))?;
            }
        }
        if positions.count() > 0 {
            let consumer = self.replay_consumer()?;
            tokio::task::spawn_blocking(move || consumer.commit(&positions, CommitMode::Sync))
                .await
                .map_err(|e| unreachable_task(&e))??;
        }
        Ok(outcome)
    }
}

fn unreachable_task(e: &tokio::task::JoinError) -> Error {
    Error::Unreachable {
        bootstrap: String::new(),
        reason: format!("the Kafka reader stopped: {e}"),
    }
}

/// Reads `dlq` from the start of each partition to its end as it is now.
fn read_parked(consumer: &BaseConsumer, dlq: &str, limit: usize, timeout: Duration) -> Result<Vec<Parked>> {
    let deadline = Instant::now() + timeout;
    let metadata = consumer.fetch_metadata(Some(dlq), timeout)?;
    let partitions: Vec<i32> = metadata
        .topics()
        .iter()
        .filter(|t| t.name() == dlq && t.error().is_none())
        .flat_map(|t| t.partitions().iter().map(|p| p.id()))
        .collect();
    let mut wanted = TopicPartitionList::new();
    for partition in &partitions {
        wanted.add_partition(dlq, *partition);
    }
    let committed = consumer.committed_offsets(wanted, timeout)?;
    let replayed_below = |partition: i32| match committed.find_partition(dlq, partition).map(|p| p.offset()) {
        Some(Offset::Offset(next)) => next,
        _ => 0,
    };
    let mut assignment = TopicPartitionList::new();
    let mut ends = BTreeMap::new();
    for partition in partitions {
        let (low, high) = consumer.fetch_watermarks(dlq, partition, timeout)?;
        if high > low {
            assignment.add_partition_offset(dlq, partition, Offset::Offset(low))?;
            ends.insert(partition, high);
        }
    }
    let mut parked = Vec::new();
    if ends.is_empty() {
        return Ok(parked);
    }
    consumer.assign(&assignment)?;
    let mut next: BTreeMap<i32, i64> = BTreeMap::new();
    while parked.len() < limit
        && ends
            .iter()
            .any(|(p, end)| next.get(p).copied().unwrap_or(0) < *end)
    {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(Error::Unreachable {
                bootstrap: String::new(),
                reason: format!("gave up reading {dlq} after {timeout:?}"),
            });
        }
        let Some(message) = consumer.poll(left.min(Duration::from_millis(500))) else {
            continue;
        };
        let message = message?;
        next.insert(message.partition(), message.offset() + 1);
        let headers = crate::headers_as_text(&message);
        parked.push(Parked {
            dlq: dlq.to_owned(),
            partition: message.partition(),
            offset: message.offset(),
            key: String::from_utf8_lossy(message.key().unwrap_or_default()).into_owned(),
            headers,
            payload: message.payload().map(<[u8]>::to_vec).unwrap_or_default(),
            replayed: message.offset() < replayed_below(message.partition()),
        });
    }
    parked.sort_by_key(|m| (m.partition, m.offset));
    Ok(parked)
}
