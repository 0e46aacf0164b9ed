//! Turns across instances: one turn per thread, and `cancel` reaching the turn wherever it runs,
//! through the registry of running turns the instances share in PostgreSQL. (Events reach every
//! instance through `crate::relay`.)

use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use futures::future::BoxFuture;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::error::{Error, Result};
use crate::model::{ThreadId, UserId};
use crate::store::relay_db::RelayDb;
use crate::store::ClaimStep;

/// This instance's seat among the instances sharing the database.
#[derive(Debug, Clone)]
pub struct Cluster {
    db: RelayDb,
    instance: Uuid,
    cancels: Arc<dyn SendCancel>,
}

/// How a cancel request (a [`CancelRequest`] as JSON) leaves for every instance: the way the
/// relay's events travel (`crate::relay`).
pub trait SendCancel: fmt::Debug + Send + Sync {
    /// Sends `request`; an error means no instance will hear it.
    fn send<'a>(&'a self, request: &'a str) -> BoxFuture<'a, Result<()>>;
}

/// A cancel request as it travels between instances.
#[derive(Debug, Serialize, Deserialize)]
pub struct CancelRequest {
    pub user: UserId,
    pub thread: ThreadId,
    /// Stop it for another message (`interrupted`) rather than cancel it.
    #[serde(default)]
    pub interrupt: bool,
    /// Not a stop: a message was queued behind the turn, whose instance should start it when
    /// the turn ends.
    #[serde(default)]
    pub queued: bool,
}

impl Cluster {
    pub fn new(db: RelayDb, instance: Uuid, cancels: Arc<dyn SendCancel>) -> Self {
        Cluster {
            db,
            instance,
            cancels,
        }
    }

    /// Takes the claim on `thread` among instances for a turn run here, in a statement of its
    /// own; `thread_busy` when another instance holds it.
    pub(super) async fn take(&self, thread: ThreadId, user: &UserId) -> Result<SharedClaim> {
        if !self.db.claim_turn(thread, user, self.instance).await? {
            return Err(Error::ThreadBusy);
        }
        Ok(self.taken(thread))
    }

    /// This instance's id among the others.
    pub(super) fn instance(&self) -> Uuid {
        self.instance
    }

    /// The claim on `thread` that a turn's first write took ([`crate::store::ClaimStep::Take`]).
    pub(super) fn taken(&self, thread: ThreadId) -> SharedClaim {
        SharedClaim {
            cluster: self.clone(),
            thread,
            released: AtomicBool::new(false),
        }
    }

    /// Asks the instance that runs `user`'s turn on `thread` to cancel it; false when no live
    /// instance runs one.
    pub(super) async fn cancel(&self, user: &UserId, thread: ThreadId) -> Result<bool> {
        self.stop(user, thread, false).await
    }

    /// Asks the instance that runs `user`'s turn on `thread` to stop it: `interrupted` when
    /// `interrupt`, else `cancelled`; false when no live instance runs one.
    pub(super) async fn stop(
        &self,
        user: &UserId,
        thread: ThreadId,
        interrupt: bool,
    ) -> Result<bool> {
        if !self.db.turn_running(thread, user).await? {
            return Ok(false);
        }
        let request = CancelRequest {
            user: user.clone(),
            thread,
            interrupt,
            queued: false,
        };
        let payload = serde_json::to_string(&request).expect("requests serialise");
        self.cancels.send(&payload).await?;
        Ok(true)
    }

    /// Tells the instance that runs `user`'s turn on `thread` that a message was queued
    /// behind it. A failure is logged: the queue is then started by the next sweep.
    pub(super) async fn wake_queue(&self, user: &UserId, thread: ThreadId) {
        let request = CancelRequest {
            user: user.clone(),
            thread,
            interrupt: false,
            queued: true,
        };
        let payload = serde_json::to_string(&request).expect("requests serialise");
        if let Err(e) = self.cancels.send(&payload).await {
            tracing::warn!(error = %e, thread = %thread.0, "could not announce a queued message");
        }
    }
}

/// The part among instances of a thread's claim (see `super::claim`): its row in the registry.
/// Released before the turn's last event, so a client that answers that event at once finds
/// the thread free on any instance; released on drop otherwise (a turn that ended some other
/// way).
pub(super) struct SharedClaim {
    cluster: Cluster,
    thread: ThreadId,
    released: AtomicBool,
}

impl SharedClaim {
    /// The step that releases this claim with the turn's last write; once that write has run,
    /// [`SharedClaim::released_with_write`] records it.
    pub(super) fn release_step(&self) -> ClaimStep {
        if self.released.load(Ordering::Acquire) {
            ClaimStep::None
        } else {
            ClaimStep::Release(self.cluster.instance)
        }
    }

    /// Records that a write released the claim (see [`SharedClaim::release_step`]).
    pub(super) fn released_with_write(&self) {
        self.released.store(true, Ordering::Release);
    }

    /// Releases the thread (once; later calls do nothing). A failure is logged: the claim then
    /// lapses when this instance stops refreshing it.
    pub(super) async fn release(&self) {
        if self.released.swap(true, Ordering::AcqRel) {
            return;
        }
        let c = &self.cluster;
        if let Err(e) = c.db.release_turn(self.thread, c.instance).await {
            tracing::warn!(error = %e, thread = %self.thread.0, "could not release a thread's claim");
        }
    }
}

impl Drop for SharedClaim {
    fn drop(&mut self) {
        if self.released.load(Ordering::Acquire) {
            return;
        }
        let (c, thread) = (self.cluster.clone(), self.thread);
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            rt.spawn(async move {
                let _ = c.db.release_turn(thread, c.instance).await;
            });
        }
    }
}
