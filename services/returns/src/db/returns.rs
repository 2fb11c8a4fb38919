//! Return authorizations, their lines and their graded units, in the caller's transaction.

use std::collections::BTreeMap;

use diesel::prelude::*;
use omni_contracts::returns::{
    Declined, Disposition, Exchange, Grade, RefundTo, Return, ReturnLine, ReturnMethod, ReturnReason,
    ReturnStatus, ReturnUnit, StoreCreditRef,
};
use omni_contracts::{LocationId, OrderId, ReturnId, Sku};
use omni_db::DbConnection;

use super::schema::{return_lines, return_units, returns};

/// A stored value that no longer parses.
fn corrupt(what: &str, raw: &str) -> omni_db::Error {
    omni_db::Error::Query(diesel::result::Error::DeserializationError(
        format!("returns: stored {what} `{raw}` does not parse").into(),
    ))
}

fn json<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_default()
}

fn parse<T: serde::de::DeserializeOwned>(what: &str, raw: &str) -> omni_db::Result<T> {
    serde_json::from_str(raw).map_err(|_| corrupt(what, raw))
}

/// Stores a new return with its lines.
pub fn insert(conn: &mut DbConnection, r: &Return) -> omni_db::Result<()> {
    diesel::insert_into(returns::table)
        .values((
            returns::id.eq(r.id.to_string()),
            returns::request_id.eq(&r.request_id),
            returns::order_id.eq(r.order_id.to_string()),
            returns::status.eq(r.status.as_str()),
            returns::method.eq(json(&r.method)),
            returns::refund_to.eq(json(&r.refund_to)),
            returns::declined_rule.eq(r.declined.as_ref().map(|d| d.rule.clone())),
            returns::declined_reason.eq(r.declined.as_ref().map(|d| d.reason.clone())),
            returns::requested_by.eq(&r.requested_by),
            returns::refund_minor.eq(r.refund_minor),
            returns::expires_at.eq(r.expires_at.map(|t| t.naive_utc())),
            returns::manager_rule.eq(r.awaiting_manager.as_ref().map(|d| d.rule.clone())),
            returns::manager_reason.eq(r.awaiting_manager.as_ref().map(|d| d.reason.clone())),
            returns::created_at.eq(r.created_at.naive_utc()),
            returns::updated_at.eq(r.updated_at.naive_utc()),
            returns::exchange.eq(r.exchange.as_ref().map(json)),
            returns::exchange_order_id.eq(r.exchange.as_ref().map(|e| e.order_id.to_string())),
        ))
        .execute(conn)?;
    for line in &r.lines {
        diesel::insert_into(return_lines::table)
            .values((
                return_lines::return_id.eq(r.id.to_string()),
                return_lines::sku.eq(line.sku.as_str()),
                return_lines::quantity.eq(i32::try_from(line.quantity).unwrap_or(i32::MAX)),
                return_lines::reason.eq(line.reason.as_str()),
                return_lines::received.eq(0),
            ))
            .execute(conn)?;
    }
    Ok(())
}

/// Keeps where a return's exchange stands.
pub fn keep_exchange(conn: &mut DbConnection, id: ReturnId, exchange: &Exchange) -> omni_db::Result<()> {
    diesel::update(returns::table.find(id.to_string()))
        .set((
            returns::exchange.eq(json(exchange)),
            returns::updated_at.eq(omni_db::now()),
        ))
        .execute(conn)?;
    Ok(())
}

/// The return whose exchange made the replacement order `order_id`, if any.
pub fn by_exchange_order(conn: &mut DbConnection, order_id: OrderId) -> omni_db::Result<Option<Return>> {
    let id: Option<String> = returns::table
        .filter(returns::exchange_order_id.eq(order_id.to_string()))
        .select(returns::id)
        .first(conn)
        .optional()?;
    find_stored(conn, id)
}

/// The return of a stored id, if one was found.
fn find_stored(conn: &mut DbConnection, id: Option<String>) -> omni_db::Result<Option<Return>> {
    match id {
        Some(id) => find(conn, ReturnId::parse(&id).map_err(|_| corrupt("id", &id))?),
        None => Ok(None),
    }
}

/// Moves a return to `status`.
pub fn set_status(conn: &mut DbConnection, id: ReturnId, status: ReturnStatus) -> omni_db::Result<()> {
    diesel::update(returns::table.find(id.to_string()))
        .set((
            returns::status.eq(status.as_str()),
            returns::updated_at.eq(omni_db::now()),
        ))
        .execute(conn)?;
    Ok(())
}

/// Records the store credit a return was refunded as.
pub fn keep_store_credit(
    conn: &mut DbConnection,
    id: ReturnId,
    credit: &StoreCreditRef,
) -> omni_db::Result<()> {
    diesel::update(returns::table.find(id.to_string()))
        .set((
            returns::store_credit_reference.eq(Some(&credit.reference)),
            returns::store_credit_last4.eq(Some(&credit.last4)),
        ))
        .execute(conn)?;
    Ok(())
}

