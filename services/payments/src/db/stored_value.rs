//! Gift cards and store credit, in the caller's transaction: cards by reference, and every movement by its
//! idempotency key, applied once with a conditional update the table's CHECK constraint backs.

use diesel::prelude::*;
use omni_contracts::{Currency, Money, OrderId};
use omni_db::DbConnection;

use super::schema::{stored_value_cards, stored_value_movements};
use crate::domain::stored_value::{Movement, Refused, StoredValueCard, StoredValueKind};
use crate::error::{Error, Result};

#[derive(Queryable, Selectable)]
#[diesel(table_name = stored_value_cards)]
struct CardRow {
    reference: String,
    kind: String,
    issue_id: String,
    last4: String,
    currency: String,
    balance: i64,
    held: i64,
    customer_id: Option<String>,
}

impl CardRow {
    fn into_card(self) -> Result<StoredValueCard> {
        let corrupt = |reason: String| Error::Corrupt {
            what: "stored value card",
            reason,
        };
        Ok(StoredValueCard {
            kind: StoredValueKind::parse(&self.kind)
                .ok_or_else(|| corrupt(format!("kind `{}`", self.kind)))?,
            currency: Currency::parse(&self.currency).map_err(|e| corrupt(e.to_string()))?,
            reference: self.reference,
            issue_id: self.issue_id,
            last4: self.last4,
            balance: self.balance,
            held: self.held,
            customer_id: self.customer_id,
        })
    }
}

/// The card `reference`.
pub fn find(conn: &mut DbConnection, reference: &str) -> Result<Option<StoredValueCard>> {
    stored_value_cards::table
        .find(reference)
        .select(CardRow::as_select())
        .first(conn)
        .optional()?
        .map(CardRow::into_card)
        .transpose()
}

/// The card issued under `issue_id`.
pub fn find_issued(conn: &mut DbConnection, issue_id: &str) -> Result<Option<StoredValueCard>> {
    stored_value_cards::table
        .filter(stored_value_cards::issue_id.eq(issue_id))
        .select(CardRow::as_select())
        .first(conn)
        .optional()?
        .map(CardRow::into_card)
        .transpose()
}

/// Stores a new card with its issue movement.
pub fn issue(conn: &mut DbConnection, card: &StoredValueCard, issued_by: &str) -> Result<()> {
    let now = omni_db::now();
    diesel::insert_into(stored_value_cards::table)
        .values((
            stored_value_cards::reference.eq(&card.reference),
            stored_value_cards::kind.eq(card.kind.as_str()),
            stored_value_cards::issue_id.eq(&card.issue_id),
            stored_value_cards::last4.eq(&card.last4),
            stored_value_cards::currency.eq(card.currency.as_str()),
            stored_value_cards::balance.eq(card.balance),
            stored_value_cards::held.eq(0_i64),
            stored_value_cards::customer_id.eq(card.customer_id.as_deref()),
            stored_value_cards::issued_by.eq(issued_by),
            stored_value_cards::created_at.eq(now),
        ))
        .execute(conn)?;
    diesel::insert_into(stored_value_movements::table)
        .values((
            stored_value_movements::id.eq(format!("issue:{}", card.issue_id)),
            stored_value_movements::reference.eq(&card.reference),
            stored_value_movements::kind.eq("issue"),
            stored_value_movements::amount.eq(card.balance),
            stored_value_movements::recorded_at.eq(now),
        ))
        .execute(conn)?;
    Ok(())
}

/// Names the order a card was issued for (store credit owed on it).
pub fn link_order(conn: &mut DbConnection, reference: &str, order: OrderId) -> Result<()> {
    diesel::update(stored_value_cards::table.find(reference))
        .set(stored_value_cards::order_id.eq(Some(order.to_string())))
        .execute(conn)?;
    Ok(())
}

/// What was issued, in all, on cards issued for `order`.
pub fn issued_for_order(conn: &mut DbConnection, order: OrderId) -> Result<i64> {
    let cards: Vec<String> = stored_value_cards::table
        .filter(stored_value_cards::order_id.eq(order.to_string()))
        .select(stored_value_cards::reference)
        .load(conn)?;
    let amounts: Vec<i64> = stored_value_movements::table
        .filter(stored_value_movements::reference.eq_any(cards))
        .filter(stored_value_movements::kind.eq("issue"))
        .select(stored_value_movements::amount)
        .load(conn)?;
    Ok(amounts.iter().sum())
}

/// Applies a movement once: `Ok(Ok(()))` when it is applied now or was before under the same id, `Ok(Err(_))`
/// when the card cannot give it (nothing changes).
pub fn apply(
    conn: &mut DbConnection,
    id: &str,
    reference: &str,
    movement: Movement,
    amount: Money,
) -> Result<std::result::Result<(), Refused>> {
    let done: i64 = stored_value_movements::table
        .filter(stored_value_movements::id.eq(id))
        .count()
        .get_result(conn)?;
    if done > 0 {
        return Ok(Ok(()));
    }
    let Some(card) = find(conn, reference)? else {
        return Ok(Err(Refused::Unknown));
    };
    if let Err(refused) = card.check(movement, amount) {
        return Ok(Err(refused));
    }
    let a = amount.amount_minor;
    let target = stored_value_cards::table.find(reference);
    use stored_value_cards::{balance, held};
    let changed = match movement {
        Movement::Hold => diesel::update(target.filter((balance - held).ge(a)))
            .set(held.eq(held + a))
            .execute(conn)?,
        Movement::Capture => diesel::update(target.filter(held.ge(a)))
            .set((balance.eq(balance - a), held.eq(held - a)))
            .execute(conn)?,
        Movement::Release => diesel::update(target.filter(held.ge(a)))
            .set(held.eq(held - a))
            .execute(conn)?,
        Movement::Refund => diesel::update(target)
            .set(balance.eq(balance + a))
            .execute(conn)?,
    };
    if changed != 1 {
        // Another transaction took the money between the read and the update.
        return Ok(Err(Refused::InsufficientBalance));
    }
    diesel::insert_into(stored_value_movements::table)
        .values((
            stored_value_movements::id.eq(id),
            stored_value_movements::reference.eq(reference),
            stored_value_movements::kind.eq(movement.as_str()),
            stored_value_movements::amount.eq(a),
            stored_value_movements::recorded_at.eq(omni_db::now()),
        ))
        .execute(conn)?;
    Ok(Ok(()))
}
