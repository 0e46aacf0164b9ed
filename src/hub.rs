//! `Hub`: per-user fan-out of chat events to every open socket of that user.
//!
//! This is the publish/subscribe seam between turns and transports: a turn publishes without
//! knowing who listens, a socket subscribes without knowing where turns run. Each subscription
//! owns a bounded queue; publishing only ever `try_send`s, so it never waits on a client. A
//! subscriber whose queue is full misses the event and is marked lagged: its transport closes it
//! (1013) rather than let memory grow or deliver a stream with a hole in it.
//!
//! Queues are tokio `mpsc` channels, which allocate as they fill, so an idle subscription costs
//! a few hundred bytes whatever its capacity.
//!
//! With several instances, a [`crate::relay`] carries every published event to the other
//! instances, which [`Hub::deliver`] it to their own subscribers: a socket never needs to be on
//! the instance that runs the turn.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

use dashmap::DashMap;
use tokio::sync::mpsc;

use crate::chat::event::Event;
use crate::model::UserId;

/// Cheap-to-clone handle to the process-wide subscription table.
#[derive(Clone)]
pub struct Hub {
    inner: Arc<Inner>,
}

struct Inner {
    users: DashMap<UserId, Vec<Subscriber>>,
    capacity: usize,
    next_id: AtomicU64,
    /// Where published events leave for other instances, once a relay is attached.
    relay: OnceLock<RelayOut>,
}

/// The relay's inbound queue, and a count of events it had no room for (the relay turns that
/// count into a gap the other instances see).
struct RelayOut {
    tx: mpsc::Sender<Arc<Event>>,
    dropped: Arc<AtomicU64>,
}

struct Subscriber {
    id: u64,
    tx: mpsc::Sender<Arc<Event>>,
    lagged: Arc<AtomicBool>,
}

/// The subscriber's queue overflowed and at least one event was dropped for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lagged;

impl Hub {
    /// `capacity` bounds each subscription's queue.
    pub fn new(capacity: usize) -> Self {
        Hub {
            inner: Arc::new(Inner {
                users: DashMap::new(),
                capacity: capacity.max(1),
                next_id: AtomicU64::new(1),
                relay: OnceLock::new(),
            }),
        }
    }

    /// Sends every event published from now on to `tx` as well, for other instances. An event
    /// that finds `tx` full is counted in `dropped` instead; publishing still never waits.
    /// Returns false when a relay was already attached.
    pub fn relay_to(&self, tx: mpsc::Sender<Arc<Event>>, dropped: Arc<AtomicU64>) -> bool {
        self.inner.relay.set(RelayOut { tx, dropped }).is_ok()
    }

    /// Queues `event` for every current subscriber of its user, here and (through the relay) on
    /// every other instance; returns how many subscribers here got it. Never blocks; with no
    /// subscriber the event is dropped (what matters is persisted).
    pub fn publish(&self, event: Arc<Event>) -> usize {
        if let Some(relay) = self.inner.relay.get() {
            if relay.tx.try_send(event.clone()).is_err() {
                relay.dropped.fetch_add(1, Ordering::Relaxed);
            }
        }
        self.deliver(event)
    }

    /// Queues `event` for the subscribers of this instance only (an event that came from
    /// another instance); returns how many got it.
    pub fn deliver(&self, event: Arc<Event>) -> usize {
        let Some(subscribers) = self.inner.users.get(&event.user) else {
            return 0;
        };
        let mut delivered = 0;
        for sub in subscribers.iter() {
            match sub.tx.try_send(event.clone()) {
                Ok(()) => delivered += 1,
                Err(mpsc::error::TrySendError::Full(_)) => {
                    sub.lagged.store(true, Ordering::Release)
                }
                // Its Subscription is being dropped and will remove the entry.
                Err(mpsc::error::TrySendError::Closed(_)) => {}
            }
        }
        delivered
    }

    /// Subscribes to every event of `user` from now on.
    pub fn subscribe(&self, user: &UserId) -> Subscription {
        let (tx, rx) = mpsc::channel(self.inner.capacity);
        let lagged = Arc::new(AtomicBool::new(false));
        let id = self.inner.next_id.fetch_add(1, Ordering::Relaxed);
        self.inner
            .users
            .entry(user.clone())
            .or_default()
            .push(Subscriber {
                id,
                tx,
                lagged: lagged.clone(),
            });
        Subscription {
            hub: self.clone(),
            user: user.clone(),
            id,
            rx,
            lagged,
        }
    }

    /// Marks every subscription lagged and wakes it: events may have been lost on their way
    /// from another instance, and no socket may go on with a hole in its stream.
    pub fn lag_all(&self) {
        self.inner.users.retain(|_, subs| {
            for sub in subs.iter() {
                sub.lagged.store(true, Ordering::Release);
            }
            // Dropping the senders wakes every waiting subscription with `Lagged`.
            false
        });
    }

    /// Number of users with at least one subscription.
    pub fn users(&self) -> usize {
        self.inner.users.len()
    }

    /// Number of subscriptions of `user`.
    pub fn subscribers(&self, user: &UserId) -> usize {
        self.inner.users.get(user).map(|s| s.len()).unwrap_or(0)
    }
}

