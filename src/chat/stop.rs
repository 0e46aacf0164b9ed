//! Stopping turns: a cancel or an interrupt, here or on the instance that runs the turn, and
//! the drain at shutdown.

use std::sync::atomic::Ordering;
use std::time::Duration;

use super::Chat;
use crate::error::Result;
use crate::model::{ThreadId, UserId};

impl Chat {
    /// Cancels the running turn of `user`'s thread, here or on another instance; false when
    /// none runs.
    pub async fn cancel(&self, user: &UserId, thread_id: ThreadId) -> Result<bool> {
        if self.cancel_here(user, thread_id) {
            return Ok(true);
        }
        match self.inner.cluster.get() {
            Some(cluster) => cluster.cancel(user, thread_id).await,
            None => Ok(false),
        }
    }

    /// Stops the running turn of `user`'s thread, here or on another instance, with status
    /// `interrupted` (its text kept); false when none runs.
    pub async fn interrupt_turn(&self, user: &UserId, thread_id: ThreadId) -> Result<bool> {
        if self.stop_here(user, thread_id, true) {
            return Ok(true);
        }
        match self.inner.cluster.get() {
            Some(cluster) => cluster.stop(user, thread_id, true).await,
            None => Ok(false),
        }
    }

    /// Cancels the running turn of `user`'s thread if it runs in this process.
    pub fn cancel_here(&self, user: &UserId, thread_id: ThreadId) -> bool {
        self.stop_here(user, thread_id, false)
    }

    /// Stops the running turn of `user`'s thread if it runs in this process: `interrupted`
    /// when `interrupt`, else `cancelled`.
    pub fn stop_here(&self, user: &UserId, thread_id: ThreadId, interrupt: bool) -> bool {
        match self.inner.running.get(&thread_id) {
            Some(r) if &r.user == user => {
                if interrupt {
                    r.interrupted.store(true, Ordering::Release);
                }
                r.cancel.cancel();
                true
            }
            _ => false,
        }
    }

    /// Stops accepting turns, waits up to `drain` for running ones, then cancels the rest
    /// (they persist what they have, status `cancelled`) and waits for them to finish.
    pub async fn shutdown(&self, drain: Duration) {
        self.inner.closing.store(true, Ordering::Release);
        self.inner.tracker.close();
        if tokio::time::timeout(drain, self.inner.tracker.wait())
            .await
            .is_err()
        {
            tracing::warn!(
                running = self.inner.running.len(),
                "drain timeout: cancelling running turns"
            );
            self.inner.kill.cancel();
            let _ = tokio::time::timeout(Duration::from_secs(5), self.inner.tracker.wait()).await;
        }
    }
}
