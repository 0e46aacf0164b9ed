//! A scripted OpenAI-compatible server: a real HTTP server on an ephemeral port that streams
//! `chat.completion.chunk` SSE as the API does (role chunk, content chunks, tool-call chunks with
//! arguments split mid-JSON, `finish_reason`, a usage chunk, `[DONE]`), or fails as scripted.
//! Every request body is recorded for assertions.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Body;
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use serde_json::{json, Value};

/// One piece of a streamed reply.
#[derive(Debug, Clone)]
pub enum Piece {
    Chunk(Value),
    Pause(Duration),
    /// `data: [DONE]`.
    Done,
}

/// What the server answers to one request.
#[derive(Debug, Clone)]
pub enum Reply {
    /// 200 with these SSE pieces; the stream ends after the last piece (with or without
    /// `[DONE]`, as scripted).
    Stream(Vec<Piece>),
    /// An error status with an optional `Retry-After` and a JSON error body.
    Status {
        code: u16,
        retry_after: Option<&'static str>,
    },
}

#[derive(Default)]
struct Script {
    replies: VecDeque<Reply>,
    /// Answered once the scripted replies run out (a standing reply for load runs).
    standing: Option<Reply>,
    /// Whether request bodies are kept (not in load runs, where they would pile up).
    record: bool,
    requests: Vec<Value>,
}

pub struct MockOpenAi {
    /// Base URL to configure as `OPENAI_BASE_URL` (ends in `/v1`).
    pub url: String,
    script: Arc<Mutex<Script>>,
}

impl MockOpenAi {
    pub async fn start(replies: Vec<Reply>) -> Self {
        let script = Script {
            replies: replies.into(),
            record: true,
            ..Script::default()
        };
        Self::serve(script, "127.0.0.1:0").await
    }

    /// A server on `addr` that answers `reply` to every completion request and records
    /// nothing: the provider for load runs.
    pub async fn standing(reply: Reply, addr: &str) -> Self {
        let script = Script {
            standing: Some(reply),
            ..Script::default()
        };
        Self::serve(script, addr).await
    }

    async fn serve(script: Script, addr: &str) -> Self {
        let script = Arc::new(Mutex::new(script));
        let app = Router::new()
            .route("/v1/chat/completions", post(completions))
            .route("/v1/audio/transcriptions", post(transcriptions))
            .with_state(script.clone());
        let listener = tokio::net::TcpListener::bind(addr).await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        MockOpenAi {
            url: format!("http://{addr}/v1"),
            script,
        }
    }

    /// Queues more replies.
    pub fn push(&self, reply: Reply) {
        self.script.lock().unwrap().replies.push_back(reply);
    }

    /// Answers `reply` to every request once the scripted replies run out.
    pub fn answer_the_rest_with(&self, reply: Reply) {
        self.script.lock().unwrap().standing = Some(reply);
    }

    /// The request bodies received so far.
    pub fn requests(&self) -> Vec<Value> {
        self.script.lock().unwrap().requests.clone()
    }
}

async fn completions(
    State(script): State<Arc<Mutex<Script>>>,
    Json(body): Json<Value>,
) -> Response {
    let reply = {
        let mut s = script.lock().unwrap();
        if s.record {
            s.requests.push(body);
        }
        s.replies.pop_front().or_else(|| s.standing.clone())
    };
    match reply {
        None => (
            StatusCode::INTERNAL_SERVER_ERROR,
            Json(json!({"error": {"message": "mock: no scripted reply", "type": "server_error"}})),
        )
            .into_response(),
        Some(Reply::Status { code, retry_after }) => {
            let status = StatusCode::from_u16(code).unwrap();
            let mut r = (
                status,
                Json(json!({"error": {
                    "message": "mock provider error with secret detail sk-live-leak https://internal.example",
                    "type": if code == 429 { "rate_limit_error" } else { "server_error" },
                    "param": null, "code": null,
                }})),
            )
                .into_response();
            if let Some(after) = retry_after {
                r.headers_mut()
                    .insert(header::RETRY_AFTER, after.parse().unwrap());
            }
            r
        }
        Some(Reply::Stream(pieces)) if !pieces.iter().any(|p| matches!(p, Piece::Pause(_))) => {
            // Nothing to wait for: the whole stream in one body, as a fast provider sends it.
            let body: String = pieces
                .iter()
                .map(|p| match p {
                    Piece::Chunk(v) => format!("data: {v}\n\n"),
                    Piece::Done => "data: [DONE]\n\n".to_string(),
                    Piece::Pause(_) => String::new(),
                })
                .collect();
            Response::builder()
                .header(header::CONTENT_TYPE, "text/event-stream")
                .body(Body::from(body))
                .unwrap()
        }
        Some(Reply::Stream(pieces)) => {
            let stream = futures::stream::unfold(pieces.into_iter(), |mut pieces| async move {
                loop {
                    match pieces.next()? {
                        Piece::Pause(d) => tokio::time::sleep(d).await,
                        Piece::Chunk(v) => {
                            return Some((
                                Ok::<_, std::io::Error>(format!("data: {v}\n\n")),
                                pieces,
                            ))
                        }
                        Piece::Done => return Some((Ok("data: [DONE]\n\n".to_string()), pieces)),
                    }
                }
            });
            Response::builder()
                .header(header::CONTENT_TYPE, "text/event-stream")
                .body(Body::from_stream(stream))
                .unwrap()
        }
    }
}

