//! Text with a NUL (U+0000) is refused on every way in, with the same answer on SQLite (which
//! could store it) and PostgreSQL (which cannot): 400 `invalid_request` over HTTP, an
//! `invalid_frame` event on the WebSocket (an `invalid_frame` error on the AI SDK's), JSON-RPC
//! -32602 over MCP; and nothing is stored.

mod common;

use common::chatkit::{ck, create, text_input, wait_idle};
use common::ws::WsClient;
use common::{assert_error, fresh_postgres, json_of, TestApp};
use serde_json::{json, Value};

const NUL: &str = "a\u{0}b";

/// A 400 `invalid_request` that names the NUL.
fn assert_refused(status: u16, body: &Value, what: &str) {
    assert_eq!(status, 400, "{what}: {body}");
    assert_error(body, "invalid_request");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(message.contains("NUL"), "{what}: {message}");
}

async fn rest_and_sse(app: &TestApp) {
    for (what, body) in [
        ("message", json!({"message": NUL})),
        (
            "metadata key",
            json!({"message": "hi", "metadata": {NUL: 1}}),
        ),
        (
            "metadata value",
            json!({"message": "hi", "metadata": {"k": [NUL]}}),
        ),
        (
            "conversation id",
            json!({"message": "hi", "conversation_id": NUL}),
        ),
    ] {
        let (status, v) = app.chat("alice", body.clone()).await;
        assert_refused(status, &v, what);
        let r = app
            .post("/api/alice/chat/stream", "alice")
            .json(&body)
            .send()
            .await
            .unwrap();
        let (status, v) = json_of(r).await;
        assert_refused(status, &v, what);
    }
    for path in [
        "/api/alice/conversations/%00/messages",
        "/api/alice/conversations/%00/stream",
        "/api/alice/conversations?after=%00",
        "/api/alice/tasks?status=all%00",
    ] {
        let r = app.get(path, "alice").send().await.unwrap();
        let (status, v) = json_of(r).await;
        assert_refused(status, &v, path);
    }
}

async fn websocket(app: &TestApp) {
    let mut ws = WsClient::connect(app, "alice").await;
    for (n, frame) in [
        json!({"type": "message", "content": NUL}),
        json!({"type": "message", "content": "hi", "metadata": {"k": NUL}}),
        json!({"type": "message", "content": "hi", "metadata": {NUL: true}}),
        json!({"type": "thread.load", "thread_id": NUL}),
    ]
    .into_iter()
    .enumerate()
    {
        let mut frame = frame;
        frame["request_id"] = json!(format!("r{n}"));
        ws.send(frame).await;
        let e = ws.next().await;
        assert_eq!(e["type"], "error", "{e}");
        assert_eq!(e["code"], "invalid_frame", "{e}");
        assert_eq!(e["request_id"], format!("r{n}"), "{e}");
        assert!(e["message"].as_str().unwrap().contains("NUL"), "{e}");
    }
}

async fn chatkit(app: &TestApp) -> String {
    let (thread, _) = create(app, "alice", "hello").await;
    wait_idle(app).await;
    for (what, body) in [
        (
            "input text",
            json!({"type": "threads.create", "params": {"input": text_input(NUL)}}),
        ),
        (
            "title",
            json!({"type": "threads.update", "params": {"thread_id": thread, "title": NUL}}),
        ),
        (
            "attachment name",
            json!({"type": "attachments.create",
                   "params": {"name": NUL, "size": 4, "mime_type": "text/plain"}}),
        ),
        (
            "metadata",
            json!({"type": "threads.add_user_message", "metadata": {"k": NUL},
                   "params": {"thread_id": thread, "input": text_input("hi")}}),
        ),
    ] {
        let a = ck(app, "alice", body).await;
        assert_refused(a.status, &a.json(), what);
    }
    // A multipart upload's file name: a part's head cannot carry a NUL, so the body is refused
    // whole before any name is read.
    let part = reqwest::multipart::Part::bytes(b"data".to_vec())
        .file_name(NUL)
        .mime_str("text/plain")
        .unwrap();
    let r = app
        .post("/api/chatkit/attachments", "alice")
        .multipart(reqwest::multipart::Form::new().part("file", part))
        .send()
        .await
        .unwrap();
    let (status, v) = json_of(r).await;
    assert_eq!(status, 400, "{v}");
    assert_error(&v, "invalid_request");
    thread
}

