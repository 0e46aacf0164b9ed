//! Reading a user's log back rather than live: whether this instance holds everything after a
//! client's position (see [`crate::hub::position`]), the events after it, and the running
//! turn of a thread from its start.

use super::{Body, Cursor, Entry, UserStream};
use crate::chat::event::ChatEvent;
use crate::hub::{Delivery, Position};
use crate::model::ThreadId;

/// Whether an instance holds every event after a position.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(in crate::hub) enum Verdict {
    Yes,
    No,
    /// Not yet: the position counts events of another instance that have not arrived here.
    Behind,
}

/// How a [`UserStream`] judges a position.
pub(in crate::hub) struct Judge<'a> {
    pub own: u64,
    pub now_ms: u64,
    pub window_ms: u64,
    /// Longest an event may take to reach another instance.
    pub margin_ms: u64,
    /// Since when this instance has heard every other instance without a gap (unix ms).
    pub listening_since_ms: u64,
    /// Whether events of an instance have reached this one.
    pub heard: &'a dyn Fn(u64) -> bool,
}

impl UserStream {
    /// Whether this instance has every event of the user after `p` (see the module docs of
    /// [`super::position`]).
    pub fn recovers(&self, p: &Position, judge: &Judge<'_>) -> Verdict {
        if p.t_ms.saturating_add(judge.window_ms) < judge.now_ms
            || p.t_ms > judge.now_ms + judge.margin_ms
        {
            return Verdict::No;
        }
        // Events reach other instances a little later than their own sockets.
        let margin = if p.via == judge.own {
            0
        } else {
            judge.margin_ms
        };
        let known = |id: u64| self.origins.iter().any(|o| o.id == id);
        let mut behind = false;
        for o in &self.origins {
            let seen = p.seen(o.id);
            // The client has events of another instance that have not reached this one yet.
            behind |= seen > o.last;
            if seen.saturating_add(1) < o.complete_from && p.t_ms < o.since_ms + margin {
                return Verdict::No;
            }
        }
        // An origin the client heard of, or the instance it was on, with nothing here: only
        // fine when this instance would have heard of anything it published since.
        let unknown = p
            .seen
            .iter()
            .map(|(o, _)| *o)
            .chain([p.via])
            .any(|o| o != judge.own && !known(o));
        if unknown && p.t_ms < judge.listening_since_ms.max(self.created_ms) + margin {
            // An instance that is heard from, whose first events for the user may still be on
            // their way; any other is gone (a restart) or was never heard here.
            return if p.seen.iter().any(|(o, _)| !known(*o) && (judge.heard)(*o)) {
                Verdict::Behind
            } else {
                Verdict::No
            };
        }
        if behind {
            Verdict::Behind
        } else {
            Verdict::Yes
        }
    }

    /// Every event after `p`, in order (deltas of a run merged), and the cursor at the end.
    pub fn replay(&self, p: &Position, via: u64) -> (Vec<Delivery>, Cursor) {
        (self.replay_before(p, via, None), self.end())
    }

    /// Every event after `p` that comes before `until` (all of them with `None`), in order.
    pub fn replay_before(&self, p: &Position, via: u64, until: Option<Cursor>) -> Vec<Delivery> {
        let mut out = Vec::new();
        for (at, e) in (self.base..).zip(&self.log) {
            let to = match until {
                Some(u) if at > u.entry || (at == u.entry && u.delta == 0) => break,
                Some(u) if at == u.entry => u.delta.min(e.len()),
                _ => e.len(),
            };
            let seen = p.seen(e.origin);
            if let Some(from) = (0..to).find(|&i| e.number(i) > seen) {
                out.push(e.deliver(from, to, via));
            }
        }
        out
    }

    /// The deliveries of the turn running on `thread`, from its start (the newest user message
    /// of the thread, with the `thread.created` just before it), deltas one by one; `None` when
    /// the log holds no running turn there (none runs, or its start was dropped).
    pub fn running_turn(&self, thread: ThreadId, via: u64) -> Option<(Vec<Delivery>, Cursor)> {
        // A thread's queue events are not its turn's.
        let of_thread = |e: &Entry| match &e.body {
            Body::Event { event, .. } => {
                event.body.thread_id() == Some(thread) && !event.body.is_queue()
            }
            Body::Deltas(run) => run.thread_id == thread,
        };
        let start = self.log.iter().rposition(|e| {
            matches!(&e.body, Body::Event { event, .. } if matches!(&event.body,
                ChatEvent::MessageAdded { thread_id, message } if *thread_id == thread
                    && message.role == crate::model::Role::User))
        })?;
        let mut start = start;
        if start > 0 {
            if let Body::Event { event, .. } = &self.log[start - 1].body {
                if matches!(&event.body, ChatEvent::ThreadCreated { thread: t } if t.id == thread) {
                    start -= 1;
                }
            }
        }
        let mut out = Vec::new();
        for e in self.log.iter().skip(start).filter(|e| of_thread(e)) {
            // One delta each: the turn's events as they were sent.
            out.extend((0..e.len()).map(|i| e.deliver(i, i + 1, via)));
        }
        let ended = out.iter().rev().find_map(|d| match d {
            Delivery::Event { event, .. } => Some(ends_turn(&event.body)),
            Delivery::Deltas { .. } => None,
        });
        if ended == Some(true) {
            return None;
        }
        Some((out, self.end()))
    }
}

/// Whether an event, when it is the last of its thread, ends the turn: the final message, or
/// an error (which a final message follows only when the turn had produced something).
pub fn ends_turn(body: &ChatEvent) -> bool {
    matches!(
        body,
        ChatEvent::MessageDone { .. } | ChatEvent::Error { .. }
    )
}
