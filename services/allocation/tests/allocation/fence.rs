//! The ordering rules of the hold path (DESIGN §4), made deterministic with failpoints:
//!
//! - the generation fence between two allocation replicas on one PostgreSQL database and one Redis: one replica
//!   rebuilds the hold store from the ledger and is stopped between its two reads (levels, then holds) while the
//!   other commits a hold. Found by the hold crash test (an oversell under load): the commit landed between the
//!   reads, so the store was loaded with the units still on hand and the hold already gone, and offered the
//!   committed units again;
//! - whatever takes units goes to the hold store first: a till sale whose process dies after the ledger recorded
//!   it never leaves the store offering the sold units.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, ensure};
use omni_allocation::app::{State, movements, reservation};
use omni_allocation::holds::RedisHolds;
use omni_allocation::{HoldStore, MIGRATIONS};
use omni_contracts::api::{MovementKind, NewReservation, ReservationLine, StockMovement};
use omni_contracts::selling::Channel;
use omni_contracts::{LocationId, MovementId, Quantity, ReservationId, Sku};
use omni_db::DbConnection;
use omni_db::testing::{Backend, TestDatabase};
use omni_testkit::fixtures::{sku, store};
use omni_testkit::testing::RedisNamespace;

/// One replica: its own process state on the shared database and Redis.
fn replica(db: &omni_db::Db, holds: &HoldStore) -> anyhow::Result<State> {
    let registry = prometheus::Registry::new();
    Ok(State::new(
        db.clone(),
        holds.clone(),
        Arc::new(tokio::sync::Notify::new()),
        omni_allocation::metrics::AllocationMetrics::register(&registry)?,
        Duration::from_secs(900),
        None,
    ))
}

