//! The claim: the right to run the one turn of a thread. Every turn holds its thread's claim
//! from before its first write until after its last event, whoever starts it (a send, a queued
//! message, a retry); a task action holds it while it writes.
//!
//! A claim has a part here and, when several instances share the database, a part among them:
//! - here, the thread's entry in `Inner::running`, which cancels, repeated sends and the queue
//!   look at; taken by [`Chat::take_claim`], released when the [`Claim`] is dropped;
//! - among instances, the thread's row in their shared registry ([`super::cluster`]); taken
//!   within the write that starts a turn ([`Chat::take_step`], then [`Claim::taken_with_write`])
//!   or on its own ([`Claim::take_shared`]), and released right before the turn's last event,
//!   within its last write ([`Claim::release_step`], then [`Claim::released_with_write`]) or on
//!   its own ([`Claim::release`]); on drop at the latest.
//!
//! Nothing here writes a message: the store's `ClaimStep` is how a write takes (`Take`) or
//! releases (`Free`) the part among instances.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use super::cluster::SharedClaim;
use super::{Chat, Inner};
use crate::error::{Error, Result};
use crate::model::{ThreadId, UserId};
use crate::store::ClaimStep;

/// A thread's claim, held for one turn (or task action). Dropping it releases it.
pub(super) struct Claim {
    inner: Arc<Inner>,
    thread: ThreadId,
    user: UserId,
    /// Set once the write that starts the turn is done (see `Running::written`).
    written: watch::Sender<bool>,
    /// The turn's `Running::interrupted`.
    interrupted: Arc<AtomicBool>,
    /// The part among instances, once taken.
    shared: Option<SharedClaim>,
}

impl Chat {
    /// Takes the claim on `thread` here, for a turn that `cancel` stops, started by the send
    /// `client_id`; `thread_busy` when a turn already runs on it here. The part among instances
    /// is taken next, with the turn's first write or on its own.
    pub(super) fn take_claim(
        &self,
        thread: ThreadId,
        user: &UserId,
        cancel: CancellationToken,
        client_id: Option<&str>,
    ) -> Result<Claim> {
        use dashmap::mapref::entry::Entry;
        let Entry::Vacant(v) = self.inner.running.entry(thread) else {
            return Err(Error::ThreadBusy);
        };
        let (written, watch) = watch::channel(false);
        let interrupted = Arc::new(AtomicBool::new(false));
        v.insert(Running {
            user: user.clone(),
            cancel,
            client_message_id: client_id.map(str::to_string),
            written: watch,
            interrupted: interrupted.clone(),
            queued: AtomicBool::new(false),
        });
        Ok(Claim {
            inner: self.inner.clone(),
            thread,
            user: user.clone(),
            written,
            interrupted,
            shared: None,
        })
    }

    /// What the write that starts a turn does to the claim among instances: takes it for this
    /// instance when there are several (`thread_busy`, nothing written, when another holds
    /// it); nothing otherwise. Once that write is done, [`Claim::taken_with_write`].
    pub(super) fn take_step(&self) -> ClaimStep {
        self.inner
            .cluster
            .get()
            .map_or(ClaimStep::None, |k| ClaimStep::Take(k.instance()))
    }
}

impl Claim {
    /// Takes the claim among instances in a statement of its own, for a turn that writes no
    /// user message; `thread_busy` when another instance holds it. Nothing with one instance.
    pub(super) async fn take_shared(&mut self) -> Result<()> {
        if let Some(cluster) = self.inner.cluster.get() {
            self.shared = Some(cluster.take(self.thread, &self.user).await?);
        }
        Ok(())
    }

    /// Records that the write with [`Chat::take_step`] took the claim among instances.
    pub(super) fn taken_with_write(&mut self) {
        if let Some(cluster) = self.inner.cluster.get() {
            self.shared = Some(cluster.taken(self.thread));
        }
    }

    /// What the turn's last write does to the claim among instances: releases it, unless it was
    /// released already or never taken. Once that write is done,
    /// [`Claim::released_with_write`].
    pub(super) fn release_step(&self) -> ClaimStep {
        self.shared
            .as_ref()
            .map_or(ClaimStep::None, SharedClaim::release_step)
    }

    /// Records that a write with [`Claim::release_step`] released the claim among instances.
    pub(super) fn released_with_write(&self) {
        if let Some(shared) = &self.shared {
            shared.released_with_write();
        }
    }

    /// Releases the claim among instances now (once; later calls do nothing), so that a client
    /// answering the turn's last event finds the thread free on any instance. The part here
    /// goes when the claim is dropped.
    pub(super) async fn release(&self) {
        if let Some(shared) = &self.shared {
            shared.release().await;
        }
    }

    /// Records that the write that starts the turn is done.
    pub(super) fn written(&self) {
        self.written.send_replace(true);
    }

    /// Set when the turn is stopped for another message: it ends `interrupted`.
    pub(super) fn interrupted(&self) -> &AtomicBool {
        &self.interrupted
    }
}

impl Drop for Claim {
    fn drop(&mut self) {
        // Among instances first, as a turn ends: the part here may start the queue's next turn.
        drop(self.shared.take());
        let Some((_, ended)) = self.inner.running.remove(&self.thread) else {
            return;
        };
        // A message queued behind the turn starts now (see `queue`).
        if ended.queued.load(Ordering::Acquire) {
            let chat = Chat {
                inner: self.inner.clone(),
            };
            chat.drain_later(self.user.clone(), self.thread);
        }
    }
}

/// The claim's part here: the turn running on a thread in this process.
pub(super) struct Running {
    pub(super) user: UserId,
    pub(super) cancel: CancellationToken,
    /// The client's id of the send that started the turn, and whether the write that starts
    /// it is done: a repeat of that send arriving meanwhile waits for it (see `repeat`).
    pub(super) client_message_id: Option<String>,
    pub(super) written: watch::Receiver<bool>,
    /// Set when the turn is stopped for another message (`interrupted`, not `cancelled`).
    pub(super) interrupted: Arc<AtomicBool>,
    /// Set when a message may be queued behind the turn: the thread's queue is looked at when
    /// the turn ends.
    pub(super) queued: AtomicBool,
}
