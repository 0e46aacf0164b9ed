//! A small WebSocket test client over tokio-tungstenite.

use std::time::Duration;

use futures::{SinkExt, StreamExt};
use serde_json::Value;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use super::TestApp;

pub type Stream = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// How long any single wait for a frame may take before the test fails.
pub const WAIT: Duration = Duration::from_secs(10);

/// Opens a WebSocket; panics when it cannot.
pub async fn open(request: impl IntoClientRequest + Unpin) -> Stream {
    let (ws, _) = tokio_tungstenite::connect_async(request)
        .await
        .expect("ws connects");
    ws
}

/// The next text frame of `ws` as JSON, pings and pongs skipped; panics on close or timeout.
pub async fn next_json(ws: &mut Stream) -> Value {
    loop {
        let m = tokio::time::timeout(WAIT, ws.next())
            .await
            .expect("a frame within the wait")
            .expect("socket open")
            .expect("frame ok");
        match m {
            Message::Text(t) => return serde_json::from_str(t.as_str()).unwrap(),
            Message::Ping(_) | Message::Pong(_) => continue,
            other => panic!("unexpected frame {other:?}"),
        }
    }
}

pub struct WsClient {
    pub ws: Stream,
}

/// How the server ended the socket.
#[derive(Debug, PartialEq)]
pub enum Ended {
    Close(u16),
    /// Closed without a close frame (or reset).
    Dropped,
}

impl WsClient {
    /// Connects with no credentials (for first-frame auth).
    pub async fn connect_bare(app: &TestApp) -> Self {
        Self::connect_request(format!("ws://{}/api/ws", app.addr)).await
    }

    pub async fn connect_request(request: impl IntoClientRequest + Unpin) -> Self {
        WsClient {
            ws: open(request).await,
        }
    }

    /// Connects with a bearer header for `user` and waits for `ready`.
    pub async fn connect(app: &TestApp, user: &str) -> Self {
        Self::connect_with_token(app, &app.token_for(user)).await
    }

    pub async fn connect_with_token(app: &TestApp, token: &str) -> Self {
        Self::connect_ready(app, token).await.0
    }

    /// Connects with a bearer `token`; returns the client and its `ready` frame.
    pub async fn connect_ready(app: &TestApp, token: &str) -> (Self, Value) {
        let mut c = Self::connect_request(bearer_request(app, token)).await;
        let ready = c.next().await;
        assert_eq!(ready["type"], "ready", "{ready}");
        (c, ready)
    }

    pub async fn send(&mut self, v: Value) {
        self.ws
            .send(Message::Text(v.to_string().into()))
            .await
            .unwrap();
    }

    pub async fn send_raw(&mut self, m: Message) {
        self.ws.send(m).await.unwrap();
    }

    /// The next JSON frame; panics on close or timeout.
    pub async fn next(&mut self) -> Value {
        next_json(&mut self.ws).await
    }

    /// Frames up to and including the first that satisfies `done`.
    pub async fn until(&mut self, mut done: impl FnMut(&Value) -> bool) -> Vec<Value> {
        let mut out = Vec::new();
        loop {
            let v = self.next().await;
            let stop = done(&v);
            out.push(v);
            if stop {
                return out;
            }
        }
    }

    /// Frames until `n` `message.done` events arrived.
    pub async fn until_done(&mut self, n: usize) -> Vec<Value> {
        let mut seen = 0;
        self.until(|v| {
            if v["type"] == "message.done" {
                seen += 1;
            }
            seen == n
        })
        .await
    }

    /// Reads until the server ends the socket; returns how.
    pub async fn ended(&mut self) -> Ended {
        self.ended_saying().await.0
    }

    /// Reads until the server ends the socket; returns how, and the close frame's reason.
    pub async fn ended_saying(&mut self) -> (Ended, String) {
        loop {
            let next = tokio::time::timeout(WAIT, self.ws.next())
                .await
                .expect("socket ends within the wait");
            match next {
                None | Some(Err(_)) => return (Ended::Dropped, String::new()),
                Some(Ok(Message::Close(frame))) => {
                    let code = frame.as_ref().map_or(1005, |f| u16::from(f.code));
                    let reason = frame.map(|f| f.reason.to_string()).unwrap_or_default();
                    return (Ended::Close(code), reason);
                }
                Some(Ok(_)) => continue,
            }
        }
    }

    /// A ping/pong round trip: returns every frame that arrived before the pong.
    pub async fn sync(&mut self, id: &str) -> Vec<Value> {
        self.send(serde_json::json!({"type": "ping", "request_id": id}))
            .await;
        let frames = self
            .until(|v| v["type"] == "pong" && v["request_id"] == id)
            .await;
        frames[..frames.len() - 1].to_vec()
    }
}

/// An upgrade request to `/api/ws` carrying `Authorization: Bearer <token>`.
pub fn bearer_request(
    app: &TestApp,
    token: &str,
) -> tokio_tungstenite::tungstenite::handshake::client::Request {
    let mut req = format!("ws://{}/api/ws", app.addr)
        .into_client_request()
        .unwrap();
    req.headers_mut()
        .insert("authorization", format!("Bearer {token}").parse().unwrap());
    req
}

/// `frames` as one stream, whatever instance or pace delivered them: without `pos` (each
/// instance writes its own), and with adjacent deltas of a message merged into one frame whose
/// `count` says how many it covers (a socket that reads later gets them merged).
pub fn normalised(frames: &[Value]) -> Vec<Value> {
    let mut out: Vec<Value> = Vec::new();
    for f in frames {
        let mut f = f.clone();
        if let Value::Object(map) = &mut f {
            assert!(map.remove("pos").is_some(), "a frame without pos: {f}");
        }
        if f["type"] == "stream.delta" {
            let count = f["count"].as_u64().unwrap_or(1);
            if let Some(prev) = out.last_mut().filter(|p| p["type"] == "stream.delta") {
                let next_seq = prev["seq"].as_u64().unwrap() + prev["count"].as_u64().unwrap();
                if prev["message_id"] == f["message_id"] && f["seq"].as_u64() == Some(next_seq) {
                    let text = format!(
                        "{}{}",
                        prev["delta"].as_str().unwrap(),
                        f["delta"].as_str().unwrap()
                    );
                    let total = prev["count"].as_u64().unwrap_or(1) + count;
                    prev["delta"] = Value::from(text);
                    prev["count"] = Value::from(total);
                    continue;
                }
            }
            f["count"] = Value::from(count);
        }
        out.push(f);
    }
    out
}