async fn mcp(app: &TestApp) {
    let post = |session: Option<&str>| {
        let mut req = app
            .post("/api/mcp", "alice")
            .header("accept", "application/json, text/event-stream");
        if let Some(id) = session {
            req = req.header("mcp-session-id", id);
        }
        req
    };
    let init = json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-06-18", "capabilities": {},
        "clientInfo": {"name": "nul", "version": "1"}}});
    let r = post(None).json(&init).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let session = r.headers()["mcp-session-id"].to_str().unwrap().to_string();
    let note = json!({"jsonrpc": "2.0", "method": "notifications/initialized"});
    let r = post(Some(&session)).json(&note).send().await.unwrap();
    assert_eq!(r.status(), 202);
    let call = json!({"jsonrpc": "2.0", "id": 7, "method": "tools/call",
        "params": {"name": "add_task", "arguments": {"title": NUL}}});
    let r = post(Some(&session)).json(&call).send().await.unwrap();
    let (status, v) = json_of(r).await;
    assert_eq!(status, 400, "{v}");
    assert_eq!(v["id"], 7, "{v}");
    assert_eq!(v["error"]["code"], -32602, "{v}");
    assert!(v["error"]["message"].as_str().unwrap().contains("NUL"));
}

/// The AI SDK's ways in: its HTTP body (text, chat id, metadata), its resume path, and a
/// frame on its socket.
async fn ai_sdk(app: &TestApp) {
    use common::ai_sdk::{chat_body, post_chat, send, AiSocket};
    let mut in_metadata = chat_body("c", "hi");
    in_metadata["metadata"] = json!({"k": NUL});
    for (what, body) in [
        ("text", chat_body("c", NUL)),
        ("chat id", chat_body(NUL, "hi")),
        ("metadata", in_metadata),
    ] {
        let (status, _, data) = post_chat(app, "alice", body).await;
        assert_refused(status, &serde_json::from_str(&data[0]).unwrap(), what);
    }
    let r = app.get("/api/ai-sdk/%00/stream", "alice").send().await;
    let (status, v) = json_of(r.unwrap()).await;
    assert_refused(status, &v, "the resume path");
    let mut s = AiSocket::connect(app, "alice").await;
    s.send(send("n1", "c", NUL, None)).await;
    let f = s.next().await;
    assert_eq!(f["requestId"], "n1", "{f}");
    let text = f["errorText"].as_str().unwrap();
    assert!(
        text.starts_with("invalid_frame: ") && text.contains("NUL"),
        "{f}"
    );
}

/// Every way in refuses a NUL, nothing of it is stored, and the same text without it works.
async fn refused_everywhere(app: &TestApp) {
    rest_and_sse(app).await;
    websocket(app).await;
    let thread = chatkit(app).await;
    mcp(app).await;
    ai_sdk(app).await;

    // Only the ChatKit thread made on purpose exists, untouched, and no task.
    let r = app.get("/api/alice/conversations", "alice").send().await;
    let (_, listed) = json_of(r.unwrap()).await;
    let threads = listed["data"].as_array().unwrap();
    assert_eq!(threads.len(), 1, "{listed}");
    assert_eq!(threads[0]["id"], thread.as_str());
    assert!(!threads[0].to_string().contains("\\u0000"), "{listed}");
    assert!(app.tasks("alice").await.is_empty());

    // The backend itself is fine: the same requests without the NUL succeed.
    let v = app.say("alice", "ab", None).await;
    assert_eq!(v["status"], "completed", "{v}");
}

#[tokio::test]
async fn nul_is_refused_on_sqlite() {
    let app = TestApp::spawn().await;
    refused_everywhere(&app).await;
}

#[tokio::test]
async fn nul_is_refused_on_postgres() {
    let Some(url) = fresh_postgres().await else {
        eprintln!("TEST_DATABASE_URL not set; skipping");
        return;
    };
    let app = TestApp::spawn_on(&url).await;
    refused_everywhere(&app).await;
}
