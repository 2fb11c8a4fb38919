//! Keeping the hold store equal to the ledger: a rebuild from the ledger (a fresh process, Redis restarted
//! empty, a store marked stale) and a periodic reconciliation that repairs any divergence.

use std::sync::atomic::Ordering;

use super::State;
use crate::db;
use crate::error::SyncError;
use crate::holds;

impl State {
    pub(crate) async fn rebuild(&self) -> Result<(), SyncError> {
        let _exclusive = self.changes.write().await;
        self.stale.store(false, Ordering::SeqCst);
        let snapshot = self.ledger_snapshot().await?;
        self.holds.load(&snapshot).await.map_err(SyncError::Holds)?;
        tracing::info!(
            levels = snapshot.on_hand.len(),
            holds = snapshot.holds.len(),
            "Hold store rebuilt from the ledger."
        );
        Ok(())
    }

    async fn ledger_snapshot(&self) -> Result<holds::Snapshot, SyncError> {
        self.db
            .run(|conn| -> omni_db::Result<holds::Snapshot> {
                let on_hand = db::ledger::all_levels(conn)?;
                let holds = db::reservations::all_held(conn)?
                    .into_iter()
                    .map(|h| holds::SnapshotHold {
                        id: h.reservation_id.to_string(),
                        location: h.location_id.to_string(),
                        lines: h.lines.into_iter().map(|(sku, q)| (sku.to_string(), q)).collect(),
                    })
                    .collect();
                Ok(holds::Snapshot { on_hand, holds })
            })
            .await
            .map_err(SyncError::Db)
    }

    /// Compares every level in the hold store with the ledger while no change is in flight, and reloads the
    /// store if any differs. Returns how many (location, SKU) levels differed.
    pub async fn reconcile(&self) -> Result<usize, SyncError> {
        let _exclusive = self.changes.write().await;
        let snapshot = self.ledger_snapshot().await?;
        let expected = snapshot.expected_levels();
        self.metrics
            .oversold_units
            .set(holds::Snapshot::units_beyond_on_hand(&expected));
        let mut diverged = 0;
        let locations: std::collections::BTreeSet<&String> = expected.keys().map(|(l, _)| l).collect();
        for location in locations {
            let Ok(location_id) = omni_contracts::LocationId::parse(location) else {
                continue;
            };
            let have = self
                .holds
                .location_levels(&location_id)
                .await
                .map_err(SyncError::Holds)?;
            for ((_, sku), want) in expected
                .range((location.clone(), String::new())..)
                .take_while(|((l, _), _)| l == location)
            {
                let got = have.get(sku).copied().unwrap_or((0, 0));
                if got != *want {
                    tracing::warn!(location.id = %location, sku = %sku, ?got, ?want, "Hold store diverged from the ledger.");
                    diverged += 1;
                }
            }
        }
        if diverged > 0 {
            self.holds.load(&snapshot).await.map_err(SyncError::Holds)?;
            tracing::warn!(diverged, "Hold store repaired from the ledger.");
        }
        Ok(diverged)
    }
}
