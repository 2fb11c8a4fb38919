//! At-least-once consumers: a message's offset is stored only after its handler committed; a message that can
//! never be handled, or still fails after its bounded retries, goes to the dead-letter topic with the reason in
//! headers and its bytes untouched, so the partition never stalls (`omni dlq` inspects and replays it).

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use omni_contracts::{ContractError, Envelope, EventPayload, Topic};
use rdkafka::Message;
use rdkafka::consumer::{CommitMode, Consumer, ConsumerContext, StreamConsumer};
use rdkafka::message::Headers;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use crate::{Kafka, Producer, Result};

/// A received message, detached from the client: its topic, key and headers as text in one buffer, its body in
/// another (a message costs three allocations, not two per header).
#[derive(Debug, Clone)]
pub struct Incoming {
    /// The logical topic.
    pub topic: Topic,
    /// Partition and offset, for logs and the DLQ.
    pub partition: i32,
    /// Offset in the partition.
    pub offset: i64,
    /// The raw body.
    pub payload: Vec<u8>,
    /// The partner whose own inbound topic carried it: only that partner can write there (Kafka ACLs), so this,
    /// unlike anything in the message, is who sent it. `None` on every other topic.
    pub sender_partner: Option<String>,
    /// The physical topic name, the key, then each header's name and value, one after another.
    text: String,
    /// Where each piece of `text` ends, in that order.
    ends: Vec<usize>,
}

impl Incoming {
    /// A message as the client would hand it over; header values that are not UTF-8 are read lossily.
    pub(crate) fn new<'a>(
        topic: Topic,
        topic_name: &str,
        partition: i32,
        offset: i64,
        key: &[u8],
        headers: impl IntoIterator<Item = (&'a str, &'a [u8])>,
        payload: Vec<u8>,
    ) -> Self {
        let mut text = String::with_capacity(topic_name.len() + key.len() + 256);
        let mut ends = Vec::with_capacity(18);
        text.push_str(topic_name);
        ends.push(text.len());
        text.push_str(&String::from_utf8_lossy(key));
        ends.push(text.len());
        for (name, value) in headers {
            text.push_str(name);
            ends.push(text.len());
            text.push_str(&String::from_utf8_lossy(value));
            ends.push(text.len());
        }
        Self {
            topic,
            partition,
            offset,
            payload,
            sender_partner: None,
            text,
            ends,
        }
    }

    /// The `n`th piece of text (0: topic name, 1: key, then header names and values).
    fn piece(&self, n: usize) -> &str {
        let start = match n.checked_sub(1) {
            Some(before) => self.ends.get(before).copied().unwrap_or(0),
            None => 0,
        };
        let end = self.ends.get(n).copied().unwrap_or(start);
        self.text.get(start..end).unwrap_or_default()
    }

    /// The physical topic it came from.
    pub fn topic_name(&self) -> &str {
        self.piece(0)
    }

    /// The Kafka key (lossily, if it is not UTF-8).
    pub fn key(&self) -> &str {
        self.piece(1)
    }

    /// Every header, in order: `(name, value)`.
    pub fn headers(&self) -> impl Iterator<Item = (&str, &str)> {
        (2..self.ends.len())
            .step_by(2)
            .map(|n| (self.piece(n), self.piece(n + 1)))
    }

    /// A header's value.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers().find(|(k, _)| *k == name).map(|(_, v)| v)
    }

    /// The CloudEvents id (the inbox key).
    pub fn event_id(&self) -> &str {
        self.header("ce_id").unwrap_or("")
    }

    /// Decodes the CloudEvent.
    pub fn decode<T: EventPayload>(&self) -> Result<Envelope<T>, ContractError> {
        Envelope::from_parts(|name| self.header(name), &self.payload)
    }
}

/// How a handler failed: the variant decides the message's fate.
#[derive(Debug, thiserror::Error)]
pub enum HandlerError {
    /// The message can never succeed (bad schema, broken business rule): dead-letter it at once and move on.
    #[error("{0}")]
    Permanent(String),
    /// This message failed in a way that may pass (a conflict, a reference not known yet): retried with capped
    /// exponential backoff, then dead-lettered once `kafka.retry.max_attempts` tries all failed, so it never
    /// stalls its partition.
    #[error("{0}")]
    Transient(String),
    /// A dependency every message needs is down (the database unreachable, its pool exhausted): retried with
    /// capped backoff for as long as it lasts. Parking each message would empty the topic into its DLQ during an
    /// outage; the service's readiness says it is unwell meanwhile.
    #[error("{0}")]
    Unavailable(String),
}

