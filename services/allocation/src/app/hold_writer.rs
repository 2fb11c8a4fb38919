//! Group commit for new checkout holds. A hold is acknowledged only after its row is durable in PostgreSQL
//! (DESIGN §4: store → database → acknowledge), but holds that arrive together need not each pay for a commit:
//! a writer takes every hold waiting in its queue (up to `MAX_BATCH`) and records them in one transaction. If
//! that transaction fails, each hold of the batch is written on its own, so one bad hold fails only itself. The
//! transaction reads the hold store's generation under a shared lock: a hold the store placed under an older
//! generation (the store was reloaded from the ledger since) is not recorded, but refused (DESIGN §4).

use std::sync::Arc;

use chrono::NaiveDateTime;
use omni_contracts::events::HoldLine;
use omni_contracts::{LocationId, ReservationId};
use omni_db::Db;
use tokio::sync::{Mutex, mpsc, oneshot};

use crate::db::reservations::{self, NewHold};
use crate::error::HoldFailure;
use crate::holds::Generation;

/// Why a hold placed in a store that was reloaded since is refused (the caller may ask again).
pub const RELOADED: &str = "the hold store was reloaded from the ledger while the hold was placed; ask again";

/// Why a hold placed in a store loaded under a generation the ledger never took (a load whose transaction did not
/// commit) is refused: the store is loaded again before the next hold (the caller may ask again).
pub const UNCOMMITTED_LOAD: &str =
    "the hold store was loaded by a load that never finished; it is loaded again, ask again";

/// Why a hold was not written.
#[derive(Debug)]
pub enum Unwritten {
    /// Refused: placed under an earlier generation (the store was reloaded since; the caller may ask again).
    Reloaded,
    /// Refused: placed under a generation the ledger never took (a load that did not commit); the store is to be
    /// loaded again.
    UncommittedLoad,
    /// Nothing written: its id was placed before (a retry, or its id stands for a split hold's parts).
    PlacedBefore,
    /// The write failed; its commit may have gone through all the same.
    Failed(HoldFailure),
}

impl From<Unwritten> for HoldFailure {
    fn from(unwritten: Unwritten) -> Self {
        match unwritten {
            Unwritten::Reloaded => HoldFailure::Unavailable(RELOADED.into()),
            Unwritten::UncommittedLoad => HoldFailure::Unavailable(UNCOMMITTED_LOAD.into()),
            Unwritten::PlacedBefore => {
                HoldFailure::Unavailable("the reservation id was placed before".into())
            }
            Unwritten::Failed(failure) => failure,
        }
    }
}

impl Unwritten {
    /// A failed write: a unique violation means the id was placed before.
    fn failed(failure: HoldFailure) -> Self {
        match &failure {
            HoldFailure::Db(omni_db::Error::Query(e)) if omni_db::is_unique_violation(e) => {
                Unwritten::PlacedBefore
            }
            _ => Unwritten::Failed(failure),
        }
    }
}

/// Most holds one transaction records.
pub const MAX_BATCH: usize = 64;
/// Writers taking batches from the queue: one commits while the next batch gathers.
const WRITERS: usize = 2;
/// Holds waiting for a writer before callers wait to enqueue (bounded memory).
const QUEUE: usize = 1_024;

/// A hold placed in the hold store, to be recorded.
#[derive(Debug, Clone)]
pub struct PlacedHold {
    /// Its id.
    pub id: ReservationId,
    /// The selling channel.
    pub channel: &'static str,
    /// Where.
    pub location: LocationId,
    /// What (merged by SKU).
    pub lines: Vec<HoldLine>,
    /// When it lapses.
    pub expires_at: NaiveDateTime,
    /// The hold store's generation it was placed under.
    pub generation: Generation,
}

impl PlacedHold {
    fn as_new(&self) -> NewHold<'_> {
        NewHold {
            id: self.id,
            order_id: None,
            parent: None,
            channel: self.channel,
            location: &self.location,
            lines: &self.lines,
            expires_at: self.expires_at,
        }
    }
}

struct Pending {
    hold: PlacedHold,
    done: oneshot::Sender<Result<(), Unwritten>>,
}

/// The queue in front of the writers.
#[derive(Clone)]
pub struct HoldWriter {
    queue: mpsc::Sender<Pending>,
}

impl HoldWriter {
    /// Starts the writers on `db`; they stop when the last `HoldWriter` clone is dropped.
    pub fn start(db: Db) -> Self {
        let (queue, waiting) = mpsc::channel(QUEUE);
        let waiting = Arc::new(Mutex::new(waiting));
        for _ in 0..WRITERS {
            tokio::spawn(write_batches(db.clone(), waiting.clone()));
        }
        Self { queue }
    }

