//! `UserStream`: one user's recent events on this instance, the sockets reading them, and what
//! this instance knows of the user's stream (see [`super::position`]).
//!
//! Events are kept in order of arrival, so every reader sees one order, and each event keeps the
//! origin and number it was published with. Adjacent deltas of one message from one origin are
//! kept as one run: a socket that keeps up reads them one at a time as they arrive, a socket that
//! fell behind reads the rest of the run as one merged delta, and the log holds a long answer as
//! its text plus a few bytes per delta. Readers hold a [`Cursor`], not a queue: a slow reader
//! costs nothing until it is so far behind that its place has been dropped from the log.
//! Reading the log back, for a resume or a running turn, is in `replay`; what a reader
//! receives, in [`super::Delivery`].

use std::collections::VecDeque;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use super::delivery::Delivery;
use super::position::{write_pos, Position};
use super::subscription::Signal;
use crate::chat::event::{ChatEvent, Event};
use crate::model::{MessageId, ThreadId};

mod replay;
pub(super) use replay::{Judge, Verdict};

/// Bytes counted for an entry besides its text, roughly what its allocations cost.
const ENTRY_OVERHEAD: usize = 160;
/// Bytes counted per delta of a run besides its text.
const DELTA_OVERHEAD: usize = 16;

/// A socket reading the stream.
pub(super) struct Reader {
    pub id: u64,
    pub signal: Arc<Signal>,
    pub lagged: Arc<AtomicBool>,
}

/// Where a reader stands: the entry it reads next, and how many deltas of it (a run) it has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Cursor {
    entry: u64,
    delta: u32,
}

struct Entry {
    origin: u64,
    /// When it arrived here (unix ms).
    t_ms: u64,
    /// Every other origin's last number when it arrived.
    others: Arc<[(u64, u64)]>,
    bytes: usize,
    body: Body,
}

enum Body {
    Event { event: Arc<Event>, n: u64 },
    Deltas(Run),
}

struct Run {
    thread_id: ThreadId,
    message_id: MessageId,
    request_id: Option<String>,
    first_seq: u32,
    text: String,
    /// End of each delta in `text`, and its origin number.
    deltas: Vec<(u32, u64)>,
}

impl Entry {
    fn len(&self) -> u32 {
        match &self.body {
            Body::Event { .. } => 1,
            Body::Deltas(run) => run.deltas.len() as u32,
        }
    }

    fn number(&self, i: u32) -> u64 {
        match &self.body {
            Body::Event { n, .. } => *n,
            Body::Deltas(run) => run.deltas[i as usize].1,
        }
    }

    /// Events `from..to` of this entry (deltas, in a run) as one delivery, made by `via`.
    fn deliver(&self, from: u32, to: u32, via: u64) -> Delivery {
        let last = to - 1;
        let mut pos = Vec::with_capacity(48);
        write_pos(
            &mut pos,
            self.t_ms,
            via,
            &self.others,
            self.origin,
            self.number(last),
        );
        let pos = String::from_utf8(pos).expect("a position is ASCII");
        match &self.body {
            Body::Event { event, .. } => Delivery::Event {
                event: event.clone(),
                pos,
            },
            Body::Deltas(run) => {
                let start = if from == 0 {
                    0
                } else {
                    run.deltas[from as usize - 1].0
                };
                Delivery::Deltas {
                    thread_id: run.thread_id,
                    message_id: run.message_id,
                    request_id: run.request_id.clone(),
                    seq: run.first_seq + from,
                    text: run.text[start as usize..run.deltas[last as usize].0 as usize]
                        .to_string(),
                    ends: run.deltas[from as usize..to as usize]
                        .iter()
                        .map(|(end, _)| end - start)
                        .collect(),
                    pos,
                }
            }
        }
    }
}

/// What this instance knows of one origin's events for the user.
#[derive(Debug, Clone)]
struct OriginState {
    id: u64,
    /// Number of the last event of it here.
    last: u64,
    /// Every event of it numbered from here on is in the log.
    complete_from: u64,
    /// Every event of it that arrived since this time (unix ms) is in the log.
    since_ms: u64,
}

/// One user's stream on this instance.
pub(super) struct UserStream {
    pub readers: Vec<Reader>,
    log: VecDeque<Entry>,
    /// Index of `log[0]` since the stream began.
    base: u64,
    /// Events in the log, each delta of a run counted.
    events: usize,
    bytes: usize,
    origins: Vec<OriginState>,
    created_ms: u64,
    /// When the last event arrived (unix ms).
    pub last_ms: u64,
}

impl UserStream {
    /// A stream that knows every event `own` numbers after `own_last`.
    pub fn new(now_ms: u64, own: u64, own_last: u64) -> Self {
        UserStream {
            readers: Vec::new(),
            log: VecDeque::new(),
            base: 0,
            events: 0,
            bytes: 0,
            origins: vec![OriginState {
                id: own,
                last: own_last,
                complete_from: own_last + 1,
                since_ms: now_ms,
            }],
            created_ms: now_ms,
            last_ms: now_ms,
        }
    }

    pub fn is_idle(&self) -> bool {
        self.readers.is_empty() && self.log.is_empty()
    }

    /// Where a reader that wants only what comes next starts.
    pub fn end(&self) -> Cursor {
        match self.log.back() {
            // The last run may still grow: stand inside it.
            Some(
                e @ Entry {
                    body: Body::Deltas(_),
                    ..
                },
            ) => Cursor {
                entry: self.base + self.log.len() as u64 - 1,
                delta: e.len(),
            },
            _ => Cursor {
                entry: self.base + self.log.len() as u64,
                delta: 0,
            },
        }
    }

