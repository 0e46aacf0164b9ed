//! The HTTP scenarios: `rest` (`POST /api/{user_id}/chat`, one JSON answer per turn), `sse`
//! (`POST /api/{user_id}/chat/stream`, read to the end) and `chatkit` (`threads.create` on
//! `POST /api/chatkit`, read to the end), at a fixed concurrency.
//!
//! The client is reqwest without TLS: it keeps connections alive per worker and can bind a local
//! address, which is all a loopback load run needs.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use serde_json::{json, Value};
use tokio::task::JoinSet;
use tokio::time::Instant;

use super::report::Counters;

/// Longest a single turn may take before it counts as `timeout`.
const TURN_TIMEOUT: Duration = Duration::from_secs(60);

/// Which endpoint a worker drives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Rest,
    Sse,
    /// Every turn starts a new thread, as ChatKit's composer does for a new chat.
    Chatkit,
}

/// What the workers share.
pub struct HttpPlan {
    pub mode: Mode,
    pub base_url: String,
    pub concurrency: usize,
    pub duration: Duration,
    pub message: String,
    /// `(user, token)` per worker, round robin.
    pub users: Vec<(String, String)>,
    pub sources: Vec<IpAddr>,
}

/// Runs `concurrency` workers, each sending turns back to back on its own thread for
/// `duration`; every turn sent ends completed or failed (by error code). Returns the window.
pub async fn run(plan: HttpPlan, c: Arc<Counters>) -> Result<Duration, String> {
    let clients = build_clients(&plan.sources, plan.concurrency)?;
    let plan = Arc::new(plan);
    let start = Instant::now();
    let deadline = start + plan.duration;
    let mut workers = JoinSet::new();
    for i in 0..plan.concurrency.max(1) {
        let client = clients[i % clients.len()].clone();
        let (plan, c) = (plan.clone(), c.clone());
        workers.spawn(async move {
            let (user, token) = plan.users[i % plan.users.len()].clone();
            let url = match plan.mode {
                Mode::Rest => format!("{}/api/{user}/chat", plan.base_url),
                Mode::Sse => format!("{}/api/{user}/chat/stream", plan.base_url),
                Mode::Chatkit => format!("{}/api/chatkit", plan.base_url),
            };
            let mut thread: Option<String> = None;
            while Instant::now() < deadline {
                let body = match (plan.mode, &thread) {
                    (Mode::Chatkit, _) => chatkit_create(&plan.message),
                    (_, Some(t)) => json!({"message": plan.message, "conversation_id": t}),
                    (_, None) => json!({"message": plan.message}),
                };
                let request = client.post(&url).bearer_auth(&token).json(&body);
                Counters::add(&c.turns_sent);
                let sent_at = Instant::now();
                let outcome = tokio::time::timeout(TURN_TIMEOUT, async {
                    match plan.mode {
                        Mode::Rest => rest_turn(request, &c, sent_at).await,
                        Mode::Sse => streamed_turn(request, &c, sent_at, sse_block).await,
                        Mode::Chatkit => streamed_turn(request, &c, sent_at, chatkit_block).await,
                    }
                })
                .await
                .unwrap_or_else(|_| Err("timeout".into()));
                match outcome {
                    Ok(t) => {
                        Counters::add(&c.turns_completed);
                        if t.is_some() {
                            thread = t;
                        }
                    }
                    Err(code) => c.turn_failed(&code),
                }
            }
        });
    }
    while workers.join_next().await.is_some() {}
    Ok(start.elapsed())
}

fn build_clients(sources: &[IpAddr], concurrency: usize) -> Result<Vec<reqwest::Client>, String> {
    let build = |ip: Option<IpAddr>| {
        reqwest::Client::builder()
            .pool_max_idle_per_host(concurrency)
            .tcp_nodelay(true)
            .local_address(ip)
            .build()
            .map_err(|e| format!("cannot build the HTTP client: {e}"))
    };
    if sources.is_empty() {
        Ok(vec![build(None)?])
    } else {
        sources.iter().map(|ip| build(Some(*ip))).collect()
    }
}

/// One REST turn; `Ok(conversation_id)` on 200.
async fn rest_turn(
    request: reqwest::RequestBuilder,
    c: &Counters,
    sent_at: Instant,
) -> Result<Option<String>, String> {
    let response = request.send().await.map_err(|_| "http_io".to_string())?;
    let status = response.status();
    let body = response.bytes().await.map_err(|_| "http_io".to_string())?;
    c.record("response", sent_at.elapsed());
    let value: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    if !status.is_success() {
        return Err(error_code(&value, status.as_u16()));
    }
    Ok(value["conversation_id"].as_str().map(str::to_string))
}

/// `error.code` of our error body, else `http_<status>`.
fn error_code(body: &Value, status: u16) -> String {
    body["error"]["code"]
        .as_str()
        .map(str::to_string)
        .unwrap_or_else(|| format!("http_{status}"))
}

/// A `threads.create` request whose input is `text`.
fn chatkit_create(text: &str) -> Value {
    json!({
        "type": "threads.create",
        "params": {"input": {
            "content": [{"type": "input_text", "text": text}],
            "attachments": [],
            "inference_options": {},
        }},
    })
}