/// Records a manager's approval: the return awaits its items until `expires_at`.
pub fn approve(
    conn: &mut DbConnection,
    id: ReturnId,
    expires_at: chrono::DateTime<chrono::Utc>,
) -> omni_db::Result<()> {
    diesel::update(returns::table.find(id.to_string()))
        .set((
            returns::status.eq(ReturnStatus::AwaitingItems.as_str()),
            returns::manager_rule.eq(None::<String>),
            returns::manager_reason.eq(None::<String>),
            returns::expires_at.eq(Some(expires_at.naive_utc())),
            returns::updated_at.eq(omni_db::now()),
        ))
        .execute(conn)?;
    Ok(())
}

/// Records a decline, naming its rule.
pub fn decline(conn: &mut DbConnection, id: ReturnId, declined: &Declined) -> omni_db::Result<()> {
    diesel::update(returns::table.find(id.to_string()))
        .set((
            returns::status.eq(ReturnStatus::Declined.as_str()),
            returns::manager_rule.eq(None::<String>),
            returns::manager_reason.eq(None::<String>),
            returns::declined_rule.eq(Some(&declined.rule)),
            returns::declined_reason.eq(Some(&declined.reason)),
            returns::updated_at.eq(omni_db::now()),
        ))
        .execute(conn)?;
    Ok(())
}

/// Records one graded unit (a second disposition for the same unit is refused by the key) and counts it on its
/// line when it came.
pub fn insert_unit(conn: &mut DbConnection, id: ReturnId, unit: &ReturnUnit) -> omni_db::Result<()> {
    diesel::insert_into(return_units::table)
        .values((
            return_units::return_id.eq(id.to_string()),
            return_units::unit.eq(i32::try_from(unit.unit).unwrap_or(i32::MAX)),
            return_units::sku.eq(unit.sku.as_str()),
            return_units::grade.eq(unit.grade.as_str()),
            return_units::disposition.eq(json(&unit.disposition)),
            return_units::location_id.eq(unit.location_id.as_str()),
            return_units::refund_minor.eq(unit.refund_minor),
            return_units::refund_override.eq(unit.refund_override),
        ))
        .execute(conn)?;
    if unit.disposition.received() {
        diesel::update(
            return_lines::table
                .filter(return_lines::return_id.eq(id.to_string()))
                .filter(return_lines::sku.eq(unit.sku.as_str())),
        )
        .set(return_lines::received.eq(return_lines::received + 1))
        .execute(conn)?;
    }
    diesel::update(returns::table.find(id.to_string()))
        .set((
            returns::refund_minor.eq(returns::refund_minor + unit.refund_minor),
            returns::updated_at.eq(omni_db::now()),
        ))
        .execute(conn)?;
    Ok(())
}

/// Up to `limit` returns still waiting for their items (or a manager's decision) at `now` although they should
/// have come by then, the longest overdue first.
pub fn overdue(
    conn: &mut DbConnection,
    now: chrono::DateTime<chrono::Utc>,
    limit: i64,
) -> omni_db::Result<Vec<ReturnId>> {
    let ids: Vec<String> = returns::table
        .filter(returns::status.eq_any([
            ReturnStatus::AwaitingItems.as_str(),
            ReturnStatus::Requested.as_str(),
        ]))
        .filter(returns::expires_at.le(now.naive_utc()))
        .order(returns::expires_at.asc())
        .limit(limit)
        .select(returns::id)
        .load(conn)?;
    ids.iter()
        .map(|id| ReturnId::parse(id).map_err(|_| corrupt("id", id)))
        .collect()
}

/// The units per SKU the order's returns hold, but `except`: open returns by the units they ask for, settled and
/// closed ones by the units they received; declined, expired and cancelled ones none.
pub fn held_units(
    conn: &mut DbConnection,
    order_id: OrderId,
    except: Option<ReturnId>,
) -> omni_db::Result<BTreeMap<Sku, u32>> {
    let rows: Vec<(String, String, String, i32, i32)> = returns::table
        .inner_join(return_lines::table.on(return_lines::return_id.eq(returns::id)))
        .filter(returns::order_id.eq(order_id.to_string()))
        .select((
            returns::id,
            returns::status,
            return_lines::sku,
            return_lines::quantity,
            return_lines::received,
        ))
        .load(conn)?;
    let mut held = BTreeMap::new();
    for (id, status, sku, quantity, received) in rows {
        if except.is_some_and(|e| e.to_string() == id) {
            continue;
        }
        let status = ReturnStatus::parse(&status).ok_or_else(|| corrupt("status", &status))?;
        let units = match status {
            s if !s.holds_units() => 0,
            ReturnStatus::Settled | ReturnStatus::Closed => received,
            _ => quantity,
        };
        let sku = Sku::parse(&sku).map_err(|_| corrupt("sku", &sku))?;
        *held.entry(sku).or_insert(0) += u32::try_from(units).unwrap_or(0);
    }
    Ok(held)
}

