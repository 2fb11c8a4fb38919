use diesel::dsl::sql;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Bool};
use omni_contracts::api::{LocationAvailability, MovementKind, StockMovement};
use omni_contracts::{LocationId, Sku};
use omni_db::DbConnection;

use super::schema::{movements, reservation_lines};

/// Whether a movement with this event id is already in the ledger.
pub fn contains(conn: &mut DbConnection, event_id: &str) -> omni_db::Result<bool> {
    let n: i64 = movements::table
        .filter(movements::event_id.eq(event_id))
        .count()
        .get_result(conn)?;
    Ok(n > 0)
}

/// On-hand of a SKU at a location: the sum of its deltas.
pub fn on_hand(conn: &mut DbConnection, location: &LocationId, sku: &Sku) -> omni_db::Result<i64> {
    let total: i64 = movements::table
        .filter(movements::sku.eq(sku.as_str()))
        .filter(movements::location_id.eq(location.as_str()))
        .select(sql::<BigInt>("CAST(COALESCE(SUM(delta), 0) AS BIGINT)"))
        .first(conn)?;
    Ok(total)
}

/// Appends a movement with its computed delta.
pub fn append(conn: &mut DbConnection, movement: &StockMovement, delta: i64) -> omni_db::Result<()> {
    let entry = Entry {
        event_id: &movement.event_id.to_string(),
        location: movement.location_id.as_str(),
        sku: movement.sku.as_str(),
        kind: kind_name(movement.kind),
        quantity: i64::from(movement.quantity),
        delta,
    };
    append_entry(conn, &entry)
}

/// One ledger row.
#[derive(Debug, Clone, Copy)]
pub struct Entry<'a> {
    /// Idempotency key.
    pub event_id: &'a str,
    /// Location.
    pub location: &'a str,
    /// SKU.
    pub sku: &'a str,
    /// `receipt`, `pos_sale`, ... or `commit` (a fulfilled hold).
    pub kind: &'a str,
    /// Units as reported.
    pub quantity: i64,
    /// Change of on-hand.
    pub delta: i64,
}

/// Appends a ledger row.
pub fn append_entry(conn: &mut DbConnection, entry: &Entry<'_>) -> omni_db::Result<()> {
    diesel::insert_into(movements::table)
        .values((
            movements::event_id.eq(entry.event_id),
            movements::location_id.eq(entry.location),
            movements::sku.eq(entry.sku),
            movements::kind.eq(entry.kind),
            movements::quantity.eq(entry.quantity),
            movements::delta.eq(entry.delta),
            movements::recorded_at.eq(omni_db::now()),
        ))
        .execute(conn)?;
    Ok(())
}

/// Every location that has a ledger row for the SKU.
pub fn locations_of(conn: &mut DbConnection, sku: &Sku) -> omni_db::Result<Vec<String>> {
    Ok(movements::table
        .filter(movements::sku.eq(sku.as_str()))
        .select(movements::location_id)
        .distinct()
        .order(movements::location_id.asc())
        .load(conn)?)
}

fn kind_name(kind: MovementKind) -> &'static str {
    match kind {
        MovementKind::Receipt => "receipt",
        MovementKind::PosSale => "pos_sale",
        MovementKind::Adjustment => "adjustment",
        MovementKind::Count => "count",
        MovementKind::TransferOut => "transfer_out",
        MovementKind::TransferIn => "transfer_in",
        MovementKind::ReturnRestock => "return_restock",
    }
}

/// The held lines, as the partial index `reservation_lines_held` defines them. A literal, not a bind: a prepared
/// statement's generic plan can use a partial index only when the query states its predicate as written.
const HELD: &str = "held";

/// The per-location picture of a SKU from the ledger and the held reservations.
pub fn availability(conn: &mut DbConnection, sku: &Sku) -> omni_db::Result<Vec<LocationAvailability>> {
    let on_hand: Vec<(String, i64)> = movements::table
        .filter(movements::sku.eq(sku.as_str()))
        .group_by(movements::location_id)
        .select((movements::location_id, sql::<BigInt>(SUM_DELTA)))
        .order(movements::location_id.asc())
        .load(conn)?;
    let held: Vec<(String, i64)> = reservation_lines::table
        .filter(reservation_lines::sku.eq(sku.as_str()))
        .filter(sql::<Bool>(HELD))
        .group_by(reservation_lines::location_id)
        .select((
            reservation_lines::location_id,
            sql::<BigInt>("CAST(COALESCE(SUM(reservation_lines.quantity), 0) AS BIGINT)"),
        ))
        .load(conn)?;
    Ok(on_hand
        .into_iter()
        .filter_map(|(location, on_hand)| {
            let location_id = LocationId::parse(&location).ok()?;
            let reserved = held.iter().find(|(l, _)| *l == location).map_or(0, |(_, q)| *q);
            Some(LocationAvailability {
                location_id,
                on_hand,
                reserved,
                atp: crate::domain::atp(on_hand, reserved),
            })
        })
        .collect())
}

/// Every (location, SKU, on-hand) in the ledger, for rebuilding the hold store.
pub fn all_levels(conn: &mut DbConnection) -> omni_db::Result<Vec<(String, String, i64)>> {
    Ok(movements::table
        .group_by((movements::location_id, movements::sku))
        .select((movements::location_id, movements::sku, sql::<BigInt>(SUM_DELTA)))
        .load(conn)?)
}

/// `SUM(BIGINT)` is NUMERIC on PostgreSQL and INTEGER on SQLite; the cast gives one type on both.
const SUM_DELTA: &str = "CAST(COALESCE(SUM(movements.delta), 0) AS BIGINT)";

/// Units of a SKU sold (POS sales and fulfilled holds) per location since `since`.
pub fn sold_since(
    conn: &mut DbConnection,
    sku: &Sku,
    since: chrono::NaiveDateTime,
) -> omni_db::Result<Vec<(String, i64)>> {
    Ok(movements::table
        .filter(movements::sku.eq(sku.as_str()))
        .filter(movements::kind.eq_any(["pos_sale", "commit"]))
        .filter(movements::recorded_at.ge(since))
        .group_by(movements::location_id)
        .select((
            movements::location_id,
            sql::<BigInt>("CAST(COALESCE(SUM(movements.quantity), 0) AS BIGINT)"),
        ))
        .load(conn)?)
}

/// Every SKU the ledger has seen.
pub fn skus(conn: &mut DbConnection) -> omni_db::Result<Vec<String>> {
    Ok(movements::table
        .select(movements::sku)
        .distinct()
        .order(movements::sku.asc())
        .load(conn)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_held_lines_query_states_the_partial_index_predicate_as_the_migration_wrote_it() {
        let migration = include_str!("../../migrations/2026-11-26-000001_held_lines_by_location/up.sql");
        assert!(
            migration.contains(&format!("WHERE {HELD};")),
            "reservation_lines_held's predicate is `{HELD}`"
        );
    }
}
