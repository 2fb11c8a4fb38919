use diesel::dsl::sql;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Bool, Nullable, Text};
use omni_contracts::api::{LocationAvailability, MovementKind, StockMovement};
use omni_contracts::{LocationId, Sku};
use omni_db::DbConnection;

use super::schema::{movements, reservation_lines, stock_checkpoints};

/// Whether a movement with this event id is already in the ledger.
pub fn contains(conn: &mut DbConnection, event_id: &str) -> omni_db::Result<bool> {
    let n: i64 = movements::table
        .filter(movements::event_id.eq(event_id))
        .count()
        .get_result(conn)?;
    Ok(n > 0)
}

/// On-hand of a SKU at a location (see [`levels`]).
pub fn on_hand(conn: &mut DbConnection, location: &LocationId, sku: &Sku) -> omni_db::Result<i64> {
    Ok(levels(conn, sku)?
        .into_iter()
        .find(|(l, _)| l == location.as_str())
        .map_or(0, |(_, on_hand)| on_hand))
}

/// Movements a SKU's tail may hold before [`levels`] takes a checkpoint: what on-hand sums at most (about), at the
/// cost of one more checkpoint row per location every this many movements.
pub const CHECKPOINT_AFTER: i64 = 1_000;

/// A SKU's on-hand by location, in location order: its newest checkpoint plus the movements written after the
/// checkpoint's cut. Every location that has ever had a movement of the SKU is there, at 0 too. When the tail has
/// grown past [`CHECKPOINT_AFTER`] movements it takes a new checkpoint, in the caller's transaction.
pub fn levels(conn: &mut DbConnection, sku: &Sku) -> omni_db::Result<Levels> {
    levels_checkpointing_after(conn, sku, CHECKPOINT_AFTER)
}

/// [`levels`], with a checkpoint once the tail is longer than `after` movements.
pub fn levels_checkpointing_after(conn: &mut DbConnection, sku: &Sku, after: i64) -> omni_db::Result<Levels> {
    // Plain statements that diesel prepares once per connection. A single statement with the newest cut as a
    // subquery (a `UNION` of the checkpoint and the tail) planned so much slower that allocation applied half the
    // POS sales per second (docs/PERFORMANCE.md).
    let of_sku = movements::table.filter(movements::sku.eq(sku.as_str()));
    let cut: Option<i64> = stock_checkpoints::table
        .filter(stock_checkpoints::sku.eq(sku.as_str()))
        .select(diesel::dsl::max(stock_checkpoints::cut))
        .first(conn)?;
    let (checkpointed, tail): (Levels, Vec<(String, i64, i64)>) = match cut {
        Some(cut) => (
            stock_checkpoints::table
                .filter(stock_checkpoints::sku.eq(sku.as_str()))
                .filter(stock_checkpoints::cut.eq(cut))
                .select((stock_checkpoints::location_id, stock_checkpoints::on_hand))
                .load(conn)?,
            of_sku
                .filter(movements::written_by.ge(cut))
                .group_by(movements::location_id)
                .select(tail_sums())
                .load(conn)?,
        ),
        // Without a checkpoint the tail is all of the SKU's movements.
        None => (
            Vec::new(),
            of_sku
                .group_by(movements::location_id)
                .select(tail_sums())
                .load(conn)?,
        ),
    };
    if tail.iter().map(|(_, _, moved)| moved).sum::<i64>() > after {
        checkpoint(conn, sku, cut)?;
    }
    Ok(crate::domain::levels(checkpointed.into_iter().chain(
        tail.into_iter().map(|(location, delta, _)| (location, delta)),
    )))
}

/// What a tail sums by location: the location, its change of on-hand, and its number of movements.
fn tail_sums() -> (
    movements::location_id,
    diesel::expression::SqlLiteral<BigInt>,
    diesel::expression::SqlLiteral<BigInt>,
) {
    (
        movements::location_id,
        sql::<BigInt>(SUM_DELTA),
        sql::<BigInt>("CAST(COUNT(*) AS BIGINT)"),
    )
}

/// On-hand by location.
pub type Levels = Vec<(String, i64)>;

/// Inserts a checkpoint of the SKU at the newest cut that is safe now: the `previous` checkpoint plus the movements
/// from its cut up to the new one. Nothing when the cut has not moved; a checkpoint at the same cut taken meanwhile
/// by another transaction is the same sum, and stays.
fn checkpoint(conn: &mut DbConnection, sku: &Sku, previous: Option<i64>) -> omni_db::Result<()> {
    let cut: i64 = diesel::select(sql::<BigInt>(safe_cut(conn))).get_result(conn)?;
    if previous.is_some_and(|previous| cut <= previous) {
        return Ok(());
    }
    let insert = |sql: String| {
        diesel::sql_query(sql)
            .bind::<Text, _>(sku.as_str())
            .bind::<BigInt, _>(cut)
            .bind::<BigInt, _>(previous.unwrap_or(i64::MIN))
    };
    // Raw SQL: PostgreSQL numbers its parameters `$n`, SQLite `?n`.
    match conn {
        DbConnection::Pg(pg) => insert(CHECKPOINT.to_owned()).execute(pg)?,
        DbConnection::Sqlite(sqlite) => insert(CHECKPOINT.replace('$', "?")).execute(sqlite)?,
    };
    Ok(())
}

