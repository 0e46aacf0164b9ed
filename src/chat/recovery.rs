//! Answers whose turn died with its process: found in the store, marked `interrupted` with the
//! text saved so far, their threads freed, and announced with `message.done` to their users'
//! sockets (on every instance, through the hub).
//!
//! One process on its own database (SQLite, or PostgreSQL with `MULTI_INSTANCE=off`) sweeps once
//! as it starts, before it runs any turn: every answer still in progress then is an orphan.
//! Instances sharing PostgreSQL sweep as they start and then at every refresh of their claims
//! (`crate::relay`): an answer no live claim covers belongs to an instance that died, and the
//! first instance to look marks it, without a restart.

use std::sync::Arc;
use std::time::Duration;

use super::event::{ChatEvent, Event};
use super::Chat;
use crate::error::Result;
use crate::store::{Interrupted, Stale};

/// How long a send's client id is kept: a retry is recognised for at least a day after it.
pub const CLIENT_ID_KEEP: Duration = Duration::from_secs(48 * 3600);

impl Chat {
    /// The sweep at start-up, before this process runs a turn: every answer in progress that no
    /// live turn writes is marked interrupted. Returns how many were.
    pub async fn interrupt_orphans(&self) -> Result<usize> {
        let stale = if self.inner.cluster.get().is_some() {
            Stale::Unclaimed
        } else if self.inner.running.is_empty() {
            Stale::Every
        } else {
            // Turns already run here: their answers are not orphans.
            return Ok(0);
        };
        self.interrupt(stale).await
    }

    /// The sweep of instances sharing a database: answers whose instance stopped refreshing
    /// its claims are marked interrupted and their threads freed. Nothing without a cluster.
    pub async fn interrupt_lapsed(&self) -> Result<usize> {
        if self.inner.cluster.get().is_none() {
            return Ok(0);
        }
        self.interrupt(Stale::Unclaimed).await
    }

    async fn interrupt(&self, stale: Stale) -> Result<usize> {
        let found = self.inner.store.interrupt_answers(stale).await?;
        for Interrupted { user, message } in &found {
            tracing::info!(
                user = %user,
                thread = %message.conversation_id,
                message = %message.id,
                "an answer's turn died with its process; marked interrupted"
            );
            let done = ChatEvent::MessageDone {
                thread_id: message.conversation_id,
                message: message.clone(),
            };
            self.inner
                .hub
                .publish(Arc::new(Event::new(user.clone(), done, None)));
        }
        crate::metrics::answers_interrupted(found.len());
        Ok(found.len())
    }

    /// Forgets the client ids of sends older than [`CLIENT_ID_KEEP`]; returns how many went.
    pub async fn forget_old_sends(&self) -> Result<u64> {
        self.inner.store.sweep_client_ids(CLIENT_ID_KEEP).await
    }
}
