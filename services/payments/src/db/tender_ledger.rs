//! Each tender's money and the operations recorded against it (`domain::ledger`), in the caller's transaction.
//! The ledger of a tender is rebuilt from its operations, the new record applied to it, and what changed written
//! back: the operations' states and the buckets, which the table's CHECK constraints hold to the same
//! invariants as the domain.

use diesel::prelude::*;
use omni_contracts::PaymentIntentId;
use omni_db::DbConnection;

use super::schema::{tender_money, tender_operations};
use crate::domain::ledger::{Kind, OperationState, Record, Recorded, Refusal, TenderLedger, TenderMoney};
use crate::error::{Error, Result};

/// One tender of an intent, by its position in the charge order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TenderKey {
    /// The intent.
    pub intent: PaymentIntentId,
    /// The tender's position.
    pub tender: u32,
}

/// The tender's ledger as recorded.
pub fn load(conn: &mut DbConnection, key: TenderKey) -> Result<TenderLedger> {
    let rows: Vec<(String, String, i64, String)> = tender_operations::table
        .filter(tender_operations::intent_id.eq(key.intent.to_string()))
        .filter(tender_operations::tender.eq(position(key)))
        .order(tender_operations::seq.asc())
        .select((
            tender_operations::id,
            tender_operations::kind,
            tender_operations::amount,
            tender_operations::state,
        ))
        .load(conn)?;
    let mut ledger = TenderLedger::default();
    for (id, kind, amount, state) in rows {
        let corrupt = |reason: String| Error::Corrupt {
            what: "tender operation",
            reason,
        };
        let kind = Kind::parse(&kind).ok_or_else(|| corrupt(format!("{id}: unknown kind `{kind}`")))?;
        let record = match state.as_str() {
            "pending" => Record::Requested { id, kind, amount },
            "succeeded" | "waiting" => Record::Succeeded { id, kind, amount },
            "failed" => Record::Failed { id, kind, amount },
            other => return Err(corrupt(format!("{id}: unknown state `{other}`"))),
        };
        ledger.record(record).map_err(|e| corrupt(e.to_string()))?;
    }
    Ok(ledger)
}

/// Serialises the caller's transaction with every other one that changes the money of `intent`'s tenders (on
/// PostgreSQL, across replicas), so a reply, a webhook and another batch's request on the same tenders wait for
/// each other instead of colliding; [`record`] takes it, and a batch takes it before it plans from the buckets.
pub fn lock_intent(conn: &mut DbConnection, intent: PaymentIntentId) -> Result<()> {
    omni_db::lock_transaction(conn, &format!("payments.intent.{intent}"))?;
    Ok(())
}

/// Records one operation step for a tender in the caller's transaction (taking [`lock_intent`]): a request is
/// refused (nothing written) when it does not fit what is left; a result is kept, and applied once its
/// prerequisite is recorded.
pub fn record(
    conn: &mut DbConnection,
    key: TenderKey,
    record: Record,
) -> Result<std::result::Result<Recorded, Refusal>> {
    lock_intent(conn, key.intent)?;
    let mut ledger = load(conn, key)?;
    let before: Vec<(String, Option<OperationState>)> = ledger
        .operation_ids()
        .map(|id| (id.to_owned(), ledger.state_of(id)))
        .collect();
    let (id, kind, amount) = match &record {
        Record::Requested { id, kind, amount }
        | Record::Succeeded { id, kind, amount }
        | Record::Failed { id, kind, amount } => (id.clone(), *kind, *amount),
    };
    let recorded = match ledger.record(record) {
        Ok(recorded) => recorded,
        Err(refusal) => return Ok(Err(refusal)),
    };
    if recorded == Recorded::Duplicate {
        return Ok(Ok(recorded));
    }
    // The new operation, or one whose state moved (its result came, or a waiting result now applies).
    let state = |id: &str| {
        ledger.state_of(id).ok_or_else(|| Error::Corrupt {
            what: "tender operation",
            reason: format!("{id} vanished from its ledger"),
        })
    };
    let known = before.iter().any(|(known, _)| *known == id);
    if !known {
        let seq: i64 = tender_operations::table
            .filter(tender_operations::intent_id.eq(key.intent.to_string()))
            .filter(tender_operations::tender.eq(position(key)))
            .count()
            .get_result(conn)?;
        diesel::insert_into(tender_operations::table)
            .values((
                tender_operations::id.eq(&id),
                tender_operations::intent_id.eq(key.intent.to_string()),
                tender_operations::tender.eq(position(key)),
                tender_operations::kind.eq(kind.as_str()),
                tender_operations::amount.eq(amount),
                tender_operations::state.eq(state(&id)?.as_str()),
                tender_operations::seq.eq(seq),
                tender_operations::recorded_at.eq(omni_db::now()),
            ))
            .execute(conn)?;
    }
    for (other, was) in &before {
        let now = state(other)?;
        if Some(now) != *was || *other == id {
            diesel::update(tender_operations::table.find(other))
                .set(tender_operations::state.eq(now.as_str()))
                .execute(conn)?;
        }
    }
    save_money(conn, key, &ledger.money)?;
    Ok(Ok(recorded))
}

