//! Process metrics in Prometheus text format, served at `GET /metrics`.
//!
//! Counters live in one registry for the process (a process exports one `/metrics`), reached
//! through the named functions below, so the code that counts calls one line and knows nothing
//! of Prometheus. Nothing here is on a per-delta path but one atomic add per relayed event:
//! turns are counted once, when they end, and sockets when they open and close. Every metric
//! is listed in README.md.

use std::sync::LazyLock;
use std::time::{Duration, Instant};

use axum::extract::{MatchedPath, Request};
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, Opts, Registry,
    TextEncoder,
};

use crate::model::{MessageStatus, Usage};

/// Latency buckets in seconds: from 250 µs (a health check) to 10 s (a long turn over REST).
const LATENCY_BUCKETS: &[f64] = &[
    0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

struct Metrics {
    registry: Registry,
    http_requests: IntCounterVec,
    http_errors: IntCounterVec,
    http_latency: HistogramVec,
    sockets_open: IntGauge,
    sockets_opened: IntCounter,
    queue_drops: IntCounter,
    resumes: IntCounterVec,
    resume_bytes: IntGauge,
    resume_users: IntGauge,
    turns_running: IntGauge,
    turns_finished: IntCounterVec,
    deltas_sent: IntCounter,
    tokens_used: IntCounterVec,
    /// `agentwire_relay_events_total` by outcome, resolved once: received counts every event.
    relay_sent: IntCounter,
    relay_failed: IntCounter,
    relay_received: IntCounter,
    relay_gaps: IntCounter,
    answer_saves: IntCounter,
    answers_interrupted: IntCounter,
    turns_queued: IntCounter,
}

static METRICS: LazyLock<Metrics> = LazyLock::new(Metrics::new);

impl Metrics {
    fn new() -> Self {
        let r = Registry::new();
        let relay_events = counters(
            &r,
            "agentwire_relay_events_total",
            "Events relayed between instances: sent, failed (not sent) and received",
            &["outcome"],
        );
        Metrics {
            http_requests: counters(
                &r,
                "agentwire_http_requests_total",
                "HTTP requests answered",
                &["route", "status"],
            ),
            http_errors: counters(
                &r,
                "agentwire_http_errors_total",
                "HTTP requests answered with status 400 or above",
                &["route", "status"],
            ),
            http_latency: register(
                &r,
                HistogramVec::new(
                    HistogramOpts::new(
                        "agentwire_http_request_duration_seconds",
                        "Time to the response head (a stream's first byte, not its end)",
                    )
                    .buckets(LATENCY_BUCKETS.to_vec()),
                    &["route"],
                ),
            ),
            sockets_open: gauge(
                &r,
                "agentwire_ws_sockets_open",
                "Authenticated WebSockets open now",
            ),
            sockets_opened: counter(
                &r,
                "agentwire_ws_sockets_opened_total",
                "WebSockets authenticated since start",
            ),
            queue_drops: counter(
                &r,
                "agentwire_ws_queue_drops_total",
                "WebSockets closed with 1013: too far behind, or relayed events may have been lost",
            ),
            resumes: counters(
                &r,
                "agentwire_ws_resumes_total",
                "WebSocket resumes, by whether the missed events could be replayed",
                &["recovered"],
            ),
            resume_bytes: gauge(
                &r,
                "agentwire_resume_kept_bytes",
                "Bytes of recent events kept for resumes, over all users",
            ),
            resume_users: gauge(
                &r,
                "agentwire_resume_users",
                "Users whose recent events (or open sockets) the hub keeps",
            ),
            turns_running: gauge(&r, "agentwire_turns_running", "Turns running now"),
            turns_finished: counters(
                &r,
                "agentwire_turns_finished_total",
                "Turns ended, by final status",
                &["status"],
            ),
            deltas_sent: counter(
                &r,
                "agentwire_stream_deltas_total",
                "stream.delta events emitted by finished turns",
            ),
            tokens_used: counters(
                &r,
                "agentwire_tokens_total",
                "Model tokens used by finished turns",
                &["kind"],
            ),
            relay_sent: relay_events.with_label_values(&["sent"]),
            relay_failed: relay_events.with_label_values(&["failed"]),
            relay_received: relay_events.with_label_values(&["received"]),
            relay_gaps: counter(
                &r,
                "agentwire_relay_gaps_total",
                "Times events from other instances may have been lost and local sockets were closed",
            ),
            answer_saves: counter(
                &r,
                "agentwire_answer_saves_total",
                "Saves of answers in progress (their text so far) while they stream",
            ),
            answers_interrupted: counter(
                &r,
                "agentwire_answers_interrupted_total",
                "Answers this instance marked interrupted: their process or instance died mid-turn",
            ),
            turns_queued: counter(
                &r,
                "agentwire_turns_queued_total",
                "Messages queued behind a running turn (on_busy enqueue).",
            ),
            registry: r,
        }
    }
}

/// Adds a new metric to the registry and returns it: each metric is made and registered in one
/// place, so none can be declared and forgotten.
fn register<C>(registry: &Registry, made: prometheus::Result<C>) -> C
where
    C: prometheus::core::Collector + Clone + 'static,
{
    let metric = made.expect("valid metric");
    registry
        .register(Box::new(metric.clone()))
        .expect("metric names are unique");
    metric
}

fn counter(registry: &Registry, name: &str, help: &str) -> IntCounter {
    register(registry, IntCounter::new(name, help))
}

fn counters(registry: &Registry, name: &str, help: &str, labels: &[&str]) -> IntCounterVec {
    register(registry, IntCounterVec::new(Opts::new(name, help), labels))
}

fn gauge(registry: &Registry, name: &str, help: &str) -> IntGauge {
    register(registry, IntGauge::new(name, help))
}

/// Counts one answered HTTP request on `route` (the matched pattern, e.g.
/// `/api/{user_id}/chat`, never the raw path, so user ids do not become labels).
pub fn http_request(route: &str, status: StatusCode, elapsed: Duration) {
    let m = &*METRICS;
    let status = status.as_str();
    m.http_requests.with_label_values(&[route, status]).inc();
    if status.starts_with('4') || status.starts_with('5') {
        m.http_errors.with_label_values(&[route, status]).inc();
    }
    m.http_latency
        .with_label_values(&[route])
        .observe(elapsed.as_secs_f64());
}

/// Tower middleware (via `axum::middleware::from_fn`) that counts every request.
pub async fn track_http(request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned());
    let started = Instant::now();
    let response = next.run(request).await;
    let route = route.as_deref().unwrap_or("unmatched");
    http_request(route, response.status(), started.elapsed());
    response
}

