//! Reading a user's stream: a [`Subscription`] is one socket's cursor in the user's log, from
//! now on, from the start of a running turn, or from where a reconnecting client was
//! ([`Subscription::resume`]). Reading never holds up publishing: a reader that falls too far
//! behind is told it [`Lagged`].

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use futures::task::AtomicWaker;

use super::log::{Cursor, Judge, Reader, UserStream, Verdict};
use super::{now_ms, Delivery, Hub, Position, RELAY_MARGIN};
use crate::model::{ThreadId, UserId};

/// The subscriber's place was dropped from the log (or events from another instance may have
/// been lost): it cannot go on without a hole.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lagged;

/// What a resume found.
#[derive(Debug)]
pub struct Resumed {
    /// Whether `events` are exactly what the client missed.
    pub recovered: bool,
    pub events: Vec<Delivery>,
}

impl Hub {
    /// Reads every event of `user` from now on.
    pub fn subscribe(&self, user: &UserId) -> Subscription {
        self.subscribe_at(user, |stream| Some(stream.end()))
            .expect("the end is always a place")
    }

    /// Reads every event of `user` from now on, unless the user already has `max` readers
    /// here: counted and joined under one lock, so concurrent sockets cannot pass the cap.
    pub fn subscribe_capped(&self, user: &UserId, max: usize) -> Option<Subscription> {
        self.subscribe_at(user, |stream| {
            (stream.readers.len() < max).then(|| stream.end())
        })
    }

    /// Reads the turn running on `user`'s `thread` from its start (deltas one by one), then
    /// every event of the user that follows; `None` when this instance's log holds no running
    /// turn there.
    pub fn follow_turn(
        &self,
        user: &UserId,
        thread: ThreadId,
    ) -> Option<(Vec<Delivery>, Subscription)> {
        let short = self.inner.short;
        let mut turn = Vec::new();
        let sub = self.subscribe_at(user, |stream| {
            let (events, end) = stream.running_turn(thread, short)?;
            turn = events;
            Some(end)
        })?;
        Some((turn, sub))
    }

    fn subscribe_at(
        &self,
        user: &UserId,
        place: impl FnOnce(&UserStream) -> Option<Cursor>,
    ) -> Option<Subscription> {
        let inner = &self.inner;
        let now = now_ms();
        let mut stream = self.stream(user, now);
        let cursor = place(&stream)?;
        let id = inner.next_id.fetch_add(1, Ordering::Relaxed);
        let signal = Arc::new(Signal::default());
        let lagged = Arc::new(AtomicBool::new(false));
        stream.readers.push(Reader {
            id,
            signal: signal.clone(),
            lagged: lagged.clone(),
        });
        let position = stream.position(inner.short, now).to_string();
        Some(Subscription {
            hub: self.clone(),
            user: user.clone(),
            id,
            signal,
            lagged,
            cursor,
            start: cursor,
            position,
        })
    }
}

/// How a publisher wakes a reader: a flag and the reader's waker. Raising it is two atomic
/// operations; `tokio::sync::Notify` took a lock on each side for every delta, and at a
/// model's pace a socket is woken once per delta.
#[derive(Default)]
pub(super) struct Signal {
    raised: AtomicBool,
    waker: AtomicWaker,
}

impl Signal {
    /// Wakes the reader, or, when it is not waiting, makes its next wait return at once.
    pub fn raise(&self) {
        self.raised.store(true, Ordering::Release);
        self.waker.wake();
    }

    fn lower(&self) {
        self.raised.store(false, Ordering::Release);
    }

    /// Resolves once raised (since it was last lowered). Cancel-safe.
    async fn raised(&self) {
        std::future::poll_fn(|cx| {
            // Registered before the flag is read: a raise in between wakes this waker.
            self.waker.register(cx.waker());
            if self.raised.load(Ordering::Acquire) {
                std::task::Poll::Ready(())
            } else {
                std::task::Poll::Pending
            }
        })
        .await
    }
}

/// A socket's reading of its user's stream. Dropping it unregisters it; the user's events stay
/// for a resume.
pub struct Subscription {
    hub: Hub,
    user: UserId,
    id: u64,
    signal: Arc<Signal>,
    lagged: Arc<AtomicBool>,
    cursor: Cursor,
    /// Where the cursor stood when this subscription began.
    start: Cursor,
    /// Where the stream stood when this subscription began.
    position: String,
}

impl Subscription {
    /// The stream's position when the subscription began (what `ready` says).
    pub fn position(&self) -> &str {
        &self.position
    }

