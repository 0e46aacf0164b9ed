//! `client_message_id`: a send retried with the same id (in sequence, or twice at once, on the
//! WebSocket, REST or SSE, on one instance or two) gets the turn the first one started and
//! never runs a tool again; bad ids are refused.

mod common;

use std::time::Duration;

use common::ws::WsClient;
use common::{assert_error, json_of, TestApp};
use serde_json::{json, Value};

const ADD: &str = "add a task to buy milk";

fn paced(c: &mut agentwire::Config) {
    c.offline_delta_delay = Duration::from_millis(40);
}

fn send(content: &str, client_id: &str, request_id: &str) -> Value {
    json!({"type": "message", "content": content, "client_message_id": client_id, "request_id": request_id})
}

async fn threads(app: &TestApp, user: &str) -> usize {
    let r = app
        .get(&format!("/api/{user}/conversations"), user)
        .send()
        .await
        .unwrap();
    json_of(r).await.1["data"].as_array().unwrap().len()
}

/// The parsed `data:` lines of an SSE body.
fn sse_events(body: &str) -> Vec<Value> {
    body.lines()
        .filter_map(|l| l.strip_prefix("data:"))
        .map(|d| serde_json::from_str(d.trim()).unwrap())
        .collect()
}

/// What an event stream says the answer is: the text an in-progress `message.added` holds plus
/// the deltas from its `next_seq` on, or the whole of its deltas.
fn rebuilt(events: &[Value], answer: &str) -> String {
    let (mut text, from) = match events.iter().find(|e| {
        e["type"] == "message.added"
            && e["message"]["id"] == answer
            && e["message"].get("next_seq").is_some()
    }) {
        Some(added) => (
            added["message"]["content"].as_str().unwrap().to_string(),
            added["message"]["next_seq"].as_u64().unwrap(),
        ),
        None => (String::new(), 0),
    };
    let mut next = from;
    for e in events {
        if e["type"] == "stream.delta" && e["message_id"] == answer {
            let seq = e["seq"].as_u64().unwrap();
            assert!(seq >= from, "a delta the loaded text already holds: {e}");
            assert_eq!(seq, next, "deltas out of order");
            next += 1;
            text.push_str(e["delta"].as_str().unwrap());
        }
    }
    text
}

#[tokio::test]
async fn a_socket_send_repeated_later_gets_the_same_turn() {
    let app = TestApp::spawn().await;
    let mut ws = WsClient::connect(&app, "ana").await;
    ws.send(send(ADD, "m-1", "r1")).await;
    let first = ws.until_done(1).await;
    let user_message = first
        .iter()
        .find(|f| f["type"] == "message.added" && f["message"]["role"] == "user")
        .unwrap();
    let done = first.last().unwrap();

    ws.send(send(ADD, "m-1", "r2")).await;
    let again = ws.until(|f| f["type"] == "message.done").await;
    assert_eq!(again.len(), 2, "{again:?}");
    assert_eq!(again[0]["type"], "message.added");
    assert_eq!(again[0]["message"], user_message["message"]);
    assert_eq!(again[1]["message"], done["message"]);
    assert!(again.iter().all(|f| f["request_id"] == "r2"));
    // Nothing more happens: no second turn on any socket.
    assert!(ws.sync("p").await.is_empty());
    assert_eq!(app.tasks("ana").await.len(), 1);
    assert_eq!(threads(&app, "ana").await, 1);
}