/// The return asked under `request_id`, if any.
pub fn by_request(conn: &mut DbConnection, request_id: &str) -> omni_db::Result<Option<Return>> {
    let id: Option<String> = returns::table
        .filter(returns::request_id.eq(request_id))
        .select(returns::id)
        .first(conn)
        .optional()?;
    find_stored(conn, id)
}

type ReturnRow = (
    String,
    String,
    String,
    String,
    String,
    String,
    Option<String>,
    Option<String>,
    String,
    i64,
    Option<chrono::NaiveDateTime>,
    chrono::NaiveDateTime,
    chrono::NaiveDateTime,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
);

/// One return with its lines and units.
pub fn find(conn: &mut DbConnection, id: ReturnId) -> omni_db::Result<Option<Return>> {
    let row: Option<ReturnRow> = returns::table
        .find(id.to_string())
        .select((
            returns::id,
            returns::request_id,
            returns::order_id,
            returns::status,
            returns::method,
            returns::refund_to,
            returns::declined_rule,
            returns::declined_reason,
            returns::requested_by,
            returns::refund_minor,
            returns::expires_at,
            returns::created_at,
            returns::updated_at,
            returns::manager_rule,
            returns::manager_reason,
            returns::store_credit_reference,
            returns::store_credit_last4,
            returns::exchange,
        ))
        .first(conn)
        .optional()?;
    let Some((
        _,
        request_id,
        order_id,
        status,
        method,
        refund_to,
        rule,
        reason,
        by,
        refund,
        expires,
        created,
        updated,
        manager_rule,
        manager_reason,
        credit_reference,
        credit_last4,
        exchange,
    )) = row
    else {
        return Ok(None);
    };
    let lines: Vec<(String, i32, String, i32)> = return_lines::table
        .filter(return_lines::return_id.eq(id.to_string()))
        .order(return_lines::sku.asc())
        .select((
            return_lines::sku,
            return_lines::quantity,
            return_lines::reason,
            return_lines::received,
        ))
        .load(conn)?;
    let units: Vec<(i32, String, String, String, String, i64, bool)> = return_units::table
        .filter(return_units::return_id.eq(id.to_string()))
        .order(return_units::unit.asc())
        .select((
            return_units::unit,
            return_units::sku,
            return_units::grade,
            return_units::disposition,
            return_units::location_id,
            return_units::refund_minor,
            return_units::refund_override,
        ))
        .load(conn)?;
    Ok(Some(Return {
        id,
        request_id,
        order_id: OrderId::parse(&order_id).map_err(|_| corrupt("order id", &order_id))?,
        status: ReturnStatus::parse(&status).ok_or_else(|| corrupt("status", &status))?,
        method: parse::<ReturnMethod>("method", &method)?,
        refund_to: parse::<RefundTo>("refund_to", &refund_to)?,
        lines: lines
            .into_iter()
            .map(|(sku, quantity, reason, received)| {
                Ok(ReturnLine {
                    sku: Sku::parse(&sku).map_err(|_| corrupt("sku", &sku))?,
                    quantity: u32::try_from(quantity).unwrap_or(0),
                    reason: parse::<ReturnReason>("reason", &format!("\"{reason}\""))?,
                    received: u32::try_from(received).unwrap_or(0),
                })
            })
            .collect::<omni_db::Result<_>>()?,
        units: units
            .into_iter()
            .map(
                |(unit, sku, grade, disposition, location, refund, refund_override)| {
                    Ok(ReturnUnit {
                        unit: u32::try_from(unit).unwrap_or(0),
                        sku: Sku::parse(&sku).map_err(|_| corrupt("sku", &sku))?,
                        grade: parse::<Grade>("grade", &format!("\"{grade}\""))?,
                        disposition: parse::<Disposition>("disposition", &disposition)?,
                        location_id: LocationId::parse(&location)
                            .map_err(|_| corrupt("location", &location))?,
                        refund_minor: refund,
                        refund_override,
                    })
                },
            )
            .collect::<omni_db::Result<_>>()?,
        refund_minor: refund,
        declined: rule.zip(reason).map(|(rule, reason)| Declined { rule, reason }),
        store_credit: credit_reference
            .zip(credit_last4)
            .map(|(reference, last4)| StoreCreditRef { reference, last4 }),
        awaiting_manager: manager_rule
            .zip(manager_reason)
            .map(|(rule, reason)| Declined { rule, reason }),
        requested_by: by,
        expires_at: expires.map(|t| t.and_utc()),
        created_at: created.and_utc(),
        updated_at: updated.and_utc(),
        exchange: exchange
            .map(|raw| parse::<Exchange>("exchange", &raw))
            .transpose()?,
    }))
}
