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
use serde_json::json;
use tokio::task::JoinSet;
use tokio::time::{sleep_until, Instant};
use tokio_tungstenite::tungstenite::Message;
use tokio_util::sync::CancellationToken;

use super::client::{Frame, Socket, Target};
use super::report::Counters;
use super::ws::{all_attempted, close, deltas_in, ramp_at, DELTA_PREFIX, GRACE};

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
}

/// Opens the sockets; once all are open, each streams answers back to back for `duration`.
/// Returns the asking window.
pub async fn paced(target: Arc<Target>, c: Arc<Counters>, plan: PacedPlan) -> Duration {
    let (go_tx, go_rx) = tokio::sync::watch::channel(None::<Instant>);
    let stop = CancellationToken::new();
    let plan = Arc::new(plan);
    let mut tasks = JoinSet::new();
    let start = Instant::now();
    for i in 0..plan.connections {
        sleep_until(ramp_at(start, i, plan.ramp)).await;
        let (target, c, stop, plan) = (target.clone(), c.clone(), stop.clone(), plan.clone());
        let mut go = go_rx.clone();
        tasks.spawn(async move {
            let ws = match target.connect(i).await {
                Ok((ws, latency)) => {
                    c.record("connect", latency);
                    Counters::add(&c.connects_ok);
                    ws
                }
                Err(code) => return c.connect_failed(&code),
            };
            let Ok(begin) = go.wait_for(Option::is_some).await.map(|b| b.expect("set")) else {
                return;
            };
            Reader::new(i, ws, c, plan).run(begin, stop).await;
        });
    }
    all_attempted(&c, plan.connections).await;
    let begin = Instant::now();
    let _ = go_tx.send(Some(begin));
    sleep_until(begin + plan.duration).await;
    let window = begin.elapsed();
    let all_done = async { while tasks.join_next().await.is_some() {} };
    tokio::pin!(all_done);
    if tokio::time::timeout(GRACE, &mut all_done).await.is_err() {
        stop.cancel();
        all_done.await;
    }
    window
}

/// The answer a socket is reading.
struct Answer {
    request_id: String,
    marker: String,
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
        let mut frame =
            json!({"type": "message", "content": self.plan.message, "request_id": request_id});
        if let Some(t) = &self.thread_id {
            frame["thread_id"] = json!(t);
        }
        let sent_at = Instant::now();
        self.ws
            .send(Message::Text(frame.to_string().into()))
            .await
            .ok()?;
        Counters::add(&self.c.turns_sent);
        Some(Answer {
            marker: format!(",\"request_id\":\"{request_id}\""),
            request_id,
            sent_at,
            first: None,
            next: 0,
        })
    }

    /// Handles one frame of `answer`; true when the answer ended.
    fn on_text(&mut self, text: &str, answer: &mut Answer) -> bool {
        if text.starts_with(DELTA_PREFIX) {
            if text.contains(&answer.marker) {
                self.delta(text, answer);
            }
            return false;
        }
        let frame = Frame::parse(text);
        if frame.request_id.as_deref() != Some(answer.request_id.as_str()) {
            return false;
        }
        match frame.kind.as_str() {
            "message.added" => {
                if frame.thread_id.is_some() {
                    self.thread_id = frame.thread_id;
                }
                false
            }
            "message.done" => {
                self.c.record("done", answer.sent_at.elapsed());
                Counters::add(&self.c.turns_completed);
                true
            }
            "error" => {
                self.c
                    .turn_failed(frame.code.as_deref().unwrap_or("error_without_code"));
                true
            }
            _ => false,
        }
    }

    /// Times the deltas a frame covers against the answer's schedule.
    fn delta(&mut self, text: &str, answer: &mut Answer) {
        let now = Instant::now();
        let count = deltas_in(text);
        let Some(seq) = seq_of(text) else {
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

/// The `seq` of a `stream.delta` frame, read without a JSON parse: the delta's text comes
/// before it, so the last `"seq":` of the frame is it.
fn seq_of(frame: &str) -> Option<u64> {
    const KEY: &str = ",\"seq\":";
    let at = frame.rfind(KEY)?;
    let digits: String = frame[at + KEY.len()..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::seq_of;

    #[test]
    fn the_seq_is_read_after_the_delta_text() {
        let frame = r#"{"type":"stream.delta","delta":"a,\"seq\":9","seq":31,"count":2}"#;
        assert_eq!(seq_of(frame), Some(31));
        assert_eq!(seq_of(r#"{"type":"stream.delta","delta":"x"}"#), None);
    }
}
