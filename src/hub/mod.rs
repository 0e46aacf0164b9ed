//! `Hub`: every user's recent events on this instance, and the sockets reading them.
//!
//! This is the publish/subscribe seam between turns and transports: a turn publishes without
//! knowing who listens, a socket subscribes without knowing where turns run. Each user has one
//! [`log::UserStream`]: the events of the last few minutes (`RESUME_WINDOW_SECS`, at most
//! `RESUME_MAX_EVENTS`), each with its [`position`]. A socket reads the log through a cursor, so
//! publishing never waits on a client and a slow socket costs nothing until it falls out of
//! the log; one that falls behind reads adjacent deltas merged. A client that reconnects, here
//! or on another instance, says where it was and is given exactly what it missed
//! ([`Subscription::resume`]), or is told honestly that this instance cannot know.
//!
//! With several instances, a [`crate::relay`] carries every published event (with its origin
//! and number) to the other instances, which [`Hub::deliver`] it into their own logs.
//!
//! Where things are: this file publishes and keeps the table of user streams; `log` is one
//! user's stream (`log/replay` reads it back for a resume or a running turn); `subscription`
//! reads it for one socket; `delivery` is what a socket receives; `position` is the `pos` a
//! client keeps.

mod delivery;
pub mod log;
pub mod position;
mod subscription;

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock, Weak};
use std::time::Duration;

use dashmap::mapref::one::RefMut;
use dashmap::DashMap;
use foldhash::fast::RandomState as UserHasher;
use tokio::sync::mpsc;
use uuid::Uuid;

use crate::chat::event::Event;
use crate::model::UserId;
pub use delivery::Delivery;
use log::UserStream;
pub use position::Position;
pub use subscription::{Lagged, Resumed, Subscription};

/// How long an event may take to reach another instance, for judging positions made there.
const RELAY_MARGIN: Duration = Duration::from_secs(2);
/// How often old events are dropped and idle users forgotten.
const SWEEP_EVERY: Duration = Duration::from_secs(1);

/// How much of each user's stream is kept, and how far a socket may fall behind.
#[derive(Debug, Clone)]
pub struct HubSettings {
    /// Entries (an event, or a run of merged deltas) a socket may fall behind before it is
    /// closed with 1013.
    pub max_behind: usize,
    /// Events are kept at least this long (unless a size bound drops them first).
    pub window: Duration,
    /// Events kept per user at most, each delta counted.
    pub max_events_per_user: usize,
    /// Bytes kept per user at most.
    pub max_bytes_per_user: usize,
    /// Bytes kept over all users at most; past it the oldest events go first.
    pub max_bytes: usize,
}

impl Default for HubSettings {
    fn default() -> Self {
        HubSettings {
            max_behind: 1024,
            window: Duration::from_secs(300),
            max_events_per_user: 4096,
            max_bytes_per_user: 4 << 20,
            max_bytes: 256 << 20,
        }
    }
}

/// Cheap-to-clone handle to the process-wide table of user streams.
#[derive(Clone)]
pub struct Hub {
    inner: Arc<Inner>,
}

struct Inner {
    /// Hashed with foldhash (seeded at random per process) rather than SipHash: every delta
    /// looks its user up twice, once to publish and once per socket to read, and SipHash was
    /// a twentieth of a delta's work. Keys are the ids of authenticated users.
    users: DashMap<UserId, UserStream, UserHasher>,
    settings: HubSettings,
    /// This instance among the others; `short` names it in positions.
    origin: Uuid,
    short: u64,
    /// The number of the last event this instance published.
    counter: AtomicU64,
    next_id: AtomicU64,
    /// Since when every other instance's events have reached this one (unix ms).
    listening_since_ms: AtomicU64,
    /// Bytes kept over all users.
    bytes: AtomicUsize,
    /// The instances whose events have reached this one (their short names).
    heard: std::sync::RwLock<std::collections::HashSet<u64>>,
    /// Where published events leave for other instances, once a relay is attached.
    relay: OnceLock<RelayOut>,
}

/// An event on its way to the other instances, with its number here.
pub type Outgoing = (Arc<Event>, u64);

/// The relay's inbound queue, and a count of events it had no room for (the relay turns that
/// count into a gap the other instances see).
struct RelayOut {
    tx: mpsc::Sender<Outgoing>,
    dropped: Arc<AtomicU64>,
}

/// The short name of an instance in positions.
pub fn short_origin(origin: Uuid) -> u64 {
    let b = origin.as_bytes();
    u64::from_be_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]])
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