impl From<ContractError> for HandlerError {
    fn from(e: ContractError) -> Self {
        HandlerError::Permanent(e.to_string())
    }
}

impl From<omni_db::Error> for HandlerError {
    fn from(e: omni_db::Error) -> Self {
        match e {
            omni_db::Error::Pool(_) | omni_db::Error::Connect { .. } => {
                HandlerError::Unavailable(e.to_string())
            }
            omni_db::Error::Query(e) => e.into(),
            other => HandlerError::Transient(other.to_string()),
        }
    }
}

impl From<diesel::result::Error> for HandlerError {
    fn from(e: diesel::result::Error) -> Self {
        use diesel::result::{DatabaseErrorKind, Error};
        match e {
            Error::DatabaseError(
                DatabaseErrorKind::ClosedConnection | DatabaseErrorKind::UnableToSendCommand,
                _,
            )
            | Error::BrokenTransactionManager => HandlerError::Unavailable(e.to_string()),
            _ => HandlerError::Transient(e.to_string()),
        }
    }
}

/// How a failing message is retried: `initial`, doubling up to `max` between tries; a [`HandlerError::Transient`]
/// failure at most `max_attempts` times in all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Tries of a transiently failing message before it is dead-lettered (at least 1).
    pub max_attempts: u32,
    /// The first wait.
    pub initial: Duration,
    /// The longest wait.
    pub max: Duration,
}

impl RetryPolicy {
    /// From `kafka.retry`.
    pub fn from_settings(settings: &omni_config::RetrySettings) -> Self {
        Self {
            max_attempts: settings.max_attempts.max(1),
            initial: Duration::from_millis(settings.initial_backoff_ms.max(1)),
            max: Duration::from_millis(settings.max_backoff_ms.max(settings.initial_backoff_ms).max(1)),
        }
    }

    /// The wait after the `attempt`th failure (1-based): `initial · 2^(attempt-1)`, at most `max`.
    pub fn backoff(&self, attempt: u32) -> Duration {
        let doubled = self
            .initial
            .saturating_mul(1u32 << attempt.saturating_sub(1).min(20));
        doubled.min(self.max)
    }
}

/// Why a message went to its DLQ (the `omni_dlq_cause` header and the `cause` label of
/// `omni_kafka_dead_lettered_total`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParkCause {
    /// The handler said it can never succeed.
    Permanent,
    /// Every try allowed failed.
    Exhausted,
}

impl ParkCause {
    /// `permanent` or `exhausted`.
    pub fn as_str(self) -> &'static str {
        match self {
            ParkCause::Permanent => "permanent",
            ParkCause::Exhausted => "exhausted",
        }
    }
}

/// A handler's work on a message or a batch, not started yet.
pub type Handling = Pin<Box<dyn Future<Output = Result<(), HandlerError>> + Send>>;

/// A message handler.
pub type Handler = Arc<dyn Fn(Incoming) -> Handling + Send + Sync>;

/// A handler of several messages at once (in the order they were received), all or nothing: `Ok` means every
/// one of them is handled and committed; on `Err` nothing of the batch may have been committed, and the consumer
/// hands each message to the one-message [`Handler`] instead (which retries or dead-letters it on its own).
pub type BatchHandler = Arc<dyn Fn(Vec<Incoming>) -> Handling + Send + Sync>;

/// A consumer's batch handler and the most messages it takes at once.
#[derive(Clone)]
pub struct Batching {
    /// Most messages per batch: what has already arrived is taken, the consumer never waits to fill a batch.
    pub max: usize,
    /// The handler.
    pub handler: BatchHandler,
    /// Most batches handled at once: 1, or more with [`ConsumerSpec::overlapping`].
    pub in_flight: usize,
}

