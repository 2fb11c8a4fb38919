//! The transactional outbox: an event is written in the same transaction as the state change it announces,
//! and a relay (in `omni-kafka`) publishes and then deletes it. Never "write the DB, then send".

use diesel::prelude::*;

use crate::schema::omni_outbox;
use crate::{DbConnection, Result};

/// One event waiting to be published.
#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, Insertable)]
#[diesel(table_name = omni_outbox)]
pub struct OutboxMessage {
    /// The CloudEvents id (UUIDv7, so ids sort by creation).
    pub id: String,
    /// Logical topic key, e.g. `orders`.
    pub topic: String,
    /// Kafka key: the aggregate id.
    pub message_key: String,
    /// JSON array of `[name, value]` header pairs.
    pub headers: String,
    /// The JSON body.
    pub body: String,
    /// When it was written.
    pub created_at: chrono::NaiveDateTime,
}

impl OutboxMessage {
    /// Decodes the stored headers.
    pub fn header_pairs(&self) -> Vec<(String, String)> {
        serde_json::from_str(&self.headers).unwrap_or_default()
    }
}

/// Adds a message in the caller's transaction.
pub fn enqueue(conn: &mut DbConnection, message: &OutboxMessage) -> Result<()> {
    diesel::insert_into(omni_outbox::table)
        .values(message)
        .execute(conn)?;
    Ok(())
}

/// The oldest unsent messages.
pub fn pending(conn: &mut DbConnection, limit: i64) -> Result<Vec<OutboxMessage>> {
    Ok(omni_outbox::table
        .order(omni_outbox::id.asc())
        .limit(limit)
        .select(OutboxMessage::as_select())
        .load(conn)?)
}

/// Forgets messages the broker acknowledged.
pub fn delete_sent(conn: &mut DbConnection, ids: &[String]) -> Result<usize> {
    Ok(diesel::delete(omni_outbox::table.filter(omni_outbox::id.eq_any(ids))).execute(conn)?)
}

/// How many messages wait (the outbox depth metric).
pub fn depth(conn: &mut DbConnection) -> Result<i64> {
    Ok(omni_outbox::table.count().get_result(conn)?)
}