/// A recorded operation, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredOperation {
    /// Its id: the idempotency key sent to the PSP.
    pub id: String,
    /// The tender.
    pub tender: u32,
    /// What it does.
    pub kind: Kind,
    /// How much.
    pub amount: i64,
    /// Where it stands.
    pub state: OperationState,
}

/// The intent's operations whose ids start with `prefix`, in the order they were recorded.
pub fn operations(
    conn: &mut DbConnection,
    intent: PaymentIntentId,
    prefix: &str,
) -> Result<Vec<StoredOperation>> {
    let rows: Vec<(String, i32, String, i64, String)> = tender_operations::table
        .filter(tender_operations::intent_id.eq(intent.to_string()))
        .order((tender_operations::tender.asc(), tender_operations::seq.asc()))
        .select((
            tender_operations::id,
            tender_operations::tender,
            tender_operations::kind,
            tender_operations::amount,
            tender_operations::state,
        ))
        .load(conn)?;
    rows.into_iter()
        .filter(|(id, ..)| id.starts_with(prefix))
        .map(|(id, tender, kind, amount, state)| {
            let corrupt = |reason: String| Error::Corrupt {
                what: "tender operation",
                reason,
            };
            Ok(StoredOperation {
                tender: u32::try_from(tender).map_err(|e| corrupt(e.to_string()))?,
                kind: Kind::parse(&kind).ok_or_else(|| corrupt(format!("{id}: unknown kind `{kind}`")))?,
                amount,
                state: match state.as_str() {
                    "pending" => OperationState::Pending,
                    "succeeded" => OperationState::Succeeded,
                    "failed" => OperationState::Failed,
                    "waiting" => OperationState::Waiting,
                    other => return Err(corrupt(format!("{id}: unknown state `{other}`"))),
                },
                id,
            })
        })
        .collect()
}

/// The operation `id`, with its tender.
pub fn operation(conn: &mut DbConnection, id: &str) -> Result<Option<(TenderKey, StoredOperation)>> {
    let row: Option<(String, i32)> = tender_operations::table
        .find(id)
        .select((tender_operations::intent_id, tender_operations::tender))
        .first(conn)
        .optional()?;
    let Some((intent, _)) = row else {
        return Ok(None);
    };
    let intent = PaymentIntentId::parse(&intent).map_err(|e| Error::Corrupt {
        what: "tender operation",
        reason: e.to_string(),
    })?;
    let found = operations(conn, intent, id)?.into_iter().find(|o| o.id == id);
    Ok(found.map(|o| {
        (
            TenderKey {
                intent,
                tender: o.tender,
            },
            o,
        )
    }))
}

/// A `tender_money` row.
#[derive(Queryable, Selectable)]
#[diesel(table_name = tender_money)]
struct MoneyRow {
    authorized: i64,
    authorized_pending: i64,
    captured: i64,
    captured_pending: i64,
    refunded: i64,
    refunded_pending: i64,
    voided: i64,
    voided_pending: i64,
}

/// The tender's buckets as stored (all zero before anything was recorded).
pub fn money(conn: &mut DbConnection, key: TenderKey) -> Result<TenderMoney> {
    let row: Option<MoneyRow> = tender_money::table
        .find((key.intent.to_string(), position(key)))
        .select(MoneyRow::as_select())
        .first(conn)
        .optional()?;
    let Some(r) = row else {
        return Ok(TenderMoney::default());
    };
    let bucket = |settled, pending| crate::domain::ledger::Bucket { settled, pending };
    Ok(TenderMoney {
        authorized: bucket(r.authorized, r.authorized_pending),
        captured: bucket(r.captured, r.captured_pending),
        refunded: bucket(r.refunded, r.refunded_pending),
        voided: bucket(r.voided, r.voided_pending),
    })
}

fn save_money(conn: &mut DbConnection, key: TenderKey, m: &TenderMoney) -> Result<()> {
    diesel::delete(tender_money::table.find((key.intent.to_string(), position(key)))).execute(conn)?;
    diesel::insert_into(tender_money::table)
        .values((
            tender_money::intent_id.eq(key.intent.to_string()),
            tender_money::tender.eq(position(key)),
            tender_money::authorized.eq(m.authorized.settled),
            tender_money::authorized_pending.eq(m.authorized.pending),
            tender_money::captured.eq(m.captured.settled),
            tender_money::captured_pending.eq(m.captured.pending),
            tender_money::refunded.eq(m.refunded.settled),
            tender_money::refunded_pending.eq(m.refunded.pending),
            tender_money::voided.eq(m.voided.settled),
            tender_money::voided_pending.eq(m.voided.pending),
        ))
        .execute(conn)?;
    Ok(())
}

fn position(key: TenderKey) -> i32 {
    i32::try_from(key.tender).unwrap_or(i32::MAX)
}
