//! The hold store's upkeep loops: expiring holds whose time has passed, and reconciling the store with the ledger.

use std::time::Duration;

use super::State;

/// Expires holds whose time has passed, once a second (bounded batches; more right away if a batch was full).
pub fn sweeper(
    state: State,
    shutdown: tokio_util::sync::CancellationToken,
) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>> {
    Box::pin(async move {
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => break,
                _ = tokio::time::sleep(Duration::from_secs(1)) => {}
            }
            match super::reservation::sweep(&state).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(expired = n, "Expired holds released."),
                Err(e) => tracing::warn!(error = %e, "Hold sweep failed; retrying."),
            }
        }
    })
}

/// Compares the hold store with the ledger every `every` and repairs divergence.
pub fn reconciler(
    state: State,
    shutdown: tokio_util::sync::CancellationToken,
    every: Duration,
) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>> {
    Box::pin(async move {
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => break,
                _ = tokio::time::sleep(every) => {}
            }
            if let Err(e) = state.reconcile().await {
                tracing::warn!(error = %e, "Reconciliation failed; retrying.");
            }
        }
    })
}