    /// The next deliveries, at most `max`, waiting for one; `Lagged` once this subscription can
    /// no longer go on without a hole. Cancel-safe: dropping the future loses nothing.
    pub async fn recv(&mut self, max: usize) -> Result<Vec<Delivery>, Lagged> {
        loop {
            // Lowered before reading, so an event published after the read raises it again.
            self.signal.lower();
            if let Some(found) = self.try_recv(max)? {
                return Ok(found);
            }
            self.signal.raised().await;
        }
    }

    /// Whether this subscription was cut off because events from another instance may have
    /// been lost (rather than because it fell behind).
    pub fn cut_off(&self) -> bool {
        self.lagged.load(Ordering::Acquire)
    }

    /// Deliveries already there, without waiting.
    pub fn try_recv(&mut self, max: usize) -> Result<Option<Vec<Delivery>>, Lagged> {
        if self.lagged.load(Ordering::Acquire) {
            return Err(Lagged);
        }
        let inner = &self.hub.inner;
        let stream = inner.users.get(&self.user).ok_or(Lagged)?;
        let (found, cursor) = stream
            .read(self.cursor, max, inner.settings.max_behind, inner.short)
            .ok_or(Lagged)?;
        self.cursor = cursor;
        Ok((!found.is_empty()).then_some(found))
    }

    /// Everything of the user after `after`, when this instance can know it exactly; from then
    /// on this subscription reads on from the end. Otherwise `recovered` is false, nothing is
    /// replayed and the subscription reads on from where it stood. A position that counts events
    /// of another instance not yet arrived here waits for them, up to the relay margin. Once
    /// this subscription has delivered events, only a position that missed nothing before them
    /// is recovered (a replay would come after them, out of order).
    pub async fn resume(&mut self, after: &Position) -> Resumed {
        let deadline = tokio::time::Instant::now() + RELAY_MARGIN;
        loop {
            match self.try_resume(after) {
                Some(resumed) => return resumed,
                None if tokio::time::Instant::now() >= deadline => {
                    return Resumed {
                        recovered: false,
                        events: Vec::new(),
                    }
                }
                None => tokio::time::sleep(Duration::from_millis(10)).await,
            }
        }
    }

    /// The resume, or `None` while this instance is behind the position.
    fn try_resume(&mut self, after: &Position) -> Option<Resumed> {
        let inner = &self.hub.inner;
        let not_recovered = Resumed {
            recovered: false,
            events: Vec::new(),
        };
        let Some(stream) = inner.users.get(&self.user) else {
            return Some(not_recovered);
        };
        let heard = |o: u64| inner.heard.read().is_ok_and(|h| h.contains(&o));
        let judge = Judge {
            own: inner.short,
            now_ms: now_ms(),
            window_ms: inner.settings.window.as_millis() as u64,
            margin_ms: RELAY_MARGIN.as_millis() as u64,
            listening_since_ms: inner.listening_since_ms.load(Ordering::Acquire),
            heard: &heard,
        };
        match stream.recovers(after, &judge) {
            Verdict::No => Some(not_recovered),
            Verdict::Behind => None,
            Verdict::Yes if self.cursor == self.start => {
                let (events, end) = stream.replay(after, inner.short);
                self.cursor = end;
                Some(Resumed {
                    recovered: true,
                    events,
                })
            }
            Verdict::Yes => {
                // Live events already went out: what was missed before them would now arrive
                // after them, out of order. Only a client that missed nothing is recovered.
                let missed = stream.replay_before(after, inner.short, Some(self.start));
                Some(Resumed {
                    recovered: missed.is_empty(),
                    events: Vec::new(),
                })
            }
        }
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        if let Some(mut stream) = self.hub.inner.users.get_mut(&self.user) {
            stream.readers.retain(|r| r.id != self.id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_raise_wakes_a_waiting_reader_and_is_kept_for_one_not_yet_waiting() {
        let signal = Arc::new(Signal::default());
        // Raised before the wait: the wait returns at once.
        signal.raise();
        tokio::time::timeout(Duration::from_secs(1), signal.raised())
            .await
            .expect("a raise before the wait is kept");
        // Lowered, it waits until raised from another task.
        signal.lower();
        let waiting = tokio::spawn({
            let signal = signal.clone();
            async move { signal.raised().await }
        });
        tokio::task::yield_now().await;
        assert!(!waiting.is_finished());
        signal.raise();
        tokio::time::timeout(Duration::from_secs(1), waiting)
            .await
            .expect("the raise wakes the waiting reader")
            .unwrap();
        // A lowered signal does not resolve.
        signal.lower();
        let idle = tokio::time::timeout(Duration::from_millis(20), signal.raised()).await;
        assert!(idle.is_err());
    }
}
