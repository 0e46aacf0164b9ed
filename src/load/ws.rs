//! The WebSocket scenarios: `idle` (hold many sockets), `storm` (connect as fast as possible)
//! and `chat` (turns on every socket at a steady pace).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use futures::{SinkExt, StreamExt};
use serde_json::json;
use tokio::task::JoinSet;
use tokio::time::{sleep, sleep_until, Instant};
use tokio_tungstenite::tungstenite::Message;
use tokio_util::sync::CancellationToken;

use super::client::{rss_kib, Frame, Socket, Target};
use super::report::{Counters, ServerMemory};
use super::watch::{Watched, WatchedTurn, Watcher};

/// How long in-flight turns may take to finish once sending has stopped.
pub(super) const GRACE: Duration = Duration::from_secs(30);

/// Waits (polling) until `n` connect attempts have ended, ok or failed.
pub(super) async fn all_attempted(c: &Counters, n: usize) {
    while (Counters::get(&c.connects_ok) + Counters::get(&c.connects_failed)) < n as u64 {
        sleep(Duration::from_millis(20)).await;
    }
}

/// When socket `i` of a ramp at `ramp` per second may start (0 = at once).
pub(super) fn ramp_at(start: Instant, i: usize, ramp: u32) -> Instant {
    if ramp == 0 {
        start
    } else {
        start + Duration::from_secs_f64(i as f64 / ramp as f64)
    }
}

/// Closes politely (close frame, wait for the server's) so the server closes TCP first and
/// the client's ports do not pile up in TIME_WAIT.
pub(super) async fn close(mut ws: Socket) {
    let _ = tokio::time::timeout(Duration::from_secs(2), async {
        let _ = ws.close(None).await;
        while let Some(Ok(_)) = ws.next().await {}
    })
    .await;
}

/// What `idle` measured besides the counters.
pub struct IdleOutcome {
    /// From the first connect to the last attempt's end.
    pub connect_phase: Duration,
    pub server: Option<ServerMemory>,
}

/// Opens `n` sockets at `ramp` per second, reads the server's RSS once all are open (when
/// `server_pid` is given), calls `connected`, holds them for `hold`, then closes them. A socket
/// the server drops while held counts as error `dropped_while_idle`.
pub async fn idle(
    target: Arc<Target>,
    c: Arc<Counters>,
    n: usize,
    ramp: u32,
    hold: Duration,
    server_pid: Option<u32>,
    connected: impl FnOnce(),
) -> IdleOutcome {
    let before = server_pid.and_then(rss_kib);
    let stop = CancellationToken::new();
    let mut tasks = JoinSet::new();
    let start = Instant::now();
    for i in 0..n {
        sleep_until(ramp_at(start, i, ramp)).await;
        let (target, c, stop) = (target.clone(), c.clone(), stop.clone());
        tasks.spawn(async move {
            let mut ws = match target.connect(i).await {
                Ok((ws, latency)) => {
                    c.record("connect", latency);
                    Counters::add(&c.connects_ok);
                    ws
                }
                Err(code) => return c.connect_failed(&code),
            };
            loop {
                tokio::select! {
                    _ = stop.cancelled() => return close(ws).await,
                    // Reading answers the server's pings.
                    frame = ws.next() => match frame {
                        Some(Ok(Message::Close(_))) | None | Some(Err(_)) => {
                            return c.error("dropped_while_idle")
                        }
                        Some(Ok(_)) => {}
                    },
                }
            }
        });
    }
    all_attempted(&c, n).await;
    let connect_phase = start.elapsed();
    // Let the server's allocator settle before reading its memory.
    sleep(Duration::from_secs(2)).await;
    let open = Counters::get(&c.connects_ok);
    let server = match (server_pid, before) {
        (Some(pid), Some(before)) => rss_kib(pid).map(|after| ServerMemory {
            pid,
            rss_before_kib: before,
            rss_after_kib: after,
            growth_per_socket_kib: after.saturating_sub(before) as f64 / open.max(1) as f64,
        }),
        _ => None,
    };
    connected();
    sleep(hold).await;
    stop.cancel();
    while tasks.join_next().await.is_some() {}
    IdleOutcome {
        connect_phase,
        server,
    }
}

/// Connects `n` sockets with `concurrency` in flight, each closed once `ready` arrived;
/// returns how long that took.
pub async fn storm(
    target: Arc<Target>,
    c: Arc<Counters>,
    n: usize,
    concurrency: usize,
) -> Duration {
    let next = Arc::new(AtomicUsize::new(0));
    let start = Instant::now();
    let mut workers = JoinSet::new();
    for _ in 0..concurrency.max(1) {
        let (target, c, next) = (target.clone(), c.clone(), next.clone());
        workers.spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= n {
                    return;
                }
                match target.connect(i).await {
                    Ok((ws, latency)) => {
                        c.record("connect", latency);
                        Counters::add(&c.connects_ok);
                        close(ws).await;
                    }
                    Err(code) => c.connect_failed(&code),
                }
            }
        });
    }
    while workers.join_next().await.is_some() {}
    start.elapsed()
}

/// How `chat` paces each socket's turns.
#[derive(Clone)]
pub struct ChatPlan {
    pub connections: usize,
    pub ramp: u32,
    /// Mean time between one socket's turns.
    pub interval: Duration,
    /// Exponential gaps (a Poisson process) instead of a fixed interval.
    pub poisson: bool,
    /// How long turns are sent for, once every socket is connected.
    pub duration: Duration,
    pub message: String,
    /// Another instance where each socket has a twin for the same user (see [`Watcher`]).
    pub watch: Option<Arc<Target>>,
}

