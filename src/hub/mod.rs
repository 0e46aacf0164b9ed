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

pub mod log;
pub mod position;

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock, Weak};
use std::time::Duration;

use dashmap::DashMap;
use tokio::sync::{mpsc, Notify};
use uuid::Uuid;

use crate::chat::event::Event;
use crate::model::{ThreadId, UserId};
pub use log::Delivery;
use log::{Cursor, Judge, Reader, UserStream, Verdict};
pub use position::Position;

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
    users: DashMap<UserId, UserStream>,
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
                users: DashMap::new(),
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
        let mut stream = inner
            .users
            .entry(event.user.clone())
            .or_insert_with(|| self.new_stream(now));
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
        let mut stream = inner
            .users
            .entry(event.user.clone())
            .or_insert_with(|| self.new_stream(now));
        let added = stream.append(&event, short, n, now, since);
        self.settle(&mut stream, added, now)
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
            reader.notify.notify_one();
        }
        stream.readers.len()
    }

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
        let mut stream = inner
            .users
            .entry(user.clone())
            .or_insert_with(|| self.new_stream(now));
        let cursor = place(&stream)?;
        let id = inner.next_id.fetch_add(1, Ordering::Relaxed);
        let notify = Arc::new(Notify::new());
        let lagged = Arc::new(AtomicBool::new(false));
        stream.readers.push(Reader {
            id,
            notify: notify.clone(),
            lagged: lagged.clone(),
        });
        let position = stream.position(inner.short, now).to_string();
        Some(Subscription {
            hub: self.clone(),
            user: user.clone(),
            id,
            notify,
            lagged,
            cursor,
            start: cursor,
            position,
        })
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
                reader.notify.notify_one();
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

/// A socket's reading of its user's stream. Dropping it unregisters it; the user's events stay
/// for a resume.
pub struct Subscription {
    hub: Hub,
    user: UserId,
    id: u64,
    notify: Arc<Notify>,
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
            if let Some(found) = self.try_recv(max)? {
                return Ok(found);
            }
            self.notify.notified().await;
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
    use crate::chat::event::ChatEvent;
    use crate::error::ErrorBody;
    use crate::model::MessageId;

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

    fn delta(user: &str, message: MessageId, seq: u32, text: &str) -> Arc<Event> {
        Arc::new(Event::new(
            UserId::new(user),
            ChatEvent::StreamDelta {
                thread_id: ThreadId(Uuid::nil()),
                message_id: message,
                delta: text.into(),
                seq,
            },
            None,
        ))
    }

    fn hub() -> Hub {
        Hub::new(HubSettings::default())
    }

    fn texts(d: &[Delivery]) -> Vec<String> {
        d.iter().map(Delivery::to_text).collect()
    }

    fn code_of(text: &str) -> String {
        let v: serde_json::Value = serde_json::from_str(text).unwrap();
        v["code"].as_str().unwrap_or_default().to_string()
    }

    #[tokio::test]
    async fn fans_out_to_every_subscription_of_the_user_only() {
        let hub = hub();
        let mut a1 = hub.subscribe(&UserId::new("a"));
        let mut a2 = hub.subscribe(&UserId::new("a"));
        let mut b = hub.subscribe(&UserId::new("b"));
        assert_eq!(hub.publish(event("a", "x")), 2);
        assert_eq!(code_of(&a1.recv(8).await.unwrap()[0].to_text()), "x");
        assert_eq!(code_of(&a2.recv(8).await.unwrap()[0].to_text()), "x");
        assert!(b.try_recv(8).unwrap().is_none());
    }

    #[tokio::test]
    async fn every_frame_carries_a_position_that_moves_on() {
        let hub = hub();
        let mut a = hub.subscribe(&UserId::new("a"));
        let start = Position::parse(a.position()).unwrap();
        hub.publish(event("a", "one"));
        hub.publish(event("a", "two"));
        let got = a.recv(8).await.unwrap();
        let p1 = Position::parse(got[0].pos()).unwrap();
        let p2 = Position::parse(got[1].pos()).unwrap();
        let own = short_origin(hub.origin());
        assert_eq!(p1.seen(own) + 1, p2.seen(own));
        assert!(p1.seen(own) > start.seen(own));
        let v: serde_json::Value = serde_json::from_str(&got[1].to_text()).unwrap();
        assert_eq!(v["pos"], got[1].pos());
        assert_eq!(v["code"], "two");
    }

