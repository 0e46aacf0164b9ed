//! `relay`: what lets several instances share one PostgreSQL database, as behind a load
//! balancer.
//!
//! A user's sockets may sit on any instance, while a turn runs on the instance that received
//! its message. Each instance therefore sends every event its hub publishes to PostgreSQL
//! (`NOTIFY agentwire_events`) and delivers every event it hears from another instance to its
//! own subscribers ([`Hub::deliver`]). Transports see no difference. Cancel requests for a turn
//! run elsewhere arrive on `agentwire_cancel` and are applied here when the turn runs here; the
//! chat core claims each thread in a shared registry ([`crate::chat::cluster`]) that this
//! module keeps alive.
//!
//! A notification's payload is `{"o": instance, "s": seq, "u": user, "e": event}`, the event
//! being the very JSON its sockets receive. A payload too large for a notification is stored in
//! `event_relay` and the notification carries `{"o", "s", "r": row id}` instead.
//!
//! **Order.** One task per instance sends events in the order they were published, each batch
//! in one statement; PostgreSQL delivers one sender's notifications in that order.
//!
//! **No holes.** `seq` counts every event an instance published, including one the relay had to
//! drop (its queue full, PostgreSQL failing). A receiver that sees an instance's `seq` jump, or
//! that lost its listening connection (notifications sent meanwhile are gone), marks every local
//! subscription lagged: each socket is closed with 1013, as for a slow reader, and the client
//! reconnects and reloads its threads, rather than going on with a stream that misses a delta.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;
use serde_json::value::RawValue;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::chat::cluster::{CancelRequest, Cluster};
use crate::chat::event::Event;
use crate::chat::Chat;
use crate::error::Result;
use crate::hub::Hub;
use crate::model::UserId;
use crate::store::relay_db::{Heard, RelayDb, CANCEL_CHANNEL, KEEP_ALIVE_EVERY_SECS};

/// NOTIFY refuses payloads of 8,000 bytes or more; larger envelopes go through the table.
const NOTIFY_MAX: usize = 7_900;
/// Events sent per statement at most.
const BATCH: usize = 512;
/// Events waiting to be sent at most; beyond it publishing drops (and receivers see a gap).
const QUEUE: usize = 65_536;
/// How often the sender sweeps old stored payloads.
const SWEEP_EVERY: Duration = Duration::from_secs(60);
/// Instances a receiver tracks; beyond it the table restarts (a first event is never a gap).
const MAX_ORIGINS: usize = 4_096;

/// Joins this instance to the others on `db`: from now on `hub`'s events reach every instance
/// listening on the same database and theirs reach it, and `chat` claims threads and cancels
/// turns across instances. The tasks end when `stop` is cancelled or the store closes.
pub async fn start(db: RelayDb, hub: Hub, chat: Chat, stop: CancellationToken) -> Result<()> {
    let origin = Uuid::new_v4();
    // Listen before publishing anything: nothing sent after start is missed.
    let listener = db.listen().await?;
    let (tx, rx) = mpsc::channel(QUEUE);
    let dropped = Arc::new(AtomicU64::new(0));
    if !hub.relay_to(tx, dropped.clone()) {
        return Ok(());
    }
    chat.join_cluster(Cluster::new(db.clone(), origin));
    tokio::spawn(send(db.clone(), rx, dropped, origin, stop.clone()));
    tokio::spawn(keep_alive(db.clone(), origin, stop.clone()));
    tokio::spawn(receive(db, listener, hub, chat, origin, stop));
    tracing::info!(%origin, "joined the instances on this database");
    Ok(())
}

/// Refreshes this instance's running turns, so no other instance takes their threads over.
async fn keep_alive(db: RelayDb, origin: Uuid, stop: CancellationToken) {
    let mut tick = tokio::time::interval(Duration::from_secs(KEEP_ALIVE_EVERY_SECS));
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tick.tick() => {}
        }
        if let Err(e) = db.keep_alive(origin).await {
            tracing::warn!(error = %e, "could not refresh this instance's running turns");
        }
    }
}