impl Hub {
    pub fn new(settings: HubSettings) -> Self {
        let origin = Uuid::new_v4();
        let hub = Hub {
            inner: Arc::new(Inner {
                users: DashMap::with_hasher(UserHasher::default()),
                settings,
                origin,
                short: short_origin(origin),
                counter: AtomicU64::new(0),
                next_id: AtomicU64::new(1),
                listening_since_ms: AtomicU64::new(now_ms()),
                bytes: AtomicUsize::new(0),
                heard: Default::default(),
                relay: OnceLock::new(),
            }),
        };
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(sweep_until_dropped(Arc::downgrade(&hub.inner)));
        }
        hub
    }

    /// This instance's id among the instances (its events carry it).
    pub fn origin(&self) -> Uuid {
        self.inner.origin
    }

    /// Sends every event published from now on to `tx` as well, for other instances. An event
    /// that finds `tx` full is counted in `dropped` instead; publishing still never waits.
    /// Returns false when a relay was already attached.
    pub fn relay_to(&self, tx: mpsc::Sender<Outgoing>, dropped: Arc<AtomicU64>) -> bool {
        self.inner.relay.set(RelayOut { tx, dropped }).is_ok()
    }

    /// Numbers `event`, keeps it in its user's log, wakes that user's sockets here and hands
    /// it to the relay for the other instances; returns how many sockets here read the user.
    /// Never blocks.
    pub fn publish(&self, event: Arc<Event>) -> usize {
        let inner = &self.inner;
        let now = now_ms();
        let mut stream = self.stream(&event.user, now);
        // Numbered, logged and relayed under the user's lock: every instance sees a user's
        // events of this one in the order of their numbers.
        let n = inner.counter.fetch_add(1, Ordering::Relaxed) + 1;
        let added = stream.append(&event, inner.short, n, now, 0);
        if let Some(relay) = inner.relay.get() {
            if relay.tx.try_send((event, n)).is_err() {
                relay.dropped.fetch_add(1, Ordering::Relaxed);
            }
        }
        self.settle(&mut stream, added, now)
    }

    /// Keeps an event another instance published (`origin`, numbered `n` there) in its user's
    /// log and wakes that user's sockets here; returns how many read the user.
    pub fn deliver(&self, event: Arc<Event>, origin: Uuid, n: u64) -> usize {
        let inner = &self.inner;
        let now = now_ms();
        let since = inner.listening_since_ms.load(Ordering::Acquire);
        let short = short_origin(origin);
        let known = inner.heard.read().map_or(true, |h| h.contains(&short));
        if !known {
            if let Ok(mut heard) = inner.heard.write() {
                heard.insert(short);
            }
        }
        let mut stream = self.stream(&event.user, now);
        let added = stream.append(&event, short, n, now, since);
        self.settle(&mut stream, added, now)
    }

    /// `user`'s stream, made when missing. Looked up first, so the common case neither clones
    /// the user's id nor takes the map's entry path.
    fn stream(&self, user: &UserId, now: u64) -> RefMut<'_, UserId, UserStream> {
        match self.inner.users.get_mut(user) {
            Some(stream) => stream,
            None => self
                .inner
                .users
                .entry(user.clone())
                .or_insert_with(|| self.new_stream(now)),
        }
    }

    fn new_stream(&self, now: u64) -> UserStream {
        let last = self.inner.counter.load(Ordering::Relaxed);
        UserStream::new(now, self.inner.short, last)
    }

    /// Bounds the stream after `added` bytes and wakes its readers.
    fn settle(&self, stream: &mut UserStream, added: usize, now: u64) -> usize {
        let s = &self.inner.settings;
        let before = now.saturating_sub(s.window.as_millis() as u64);
        let freed = stream.evict(s.max_events_per_user, s.max_bytes_per_user, before);
        if added >= freed {
            self.inner.bytes.fetch_add(added - freed, Ordering::Relaxed);
        } else {
            self.inner.bytes.fetch_sub(freed - added, Ordering::Relaxed);
        }
        for reader in &stream.readers {
            reader.signal.raise();
        }
        stream.readers.len()
    }

    /// Events from other instances may have been lost: every socket here is woken as lagged,
    /// and positions made before now that count on other instances' events are no longer
    /// recovered here.
    pub fn lag_all(&self) {
        let now = now_ms();
        self.inner
            .listening_since_ms
            .store(now + 1, Ordering::Release);
        let own = self.inner.short;
        for mut stream in self.inner.users.iter_mut() {
            stream.forget_others(own, now);
            for reader in &stream.readers {
                reader.lagged.store(true, Ordering::Release);
                reader.signal.raise();
            }
        }
    }

    /// Number of users with at least one socket here.
    pub fn users(&self) -> usize {
        self.inner
            .users
            .iter()
            .filter(|s| !s.readers.is_empty())
            .count()
    }

    /// Number of sockets of `user` here.
    pub fn subscribers(&self, user: &UserId) -> usize {
        self.inner.users.get(user).map_or(0, |s| s.readers.len())
    }

    /// Bytes of events kept over all users.
    pub fn kept_bytes(&self) -> usize {
        self.inner.bytes.load(Ordering::Relaxed)
    }

    /// Drops events past the window, then the oldest ones while over the total bound, and
    /// forgets users with neither sockets nor events.
    fn sweep(&self) {
        let inner = &self.inner;
        let s = &inner.settings;
        let now = now_ms();
        let mut window = s.window.as_millis() as u64;
        loop {
            let before = now.saturating_sub(window);
            let mut freed = 0;
            inner.users.retain(|_, stream| {
                freed += stream.evict(s.max_events_per_user, s.max_bytes_per_user, before);
                !stream.is_idle()
            });
            inner.bytes.fetch_sub(freed, Ordering::Relaxed);
            if inner.bytes.load(Ordering::Relaxed) <= s.max_bytes || window == 0 {
                break;
            }
            // Over the total bound: the window shrinks until it fits.
            window /= 2;
        }
        crate::metrics::resume_kept(inner.bytes.load(Ordering::Relaxed), inner.users.len());
    }
}

async fn sweep_until_dropped(inner: Weak<Inner>) {
    let mut tick = tokio::time::interval(SWEEP_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let Some(inner) = inner.upgrade() else { return };
        Hub { inner }.sweep();
    }
}

#[cfg(test)]
mod tests;
