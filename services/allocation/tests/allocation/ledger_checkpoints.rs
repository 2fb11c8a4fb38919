//! On-hand from checkpoints plus the tail, on both backends: always the sum of the whole ledger, however the
//! movements and the checkpoints interleave, while the tail it sums stays short. On PostgreSQL also with a movement
//! whose transaction is still open while a checkpoint is taken: it must count once it commits, neither lost below
//! the cut nor counted twice.

use anyhow::ensure;
use diesel::connection::SimpleConnection;
use diesel::dsl::sql;
use diesel::prelude::*;
use diesel::sql_types::BigInt;
use diesel_migrations::MigrationHarness;
use omni_allocation::db::ledger::{self, Entry, EntryKind};
use omni_contracts::api::MovementKind;
use omni_contracts::{LocationId, Sku};
use omni_db::DbConnection;
use omni_db::testing::{Backend, TestDatabase};

const LOCATIONS: [&str; 3] = ["S1", "S2", "W1"];

fn sku() -> Sku {
    Sku::parse("HOT-SKU").unwrap_or_else(|e| panic!("test SKU: {e}"))
}

fn write(conn: &mut DbConnection, n: usize, location: &str, delta: i64) -> anyhow::Result<()> {
    let event_id = format!("ev-{location}-{n}");
    let (location, sku) = (LocationId::parse(location)?, sku());
    let entry = Entry {
        event_id: &event_id,
        location: &location,
        sku: &sku,
        kind: EntryKind::Movement(if delta >= 0 {
            MovementKind::Receipt
        } else {
            MovementKind::PosSale
        }),
        quantity: delta.abs(),
        delta,
    };
    Ok(ledger::append_entry(conn, &entry)?)
}

/// On-hand by location as the whole ledger sums it, the truth the checkpoints must agree with.
fn whole_ledger(conn: &mut DbConnection) -> anyhow::Result<Vec<(String, i64)>> {
    use omni_allocation::db::schema::movements;
    Ok(movements::table
        .filter(movements::sku.eq("HOT-SKU"))
        .group_by(movements::location_id)
        .select((
            movements::location_id,
            sql::<BigInt>("CAST(SUM(movements.delta) AS BIGINT)"),
        ))
        .order(movements::location_id.asc())
        .load(conn)?)
}

/// Movements after the newest checkpoint's cut.
fn tail_length(conn: &mut DbConnection) -> anyhow::Result<i64> {
    use omni_allocation::db::schema::{movements, stock_checkpoints};
    let cut: Option<i64> = stock_checkpoints::table
        .select(diesel::dsl::max(stock_checkpoints::cut))
        .first(conn)?;
    Ok(movements::table
        .filter(movements::written_by.ge(cut.unwrap_or(i64::MIN)))
        .count()
        .get_result(conn)?)
}

fn checkpoints(conn: &mut DbConnection) -> anyhow::Result<i64> {
    use omni_allocation::db::schema::stock_checkpoints;
    Ok(stock_checkpoints::table
        .select(stock_checkpoints::cut)
        .distinct()
        .load::<i64>(conn)?
        .len()
        .try_into()?)
}

/// The version of the migration that brought checkpoints in.
const CHECKPOINTS_MIGRATION: &str = "20261127000001";