/// Sends what the hub publishes, in order, batching whatever is queued.
async fn send(
    db: RelayDb,
    mut rx: mpsc::Receiver<Arc<Event>>,
    dropped: Arc<AtomicU64>,
    origin: Uuid,
    stop: CancellationToken,
) {
    let mut seq = 0u64;
    let mut swept = tokio::time::Instant::now();
    let mut batch = Vec::with_capacity(BATCH);
    let mut small: Vec<String> = Vec::with_capacity(BATCH);
    loop {
        // After `stop`, send what is still queued, then end.
        let first = tokio::select! {
            biased;
            e = rx.recv() => e,
            _ = stop.cancelled() => rx.try_recv().ok(),
        };
        let Some(first) = first else { return };
        batch.push(first);
        while batch.len() < BATCH {
            match rx.try_recv() {
                Ok(e) => batch.push(e),
                Err(_) => break,
            }
        }
        let count = batch.len() as u64;
        let mut failed = 0u64;
        for event in batch.drain(..) {
            // Events dropped before this one leave their numbers unused: a gap receivers see.
            let skipped = dropped.swap(0, Ordering::Relaxed);
            failed += skipped;
            seq += 1 + skipped;
            let payload = envelope(origin, seq, &event);
            if payload.len() < NOTIFY_MAX {
                small.push(payload);
                continue;
            }
            failed += flush(&db, &mut small).await;
            let head = format!(r#"{{"o":"{origin}","s":{seq},"r":"#);
            if let Err(e) = db.notify_stored(&head, &payload).await {
                tracing::warn!(error = %e, "event relay: could not send a large event");
                failed += 1;
            }
        }
        failed += flush(&db, &mut small).await;
        crate::metrics::relay_sent(count.saturating_sub(failed), failed);
        if swept.elapsed() >= SWEEP_EVERY {
            swept = tokio::time::Instant::now();
            if let Err(e) = db.sweep().await {
                tracing::warn!(error = %e, "event relay: could not sweep stored events");
            }
        }
    }
}

/// Sends the queued small payloads; returns how many were lost.
async fn flush(db: &RelayDb, small: &mut Vec<String>) -> u64 {
    let n = small.len() as u64;
    let result = db.notify(small).await;
    small.clear();
    match result {
        Ok(()) => 0,
        Err(e) => {
            tracing::warn!(error = %e, events = n, "event relay: could not send events");
            n
        }
    }
}

/// `{"o":…,"s":…,"u":…,"e":…}` with the event's wire JSON as it is.
fn envelope(origin: Uuid, seq: u64, event: &Event) -> String {
    let user = serde_json::to_string(event.user.as_str()).expect("strings serialise");
    let wire = event.to_json();
    let mut out = String::with_capacity(wire.len() + user.len() + 64);
    out.push_str(r#"{"o":""#);
    out.push_str(&origin.to_string());
    out.push_str(r#"","s":"#);
    out.push_str(&seq.to_string());
    out.push_str(r#","u":"#);
    out.push_str(&user);
    out.push_str(r#","e":"#);
    out.push_str(wire);
    out.push('}');
    out
}

/// A notification as read.
#[derive(Debug, Deserialize)]
struct Envelope<'a> {
    o: Uuid,
    s: u64,
    #[serde(default)]
    u: Option<UserId>,
    #[serde(default, borrow)]
    e: Option<&'a RawValue>,
    /// Row id of a stored payload (which is a whole envelope itself).
    #[serde(default)]
    r: Option<i64>,
}

/// Delivers what other instances publish to this instance's subscribers.
async fn receive(
    db: RelayDb,
    mut listener: crate::store::relay_db::Listener,
    hub: Hub,
    chat: Chat,
    origin: Uuid,
    stop: CancellationToken,
) {
    let mut order = Order::default();
    // While PostgreSQL cannot be reached, sockets are closed when the outage starts and again
    // when it ends, not at every retry.
    let mut down = false;
    loop {
        let heard = tokio::select! {
            _ = stop.cancelled() => return,
            heard = listener.next() => heard,
        };
        let back = matches!(heard, Ok(Heard::Notification(_) | Heard::Reconnected));
        let recovered = back && std::mem::take(&mut down);
        if recovered {
            // Sockets opened during the outage missed what was sent meanwhile too.
            lost(&hub, &mut order, "the listening connection is back");
        }
        match heard {
            Ok(Heard::Notification(n)) if n.channel() == CANCEL_CHANNEL => {
                match serde_json::from_str::<CancelRequest>(n.payload()) {
                    Ok(c) => {
                        chat.cancel_here(&c.user, c.thread);
                    }
                    Err(e) => tracing::warn!(error = %e, "ignoring an unreadable cancel request"),
                }
            }
            Ok(Heard::Notification(n)) => match order.accept(&db, origin, n.payload()).await {
                Relayed::Event(event) => {
                    hub.deliver(event);
                    crate::metrics::relay_received();
                    // Notifications already read come back without touching the socket, so
                    // nothing else would make this loop give way: let the sockets drain their
                    // queues between deliveries, as they do between a local turn's events.
                    tokio::task::consume_budget().await;
                }
                Relayed::Gap => lost(&hub, &mut order, "an instance's events arrived with a gap"),
                Relayed::Skip => {}
            },
            Ok(Heard::Reconnected) => {
                if !recovered {
                    lost(&hub, &mut order, "the listening connection dropped");
                }
            }
            Ok(Heard::Closed) => return,
            Err(e) => {
                if !std::mem::replace(&mut down, true) {
                    lost(&hub, &mut order, "the listening connection failed");
                }
                tracing::warn!(error = %e, "event relay: listening again in a second");
                tokio::select! {
                    _ = stop.cancelled() => return,
                    _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                }
            }
        }
    }
}

/// Events from other instances may be lost: close every local socket (1013) and start afresh.
fn lost(hub: &Hub, order: &mut Order, why: &str) {
    tracing::warn!(
        why,
        "event relay: events may be lost; closing this instance's sockets"
    );
    crate::metrics::relay_gap();
    hub.lag_all();
    order.last.clear();
}

/// The last `seq` heard from each other instance.
#[derive(Default)]
struct Order {
    last: HashMap<Uuid, u64>,
}

/// What one notification means here.
#[derive(Debug)]
enum Relayed {
    /// Another instance's event, next in its order.
    Event(Arc<Event>),
    /// Events of another instance were lost before this one.
    Gap,
    /// Our own event, or one this version cannot read.
    Skip,
}

impl Order {
    async fn accept(&mut self, db: &RelayDb, origin: Uuid, payload: &str) -> Relayed {
        let env: Envelope = match serde_json::from_str(payload) {
            Ok(env) => env,
            Err(e) => {
                tracing::warn!(error = %e, "event relay: ignoring an unreadable notification");
                return Relayed::Skip;
            }
        };
        if env.o == origin {
            return Relayed::Skip;
        }
        if self.last.len() >= MAX_ORIGINS && !self.last.contains_key(&env.o) {
            self.last.clear();
        }
        if let Some(prev) = self.last.insert(env.o, env.s) {
            if env.s != prev + 1 {
                return Relayed::Gap;
            }
        }
        let stored;
        let env = match env.r {
            None => env,
            Some(id) => {
                stored = match db.stored(id).await {
                    Ok(Some(p)) => p,
                    Ok(None) | Err(_) => return Relayed::Gap,
                };
                match serde_json::from_str(&stored) {
                    Ok(env) => env,
                    Err(e) => {
                        tracing::warn!(error = %e, "event relay: ignoring an unreadable stored event");
                        return Relayed::Skip;
                    }
                }
            }
        };
        let (Some(user), Some(wire)) = (env.u, env.e) else {
            tracing::warn!("event relay: ignoring a notification without user or event");
            return Relayed::Skip;
        };
        match Event::from_wire(user, wire.get().to_string()) {
            Ok(event) => Relayed::Event(Arc::new(event)),
            Err(e) => {
                // An event this version does not know (a newer instance, mid-upgrade).
                tracing::warn!(error = %e, "event relay: ignoring an unknown event");
                Relayed::Skip
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chat::event::ChatEvent;
    use crate::model::{MessageId, ThreadId};

    fn delta(user: &str, text: &str) -> Event {
        Event::new(
            UserId::new(user),
            ChatEvent::StreamDelta {
                thread_id: ThreadId(Uuid::nil()),
                message_id: MessageId(Uuid::nil()),
                delta: text.into(),
                seq: 0,
            },
            Some("r\"1".into()),
        )
    }

    #[test]
    fn an_envelope_carries_the_event_bytes_and_an_awkward_user_intact() {
        let origin = Uuid::new_v4();
        let event = delta("u\"ser\\é", "a \"quoted\" delta\n");
        let payload = envelope(origin, 7, &event);
        let env: Envelope = serde_json::from_str(&payload).unwrap();
        assert_eq!((env.o, env.s, env.r), (origin, 7, None));
        assert_eq!(env.u.as_ref().unwrap().as_str(), "u\"ser\\é");
        assert_eq!(env.e.unwrap().get(), event.to_json());
        let back = Event::from_wire(env.u.unwrap(), env.e.unwrap().get().to_string()).unwrap();
        assert_eq!(back, event);
        assert_eq!(back.to_json(), event.to_json());
    }

    /// A handle that never connects: the paths tested here do not reach the database.
    fn no_db() -> RelayDb {
        let pool = sqlx::postgres::PgPoolOptions::new()
            .connect_lazy("postgres://nobody@127.0.0.1:1/none")
            .unwrap();
        RelayDb::new(pool)
    }

    #[tokio::test]
    async fn events_are_taken_in_order_per_instance_and_a_jump_is_a_gap() {
        let db = no_db();
        let (me, other, third) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
        let mut order = Order::default();
        let ev = delta("u", "x");
        let mut take = async |o, s| order.accept(&db, me, &envelope(o, s, &ev)).await;
        // Our own events are not delivered twice.
        assert!(matches!(take(me, 1).await, Relayed::Skip));
        // The first event heard from an instance starts its count, whatever its number.
        assert!(matches!(take(other, 41).await, Relayed::Event(e) if *e == ev));
        assert!(matches!(take(other, 42).await, Relayed::Event(_)));
        assert!(matches!(take(third, 1).await, Relayed::Event(_)));
        // 43 was lost.
        assert!(matches!(take(other, 44).await, Relayed::Gap));
        assert!(matches!(take(third, 2).await, Relayed::Event(_)));
        // A repeat is out of order too.
        assert!(matches!(take(third, 2).await, Relayed::Gap));
    }

    #[tokio::test]
    async fn unreadable_notifications_are_skipped() {
        let db = no_db();
        let me = Uuid::new_v4();
        let other = Uuid::new_v4();
        let mut order = Order::default();
        for payload in [
            "not json".to_string(),
            format!(r#"{{"o":"{other}","s":1}}"#),
            format!(r#"{{"o":"{other}","s":2,"u":"u","e":{{"type":"from.the.future"}}}}"#),
        ] {
            assert!(matches!(
                order.accept(&db, me, &payload).await,
                Relayed::Skip
            ));
        }
        // The skipped ones still counted: the next in order is delivered.
        let next = envelope(other, 3, &delta("u", "y"));
        assert!(matches!(
            order.accept(&db, me, &next).await,
            Relayed::Event(_)
        ));
    }
}
