//! Reservations in PostgreSQL, the truth the hold store mirrors. Every state change is a conditional update
//! (`WHERE status = 'held' ...`), so an extension racing the sweeper, or a commit racing a release, has exactly
//! one winner.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use omni_contracts::api::ReservationStatus;
use omni_contracts::events::HoldLine;
use omni_contracts::{LocationId, OrderId, ReservationId, Sku};
use omni_db::DbConnection;

use super::schema::{reservation_lines, reservations};

/// Far enough ahead to mean "until fulfilled": holds of paid orders are pinned here.
pub const PINNED_UNTIL: &str = "9999-12-31T00:00:00";

/// A reservation as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredHold {
    /// The hold.
    pub reservation_id: ReservationId,
    /// The order, for holds placed by the saga.
    pub order_id: Option<OrderId>,
    /// Where.
    pub location_id: LocationId,
    /// Held, released, expired or committed.
    pub status: ReservationStatus,
    /// `(sku, quantity)` lines.
    pub lines: Vec<(Sku, i64)>,
    /// Expiry (UTC).
    pub expires_at: NaiveDateTime,
}

/// What to insert for a new hold.
#[derive(Debug, Clone)]
pub struct NewHold<'a> {
    /// The hold's id.
    pub id: ReservationId,
    /// The order, when the saga placed it.
    pub order_id: Option<OrderId>,
    /// For a part of a hold split across locations: the id the caller knows the hold by.
    pub parent: Option<ReservationId>,
    /// The selling channel (`web`, ... or `order` for saga holds).
    pub channel: &'a str,
    /// Where.
    pub location: &'a LocationId,
    /// What (merged by SKU).
    pub lines: &'a [HoldLine],
    /// When it lapses.
    pub expires_at: NaiveDateTime,
}

/// Whether a reservation with this id exists (in any state).
pub fn exists(conn: &mut DbConnection, id: ReservationId) -> omni_db::Result<bool> {
    let n: i64 = reservations::table
        .filter(reservations::reservation_id.eq(id.to_string()))
        .count()
        .get_result(conn)?;
    Ok(n > 0)
}

/// Records a hold and its lines.
pub fn insert_held(conn: &mut DbConnection, hold: &NewHold<'_>) -> omni_db::Result<()> {
    insert_held_many(conn, std::slice::from_ref(hold))
}

