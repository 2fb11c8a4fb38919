//! The expiry job: once a second, returns whose items should have come by now and did not are expired, so their
//! units can be returned again (and wrong return codes older than their window are forgotten). Each is expired in a transaction of its own under its order's lock, so a receipt
//! racing with it either comes first (the return is received) or finds it expired.

use std::time::Duration;

use omni_contracts::ReturnId;

use crate::app::State;
use crate::app::lifecycle::expire;
use crate::db::returns;
use crate::error::ReturnError;
use crate::metrics::Outcome;

/// Most returns expired in one round.
const ROUND: i64 = 100;

/// Expires overdue returns every second until shutdown.
pub fn run(
    state: State,
    shutdown: tokio_util::sync::CancellationToken,
) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>> {
    Box::pin(async move {
        loop {
            match expire_overdue(&state).await {
                Ok(0) => {}
                Ok(expired) => {
                    tracing::info!(expired, "Returns whose items never came expired.");
                    state.relay.notify_one();
                }
                Err(e) => tracing::warn!(error = %e, "Overdue returns not checked; retrying."),
            }
            tokio::select! {
                _ = shutdown.cancelled() => break,
                _ = tokio::time::sleep(Duration::from_secs(1)) => {}
            }
        }
    })
}

/// Expires up to one round of overdue returns; how many it did. Forgets wrong return codes too old to count.
pub async fn expire_overdue(state: &State) -> Result<usize, ReturnError> {
    let now = chrono::Utc::now();
    let forget_before = (now - state.code_limits.window).naive_utc();
    state
        .db
        .transaction(move |conn| crate::db::return_codes::prune(conn, forget_before, ROUND * 10))
        .await?;
    let due: Vec<ReturnId> = state
        .db
        .run(move |conn| returns::overdue(conn, now, ROUND))
        .await?;
    let mut expired = 0;
    for id in due {
        let done = state.db.transaction(move |conn| expire(conn, id, now)).await?;
        if done {
            expired += 1;
            state.metrics.count(Outcome::Expired);
        }
    }
    Ok(expired)
}