    /// The position of a reader at the end, made by `via` at `now_ms`.
    pub fn position(&self, via: u64, now_ms: u64) -> Position {
        Position {
            t_ms: now_ms,
            via,
            seen: self
                .origins
                .iter()
                .filter(|o| o.last > 0)
                .map(|o| (o.id, o.last))
                .collect(),
        }
    }

    /// Appends an event of `origin` numbered `n`, arrived at `now_ms`. Returns the bytes added.
    /// `listening_since_ms` dates what this instance knows of an origin first heard now.
    pub fn append(
        &mut self,
        event: &Arc<Event>,
        origin: u64,
        n: u64,
        now_ms: u64,
        listening_since_ms: u64,
    ) -> usize {
        let at = match self.origins.iter().position(|o| o.id == origin) {
            Some(i) => i,
            None => {
                self.origins.push(OriginState {
                    id: origin,
                    last: 0,
                    complete_from: n,
                    since_ms: listening_since_ms.max(self.created_ms),
                });
                self.origins.len() - 1
            }
        };
        self.origins[at].last = n;
        self.last_ms = now_ms;
        self.events += 1;
        let before = self.bytes;
        if let ChatEvent::StreamDelta {
            thread_id,
            message_id,
            delta,
            seq,
        } = &event.body
        {
            if let Some(Entry {
                origin: o,
                body: Body::Deltas(run),
                bytes,
                ..
            }) = self.log.back_mut()
            {
                if *o == origin
                    && run.message_id == *message_id
                    && run.first_seq + run.deltas.len() as u32 == *seq
                    && run.request_id == event.request_id
                {
                    run.text.push_str(delta);
                    run.deltas.push((run.text.len() as u32, n));
                    let added = delta.len() + DELTA_OVERHEAD;
                    *bytes += added;
                    self.bytes += added;
                    return added;
                }
            }
            let others = self.others(origin);
            let bytes = ENTRY_OVERHEAD + delta.len() + DELTA_OVERHEAD;
            self.log.push_back(Entry {
                origin,
                t_ms: now_ms,
                others,
                bytes,
                body: Body::Deltas(Run {
                    thread_id: *thread_id,
                    message_id: *message_id,
                    request_id: event.request_id.clone(),
                    first_seq: *seq,
                    text: delta.clone(),
                    deltas: vec![(delta.len() as u32, n)],
                }),
            });
            self.bytes += bytes;
        } else {
            let others = self.others(origin);
            let bytes = ENTRY_OVERHEAD + event.to_json().len();
            self.log.push_back(Entry {
                origin,
                t_ms: now_ms,
                others,
                bytes,
                body: Body::Event {
                    event: event.clone(),
                    n,
                },
            });
            self.bytes += bytes;
        }
        self.bytes - before
    }

    fn others(&self, origin: u64) -> Arc<[(u64, u64)]> {
        self.origins
            .iter()
            .filter(|o| o.id != origin && o.last > 0)
            .map(|o| (o.id, o.last))
            .collect()
    }

    /// Drops the oldest entries while there are more than `max_events` events, more than
    /// `max_bytes`, or entries that arrived before `before_ms`. Returns the bytes freed.
    pub fn evict(&mut self, max_events: usize, max_bytes: usize, before_ms: u64) -> usize {
        let mut freed = 0;
        while let Some(front) = self.log.front() {
            let over = self.events > max_events || self.bytes > max_bytes;
            if !over && front.t_ms >= before_ms {
                break;
            }
            let e = self.log.pop_front().expect("front exists");
            self.base += 1;
            self.events -= e.len() as usize;
            self.bytes -= e.bytes;
            freed += e.bytes;
            if let Some(o) = self.origins.iter_mut().find(|o| o.id == e.origin) {
                o.complete_from = o.complete_from.max(e.number(e.len() - 1) + 1);
                o.since_ms = o.since_ms.max(e.t_ms + 1);
            }
        }
        freed
    }

    /// Forgets what was known of other origins: events of theirs may have been lost on the way.
    pub fn forget_others(&mut self, own: u64, now_ms: u64) {
        for o in self.origins.iter_mut().filter(|o| o.id != own) {
            o.complete_from = u64::MAX;
            // Strictly after: a position made in this very millisecond may predate the loss.
            o.since_ms = now_ms + 1;
        }
    }

    /// Deliveries after `cursor`, at most `max` of them, and the cursor after them; `None` when
    /// the cursor's place has been dropped from the log or it is more than `max_behind` entries
    /// behind.
    pub fn read(
        &self,
        cursor: Cursor,
        max: usize,
        max_behind: usize,
        via: u64,
    ) -> Option<(Vec<Delivery>, Cursor)> {
        if cursor.entry < self.base {
            return None;
        }
        let end = self.base + self.log.len() as u64;
        if end.saturating_sub(cursor.entry) > max_behind as u64 {
            return None;
        }
        let mut out = Vec::new();
        let mut at = cursor;
        while out.len() < max && at.entry < end {
            let e = &self.log[(at.entry - self.base) as usize];
            if at.delta < e.len() {
                out.push(e.deliver(at.delta, e.len(), via));
            }
            let is_last = at.entry + 1 == end;
            if is_last && matches!(e.body, Body::Deltas(_)) {
                // It may grow: stay inside it.
                at.delta = e.len();
                break;
            }
            at = Cursor {
                entry: at.entry + 1,
                delta: 0,
            };
        }
        Some((out, at))
    }
}