impl std::fmt::Debug for Batching {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Batching")
            .field("max", &self.max)
            .field("in_flight", &self.in_flight)
            .finish()
    }
}

/// What a consumer reads and who it is.
#[derive(Debug, Clone)]
pub struct ConsumerSpec {
    /// The service; the group id is `<prefix>.<service>.<name>`.
    pub service: &'static str,
    /// The consumer's name within the service (also its inbox name).
    pub name: &'static str,
    /// Topics to subscribe to.
    pub topics: Vec<Topic>,
    /// When set, messages already waiting are handled together (one transaction for many), which is what lets
    /// a consumer keep up with a busy topic: a commit per message bounds it by commit latency.
    pub batching: Option<Batching>,
}

impl ConsumerSpec {
    /// Handles up to `max` waiting messages at once with `handler` (see [`BatchHandler`]).
    pub fn batched(mut self, max: usize, handler: BatchHandler) -> Self {
        self.batching = Some(Batching {
            max: max.max(1),
            handler,
            in_flight: 1,
        });
        self
    }

    /// Reads and handles the next batches while the ones before are still committing, up to `batches` at once:
    /// the consumer's own work (parsing, checks) and the database's commits overlap. Offsets are still stored in
    /// order, each batch's only once it and every batch before it are handled. Only for a consumer whose
    /// messages do not depend on each other's order (batches may commit in any order; a handler that must see
    /// one message before another in a later batch cannot use this). Without [`Self::batched`], nothing changes.
    pub fn overlapping(mut self, batches: usize) -> Self {
        if let Some(batching) = &mut self.batching {
            batching.in_flight = batches.max(1);
        }
        self
    }
}

/// Stores a handled message's offset for the next commit. A partition taken away by a rebalance meanwhile
/// refuses it; its new owner reads the message again, and the inbox skips what was committed.
fn store_offset<C: ConsumerContext>(
    consumer: &StreamConsumer<C>,
    message: &rdkafka::message::BorrowedMessage<'_>,
) {
    if let Err(e) = consumer.store_offset_from_message(message) {
        tracing::warn!(topic = message.topic(), partition = message.partition(), offset = message.offset(), error = %e, "Offset not stored (partition reassigned?); the message will be read again.");
    }
}

/// A batch handed to its handler, with the messages whose offsets wait for it.
struct InFlight<'c> {
    outcome: tokio::task::JoinHandle<Result<(), HandlerError>>,
    messages: Vec<rdkafka::message::BorrowedMessage<'c>>,
}

/// The outcome of the oldest batch in flight, once it has one; never, when there is none.
async fn settled(in_flight: &mut VecDeque<InFlight<'_>>) -> Result<(), HandlerError> {
    match in_flight.front_mut() {
        Some(batch) => (&mut batch.outcome).await.unwrap_or_else(panicked),
        None => std::future::pending().await,
    }
}

/// A batch handler that panicked failed: its messages are handled one by one.
fn panicked(e: tokio::task::JoinError) -> Result<(), HandlerError> {
    Err(HandlerError::Transient(format!("batch handler panicked: {e}")))
}

/// What one running consumer works with.
struct Run<'a, C: ConsumerContext + 'static> {
    kafka: &'a Kafka,
    spec: &'a ConsumerSpec,
    consumer: &'a StreamConsumer<C>,
    producer: &'a Producer,
    metrics: &'a omni_telemetry::Metrics,
    handler: &'a Handler,
    shutdown: &'a CancellationToken,
}

