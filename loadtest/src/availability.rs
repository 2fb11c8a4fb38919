//! A reader of `omni.availability.v1` for the lag benchmarks: every event's SKU and on-hand at one location, with
//! its arrival time, from the beginning of every partition.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, ensure};
use chrono::{DateTime, Utc};
use omni_contracts::Envelope;
use omni_contracts::events::AvailabilityEvent;
use rdkafka::Message;
use rdkafka::consumer::{Consumer, StreamConsumer};

/// One availability event as seen at the watched location.
#[derive(Debug, Clone)]
pub(crate) struct Seen {
    /// The SKU.
    pub sku: String,
    /// Its on-hand at the location.
    pub on_hand: i64,
    /// When allocation computed it.
    pub computed_at: DateTime<Utc>,
    /// When the reader got it.
    pub at: Instant,
}

/// Reads `omni.availability.v1` from the beginning of every partition, keeping each event's SKU, on-hand at
/// one location and arrival time.
pub(crate) struct Reader {
    seen: Arc<std::sync::Mutex<Vec<Seen>>>,
    below: Arc<AtomicU64>,
    task: tokio::task::JoinHandle<()>,
    stop: tokio_util::sync::CancellationToken,
}

impl Reader {
    /// Starts reading; events whose on-hand at `location` is below `units` are counted as answers.
    pub(crate) fn start(
        bootstrap: &str,
        topic: &str,
        fetch_wait_max_ms: u32,
        location: &str,
        units: i64,
    ) -> anyhow::Result<Self> {
        let location = location.to_owned();
        let consumer: StreamConsumer = rdkafka::ClientConfig::new()
            .set("bootstrap.servers", bootstrap)
            .set(
                "group.id",
                format!("omni-loadtest-reader-{}", crate::backends::run_id()),
            )
            .set("enable.auto.commit", "false")
            .set("fetch.wait.max.ms", fetch_wait_max_ms.to_string())
            .create()
            .context("creating the availability reader")?;
        let metadata = consumer
            .fetch_metadata(Some(topic), Duration::from_secs(10))
            .context("reading the availability topic's partitions")?;
        let partitions = metadata
            .topics()
            .first()
            .map(|t| t.partitions().len())
            .unwrap_or(0);
        ensure!(partitions > 0, "topic {topic} has no partitions");
        let mut assignment = rdkafka::TopicPartitionList::new();
        for p in 0..partitions {
            assignment.add_partition_offset(topic, p as i32, rdkafka::Offset::Beginning)?;
        }
        consumer.assign(&assignment)?;
        let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
        let below = Arc::new(AtomicU64::new(0));
        let stop = tokio_util::sync::CancellationToken::new();
        let task = {
            let (seen, below, stop) = (seen.clone(), below.clone(), stop.clone());
            tokio::spawn(async move {
                loop {
                    let message = tokio::select! {
                        _ = stop.cancelled() => break,
                        m = consumer.recv() => m,
                    };
                    let Ok(message) = message else { continue };
                    let at = Instant::now();
                    let headers: Vec<(String, String)> = omni_kafka::headers_as_text(&message);
                    let header =
                        |name: &str| headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str());
                    let Ok(event) = Envelope::<AvailabilityEvent>::from_parts(
                        header,
                        message.payload().unwrap_or_default(),
                    ) else {
                        continue;
                    };
                    let AvailabilityEvent::Changed(changed_event) = event.data;
                    let Some(at_store) = changed_event
                        .locations
                        .iter()
                        .find(|l| l.location_id.as_str() == location)
                    else {
                        continue;
                    };
                    if at_store.on_hand < units {
                        below.fetch_add(1, Ordering::Relaxed);
                    }
                    if let Ok(mut seen) = seen.lock() {
                        seen.push(Seen {
                            sku: changed_event.sku.to_string(),
                            on_hand: at_store.on_hand,
                            computed_at: changed_event.computed_at,
                            at,
                        });
                    }
                }
            })
        };
        Ok(Self {
            seen,
            below,
            task,
            stop,
        })
    }

    /// SKUs seen with exactly `units` on hand (the receipts' events).
    pub(crate) fn stocked(&self, units: i64) -> usize {
        self.seen.lock().map_or(0, |seen| {
            seen.iter()
                .filter(|s| s.on_hand == units)
                .map(|s| s.sku.as_str())
                .collect::<std::collections::BTreeSet<_>>()
                .len()
        })
    }

    /// Events seen with less on hand than the units given at the start: answers to sales (a redelivered one
    /// counts twice).
    pub(crate) fn answers(&self) -> usize {
        self.below.load(Ordering::Relaxed) as usize
    }

    /// Everything seen so far.
    pub(crate) fn snapshot(&self) -> Vec<Seen> {
        self.seen.lock().map(|s| s.clone()).unwrap_or_default()
    }

    /// Stops reading.
    pub(crate) async fn stop(self) {
        self.stop.cancel();
        let _ = self.task.await;
    }
}
