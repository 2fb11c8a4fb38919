//! Keeping the hold store equal to the ledger: a rebuild from the ledger (a fresh process, Redis restarted
//! empty, a store marked stale) and a periodic reconciliation that repairs any divergence. Both run in one
//! PostgreSQL transaction holding the generation's row lock (`db::generation`), across every replica: a load bumps
//! the generation and reads the ledger under it, so no hold is recorded in between, and a hold the store placed
//! under the old generation is never recorded after (DESIGN §4).

use std::sync::atomic::Ordering;

use super::State;
use crate::db;
use crate::error::SyncError;
use crate::failpoints::{self, failpoint};
use crate::holds;

/// A level of the store that differs from the ledger: `(location, sku, store's (on_hand, reserved), ledger's)`.
pub(crate) type Divergence = (String, String, (i64, i64), (i64, i64));

/// What a reconciliation did.
enum Reconciled {
    /// Every level matched.
    Equal,
    /// This many levels differed; the store was reloaded.
    Repaired(usize),
}

impl State {
    pub(crate) async fn rebuild(&self) -> Result<(), SyncError> {
        let _exclusive = self.changes.write().await;
        // Another request of this replica may have rebuilt it while this one waited.
        let loaded = self.holds.is_loaded().await.map_err(SyncError::Holds)?;
        if loaded && !self.stale.load(Ordering::SeqCst) {
            return Ok(());
        }
        self.stale.store(false, Ordering::SeqCst);
        let holds = self.holds.clone();
        let snapshot = self
            .db
            .transaction(move |conn| -> Result<holds::Snapshot, SyncError> {
                let generation = db::generation::bump(conn).map_err(SyncError::Db)?;
                let snapshot = ledger_snapshot(conn, generation).map_err(SyncError::Db)?;
                load(&holds, &snapshot)?;
                Ok(snapshot)
            })
            .await?;
        tracing::info!(
            generation = snapshot.generation,
            levels = snapshot.on_hand.len(),
            holds = snapshot.holds.len(),
            "Hold store rebuilt from the ledger."
        );
        Ok(())
    }

    /// Compares every level in the hold store with the ledger while no hold can be recorded (the generation's row
    /// lock), and reloads the store under a new generation if a level could sell more than the ledger has (the
    /// store holds less, or has more on hand), or if a level holds more than the ledger the same way as at the last
    /// round (a hold placed in the store and not recorded yet looks like that for a moment; one that stays so was
    /// lost on its way). Returns how many (location, SKU) levels were repaired.
    pub async fn reconcile(&self) -> Result<usize, SyncError> {
        let _exclusive = self.changes.write().await;
        let (holds, metrics) = (self.holds.clone(), self.metrics.clone());
        let seen_before = self.divergences.clone();
        let reconciled = self
            .db
            .transaction(move |conn| -> Result<Reconciled, SyncError> {
                let generation = db::generation::current_exclusive(conn).map_err(SyncError::Db)?;
                let snapshot = ledger_snapshot(conn, generation).map_err(SyncError::Db)?;
                let expected = snapshot.expected_levels();
                metrics
                    .oversold_units
                    .set(holds::Snapshot::units_beyond_on_hand(&expected));
                let (now, unstamped) = block_on(diverged(&holds, &expected, generation))?;
                let mut before = seen_before
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                let repair =
                    !unstamped.is_empty() || now.iter().any(|d| could_oversell(d) || before.contains(d));
                if !repair {
                    *before = now;
                    return Ok(Reconciled::Equal);
                }
                before.clear();
                drop(before);
                for (location, sku, got, want) in &now {
                    tracing::warn!(location.id = %location, sku = %sku, ?got, ?want, "Hold store diverged from the ledger.");
                }
                for (location, stamp) in &unstamped {
                    tracing::warn!(location.id = %location, ?stamp, generation, "Hold store loaded under another generation than the ledger's (a load cut short).");
                }
                let generation = db::generation::bump(conn).map_err(SyncError::Db)?;
                load(
                    &holds,
                    &holds::Snapshot {
                        generation,
                        ..snapshot
                    },
                )?;
                Ok(Reconciled::Repaired(now.len() + unstamped.len()))
            })
            .await?;
        Ok(match reconciled {
            Reconciled::Equal => 0,
            Reconciled::Repaired(diverged) => {
                tracing::warn!(diverged, "Hold store repaired from the ledger.");
                diverged
            }
        })
    }
}

