//! One Prometheus registry per service, with the metrics every service shares.

use prometheus::{HistogramOpts, HistogramVec, IntCounterVec, IntGaugeVec, Opts, Registry};

use crate::Result;

/// Latency buckets in seconds, from 1 ms to 10 s.
pub const LATENCY_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// A service's registry and its shared metrics. Cloning shares them.
#[derive(Clone, Debug)]
pub struct Metrics {
    /// The registry `/metrics` renders; services register their own metrics here too.
    pub registry: Registry,
    /// `omni_http_requests_total{route,method,status}`.
    pub http_requests: IntCounterVec,
    /// `omni_http_request_duration_seconds{route,method}`.
    pub http_duration: HistogramVec,
    /// `omni_kafka_messages_consumed_total{topic,outcome}` (outcome: ok, duplicate, dead_lettered, retried).
    pub kafka_consumed: IntCounterVec,
    /// `omni_kafka_dead_lettered_total{topic,consumer,cause}` (cause: permanent, exhausted): messages parked in
    /// a DLQ. Any increase wants a look (`omni dlq list`); the `OmniMessagesParked` alert fires on it.
    pub kafka_dead_lettered: IntCounterVec,
    /// `omni_kafka_messages_produced_total{topic}`.
    pub kafka_produced: IntCounterVec,
    /// `omni_outbox_depth`: events written but not yet acknowledged by the broker.
    pub outbox_depth: IntGaugeVec,
    /// `omni_kafka_consumer_lag_messages{consumer,topic,partition}`: messages behind the partition's end, from the
    /// client's statistics every 5 s.
    pub kafka_consumer_lag: IntGaugeVec,
}

impl Metrics {
    /// A registry whose every metric carries `service="<name>"`.
    pub fn new(service: &str) -> Result<Self> {
        let labels = std::collections::HashMap::from([("service".to_owned(), service.to_owned())]);
        let registry = Registry::new_custom(Some("omni".to_owned()), Some(labels))?;
        let http_requests = IntCounterVec::new(
            Opts::new("http_requests_total", "HTTP requests served"),
            &["route", "method", "status"],
        )?;
        let http_duration = HistogramVec::new(
            HistogramOpts::new("http_request_duration_seconds", "HTTP request latency")
                .buckets(LATENCY_BUCKETS.to_vec()),
            &["route", "method"],
        )?;
        let kafka_consumed = IntCounterVec::new(
            Opts::new(
                "kafka_messages_consumed_total",
                "Kafka messages handled, by outcome",
            ),
            &["topic", "outcome"],
        )?;
        let kafka_dead_lettered = IntCounterVec::new(
            Opts::new(
                "kafka_dead_lettered_total",
                "Kafka messages parked in a dead-letter topic, by cause",
            ),
            &["topic", "consumer", "cause"],
        )?;
        let kafka_produced = IntCounterVec::new(
            Opts::new(
                "kafka_messages_produced_total",
                "Kafka messages acknowledged by the broker",
            ),
            &["topic"],
        )?;
        let outbox_depth = IntGaugeVec::new(
            Opts::new("outbox_depth", "Outbox events not yet published"),
            &["relay"],
        )?;
        let kafka_consumer_lag = IntGaugeVec::new(
            Opts::new(
                "kafka_consumer_lag_messages",
                "Messages between a consumer's position and the end of the partition",
            ),
            &["consumer", "topic", "partition"],
        )?;
        registry.register(Box::new(kafka_consumer_lag.clone()))?;
        registry.register(Box::new(http_requests.clone()))?;
        registry.register(Box::new(http_duration.clone()))?;
        registry.register(Box::new(kafka_consumed.clone()))?;
        registry.register(Box::new(kafka_dead_lettered.clone()))?;
        registry.register(Box::new(kafka_produced.clone()))?;
        registry.register(Box::new(outbox_depth.clone()))?;
        Ok(Self {
            registry,
            http_requests,
            http_duration,
            kafka_consumed,
            kafka_dead_lettered,
            kafka_produced,
            outbox_depth,
            kafka_consumer_lag,
        })
    }

    /// The registry in the Prometheus text format.
    pub fn render(&self) -> String {
        use prometheus::Encoder;
        let mut buf = Vec::new();
        let _ = prometheus::TextEncoder::new().encode(&self.registry.gather(), &mut buf);
        String::from_utf8(buf).unwrap_or_default()
    }
}
