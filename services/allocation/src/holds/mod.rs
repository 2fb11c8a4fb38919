//! The hot hold store: Redis on real backends (one Lua script, all-or-nothing per location), an in-memory store
//! with the same semantics in `omni dev`. PostgreSQL stays the truth; the store is rebuilt from it when empty.

mod memory;
mod redis_store;

use omni_contracts::events::{HoldLine, Shortage};
use omni_contracts::{LocationId, ReservationId};

pub use memory::MemoryHolds;
pub use redis_store::{RESERVE_SCRIPT, RedisHolds, RedisOptions};

/// The generation a hold store was loaded under: the one PostgreSQL keeps (`hold_generation`), bumped by every
/// load. A hold is recorded in the ledger only if the store placed it under the generation still current there
/// (DESIGN §4: a batch of an older generation never commits).
pub type Generation = i64;

/// Units the caller's buffer rules withhold from it, by SKU (absent: none). A hold succeeds only if the
/// location keeps at least this many units unheld after it.
pub type KeepBack = std::collections::BTreeMap<omni_contracts::Sku, i64>;

/// Why the hold store failed.
#[derive(Debug, thiserror::Error)]
pub enum HoldError {
    /// Redis is unreachable or answered with an error.
    #[error("hold store: {0}")]
    Redis(#[from] redis::RedisError),
    /// The store answered something the script never returns.
    #[error("hold store answered unexpectedly: {0}")]
    Protocol(String),
    /// Redis did not answer a first connection in time.
    #[error("hold store: no connection within {0:?}")]
    Timeout(std::time::Duration),
    /// The store has no generation for the location: it was emptied (or never loaded with the location).
    #[error("hold store: not loaded for location {0}")]
    Unloaded(LocationId),
}

/// What a reserve call did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReserveOutcome {
    /// Every line is held (or was already held under this id), under this generation.
    Held {
        /// The store's generation when it held them.
        generation: Generation,
    },
    /// Nothing is held; these lines were short.
    Short(Vec<Shortage>),
}

/// The hold store in use.
#[derive(Clone)]
pub enum HoldStore {
    /// Redis with the reserve script.
    Redis(RedisHolds),
    /// In-process, for `omni dev`.
    Memory(MemoryHolds),
}

impl std::fmt::Debug for HoldStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            HoldStore::Redis(_) => "HoldStore::Redis",
            HoldStore::Memory(_) => "HoldStore::Memory",
        })
    }
}

impl HoldStore {
    /// Adds `delta` to on-hand of a SKU at a location, for a movement the ledger recorded under `generation`: only
    /// while the store is still loaded under it (a later load came from a ledger that had the movement).
    pub async fn adjust_on_hand(
        &self,
        location: &LocationId,
        sku: &str,
        delta: i64,
        generation: Generation,
    ) -> Result<(), HoldError> {
        match self {
            HoldStore::Redis(r) => r.adjust_on_hand(location, sku, delta, generation).await,
            HoldStore::Memory(m) => {
                m.adjust_on_hand(location, sku, delta, generation);
                Ok(())
            }
        }
    }

    /// Takes units off on-hand of a SKU at a location ahead of the ledger (a movement that takes units), under the
    /// generation the store is loaded under there; the generation and the units taken, or `None` when the store is
    /// not loaded there (its next load reads the ledger).
    pub async fn take_ahead(
        &self,
        location: &LocationId,
        sku: &str,
        take: crate::domain::TakeAhead,
    ) -> Result<Option<(Generation, i64)>, HoldError> {
        match self {
            HoldStore::Redis(r) => r.take_ahead(location, sku, take).await,
            HoldStore::Memory(m) => Ok(m.take_ahead(location, sku, take)),
        }
    }

    /// Holds every line at the location, or none, leaving at least `keep_back` of each SKU unheld.
    /// Idempotent by reservation id. `lines` must be merged by SKU.
    pub async fn reserve(
        &self,
        id: ReservationId,
        location: &LocationId,
        lines: &[HoldLine],
        keep_back: &KeepBack,
    ) -> Result<ReserveOutcome, HoldError> {
        match self {
            HoldStore::Redis(r) => r.reserve(id, location, lines, keep_back).await,
            HoldStore::Memory(m) if !m.is_loaded() => Err(HoldError::Unloaded(location.clone())),
            HoldStore::Memory(m) => Ok(m.reserve(id, location, lines, keep_back)),
        }
    }

    /// Releases a hold (no-op when it is not held).
    pub async fn release(&self, id: ReservationId, location: &LocationId) -> Result<(), HoldError> {
        match self {
            HoldStore::Redis(r) => r.release(id, location).await,
            HoldStore::Memory(m) => {
                m.release(id, location);
                Ok(())
            }
        }
    }

    /// Gives back up to `units` of each SKU of a hold (its store will not fulfil them); a line given back whole
    /// leaves the hold. No-op when not held.
    pub async fn reduce(
        &self,
        id: ReservationId,
        location: &LocationId,
        units: &[(String, i64)],
    ) -> Result<(), HoldError> {
        match self {
            HoldStore::Redis(r) => r.reduce(id, location, units).await,
            HoldStore::Memory(m) => {
                m.reduce(id, units);
                Ok(())
            }
        }
    }