/// Marks an authenticated socket open until the returned guard drops.
#[must_use = "the socket counts as open while the guard lives"]
pub fn socket_opened() -> OpenGuard {
    METRICS.sockets_opened.inc();
    METRICS.sockets_open.inc();
    OpenGuard(&METRICS.sockets_open)
}

/// Counts a socket closed with 1013 because its queue overflowed.
pub fn socket_queue_drop() {
    METRICS.queue_drops.inc();
}

/// Counts a resume, recovered or not.
pub fn socket_resumed(recovered: bool) {
    METRICS
        .resumes
        .with_label_values(&[if recovered { "true" } else { "false" }])
        .inc();
}

/// Sets what the hub keeps for resumes (after each sweep).
pub fn resume_kept(bytes: usize, users: usize) {
    METRICS.resume_bytes.set(bytes as i64);
    METRICS.resume_users.set(users as i64);
}

/// Marks a turn running until the returned guard drops.
#[must_use = "the turn counts as running while the guard lives"]
pub fn turn_started() -> OpenGuard {
    METRICS.turns_running.inc();
    OpenGuard(&METRICS.turns_running)
}

/// Counts a turn that ended with `status`, having emitted `deltas` deltas and used `usage`.
pub fn turn_finished(status: MessageStatus, deltas: u32, usage: Option<Usage>) {
    let m = &*METRICS;
    m.turns_finished.with_label_values(&[status.as_str()]).inc();
    m.deltas_sent.inc_by(u64::from(deltas));
    if let Some(u) = usage {
        m.tokens_used
            .with_label_values(&["prompt"])
            .inc_by(u64::from(u.prompt_tokens));
        m.tokens_used
            .with_label_values(&["completion"])
            .inc_by(u64::from(u.completion_tokens));
    }
}

/// Counts one batch of relayed events: `sent` reached PostgreSQL, `failed` did not.
pub fn relay_sent(sent: u64, failed: u64) {
    METRICS.relay_sent.inc_by(sent);
    METRICS.relay_failed.inc_by(failed);
}

/// Counts one event received from another instance.
pub fn relay_received() {
    METRICS.relay_received.inc();
}

/// Counts a gap in another instance's events (local sockets closed with 1013).
pub fn relay_gap() {
    METRICS.relay_gaps.inc();
}

/// Counts saves of answers in progress.
pub fn partial_saved(n: usize) {
    METRICS.answer_saves.inc_by(n as u64);
}

/// Counts answers marked interrupted by this instance.
pub fn answers_interrupted(n: usize) {
    METRICS.answers_interrupted.inc_by(n as u64);
}

/// Counts messages queued behind a running turn.
pub fn turn_queued() {
    METRICS.turns_queued.inc();
}

/// Decrements its gauge when dropped, however the socket or turn ends.
pub struct OpenGuard(&'static IntGauge);

impl Drop for OpenGuard {
    fn drop(&mut self) {
        self.0.dec();
    }
}

/// Every metric in Prometheus text exposition format.
pub fn render() -> String {
    let mut out = Vec::new();
    TextEncoder::new()
        .encode(&METRICS.registry.gather(), &mut out)
        .expect("text encoding into a Vec cannot fail");
    String::from_utf8(out).expect("the text format is UTF-8")
}

/// `GET /metrics`.
pub async fn scrape() -> Response {
    ([(header::CONTENT_TYPE, prometheus::TEXT_FORMAT)], render()).into_response()
}
