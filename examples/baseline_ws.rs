//! The baseline for load runs: a minimal WebSocket server (plain tokio-tungstenite; no auth, no
//! store, no hub) that answers `ready` on connect and, for each `message` frame, streams the
//! frames of a bench-agent turn: `thread.created` (new thread), two `message.added`,
//! `BENCH_AGENT_DELTAS` `stream.delta`s `BENCH_AGENT_DELAY_MS` apart, and `message.done`, in the
//! same JSON shapes as agentwire. It writes in batches (feed, then one flush), as agentwire does,
//! so the ratio measures what agentwire adds, not a slower writer.
//!
//! `cargo run --release --example baseline_ws -- 127.0.0.1:8802`

use std::time::Duration;

use chrono::{SecondsFormat, Utc};
use futures::{SinkExt, StreamExt};
use serde_json::Value;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::Message;
use uuid::Uuid;

use agentwire::agent::bench::delta_text;

/// Frames written per flush at most, as agentwire's socket loop.
const BATCH: usize = 64;

#[derive(Clone, Copy)]
struct Shape {
    deltas: u32,
    delay: Duration,
}

fn env_num(name: &str, default: u64) -> u64 {
    match std::env::var(name) {
        Ok(v) => v
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("{name}: expected a whole number, got {v:?}")),
        Err(_) => default,
    }
}

#[tokio::main]
async fn main() {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:8802".into());
    let shape = Shape {
        deltas: env_num("BENCH_AGENT_DELTAS", 64) as u32,
        delay: Duration::from_millis(env_num("BENCH_AGENT_DELAY_MS", 0)),
    };
    let listener = TcpListener::bind(&addr).await.expect("bind");
    eprintln!(
        "baseline_ws on {addr}: {} deltas, {:?} apart",
        shape.deltas, shape.delay
    );
    loop {
        let Ok((tcp, _)) = listener.accept().await else {
            tokio::time::sleep(Duration::from_millis(10)).await;
            continue;
        };
        let _ = tcp.set_nodelay(true);
        tokio::spawn(connection(tcp, shape));
    }
}

async fn connection(tcp: TcpStream, shape: Shape) {
    let config = WebSocketConfig::default()
        .read_buffer_size(1024)
        .write_buffer_size(8 * 1024);
    let Ok(mut ws) = tokio_tungstenite::accept_async_with_config(tcp, Some(config)).await else {
        return;
    };
    let ready = format!(
        r#"{{"type":"ready","user_id":"baseline","connection_id":"{}","expires_at":0}}"#,
        Uuid::new_v4().simple()
    );
    if ws.send(Message::Text(ready.into())).await.is_err() {
        return;
    }
    let (tx, mut rx) = mpsc::unbounded_channel::<String>();
    loop {
        tokio::select! {
            frame = rx.recv() => {
                let Some(first) = frame else { return };
                let mut batch = vec![first];
                while batch.len() < BATCH {
                    match rx.try_recv() {
                        Ok(f) => batch.push(f),
                        Err(_) => break,
                    }
                }
                let mut failed = false;
                for f in batch {
                    failed |= ws.feed(Message::Text(f.into())).await.is_err();
                }
                if failed || ws.flush().await.is_err() {
                    return;
                }
            }
            incoming = ws.next() => match incoming {
                Some(Ok(Message::Text(text))) => {
                    let v: Value = serde_json::from_str(text.as_str()).unwrap_or(Value::Null);
                    if v["type"] == "message" {
                        let request_id = v["request_id"].as_str().map(str::to_string);
                        let thread = v["thread_id"].as_str().map(str::to_string);
                        let content = v["content"].as_str().unwrap_or("").to_string();
                        tokio::spawn(turn(tx.clone(), shape, thread, content, request_id));
                    }
                }
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return,
                Some(Ok(_)) => {}
            },
        }
    }
}

/// One turn's frames, in agentwire's order and shapes.
async fn turn(
    tx: mpsc::UnboundedSender<String>,
    shape: Shape,
    thread: Option<String>,
    content: String,
    request_id: Option<String>,
) {
    let now = || Utc::now().to_rfc3339_opts(SecondsFormat::Micros, true);
    let rid = match &request_id {
        Some(r) => format!(",\"request_id\":{}", serde_json::to_string(r).unwrap()),
        None => String::new(),
    };
    let json = |s: &str| serde_json::to_string(s).unwrap();
    let thread_id = match thread {
        Some(t) => t,
        None => {
            let t = Uuid::new_v4().to_string();
            let _ = tx.send(format!(
                r#"{{"type":"thread.created","thread":{{"id":"{t}","title":{},"created_at":"{n}","updated_at":"{n}","metadata":{{}}}}{rid}}}"#,
                json(&content),
                n = now()
            ));
            t
        }
    };
    let user_id = Uuid::new_v4();
    let _ = tx.send(format!(
        r#"{{"type":"message.added","thread_id":"{thread_id}","message":{{"id":"{user_id}","thread_id":"{thread_id}","seq":1,"role":"user","content":{},"tool_calls":[],"status":"completed","created_at":"{}"}}{rid}}}"#,
        json(&content),
        now()
    ));
    let message_id = Uuid::new_v4();
    let _ = tx.send(format!(
        r#"{{"type":"message.added","thread_id":"{thread_id}","message":{{"id":"{message_id}","thread_id":"{thread_id}","seq":2,"role":"assistant","content":"","tool_calls":[],"status":"in_progress","created_at":"{}"}}{rid}}}"#,
        now()
    ));
    let mut text = String::new();
    // On the bench agent's schedule: delta `i` is due `i × delay` after the first.
    let start = tokio::time::Instant::now();
    for i in 0..shape.deltas {
        if i > 0 && !shape.delay.is_zero() {
            tokio::time::sleep_until(start + shape.delay * i).await;
        }
        let delta = delta_text(i);
        text.push_str(&delta);
        if tx
            .send(format!(
                r#"{{"type":"stream.delta","thread_id":"{thread_id}","message_id":"{message_id}","delta":{},"seq":{i}{rid}}}"#,
                json(&delta)
            ))
            .is_err()
        {
            return;
        }
    }
    let _ = tx.send(format!(
        r#"{{"type":"message.done","thread_id":"{thread_id}","message":{{"id":"{message_id}","thread_id":"{thread_id}","seq":2,"role":"assistant","content":{},"tool_calls":[],"status":"completed","usage":{{"prompt_tokens":1,"completion_tokens":{d},"total_tokens":{t}}},"created_at":"{}"}}{rid}}}"#,
        json(&text),
        now(),
        d = shape.deltas,
        t = shape.deltas + 1
    ));
}
