use diesel::prelude::*;
use omni_contracts::{FulfillmentId, LocationId, OrderId, ReservationId};
use omni_db::DbConnection;
use serde::Serialize;

use super::schema::fulfillments;
use crate::domain::FulfillmentStatus;
use crate::domain::task::Method;
use omni_contracts::events::HoldLine;

/// A fulfillment as stored and shown. Its ids and status are parsed as the row is read: a value this code never
/// writes fails the read (`omni_db::Error::Query`), it is never passed on.
#[derive(Debug, Clone, Queryable, Selectable, Serialize, utoipa::ToSchema)]
#[diesel(table_name = fulfillments)]
pub struct FulfillmentRow {
    /// Id.
    #[diesel(deserialize_as = String)]
    pub id: FulfillmentId,
    /// The order.
    #[diesel(deserialize_as = String)]
    pub order_id: OrderId,
    /// The node.
    #[diesel(deserialize_as = String)]
    pub location_id: LocationId,
    /// The hold allocation placed for it.
    #[diesel(deserialize_as = String)]
    pub reservation_id: ReservationId,
    /// Sourced, released, refused (the hold was refused there; routed again) or completed.
    #[diesel(deserialize_as = String)]
    pub status: FulfillmentStatus,
    /// JSON explanation of the sourcing decision.
    pub explanation: String,
    /// Created at (UTC).
    #[schema(value_type = String)]
    pub created_at: chrono::NaiveDateTime,
    /// Last change (UTC).
    #[schema(value_type = String)]
    pub updated_at: chrono::NaiveDateTime,
}

/// What a fulfillment asks of its node: the lines sourced there, and how they reach the customer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Work {
    /// The lines.
    pub lines: Vec<HoldLine>,
    /// Ship, pickup or curbside.
    pub method: Method,
    /// The order's ship-by or pickup-by promise, if it names one.
    pub promise_by: Option<chrono::NaiveDateTime>,
}

/// Records a sourcing decision with the work it asks of the node.
pub fn insert(conn: &mut DbConnection, row: &FulfillmentRow, work: &Work) -> omni_db::Result<()> {
    let lines = serde_json::to_string(&work.lines)
        .map_err(|e| omni_db::Error::Inconsistent(format!("fulfillment {}: its lines: {e}", row.id)))?;
    let units: i64 = work.lines.iter().map(|l| i64::from(l.quantity.get())).sum();
    diesel::insert_into(fulfillments::table)
        .values((
            fulfillments::units.eq(i32::try_from(units).unwrap_or(i32::MAX)),
            fulfillments::lines.eq(lines),
            fulfillments::method.eq(work.method.as_str()),
            fulfillments::promise_by.eq(work.promise_by),
            fulfillments::id.eq(row.id.to_string()),
            fulfillments::order_id.eq(row.order_id.to_string()),
            fulfillments::location_id.eq(row.location_id.as_str()),
            fulfillments::reservation_id.eq(row.reservation_id.to_string()),
            fulfillments::status.eq(row.status.as_str()),
            fulfillments::explanation.eq(&row.explanation),
            fulfillments::created_at.eq(row.created_at),
            fulfillments::updated_at.eq(row.updated_at),
        ))
        .execute(conn)?;
    Ok(())
}

/// The fulfillments of an order.
pub fn for_order(conn: &mut DbConnection, order_id: OrderId) -> omni_db::Result<Vec<FulfillmentRow>> {
    Ok(fulfillments::table
        .filter(fulfillments::order_id.eq(order_id.to_string()))
        .order(fulfillments::created_at.asc())
        .select(FulfillmentRow::as_select())
        .load(conn)?)
}

/// The work a fulfillment asks of its node (no lines for one sourced before they were kept).
pub fn work(conn: &mut DbConnection, id: FulfillmentId) -> omni_db::Result<Work> {
    let (lines, method, promise_by): (String, String, Option<chrono::NaiveDateTime>) = fulfillments::table
        .find(id.to_string())
        .select((
            fulfillments::lines,
            fulfillments::method,
            fulfillments::promise_by,
        ))
        .first(conn)?;
    let corrupt = |e: &dyn std::fmt::Display| omni_db::Error::Inconsistent(format!("fulfillment {id}: {e}"));
    Ok(Work {
        lines: serde_json::from_str(&lines).map_err(|e| corrupt(&e))?,
        method: Method::try_from(method).map_err(|e| corrupt(&e))?,
        promise_by,
    })
}

/// One fulfillment.
pub fn find(conn: &mut DbConnection, id: FulfillmentId) -> omni_db::Result<Option<FulfillmentRow>> {
    Ok(fulfillments::table
        .find(id.to_string())
        .select(FulfillmentRow::as_select())
        .first(conn)
        .optional()?)
}

/// Moves a fulfillment from status `from` to `to`; `false` (nothing written) when it is no longer `from`: another
/// change came first (a hand-over and a cancel race for a released fulfillment: exactly one moves it).
#[must_use = "a fulfillment that moved meanwhile was not changed"]
pub fn transition(
    conn: &mut DbConnection,
    id: FulfillmentId,
    from: FulfillmentStatus,
    to: FulfillmentStatus,
) -> omni_db::Result<bool> {
    let written = diesel::update(
        fulfillments::table
            .find(id.to_string())
            .filter(fulfillments::status.eq(from.as_str())),
    )
    .set((
        fulfillments::status.eq(to.as_str()),
        fulfillments::updated_at.eq(omni_db::now()),
    ))
    .execute(conn)?;
    Ok(written == 1)
}

/// The start of `now`'s day (UTC): pick capacity is daily.
pub fn start_of_day(now: chrono::NaiveDateTime) -> chrono::NaiveDateTime {
    now.date().and_time(chrono::NaiveTime::MIN)
}

/// Units routed to each node since `since` (the start of the day) and not refused or cancelled: what it has
/// been given to pick today.
pub fn units_since(
    conn: &mut DbConnection,
    since: chrono::NaiveDateTime,
) -> omni_db::Result<std::collections::HashMap<String, u32>> {
    let rows: Vec<(String, Option<i64>)> = fulfillments::table
        .filter(fulfillments::created_at.ge(since))
        .filter(fulfillments::status.eq_any([
            FulfillmentStatus::Sourced.as_str(),
            FulfillmentStatus::Released.as_str(),
            FulfillmentStatus::Completed.as_str(),
        ]))
        .group_by(fulfillments::location_id)
        .select((fulfillments::location_id, diesel::dsl::sum(fulfillments::units)))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|(location, units)| (location, u32::try_from(units.unwrap_or(0)).unwrap_or(u32::MAX)))
        .collect())
}