    /// Records `hold` (and its availability marks); returns once it is committed, or why it was not.
    pub async fn write(&self, hold: PlacedHold) -> Result<(), Unwritten> {
        let (done, answer) = oneshot::channel();
        self.queue
            .send(Pending { hold, done })
            .await
            .map_err(|_| Unwritten::Failed(HoldFailure::Unavailable("allocation is shutting down".into())))?;
        answer
            .await
            .map_err(|_| Unwritten::Failed(HoldFailure::Unavailable("the hold writer stopped".into())))?
    }
}

async fn write_batches(db: Db, waiting: Arc<Mutex<mpsc::Receiver<Pending>>>) {
    loop {
        let batch = {
            let mut waiting = waiting.lock().await;
            let Some(first) = waiting.recv().await else {
                return;
            };
            let mut batch = vec![first];
            while batch.len() < MAX_BATCH {
                match waiting.try_recv() {
                    Ok(next) => batch.push(next),
                    Err(_) => break,
                }
            }
            batch
        };
        let holds: Vec<PlacedHold> = batch.iter().map(|p| p.hold.clone()).collect();
        let together = db.transaction(move |conn| record(conn, &holds)).await;
        match together {
            Ok(recorded) => {
                for (pending, recorded) in batch.into_iter().zip(recorded) {
                    let _ = pending.done.send(recorded.answer());
                }
            }
            Err(e) if batch.len() == 1 => {
                if let Some(pending) = batch.into_iter().next() {
                    let _ = pending.done.send(Err(Unwritten::failed(e)));
                }
            }
            Err(e) => {
                tracing::debug!(error = %e, holds = batch.len(), "A batch of holds failed; recording each alone.");
                for pending in batch {
                    let hold = vec![pending.hold.clone()];
                    let alone = db.transaction(move |conn| record(conn, &hold)).await;
                    let _ = pending.done.send(match alone {
                        Ok(recorded) => recorded.first().copied().unwrap_or(Written::Reloaded).answer(),
                        Err(e) => Err(Unwritten::failed(e)),
                    });
                }
            }
        }
    }
}

/// What became of one hold of a batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Written {
    /// Recorded: placed under the generation current in the ledger.
    Recorded,
    /// Refused: placed under an earlier generation (the store was reloaded since).
    Reloaded,
    /// Refused: placed under a generation the ledger never took (a load that did not commit).
    UncommittedLoad,
    /// Not recorded: its id stands for a split hold recorded before.
    PlacedBefore,
}

impl Written {
    fn of(hold: &PlacedHold, current: Generation) -> Self {
        match hold.generation.cmp(&current) {
            std::cmp::Ordering::Equal => Written::Recorded,
            std::cmp::Ordering::Less => Written::Reloaded,
            std::cmp::Ordering::Greater => Written::UncommittedLoad,
        }
    }

    fn answer(self) -> Result<(), Unwritten> {
        match self {
            Written::Recorded => Ok(()),
            Written::Reloaded => Err(Unwritten::Reloaded),
            Written::UncommittedLoad => Err(Unwritten::UncommittedLoad),
            Written::PlacedBefore => Err(Unwritten::PlacedBefore),
        }
    }
}

/// Records the holds placed under the current generation; what became of each.
fn record(conn: &mut omni_db::DbConnection, holds: &[PlacedHold]) -> Result<Vec<Written>, HoldFailure> {
    let current = crate::db::generation::current_shared(conn)?;
    let mut written: Vec<Written> = holds.iter().map(|h| Written::of(h, current)).collect();
    // An id under which a split hold's parts are recorded is taken (a retry that named a location this time).
    let ids: Vec<String> = holds.iter().map(|h| h.id.to_string()).collect();
    let split = reservations::parents_among(conn, &ids)?;
    for (written, id) in written.iter_mut().zip(&ids) {
        if *written == Written::Recorded && split.contains(id) {
            *written = Written::PlacedBefore;
        }
    }
    let fresh: Vec<&PlacedHold> = holds
        .iter()
        .zip(&written)
        .filter(|(_, w)| **w == Written::Recorded)
        .map(|(h, _)| h)
        .collect();
    if fresh.is_empty() {
        return Ok(written);
    }
    let rows: Vec<NewHold<'_>> = fresh.iter().map(|h| h.as_new()).collect();
    reservations::insert_held_many(conn, &rows)?;
    let skus: std::collections::BTreeSet<&omni_contracts::Sku> = fresh
        .iter()
        .flat_map(|h| h.lines.iter().map(|l| &l.sku))
        .collect();
    for sku in skus {
        crate::app::availability::availability_changed(conn, sku)?;
    }
    Ok(written)
}
