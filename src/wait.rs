//! Polling until something holds, with a bound: the demo waits for the mesh's view of its data, the tests for
//! eventual consistency, without wall-clock assertions.

use std::future::Future;
use std::time::Duration;

/// Polls `probe` every 20 ms until it yields `Some`, giving up after `limit` (a liveness bound, not a timing
/// assertion: it only turns a hang into a failure with `what` in the message).
pub async fn eventually<T, F, Fut>(what: &str, limit: Duration, mut probe: F) -> anyhow::Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = anyhow::Result<Option<T>>>,
{
    let deadline = tokio::time::Instant::now() + limit;
    let mut last_error = None;
    loop {
        match probe().await {
            Ok(Some(value)) => return Ok(value),
            Ok(None) => {}
            Err(e) => last_error = Some(e),
        }
        if tokio::time::Instant::now() >= deadline {
            anyhow::bail!("gave up waiting for {what} after {limit:?} (last error: {last_error:?})");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