async fn levels_always_sum_the_whole_ledger(backend: Backend) -> anyhow::Result<()> {
    let database = TestDatabase::create(backend)?;
    let db = database.migrated(omni_allocation::MIGRATIONS).await?;
    db.run(|conn| -> anyhow::Result<()> {
        let sku = sku();
        // Rows written before the checkpoints' migration: it must take them in as the first checkpoints. (Later
        // migrations are reverted first.)
        loop {
            let reverted = conn
                .revert_last_migration(omni_allocation::MIGRATIONS)
                .map_err(|e| anyhow::anyhow!("reverting down to the checkpoints' migration: {e}"))?;
            if reverted.to_string() == CHECKPOINTS_MIGRATION {
                break;
            }
        }
        for old in 0..50_usize {
            use omni_allocation::db::schema::movements;
            diesel::insert_into(movements::table)
                .values((
                    movements::event_id.eq(format!("before-{old}")),
                    movements::location_id.eq(LOCATIONS[old % 3]),
                    movements::sku.eq("HOT-SKU"),
                    movements::kind.eq("receipt"),
                    movements::quantity.eq(3_i64),
                    movements::delta.eq(3_i64),
                    movements::recorded_at.eq(omni_db::now()),
                ))
                .execute(conn)?;
        }
        conn.run_pending_migrations(omni_allocation::MIGRATIONS)
            .map_err(|e| anyhow::anyhow!("the checkpoints' migration: {e}"))?;
        ensure!(ledger::levels_checkpointing_after(conn, &sku, 0)? == whole_ledger(conn)?);
        let mut n = 0;
        for round in 0..30_i64 {
            // Each round writes 60 movements in one transaction, a mix of receipts and sales at every location.
            conn.transaction(|conn| -> anyhow::Result<()> {
                for i in 0..60_i64 {
                    n += 1;
                    let location = LOCATIONS[usize::try_from(i % 3)?];
                    let delta = if (i + round) % 4 == 0 { 7 } else { -2 };
                    write(conn, n, location, delta)?;
                    // Inside the writing transaction too, as the inventory consumer reads on-hand for each movement
                    // of a batch.
                    if i % 7 == 0 {
                        let levels = ledger::levels(conn, &sku)?;
                        ensure!(
                            levels == whole_ledger(conn)?,
                            "inside round {round}, after movement {i}: {levels:?}"
                        );
                    }
                }
                Ok(())
            })?;
            let levels = ledger::levels_checkpointing_after(conn, &sku, 100)?;
            ensure!(
                levels == whole_ledger(conn)?,
                "round {round}: {levels:?} from checkpoints, {:?} in the ledger",
                whole_ledger(conn)?
            );
        }
        // On PostgreSQL a cut never passes a transaction still running anywhere in the cluster (other tests run
        // beside this one), so not every round may have moved it; most have.
        let taken = checkpoints(conn)?;
        ensure!(
            taken >= 3,
            "1,800 movements, a checkpoint past every 100: only {taken} taken"
        );
        // Once nothing older than the last movement runs, a checkpoint covers them all: no tail is left to sum.
        let mut tail = i64::MAX;
        for _ in 0..100 {
            ensure!(ledger::levels_checkpointing_after(conn, &sku, 0)? == whole_ledger(conn)?);
            tail = tail_length(conn)?;
            if tail == 0 {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        ensure!(
            tail == 0,
            "{tail} movements are still after the newest checkpoint"
        );
        // on_hand and locations_of read the same levels.
        let on_hand = ledger::on_hand(conn, &omni_contracts::LocationId::parse("S2")?, &sku)?;
        let whole = whole_ledger(conn)?;
        ensure!(
            whole.iter().any(|(l, q)| l == "S2" && *q == on_hand),
            "S2: {on_hand} against {whole:?}"
        );
        let codes: Vec<String> = ledger::locations_of(conn, &sku)?
            .iter()
            .map(LocationId::to_string)
            .collect();
        ensure!(codes == LOCATIONS.map(str::to_owned).to_vec());
        Ok(())
    })
    .await
}

#[tokio::test]
async fn levels_from_checkpoints_are_the_whole_ledger_on_postgres() -> anyhow::Result<()> {
    levels_always_sum_the_whole_ledger(Backend::Postgres).await
}

#[tokio::test]
async fn levels_from_checkpoints_are_the_whole_ledger_on_sqlite() -> anyhow::Result<()> {
    levels_always_sum_the_whole_ledger(Backend::Sqlite).await
}

#[tokio::test]
async fn a_movement_still_being_written_during_a_checkpoint_counts_once_it_commits() -> anyhow::Result<()> {
    let database = TestDatabase::create(Backend::Postgres)?;
    let db = database.migrated(omni_allocation::MIGRATIONS).await?;
    let sku = sku();
    let mut open = db.get()?;
    let mut other = db.get()?;
    write(&mut other, 0, "S1", 100)?;
    // A movement whose transaction stays open.
    open.batch_execute("BEGIN")?;
    write(&mut open, 1, "S1", -30)?;
    // Meanwhile others write and commit, and a checkpoint is taken.
    for n in 2..12 {
        write(&mut other, n, "S1", -1)?;
    }
    // The checkpoint can only cover the first movement, written before the open one began; and only once no
    // transaction older than that runs anywhere in the cluster (other tests run beside this one).
    for _ in 0..100 {
        let before = ledger::levels_checkpointing_after(&mut other, &sku, 0)?;
        ensure!(
            before == vec![("S1".to_owned(), 90)],
            "before the commit: {before:?}"
        );
        if checkpoints(&mut other)? > 0 {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    ensure!(
        checkpoints(&mut other)? > 0,
        "no checkpoint was taken while the movement was open"
    );
    // The open movement is above the checkpoint's cut, so it is still in the tail.
    let (cut, open_written_by): (i64, i64) = {
        use omni_allocation::db::schema::{movements, stock_checkpoints};
        let cut = stock_checkpoints::table
            .select(stock_checkpoints::cut)
            .first(&mut other)?;
        let written_by: Option<i64> = movements::table
            .filter(movements::event_id.eq("ev-S1-1"))
            .select(movements::written_by)
            .first(&mut open)?;
        (cut, written_by.unwrap_or(i64::MIN))
    };
    ensure!(
        open_written_by >= cut,
        "cut {cut} passed the open transaction {open_written_by}"
    );
    open.batch_execute("COMMIT")?;
    let after = ledger::levels_checkpointing_after(&mut other, &sku, 0)?;
    ensure!(
        after == vec![("S1".to_owned(), 60)],
        "after the commit: {after:?}"
    );
    ensure!(after == whole_ledger(&mut other)?, "{after:?} against the ledger");
    // Once no older transaction runs anywhere in the cluster (other tests run beside this one), a checkpoint
    // passes the committed movement, and the answer stays.
    let mut newest_cut = cut;
    for _ in 0..100 {
        ensure!(ledger::levels_checkpointing_after(&mut other, &sku, 0)? == after);
        use omni_allocation::db::schema::stock_checkpoints;
        newest_cut = stock_checkpoints::table
            .select(diesel::dsl::max(stock_checkpoints::cut))
            .first::<Option<i64>>(&mut other)?
            .unwrap_or(cut);
        if newest_cut > open_written_by {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    ensure!(
        newest_cut > open_written_by,
        "no checkpoint passed the committed movement"
    );
    Ok(())
}