#[tokio::test]
async fn a_socket_send_sent_twice_at_once_runs_once() {
    let app = TestApp::spawn_with(paced).await;
    // A new thread from two sockets at once, then a message on it from both at once.
    let mut a = WsClient::connect(&app, "bea").await;
    let mut b = WsClient::connect(&app, "bea").await;
    let (x, y) = (send(ADD, "new", "a1"), send(ADD, "new", "b1"));
    tokio::join!(a.send(x), b.send(y));
    let on_a = a
        .until(|f| f["type"] == "message.done" && f["request_id"] == "a1")
        .await;
    let on_b = b
        .until(|f| f["type"] == "message.done" && f["request_id"] == "a1")
        .await;
    let thread = on_a.last().unwrap()["thread_id"]
        .as_str()
        .unwrap()
        .to_string();
    // Exactly one turn ran (its events carry one request id); the other send was answered
    // with it on its own socket.
    let ran: Vec<&Value> = on_a
        .iter()
        .filter(|f| f["type"] == "message.done")
        .collect();
    assert_eq!(ran.len(), 1, "{on_a:?}");
    let repeated: Vec<Value> = on_b
        .iter()
        .chain(b.sync("s").await.iter())
        .filter(|f| f["request_id"] == "b1")
        .cloned()
        .collect();
    assert_eq!(repeated[0]["type"], "message.added");
    assert_eq!(repeated[0]["message"]["role"], "user");
    assert_eq!(repeated[0]["thread_id"], thread.as_str());
    assert!(
        matches!(
            repeated[1]["type"].as_str(),
            Some("message.added" | "message.done")
        ),
        "{repeated:?}"
    );
    assert_eq!(repeated[1]["message"]["role"], "assistant");
    assert_eq!(app.tasks("bea").await.len(), 1);
    assert_eq!(threads(&app, "bea").await, 1);

    let on_thread = |id: &str, rid: &str| {
        json!({"type": "message", "thread_id": thread, "content": "add a task to call mom",
               "client_message_id": id, "request_id": rid})
    };
    let (x, y) = (on_thread("again", "a2"), on_thread("again", "b2"));
    tokio::join!(a.send(x), b.send(y));
    let done = a
        .until(|f| f["type"] == "message.done" && f["request_id"] != "b2")
        .await;
    let winner = done.last().unwrap()["request_id"].clone();
    let other = b.sync("s2").await;
    assert!(
        other.iter().all(|f| f["type"] != "error"),
        "the repeat was refused: {other:?}"
    );
    assert_eq!(app.tasks("bea").await.len(), 2, "the tool ran twice");
    assert!(winner == "a2" || winner == "b2");
}

#[tokio::test]
async fn a_rest_send_repeated_in_sequence_or_at_once_runs_once() {
    let app = TestApp::spawn_with(paced).await;
    let body = json!({"message": ADD, "client_message_id": "rest-1"});
    let (s1, first) = app.chat("cy", body.clone()).await;
    assert_eq!(s1, 200, "{first}");
    let (s2, again) = app.chat("cy", body).await;
    assert_eq!(s2, 200, "{again}");
    for key in ["conversation_id", "message", "tool_calls", "status"] {
        assert_eq!(first[key], again[key], "{key}");
    }
    assert_eq!(app.tasks("cy").await.len(), 1);

    // At once: one runs, the other waits for it and answers the same.
    let body = json!({"message": "add a task to call mom", "client_message_id": "rest-2"});
    let ((s1, v1), (s2, v2)) = tokio::join!(app.chat("cy", body.clone()), app.chat("cy", body));
    assert_eq!((s1, s2), (200, 200), "{v1} {v2}");
    assert_eq!(v1["conversation_id"], v2["conversation_id"]);
    assert_eq!(v1["message"], v2["message"]);
    assert_eq!(v1["status"], "completed");
    assert_eq!(app.tasks("cy").await.len(), 2);
    assert_eq!(threads(&app, "cy").await, 2);
}

