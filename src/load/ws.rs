//! The WebSocket scenarios: `idle` (hold many sockets), `storm` (connect as fast as possible)
//! and `chat` (turns on every socket at a steady pace); and [`fleet`], the frame of every
//! scenario that runs turns on sockets.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use tokio::task::JoinSet;
use tokio::time::{sleep, sleep_until, Instant};
use tokio_tungstenite::tungstenite::Message;
use tokio_util::sync::CancellationToken;

use super::client::{rss_kib, Socket, Target};
use super::dialect::Protocol;
use super::report::{cpu_secs, Counters, ServerMemory};
use super::talker::Talker;
use super::watch::Watcher;

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

/// Lets the sockets of [`fleet`] start together: each waits for the instant every connect
/// has been attempted.
pub(super) struct Go(tokio::sync::watch::Receiver<Option<Instant>>);

impl Go {
    /// The common start, once set; `None` if the run was abandoned first.
    pub(super) async fn wait(mut self) -> Option<Instant> {
        self.0.wait_for(Option::is_some).await.ok().and_then(|b| *b)
    }
}

/// The frame of the socket scenarios that run turns: opens `connections` sockets at `ramp`
/// per second, hands each to `socket` (with its index, the start signal and the stop token),
/// starts them together once every connect has been attempted, and after `duration` gives
/// them [`GRACE`] to finish before cancelling the stop token. Returns the sending window and,
/// given the server's pid, the CPU it used from the start until the last socket ended.
pub(super) async fn fleet<F, Fut>(
    target: Arc<Target>,
    c: Arc<Counters>,
    shape: Shape,
    socket: F,
) -> (Duration, Option<f64>)
where
    F: Fn(usize, Socket, Go, CancellationToken) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let (go_tx, go_rx) = tokio::sync::watch::channel(None::<Instant>);
    let stop = CancellationToken::new();
    let socket = Arc::new(socket);
    let mut tasks = JoinSet::new();
    let start = Instant::now();
    let Shape {
        connections,
        ramp,
        duration,
        server_pid,
    } = shape;
    for i in 0..connections {
        sleep_until(ramp_at(start, i, ramp)).await;
        let (target, c, stop, socket) = (target.clone(), c.clone(), stop.clone(), socket.clone());
        let go = Go(go_rx.clone());
        tasks.spawn(async move {
            match target.connect(i).await {
                Ok((ws, latency)) => {
                    c.record("connect", latency);
                    Counters::add(&c.connects_ok);
                    socket(i, ws, go, stop).await
                }
                Err(code) => c.connect_failed(&code),
            }
        });
    }
    all_attempted(&c, connections).await;
    let cpu_before = server_pid.and_then(cpu_secs);
    let begin = Instant::now();
    let _ = go_tx.send(Some(begin));
    sleep_until(begin + duration).await;
    let window = begin.elapsed();
    // Sending has stopped; give in-flight turns their grace, then count the rest as timeouts.
    let all_done = async { while tasks.join_next().await.is_some() {} };
    tokio::pin!(all_done);
    if tokio::time::timeout(GRACE, &mut all_done).await.is_err() {
        stop.cancel();
        all_done.await;
    }
    let cpu = match (server_pid.and_then(cpu_secs), cpu_before) {
        (Some(after), Some(before)) => Some(after - before),
        _ => None,
    };
    (window, cpu)
}

/// How many sockets [`fleet`] opens, how fast, for how long, and whose CPU it reads.
#[derive(Debug, Clone, Copy)]
pub struct Shape {
    pub connections: usize,
    pub ramp: u32,
    /// How long turns are asked for, once every socket is connected.
    pub duration: Duration,
    /// The server's pid, to read its CPU while turns run.
    pub server_pid: Option<u32>,
}

/// How `chat` paces each socket's turns.
#[derive(Clone)]
pub struct ChatPlan {
    /// How many sockets, how fast they open, how long turns are sent, whose CPU is read.
    pub shape: Shape,
    /// Mean time between one socket's turns.
    pub interval: Duration,
    /// Exponential gaps (a Poisson process) instead of a fixed interval.
    pub poisson: bool,
    pub message: String,
    /// Another instance where each socket has a twin for the same user (see [`Watcher`]).
    pub watch: Option<Arc<Target>>,
    /// The protocol the sockets speak.
    pub protocol: Protocol,
    /// What makes this run's AI SDK chat ids its own (a run starts its conversations afresh).
    pub run: String,
}

/// Opens `plan.connections` sockets; once all are open, each sends a `message` every
/// `interval` (starting at a random offset) for `duration`, one turn in flight at a time, on
/// one thread per socket. Returns the sending window. Every turn sent ends completed
/// (`message.done`, or the AI SDK's `end`) or failed (its `error` code, `socket_closed`, or
/// `timeout` when it had not finished `GRACE` after sending stopped). Also returns the server's
/// CPU seconds meanwhile, when its pid is known.
pub async fn chat(
    target: Arc<Target>,
    c: Arc<Counters>,
    plan: ChatPlan,
) -> (Duration, Option<f64>) {
    let shape = plan.shape;
    let plan = Arc::new(plan);
    let counters = c.clone();
    fleet(target, c, shape, move |i, ws, go, stop| {
        let (c, plan) = (counters.clone(), plan.clone());
        async move {
            let Ok(watcher) = Watcher::connect(plan.watch.as_deref(), i, &c).await else {
                return;
            };
            let Some(begin) = go.wait().await else {
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
        }
    })
    .await
}
