//! What travels between instances: runs of events packed into notifications, and the order
//! a receiver checks them in (see the module above for the format).

use std::collections::HashMap;
use std::sync::Arc;

use serde::Deserialize;
use serde_json::value::RawValue;
use uuid::Uuid;

use crate::chat::event::Event;
use crate::model::UserId;
use crate::store::relay_db::RelayDb;

/// NOTIFY refuses payloads of 8,000 bytes or more; larger ones go through the table.
pub(super) const NOTIFY_MAX: usize = 7_900;
/// PostgreSQL's limits: every payload fits in a notification.
pub(super) const NOTIFY: Limits = Limits {
    batch: NOTIFY_MAX,
    max: NOTIFY_MAX,
};
/// Instances a receiver tracks; beyond it the table restarts (a first event is never a gap).
const MAX_ORIGINS: usize = 4_096;

/// One notification to send.
#[derive(Debug)]
pub(super) enum Notice {
    /// The payload itself.
    Inline { payload: String, events: u64 },
    /// A payload too large for a notification: stored, and `head` + row id + `}` notified.
    Stored {
        head: String,
        payload: String,
        events: u64,
    },
}

/// How large the payloads a broker carries may be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Limits {
    /// A run of events is split before its payload would pass this many bytes.
    pub(super) batch: usize,
    /// A payload of this many bytes or more (one event, alone past `batch`) is stored instead.
    pub(super) max: usize,
}

/// Packs runs of consecutive events into payloads within [`Limits`].
pub(super) struct Packer {
    /// `{"o":"<origin>","s":`
    prefix: String,
    limits: Limits,
    out: Vec<Notice>,
    current: String,
    first: u64,
    next: u64,
    events: u64,
}

impl Packer {
    pub(super) fn new(origin: Uuid, limits: Limits) -> Self {
        Packer {
            prefix: own_prefix(origin),
            limits,
            out: Vec::new(),
            current: String::new(),
            first: 0,
            next: 0,
            events: 0,
        }
    }

    /// Applies `limits` to what is pushed from now on; call it between batches.
    pub(super) fn set_limits(&mut self, limits: Limits) {
        self.limits = limits;
    }

