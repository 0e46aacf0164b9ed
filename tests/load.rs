//! The load tester against a real server: every turn it sends is accounted for, as completed or
//! as an error with its code.

mod common;

use std::time::Duration;

use std::collections::BTreeMap;

use agentwire::config::BenchAgentConfig;
use common::{TestApp, SECRET};
use serde::Deserialize;

/// Deltas per turn of the test server's bench agent.
const DELTAS: u64 = 8;

async fn bench_app() -> TestApp {
    TestApp::spawn_with(|c| {
        c.bench_agent = Some(BenchAgentConfig {
            deltas: DELTAS as u32,
            delay: Duration::from_millis(1),
        })
    })
    .await
}

async fn load(app: &TestApp, args: &[&str]) -> Summary {
    load_with_secret(app, args, SECRET).await
}

/// Runs `agentwire load …` against `app` as a user would, and reads its JSON summary.
async fn load_with_secret(app: &TestApp, args: &[&str], secret: &str) -> Summary {
    let out = agentwire_load(args, &["--url", &app.url, "--secret", secret, "--json"]).await;
    assert!(
        out.status.success(),
        "the run fails: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("a JSON summary")
}

async fn agentwire_load(args: &[&str], more: &[&str]) -> std::process::Output {
    let run = tokio::process::Command::new(env!("CARGO_BIN_EXE_agentwire"))
        .arg("load")
        .args(args)
        .args(more)
        .kill_on_drop(true)
        .output();
    tokio::time::timeout(Duration::from_secs(60), run)
        .await
        .expect("the run ends")
        .expect("the binary starts")
}

/// What these tests read of the load tester's JSON summary (`--json`).
#[derive(Debug, Deserialize)]
struct Summary {
    processes: u32,
    connects: Connects,
    turns: Turns,
    deltas: u64,
    rates: Rates,
    latency: BTreeMap<String, Latency>,
    errors: BTreeMap<String, u64>,
    #[serde(default)]
    server: Option<ServerMemory>,
    #[serde(default)]
    server_cpu: Option<ServerCpu>,
}

#[derive(Debug, Deserialize)]
struct Connects {
    ok: u64,
    failed: u64,
}

#[derive(Debug, Deserialize)]
struct Turns {
    sent: u64,
    completed: u64,
    failed: u64,
}

#[derive(Debug, Deserialize)]
struct Rates {
    connects_per_sec: f64,
}

#[derive(Debug, Deserialize)]
struct Latency {
    count: u64,
    p50_ms: f64,
    p99_ms: f64,
    max_ms: f64,
}

#[derive(Debug, Deserialize)]
struct ServerMemory {
    rss_before_kib: u64,
    rss_after_kib: u64,
}

#[derive(Debug, Deserialize)]
struct ServerCpu {
    cpu_secs: f64,
    per_turn_us: f64,
}

fn assert_accounted(s: &Summary) {
    assert_eq!(
        s.turns.sent,
        s.turns.completed + s.turns.failed,
        "every turn sent ends completed or failed: {s:?}"
    );
    let turn_errors: u64 = s
        .errors
        .iter()
        .filter(|(code, _)| !code.starts_with("close_") && *code != "dropped_while_idle")
        .map(|(_, n)| n)
        .sum();
    assert_eq!(
        s.turns.failed, turn_errors,
        "failures are counted by code: {s:?}"
    );
}

/// A clean `chat` run of `sockets` sockets, one user each: at least `min_turns` turns, all
/// completed, each with all its deltas and each of its latencies.
fn assert_every_turn_and_delta(s: &Summary, sockets: u64, min_turns: u64) {
    assert_accounted(s);
    assert_eq!(s.connects.ok, sockets);
    assert_eq!(s.turns.failed, 0, "{:?}", s.errors);
    assert!(s.turns.completed >= min_turns, "{s:?}");
    assert_eq!(s.deltas, DELTAS * s.turns.completed);
    for name in ["message_added", "first_delta", "done"] {
        assert_eq!(s.latency[name].count, s.turns.completed, "{name}");
    }
}

#[tokio::test]
async fn chat_counts_every_turn_and_every_delta() {
    let app = bench_app().await;
    // The server runs in this process: its CPU is ours.
    let pid = std::process::id().to_string();
    let s = load(
        &app,
        &[
            "chat",
            "--server-pid",
            &pid,
            "--connections",
            "6",
            "--interval",
            "100ms",
            "--duration",
            "1s",
        ],
    )
    .await;
    // One user per socket: every delta received belongs to one of this socket's turns.
    assert_every_turn_and_delta(&s, 6, 30);
    assert!(s.latency["first_delta"].p99_ms <= s.latency["done"].max_ms);
    // The server's CPU while turns ran, and per turn.
    let cpu = s.server_cpu.expect("read with --server-pid");
    assert!(cpu.cpu_secs > 0.0, "{cpu:?}");
    let per_turn = cpu.cpu_secs * 1e6 / s.turns.completed as f64;
    assert!((cpu.per_turn_us - per_turn).abs() < 1e-6, "{cpu:?}");
    // The turns really ran: one thread per socket, each with every turn's two messages.
    let threads: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM conversations")
        .fetch_one(&sqlite(&app).await)
        .await
        .unwrap();
    assert_eq!(threads, 6);
}

#[tokio::test]
async fn paced_streams_answers_back_to_back_and_times_every_delta() {
    let app = TestApp::spawn_with(|c| {
        c.bench_agent = Some(BenchAgentConfig {
            deltas: 20,
            delay: Duration::from_millis(5),
        })
    })
    .await;
    let s = load(
        &app,
        &[
            "paced",
            "--connections",
            "4",
            "--pace",
            "5ms",
            "--duration",
            "1s",
        ],
    )
    .await;
    assert_accounted(&s);
    assert_eq!(s.turns.failed, 0, "{:?}", s.errors);
    // Each answer takes about 95 ms and the next is asked at once: about ten per socket.
    assert!(s.turns.completed >= 4 * 5, "{s:?}");
    assert_eq!(s.deltas, 20 * s.turns.completed);
    // Every delta of every answer is timed against its schedule, none missing.
    assert_eq!(s.latency["delta_lateness"].count, s.deltas);
    assert_eq!(s.latency["first_delta"].count, s.turns.completed);
    assert!(!s.errors.contains_key("delta_missing"), "{:?}", s.errors);
    // An idle test server keeps the schedule within a few milliseconds at the median.
    assert!(s.latency["delta_lateness"].p50_ms < 20.0, "{s:?}");
    // One thread per socket: answers follow each other in the same conversation.
    let threads: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM conversations")
        .fetch_one(&sqlite(&app).await)
        .await
        .unwrap();
    assert_eq!(threads, 4);
}

#[tokio::test]
async fn chat_over_the_ai_sdk_protocol_counts_every_turn_and_every_text_delta() {
    let app = bench_app().await;
    let s = load(
        &app,
        &[
            "chat",
            "--protocol",
            "ai-sdk",
            "--connections",
            "5",
            "--interval",
            "100ms",
            "--duration",
            "1s",
        ],
    )
    .await;
    // Each of the bench agent's deltas arrives as one `text-delta` chunk.
    assert_every_turn_and_delta(&s, 5, 25);
    // One chat per socket, kept for the run: one conversation each, with every turn's two
    // messages in it (history grows as with our protocol).
    let pool = sqlite(&app).await;
    let threads: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM conversations")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(threads, 5);
    let messages: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM messages")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(messages as u64, 2 * s.turns.completed);
}

#[tokio::test]
async fn chat_over_the_ai_sdk_protocol_counts_refused_turns_by_code() {
    let app = bench_app().await;
    let s = load(
        &app,
        &[
            "chat",
            "--protocol",
            "ai-sdk",
            "--connections",
            "2",
            "--interval",
            "100ms",
            "--duration",
            "500ms",
            "--message",
            "   ",
        ],
    )
    .await;
    assert_accounted(&s);
    assert!(s.turns.sent >= 2);
    assert_eq!(s.turns.completed, 0);
    assert_eq!(s.errors.get("invalid_frame"), Some(&s.turns.sent), "{s:?}");
}

#[tokio::test]
async fn twins_on_another_instance_are_refused_with_the_ai_sdk_protocol() {
    let out = agentwire_load(
        &[
            "chat",
            "--protocol",
            "ai-sdk",
            "--watch-url",
            "http://127.0.0.1:1",
        ],
        &["--url", "http://127.0.0.1:1", "--secret", SECRET],
    )
    .await;
    assert!(!out.status.success());
    let e = String::from_utf8_lossy(&out.stderr);
    assert!(e.starts_with("error: --watch-url"), "{e}");
}

async fn sqlite(app: &TestApp) -> sqlx::SqlitePool {
    sqlx::SqlitePool::connect(&format!("sqlite://{}", app.db_path.display()))
        .await
        .unwrap()
}

#[tokio::test]
async fn chat_counts_refused_turns_by_code() {
    let app = bench_app().await;
    // Blank after trimming: the server refuses every turn with invalid_frame.
    let s = load(
        &app,
        &[
            "chat",
            "--connections",
            "3",
            "--interval",
            "100ms",
            "--duration",
            "500ms",
            "--message",
            "   ",
        ],
    )
    .await;
    assert_accounted(&s);
    assert!(s.turns.sent >= 3);
    assert_eq!(s.turns.completed, 0);
    assert_eq!(s.errors.get("invalid_frame"), Some(&s.turns.sent));
}

#[tokio::test]
async fn sockets_with_a_wrong_key_fail_with_4401_and_send_nothing() {
    let app = bench_app().await;
    let s = load_with_secret(
        &app,
        &["chat", "--connections", "4", "--duration", "200ms"],
        "not-the-server-key",
    )
    .await;
    assert_eq!(s.connects.ok, 0);
    assert_eq!(s.connects.failed, 4);
    assert_eq!(s.errors.get("close_4401"), Some(&4));
    assert_eq!(s.turns.sent, 0);
}

#[tokio::test]
async fn rest_counts_every_turn() {
    let app = bench_app().await;
    let s = load(&app, &["rest", "--concurrency", "4", "--duration", "1s"]).await;
    assert_accounted(&s);
    assert_eq!(s.turns.failed, 0, "{:?}", s.errors);
    assert!(s.turns.completed >= 4);
    assert_eq!(s.latency["response"].count, s.turns.sent);
}

#[tokio::test]
async fn rest_counts_refusals_by_their_error_code() {
    let app = bench_app().await;
    let long = "x".repeat(3000);
    let s = load(
        &app,
        &[
            "rest",
            "--concurrency",
            "2",
            "--duration",
            "300ms",
            "--message",
            &long,
        ],
    )
    .await;
    assert_accounted(&s);
    assert!(s.turns.sent > 0);
    assert_eq!(s.errors.get("message_too_long"), Some(&s.turns.sent));
    let s = load_with_secret(
        &app,
        &["rest", "--concurrency", "2", "--duration", "200ms"],
        "wrong",
    )
    .await;
    assert_accounted(&s);
    assert_eq!(s.errors.get("unauthorized"), Some(&s.turns.sent));
}

#[tokio::test]
async fn sse_reads_every_stream_to_its_end() {
    let app = bench_app().await;
    let s = load(&app, &["sse", "--concurrency", "3", "--duration", "1s"]).await;
    assert_accounted(&s);
    assert_eq!(s.turns.failed, 0, "{:?}", s.errors);
    assert!(s.turns.completed >= 3);
    assert_eq!(s.deltas, DELTAS * s.turns.completed);
    assert_eq!(s.latency["first_delta"].count, s.turns.completed);
}

#[tokio::test]
async fn chatkit_creates_a_thread_per_turn_and_reads_each_stream() {
    let app = bench_app().await;
    let s = load(&app, &["chatkit", "--concurrency", "3", "--duration", "1s"]).await;
    assert_accounted(&s);
    assert_eq!(s.turns.failed, 0, "{:?}", s.errors);
    assert!(s.turns.completed >= 3);
    assert_eq!(s.deltas, DELTAS * s.turns.completed);
    assert_eq!(s.latency["done"].count, s.turns.completed);
    // One new thread per completed turn (a turn cut by the end of the run may add one more).
    let threads: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM conversations")
        .fetch_one(&sqlite(&app).await)
        .await
        .unwrap();
    assert!(threads as u64 >= s.turns.completed, "{threads} threads");
}

#[tokio::test]
async fn chatkit_counts_refusals_by_their_error_code() {
    let app = bench_app().await;
    let s = load_with_secret(
        &app,
        &["chatkit", "--concurrency", "2", "--duration", "200ms"],
        "not-the-servers-key-not-the-servers-key",
    )
    .await;
    assert_accounted(&s);
    assert!(s.turns.sent > 0);
    assert_eq!(s.errors.get("unauthorized"), Some(&s.turns.sent));
}

#[tokio::test]
async fn rest_turns_through_the_mock_provider_are_counted() {
    use common::mock_openai::{text, MockOpenAi};
    let words: Vec<String> = (0..16).map(|i| format!("w{i} ")).collect();
    let refs: Vec<&str> = words.iter().map(String::as_str).collect();
    let mock = MockOpenAi::standing(text(&refs, (10, 16)), "127.0.0.1:0").await;
    let app = TestApp::spawn_with_provider(&mock.url, |_| {}).await;
    let s = load(&app, &["sse", "--concurrency", "2", "--duration", "500ms"]).await;
    assert_accounted(&s);
    assert_eq!(s.turns.failed, 0, "{:?}", s.errors);
    assert!(s.turns.completed >= 2);
    assert_eq!(s.deltas, 16 * s.turns.completed);
}

#[tokio::test]
async fn storm_connects_every_socket_once() {
    let app = bench_app().await;
    let s = load(
        &app,
        &["storm", "--connections", "60", "--concurrency", "8"],
    )
    .await;
    assert_eq!(s.connects.ok, 60);
    assert_eq!(s.connects.failed, 0, "{:?}", s.errors);
    assert_eq!(s.latency["connect"].count, 60);
    assert!(s.rates.connects_per_sec > 0.0);
    assert_eq!(s.turns.sent, 0);
}

#[tokio::test]
async fn idle_holds_its_sockets_and_reads_server_memory() {
    let app = bench_app().await;
    let pid = std::process::id().to_string();
    let s = load(
        &app,
        &[
            "idle",
            "--connections",
            "25",
            "--users",
            "5",
            "--ramp",
            "0",
            "--duration",
            "200ms",
            "--server-pid",
            &pid,
        ],
    )
    .await;
    assert_eq!(s.connects.ok, 25);
    assert!(s.errors.is_empty(), "{:?}", s.errors);
    let m = s.server.expect("server memory read");
    assert!(m.rss_before_kib > 0 && m.rss_after_kib > 0);
    // Closed again at the end of the run.
    for _ in 0..100 {
        if app.state.hub.users() == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(app.state.hub.users(), 0);
}

#[tokio::test]
async fn a_split_run_merges_every_process() {
    let app = bench_app().await;
    let s = load(
        &app,
        &[
            "chat",
            "--connections",
            "4",
            "--procs",
            "2",
            "--interval",
            "100ms",
            "--duration",
            "700ms",
        ],
    )
    .await;
    assert_eq!(s.processes, 2);
    assert_eq!(s.connects.ok, 4);
    assert_accounted(&s);
    assert_eq!(s.turns.failed, 0, "{:?}", s.errors);
    assert_eq!(s.deltas, DELTAS * s.turns.completed);
    assert_eq!(s.latency["done"].count, s.turns.completed);
}

#[tokio::test]
async fn chat_times_each_turn_on_a_twin_socket_of_another_instance() {
    let Some(url) = common::fresh_postgres().await else {
        eprintln!("TEST_DATABASE_URL not set: skipping the two-instance load run");
        return;
    };
    let bench = |c: &mut agentwire::Config| {
        c.bench_agent = Some(BenchAgentConfig {
            deltas: DELTAS as u32,
            delay: Duration::from_millis(1),
        })
    };
    let a = TestApp::spawn_on_with(&url, bench).await;
    let b = TestApp::spawn_on_with(&url, bench).await;
    let s = load(
        &a,
        &[
            "chat",
            "--connections",
            "4",
            "--interval",
            "100ms",
            "--duration",
            "1s",
            "--watch-url",
            &b.url,
        ],
    )
    .await;
    assert_accounted(&s);
    assert_eq!(s.turns.failed, 0, "{:?}", s.errors);
    assert!(s.errors.is_empty(), "{:?}", s.errors);
    assert!(s.turns.completed >= 20, "{s:?}");
    // Every turn run on A was seen to its end on B, by the same user's twin socket.
    assert_eq!(s.latency["watch_connect"].count, 4);
    for name in ["watch_first_delta", "watch_done"] {
        assert_eq!(s.latency[name].count, s.turns.completed, "{name}: {s:?}");
    }
    // The twin's deltas are not counted as the sockets' own.
    assert_eq!(s.deltas, DELTAS * s.turns.completed);
}