/// A checkpoint of SKU $1 at cut $2: the checkpoint at cut $3 plus the movements from $3 up to $2, by location.
/// `WHERE true`: SQLite parses an upsert after `INSERT … SELECT` only when the select has a `WHERE`.
const CHECKPOINT: &str = "INSERT INTO stock_checkpoints (sku, cut, location_id, on_hand) \
     SELECT $1, $2, location_id, CAST(SUM(on_hand) AS BIGINT) FROM ( \
         SELECT location_id, on_hand FROM stock_checkpoints WHERE sku = $1 AND cut = $3 \
         UNION ALL \
         SELECT location_id, delta AS on_hand FROM movements WHERE sku = $1 AND written_by >= $3 AND written_by < $2 \
     ) AS moved WHERE true GROUP BY location_id \
     ON CONFLICT DO NOTHING";

/// The highest cut below which no movement can still appear. PostgreSQL: the oldest transaction still running
/// when this statement's snapshot was taken; every transaction with a lower id has committed or rolled back.
/// SQLite: writers take turns, so every movement there is already written; the next one is numbered above it.
fn safe_cut(conn: &DbConnection) -> &'static str {
    match conn {
        DbConnection::Pg(_) => "CAST(CAST(pg_snapshot_xmin(pg_current_snapshot()) AS TEXT) AS BIGINT)",
        DbConnection::Sqlite(_) => NEXT_SQLITE_WRITE,
    }
}

/// What a movement written now is numbered on SQLite: one more than the highest rowid (the ledger deletes nothing).
const NEXT_SQLITE_WRITE: &str = "(SELECT COALESCE(MAX(rowid), 0) + 1 FROM movements)";

/// What a movement is numbered with as it is written (`written_by`): on PostgreSQL its transaction's id.
fn written_by(conn: &DbConnection) -> &'static str {
    match conn {
        DbConnection::Pg(_) => "txid_current()",
        DbConnection::Sqlite(_) => NEXT_SQLITE_WRITE,
    }
}

/// Appends a movement with its computed delta.
pub fn append(conn: &mut DbConnection, movement: &StockMovement, delta: i64) -> omni_db::Result<()> {
    let entry = Entry {
        event_id: &movement.event_id.to_string(),
        location: &movement.location_id,
        sku: &movement.sku,
        kind: EntryKind::Movement(movement.kind),
        quantity: i64::from(movement.quantity),
        delta,
    };
    append_entry(conn, &entry)
}

/// What a ledger row records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryKind {
    /// A stock movement a node reported (`receipt`, `pos_sale`, ...).
    Movement(MovementKind),
    /// A fulfilled hold's units leaving on-hand.
    Commit,
}

impl EntryKind {
    /// The `kind` column's value.
    pub fn as_str(self) -> &'static str {
        match self {
            EntryKind::Movement(kind) => kind_name(kind),
            EntryKind::Commit => "commit",
        }
    }
}

/// One ledger row.
#[derive(Debug, Clone, Copy)]
pub struct Entry<'a> {
    /// Idempotency key.
    pub event_id: &'a str,
    /// Location.
    pub location: &'a LocationId,
    /// SKU.
    pub sku: &'a Sku,
    /// A movement's kind, or a fulfilled hold's commit.
    pub kind: EntryKind,
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
            movements::location_id.eq(entry.location.as_str()),
            movements::sku.eq(entry.sku.as_str()),
            movements::kind.eq(entry.kind.as_str()),
            movements::quantity.eq(entry.quantity),
            movements::delta.eq(entry.delta),
            movements::recorded_at.eq(omni_db::now()),
            movements::written_by.eq(sql::<Nullable<BigInt>>(written_by(conn))),
        ))
        .execute(conn)?;
    Ok(())
}

/// Every location that has a ledger row for the SKU, in order.
pub fn locations_of(conn: &mut DbConnection, sku: &Sku) -> omni_db::Result<Vec<LocationId>> {
    let locations = levels(conn, sku)?
        .into_iter()
        .map(|(location, _)| location)
        .collect();
    omni_db::typed::parse_all(locations, "a ledger row's location")
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
    let on_hand = levels(conn, sku)?;
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

/// Every (location, SKU, on-hand) in the ledger, for rebuilding the hold store. It sums the whole ledger, not the
/// checkpoints: it runs only when the hold store lost its data, and the movements are the truth.
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
pub fn skus(conn: &mut DbConnection) -> omni_db::Result<Vec<Sku>> {
    let skus = movements::table
        .select(movements::sku)
        .distinct()
        .order(movements::sku.asc())
        .load(conn)?;
    omni_db::typed::parse_all(skus, "a ledger row's SKU")
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
