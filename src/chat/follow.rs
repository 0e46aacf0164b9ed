//! Following a running turn from outside it: what a client that lost a turn's stream (an SSE
//! request cut off, a page reload) reads to get the rest. Served from the hub's log of the
//! user's stream, so it works on any instance, whichever runs the turn.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use super::event::{ChatEvent, Event};
use super::Chat;
use crate::hub::Subscription;
use crate::model::{ThreadId, UserId};

/// After an `error`, how long to wait for the `message.done` that follows it when the turn had
/// produced something.
const AFTER_ERROR: Duration = Duration::from_secs(2);

/// The events of one running turn: from its start, one event per delta as the turn emitted
/// them, then live until its last event.
pub struct Followed {
    user: UserId,
    thread: ThreadId,
    queued: VecDeque<Arc<Event>>,
    subscription: Subscription,
    ended: bool,
    errored: bool,
}

impl Chat {
    /// The turn running on `user`'s `thread`, from its start; `None` when none runs there (or
    /// it started longer ago than the user's stream is kept).
    pub fn follow(&self, user: &UserId, thread: ThreadId) -> Option<Followed> {
        let (turn, subscription) = self.inner.hub.follow_turn(user, thread)?;
        let queued = turn.into_iter().flat_map(|d| d.into_events(user)).collect();
        Some(Followed {
            user: user.clone(),
            thread,
            queued,
            subscription,
            ended: false,
            errored: false,
        })
    }
}

impl Followed {
    /// The next event of the turn; `None` after its last one, or when the stream of the user
    /// could not be followed without a hole (the client starts over).
    pub async fn next(&mut self) -> Option<Arc<Event>> {
        loop {
            if let Some(event) = self.queued.pop_front() {
                match &event.body {
                    ChatEvent::MessageDone { .. } => self.ended = true,
                    ChatEvent::Error { .. } => self.errored = true,
                    _ => {}
                }
                return Some(event);
            }
            if self.ended {
                return None;
            }
            let read = self.subscription.recv(64);
            let found = if self.errored {
                tokio::time::timeout(AFTER_ERROR, read).await.ok()?
            } else {
                read.await
            };
            let thread = self.thread;
            let user = &self.user;
            self.queued.extend(
                found
                    .ok()?
                    .into_iter()
                    .flat_map(|d| d.into_events(user))
                    .filter(|e| e.body.thread_id() == Some(thread) && !e.body.is_queue()),
            );
        }
    }
}
