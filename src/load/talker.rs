//! One `chat` socket: sends on schedule, reads every frame, times its own turns, in either
//! protocol ([`Protocol`]).

use std::sync::Arc;
use std::time::Duration;

use futures::{SinkExt, StreamExt};
use tokio::time::{sleep_until, Instant};
use tokio_tungstenite::tungstenite::Message;
use tokio_util::sync::CancellationToken;

use super::client::Socket;
use super::dialect::{Heard, Protocol, TurnKey};
use super::report::Counters;
use super::watch::{Watched, WatchedTurn};
use super::ws::{close, ChatPlan};

/// The turn a socket has in flight.
struct InFlight {
    key: TurnKey,
    sent_at: Instant,
    added: bool,
    first_delta: bool,
}

pub(super) struct Talker {
    id: usize,
    ws: Socket,
    c: Arc<Counters>,
    plan: Arc<ChatPlan>,
    /// Our thread, once the first turn named it.
    thread_id: Option<String>,
    /// The AI SDK chat: one per socket and run, so its history grows with the run as ours does.
    chat_id: String,
    sent: u64,
    rng: u64,
    /// The twin's list of turns to time, when the socket has one.
    pub(super) watched: Option<Watched>,
}

impl Talker {
    pub(super) fn new(id: usize, ws: Socket, c: Arc<Counters>, plan: Arc<ChatPlan>) -> Self {
        let seed = (id as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ std::process::id() as u64;
        Talker {
            id,
            ws,
            c,
            chat_id: format!("load-{}-{}", plan.run, id),
            plan,
            thread_id: None,
            sent: 0,
            rng: seed | 1,
            watched: None,
        }
    }

    fn protocol(&self) -> Protocol {
        self.plan.protocol
    }

    /// Uniform in [0, 1) (xorshift; quality is irrelevant, independence per socket is not).
    fn uniform(&mut self) -> f64 {
        self.rng ^= self.rng << 13;
        self.rng ^= self.rng >> 7;
        self.rng ^= self.rng << 17;
        (self.rng >> 11) as f64 / (1u64 << 53) as f64
    }

    fn gap(&mut self) -> Duration {
        let mean = self.plan.interval.as_secs_f64();
        if self.plan.poisson {
            Duration::from_secs_f64(-mean * (1.0 - self.uniform()).ln())
        } else {
            self.plan.interval
        }
    }

    pub(super) async fn run(mut self, begin: Instant, stop: CancellationToken) {
        let deadline = begin + self.plan.shape.duration;
        // Spread the sockets' first turns over one interval.
        let mut next_send =
            begin + Duration::from_secs_f64(self.uniform() * self.plan.interval.as_secs_f64());
        let mut in_flight: Option<InFlight> = None;
        loop {
            if in_flight.is_none() && next_send >= deadline {
                break;
            }
            let may_send = in_flight.is_none();
            tokio::select! {
                _ = stop.cancelled() => break,
                _ = sleep_until(next_send), if may_send => {
                    match self.send().await {
                        Some(turn) => in_flight = Some(turn),
                        None => return self.c.error("socket_closed"),
                    }
                    // A turn slower than the interval delays the next one, never overlaps it.
                    next_send = (next_send + self.gap()).max(Instant::now());
                },
                frame = self.ws.next() => match frame {
                    Some(Ok(Message::Text(text))) => {
                        if self.on_text(text.as_str(), in_flight.as_mut()) {
                            in_flight = None;
                        }
                    }
                    Some(Ok(Message::Close(close))) => {
                        let code = close.map(|c| u16::from(c.code)).unwrap_or(1005);
                        if in_flight.take().is_some() {
                            self.c.turn_failed(&format!("close_{code}"));
                        } else {
                            self.c.error(&format!("close_{code}"));
                        }
                        return;
                    }
                    None | Some(Err(_)) => {
                        if in_flight.take().is_some() {
                            self.c.turn_failed("socket_closed");
                        } else {
                            self.c.error("socket_closed");
                        }
                        return;
                    }
                    Some(Ok(_)) => {}
                },
            }
        }
        if in_flight.is_some() {
            self.c.turn_failed("timeout");
        }
        close(self.ws).await;
    }

    async fn send(&mut self) -> Option<InFlight> {
        self.sent += 1;
        let request_id = format!("s{}-t{}", self.id, self.sent);
        let frame = self.protocol().ask(
            &request_id,
            &self.plan.message,
            self.thread_id.as_deref(),
            &self.chat_id,
        );
        let sent_at = Instant::now();
        self.ws.send(Message::Text(frame.into())).await.ok()?;
        Counters::add(&self.c.turns_sent);
        let key = self.protocol().key(request_id);
        if let Some(w) = &self.watched {
            let mut w = w.lock().expect("not poisoned");
            w.push(WatchedTurn {
                request_id: key.request_id.clone(),
                marker: key.marker.clone(),
                sent_at,
                first_delta: false,
            });
        }
        Some(InFlight {
            key,
            sent_at,
            added: false,
            first_delta: false,
        })
    }

    /// Handles one frame (`turn`: the turn in flight, if any); true when the turn ended.
    fn on_text(&mut self, text: &str, turn: Option<&mut InFlight>) -> bool {
        let heard = self.protocol().read(text, turn.as_ref().map(|t| &t.key));
        let Some(turn) = turn else {
            // Between turns every delta is another turn's (`read` says so without a turn).
            if let Heard::OtherDelta(n) = heard {
                Counters::add_n(&self.c.deltas, n);
            }
            return false;
        };
        match heard {
            Heard::Delta { count, .. } => {
                Counters::add_n(&self.c.deltas, count);
                if !turn.first_delta {
                    turn.first_delta = true;
                    self.c.record("first_delta", turn.sent_at.elapsed());
                }
                false
            }
            Heard::OtherDelta(n) => {
                Counters::add_n(&self.c.deltas, n);
                false
            }
            Heard::Added { thread_id } => {
                if !turn.added {
                    turn.added = true;
                    self.c.record("message_added", turn.sent_at.elapsed());
                }
                if thread_id.is_some() {
                    self.thread_id = thread_id;
                }
                false
            }
            Heard::Done => {
                self.c.record("done", turn.sent_at.elapsed());
                Counters::add(&self.c.turns_completed);
                true
            }
            Heard::Failed(code) => {
                self.c.turn_failed(&code);
                true
            }
            Heard::Other => false,
        }
    }
}
