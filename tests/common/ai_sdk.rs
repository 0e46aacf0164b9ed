//! A client of the AI SDK endpoints for the Rust tests: raw frames of `WebSocketChatTransport`
//! over `/api/ai-sdk/ws`, and the UI message stream of `POST /api/ai-sdk`.

use futures::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;

use super::ws::{next_json, open, Ended, Stream, WAIT};
use super::TestApp;

pub struct AiSocket {
    pub ws: Stream,
    /// Frames read while waiting for another request's.
    held: std::collections::VecDeque<Value>,
}

/// What one request received: its chunks by `sequence`, and the frame that ended it (`end`,
/// `error` or `no-active`).
#[derive(Debug)]
pub struct Received {
    pub chunks: Vec<(u64, Value)>,
    pub last: Value,
}

impl Received {
    /// The text of the chunks' text deltas, in order.
    pub fn text(&self) -> String {
        text_of(self.chunks.iter().map(|(_, c)| c))
    }

    pub fn kinds(&self) -> Vec<&str> {
        self.chunks
            .iter()
            .map(|(_, c)| c["type"].as_str().unwrap())
            .collect()
    }

    /// The chunk of this type (the first).
    pub fn chunk(&self, kind: &str) -> &Value {
        &self
            .chunks
            .iter()
            .find(|(_, c)| c["type"] == kind)
            .unwrap_or_else(|| panic!("no {kind} chunk in {:?}", self.kinds()))
            .1
    }
}

/// The text of `chunks`' text deltas.
pub fn text_of<'a>(chunks: impl IntoIterator<Item = &'a Value>) -> String {
    chunks
        .into_iter()
        .filter(|c| c["type"] == "text-delta")
        .map(|c| c["delta"].as_str().unwrap())
        .collect()
}

/// A user `UIMessage` saying `text`.
pub fn user_message(text: &str) -> Value {
    json!({"id": format!("u-{}", uuid::Uuid::new_v4().simple()), "role": "user",
        "parts": [{"type": "text", "text": text}]})
}

/// A `send` frame of `text` to chat `chat`, with `token` in its headers when given.
pub fn send(request_id: &str, chat: &str, text: &str, token: Option<&str>) -> Value {
    json!({"type": "send", "requestId": request_id, "id": chat, "trigger": "submit-message",
        "messages": [user_message(text)], "headers": headers(token), "body": {}})
}

/// A `resume` frame for chat `chat` after chunk `last` (all of the turn when `None`).
pub fn resume(request_id: &str, chat: &str, last: Option<u64>, token: Option<&str>) -> Value {
    let mut f = json!({"type": "resume", "requestId": request_id, "id": chat,
        "headers": headers(token), "body": {}});
    if let Some(last) = last {
        f["lastSequence"] = last.into();
    }
    f
}

fn headers(token: Option<&str>) -> Value {
    match token {
        Some(t) => json!({"Authorization": format!("Bearer {t}")}),
        None => json!({}),
    }
}

impl AiSocket {
    /// Connects with `?token=` for `user`.
    pub async fn connect(app: &TestApp, user: &str) -> Self {
        let url = format!(
            "ws://{}/api/ai-sdk/ws?token={}",
            app.addr,
            app.token_for(user)
        );
        Self::connect_request(url).await
    }

    /// Connects with no credentials (frames carry them).
    pub async fn connect_bare(app: &TestApp) -> Self {
        Self::connect_request(format!("ws://{}/api/ai-sdk/ws", app.addr)).await
    }

    pub async fn connect_request(request: impl IntoClientRequest + Unpin) -> Self {
        AiSocket::from(open(request).await)
    }

    pub fn from(ws: Stream) -> Self {
        AiSocket {
            ws,
            held: Default::default(),
        }
    }

    pub async fn send(&mut self, v: Value) {
        self.ws
            .send(Message::Text(v.to_string().into()))
            .await
            .unwrap();
    }

    pub async fn send_text(&mut self, text: &str) {
        self.ws.send(Message::Text(text.into())).await.unwrap();
    }

    /// The next JSON frame; panics on close or timeout.
    pub async fn next(&mut self) -> Value {
        match self.held.pop_front() {
            Some(f) => f,
            None => self.read_socket().await,
        }
    }

    async fn read_socket(&mut self) -> Value {
        next_json(&mut self.ws).await
    }

    /// The next frame for `request_id` (frames of other requests are held for later).
    pub async fn next_for(&mut self, request_id: &str) -> Value {
        if let Some(i) = self.held.iter().position(|f| f["requestId"] == request_id) {
            return self.held.remove(i).unwrap();
        }
        loop {
            let f = self.read_socket().await;
            if f["requestId"] == request_id {
                return f;
            }
            self.held.push_back(f);
        }
    }

    /// Chunks of `request_id` until `stop` says so (the chunk it accepts included) or the
    /// request ends.
    pub async fn read(
        &mut self,
        request_id: &str,
        mut stop: impl FnMut(&[(u64, Value)]) -> bool,
    ) -> Received {
        let mut chunks = Vec::new();
        loop {
            let f = self.next_for(request_id).await;
            match f["type"].as_str().unwrap() {
                "start" => continue,
                "chunk" => {
                    chunks.push((f["sequence"].as_u64().unwrap(), f["chunk"].clone()));
                    if stop(&chunks) {
                        return Received {
                            chunks,
                            last: Value::Null,
                        };
                    }
                }
                _ => return Received { chunks, last: f },
            }
        }
    }

    /// Every chunk of `request_id` to its end.
    pub async fn all(&mut self, request_id: &str) -> Received {
        self.read(request_id, |_| false).await
    }

    /// Reads until the server ends the socket; returns how.
    pub async fn ended(&mut self) -> Ended {
        loop {
            let next = tokio::time::timeout(WAIT, self.ws.next())
                .await
                .expect("socket ends within the wait");
            match next {
                None | Some(Err(_)) => return Ended::Dropped,
                Some(Ok(Message::Close(frame))) => {
                    return Ended::Close(frame.map(|f| u16::from(f.code)).unwrap_or(1005))
                }
                Some(Ok(_)) => continue,
            }
        }
    }
}

/// `POST /api/ai-sdk` with `body` as `user`: status, headers and the `data:` payloads of the
/// stream (or the JSON error).
pub async fn post_chat(
    app: &TestApp,
    user: &str,
    body: Value,
) -> (u16, reqwest::header::HeaderMap, Vec<String>) {
    let r = app
        .post("/api/ai-sdk", user)
        .json(&body)
        .send()
        .await
        .unwrap();
    read_sse(r).await
}

/// Status, headers and `data:` payloads of an SSE answer (the body whole when not SSE).
pub async fn read_sse(r: reqwest::Response) -> (u16, reqwest::header::HeaderMap, Vec<String>) {
    let status = r.status().as_u16();
    let headers = r.headers().clone();
    let text = tokio::time::timeout(WAIT, r.text())
        .await
        .expect("the stream ends within the wait")
        .unwrap();
    let is_sse = headers
        .get("content-type")
        .is_some_and(|v| v.to_str().unwrap().starts_with("text/event-stream"));
    if !is_sse {
        return (status, headers, vec![text]);
    }
    let data = text
        .lines()
        .filter_map(|l| l.strip_prefix("data: ").or_else(|| l.strip_prefix("data:")))
        .map(str::to_string)
        .collect();
    (status, headers, data)
}

/// The body `DefaultChatTransport` posts for `text` on chat `chat`.
pub fn chat_body(chat: &str, text: &str) -> Value {
    json!({"id": chat, "trigger": "submit-message", "messages": [user_message(text)]})
}