/// Speech to text: records the multipart body's size and whether it names the model and the
/// file, then answers the next scripted reply's status, or a fixed text.
async fn transcriptions(
    State(script): State<Arc<Mutex<Script>>>,
    body: axum::body::Bytes,
) -> Response {
    let text = String::from_utf8_lossy(&body).to_string();
    let reply = {
        let mut s = script.lock().unwrap();
        s.requests.push(json!({
            "transcription": true,
            "bytes": body.len(),
            "has_model": text.contains("whisper-1"),
            "has_file": text.contains("filename=\"recording.webm\""),
            "has_audio": body.windows(4).any(|w| w == [0u8, 1, 2, 3]),
        }));
        s.replies.pop_front()
    };
    match reply {
        Some(Reply::Status { code, .. }) => (
            StatusCode::from_u16(code).unwrap(),
            Json(
                json!({"error": {"message": "mock transcription failure", "type": "server_error"}}),
            ),
        )
            .into_response(),
        _ => Json(json!({"text": "kal doctor ke paas jana hai"})).into_response(),
    }
}

/// A chunk with one choice whose delta is `delta`.
pub fn chunk(delta: Value, finish_reason: Option<&str>) -> Value {
    json!({
        "id": "chatcmpl-mock",
        "object": "chat.completion.chunk",
        "created": 1_790_000_000u32,
        "model": "mock-model",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason}],
    })
}

/// The final usage chunk (`stream_options.include_usage`).
pub fn usage_chunk(prompt: u32, completion: u32) -> Value {
    json!({
        "id": "chatcmpl-mock",
        "object": "chat.completion.chunk",
        "created": 1_790_000_000u32,
        "model": "mock-model",
        "choices": [],
        "usage": {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion},
    })
}

/// A complete text answer streamed word by word.
pub fn text(words: &[&str], usage: (u32, u32)) -> Reply {
    let mut pieces = vec![Piece::Chunk(chunk(
        json!({"role": "assistant", "content": ""}),
        None,
    ))];
    for w in words {
        pieces.push(Piece::Chunk(chunk(json!({"content": w}), None)));
    }
    pieces.push(Piece::Chunk(chunk(json!({}), Some("stop"))));
    pieces.push(Piece::Chunk(usage_chunk(usage.0, usage.1)));
    pieces.push(Piece::Done);
    Reply::Stream(pieces)
}

/// Tool calls `(id, name, arguments JSON text)` in one response, their arguments split into
/// pieces of `split` bytes and the calls' chunks interleaved, as models stream parallel calls.
pub fn tool_calls(calls: &[(&str, &str, &str)], split: usize, usage: (u32, u32)) -> Reply {
    let mut pieces = vec![Piece::Chunk(chunk(
        json!({"role": "assistant", "content": null}),
        None,
    ))];
    for (i, (id, name, _)) in calls.iter().enumerate() {
        pieces.push(Piece::Chunk(chunk(
            json!({"tool_calls": [{"index": i, "id": id, "type": "function", "function": {"name": name, "arguments": ""}}]}),
            None,
        )));
    }
    let parts: Vec<Vec<String>> = calls
        .iter()
        .map(|(_, _, args)| {
            args.as_bytes()
                .chunks(split.max(1))
                .map(|c| String::from_utf8(c.to_vec()).unwrap())
                .collect()
        })
        .collect();
    let longest = parts.iter().map(Vec::len).max().unwrap_or(0);
    for k in 0..longest {
        for (i, p) in parts.iter().enumerate() {
            if let Some(piece) = p.get(k) {
                pieces.push(Piece::Chunk(chunk(
                    json!({"tool_calls": [{"index": i, "function": {"arguments": piece}}]}),
                    None,
                )));
            }
        }
    }
    pieces.push(Piece::Chunk(chunk(json!({}), Some("tool_calls"))));
    pieces.push(Piece::Chunk(usage_chunk(usage.0, usage.1)));
    pieces.push(Piece::Done);
    Reply::Stream(pieces)
}

/// Text that stops after `words` without a finish reason or `[DONE]` (a dropped connection).
pub fn cut_off(words: &[&str]) -> Reply {
    let mut pieces = vec![Piece::Chunk(chunk(
        json!({"role": "assistant", "content": ""}),
        None,
    ))];
    for w in words {
        pieces.push(Piece::Chunk(chunk(json!({"content": w}), None)));
    }
    Reply::Stream(pieces)
}

/// Text with a pause before every word.
pub fn slow(words: &[&str], pause: Duration) -> Reply {
    let mut pieces = vec![Piece::Chunk(chunk(
        json!({"role": "assistant", "content": ""}),
        None,
    ))];
    for w in words {
        pieces.push(Piece::Pause(pause));
        pieces.push(Piece::Chunk(chunk(json!({"content": w}), None)));
    }
    pieces.push(Piece::Chunk(chunk(json!({}), Some("stop"))));
    pieces.push(Piece::Chunk(usage_chunk(5, 5)));
    pieces.push(Piece::Done);
    Reply::Stream(pieces)
}

pub fn status(code: u16, retry_after: Option<&'static str>) -> Reply {
    Reply::Status { code, retry_after }
}