#[tokio::test]
async fn an_sse_send_repeated_streams_the_same_turn_to_its_end() {
    let app = TestApp::spawn_with(paced).await;
    let stream = |id: &str| {
        app.post("/api/di/chat/stream", "di")
            .json(&json!({"message": ADD, "client_message_id": id}))
            .send()
    };
    let (r1, r2) = tokio::join!(stream("sse-1"), stream("sse-1"));
    let (b1, b2) = tokio::join!(r1.unwrap().text(), r2.unwrap().text());
    let (e1, e2) = (sse_events(&b1.unwrap()), sse_events(&b2.unwrap()));
    let done1 = e1.last().unwrap();
    let done2 = e2.last().unwrap();
    assert_eq!(done1["type"], "message.done", "{e1:?}");
    assert_eq!(done2["type"], "message.done", "{e2:?}");
    assert_eq!(done1["message"], done2["message"]);
    let answer = done1["message"]["id"].as_str().unwrap();
    let text = done1["message"]["content"].as_str().unwrap();
    assert_eq!(rebuilt(&e1, answer), text);
    assert_eq!(rebuilt(&e2, answer), text);
    assert_eq!(app.tasks("di").await.len(), 1);

    // Later, the stream of an ended turn: its user message and its end.
    let later = stream("sse-1").await.unwrap().text().await.unwrap();
    let events = sse_events(&later);
    let kinds: Vec<&str> = events.iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["message.added", "message.done"]);
    assert_eq!(events[1]["message"], done1["message"]);
    assert_eq!(app.tasks("di").await.len(), 1);
}

#[tokio::test]
async fn bad_client_message_ids_are_refused() {
    let app = TestApp::spawn().await;
    let long = "x".repeat(65);
    for bad in [json!(""), json!(long), json!("a\u{7}b"), json!(5)] {
        let (s, v) = app
            .chat("ed", json!({"message": ADD, "client_message_id": bad}))
            .await;
        assert_eq!(s, 400, "{bad}: {v}");
        assert_error(&v, "invalid_request");
        let r = app
            .post("/api/ed/chat/stream", "ed")
            .json(&json!({"message": ADD, "client_message_id": bad}))
            .send()
            .await
            .unwrap();
        let (s, v) = json_of(r).await;
        assert_eq!(s, 400, "{bad}: {v}");
        assert_error(&v, "invalid_request");
    }
    let mut ws = WsClient::connect(&app, "ed").await;
    for bad in [json!(""), json!(long), json!(5)] {
        ws.send(
            json!({"type": "message", "content": ADD, "client_message_id": bad, "request_id": "b"}),
        )
        .await;
        let e = ws.next().await;
        assert_eq!(
            (&e["type"], &e["code"]),
            (&json!("error"), &json!("invalid_frame")),
            "{e}"
        );
        assert_eq!(e["request_id"], "b");
    }
    assert!(app.tasks("ed").await.is_empty());
    // 64 characters, any of them, is fine.
    let (s, v) = app
        .chat(
            "ed",
            json!({"message": ADD, "client_message_id": "é".repeat(64)}),
        )
        .await;
    assert_eq!(s, 200, "{v}");
}

#[tokio::test]
async fn a_send_repeated_on_another_instance_runs_once() {
    let Some(url) = common::fresh_postgres().await else {
        eprintln!("TEST_DATABASE_URL not set: skipping");
        return;
    };
    let a = TestApp::spawn_on_with(&url, paced).await;
    let b = TestApp::spawn_on_with(&url, paced).await;
    let v = a.say("flo", "hello", None).await;
    let thread = v["conversation_id"].clone();
    // At once on one thread through two instances: the claim and the id decide together.
    let body = json!({"message": ADD, "conversation_id": thread, "client_message_id": "x-1"});
    let ((s1, v1), (s2, v2)) = tokio::join!(a.chat("flo", body.clone()), b.chat("flo", body));
    assert_eq!((s1, s2), (200, 200), "{v1} {v2}");
    assert_eq!(v1["message"], v2["message"]);
    // In sequence on a new thread.
    let body = json!({"message": "add a task to call mom", "client_message_id": "x-2"});
    let (_, first) = a.chat("flo", body.clone()).await;
    let (s, again) = b.chat("flo", body).await;
    assert_eq!(s, 200, "{again}");
    assert_eq!(first["conversation_id"], again["conversation_id"]);
    assert_eq!(b.tasks("flo").await.len(), 2);
}
