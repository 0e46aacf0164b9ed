//! The `paced` scenario: answers streaming at a model's pace, as a user sees them.
//!
//! Real answers arrive at 30–150 tokens a second for many seconds, so most deltas are written
//! alone and the cost per frame, not per turn, sets how many answers a server streams at once.
//! Each socket asks, reads its answer to the end and asks again at once, in the same thread, so
//! `connections` answers stream all the time. Every delta is timed against the schedule of the
//! agent that sends it (the bench agent sends delta `k` of an answer `k × pace` after its
//! first): its **lateness** is how long after that due time it arrived. A delta that never
//! arrives (a hole in `seq`) is counted as `delta_missing`. The bench agent's words (`w<k> `)
//! say which pieces a frame carries, so a frame that carries several (merged for a socket that
//! fell behind, or grouped by a coalescing window) has each of its pieces timed.

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
    /// How many answers stream at once (one socket each), how fast the sockets open, how long
    /// answers are asked for, whose CPU is read.
    pub shape: Shape,
    /// The agent's spacing of deltas: delta `k` is due `k × pace` after the answer's first.
    pub pace: Duration,
    pub message: String,
}

/// Opens the sockets; once all are open, each streams answers back to back for `duration`.
/// Returns the asking window, and the server's CPU seconds meanwhile when its pid is known.
pub async fn paced(
    target: Arc<Target>,
    c: Arc<Counters>,
    plan: PacedPlan,
) -> (Duration, Option<f64>) {
    let shape = plan.shape;
    let plan = Arc::new(plan);
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
        let deadline = begin + self.plan.shape.duration;
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
                // The bench agent's words say which pieces a frame carries, however the server
                // grouped them (merged when behind, or a coalescing window).
                match bench_words(text) {
                    Some((first, n)) => self.delta(n, Some(first), answer),
                    None => self.delta(count, seq, answer),
                }
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

/// The pieces of the bench agent's answer a delta frame carries: the number of its first word
/// (`w<k> `) and how many words; `None` when its text is not the bench agent's.
fn bench_words(frame: &str) -> Option<(u64, u64)> {
    const KEY: &str = "\"delta\":\"";
    let at = frame.find(KEY)? + KEY.len();
    let text = &frame[at..at + frame[at..].find('"')?];
    let mut first = None;
    let mut n = 0u64;
    for word in text.split_terminator(' ') {
        let k: u64 = word.strip_prefix('w')?.parse().ok()?;
        if let Some(f) = first {
            if k != f + n {
                return None;
            }
        }
        first.get_or_insert(k);
        n += 1;
    }
    Some((first?, n))
}

#[cfg(test)]
mod tests {
    use super::bench_words;

    #[test]
    fn a_frame_says_which_words_it_carries() {
        let one = r#"{"type":"stream.delta","thread_id":"t","delta":"w7 ","seq":7}"#;
        assert_eq!(bench_words(one), Some((7, 1)));
        let three = r#"{"type":"stream.delta","delta":"w3 w4 w5 ","seq":1,"count":3}"#;
        assert_eq!(bench_words(three), Some((3, 3)));
        for other in [
            r#"{"type":"stream.delta","delta":"hello ","seq":0}"#,
            r#"{"type":"stream.delta","delta":"w1 w3 ","seq":0}"#,
            r#"{"type":"stream.delta","delta":"","seq":0}"#,
            r#"{"type":"stream.delta","seq":0}"#,
        ] {
            assert_eq!(bench_words(other), None, "{other}");
        }
    }
}
