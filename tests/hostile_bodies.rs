//! Bodies an attacker shapes: 10 MB sent to every route that reads a body (with a length and
//! chunked) is refused 413 in our shape once the route's limit is read, not after the rest; JSON nested 100,000
//! deep, on every way JSON comes in (REST, SSE, ChatKit, MCP, the development token, a
//! WebSocket frame), whole or inside a field, is refused 400 (`invalid_frame` on the socket)
//! and nothing overflows a stack. The server serves everyone else throughout.

mod common;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

use common::chatkit::ck;
use common::ws::WsClient;
use common::{assert_error, TestApp};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The hostile body's size.
const HUGE: usize = 10 * 1024 * 1024;
/// The body limits of the server under test: JSON's default, and the attachment limit it sets.
const JSON_LIMIT: usize = 64 * 1024;
const ATTACHMENT_LIMIT: usize = 1024 * 1024;
/// What may be written on top of what the server read before the answer is seen: the
/// sockets' buffers, and whatever the writer sends while the reader waits to run.
const BUFFERED: usize = 4 * 1024 * 1024;
/// How deep the hostile JSON nests.
const DEEP: usize = 100_000;

/// One request of `HUGE` bytes, written as fast as the server takes them while its answer is
/// read: the status and JSON body, and how many body bytes were written when it came.
async fn send_huge(
    app: &TestApp,
    method: &str,
    path: &str,
    content_type: &str,
    chunked: bool,
) -> (u16, Value, usize) {
    // A small send buffer, so what counts as written is close to what the server took.
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_send_buffer_size(64 * 1024).unwrap();
    let stream = socket.connect(app.addr).await.unwrap();
    let (mut read, mut write) = stream.into_split();
    let length = if chunked {
        "transfer-encoding: chunked".to_string()
    } else {
        format!("content-length: {HUGE}")
    };
    let head = format!(
        "{method} {path} HTTP/1.1\r\nhost: {}\r\nauthorization: Bearer {}\r\n\
         content-type: {content_type}\r\n{length}\r\n\r\n",
        app.addr,
        app.token_for("alice")
    );
    let answered = Arc::new(AtomicBool::new(false));
    let written = Arc::new(AtomicUsize::new(0));
    let writer = {
        let (answered, written) = (answered.clone(), written.clone());
        tokio::spawn(async move {
            write.write_all(head.as_bytes()).await?;
            let piece = vec![b'['; 64 * 1024];
            while written.load(Ordering::Relaxed) < HUGE && !answered.load(Ordering::Relaxed) {
                if chunked {
                    write.write_all(b"10000\r\n").await?;
                }
                write.write_all(&piece).await?;
                if chunked {
                    write.write_all(b"\r\n").await?;
                }
                written.fetch_add(piece.len(), Ordering::Relaxed);
            }
            std::io::Result::Ok(())
        })
    };
    let mut answer = Vec::new();
    let mut buf = [0u8; 4096];
    let (status, body) = loop {
        let n = tokio::time::timeout(common::ws::WAIT, read.read(&mut buf))
            .await
            .expect("answered in time")
            .unwrap_or(0);
        assert!(n > 0, "{method} {path}: closed without an answer");
        answer.extend_from_slice(&buf[..n]);
        if let Some(parsed) = parse_response(&answer) {
            break parsed;
        }
    };
    let sent = written.load(Ordering::Relaxed);
    answered.store(true, Ordering::Relaxed);
    // The writer may have hit the close; either way it stops.
    let _ = writer.await.unwrap();
    (status, body, sent)
}

/// A whole response with a `content-length` body: its status and JSON.
fn parse_response(bytes: &[u8]) -> Option<(u16, Value)> {
    let end = bytes.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = String::from_utf8_lossy(&bytes[..end]).to_ascii_lowercase();
    let status = head[9..12].parse().unwrap();
    let length: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .map(|v| v.trim().parse().unwrap())
        .expect("a content-length");
    let body = bytes.get(end + 4..end + 4 + length)?;
    Some((status, serde_json::from_slice(body).unwrap()))
}