/// A live subscription. Dropping it unregisters it.
pub struct Subscription {
    hub: Hub,
    user: UserId,
    id: u64,
    rx: mpsc::Receiver<Arc<Event>>,
    lagged: Arc<AtomicBool>,
}

impl Subscription {
    /// The next event, or `Lagged` once an event had to be dropped for this subscriber.
    /// Cancel-safe: dropping the future loses nothing.
    pub async fn recv(&mut self) -> Result<Arc<Event>, Lagged> {
        if self.lagged.load(Ordering::Acquire) {
            return Err(Lagged);
        }
        // The hub drops this subscription's sender only in `lag_all`, so `None` means lagged.
        self.rx.recv().await.ok_or(Lagged)
    }

    /// An event already queued, without waiting: `Ok(None)` when the queue is empty.
    pub fn try_recv(&mut self) -> Result<Option<Arc<Event>>, Lagged> {
        if self.lagged.load(Ordering::Acquire) {
            return Err(Lagged);
        }
        Ok(self.rx.try_recv().ok())
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        let users = &self.hub.inner.users;
        if let Some(mut subs) = users.get_mut(&self.user) {
            subs.retain(|s| s.id != self.id);
        }
        users.remove_if(&self.user, |_, subs| subs.is_empty());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chat::event::ChatEvent;
    use crate::error::ErrorBody;

    fn event(user: &str, code: &str) -> Arc<Event> {
        Arc::new(Event::new(
            UserId::new(user),
            ChatEvent::Error {
                thread_id: None,
                error: ErrorBody {
                    code: code.into(),
                    message: String::new(),
                },
            },
            None,
        ))
    }

    #[tokio::test]
    async fn fans_out_to_every_subscription_of_the_user_only() {
        let hub = Hub::new(16);
        let mut a1 = hub.subscribe(&UserId::new("a"));
        let mut a2 = hub.subscribe(&UserId::new("a"));
        let mut b = hub.subscribe(&UserId::new("b"));
        assert_eq!(hub.publish(event("a", "x")), 2);
        assert_eq!(a1.recv().await.unwrap().body.kind(), "error");
        assert_eq!(a2.recv().await.unwrap().body.kind(), "error");
        assert_eq!(b.try_recv(), Ok(None));
    }

    #[tokio::test]
    async fn entry_removed_when_last_subscription_drops() {
        let hub = Hub::new(4);
        let s1 = hub.subscribe(&UserId::new("a"));
        let s2 = hub.subscribe(&UserId::new("a"));
        assert_eq!(hub.users(), 1);
        drop(s1);
        assert_eq!(hub.subscribers(&UserId::new("a")), 1);
        drop(s2);
        assert_eq!(hub.users(), 0);
        assert_eq!(hub.publish(event("a", "x")), 0);
    }

    #[tokio::test]
    async fn a_full_queue_marks_only_that_subscriber_lagged() {
        let hub = Hub::new(2);
        let mut slow = hub.subscribe(&UserId::new("a"));
        let mut fast = hub.subscribe(&UserId::new("a"));
        for i in 0..5 {
            hub.publish(event("a", &i.to_string()));
            // The fast one keeps up.
            assert!(fast.recv().await.is_ok());
        }
        assert_eq!(slow.recv().await.unwrap_err(), Lagged);
        assert_eq!(slow.try_recv().unwrap_err(), Lagged);
        hub.publish(event("a", "after"));
        assert!(fast.recv().await.is_ok());
    }

    #[tokio::test]
    async fn lag_all_wakes_every_waiting_subscription() {
        let hub = Hub::new(4);
        let mut a = hub.subscribe(&UserId::new("a"));
        let mut b = hub.subscribe(&UserId::new("b"));
        let waiting = tokio::spawn(async move { a.recv().await.map(|_| ()) });
        tokio::task::yield_now().await;
        hub.lag_all();
        assert_eq!(waiting.await.unwrap(), Err(Lagged));
        assert_eq!(b.try_recv().unwrap_err(), Lagged);
        assert_eq!(hub.users(), 0);
        // New subscriptions work as before.
        let mut c = hub.subscribe(&UserId::new("a"));
        assert_eq!(hub.publish(event("a", "x")), 1);
        assert!(c.recv().await.is_ok());
    }

    #[tokio::test]
    async fn published_events_also_go_to_the_relay_and_delivered_ones_do_not() {
        let hub = Hub::new(4);
        let (tx, mut rx) = mpsc::channel(1);
        let dropped = Arc::new(AtomicU64::new(0));
        assert!(hub.relay_to(tx, dropped.clone()));
        let mut a = hub.subscribe(&UserId::new("a"));
        assert_eq!(hub.publish(event("a", "one")), 1);
        // The relay queue is full: the next event is counted, and still delivered here.
        assert_eq!(hub.publish(event("a", "two")), 1);
        assert_eq!(dropped.load(Ordering::Relaxed), 1);
        assert_eq!(hub.deliver(event("a", "three")), 1);
        let relayed = rx.recv().await.unwrap();
        assert!(relayed.to_json().contains("one"));
        assert!(rx.try_recv().is_err(), "nothing else reached the relay");
        for code in ["one", "two", "three"] {
            assert!(a.recv().await.unwrap().to_json().contains(code));
        }
    }
}
