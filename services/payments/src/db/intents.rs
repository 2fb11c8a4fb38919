//! Payment intents: one per order for now, unique by order id (the idempotency key of authorization).

use chrono::NaiveDateTime;
use diesel::prelude::*;
use omni_contracts::{Currency, Money, OrderId, PaymentIntentId};
use omni_db::DbConnection;

use super::schema::payment_intents;
use crate::domain::intent::{IntentStatus, PaymentIntent, TenderRecord};
use crate::error::{Error, Result};

#[derive(Queryable, Selectable)]
#[diesel(table_name = payment_intents)]
struct IntentRow {
    id: String,
    order_id: String,
    amount_minor: i64,
    currency: String,
    status: String,
    psp_reference: Option<String>,
    decline_reason: Option<String>,
    tenders: String,
    created_at: NaiveDateTime,
    payer: String,
    customer_id: Option<String>,
    renew_at: Option<NaiveDateTime>,
}

impl IntentRow {
    fn into_intent(self) -> Result<PaymentIntent> {
        let corrupt = |reason: String| Error::Corrupt {
            what: "payment intent",
            reason,
        };
        Ok(PaymentIntent {
            id: PaymentIntentId::parse(&self.id).map_err(|e| corrupt(e.to_string()))?,
            order_id: OrderId::parse(&self.order_id).map_err(|e| corrupt(e.to_string()))?,
            amount: Money {
                amount_minor: self.amount_minor,
                currency: Currency::parse(&self.currency).map_err(|e| corrupt(e.to_string()))?,
            },
            status: IntentStatus::parse(&self.status)
                .ok_or_else(|| corrupt(format!("unknown status `{}`", self.status)))?,
            psp_reference: self.psp_reference,
            decline_reason: self.decline_reason,
            tenders: serde_json::from_str::<Vec<TenderRecord>>(&self.tenders)
                .map_err(|e| corrupt(e.to_string()))?,
            created_at: self.created_at.and_utc(),
            payer: omni_contracts::api::Payer::parse(&self.payer).unwrap_or_default(),
            customer_id: self
                .customer_id
                .map(|c| omni_contracts::CustomerId::parse(&c))
                .transpose()
                .map_err(|e| corrupt(e.to_string()))?,
            renew_at: self.renew_at.map(|r| r.and_utc()),
        })
    }
}

/// Stores an intent in the caller's transaction. A second intent for the same order fails with a unique
/// violation ([`Error::is_unique_violation`]).
pub fn insert(conn: &mut DbConnection, intent: &PaymentIntent) -> Result<()> {
    let tenders = serde_json::to_string(&intent.tenders).map_err(|e| Error::Corrupt {
        what: "payment intent",
        reason: e.to_string(),
    })?;
    diesel::insert_into(payment_intents::table)
        .values((
            payment_intents::id.eq(intent.id.to_string()),
            payment_intents::order_id.eq(intent.order_id.to_string()),
            payment_intents::amount_minor.eq(intent.amount.amount_minor),
            payment_intents::currency.eq(intent.amount.currency.as_str()),
            payment_intents::status.eq(intent.status.as_str()),
            payment_intents::psp_reference.eq(intent.psp_reference.as_deref()),
            payment_intents::decline_reason.eq(intent.decline_reason.as_deref()),
            payment_intents::tenders.eq(tenders),
            payment_intents::created_at.eq(intent.created_at.naive_utc()),
            payment_intents::payer.eq(intent.payer.as_str()),
            payment_intents::customer_id.eq(intent.customer_id.as_ref().map(|c| c.to_string())),
            payment_intents::renew_at.eq(intent.renew_at.map(|r| r.naive_utc())),
        ))
        .execute(conn)?;
    Ok(())
}

/// Whether the order already has an intent.
pub fn exists_for_order(conn: &mut DbConnection, order_id: OrderId) -> Result<bool> {
    let count: i64 = payment_intents::table
        .filter(payment_intents::order_id.eq(order_id.to_string()))
        .count()
        .get_result(conn)?;
    Ok(count > 0)
}

