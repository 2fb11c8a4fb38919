//! The outbox relay: publishes what services committed to their `omni_outbox` table, in creation order, then
//! deletes it. A crash between commit and send only delays the event; a crash between send and delete sends
//! it again, and consumers drop the replay through their inbox (they deduplicate on `ce_id`).

use std::sync::Arc;
use std::time::Duration;

use diesel::connection::SimpleConnection;
use omni_contracts::{Envelope, EventPayload, Topic};
use omni_db::outbox::{self, OutboxMessage};
use omni_db::{Db, DbConnection};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::{Producer, Result};

/// Builds the outbox row of an event, with the current span's `traceparent`.
pub fn outbox_message<T: EventPayload>(envelope: &Envelope<T>) -> OutboxMessage {
    let mut headers: Vec<(String, String)> = envelope
        .headers()
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
    crate::trace::inject_current(&mut headers);
    OutboxMessage {
        id: envelope.id.to_string(),
        topic: T::TOPIC.key().to_owned(),
        message_key: envelope.data.key(),
        headers: serde_json::to_string(&headers).unwrap_or_else(|_| "[]".to_owned()),
        body: String::from_utf8_lossy(&envelope.data.encode()).into_owned(),
        created_at: omni_db::now(),
    }
}

/// Writes an event to the outbox in the caller's transaction.
pub fn enqueue<T: EventPayload>(conn: &mut DbConnection, envelope: &Envelope<T>) -> omni_db::Result<()> {
    outbox::enqueue(conn, &outbox_message(envelope))
}

/// Publishes a service's outbox.
#[derive(Clone)]
pub struct OutboxRelay {
    db: Db,
    producer: Producer,
    name: String,
    batch_size: i64,
    poll_interval: Duration,
    wake: Arc<Notify>,
    metrics: omni_telemetry::Metrics,
}

impl std::fmt::Debug for OutboxRelay {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OutboxRelay").field("name", &self.name).finish()
    }
}

impl OutboxRelay {
    /// A relay for `name`'s outbox (the name also keys its leader lock on PostgreSQL).
    pub fn new(
        name: &str,
        db: Db,
        producer: Producer,
        settings: &omni_config::OutboxSettings,
        metrics: omni_telemetry::Metrics,
    ) -> Self {
        Self {
            db,
            producer,
            name: name.to_owned(),
            batch_size: settings.batch_size,
            poll_interval: Duration::from_millis(settings.poll_interval_ms.max(1)),
            wake: Arc::new(Notify::new()),
            metrics,
        }
    }

    /// Wakes the relay at once; call after committing a transaction that wrote to the outbox.
    pub fn waker(&self) -> Arc<Notify> {
        self.wake.clone()
    }

    /// Runs until `shutdown`, then publishes what is left (bounded by one more round) and returns.
    pub async fn run(self, shutdown: CancellationToken) {
        let mut lock = None;
        loop {
            if lock.is_none() {
                lock = self.acquire_leadership().await;
            }
            if lock.is_some() {
                match self.relay_once().await {
                    Ok(sent) if sent as i64 == self.batch_size => continue,
                    Ok(_) => {}
                    Err(e) => {
                        tracing::warn!(relay = %self.name, error = %e, "Outbox relay round failed; retrying.")
                    }
                }
            }
            tokio::select! {
                _ = shutdown.cancelled() => break,
                _ = self.wake.notified() => {}
                _ = tokio::time::sleep(self.poll_interval) => {}
            }
        }
        if lock.is_some()
            && let Err(e) = self.relay_once().await
        {
            tracing::warn!(relay = %self.name, error = %e, "Outbox not fully drained at shutdown; the next start sends the rest.");
        }
        self.producer.flush(Duration::from_secs(5));
    }

    /// On PostgreSQL only one relay per service schema may publish (several pods share it): it holds a session
    /// advisory lock on a dedicated connection. SQLite is single-process; no lock is needed.
    async fn acquire_leadership(&self) -> Option<LeaderLock> {
        if !self.db.is_postgres() {
            return Some(LeaderLock(None));
        }
        let db = self.db.clone();
        let key = lock_key(&self.name);
        let taken = tokio::task::spawn_blocking(move || -> omni_db::Result<Option<LeaderLock>> {
            use diesel::prelude::*;
            let mut conn = db.get()?;
            #[derive(QueryableByName)]
            struct Taken {
                #[diesel(sql_type = diesel::sql_types::Bool)]
                taken: bool,
            }
            let DbConnection::Pg(pg) = &mut *conn else {
                return Ok(Some(LeaderLock(None)));
            };
            let row: Taken =
                diesel::sql_query(format!("SELECT pg_try_advisory_lock({key}) AS taken")).get_result(pg)?;
            Ok(row.taken.then_some(LeaderLock(Some(conn))))
        })
        .await;
        match taken {
            Ok(Ok(lock)) => lock,
            Ok(Err(e)) => {
                tracing::warn!(relay = %self.name, error = %e, "Cannot take the outbox leader lock; retrying.");
                None
            }
            Err(_) => None,
        }
    }

    /// Sends one batch; returns how many were sent.
    pub async fn relay_once(&self) -> Result<usize> {
        let limit = self.batch_size;
        let batch = self.db.run(move |conn| outbox::pending(conn, limit)).await?;
        if batch.is_empty() {
            self.metrics.outbox_depth.with_label_values(&[&self.name]).set(0);
            return Ok(0);
        }
        let sends = batch.iter().map(|m| async move {
            let topic = crate::topics::TopicNames::topic_key(&m.topic)
                .map(|t| self.producer.topic_name(t).to_owned())
                .unwrap_or_else(|| m.topic.clone());
            self.producer
                .send_raw(&topic, &m.message_key, &m.header_pairs(), m.body.as_bytes())
                .await
                .map(|()| m.id.clone())
        });
        let results = futures::future::join_all(sends).await;
        let mut sent = Vec::with_capacity(results.len());
        let mut first_error = None;
        for result in results {
            match result {
                Ok(id) => sent.push(id),
                Err(e) => first_error = first_error.or(Some(e)),
            }
        }
        let count = sent.len();
        let depth = self
            .db
            .run(move |conn| {
                outbox::delete_sent(conn, &sent)?;
                outbox::depth(conn)
            })
            .await?;
        self.metrics
            .outbox_depth
            .with_label_values(&[&self.name])
            .set(depth);
        match first_error {
            Some(e) => Err(e),
            None => Ok(count),
        }
    }
}

struct LeaderLock(
    #[allow(dead_code, reason = "held only to keep the advisory lock's session open")]
    Option<omni_db::PooledConnection>,
);

fn lock_key(name: &str) -> i64 {
    // Every pod of a service contends for the same lock.
    omni_db::lock_key(&format!("omni-outbox:{name}"))
}

/// Runs raw SQL on a connection (used by tests that simulate crashes).
pub fn execute(conn: &mut DbConnection, sql: &str) -> omni_db::Result<()> {
    conn.batch_execute(sql).map_err(omni_db::Error::Query)
}

impl crate::topics::TopicNames {
    /// The logical topic of an outbox row's topic key.
    pub fn topic_key(key: &str) -> Option<Topic> {
        Topic::ALL.iter().copied().find(|t| t.key() == key)
    }
}
