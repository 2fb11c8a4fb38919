//! Refunds by id (their idempotency key), in the caller's transaction.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use omni_contracts::{Currency, Money, OrderId, PaymentIntentId};
use omni_db::DbConnection;

use super::schema::refunds;
use crate::error::{Error, Result};

/// A refund as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredRefund {
    /// Its id, chosen by the caller.
    pub id: String,
    /// The order refunded.
    pub order_id: OrderId,
    /// The order's intent.
    pub payment_intent_id: PaymentIntentId,
    /// What was asked.
    pub amount: Money,
    /// Why.
    pub reason: String,
    /// Who asked.
    pub requested_by: String,
    /// Done: its PSP results are recorded and announced.
    pub refunded: bool,
    /// When it was asked.
    pub created_at: DateTime<Utc>,
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = refunds)]
struct Row {
    id: String,
    order_id: String,
    payment_intent_id: String,
    amount_minor: i64,
    currency: String,
    reason: String,
    requested_by: String,
    status: String,
    created_at: chrono::NaiveDateTime,
}

fn from_row(row: Row) -> Result<StoredRefund> {
    let Row {
        id,
        order_id,
        payment_intent_id: intent,
        amount_minor,
        currency,
        reason,
        requested_by,
        status,
        created_at,
    } = row;
    let corrupt = |reason: String| Error::Corrupt {
        what: "refund",
        reason,
    };
    Ok(StoredRefund {
        order_id: OrderId::parse(&order_id).map_err(|e| corrupt(e.to_string()))?,
        payment_intent_id: PaymentIntentId::parse(&intent).map_err(|e| corrupt(e.to_string()))?,
        amount: Money {
            amount_minor,
            currency: Currency::parse(&currency).map_err(|e| corrupt(e.to_string()))?,
        },
        reason,
        requested_by,
        refunded: status == "refunded",
        created_at: created_at.and_utc(),
        id,
    })
}

/// The refund `id`.
pub fn find(conn: &mut DbConnection, id: &str) -> Result<Option<StoredRefund>> {
    let row: Option<Row> = refunds::table
        .find(id)
        .select(Row::as_select())
        .first(conn)
        .optional()?;
    row.map(from_row).transpose()
}

/// Refunds asked before `before` whose results are not all in yet (the PSP did not answer): at most `limit`.
pub fn unfinished(
    conn: &mut DbConnection,
    before: chrono::DateTime<chrono::Utc>,
    limit: i64,
) -> Result<Vec<StoredRefund>> {
    let rows: Vec<Row> = refunds::table
        .filter(refunds::status.eq("requested"))
        .filter(refunds::created_at.lt(before.naive_utc()))
        .order(refunds::created_at.asc())
        .limit(limit)
        .select(Row::as_select())
        .load(conn)?;
    rows.into_iter().map(from_row).collect()
}

/// Stores a refund as asked.
pub fn insert(conn: &mut DbConnection, refund: &StoredRefund) -> Result<()> {
    diesel::insert_into(refunds::table)
        .values((
            refunds::id.eq(&refund.id),
            refunds::order_id.eq(refund.order_id.to_string()),
            refunds::payment_intent_id.eq(refund.payment_intent_id.to_string()),
            refunds::amount_minor.eq(refund.amount.amount_minor),
            refunds::currency.eq(refund.amount.currency.as_str()),
            refunds::reason.eq(&refund.reason),
            refunds::requested_by.eq(&refund.requested_by),
            refunds::status.eq(if refund.refunded { "refunded" } else { "requested" }),
            refunds::created_at.eq(refund.created_at.naive_utc()),
        ))
        .execute(conn)?;
    Ok(())
}

/// Marks a refund done; `false` when it was done before.
pub fn mark_refunded(conn: &mut DbConnection, id: &str) -> Result<bool> {
    let changed = diesel::update(refunds::table.find(id).filter(refunds::status.eq("requested")))
        .set(refunds::status.eq("refunded"))
        .execute(conn)?;
    Ok(changed == 1)
}