/// One streamed turn (SSE or ChatKit) read to its end, block by block (`\n\n`-separated), with
/// `parse` telling what each block means. `Ok(thread id)` when it ended with `message.done`
/// (SSE) or the stream closed after the answer's `thread.item.done` (ChatKit).
async fn streamed_turn(
    request: reqwest::RequestBuilder,
    c: &Counters,
    sent_at: Instant,
    parse: fn(&str) -> Option<Block>,
) -> Result<Option<String>, String> {
    let response = request.send().await.map_err(|_| "http_io".to_string())?;
    let status = response.status();
    if !status.is_success() {
        let body = response.bytes().await.unwrap_or_default();
        let value: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
        return Err(error_code(&value, status.as_u16()));
    }
    let mut stream = response.bytes_stream();
    let mut buffer = String::new();
    let mut first_delta = true;
    let mut thread = None;
    let mut answered = false;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|_| "http_io".to_string())?;
        buffer.push_str(&String::from_utf8_lossy(&chunk));
        while let Some(end) = buffer.find("\n\n") {
            let block: String = buffer.drain(..end + 2).collect();
            match parse(&block) {
                Some(Block::Delta) => {
                    Counters::add(&c.deltas);
                    if first_delta {
                        first_delta = false;
                        c.record("first_delta", sent_at.elapsed());
                    }
                }
                Some(Block::ThreadCreated(id)) => thread = Some(id),
                Some(Block::AnswerDone) => answered = true,
                Some(Block::Done(thread)) => {
                    c.record("done", sent_at.elapsed());
                    return Ok(thread);
                }
                Some(Block::Error(code)) => return Err(code),
                None => {}
            }
        }
    }
    if !answered {
        return Err("stream_ended".into());
    }
    c.record("done", sent_at.elapsed());
    Ok(thread)
}

/// What a block of a streamed turn means for the turn's outcome.
#[derive(Debug, PartialEq)]
enum Block {
    Delta,
    /// ChatKit's `thread.created`.
    ThreadCreated(String),
    /// ChatKit's `thread.item.done` of an `assistant_message`; the turn ends with the stream.
    AnswerDone,
    /// SSE's `message.done`, with its thread id: the turn's last event.
    Done(Option<String>),
    Error(String),
}

/// Reads one ChatKit `data:` block; `None` for events that do not matter here.
fn chatkit_block(block: &str) -> Option<Block> {
    let data = block.lines().find_map(|l| l.strip_prefix("data:"))?.trim();
    // Deltas are most of the stream: recognise them without parsing the JSON.
    if data.contains("\"assistant_message.content_part.text_delta\"") {
        return Some(Block::Delta);
    }
    let v: Value = serde_json::from_str(data).ok()?;
    match v["type"].as_str()? {
        "thread.created" => Some(Block::ThreadCreated(
            v["thread"]["id"].as_str()?.to_string(),
        )),
        "thread.item.done" if v["item"]["type"] == "assistant_message" => Some(Block::AnswerDone),
        "error" => Some(error_block(&v)),
        _ => None,
    }
}

/// Reads one SSE `event:`/`data:` block; `None` for events that do not matter here.
fn sse_block(block: &str) -> Option<Block> {
    let mut kind = "";
    let mut data = "";
    for line in block.lines() {
        if let Some(v) = line.strip_prefix("event:") {
            kind = v.trim();
        } else if let Some(v) = line.strip_prefix("data:") {
            data = v.trim();
        }
    }
    let value = || serde_json::from_str::<Value>(data).unwrap_or(Value::Null);
    match kind {
        "stream.delta" => Some(Block::Delta),
        "message.done" => Some(Block::Done(
            value()["thread_id"].as_str().map(str::to_string),
        )),
        "error" => Some(error_block(&value())),
        _ => None,
    }
}

/// An error event's `code` (both streams put it at the top level).
fn error_block(v: &Value) -> Block {
    Block::Error(
        v["code"]
            .as_str()
            .unwrap_or("error_without_code")
            .to_string(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sse_blocks_are_read_by_event_name() {
        assert_eq!(
            sse_block("event: stream.delta\ndata: {\"delta\":\"a\"}\n\n"),
            Some(Block::Delta)
        );
        assert_eq!(
            sse_block("event: message.done\ndata: {\"thread_id\":\"t1\"}\n\n"),
            Some(Block::Done(Some("t1".into())))
        );
        assert_eq!(
            sse_block("event: error\ndata: {\"code\":\"rate_limited\"}\n\n"),
            Some(Block::Error("rate_limited".into()))
        );
        assert_eq!(
            sse_block("event: error\ndata: nonsense\n\n"),
            Some(Block::Error("error_without_code".into()))
        );
        assert_eq!(sse_block(": keep-alive\n\n"), None);
    }

    #[test]
    fn chatkit_blocks_are_read_by_type() {
        let delta = r#"data: {"type":"thread.item.updated","item_id":"m","update":{"type":"assistant_message.content_part.text_delta","content_index":0,"delta":"w0 "}}"#;
        assert_eq!(chatkit_block(delta), Some(Block::Delta));
        assert_eq!(
            chatkit_block(r#"data: {"type":"thread.created","thread":{"id":"t1"}}"#),
            Some(Block::ThreadCreated("t1".into()))
        );
        assert_eq!(
            chatkit_block(
                r#"data: {"type":"thread.item.done","item":{"type":"assistant_message"}}"#
            ),
            Some(Block::AnswerDone)
        );
        assert_eq!(
            chatkit_block(r#"data: {"type":"thread.item.done","item":{"type":"user_message"}}"#),
            None
        );
        assert_eq!(
            chatkit_block(r#"data: {"type":"error","code":"stream.error"}"#),
            Some(Block::Error("stream.error".into()))
        );
        assert_eq!(chatkit_block("data: not json"), None);
        assert_eq!(
            chatkit_create("hi")["params"]["input"]["content"][0]["text"],
            "hi"
        );
    }

    #[test]
    fn error_codes_come_from_our_body_or_the_status() {
        let body = json!({"error": {"code": "forbidden", "message": "x"}});
        assert_eq!(error_code(&body, 403), "forbidden");
        assert_eq!(error_code(&Value::Null, 502), "http_502");
    }
}
