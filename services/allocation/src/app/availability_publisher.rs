//! The availability publisher. Holds, releases, commits, movements and rule changes only mark the SKUs they
//! touched (`db::marks`, in their own transactions); this task turns the marks into `omni.availability.v1`
//! events, one per SKU per round, computed after those changes committed.
//!
//! Why not compute the event in the changing transaction: under concurrency two transactions that each change
//! the same SKU cannot see each other's uncommitted rows, so whichever event is relayed last may miss the other
//! change. Computing after commit, one publisher at a time, makes the last event of a SKU always reflect every
//! committed change. Under load it also coalesces: a SKU changed by a hundred holds in one round is computed
//! and sent once.

use std::collections::BTreeSet;
use std::time::Duration;

use omni_contracts::Sku;

use crate::app::State;
use crate::db::marks;

/// Most marks one round takes.
pub const ROUND_MARKS: i64 = 2_000;
/// How often the publisher looks for marks when nobody woke it (marks left by another replica or a crash).
const IDLE_POLL: Duration = Duration::from_millis(500);
/// One publisher per allocation schema at a time, across replicas.
const PUBLISHER_LOCK: &str = "omni-allocation:availability-publisher";

/// Publishes one round; returns how many SKUs were published and whether marks remain.
pub async fn publish_round(state: &State) -> omni_db::Result<(usize, bool)> {
    let rules = state.policies.clone();
    let outcome = state
        .db
        .transaction(move |conn| -> omni_db::Result<(usize, bool)> {
            omni_db::lock_transaction(conn, PUBLISHER_LOCK)?;
            let taken = marks::take(conn, ROUND_MARKS)?;
            if taken.is_empty() {
                return Ok((0, false));
            }
            // The rules are read after the marks: a rule change swaps the rules in before it marks the SKUs it
            // concerns, so every mark taken here is published under rules at least as new as it. Read before
            // the marks (as it once was), a round could take a rule change's marks and publish them under the
            // rules before it, and the SKU's last availability would miss the change for good.
            let policies = rules.current();
            let skus: BTreeSet<&str> = taken.iter().map(|(_, sku)| sku.as_str()).collect();
            for sku in &skus {
                // A mark is only ever written for a parsed SKU; a corrupt one is dropped with its mark.
                if let Ok(sku) = Sku::parse(sku) {
                    crate::app::availability::publish_availability(conn, &policies, &sku)?;
                }
            }
            let ids: Vec<String> = taken.iter().map(|(id, _)| id.clone()).collect();
            marks::clear(conn, &ids)?;
            Ok((skus.len(), taken.len() as i64 == ROUND_MARKS))
        })
        .await?;
    if outcome.0 > 0 {
        state.relay.notify_one();
    }
    Ok(outcome)
}

/// Publishes marks until shutdown: at once when woken, and every `IDLE_POLL` otherwise.
pub fn run(
    state: State,
    shutdown: tokio_util::sync::CancellationToken,
) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>> {
    Box::pin(async move {
        loop {
            match publish_round(&state).await {
                Ok((_, true)) => continue,
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "Availability not published yet; retrying."),
            }
            tokio::select! {
                _ = shutdown.cancelled() => break,
                _ = state.availability.notified() => {}
                _ = tokio::time::sleep(IDLE_POLL) => {}
            }
        }
        // What changed before the stop is published now, not by the next start.
        if let Err(e) = publish_round(&state).await {
            tracing::warn!(error = %e, "Availability marks left for the next start.");
        }
    })
}