/// Opens `plan.connections` sockets; once all are open, each sends a `message` every
/// `interval` (starting at a random offset) for `duration`, one turn in flight at a time, on
/// one thread per socket. Returns the sending window. Every turn sent ends completed
/// (`message.done`) or failed (its `error` code, `socket_closed`, or `timeout` when it had not
/// finished `GRACE` after sending stopped).
pub async fn chat(target: Arc<Target>, c: Arc<Counters>, plan: ChatPlan) -> Duration {
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
            let Ok(watcher) = Watcher::connect(plan.watch.as_deref(), i, &c).await else {
                return;
            };
            let Ok(begin) = go.wait_for(Option::is_some).await.map(|b| b.expect("set")) else {
                return;
            };
            let mut talker = Talker::new(i, ws, c, plan);
            match watcher {
                None => talker.run(begin, stop).await,
                Some(watcher) => {
                    talker.watched = Some(watcher.watched.clone());
                    watcher.watch_while(talker.run(begin, stop)).await;
                }
            }
        });
    }
    all_attempted(&c, plan.connections).await;
    let begin = Instant::now();
    let _ = go_tx.send(Some(begin));
    sleep_until(begin + plan.duration).await;
    let window = begin.elapsed();
    // Sending has stopped; give in-flight turns their grace, then count the rest as timeouts.
    let all_done = async { while tasks.join_next().await.is_some() {} };
    tokio::pin!(all_done);
    if tokio::time::timeout(GRACE, &mut all_done).await.is_err() {
        stop.cancel();
        all_done.await;
    }
    window
}

/// The turn a socket has in flight.
struct InFlight {
    request_id: String,
    /// `,"request_id":"…"`: what a delta of this turn holds, checked without parsing it.
    marker: String,
    sent_at: Instant,
    added: bool,
    first_delta: bool,
}

/// One chat socket: sends on schedule, reads every frame, times its own turns.
struct Talker {
    id: usize,
    ws: Socket,
    c: Arc<Counters>,
    plan: Arc<ChatPlan>,
    thread_id: Option<String>,
    sent: u64,
    rng: u64,
    /// The twin's list of turns to time, when the socket has one.
    watched: Option<Watched>,
}

impl Talker {
    fn new(id: usize, ws: Socket, c: Arc<Counters>, plan: Arc<ChatPlan>) -> Self {
        let seed = (id as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ std::process::id() as u64;
        Talker {
            id,
            ws,
            c,
            plan,
            thread_id: None,
            sent: 0,
            rng: seed | 1,
            watched: None,
        }
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

    async fn run(mut self, begin: Instant, stop: CancellationToken) {
        let deadline = begin + self.plan.duration;
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
                        if let Some(turn) = in_flight.as_mut() {
                            if self.on_text(text.as_str(), turn) {
                                in_flight = None;
                            }
                        } else if text.as_str().starts_with(DELTA_PREFIX) {
                            Counters::add_n(&self.c.deltas, deltas_in(text.as_str()));
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
        let marker = format!(",\"request_id\":\"{request_id}\"");
        if let Some(w) = &self.watched {
            let mut w = w.lock().expect("not poisoned");
            w.push(WatchedTurn {
                request_id: request_id.clone(),
                marker: marker.clone(),
                sent_at,
                first_delta: false,
            });
        }
        Some(InFlight {
            marker,
            request_id,
            sent_at,
            added: false,
            first_delta: false,
        })
    }

    /// Handles one frame while `turn` is in flight; true when the turn ended.
    fn on_text(&mut self, text: &str, turn: &mut InFlight) -> bool {
        // Deltas are most of the traffic: recognise them without a JSON parse.
        if text.starts_with(DELTA_PREFIX) {
            Counters::add_n(&self.c.deltas, deltas_in(text));
            if !turn.first_delta && text.contains(&turn.marker) {
                turn.first_delta = true;
                self.c.record("first_delta", turn.sent_at.elapsed());
            }
            return false;
        }
        let frame = Frame::parse(text);
        if frame.request_id.as_deref() != Some(turn.request_id.as_str()) {
            return false;
        }
        match frame.kind.as_str() {
            "message.added" => {
                if !turn.added {
                    turn.added = true;
                    self.c.record("message_added", turn.sent_at.elapsed());
                }
                if frame.thread_id.is_some() {
                    self.thread_id = frame.thread_id;
                }
                false
            }
            "message.done" => {
                self.c.record("done", turn.sent_at.elapsed());
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
}

/// How every `stream.delta` frame begins (the server writes `type` first).
pub(super) const DELTA_PREFIX: &str = "{\"type\":\"stream.delta\"";

/// How many deltas a `stream.delta` frame covers: its `count` when it merges several, else 1.
/// Read without a JSON parse: `count` follows the text, so the last one in the frame is it.
pub(super) fn deltas_in(frame: &str) -> u64 {
    const KEY: &str = ",\"count\":";
    frame
        .rfind(KEY)
        .and_then(|at| {
            let digits: String = frame[at + KEY.len()..]
                .chars()
                .take_while(char::is_ascii_digit)
                .collect();
            digits.parse().ok()
        })
        .unwrap_or(1)
}

#[cfg(test)]
mod tests {
    use super::deltas_in;

    #[test]
    fn a_merged_delta_counts_as_many_as_it_covers() {
        let one = r#"{"type":"stream.delta","delta":"a,\"count\":9","seq":3,"pos":"1.a.a-1"}"#;
        assert_eq!(deltas_in(one), 1);
        let merged = r#"{"type":"stream.delta","delta":"ab","seq":3,"count":12,"pos":"1.a.a-2"}"#;
        assert_eq!(deltas_in(merged), 12);
    }
}