/// The ledger's truth under `generation`: every level, every held reservation, every known location.
fn ledger_snapshot(
    conn: &mut omni_db::DbConnection,
    generation: holds::Generation,
) -> omni_db::Result<holds::Snapshot> {
    let on_hand = db::ledger::all_levels(conn)?;
    failpoint!(
        failpoints::SNAPSHOT_BETWEEN_READS,
        Err(omni_db::Error::Task(failpoints::SNAPSHOT_BETWEEN_READS.into()))
    );
    let holds = db::reservations::all_held(conn)?
        .into_iter()
        .map(|h| holds::SnapshotHold {
            id: h.reservation_id.to_string(),
            location: h.location_id.to_string(),
            lines: h.lines.into_iter().map(|(sku, q)| (sku.to_string(), q)).collect(),
        })
        .collect();
    let locations = db::catalog::location_points(conn)?
        .into_iter()
        .map(|(id, _, _)| id.to_string())
        .collect();
    Ok(holds::Snapshot {
        generation,
        locations,
        on_hand,
        holds,
    })
}

/// Loads the store from the blocking thread of a database transaction (which commits the generation after).
fn load(holds: &holds::HoldStore, snapshot: &holds::Snapshot) -> Result<(), SyncError> {
    block_on(holds.load(snapshot)).map_err(SyncError::Holds)?;
    failpoint!(
        failpoints::LOAD_BETWEEN_STORE_AND_COMMIT,
        Err(SyncError::Db(omni_db::Error::Task(
            failpoints::LOAD_BETWEEN_STORE_AND_COMMIT.into()
        )))
    );
    Ok(())
}

/// Runs a hold store call from the blocking thread a database transaction runs on.
fn block_on<T>(call: impl std::future::Future<Output = T>) -> T {
    tokio::runtime::Handle::current().block_on(call)
}

/// Whether a level of the store offers more than the ledger's.
fn could_oversell((_, _, got, want): &Divergence) -> bool {
    got.0 - got.1 > want.0 - want.1
}

/// The (location, SKU) levels of the store that differ from `expected`, and the locations of `expected` the store
/// is not loaded under `generation` at, with the generation it has there (a load whose transaction never committed
/// left its stamp: holds placed under it are refused by every writer until the store is loaded again).
async fn diverged(
    holds: &holds::HoldStore,
    expected: &std::collections::BTreeMap<(String, String), (i64, i64)>,
    generation: holds::Generation,
) -> Result<
    (
        std::collections::BTreeSet<Divergence>,
        Vec<(String, Option<holds::Generation>)>,
    ),
    SyncError,
> {
    let mut diverged = std::collections::BTreeSet::new();
    let mut unstamped = Vec::new();
    let locations: std::collections::BTreeSet<&String> = expected.keys().map(|(l, _)| l).collect();
    for location in locations {
        let Ok(location_id) = omni_contracts::LocationId::parse(location) else {
            continue;
        };
        let stamp = holds
            .location_generation(&location_id)
            .await
            .map_err(SyncError::Holds)?;
        if stamp != Some(generation) {
            unstamped.push((location.clone(), stamp));
        }
        let have = holds
            .location_levels(&location_id)
            .await
            .map_err(SyncError::Holds)?;
        for ((_, sku), want) in expected
            .range((location.clone(), String::new())..)
            .take_while(|((l, _), _)| l == location)
        {
            let got = have.get(sku).copied().unwrap_or((0, 0));
            if got != *want {
                diverged.insert((location.clone(), sku.clone(), got, *want));
            }
        }
    }
    Ok((diverged, unstamped))
}
