//! Reading topics from the beginning with a throwaway consumer group: `omni demo` reads the marketplace's
//! acknowledgements and dead letters with it, the tests read what the services published.

use std::time::Duration;

use rdkafka::Message;
use rdkafka::consumer::{Consumer, StreamConsumer};

/// One consumed message.
#[derive(Debug, Clone)]
pub struct Seen {
    /// Physical topic.
    pub topic: String,
    /// Key.
    pub key: String,
    /// Headers.
    pub headers: Vec<(String, String)>,
    /// Body.
    pub body: Vec<u8>,
}

impl Seen {
    /// A header's value.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The body as JSON (`Null` if it is not JSON).
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or(serde_json::Value::Null)
    }
}

/// Reads `topics` from the beginning until `done` holds for what was read, or `limit` passes.
pub async fn collect(
    bootstrap: &str,
    topics: &[&str],
    limit: Duration,
    done: impl Fn(&[Seen]) -> bool,
) -> anyhow::Result<Vec<Seen>> {
    let consumer: StreamConsumer = rdkafka::ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set(
            "group.id",
            format!("omni-test-reader-{}", uuid::Uuid::new_v4().simple()),
        )
        .set("auto.offset.reset", "earliest")
        .set("enable.auto.commit", "false")
        .set("fetch.wait.max.ms", "10")
        .create()?;
    consumer.subscribe(topics)?;
    let deadline = tokio::time::Instant::now() + limit;
    let mut seen = Vec::new();
    while !done(&seen) {
        let message = tokio::select! {
            m = consumer.recv() => m?,
            _ = tokio::time::sleep_until(deadline) => anyhow::bail!("gave up reading {topics:?} after {limit:?}; read {} messages", seen.len()),
        };
        let headers = omni_kafka::headers_as_text(&message);
        seen.push(Seen {
            topic: message.topic().to_owned(),
            key: message
                .key()
                .map(|k| String::from_utf8_lossy(k).into_owned())
                .unwrap_or_default(),
            headers,
            body: message.payload().map(<[u8]>::to_vec).unwrap_or_default(),
        });
    }
    Ok(seen)
}

/// The CloudEvents headers of a partner order on its `omni.orders.inbound.<partner>.v1` (binary mode), as a marketplace sends
/// them: `ce_type` `omni.partner_order.submitted`, the given `ce_id` and `ce_source` (e.g. `/partners/<id>`), now.
pub fn partner_order_headers(ce_id: &str, source: &str) -> Vec<(String, String)> {
    vec![
        ("ce_specversion".to_owned(), "1.0".to_owned()),
        ("ce_id".to_owned(), ce_id.to_owned()),
        ("ce_type".to_owned(), "omni.partner_order.submitted".to_owned()),
        ("ce_source".to_owned(), source.to_owned()),
        ("ce_time".to_owned(), chrono::Utc::now().to_rfc3339()),
    ]
}