/// Records holds and their lines, two statements for all of them.
pub fn insert_held_many(conn: &mut DbConnection, holds: &[NewHold<'_>]) -> omni_db::Result<()> {
    let now = omni_db::now();
    let ids: Vec<String> = holds.iter().map(|h| h.id.to_string()).collect();
    let heads: Vec<_> = holds
        .iter()
        .zip(&ids)
        .map(|(hold, id)| {
            (
                reservations::reservation_id.eq(id.as_str()),
                reservations::order_id.eq(hold.order_id.map(|o| o.to_string())),
                reservations::parent_id.eq(hold.parent.map(|p| p.to_string())),
                reservations::channel.eq(hold.channel),
                reservations::location_id.eq(hold.location.as_str()),
                reservations::status.eq(HELD),
                reservations::expires_at.eq(hold.expires_at),
                reservations::created_at.eq(now),
            )
        })
        .collect();
    match conn {
        // One statement for all rows where the backend has multi-row inserts; SQLite (`omni dev`) row by row.
        DbConnection::Pg(pg) => {
            diesel::insert_into(reservations::table)
                .values(&heads)
                .execute(pg)?;
        }
        DbConnection::Sqlite(sqlite) => {
            for head in &heads {
                diesel::insert_into(reservations::table)
                    .values(head.clone())
                    .execute(sqlite)?;
            }
        }
    }
    let lines: Vec<_> = holds
        .iter()
        .zip(&ids)
        .flat_map(|(hold, id)| {
            hold.lines.iter().map(move |line| {
                (
                    reservation_lines::reservation_id.eq(id.as_str()),
                    reservation_lines::sku.eq(line.sku.as_str()),
                    reservation_lines::quantity.eq(i64::from(line.quantity)),
                    reservation_lines::location_id.eq(hold.location.as_str()),
                )
            })
        })
        .collect();
    match conn {
        DbConnection::Pg(pg) => {
            diesel::insert_into(reservation_lines::table)
                .values(&lines)
                .execute(pg)?;
        }
        DbConnection::Sqlite(sqlite) => {
            for line in &lines {
                diesel::insert_into(reservation_lines::table)
                    .values(*line)
                    .execute(sqlite)?;
            }
        }
    }
    Ok(())
}

/// The status column's value of a held reservation.
const HELD: &str = ReservationStatus::Held.as_str();

/// A stored value that does not parse: the row was written by something other than this code.
fn corrupt(id: ReservationId, what: impl std::fmt::Display) -> omni_db::Error {
    omni_db::Error::Inconsistent(format!("reservation {id} has a corrupt {what}"))
}

/// One reservation with its lines.
pub fn find(conn: &mut DbConnection, id: ReservationId) -> omni_db::Result<Option<StoredHold>> {
    let key = id.to_string();
    let head: Option<(Option<String>, String, String, NaiveDateTime)> = reservations::table
        .find(&key)
        .select((
            reservations::order_id,
            reservations::location_id,
            reservations::status,
            reservations::expires_at,
        ))
        .first(conn)
        .optional()?;
    let Some((order_id, location_id, status, expires_at)) = head else {
        return Ok(None);
    };
    let lines: Vec<(String, i64)> = reservation_lines::table
        .filter(reservation_lines::reservation_id.eq(&key))
        // A line reduced to nothing (its units given back) is no longer part of the hold.
        .filter(reservation_lines::quantity.gt(0))
        .order(reservation_lines::sku.asc())
        .select((reservation_lines::sku, reservation_lines::quantity))
        .load(conn)?;
    Ok(Some(StoredHold {
        reservation_id: id,
        order_id: order_id
            .as_deref()
            .map(OrderId::parse)
            .transpose()
            .map_err(|e| corrupt(id, e))?,
        location_id: LocationId::parse(&location_id).map_err(|e| corrupt(id, e))?,
        status: ReservationStatus::parse(&status).map_err(|e| corrupt(id, e))?,
        lines: lines
            .into_iter()
            .map(|(sku, quantity)| Ok((Sku::parse(&sku).map_err(|e| corrupt(id, e))?, quantity)))
            .collect::<omni_db::Result<_>>()?,
        expires_at,
    }))
}

fn load_all(conn: &mut DbConnection, ids: &[String]) -> omni_db::Result<Vec<StoredHold>> {
    let mut holds = Vec::with_capacity(ids.len());
    for id in ids {
        let id = ReservationId::parse(id)
            .map_err(|e| omni_db::Error::Inconsistent(format!("a reservation has a corrupt id: {e}")))?;
        holds.extend(find(conn, id)?);
    }
    Ok(holds)
}

/// Which of `ids` stand for split holds (their parts are recorded under them).
pub fn parents_among(
    conn: &mut DbConnection,
    ids: &[String],
) -> omni_db::Result<std::collections::HashSet<String>> {
    let parents: Vec<Option<String>> = reservations::table
        .filter(reservations::parent_id.eq_any(ids))
        .select(reservations::parent_id)
        .distinct()
        .load(conn)?;
    Ok(parents.into_iter().flatten().collect())
}

/// The holds a caller's id stands for: the hold itself, and the parts of a split one (by location). Empty when
/// the id is unknown. Two equality lookups, each on its own index, not one `OR`: a prepared statement's generic
/// plan of `reservation_id = $1 OR parent_id = $2`, made while the table was small, scanned the whole table on
/// every release (docs/perf-log/reservations.md).
pub fn group(conn: &mut DbConnection, id: ReservationId) -> omni_db::Result<Vec<StoredHold>> {
    let mut holds: Vec<StoredHold> = find(conn, id)?.into_iter().collect();
    let parts: Vec<String> = reservations::table
        .filter(reservations::parent_id.eq(id.to_string()))
        .order(reservations::location_id.asc())
        .select(reservations::reservation_id)
        .load(conn)?;
    holds.extend(load_all(conn, &parts)?);
    holds.sort_by(|a, b| a.location_id.cmp(&b.location_id));
    Ok(holds)
}

/// The held reservations of an order.
pub fn held_for_order(conn: &mut DbConnection, order_id: OrderId) -> omni_db::Result<Vec<StoredHold>> {
    let ids: Vec<String> = reservations::table
        .filter(reservations::order_id.eq(order_id.to_string()))
        .filter(reservations::status.eq(HELD))
        .select(reservations::reservation_id)
        .load(conn)?;
    load_all(conn, &ids)
}

/// Every held reservation (for rebuilding the hold store).
pub fn all_held(conn: &mut DbConnection) -> omni_db::Result<Vec<StoredHold>> {
    let ids: Vec<String> = reservations::table
        .filter(reservations::status.eq(HELD))
        .select(reservations::reservation_id)
        .load(conn)?;
    load_all(conn, &ids)
}

/// Held reservations whose expiry has passed, oldest first.
pub fn due(conn: &mut DbConnection, now: NaiveDateTime, limit: i64) -> omni_db::Result<Vec<StoredHold>> {
    let ids: Vec<String> = reservations::table
        .filter(reservations::status.eq(HELD))
        .filter(reservations::expires_at.lt(now))
        .order(reservations::expires_at.asc())
        .limit(limit)
        .select(reservations::reservation_id)
        .load(conn)?;
    load_all(conn, &ids)
}

/// Moves a held, unexpired reservation to `status`; `false` when it was not held (or already expired, for
/// anything but `expired` itself).
pub fn transition(
    conn: &mut DbConnection,
    id: ReservationId,
    status: ReservationStatus,
    now: NaiveDateTime,
) -> omni_db::Result<bool> {
    let key = id.to_string();
    let held = reservations::table
        .filter(reservations::reservation_id.eq(&key))
        .filter(reservations::status.eq(HELD));
    let changed = if status == ReservationStatus::Expired {
        diesel::update(held.filter(reservations::expires_at.lt(now)))
            .set(reservations::status.eq(status.as_str()))
            .execute(conn)?
    } else {
        diesel::update(held.filter(reservations::expires_at.ge(now)))
            .set(reservations::status.eq(status.as_str()))
            .execute(conn)?
    };
    if changed == 1 {
        lines_no_longer_held(conn, &key)?;
    }
    Ok(changed == 1)
}

/// Moves the expiry of a held, unexpired reservation later (never earlier: a pinned hold stays pinned); `false`
/// when it is not held, already expired, or would be shortened.
pub fn extend(
    conn: &mut DbConnection,
    id: ReservationId,
    until: NaiveDateTime,
    now: NaiveDateTime,
) -> omni_db::Result<bool> {
    let changed = diesel::update(
        reservations::table
            .filter(reservations::reservation_id.eq(id.to_string()))
            .filter(reservations::status.eq(HELD))
            .filter(reservations::expires_at.ge(now))
            .filter(reservations::expires_at.le(until)),
    )
    .set(reservations::expires_at.eq(until))
    .execute(conn)?;
    Ok(changed == 1)
}

/// Pins the held reservations of a paid order until they are fulfilled (they no longer expire).
pub fn pin_for_order(conn: &mut DbConnection, order_id: OrderId) -> omni_db::Result<usize> {
    let until = pinned_until();
    Ok(diesel::update(
        reservations::table
            .filter(reservations::order_id.eq(order_id.to_string()))
            .filter(reservations::status.eq(HELD)),
    )
    .set(reservations::expires_at.eq(until))
    .execute(conn)?)
}

/// The expiry of pinned holds.
pub fn pinned_until() -> NaiveDateTime {
    NaiveDateTime::parse_from_str(PINNED_UNTIL, "%Y-%m-%dT%H:%M:%S").unwrap_or(NaiveDateTime::MAX)
}

/// Marks a held reservation released whatever its expiry (cancelled, or its order failed); `false` when it
/// was not held.
pub fn mark_released(conn: &mut DbConnection, id: ReservationId) -> omni_db::Result<bool> {
    let key = id.to_string();
    let changed = diesel::update(
        reservations::table
            .find(&key)
            .filter(reservations::status.eq(HELD)),
    )
    .set(reservations::status.eq(ReservationStatus::Released.as_str()))
    .execute(conn)?;
    if changed == 1 {
        lines_no_longer_held(conn, &key)?;
    }
    Ok(changed == 1)
}

/// Gives back up to `units` of each SKU from a held reservation (its store will not fulfil them); returns what
/// was given back (nothing when the hold is no longer held, or holds none of them).
pub fn reduce(
    conn: &mut DbConnection,
    id: ReservationId,
    units: &[(Sku, i64)],
) -> omni_db::Result<Vec<(Sku, i64)>> {
    let key = id.to_string();
    let held: i64 = reservations::table
        .filter(reservations::reservation_id.eq(&key))
        .filter(reservations::status.eq(HELD))
        .count()
        .get_result(conn)?;
    if held == 0 {
        return Ok(Vec::new());
    }
    let mut given = Vec::new();
    for (sku, wanted) in units {
        let line = reservation_lines::table
            .find((&key, sku.as_str()))
            .filter(reservation_lines::held.eq(true));
        let Some(quantity) = line
            .select(reservation_lines::quantity)
            .first::<i64>(conn)
            .optional()?
        else {
            continue;
        };
        let take = (*wanted).clamp(0, quantity);
        if take == 0 {
            continue;
        }
        diesel::update(line)
            .set((
                reservation_lines::quantity.eq(quantity - take),
                reservation_lines::held.eq(quantity - take > 0),
            ))
            .execute(conn)?;
        given.push((sku.clone(), take));
    }
    Ok(given)
}

fn lines_no_longer_held(conn: &mut DbConnection, id: &str) -> omni_db::Result<()> {
    diesel::update(reservation_lines::table.filter(reservation_lines::reservation_id.eq(id)))
        .set(reservation_lines::held.eq(false))
        .execute(conn)?;
    Ok(())
}

/// The held reservations of a SKU at a location, newest first: `(reservation id, order id, quantity)`.
pub fn held_at(
    conn: &mut DbConnection,
    location: &LocationId,
    sku: &Sku,
) -> omni_db::Result<Vec<(ReservationId, Option<OrderId>, i64)>> {
    let rows: Vec<(String, Option<String>, i64)> = reservation_lines::table
        .inner_join(reservations::table)
        .filter(reservations::location_id.eq(location.as_str()))
        .filter(reservations::status.eq(HELD))
        .filter(reservation_lines::sku.eq(sku.as_str()))
        .order((
            reservations::created_at.desc(),
            reservations::reservation_id.desc(),
        ))
        .select((
            reservations::reservation_id,
            reservations::order_id,
            reservation_lines::quantity,
        ))
        .load(conn)?;
    rows.into_iter()
        .map(|(id, order_id, quantity)| {
            let corrupt = |e: omni_contracts::ContractError| {
                omni_db::Error::Inconsistent(format!("a hold at {location} has a corrupt id: {e}"))
            };
            Ok((
                ReservationId::parse(&id).map_err(corrupt)?,
                order_id
                    .as_deref()
                    .map(OrderId::parse)
                    .transpose()
                    .map_err(corrupt)?,
                quantity,
            ))
        })
        .collect()
}
