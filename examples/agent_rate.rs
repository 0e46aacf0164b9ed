//! How many model turns one core drives with nothing else around them: the model-driven agent
//! (async-openai, streamed) against an OpenAI-compatible server such as `examples/mock_openai`,
//! at a fixed concurrency on a single-threaded runtime, with no HTTP server, store writes,
//! events or sockets of our own. `raw` sends the same requests with plain reqwest and reads
//! each body to its end unparsed: the HTTP floor under any client library.
//!
//! It separates what the model client costs from what the rest of a turn costs, so the REST
//! figures in BENCHMARKS.md can be split between the two.
//!
//! ```sh
//! taskset -c 1 ./target/release/examples/mock_openai 127.0.0.1:8803 &
//! taskset -c 0 ./target/release/examples/agent_rate http://127.0.0.1:8803/v1 agent 64 10
//! taskset -c 0 ./target/release/examples/agent_rate http://127.0.0.1:8803/v1 raw 64 10
//! ```

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use agentwire::agent::bench::delta_text;
use agentwire::agent::openai::tool_declarations;
use agentwire::agent::tools::Tools;
use agentwire::agent::{AgentInput, Language, OpenAiAgent};
use agentwire::config::ProviderConfig;
use agentwire::model::{Message, MessageId, MessageStatus, Role, ThreadId, UserId};
use agentwire::store::Store;
use futures::StreamExt;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let usage = "usage: agent_rate <base_url> <agent|raw> [concurrency=64] [seconds=10]";
    let base = args.first().expect(usage).trim_end_matches('/').to_string();
    let mode = args.get(1).expect(usage).clone();
    let concurrency: usize = args.get(2).map_or(64, |v| v.parse().expect(usage));
    let seconds: u64 = args.get(3).map_or(10, |v| v.parse().expect(usage));
    assert!(mode == "agent" || mode == "raw", "{usage}");
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(run(base, mode, concurrency, Duration::from_secs(seconds)));
}

async fn run(base: String, mode: String, concurrency: usize, duration: Duration) {
    let store = Store::connect("sqlite::memory:", 1).await.expect("store");
    store.migrate().await.expect("migrations");
    let agent = OpenAiAgent::new(
        &ProviderConfig {
            api_key: Some("mock".into()),
            base_url: Some(base.clone()),
            model: "mock-model".into(),
            max_turns: 5,
            timeout: Duration::from_secs(60),
            temperature: None,
            max_tokens: None,
            fallback_offline: false,
            transcribe_model: "whisper-1".into(),
        },
        None,
    );
    let http = reqwest::Client::new();
    // The same size of request as the agent's: its history, its tools.
    let messages: Vec<_> = input()
        .history
        .iter()
        .map(|m| serde_json::json!({"role": m.role.as_str(), "content": m.content}))
        .collect();
    let body = serde_json::json!({
        "model": "mock-model", "stream": true, "messages": messages,
        "tools": tool_declarations(),
    })
    .to_string();
    let done = Arc::new(AtomicU64::new(0));
    let deltas = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + duration;
    let workers = (0..concurrency).map(|w| {
        let (agent, store, http, body, base, mode) = (
            agent.clone(),
            store.clone(),
            http.clone(),
            body.clone(),
            base.clone(),
            mode.clone(),
        );
        let (done, deltas) = (done.clone(), deltas.clone());
        async move {
            let tools = Tools::new(store, UserId::new(format!("user-{w}")));
            while Instant::now() < deadline {
                if mode == "raw" {
                    let response = http
                        .post(format!("{base}/chat/completions"))
                        .header("content-type", "application/json")
                        .body(body.clone())
                        .send()
                        .await
                        .expect("request");
                    let mut stream = response.bytes_stream();
                    while let Some(bytes) = stream.next().await {
                        bytes.expect("body");
                    }
                } else {
                    let mut steps = agent.run(tools.clone(), input());
                    while let Some(step) = steps.next().await {
                        step.expect("agent step");
                        deltas.fetch_add(1, Ordering::Relaxed);
                    }
                }
                done.fetch_add(1, Ordering::Relaxed);
            }
        }
    });
    let started = Instant::now();
    futures::future::join_all(workers).await;
    let secs = started.elapsed().as_secs_f64();
    let turns = done.load(Ordering::Relaxed);
    println!(
        "{mode}: {turns} turns in {secs:.1} s = {:.0} turns/s ({:.1} µs each), {} steps",
        turns as f64 / secs,
        secs * 1e6 / turns as f64,
        deltas.load(Ordering::Relaxed)
    );
}

/// A turn as the REST benchmark sends it once its conversation is long: twenty messages of
/// history (the default `CONTEXT_HISTORY_LIMIT`), each answer the mock's 64 words.
fn input() -> AgentInput {
    let thread = ThreadId(uuid::Uuid::new_v4());
    let answer: String = (0..64).map(delta_text).collect();
    let history = (0..20)
        .map(|i| Message {
            id: MessageId::new(),
            conversation_id: thread,
            seq: i + 1,
            role: if i % 2 == 0 {
                Role::User
            } else {
                Role::Assistant
            },
            content: if i % 2 == 0 {
                "hello".into()
            } else {
                answer.clone()
            },
            tool_calls: Vec::new(),
            status: MessageStatus::Completed,
            usage: None,
            created_at: chrono::Utc::now(),
            next_seq: None,
        })
        .collect();
    AgentInput {
        history,
        content: "hello".into(),
        language: Language::English,
        today: chrono::Utc::now().date_naive(),
        notes: Vec::new(),
    }
}