    /// Adds event number `seq`; a number that does not follow the last one starts a new
    /// payload, so every payload is a run without holes.
    pub(super) fn push(&mut self, seq: u64, event: &Event, n: u64) {
        let user = serde_json::to_string(event.user.as_str()).expect("strings serialise");
        let wire = event.to_json();
        let n = n.to_string();
        let item_len = user.len() + wire.len() + n.len() + 4;
        let full = self.current.len() + item_len + 2 > self.limits.batch;
        if self.events > 0 && (seq != self.next || full) {
            self.close();
        }
        if self.events == 0 {
            self.current = format!(r#"{}{seq},"b":["#, self.prefix);
            self.first = seq;
        } else {
            self.current.push(',');
        }
        self.current.push('[');
        self.current.push_str(&user);
        self.current.push(',');
        self.current.push_str(wire);
        self.current.push(',');
        self.current.push_str(&n);
        self.current.push(']');
        self.events += 1;
        self.next = seq + 1;
    }

    fn close(&mut self) {
        if self.events == 0 {
            return;
        }
        let mut payload = std::mem::take(&mut self.current);
        payload.push_str("]}");
        let events = std::mem::take(&mut self.events);
        self.out.push(if payload.len() < self.limits.max {
            Notice::Inline { payload, events }
        } else {
            Notice::Stored {
                head: format!(r#"{}{},"r":"#, self.prefix, self.first),
                payload,
                events,
            }
        });
    }

    /// The notices for everything pushed since the last call.
    pub(super) fn finish(&mut self) -> Vec<Notice> {
        self.close();
        std::mem::take(&mut self.out)
    }
}

/// How every notification of `origin` begins.
fn own_prefix(origin: Uuid) -> String {
    format!(r#"{{"o":"{origin}","s":"#)
}

/// A notification as read.
#[derive(Debug, Deserialize)]
struct Envelope<'a> {
    o: Uuid,
    /// Number of the first event.
    s: u64,
    /// Each event: its user, its JSON, and its number on its instance (see `crate::hub`).
    #[serde(default, borrow)]
    b: Vec<(UserId, &'a RawValue, u64)>,
    /// Row id of a stored payload (which is a whole envelope itself).
    #[serde(default)]
    r: Option<i64>,
}
/// The last event number heard from each other instance.
pub(super) struct Order {
    /// How this instance's own notifications begin (they are skipped unread).
    own: String,
    pub(super) last: HashMap<Uuid, u64>,
}

/// What one notification means here.
#[derive(Debug)]
pub(super) enum Relayed {
    /// Another instance's events, next in its order, with their numbers there.
    Events(Uuid, Vec<(Arc<Event>, u64)>),
    /// Events of another instance were lost before these.
    Gap,
    /// Our own events, or a notification this version cannot read.
    Skip,
}

impl Order {
    pub(super) fn new(origin: Uuid) -> Self {
        Order {
            own: own_prefix(origin),
            last: HashMap::new(),
        }
    }

    /// Reads one payload; a stored one is fetched from `db`.
    pub(super) async fn accept(&mut self, db: &RelayDb, payload: &[u8]) -> Relayed {
        if payload.starts_with(self.own.as_bytes()) {
            return Relayed::Skip;
        }
        let env: Envelope = match serde_json::from_slice(payload) {
            Ok(env) => env,
            Err(e) => {
                tracing::warn!(error = %e, "event relay: ignoring an unreadable notification");
                return Relayed::Skip;
            }
        };
        let stored;
        let (origin, first) = (env.o, env.s);
        let env = match env.r {
            None => env,
            Some(id) => {
                stored = match db.stored(id).await {
                    Ok(Some(p)) => p,
                    Ok(None) | Err(_) => return Relayed::Gap,
                };
                match serde_json::from_str::<Envelope>(&stored) {
                    Ok(env) if env.o == origin && env.s == first => env,
                    _ => {
                        tracing::warn!("event relay: ignoring an unreadable stored event");
                        return Relayed::Skip;
                    }
                }
            }
        };
        if env.b.is_empty() {
            tracing::warn!("event relay: ignoring a notification without events");
            return Relayed::Skip;
        }
        if self.last.len() >= MAX_ORIGINS && !self.last.contains_key(&origin) {
            self.last.clear();
        }
        let last = first + env.b.len() as u64 - 1;
        if let Some(prev) = self.last.insert(origin, last) {
            if first != prev + 1 {
                return Relayed::Gap;
            }
        }
        let events = env
            .b
            .into_iter()
            .filter_map(
                |(user, wire, n)| match Event::from_wire(user, wire.get().to_string()) {
                    Ok(event) => Some((Arc::new(event), n)),
                    Err(e) => {
                        // An event this version does not know (a newer instance, mid-upgrade).
                        tracing::warn!(error = %e, "event relay: ignoring an unknown event");
                        None
                    }
                },
            )
            .collect();
        Relayed::Events(origin, events)
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

    /// The payloads `origin` sends for events numbered from `first`.
    fn packed(origin: Uuid, first: u64, events: &[Event]) -> Vec<Notice> {
        let mut packer = Packer::new(origin, NOTIFY);
        for (i, e) in events.iter().enumerate() {
            packer.push(first + i as u64, e, 1000 + i as u64);
        }
        packer.finish()
    }

    fn inline(notice: &Notice) -> &[u8] {
        match notice {
            Notice::Inline { payload, .. } => payload.as_bytes(),
            other => panic!("expected an inline notice, got {other:?}"),
        }
    }

    #[test]
    fn consecutive_events_share_a_notification_and_keep_their_bytes() {
        let origin = Uuid::new_v4();
        let events = [
            delta("u\"ser\\é", "a \"quoted\" delta\n"),
            delta("v", "two"),
            delta("v", "three"),
        ];
        let notices = packed(origin, 7, &events);
        assert_eq!(notices.len(), 1);
        let env: Envelope = serde_json::from_slice(inline(&notices[0])).unwrap();
        assert_eq!((env.o, env.s, env.r), (origin, 7, None));
        assert_eq!(env.b.len(), 3);
        for (i, ((user, wire, n), sent)) in env.b.iter().zip(&events).enumerate() {
            assert_eq!(user, &sent.user);
            assert_eq!(*n, 1000 + i as u64);
            assert_eq!(wire.get(), sent.to_json());
            let back = Event::from_wire(user.clone(), wire.get().to_string()).unwrap();
            assert_eq!(&back, sent);
        }
    }

    #[test]
    fn payloads_stay_under_the_limit_runs_stay_whole_and_large_events_are_stored() {
        let origin = Uuid::new_v4();
        let mut packer = Packer::new(origin, NOTIFY);
        // 100 deltas of about 200 bytes each: several payloads, each a run.
        let small = delta("u", &"w".repeat(60));
        for seq in 1..=100 {
            packer.push(seq, &small, seq);
        }
        // A dropped event (101) breaks the run; then one event too large for any payload.
        packer.push(102, &small, 102);
        let large = delta("u", &"x".repeat(9_000));
        packer.push(103, &large, 103);
        packer.push(104, &small, 104);
        let notices = packer.finish();

        let mut next = 1;
        let mut events = 0;
        for notice in &notices {
            match notice {
                Notice::Inline { payload, events: n } => {
                    assert!(payload.len() < NOTIFY_MAX, "{}", payload.len());
                    let env: Envelope = serde_json::from_str(payload).unwrap();
                    assert_eq!(env.b.len() as u64, *n);
                    if next == 101 {
                        next = 102;
                    }
                    assert_eq!(env.s, next);
                    next += n;
                    events += n;
                }
                Notice::Stored {
                    head,
                    payload,
                    events: n,
                } => {
                    assert_eq!(*n, 1);
                    assert_eq!(head, &format!(r#"{{"o":"{origin}","s":103,"r":"#));
                    let env: Envelope = serde_json::from_str(payload).unwrap();
                    assert_eq!(env.s, 103);
                    assert_eq!(env.b[0].1.get(), large.to_json());
                    next = 104;
                    events += n;
                }
            }
        }
        assert_eq!(events, 103);
        assert_eq!(next, 105);
        assert!(notices.len() >= 5, "{} notices", notices.len());
    }

    #[test]
    fn with_a_larger_limit_runs_pack_to_the_batch_and_only_events_past_the_maximum_are_stored() {
        let origin = Uuid::new_v4();
        let limits = Limits {
            batch: 2_000,
            max: 20_000,
        };
        let mut packer = Packer::new(origin, limits);
        let small = delta("u", &"w".repeat(60));
        for seq in 1..=30 {
            packer.push(seq, &small, seq);
        }
        let between = delta("u", &"x".repeat(9_000));
        packer.push(31, &between, 31);
        let past = delta("u", &"y".repeat(30_000));
        packer.push(32, &past, 32);
        let notices = packer.finish();
        let sizes: Vec<(usize, u64, bool)> = notices
            .iter()
            .map(|n| match n {
                Notice::Inline { payload, events } => (payload.len(), *events, false),
                Notice::Stored {
                    payload, events, ..
                } => (payload.len(), *events, true),
            })
            .collect();
        let (last, runs) = sizes.split_last().unwrap();
        let (single, runs) = runs.split_last().unwrap();
        assert!(runs.len() >= 3, "{sizes:?}");
        assert!(runs.iter().all(|(len, _, stored)| *len <= 2_000 && !stored));
        assert_eq!(runs.iter().map(|r| r.1).sum::<u64>(), 30);
        // Past the batch size but under the maximum: alone, and inline.
        assert!(single.0 > 9_000 && single.1 == 1 && !single.2, "{single:?}");
        assert!(last.0 > 30_000 && last.1 == 1 && last.2, "{last:?}");
    }

    /// A handle that never connects: the paths tested here do not reach the database.
    fn no_db() -> RelayDb {
        let pool = sqlx::postgres::PgPoolOptions::new()
            .connect_lazy("postgres://nobody@127.0.0.1:1/none")
            .unwrap();
        RelayDb::new(pool)
    }

    #[tokio::test]
    async fn runs_are_taken_in_order_per_instance_and_a_jump_is_a_gap() {
        let db = no_db();
        let (me, other, third) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
        let mut order = Order::new(me);
        let ev = delta("u", "x");
        let mut take = async |o, s, n: usize| {
            let notices = packed(o, s, &vec![ev.clone(); n]);
            order.accept(&db, inline(&notices[0])).await
        };
        // Our own events are not delivered twice.
        assert!(matches!(take(me, 1, 1).await, Relayed::Skip));
        // The first run heard from an instance starts its count, whatever its number.
        assert!(
            matches!(take(other, 41, 3).await, Relayed::Events(o, e) if o == other && e.len() == 3 && *e[0].0 == ev && e[0].1 == 1000)
        );
        assert!(matches!(take(other, 44, 1).await, Relayed::Events(..)));
        assert!(matches!(take(third, 1, 2).await, Relayed::Events(..)));
        // 45 was lost.
        assert!(matches!(take(other, 46, 1).await, Relayed::Gap));
        assert!(matches!(take(third, 3, 1).await, Relayed::Events(..)));
        // A repeat is out of order too.
        assert!(matches!(take(third, 3, 1).await, Relayed::Gap));
    }

    #[tokio::test]
    async fn unreadable_notifications_and_unknown_events_are_skipped() {
        let db = no_db();
        let (me, other) = (Uuid::new_v4(), Uuid::new_v4());
        let mut order = Order::new(me);
        for payload in [
            "not json".to_string(),
            format!(r#"{{"o":"{other}","s":1}}"#),
            format!(r#"{{"o":"{other}","s":1,"b":[["u",{{"type":"from.the.future"}},1]]}}"#),
        ] {
            match order.accept(&db, payload.as_bytes()).await {
                Relayed::Skip => {}
                Relayed::Events(_, e) => assert!(e.is_empty(), "{payload}"),
                Relayed::Gap => panic!("{payload} is not a gap"),
            }
        }
        // The unknown event still counted: the next in order is delivered.
        let notices = packed(other, 2, &[delta("u", "y")]);
        assert!(matches!(
            order.accept(&db, inline(&notices[0])).await,
            Relayed::Events(_, e) if e.len() == 1
        ));
    }
}
