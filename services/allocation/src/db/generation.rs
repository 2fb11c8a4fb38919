//! The hold store's generation (`hold_generation`, one row): the fence between loads of the hold store and the
//! transactions that record what the store did (DESIGN §4).

use diesel::prelude::*;
use omni_db::DbConnection;

use super::schema::hold_generation;
use crate::holds::Generation;

/// The current generation, read under a shared lock (PostgreSQL): a load waits for this transaction, and this
/// transaction for a load under way. SQLite runs one writer at a time, which fences as well.
pub fn current_shared(conn: &mut DbConnection) -> omni_db::Result<Generation> {
    let query = hold_generation::table.find(1).select(hold_generation::generation);
    Ok(match conn {
        DbConnection::Pg(pg) => query.for_share().first(pg)?,
        DbConnection::Sqlite(sqlite) => query.first(sqlite)?,
    })
}

/// Reads the current generation under the row's exclusive lock, held until the transaction ends: nothing records
/// holds meanwhile (a reconciliation compares the store with the ledger under it).
pub fn current_exclusive(conn: &mut DbConnection) -> omni_db::Result<Generation> {
    let query = hold_generation::table.find(1).select(hold_generation::generation);
    Ok(match conn {
        DbConnection::Pg(pg) => query.for_update().first(pg)?,
        DbConnection::Sqlite(sqlite) => query.first(sqlite)?,
    })
}

/// Bumps the generation (under the row's lock, held until the transaction ends) and returns the new one: past the
/// current one and past the clock in microseconds. A load whose transaction never committed (its process killed
/// mid-way) may have stamped the store with the number it was about to take; the clock is not rolled back with
/// it, so the next load's number differs from that one and the stamps it left are never taken for current.
pub fn bump(conn: &mut DbConnection) -> omni_db::Result<Generation> {
    // The row is written first: SQLite takes its write lock before the read, so two loads never both read.
    diesel::update(hold_generation::table.find(1))
        .set(hold_generation::generation.eq(hold_generation::generation + 1))
        .execute(conn)?;
    let bumped: Generation = hold_generation::table
        .find(1)
        .select(hold_generation::generation)
        .first(conn)?;
    let next = bumped.max(chrono::Utc::now().timestamp_micros());
    if next != bumped {
        diesel::update(hold_generation::table.find(1))
            .set(hold_generation::generation.eq(next))
            .execute(conn)?;
    }
    Ok(next)
}
