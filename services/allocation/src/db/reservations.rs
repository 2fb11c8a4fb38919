use diesel::prelude::*;
use omni_contracts::events::HoldLine;
use omni_contracts::{LocationId, OrderId, ReservationId};
use omni_db::DbConnection;

use super::schema::{reservation_lines, reservations};

/// A held reservation as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredHold {
    /// The hold.
    pub reservation_id: String,
    /// Where.
    pub location_id: String,
    /// `(sku, quantity)` lines.
    pub lines: Vec<(String, i64)>,
    /// Expiry (UTC).
    pub expires_at: chrono::NaiveDateTime,
}

/// Whether a reservation with this id exists (held or not).
pub fn exists(conn: &mut DbConnection, id: ReservationId) -> omni_db::Result<bool> {
    let n: i64 = reservations::table
        .filter(reservations::reservation_id.eq(id.to_string()))
        .count()
        .get_result(conn)?;
    Ok(n > 0)
}

/// Records a hold and its lines.
pub fn insert_held(
    conn: &mut DbConnection,
    id: ReservationId,
    order_id: OrderId,
    location: &LocationId,
    lines: &[HoldLine],
    expires_at: chrono::NaiveDateTime,
) -> omni_db::Result<()> {
    diesel::insert_into(reservations::table)
        .values((
            reservations::reservation_id.eq(id.to_string()),
            reservations::order_id.eq(order_id.to_string()),
            reservations::location_id.eq(location.as_str()),
            reservations::status.eq("held"),
            reservations::expires_at.eq(expires_at),
            reservations::created_at.eq(omni_db::now()),
        ))
        .execute(conn)?;
    for line in lines {
        diesel::insert_into(reservation_lines::table)
            .values((
                reservation_lines::reservation_id.eq(id.to_string()),
                reservation_lines::sku.eq(line.sku.as_str()),
                reservation_lines::quantity.eq(i64::from(line.quantity)),
            ))
            .execute(conn)?;
    }
    Ok(())
}

/// The held reservations of an order.
pub fn held_for_order(conn: &mut DbConnection, order_id: OrderId) -> omni_db::Result<Vec<StoredHold>> {
    let ids: Vec<String> = reservations::table
        .filter(reservations::order_id.eq(order_id.to_string()))
        .filter(reservations::status.eq("held"))
        .select(reservations::reservation_id)
        .load(conn)?;
    ids.iter()
        .map(|id| load(conn, id))
        .collect::<omni_db::Result<Vec<_>>>()
        .map(|v| v.into_iter().flatten().collect())
}

/// Every held reservation (for rebuilding the hold store).
pub fn all_held(conn: &mut DbConnection) -> omni_db::Result<Vec<StoredHold>> {
    let ids: Vec<String> = reservations::table
        .filter(reservations::status.eq("held"))
        .select(reservations::reservation_id)
        .load(conn)?;
    ids.iter()
        .map(|id| load(conn, id))
        .collect::<omni_db::Result<Vec<_>>>()
        .map(|v| v.into_iter().flatten().collect())
}

fn load(conn: &mut DbConnection, id: &str) -> omni_db::Result<Option<StoredHold>> {
    let head: Option<(String, chrono::NaiveDateTime)> = reservations::table
        .find(id)
        .select((reservations::location_id, reservations::expires_at))
        .first(conn)
        .optional()?;
    let Some((location_id, expires_at)) = head else {
        return Ok(None);
    };
    let lines = reservation_lines::table
        .filter(reservation_lines::reservation_id.eq(id))
        .select((reservation_lines::sku, reservation_lines::quantity))
        .load(conn)?;
    Ok(Some(StoredHold {
        reservation_id: id.to_owned(),
        location_id,
        lines,
        expires_at,
    }))
}

/// Marks a hold released.
pub fn mark_released(conn: &mut DbConnection, id: &str) -> omni_db::Result<()> {
    diesel::update(reservations::table.find(id))
        .set(reservations::status.eq("released"))
        .execute(conn)?;
    Ok(())
}