/// Whether a session of the test's database waits for a lock (a transaction stopped by the fence).
async fn someone_waits_for_a_lock(db: &omni_db::Db) -> anyhow::Result<bool> {
    #[derive(diesel::QueryableByName)]
    struct Waiting {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    let waiting = db
        .run(|conn| -> omni_db::Result<i64> {
            use diesel::RunQueryDsl;
            let DbConnection::Pg(pg) = conn else {
                return Ok(0);
            };
            let row: Waiting = diesel::sql_query(
                "SELECT count(*) AS n FROM pg_stat_activity \
                 WHERE datname = current_database() AND wait_event_type = 'Lock'",
            )
            .get_result(pg)?;
            Ok(row.n)
        })
        .await?;
    Ok(waiting > 0)
}

/// A PostgreSQL ledger and a Redis store, shared by the replicas a test makes, with 5 units of one SKU received
/// at one location.
struct Shared {
    db: omni_db::Db,
    holds: HoldStore,
    location: LocationId,
    tee: Sku,
    _database: TestDatabase,
    _namespace: RedisNamespace,
}

impl Shared {
    async fn new() -> anyhow::Result<Self> {
        omni_telemetry::init_for_tests();
        let database = TestDatabase::create(Backend::Postgres)?;
        let db = database.migrated(MIGRATIONS).await?;
        let namespace = RedisNamespace::new();
        let holds = HoldStore::Redis(RedisHolds::connect(&namespace.url, &namespace.prefix).await?);
        let shared = Self {
            db,
            holds,
            location: LocationId::parse("FENCE-1")?,
            tee: Sku::parse("FENCE-TEE")?,
            _database: database,
            _namespace: namespace,
        };
        let (known_location, known_sku) = (
            store(shared.location.as_str()).build()?,
            sku(shared.tee.as_str())?,
        );
        shared
            .db
            .run(move |conn| -> omni_db::Result<()> {
                omni_allocation::db::catalog::remember_location(conn, &known_location)?;
                omni_allocation::db::catalog::remember_sku(conn, &known_sku)
            })
            .await?;
        let first = shared.replica()?;
        ensure!(first.holds_ready().await, "the store loads");
        shared.movement(&first, MovementKind::Receipt, 5).await?;
        Ok(shared)
    }

    fn replica(&self) -> anyhow::Result<State> {
        replica(&self.db, &self.holds)
    }

    async fn movement(&self, replica: &State, kind: MovementKind, units: i64) -> anyhow::Result<()> {
        movements::record(
            replica,
            StockMovement {
                event_id: MovementId::generate(),
                location_id: self.location.clone(),
                sku: self.tee.clone(),
                kind,
                quantity: Quantity::new(units)?,
            },
            None,
        )
        .await?;
        Ok(())
    }

    async fn hold(
        &self,
        replica: &State,
        id: ReservationId,
        units: i64,
    ) -> Result<(omni_contracts::api::Reservation, bool), omni_allocation::error::HoldFailure> {
        reservation::place(
            replica,
            NewReservation {
                reservation_id: id,
                location_id: Some(self.location.clone()),
                channel: Channel::Web,
                tier: Default::default(),
                segment: None,
                lines: vec![ReservationLine {
                    sku: self.tee.clone(),
                    quantity: Quantity::new(units)
                        .map_err(|e| omni_allocation::error::HoldFailure::Invalid(e.to_string()))?,
                }],
                ttl_seconds: 600,
            },
        )
        .await
    }

    /// Asking `replica` for `units` is refused: fewer are left.
    async fn ensure_short(&self, replica: &State, units: i64) -> anyhow::Result<()> {
        let more = self.hold(replica, ReservationId::generate(), units).await;
        ensure!(
            matches!(more, Err(omni_allocation::error::HoldFailure::Short(_))),
            "{units} units are refused: {more:?}"
        );
        Ok(())
    }

    /// A load by `replica` fills the store and its transaction never commits (its process died there); the stamp
    /// it left at the location.
    async fn cut_a_load_short(&self, replica: &State) -> anyhow::Result<Option<i64>> {
        fail::cfg(
            omni_allocation::failpoints::LOAD_BETWEEN_STORE_AND_COMMIT,
            "1*return",
        )
        .map_err(anyhow::Error::msg)?;
        replica.mark_stale();
        ensure!(!replica.holds_ready().await, "the load was cut short");
        fail::remove(omni_allocation::failpoints::LOAD_BETWEEN_STORE_AND_COMMIT);
        let stamp = self.holds.location_generation(&self.location).await?;
        ensure!(stamp.is_some(), "the cut load left its stamp");
        Ok(stamp)
    }

    async fn ledger_on_hand(&self) -> anyhow::Result<i64> {
        let (location, tee) = (self.location.clone(), self.tee.clone());
        Ok(self
            .db
            .run(move |conn| omni_allocation::db::ledger::on_hand(conn, &location, &tee))
            .await?)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_commit_during_another_replicas_rebuild_never_frees_its_units_twice() -> anyhow::Result<()> {
    let shared = Shared::new().await?;
    let (db, holds, location, tee) = (&shared.db, &shared.holds, &shared.location, &shared.tee);
    let (rebuilding, committing) = (shared.replica()?, shared.replica()?);
    let id = ReservationId::generate();
    shared.hold(&committing, id, 2).await?;
    ensure!(holds.levels(location, tee.as_str()).await? == (5, 2));

    // The next snapshot stops between its reads until told to go on.
    let (reached_tx, mut reached) = tokio::sync::mpsc::unbounded_channel::<()>();
    let (go_tx, go) = std::sync::mpsc::channel::<()>();
    let (go, once) = (Mutex::new(go), AtomicBool::new(false));
    fail::cfg_callback(omni_allocation::failpoints::SNAPSHOT_BETWEEN_READS, move || {
        if !once.swap(true, Ordering::SeqCst) {
            let _ = reached_tx.send(());
            let _ = go.lock().map(|go| go.recv_timeout(Duration::from_secs(30)));
        }
    })
    .map_err(anyhow::Error::msg)?;
    rebuilding.mark_stale();
    let rebuild = tokio::spawn({
        let rebuilding = rebuilding.clone();
        async move { rebuilding.holds_ready().await }
    });
    tokio::time::timeout(Duration::from_secs(30), reached.recv())
        .await
        .context("the rebuild reaches the failpoint")?;

    // The other replica commits while the rebuild has read the levels and not yet the holds: it must wait for the
    // rebuild (the fence) or the store would be loaded with the units on hand and the hold gone.
    let commit = tokio::spawn({
        let committing = committing.clone();
        async move { reservation::commit(&committing, id).await }
    });
    let started = Instant::now();
    while !commit.is_finished() && !someone_waits_for_a_lock(db).await? {
        ensure!(
            started.elapsed() < Duration::from_secs(30),
            "the commit neither ended nor waited"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    go_tx.send(())?;
    ensure!(rebuild.await?, "the rebuild ends");
    let committed = commit.await??;
    ensure!(
        committed.status == omni_contracts::api::ReservationStatus::Committed,
        "{committed:?}"
    );
    fail::remove(omni_allocation::failpoints::SNAPSHOT_BETWEEN_READS);

    // The store equals the ledger: 3 on hand, nothing held; it cannot offer the committed units again.
    let ledger = shared.ledger_on_hand().await?;
    ensure!(ledger == 3, "the ledger has 3 left, has {ledger}");
    let levels = holds.levels(location, tee.as_str()).await?;
    ensure!(
        levels == (3, 0),
        "the store has (on hand, held) {levels:?}, the ledger (3, 0)"
    );
    shared.ensure_short(&committing, 4).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_till_sale_cut_off_after_the_ledger_never_leaves_its_units_on_offer() -> anyhow::Result<()> {
    let shared = Shared::new().await?;
    let till = shared.replica()?;
    // The process ends between the ledger and the store (here: the step fails there, as a crash would leave it).
    fail::cfg(
        omni_allocation::failpoints::MOVEMENT_BETWEEN_LEDGER_AND_STORE,
        "return",
    )
    .map_err(anyhow::Error::msg)?;
    let cut = shared.movement(&till, MovementKind::PosSale, 2).await;
    fail::remove(omni_allocation::failpoints::MOVEMENT_BETWEEN_LEDGER_AND_STORE);
    ensure!(cut.is_err(), "the failpoint struck: {cut:?}");
    ensure!(
        shared.ledger_on_hand().await? == 3,
        "the ledger recorded the sale"
    );
    let (on_hand, held) = shared.holds.levels(&shared.location, shared.tee.as_str()).await?;
    ensure!(
        on_hand - held <= 3,
        "the store offers {} units, the ledger 3",
        on_hand - held
    );
    shared.ensure_short(&shared.replica()?, 4).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_load_cut_short_is_never_taken_for_the_current_one() -> anyhow::Result<()> {
    let shared = Shared::new().await?;
    let (loading, other) = (shared.replica()?, shared.replica()?);
    let stamp = shared.cut_a_load_short(&loading).await?;

    // A hold meeting the stamp is refused once (the caller asks again) and the store is loaded again: the next is
    // recorded under a generation the ledger took, and the stamp is gone.
    let first = shared.hold(&other, ReservationId::generate(), 1).await;
    ensure!(
        matches!(&first, Err(omni_allocation::error::HoldFailure::Unavailable(_))),
        "{first:?}"
    );
    let (held, placed) = shared.hold(&other, ReservationId::generate(), 1).await?;
    ensure!(placed && held.status == omni_contracts::api::ReservationStatus::Held);
    let now = shared.holds.location_generation(&shared.location).await?;
    ensure!(now != stamp, "loaded again: {now:?} after {stamp:?}");
    ensure!(shared.holds.levels(&shared.location, shared.tee.as_str()).await? == (5, 1));

    // Cut short again and met by no hold: the reconciler (any replica) reloads it.
    let stamp = shared.cut_a_load_short(&loading).await?;
    let repaired = shared.replica()?.reconcile().await?;
    ensure!(repaired >= 1, "the reconciler repaired the stamped location");
    let now = shared.holds.location_generation(&shared.location).await?;
    ensure!(now != stamp, "reloaded: {now:?} after {stamp:?}");
    let (held, _) = shared.hold(&other, ReservationId::generate(), 1).await?;
    ensure!(held.status == omni_contracts::api::ReservationStatus::Held);
    ensure!(shared.holds.levels(&shared.location, shared.tee.as_str()).await? == (5, 2));
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn movements_taken_ahead_are_counted_once() -> anyhow::Result<()> {
    let shared = Shared::new().await?;
    let till = shared.replica()?;
    let sale = StockMovement {
        event_id: MovementId::generate(),
        location_id: shared.location.clone(),
        sku: shared.tee.clone(),
        kind: MovementKind::PosSale,
        quantity: Quantity::new(1)?,
    };
    // Sold, then the same sale again (a redelivery): one unit leaves, in the ledger and the store.
    movements::record(&till, sale.clone(), None).await?;
    movements::record(&till, sale, None).await?;
    ensure!(shared.ledger_on_hand().await? == 4);
    ensure!(shared.holds.levels(&shared.location, shared.tee.as_str()).await? == (4, 0));
    // A count down to 2, and one up to 6: the store follows the ledger.
    shared.movement(&till, MovementKind::Count, 2).await?;
    ensure!(shared.holds.levels(&shared.location, shared.tee.as_str()).await? == (2, 0));
    shared.movement(&till, MovementKind::Count, 6).await?;
    ensure!(shared.holds.levels(&shared.location, shared.tee.as_str()).await? == (6, 0));
    ensure!(shared.ledger_on_hand().await? == 6);
    // A sale the ledger refuses (a SKU it does not know) takes nothing from the store.
    let refused = movements::record(
        &till,
        StockMovement {
            event_id: MovementId::generate(),
            location_id: shared.location.clone(),
            sku: Sku::parse("FENCE-UNKNOWN")?,
            kind: MovementKind::PosSale,
            quantity: Quantity::new(1)?,
        },
        None,
    )
    .await;
    ensure!(refused.is_err());
    ensure!(shared.holds.levels(&shared.location, "FENCE-UNKNOWN").await? == (0, 0));
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_retried_id_is_answered_with_what_was_placed_and_holds_nothing_more() -> anyhow::Result<()> {
    use omni_contracts::api::ReservationStatus;
    let shared = Shared::new().await?;
    let web = shared.replica()?;
    let levels = || shared.holds.levels(&shared.location, shared.tee.as_str());
    // The first ask places it; asked again (by this replica, which now knows the SKU and location and asks the
    // database nothing first), it is the same hold.
    let id = ReservationId::generate();
    let (first, placed) = shared.hold(&web, id, 2).await?;
    ensure!(placed && first.status == ReservationStatus::Held);
    let (again, placed) = shared.hold(&web, id, 2).await?;
    ensure!(!placed && again == first, "{again:?}");
    ensure!(levels().await? == (5, 2));
    // Released, then asked again: answered released, and the store holds nothing for it.
    reservation::release_all(&web, id).await?;
    let (again, placed) = shared.hold(&web, id, 2).await?;
    ensure!(
        !placed && again.status == ReservationStatus::Released,
        "{again:?}"
    );
    ensure!(levels().await? == (5, 0));
    // Committed, then asked again: answered committed, nothing held.
    let id = ReservationId::generate();
    shared.hold(&web, id, 2).await?;
    reservation::commit(&web, id).await?;
    let (again, placed) = shared.hold(&web, id, 2).await?;
    ensure!(
        !placed && again.status == ReservationStatus::Committed,
        "{again:?}"
    );
    ensure!(levels().await? == (3, 0));
    // Asked again for more than is left: answered with what was placed, not short.
    let (again, placed) = shared.hold(&web, id, 4).await?;
    ensure!(
        !placed && again.status == ReservationStatus::Committed,
        "{again:?}"
    );
    ensure!(levels().await? == (3, 0));
    Ok(())
}
