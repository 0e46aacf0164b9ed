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
mod tests;