#[tokio::test]
async fn ten_megabyte_bodies_are_refused_without_being_read() {
    // An attachment limit of 1 MiB (10 MiB by default), so 10 MB is over every limit by far
    // and a server that read it all before refusing could not pass for one that stopped.
    let app = TestApp::spawn_with(|c| c.attachment_max_bytes = ATTACHMENT_LIMIT).await;
    let create = json!({"type": "attachments.create",
        "params": {"name": "a.txt", "size": 4, "mime_type": "text/plain"}});
    let attachment = ck(&app, "alice", create).await.json()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let upload = format!("/api/chatkit/attachments/{attachment}/upload");
    let routes = [
        ("POST", "/api/alice/chat", "application/json"),
        ("POST", "/api/alice/chat/stream", "application/json"),
        ("POST", "/api/chatkit", "application/json"),
        (
            "POST",
            "/api/chatkit/attachments",
            "multipart/form-data; boundary=x",
        ),
        ("POST", upload.as_str(), "text/plain"),
        ("PUT", upload.as_str(), "text/plain"),
        ("POST", "/api/dev/token", "application/json"),
        ("POST", "/api/mcp", "application/json"),
    ];
    for (method, path, content_type) in routes {
        for chunked in [false, true] {
            let (status, body, sent) = send_huge(&app, method, path, content_type, chunked).await;
            let what = format!("{method} {path}, chunked: {chunked}");
            assert_eq!(status, 413, "{what}: {body}");
            assert_error(&body, "payload_too_large");
            let limit = if content_type == "application/json" {
                JSON_LIMIT
            } else {
                ATTACHMENT_LIMIT
            };
            assert!(
                sent <= limit + BUFFERED,
                "{what}: {sent} bytes taken before the answer"
            );
            assert_eq!(
                app.client()
                    .get(format!("{}/api/health", app.url))
                    .send()
                    .await
                    .unwrap()
                    .status(),
                200,
                "{what}"
            );
        }
    }
    // The attachment still takes its bytes, and nothing of the above was stored.
    let r = app
        .post(&upload, "alice")
        .body("data")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(app.tasks("alice").await.is_empty());
}

/// `DEEP` arrays, one inside the other.
fn nested_arrays() -> String {
    format!("{}{}", "[".repeat(DEEP), "]".repeat(DEEP))
}

/// `DEEP` objects, one inside the other.
fn nested_objects() -> String {
    format!("{}1{}", r#"{"a":"#.repeat(DEEP), "}".repeat(DEEP))
}

/// `valid` with `deep` in place of the string `"DEEP"`.
fn inside(valid: Value, deep: &str) -> String {
    valid.to_string().replace(r#""DEEP""#, deep)
}

#[tokio::test]
async fn deeply_nested_json_is_refused_on_every_way_in() {
    // Limits raised so the nesting reaches the parsers instead of the size checks.
    let app = TestApp::spawn_with(|c| {
        c.max_body_bytes = 2 * 1024 * 1024;
        c.ws.max_frame_bytes = 2 * 1024 * 1024;
    })
    .await;
    let mut ws = WsClient::connect(&app, "alice").await;
    let ways = [
        (
            "/api/alice/chat",
            json!({"message": "hi", "metadata": "DEEP"}),
        ),
        (
            "/api/alice/chat/stream",
            json!({"message": "hi", "metadata": "DEEP"}),
        ),
        (
            "/api/chatkit",
            json!({"type": "threads.list", "params": {"after": "DEEP"}}),
        ),
        (
            "/api/chatkit",
            json!({"type": "threads.create", "params": {"input": {
            "content": [{"type": "input_tag", "id": "t", "text": "T", "data": "DEEP"}]}}}),
        ),
        ("/api/dev/token", json!({"user_id": "DEEP"})),
        (
            "/api/mcp",
            json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": "DEEP"}),
        ),
    ];
    for deep in [nested_arrays(), nested_objects()] {
        for (path, valid) in &ways {
            for body in [deep.clone(), inside(valid.clone(), &deep)] {
                let r = app
                    .post(path, "alice")
                    .header("accept", "application/json, text/event-stream")
                    .header("content-type", "application/json")
                    .body(body)
                    .send()
                    .await
                    .unwrap();
                let status = r.status().as_u16();
                let v: Value = serde_json::from_str(&r.text().await.unwrap()).unwrap();
                assert_eq!(status, 400, "{path}: {v}");
                if *path == "/api/mcp" {
                    assert!(v["error"]["code"].is_i64(), "{v}");
                } else {
                    assert!(v["error"]["code"].is_string(), "{path}: {v}");
                }
            }
            let frame = inside(
                json!({"type": "message", "content": "hi", "metadata": "DEEP",
                "request_id": "deep"}),
                &deep,
            );
            for text in [deep.clone(), frame] {
                ws.send_raw(tokio_tungstenite::tungstenite::Message::Text(text.into()))
                    .await;
                let e = ws.next().await;
                assert_eq!(e["code"], "invalid_frame", "{e}");
            }
        }
    }
    // Everything still works, and nothing was stored.
    assert!(ws.sync("alive").await.is_empty());
    assert!(app.tasks("alice").await.is_empty());
    app.say("alice", "add buy milk", None).await;
}