/// Moves an intent from one of `from` to `to` (and records why, for a decline); `false` when it was not in one of
/// them (another delivery moved it first), so a replay changes nothing twice.
pub fn transition(
    conn: &mut DbConnection,
    id: PaymentIntentId,
    from: &[IntentStatus],
    to: IntentStatus,
    reason: Option<&str>,
) -> Result<bool> {
    let from: Vec<&str> = from.iter().map(|s| s.as_str()).collect();
    let changed = diesel::update(
        payment_intents::table
            .find(id.to_string())
            .filter(payment_intents::status.eq_any(from)),
    )
    .set((
        payment_intents::status.eq(to.as_str()),
        payment_intents::decline_reason.eq(reason),
    ))
    .execute(conn)?;
    Ok(changed == 1)
}

/// Stores what the intent's tenders gave so far, and the PSP references of its holds.
pub fn save_tenders(
    conn: &mut DbConnection,
    id: PaymentIntentId,
    tenders: &[TenderRecord],
    psp_reference: Option<&str>,
) -> Result<()> {
    let json = serde_json::to_string(tenders).map_err(|e| Error::Corrupt {
        what: "payment intent",
        reason: e.to_string(),
    })?;
    diesel::update(payment_intents::table.find(id.to_string()))
        .set((
            payment_intents::tenders.eq(json),
            payment_intents::psp_reference.eq(psp_reference),
        ))
        .execute(conn)?;
    Ok(())
}

/// When the intent's next card authorization is due for renewal (`None`: none is).
pub fn set_renew_at(
    conn: &mut DbConnection,
    id: PaymentIntentId,
    at: Option<chrono::DateTime<chrono::Utc>>,
) -> Result<()> {
    diesel::update(payment_intents::table.find(id.to_string()))
        .set(payment_intents::renew_at.eq(at.map(|a| a.naive_utc())))
        .execute(conn)?;
    Ok(())
}

/// Authorized intents with a renewal due by `now`, the most urgent first.
pub fn due_for_renewal(
    conn: &mut DbConnection,
    now: chrono::DateTime<chrono::Utc>,
    limit: i64,
) -> Result<Vec<PaymentIntentId>> {
    let ids: Vec<String> = payment_intents::table
        .filter(payment_intents::renew_at.le(now.naive_utc()))
        .filter(payment_intents::status.eq(IntentStatus::Authorized.as_str()))
        .order(payment_intents::renew_at.asc())
        .limit(limit)
        .select(payment_intents::id)
        .load(conn)?;
    ids.iter()
        .map(|id| {
            PaymentIntentId::parse(id).map_err(|e| Error::Corrupt {
                what: "payment intent",
                reason: e.to_string(),
            })
        })
        .collect()
}

/// Intents made since `since`, after `after` (by id), at most `limit`: the reconcile's pages.
pub fn made_since(
    conn: &mut DbConnection,
    since: chrono::DateTime<chrono::Utc>,
    after: Option<PaymentIntentId>,
    limit: i64,
) -> Result<Vec<PaymentIntent>> {
    let mut query = payment_intents::table
        .filter(payment_intents::created_at.ge(since.naive_utc()))
        .order(payment_intents::id.asc())
        .limit(limit)
        .select(IntentRow::as_select())
        .into_boxed();
    if let Some(after) = after {
        query = query.filter(payment_intents::id.gt(after.to_string()));
    }
    query
        .load(conn)?
        .into_iter()
        .map(IntentRow::into_intent)
        .collect()
}

/// The intent `id`.
pub fn find(conn: &mut DbConnection, id: PaymentIntentId) -> Result<Option<PaymentIntent>> {
    payment_intents::table
        .find(id.to_string())
        .select(IntentRow::as_select())
        .first(conn)
        .optional()?
        .map(IntentRow::into_intent)
        .transpose()
}

/// The order's intent (one per order).
pub fn of_order(conn: &mut DbConnection, order_id: OrderId) -> Result<Option<PaymentIntent>> {
    Ok(for_order(conn, order_id)?.into_iter().next())
}

/// An order's intents, oldest first.
pub fn for_order(conn: &mut DbConnection, order_id: OrderId) -> Result<Vec<PaymentIntent>> {
    payment_intents::table
        .filter(payment_intents::order_id.eq(order_id.to_string()))
        .order(payment_intents::id.asc())
        .select(IntentRow::as_select())
        .load(conn)?
        .into_iter()
        .map(IntentRow::into_intent)
        .collect()
}
