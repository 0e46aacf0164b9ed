//! The `paced` scenario: answers streaming at a model's pace, as a user sees them.
//!
//! Real answers arrive at 30–150 tokens a second for many seconds, so most deltas are written
//! alone and the cost per frame, not per turn, sets how many answers a server streams at once.
//! Each socket asks, reads its answer to the end and asks again at once, in the same thread, so
//! `connections` answers stream all the time. Every delta is timed against the schedule of the
//! agent that sends it (the bench agent sends delta `k` of an answer `k × pace` after its
//! first): its **lateness** is how long after that due time it arrived. A delta that never
//! arrives (a hole in `seq`) is counted as `delta_missing`.

use std::sync::Arc;
use std::time::Duration;

use futures::{SinkExt, StreamExt};
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;
use tokio_util::sync::CancellationToken;

use super::client::{Socket, Target};
use super::dialect::{Heard, Protocol, TurnKey};
use super::report::Counters;
use super::ws::{close, fleet, Shape};

/// How `paced` runs.
#[derive(Clone)]
pub struct PacedPlan {
    /// Answers streaming at once, one socket each.
    pub connections: usize,
    pub ramp: u32,
    /// The agent's spacing of deltas: delta `k` is due `k × pace` after the answer's first.
    pub pace: Duration,
    /// How long answers are asked for, once every socket is connected.
    pub duration: Duration,
    pub message: String,
    /// The server's pid, to read its CPU while answers stream.
    pub server_pid: Option<u32>,
}

/// Opens the sockets; once all are open, each streams answers back to back for `duration`.
/// Returns the asking window, and the server's CPU seconds meanwhile when its pid is known.
pub async fn paced(
    target: Arc<Target>,
    c: Arc<Counters>,
    plan: PacedPlan,
) -> (Duration, Option<f64>) {
    let plan = Arc::new(plan);
    let shape = Shape {
        connections: plan.connections,
        ramp: plan.ramp,
        duration: plan.duration,
        server_pid: plan.server_pid,
    };
    let counters = c.clone();
    fleet(target, c, shape, move |i, ws, go, stop| {
        let (c, plan) = (counters.clone(), plan.clone());
        async move {
            if let Some(begin) = go.wait().await {
                Reader::new(i, ws, c, plan).run(begin, stop).await;
            }
        }
    })
    .await
}

/// The answer a socket is reading.
struct Answer {
    key: TurnKey,
    sent_at: Instant,
    /// When its first delta arrived: the schedule's origin.
    first: Option<Instant>,
    /// The `seq` expected next.
    next: u64,
}

/// One socket: asks, reads the answer, times each delta, asks again.
struct Reader {
    id: usize,
    ws: Socket,
    c: Arc<Counters>,
    plan: Arc<PacedPlan>,
    thread_id: Option<String>,
    sent: u64,
}

impl Reader {
    fn new(id: usize, ws: Socket, c: Arc<Counters>, plan: Arc<PacedPlan>) -> Self {
        Reader {
            id,
            ws,
            c,
            plan,
            thread_id: None,
            sent: 0,
        }
    }

    async fn run(mut self, begin: Instant, stop: CancellationToken) {
        let deadline = begin + self.plan.duration;
        let mut answer = match self.ask().await {
            Some(a) => a,
            None => return self.c.error("socket_closed"),
        };
        loop {
            let frame = tokio::select! {
                _ = stop.cancelled() => {
                    self.c.turn_failed("timeout");
                    break;
                }
                frame = self.ws.next() => frame,
            };
            let text = match frame {
                Some(Ok(Message::Text(text))) => text,
                Some(Ok(Message::Close(close))) => {
                    let code = close.map(|c| u16::from(c.code)).unwrap_or(1005);
                    return self.c.turn_failed(&format!("close_{code}"));
                }
                None | Some(Err(_)) => return self.c.turn_failed("socket_closed"),
                Some(Ok(_)) => continue,
            };
            if !self.on_text(text.as_str(), &mut answer) {
                continue;
            }
            // The answer ended: the next at once, while the window lasts.
            if Instant::now() >= deadline {
                break;
            }
            answer = match self.ask().await {
                Some(a) => a,
                None => return self.c.error("socket_closed"),
            };
        }
        close(self.ws).await;
    }

    async fn ask(&mut self) -> Option<Answer> {
        self.sent += 1;
        let request_id = format!("p{}-t{}", self.id, self.sent);
        let frame = Protocol::Agentwire.ask(
            &request_id,
            &self.plan.message,
            self.thread_id.as_deref(),
            "",
        );
        let sent_at = Instant::now();
        self.ws.send(Message::Text(frame.into())).await.ok()?;
        Counters::add(&self.c.turns_sent);
        Some(Answer {
            key: Protocol::Agentwire.key(request_id),
            sent_at,
            first: None,
            next: 0,
        })
    }

    /// Handles one frame of `answer`; true when the answer ended.
    fn on_text(&mut self, text: &str, answer: &mut Answer) -> bool {
        match Protocol::Agentwire.read(text, Some(&answer.key)) {
            Heard::Delta { count, seq } => {
                self.delta(count, seq, answer);
                false
            }
            Heard::Added { thread_id } => {
                if thread_id.is_some() {
                    self.thread_id = thread_id;
                }
                false
            }
            Heard::Done => {
                self.c.record("done", answer.sent_at.elapsed());
                Counters::add(&self.c.turns_completed);
                true
            }
            Heard::Failed(code) => {
                self.c.turn_failed(&code);
                true
            }
            Heard::OtherDelta(_) | Heard::Other => false,
        }
    }

    /// Times the deltas a frame covers against the answer's schedule.
    fn delta(&mut self, count: u64, seq: Option<u64>, answer: &mut Answer) {
        let now = Instant::now();
        let Some(seq) = seq else {
            return self.c.error("delta_without_seq");
        };
        Counters::add_n(&self.c.deltas, count);
        if seq + count <= answer.next {
            return;
        }
        for _ in answer.next..seq {
            self.c.error("delta_missing");
        }
        let first = *answer.first.get_or_insert_with(|| {
            self.c.record("first_delta", answer.sent_at.elapsed());
            now
        });
        for k in seq.max(answer.next)..seq + count {
            let due = first + self.plan.pace * k as u32;
            self.c
                .record("delta_lateness", now.saturating_duration_since(due));
        }
        answer.next = seq + count;
    }
}