    /// Commits a hold (fulfilled): its units leave on-hand and reserved together; no-op when not held. With
    /// `left`, only those `(sku, units)` leave on-hand (at most what was held), the rest is released, in the same
    /// step.
    pub async fn commit(
        &self,
        id: ReservationId,
        location: &LocationId,
        left: Option<&[(String, i64)]>,
    ) -> Result<(), HoldError> {
        match self {
            HoldStore::Redis(r) => r.commit(id, location, left).await,
            HoldStore::Memory(m) => {
                m.commit(id, left);
                Ok(())
            }
        }
    }

    /// `(on_hand, reserved)` of a SKU at a location.
    pub async fn levels(&self, location: &LocationId, sku: &str) -> Result<(i64, i64), HoldError> {
        match self {
            HoldStore::Redis(r) => r.levels(location, sku).await,
            HoldStore::Memory(m) => Ok(m.levels(location, sku)),
        }
    }

    /// Every `sku → (on_hand, reserved)` at a location, in one round trip.
    pub async fn location_levels(
        &self,
        location: &LocationId,
    ) -> Result<std::collections::HashMap<String, (i64, i64)>, HoldError> {
        match self {
            HoldStore::Redis(r) => r.location_levels(location).await,
            HoldStore::Memory(m) => Ok(m.location_levels(location)),
        }
    }

    /// Opens a location the catalog just brought (nothing on hand or held there yet) in a loaded store, under
    /// `generation` (the ledger's current one); a location already open, or a store not loaded, is left alone.
    pub async fn open_location(
        &self,
        location: &LocationId,
        generation: Generation,
    ) -> Result<(), HoldError> {
        match self {
            HoldStore::Redis(r) => r.open_location(location, generation).await,
            HoldStore::Memory(_) => Ok(()),
        }
    }

    /// The generation the store was last loaded under at a location (`None`: not loaded there).
    pub async fn location_generation(&self, location: &LocationId) -> Result<Option<Generation>, HoldError> {
        match self {
            HoldStore::Redis(r) => r.location_generation(location).await,
            HoldStore::Memory(m) => Ok(m.is_loaded().then(|| m.generation())),
        }
    }

    /// Whether the store has been loaded from the ledger (false after a Redis restart or a fresh process).
    pub async fn is_loaded(&self) -> Result<bool, HoldError> {
        match self {
            HoldStore::Redis(r) => r.is_loaded().await,
            HoldStore::Memory(m) => Ok(m.is_loaded()),
        }
    }

    /// Replaces the store's content with the ledger's truth and marks it loaded under the snapshot's generation.
    pub async fn load(&self, snapshot: &Snapshot) -> Result<(), HoldError> {
        match self {
            HoldStore::Redis(r) => r.load(snapshot).await,
            HoldStore::Memory(m) => {
                m.load(snapshot);
                Ok(())
            }
        }
    }

    /// Checks the store answers (for `/health/ready`).
    pub async fn ping(&self) -> Result<(), HoldError> {
        match self {
            HoldStore::Redis(r) => r.ping().await,
            HoldStore::Memory(_) => Ok(()),
        }
    }
}

/// The ledger's truth, to (re)load a store.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    /// The generation the store is loaded under (bumped in PostgreSQL by the load's transaction).
    pub generation: Generation,
    /// Every location the catalog knows (each gets the generation, stock or not).
    pub locations: Vec<String>,
    /// `(location, sku, on_hand)`.
    pub on_hand: Vec<(String, String, i64)>,
    /// Every held reservation.
    pub holds: Vec<SnapshotHold>,
}

impl Snapshot {
    /// Units held beyond on-hand, summed over every (location, SKU) of `levels` (from [`Self::expected_levels`]).
    pub fn units_beyond_on_hand(levels: &std::collections::BTreeMap<(String, String), (i64, i64)>) -> i64 {
        levels
            .values()
            .map(|(on_hand, reserved)| (reserved - on_hand).max(0))
            .sum()
    }

    /// `(on_hand, reserved)` by `(location, sku)` as the ledger says they should be.
    pub fn expected_levels(&self) -> std::collections::BTreeMap<(String, String), (i64, i64)> {
        let mut levels: std::collections::BTreeMap<(String, String), (i64, i64)> = Default::default();
        for (location, sku, on_hand) in &self.on_hand {
            levels.entry((location.clone(), sku.clone())).or_default().0 += on_hand;
        }
        for hold in &self.holds {
            for (sku, q) in &hold.lines {
                levels.entry((hold.location.clone(), sku.clone())).or_default().1 += q;
            }
        }
        levels
    }
}

/// A held reservation in a [`Snapshot`].
#[derive(Debug, Clone)]
pub struct SnapshotHold {
    /// Reservation id.
    pub id: String,
    /// Location.
    pub location: String,
    /// `(sku, quantity)` lines.
    pub lines: Vec<(String, i64)>,
}
