//! Following a running turn from outside it: what a client that lost a turn's stream (an SSE
//! request cut off, a page reload) reads to get the rest, and what a repeated or queued send's
//! [`Turn`](super::Turn) is fed from (`repeat`). Served from the hub's log of the user's stream,
//! so it works on any instance, whichever runs the turn.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use super::event::{ChatEvent, Event};
use super::Chat;
use crate::hub::{Lagged, Subscription};
use crate::model::{ThreadId, UserId};

/// After an `error`, how long to wait for the `message.done` that follows it when the turn had
/// produced something.
const AFTER_ERROR: Duration = Duration::from_secs(2);

/// The events of one thread of a user, read from the hub: for [`Chat::follow`], its running
/// turn from its start, one event per delta as the turn emitted them, then live until its last
/// event ([`Followed::next`]).
pub struct Followed {
    user: UserId,
    thread: ThreadId,
    /// Events read and not yet handed out.
    pending: VecDeque<Arc<Event>>,
    subscription: Subscription,
    /// Whether `message.queued` and `message.unqueued` are kept.
    queue_events: bool,
    ended: bool,
    errored: bool,
}

impl Chat {
    /// The turn running on `user`'s `thread`, from its start; `None` when none runs there (or
    /// it started longer ago than the user's stream is kept).
    pub fn follow(&self, user: &UserId, thread: ThreadId) -> Option<Followed> {
        let (turn, subscription) = self.inner.hub.follow_turn(user, thread)?;
        let mut followed = Followed::new(user.clone(), thread, subscription, false);
        followed.pending = turn.into_iter().flat_map(|d| d.into_events(user)).collect();
        Some(followed)
    }
}

impl Followed {
    /// `user`'s events on `thread` from `subscription` on; `message.queued` and
    /// `message.unqueued` only when `queue_events`.
    pub(super) fn new(
        user: UserId,
        thread: ThreadId,
        subscription: Subscription,
        queue_events: bool,
    ) -> Followed {
        Followed {
            user,
            thread,
            pending: VecDeque::new(),
            subscription,
            queue_events,
            ended: false,
            errored: false,
        }
    }

    /// The next event of the turn; `None` after its last one, or when the stream of the user
    /// could not be followed without a hole (the client starts over).
    pub async fn next(&mut self) -> Option<Arc<Event>> {
        loop {
            if let Some(event) = self.pop() {
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
            let errored = self.errored;
            let read = self.read();
            let read = if errored {
                tokio::time::timeout(AFTER_ERROR, read).await.ok()?
            } else {
                read.await
            };
            read.ok()?;
        }
    }

    /// The next event already read, if any.
    pub(super) fn pop(&mut self) -> Option<Arc<Event>> {
        self.pending.pop_front()
    }

    /// Waits for the user's next events and keeps those of the thread; `Lagged` once the
    /// subscription lost some. Cancel-safe: nothing is taken from the hub until it returns.
    pub(super) async fn read(&mut self) -> Result<(), Lagged> {
        let found = self.subscription.recv(64).await?;
        let (user, thread, queue_events) = (&self.user, self.thread, self.queue_events);
        self.pending.extend(
            found
                .into_iter()
                .flat_map(|d| d.into_events(user))
                .filter(|e| e.body.thread_id() == Some(thread))
                .filter(|e| queue_events || !e.body.is_queue()),
        );
        Ok(())
    }

    /// Goes on from `subscription`, after the old one lagged.
    pub(super) fn resubscribe(&mut self, subscription: Subscription) {
        self.subscription = subscription;
    }
}
