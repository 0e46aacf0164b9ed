//! [`within`]: `tokio::time::timeout` for the hot paths, where the future is nearly always ready
//! at once.
//!
//! A tokio timeout registers a timer in the runtime's timer wheel on its first poll and takes
//! it out again when dropped, under the driver's lock. On a socket write or a wait for the
//! SQLite connection, both done many thousand times a second and nearly always complete at
//! their first poll, that registration cost more than the work it guarded.

use std::future::Future;
use std::task::Poll;
use std::time::Duration;

pub use tokio::time::error::Elapsed;

/// `fut`'s output, or `Elapsed` when it has not completed `limit` after it first had to wait.
/// A future that completes at its first poll arms no timer. The limit runs from the first
/// poll that found it waiting, a few microseconds after the start: what a timeout is for,
/// bounding a wait on a peer or a lock, is the same.
pub async fn within<F: Future>(limit: Duration, fut: F) -> Result<F::Output, Elapsed> {
    let mut fut = std::pin::pin!(fut);
    if let Poll::Ready(out) = futures::poll!(fut.as_mut()) {
        return Ok(out);
    }
    tokio::time::timeout(limit, fut).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_ready_future_completes_and_a_stuck_one_times_out() {
        assert_eq!(within(Duration::from_secs(1), async { 7 }).await, Ok(7));
        let start = tokio::time::Instant::now();
        let stuck = within(Duration::from_secs(2), std::future::pending::<()>()).await;
        assert!(stuck.is_err());
        assert_eq!(start.elapsed(), Duration::from_secs(2));
    }

    #[tokio::test(start_paused = true)]
    async fn a_future_that_waits_gets_its_output_within_the_limit() {
        let late = async {
            tokio::time::sleep(Duration::from_millis(500)).await;
            "done"
        };
        assert_eq!(within(Duration::from_secs(1), late).await, Ok("done"));
        let too_late = async {
            tokio::time::sleep(Duration::from_millis(1500)).await;
        };
        assert!(within(Duration::from_secs(1), too_late).await.is_err());
    }
}