impl<C: ConsumerContext + 'static> Run<'_, C> {
    /// The batch handler's work on these messages, in its tracing span (not started yet).
    fn start_batch(
        &self,
        batching: &Batching,
        messages: &[rdkafka::message::BorrowedMessage<'_>],
    ) -> tracing::instrument::Instrumented<Handling> {
        let batch: Vec<Incoming> = messages.iter().map(|m| self.kafka.detach(m)).collect();
        let span = tracing::info_span!(
            "kafka.consume_batch",
            otel.kind = "consumer",
            omni.service = self.spec.service,
            messaging.system = "kafka",
            messaging.destination.name = messages.first().map_or("", |m| m.topic()),
            messaging.consumer.group.name = self.spec.name,
            messaging.batch.message_count = batch.len(),
        );
        (batching.handler)(batch).instrument(span)
    }

    /// Waits for the oldest batches in flight until at most `keep` are left, settling each in order; `false` if
    /// shutdown left a message unhandled.
    async fn settle_in_flight(&self, in_flight: &mut VecDeque<InFlight<'_>>, keep: usize) -> bool {
        while in_flight.len() > keep {
            let outcome = settled(in_flight).await;
            let messages = in_flight
                .pop_front()
                .map(|batch| batch.messages)
                .unwrap_or_default();
            if !self.settle(&messages, outcome).await {
                return false;
            }
        }
        true
    }

    /// Stores a handled batch's offsets, or, when the batch failed, hands its messages one by one to the
    /// one-message handler (which retries or dead-letters each); `false` if shutdown left a message unhandled.
    async fn settle(
        &self,
        messages: &[rdkafka::message::BorrowedMessage<'_>],
        outcome: Result<(), HandlerError>,
    ) -> bool {
        match outcome {
            Ok(()) => {
                if let Some(first) = messages.first() {
                    self.metrics
                        .kafka_consumed
                        .with_label_values(&[first.topic(), "ok"])
                        .inc_by(messages.len() as u64);
                }
                for message in messages {
                    store_offset(self.consumer, message);
                }
                true
            }
            Err(e) => {
                tracing::debug!(consumer = self.spec.name, error = %e, messages = messages.len(), "Batch not handled; handling its messages one by one.");
                self.handle_each(messages).await
            }
        }
    }

    /// Handles messages one at a time, storing each offset once handled; `false` if shutdown left one unhandled.
    async fn handle_each(&self, messages: &[rdkafka::message::BorrowedMessage<'_>]) -> bool {
        for message in messages {
            let incoming = self.kafka.detach(message);
            match self
                .kafka
                .handle(
                    self.spec,
                    self.producer,
                    self.metrics,
                    self.handler,
                    incoming,
                    self.shutdown,
                )
                .await
            {
                Handled::Done => store_offset(self.consumer, message),
                // Shutting down mid-retry: leave the offset, the message is handled after restart.
                Handled::Abandoned => return false,
            }
        }
        true
    }
}

impl Kafka {
    /// Runs a consumer until `shutdown`, then commits the stored offsets.
    pub async fn consume(
        &self,
        spec: ConsumerSpec,
        producer: Producer,
        metrics: omni_telemetry::Metrics,
        handler: Handler,
        shutdown: CancellationToken,
    ) -> Result<()> {
        let group = format!("{}.{}.{}", self.settings().group_prefix, spec.service, spec.name);
        let mut config = self.client_config();
        config
            .set("group.id", &group)
            .set("enable.auto.commit", "true")
            .set("auto.commit.interval.ms", "500")
            .set("enable.auto.offset.store", "false")
            .set("auto.offset.reset", "earliest")
            .set("fetch.wait.max.ms", self.settings().fetch_wait_max_ms.to_string())
            .set("session.timeout.ms", "10000")
            .set("heartbeat.interval.ms", "1000")
            .set("topic.metadata.refresh.interval.ms", "5000");
        // Operators may tune how fast a dead member is noticed: `kafka.properties` win over these defaults.
        for key in ["session.timeout.ms", "heartbeat.interval.ms"] {
            if let Some(value) = self.settings().properties.get(key) {
                config.set(key, value.expose());
            }
        }
        config.set("statistics.interval.ms", "5000");
        let consumer: StreamConsumer<LagContext> = config.create_with_context(LagContext {
            consumer: format!("{}.{}", spec.service, spec.name),
            lag: metrics.kafka_consumer_lag.clone(),
        })?;
        let mut names: Vec<&str> = spec.topics.iter().map(|t| self.topic_name(*t)).collect();
        if spec.topics.contains(&Topic::OrdersInbound) {
            // Each partner's own inbound topic is read with the shared one.
            names.extend(self.topics().partner_inbound_names());
        }
        consumer.subscribe(&names)?;
        tracing::info!(consumer = %group, topics = ?names, "Consumer started.");
        let run = Run {
            kafka: self,
            spec: &spec,
            consumer: &consumer,
            producer: &producer,
            metrics: &metrics,
            handler: &handler,
            shutdown: &shutdown,
        };
        // With `overlapping`, the batches still committing while the next one is read, oldest first.
        let mut in_flight: VecDeque<InFlight<'_>> = VecDeque::new();
        let mut abandoned = false;
        loop {
            let message = tokio::select! {
                _ = shutdown.cancelled() => break,
                outcome = settled(&mut in_flight) => {
                    // Nothing new arrived while the oldest batch in flight committed: settle it now.
                    let messages = in_flight.pop_front().map(|batch| batch.messages).unwrap_or_default();
                    if !run.settle(&messages, outcome).await {
                        abandoned = true;
                        break;
                    }
                    continue;
                }
                m = consumer.recv() => m,
            };
            let message = match message {
                Ok(m) => m,
                Err(e) => {
                    tracing::warn!(consumer = %group, error = %e, "Kafka receive failed; retrying.");
                    tokio::time::sleep(Duration::from_millis(200)).await;
                    continue;
                }
            };
            let mut messages = vec![message];
            if let Some(batching) = &spec.batching {
                use futures::FutureExt;
                while messages.len() < batching.max {
                    match consumer.recv().now_or_never() {
                        Some(Ok(next)) => messages.push(next),
                        _ => break,
                    }
                }
            }
            let batch = spec
                .batching
                .as_ref()
                .filter(|_| messages.len() > 1)
                .map(|batching| (batching, run.start_batch(batching, &messages)));
            let outcome = match batch {
                Some((batching, running)) if batching.in_flight > 1 => {
                    // With as many batches in flight as allowed, the oldest settles first: offsets in order.
                    in_flight.push_back(InFlight {
                        outcome: tokio::spawn(running),
                        messages,
                    });
                    if !run.settle_in_flight(&mut in_flight, batching.in_flight - 1).await {
                        abandoned = true;
                        break;
                    }
                    continue;
                }
                Some((_, running)) => Some(running.await),
                None => None,
            };
            // A lone message (or a consumer without batches) waits for the batch in flight: offsets in order.
            let handled = run.settle_in_flight(&mut in_flight, 0).await
                && match outcome {
                    Some(outcome) => run.settle(&messages, outcome).await,
                    None => run.handle_each(&messages).await,
                };
            if !handled {
                abandoned = true;
                break;
            }
        }
        // Batches still in flight finish their transactions; their offsets are stored only if nothing before them
        // was left unhandled (otherwise they are read again after restart, and the inbox skips what they committed).
        if !abandoned {
            run.settle_in_flight(&mut in_flight, 0).await;
        }
        for batch in in_flight {
            let _ = batch.outcome.await;
        }
        if let Err(e) = consumer.commit_consumer_state(CommitMode::Sync) {
            tracing::debug!(consumer = %group, error = %e, "Nothing to commit at shutdown.");
        }
        tracing::info!(consumer = %group, "Consumer stopped.");
        Ok(())
    }

    fn detach(&self, message: &rdkafka::message::BorrowedMessage<'_>) -> Incoming {
        let headers = message.headers();
        let headers = headers
            .iter()
            .flat_map(|h| h.iter())
            .map(|header| (header.key, header.value.unwrap_or_default()));
        let mut incoming = Incoming::new(
            self.topics().topic_of(message.topic()).unwrap_or(Topic::Signals),
            message.topic(),
            message.partition(),
            message.offset(),
            message.key().unwrap_or_default(),
            headers,
            message.payload().map(<[u8]>::to_vec).unwrap_or_default(),
        );
        incoming.sender_partner = self.topics().partner_of(message.topic()).map(str::to_owned);
        incoming
    }

    async fn handle(
        &self,
        spec: &ConsumerSpec,
        producer: &Producer,
        metrics: &omni_telemetry::Metrics,
        handler: &Handler,
        incoming: Incoming,
        shutdown: &CancellationToken,
    ) -> Handled {
        let span = tracing::info_span!(
            "kafka.consume",
            otel.kind = "consumer",
            omni.service = spec.service,
            messaging.system = "kafka",
            messaging.destination.name = %incoming.topic_name(),
            messaging.consumer.group.name = spec.name,
            // Header values are whatever the sender wrote: never a card number in a log line or a trace.
            ce_type = %omni_contracts::card_data::mask_text(incoming.header("ce_type").unwrap_or("")),
            ce_id = %omni_contracts::card_data::mask_text(incoming.event_id()),
        );
        crate::trace::continue_from(&span, incoming.headers());
        // Audit entries written while handling name the event (as their request) and the trace.
        let audit = omni_db::audit::Context {
            request_id: Some(format!(
                "event:{}",
                omni_contracts::card_data::mask_text(incoming.event_id())
            )),
            trace_id: span.in_scope(crate::trace::current_trace_id_if_any),
        };
        let mut attempt: u32 = 0;
        loop {
            let handled = handler(incoming.clone()).instrument(span.clone());
            match omni_db::audit::CONTEXT.scope(audit.clone(), handled).await {
                Ok(()) => {
                    metrics
                        .kafka_consumed
                        .with_label_values(&[incoming.topic_name(), "ok"])
                        .inc();
                    return Handled::Done;
                }
                Err(failure) => {
                    attempt += 1;
                    let policy = RetryPolicy::from_settings(&self.settings().retry);
                    let park = match &failure {
                        HandlerError::Permanent(reason) => Some((ParkCause::Permanent, reason.clone())),
                        HandlerError::Transient(reason) if attempt >= policy.max_attempts => Some((
                            ParkCause::Exhausted,
                            format!("still failing after {attempt} attempts: {reason}"),
                        )),
                        HandlerError::Transient(_) | HandlerError::Unavailable(_) => None,
                    };
                    if let Some((cause, reason)) = park {
                        let _entered = span.enter();
                        tracing::warn!(
                            topic = %incoming.topic_name(), partition = incoming.partition, offset = incoming.offset,
                            cause = cause.as_str(), reason = %omni_contracts::card_data::mask_text(&reason),
                            "Message cannot be handled; sending it to the dead-letter topic."
                        );
                        drop(_entered);
                        if self
                            .dead_letter(producer, spec, &incoming, cause, &reason, shutdown)
                            .await
                        {
                            metrics
                                .kafka_consumed
                                .with_label_values(&[incoming.topic_name(), "dead_lettered"])
                                .inc();
                            metrics
                                .kafka_dead_lettered
                                .with_label_values(&[incoming.topic_name(), spec.name, cause.as_str()])
                                .inc();
                            return Handled::Done;
                        }
                        return Handled::Abandoned;
                    }
                    metrics
                        .kafka_consumed
                        .with_label_values(&[incoming.topic_name(), "retried"])
                        .inc();
                    let backoff = policy.backoff(attempt);
                    tracing::warn!(
                        topic = %incoming.topic_name(), offset = incoming.offset, attempt,
                        reason = %omni_contracts::card_data::mask_text(&failure.to_string()),
                        "Handler failed; retrying the same message."
                    );
                    tokio::select! {
                        _ = shutdown.cancelled() => return Handled::Abandoned,
                        _ = tokio::time::sleep(backoff) => {}
                    }
                }
            }
        }
    }

    /// Publishes the original bytes and headers to the DLQ, adding `omni_dlq_*` headers with the reason; but
    /// what looks like a card number is masked (and `omni_dlq_redacted` says so): card data never leaves the
    /// vault (DESIGN §6). Retries until the broker takes it or shutdown; `false` means it was not sent.
    async fn dead_letter(
        &self,
        producer: &Producer,
        spec: &ConsumerSpec,
        incoming: &Incoming,
        cause: ParkCause,
        reason: &str,
        shutdown: &CancellationToken,
    ) -> bool {
        let dlq = self.topics().dead_letter_name(incoming.topic);
        let DeadLetter {
            key,
            payload,
            mut headers,
            redacted,
        } = redact_card_numbers(incoming);
        if redacted {
            tracing::warn!(topic = %incoming.topic_name(), offset = incoming.offset, "A dead-lettered message held what looks like a card number; masked in the DLQ copy.");
            headers.push(("omni_dlq_redacted".into(), "card-number".into()));
        }
        // A reason may quote what the message carried: masked like the body.
        let reason = omni_contracts::card_data::mask_text(reason);
        headers.push(("omni_dlq_reason".into(), reason.into_owned()));
        headers.push(("omni_dlq_cause".into(), cause.as_str().to_owned()));
        headers.push(("omni_dlq_topic".into(), incoming.topic_name().to_owned()));
        headers.push(("omni_dlq_partition".into(), incoming.partition.to_string()));
        headers.push(("omni_dlq_offset".into(), incoming.offset.to_string()));
        headers.push((
            "omni_dlq_consumer".into(),
            format!("{}.{}", spec.service, spec.name),
        ));
        loop {
            match producer.send_raw(&dlq, &key, &headers, &payload).await {
                Ok(()) => return true,
                Err(e) => {
                    tracing::warn!(dlq = %dlq, error = %e, "Dead-letter publish failed; retrying.");
                    tokio::select! {
                        _ = shutdown.cancelled() => return false,
                        _ = tokio::time::sleep(Duration::from_millis(500)) => {}
                    }
                }
            }
        }
    }
}

/// A message as it goes to the DLQ.
struct DeadLetter<'a> {
    key: String,
    payload: std::borrow::Cow<'a, [u8]>,
    headers: Vec<(String, String)>,
    /// Whether anything was masked.
    redacted: bool,
}

/// The key, payload and headers of a message to dead-letter, with card-number-like digit runs masked.
fn redact_card_numbers(incoming: &Incoming) -> DeadLetter<'_> {
    use omni_contracts::card_data::{mask_card_numbers, mask_text};
    let mut redacted = false;
    let mut text = |value: &str| {
        let masked = mask_text(value);
        redacted |= matches!(masked, std::borrow::Cow::Owned(_));
        masked.into_owned()
    };
    let key = text(incoming.key());
    let headers = incoming
        .headers()
        .map(|(name, value)| (name.to_owned(), text(value)))
        .collect();
    let payload = match mask_card_numbers(&incoming.payload) {
        Some(masked) => {
            redacted = true;
            std::borrow::Cow::Owned(masked)
        }
        None => std::borrow::Cow::Borrowed(incoming.payload.as_slice()),
    };
    DeadLetter {
        key,
        payload,
        headers,
        redacted,
    }
}

/// Publishes each assigned partition's consumer lag from librdkafka's statistics.
struct LagContext {
    consumer: String,
    lag: prometheus::IntGaugeVec,
}

impl rdkafka::ClientContext for LagContext {
    fn stats(&self, statistics: rdkafka::Statistics) {
        for (topic, stats) in &statistics.topics {
            for (partition, p) in &stats.partitions {
                // -1 is librdkafka's internal unassigned partition; a lag of -1 means "not known yet".
                if *partition >= 0 && p.consumer_lag >= 0 {
                    self.lag
                        .with_label_values(&[&self.consumer, topic, &partition.to_string()])
                        .set(p.consumer_lag);
                }
            }
        }
    }
}

impl rdkafka::consumer::ConsumerContext for LagContext {}

enum Handled {
    Done,
    Abandoned,
}

/// Wraps an async closure as a [`Handler`].
pub fn handler<F, Fut>(f: F) -> Handler
where
    F: Fn(Incoming) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(), HandlerError>> + Send + 'static,
{
    Arc::new(move |incoming| Box::pin(f(incoming)))
}

/// Wraps an async function of `(state, messages)` as a [`BatchHandler`]; the state is cloned per batch.
pub fn stateful_batch<S, F, Fut>(state: S, f: F) -> BatchHandler
where
    S: Clone + Send + Sync + 'static,
    F: Fn(S, Vec<Incoming>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(), HandlerError>> + Send + 'static,
{
    Arc::new(move |batch| Box::pin(f(state.clone(), batch)))
}

/// Wraps an async function of `(state, message)` as a [`Handler`]; the state is cloned per message.
pub fn stateful<S, F, Fut>(state: S, f: F) -> Handler
where
    S: Clone + Send + Sync + 'static,
    F: Fn(S, Incoming) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(), HandlerError>> + Send + 'static,
{
    Arc::new(move |incoming| Box::pin(f(state.clone(), incoming)))
}
