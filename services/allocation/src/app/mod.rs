//! Allocation's use cases: each combines the database, the domain rules, the hold store and the outbox.

pub mod availability;
pub mod availability_publisher;
pub mod hold_writer;
pub mod known;
pub mod movements;
pub mod policies;
pub mod reservation;
pub mod sourcing;
pub mod store_sync;
pub mod upkeep;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use omni_db::Db;
use tokio::sync::Notify;

use crate::holds::HoldStore;

/// Shared state of handlers and consumers.
#[derive(Clone)]
pub struct State {
    /// Allocation's database (the truth).
    pub db: Db,
    /// The hot hold store.
    pub holds: HoldStore,
    /// Wakes the outbox relay.
    pub relay: Arc<Notify>,
    /// Wakes the availability publisher.
    pub availability: Arc<Notify>,
    /// Records new checkout holds, several per transaction.
    pub writer: hold_writer::HoldWriter,
    /// Hold latency and oversold units.
    pub metrics: crate::metrics::AllocationMetrics,
    /// How long an order's hold lasts.
    pub ttl: Duration,
    /// The buffer and segment policies in force.
    pub policies: Arc<policies::Policies>,
    /// The SKUs and locations met so far (the hold path asks the database only about others).
    pub known: Arc<known::Known>,
    pub(crate) stale: Arc<AtomicBool>,
    /// Changes to the store (reads of the ledger followed by writes to the store) hold this shared; a rebuild
    /// holds it exclusively, so a rebuild never interleaves with a change and counts it twice or not at all.
    pub(crate) changes: Arc<tokio::sync::RwLock<()>>,
    /// The levels the last reconciliation found holding more than the ledger (repaired if they stay so).
    pub(crate) divergences: Arc<std::sync::Mutex<std::collections::BTreeSet<store_sync::Divergence>>>,
}

impl State {
    /// The state of one allocation process on `db` and `holds`, its hold writers started; `ttl` is how long an
    /// order's hold lasts, `policies_file` the buffer rules file it applies (if any).
    pub fn new(
        db: Db,
        holds: HoldStore,
        relay: Arc<Notify>,
        metrics: crate::metrics::AllocationMetrics,
        ttl: Duration,
        policies_file: Option<std::path::PathBuf>,
    ) -> Self {
        Self {
            writer: hold_writer::HoldWriter::start(db.clone()),
            db,
            holds,
            relay,
            availability: Arc::new(Notify::new()),
            metrics,
            ttl,
            policies: Arc::new(policies::Policies::new(policies_file)),
            known: Default::default(),
            stale: Arc::new(AtomicBool::new(false)),
            changes: Arc::new(tokio::sync::RwLock::new(())),
            divergences: Default::default(),
        }
    }

    /// After a commit that wrote events or availability marks: wakes the relay and the availability publisher.
    pub fn changed(&self) {
        self.relay.notify_one();
        self.availability.notify_one();
    }

    /// Marks the hold store as diverged from the ledger; it is rebuilt before the next reservation.
    pub fn mark_stale(&self) {
        self.stale.store(true, Ordering::SeqCst);
    }

    /// Rebuilds the hold store from the ledger when it is empty (fresh process, Redis restarted empty) or was
    /// marked stale. Returns whether the store can be trusted now; while it cannot, reservations fail closed.
    pub async fn holds_ready(&self) -> bool {
        let loaded = self.holds.is_loaded().await.unwrap_or(false);
        if loaded && !self.stale.load(Ordering::SeqCst) {
            return true;
        }
        match self.rebuild().await {
            Ok(()) => true,
            Err(e) => {
                tracing::error!(error = %e, "Cannot rebuild the hold store from the ledger.");
                false
            }
        }
    }

    /// Taken around every change that touches the ledger and then the hold store. Never call
    /// [`State::holds_ready`] while holding it.
    pub async fn change_guard(&self) -> tokio::sync::RwLockReadGuard<'_, ()> {
        self.changes.read().await
    }
}