    #[tokio::test]
    async fn users_are_counted_while_they_have_sockets() {
        let hub = hub();
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
    async fn a_slow_reader_gets_adjacent_deltas_merged_and_a_fast_one_each() {
        let hub = hub();
        let user = UserId::new("a");
        let mut slow = hub.subscribe(&user);
        let mut fast = hub.subscribe(&user);
        let m = MessageId::new();
        let mut whole = String::new();
        for i in 0..2000u32 {
            let piece = format!("w{i} ");
            whole.push_str(&piece);
            hub.publish(delta("a", m, i, &piece));
            let got = fast.try_recv(64).unwrap().unwrap();
            assert_eq!(got.len(), 1);
            let v: serde_json::Value = serde_json::from_str(&got[0].to_text()).unwrap();
            assert_eq!(v["seq"], i);
            assert!(v.get("count").is_none());
        }
        hub.publish(event("a", "after"));
        let got = slow.recv(64).await.unwrap();
        assert_eq!(got.len(), 2);
        let v: serde_json::Value = serde_json::from_str(&got[0].to_text()).unwrap();
        assert_eq!(v["seq"], 0);
        assert_eq!(v["count"], 2000);
        assert_eq!(v["delta"], whole.as_str());
        assert_eq!(code_of(&got[1].to_text()), "after");
    }

    #[tokio::test]
    async fn a_reader_too_far_behind_is_lagged_and_others_go_on() {
        let hub = Hub::new(HubSettings {
            max_behind: 2,
            ..HubSettings::default()
        });
        let mut slow = hub.subscribe(&UserId::new("a"));
        let mut fast = hub.subscribe(&UserId::new("a"));
        for i in 0..5 {
            hub.publish(event("a", &i.to_string()));
            assert!(fast.recv(8).await.is_ok());
        }
        assert_eq!(slow.recv(8).await.unwrap_err(), Lagged);
        hub.publish(event("a", "after"));
        assert!(fast.recv(8).await.is_ok());
    }

    #[tokio::test]
    async fn resume_replays_exactly_what_was_missed() {
        let hub = hub();
        let user = UserId::new("a");
        let mut first = hub.subscribe(&user);
        let m = MessageId::new();
        hub.publish(event("a", "one"));
        hub.publish(delta("a", m, 0, "he"));
        let seen = first.recv(8).await.unwrap();
        let last = Position::parse(seen.last().unwrap().pos()).unwrap();
        drop(first);
        hub.publish(delta("a", m, 1, "llo"));
        hub.publish(delta("a", m, 2, "!"));
        hub.publish(event("a", "two"));

        let mut again = hub.subscribe(&user);
        let r = again.resume(&last).await;
        assert!(r.recovered);
        let t = texts(&r.events);
        assert_eq!(t.len(), 2);
        let v: serde_json::Value = serde_json::from_str(&t[0]).unwrap();
        assert_eq!((v["seq"].as_u64(), v["count"].as_u64()), (Some(1), Some(2)));
        assert_eq!(v["delta"], "llo!");
        assert_eq!(code_of(&t[1]), "two");
        // Then live, with nothing twice.
        hub.publish(event("a", "three"));
        let live = again.recv(8).await.unwrap();
        assert_eq!(live.len(), 1);
        assert_eq!(code_of(&live[0].to_text()), "three");
    }

    #[tokio::test]
    async fn a_resume_after_live_events_went_out_never_replays_out_of_order() {
        let hub = hub();
        let user = UserId::new("a");
        let mut first = hub.subscribe(&user);
        hub.publish(event("a", "one"));
        let p = Position::parse(first.recv(8).await.unwrap()[0].pos()).unwrap();
        drop(first);
        hub.publish(event("a", "missed"));
        let mut again = hub.subscribe(&user);
        hub.publish(event("a", "live"));
        assert_eq!(again.recv(8).await.unwrap().len(), 1);
        // "missed" would now come after "live": not recovered, nothing replayed.
        let r = again.resume(&p).await;
        assert!(!r.recovered && r.events.is_empty());
        // A client that had everything before this socket began is recovered with nothing to add.
        let p = Position::parse(again.position()).unwrap();
        let r = again.resume(&p).await;
        assert!(r.recovered && r.events.is_empty());
        hub.publish(event("a", "next"));
        assert_eq!(code_of(&again.recv(8).await.unwrap()[0].to_text()), "next");
    }

    #[tokio::test]
    async fn positions_this_instance_cannot_vouch_for_are_not_recovered() {
        let hub = hub();
        let user = UserId::new("a");
        hub.publish(event("a", "one"));
        let mut sub = hub.subscribe(&user);
        let now = now_ms();
        // Made by an instance that is gone (a restart), or too long ago.
        for p in [
            Position {
                t_ms: now,
                via: 42,
                seen: vec![(42, 7)],
            },
            Position {
                t_ms: now - 3_600_000,
                via: short_origin(hub.origin()),
                seen: vec![],
            },
            Position {
                t_ms: now + 3_600_000,
                via: 42,
                seen: vec![],
            },
        ] {
            let r = sub.resume(&p).await;
            assert!(!r.recovered, "{p}");
            assert!(r.events.is_empty());
        }
        // The subscription still reads live events.
        hub.publish(event("a", "two"));
        assert_eq!(code_of(&sub.recv(8).await.unwrap()[0].to_text()), "two");
    }

    #[tokio::test]
    async fn a_position_whose_events_were_dropped_is_not_recovered() {
        let hub = Hub::new(HubSettings {
            max_events_per_user: 3,
            ..HubSettings::default()
        });
        let user = UserId::new("a");
        let mut sub = hub.subscribe(&user);
        hub.publish(event("a", "0"));
        let p = Position::parse(sub.recv(8).await.unwrap()[0].pos()).unwrap();
        for i in 1..4 {
            hub.publish(event("a", &i.to_string()));
        }
        assert!(sub.resume(&p).await.recovered);
        hub.publish(event("a", "4"));
        assert!(!sub.resume(&p).await.recovered);
    }

    #[tokio::test]
    async fn events_of_other_instances_resume_by_their_own_numbers() {
        let here = hub();
        let user = UserId::new("a");
        let there = Uuid::new_v4();
        let mut sub = here.subscribe(&user);
        here.deliver(event("a", "r1"), there, 10);
        here.publish(event("a", "l1"));
        here.deliver(event("a", "r2"), there, 15);
        let got = sub.recv(8).await.unwrap();
        let after_first = Position::parse(got[0].pos()).unwrap();
        assert_eq!(after_first.seen(short_origin(there)), 10);
        let mut fresh = here.subscribe(&user);
        let r = fresh.resume(&after_first).await;
        assert!(r.recovered);
        let codes: Vec<_> = texts(&r.events).iter().map(|t| code_of(t)).collect();
        assert_eq!(codes, ["l1", "r2"]);
        // Lost relayed events: earlier positions are no longer vouched for.
        here.lag_all();
        assert_eq!(sub.try_recv(8).unwrap_err(), Lagged);
        let mut again = here.subscribe(&user);
        assert!(!again.resume(&after_first).await.recovered);
    }

    #[tokio::test]
    async fn follow_turn_replays_the_running_turn_then_goes_live() {
        use crate::model::{Message, MessageStatus, Role};
        let hub = hub();
        let user = UserId::new("a");
        let thread = ThreadId(Uuid::nil());
        let m = MessageId::new();
        let added = |role| {
            Arc::new(Event::new(
                user.clone(),
                ChatEvent::MessageAdded {
                    thread_id: thread,
                    message: Message {
                        id: MessageId::new(),
                        conversation_id: thread,
                        seq: 1,
                        role,
                        content: "hi".into(),
                        tool_calls: vec![],
                        status: MessageStatus::Completed,
                        usage: None,
                        created_at: chrono::Utc::now(),
                        next_seq: None,
                    },
                },
                None,
            ))
        };
        assert!(hub.follow_turn(&user, thread).is_none());
        hub.publish(added(Role::User));
        hub.publish(added(Role::Assistant));
        hub.publish(delta("a", m, 0, "a"));
        hub.publish(delta("a", m, 1, "b"));
        let (turn, mut sub) = hub.follow_turn(&user, thread).unwrap();
        let events: Vec<_> = turn
            .into_iter()
            .flat_map(|d| d.into_events(&user))
            .collect();
        assert_eq!(events.len(), 4);
        assert_eq!(events[3].body.kind(), "stream.delta");
        hub.publish(delta("a", m, 2, "c"));
        let live = sub.recv(8).await.unwrap();
        assert_eq!(live[0].clone().into_events(&user).len(), 1);
    }

    #[tokio::test]
    async fn published_events_also_go_to_the_relay_with_their_numbers() {
        let hub = hub();
        let (tx, mut rx) = mpsc::channel(1);
        let dropped = Arc::new(AtomicU64::new(0));
        assert!(hub.relay_to(tx, dropped.clone()));
        let mut a = hub.subscribe(&UserId::new("a"));
        assert_eq!(hub.publish(event("a", "one")), 1);
        // The relay queue is full: the next event is counted, and still delivered here.
        assert_eq!(hub.publish(event("a", "two")), 1);
        assert_eq!(dropped.load(Ordering::Relaxed), 1);
        assert_eq!(hub.deliver(event("a", "three"), Uuid::new_v4(), 1), 1);
        let (relayed, n) = rx.recv().await.unwrap();
        assert!(relayed.to_json().contains("one"));
        assert_eq!(n, 1);
        assert!(rx.try_recv().is_err(), "nothing else reached the relay");
        let got = a.recv(8).await.unwrap();
        let codes: Vec<_> = texts(&got).iter().map(|t| code_of(t)).collect();
        assert_eq!(codes, ["one", "two", "three"]);
    }

    #[tokio::test]
    async fn the_sweep_drops_old_events_and_idle_users_and_bounds_the_total() {
        let hub = Hub::new(HubSettings {
            window: Duration::from_millis(0),
            ..HubSettings::default()
        });
        hub.publish(event("a", "x"));
        assert!(hub.kept_bytes() > 0);
        tokio::time::sleep(Duration::from_millis(5)).await;
        hub.sweep();
        assert_eq!(hub.kept_bytes(), 0);
        assert_eq!(hub.inner.users.len(), 0);

        let hub = Hub::new(HubSettings {
            max_bytes: 4096,
            ..HubSettings::default()
        });
        for i in 0..200 {
            hub.publish(event(&format!("u{i}"), "some error code"));
        }
        assert!(hub.kept_bytes() > 4096);
        tokio::time::sleep(Duration::from_millis(5)).await;
        hub.sweep();
        assert!(hub.kept_bytes() <= 4096, "{}", hub.kept_bytes());
    }
}
