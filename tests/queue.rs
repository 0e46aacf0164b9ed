//! `on_busy: "enqueue"`: a message sent to a thread that is answering waits in the thread's
//! queue, stored, visible to every socket, and runs when the turns before it end; it can be
//! cancelled before it runs. Over the WebSocket, REST and SSE, across a restart; across
//! instances in tests/cluster.rs.

mod common;

use std::time::Duration;

use common::ws::WsClient;
use common::{assert_error, json_of, TestApp};
use serde_json::{json, Value};

async fn paced() -> TestApp {
    TestApp::spawn_with(|c| c.offline_delta_delay = Duration::from_millis(20)).await
}

/// Starts a slow answer on a new thread and waits for its first delta; returns the thread id.
async fn busy_thread(c: &mut WsClient) -> String {
    c.send(json!({"type": "message", "content": "help", "request_id": "first"}))
        .await;
    let frames = c.until(|f| f["type"] == "stream.delta").await;
    frames[0]["thread"]["id"].as_str().unwrap().to_string()
}

fn enqueue(thread: &str, content: &str, request_id: &str) -> Value {
    json!({"type": "message", "thread_id": thread, "content": content,
           "on_busy": "enqueue", "request_id": request_id})
}

async fn load(c: &mut WsClient, thread: &str) -> Value {
    c.send(json!({"type": "thread.load", "thread_id": thread, "request_id": "load"}))
        .await;
    c.until(|f| f["type"] == "thread").await.pop().unwrap()
}

fn roles_and_contents(thread: &Value) -> Vec<(String, String)> {
    thread["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            let role = m["role"].as_str().unwrap().to_string();
            let status = m["status"].as_str().unwrap().to_string();
            let content = match role.as_str() {
                "user" => m["content"].as_str().unwrap().to_string(),
                _ => status,
            };
            (role, content)
        })
        .collect()
}

#[tokio::test]
async fn queued_messages_run_in_order_when_the_running_turn_ends_and_every_tab_sees_them() {
    let app = paced().await;
    let mut c = WsClient::connect(&app, "q").await;
    let mut tab = WsClient::connect(&app, "q").await;
    let thread = busy_thread(&mut c).await;
    c.send(enqueue(&thread, "add buy milk", "q1")).await;
    c.send(enqueue(&thread, "add call mom", "q2")).await;
    let queued: Vec<Value> = c
        .until(|f| f["type"] == "message.queued" && f["request_id"] == "q2")
        .await
        .into_iter()
        .filter(|f| f["type"] == "message.queued")
        .collect();
    assert_eq!(queued.len(), 2, "{queued:?}");
    assert_eq!(queued[0]["request_id"], "q1");
    assert_eq!(queued[0]["message"]["position"], 1);
    assert_eq!(queued[0]["message"]["status"], "queued");
    assert_eq!(queued[0]["message"]["content"], "add buy milk");
    assert_eq!(queued[1]["message"]["position"], 2);
    let (first, second) = (
        queued[0]["message"]["id"].clone(),
        queued[1]["message"]["id"].clone(),
    );
    // The other tab sees the queue too, and so does a load.
    let seen = tab
        .until(|f| f["type"] == "message.queued" && f["message"]["id"] == second)
        .await;
    assert!(seen
        .iter()
        .any(|f| f["type"] == "message.queued" && f["message"]["id"] == first));
    let mut other = WsClient::connect(&app, "q").await;
    let loaded = load(&mut other, &thread).await;
    let ids: Vec<&Value> = loaded["queued"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| &m["id"])
        .collect();
    if loaded["running"] == true {
        assert_eq!(ids, [&first, &second], "{loaded}");
    }

    // The running answer ends, then each queued message runs, in order, under its own id and
    // with its send's request_id.
    let frames = c.until_done(3).await;
    let kinds: Vec<(String, Value)> = frames
        .iter()
        .filter(|f| {
            matches!(
                f["type"].as_str(),
                Some("message.unqueued" | "message.done" | "message.added")
            )
        })
        .map(|f| {
            let id = match f["type"].as_str() {
                Some("message.unqueued") => f["message_id"].clone(),
                _ => f["message"]["id"].clone(),
            };
            (f["type"].as_str().unwrap().to_string(), id)
        })
        .collect();
    let pos = |kind: &str, id: &Value| {
        kinds
            .iter()
            .position(|(k, i)| k == kind && i == id)
            .unwrap_or_else(|| panic!("no {kind} for {id} in {kinds:?}"))
    };
    let done: Vec<usize> = kinds
        .iter()
        .enumerate()
        .filter(|(_, (k, _))| k == "message.done")
        .map(|(i, _)| i)
        .collect();
    assert!(done[0] < pos("message.unqueued", &first));
    assert!(pos("message.unqueued", &first) < pos("message.added", &first));
    assert!(pos("message.added", &first) < done[1]);
    assert!(done[1] < pos("message.unqueued", &second));
    assert!(pos("message.added", &second) < done[2]);
    let added = frames
        .iter()
        .find(|f| f["type"] == "message.added" && f["message"]["id"] == first)
        .unwrap();
    assert_eq!(added["request_id"], "q1");
    assert_eq!(
        frames
            .iter()
            .filter(|f| f["type"] == "message.done")
            .map(|f| f["message"]["status"].as_str().unwrap())
            .collect::<Vec<_>>(),
        ["completed", "completed", "completed"]
    );

    // Both ran their tools, once each, and the thread reads in order with nothing queued.
    let titles: Vec<String> = app
        .tasks("q")
        .await
        .iter()
        .map(|t| t["title"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(titles, ["buy milk", "call mom"]);
    let loaded = load(&mut c, &thread).await;
    assert_eq!(
        roles_and_contents(&loaded),
        [
            ("user".into(), "help".into()),
            ("assistant".into(), "completed".into()),
            ("user".into(), "add buy milk".into()),
            ("assistant".into(), "completed".into()),
            ("user".into(), "add call mom".into()),
            ("assistant".into(), "completed".into()),
        ]
    );
    assert_eq!(loaded["queued"], json!([]));
    assert_eq!(loaded["messages"][2]["id"], first);
}

#[tokio::test]
async fn a_queued_message_can_be_cancelled_before_it_runs() {
    let app = paced().await;
    let mut c = WsClient::connect(&app, "qc").await;
    let thread = busy_thread(&mut c).await;
    c.send(enqueue(&thread, "add one", "a")).await;
    c.send(enqueue(&thread, "add two", "b")).await;
    let frames = c
        .until(|f| f["type"] == "message.queued" && f["request_id"] == "b")
        .await;
    let id_of = |rid: &str| {
        frames
            .iter()
            .find(|f| f["type"] == "message.queued" && f["request_id"] == rid)
            .unwrap()["message"]["id"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let (one, two) = (id_of("a"), id_of("b"));

    // Over the socket: every tab hears it.
    c.send(json!({"type": "cancel", "thread_id": thread, "message_id": one, "request_id": "x"}))
        .await;
    let gone = c.until(|f| f["type"] == "message.unqueued").await;
    let gone = gone.last().unwrap();
    assert_eq!(gone["message_id"], one.as_str());
    assert_eq!(gone["reason"], "cancelled");
    // Over REST; a second time it is not found, and so is another user's or a bad id.
    let url = format!("/api/qc/conversations/{thread}/queue/{two}");
    let del = |path: String, user: &'static str| {
        let app = &app;
        async move {
            let r = app
                .client()
                .delete(format!("{}{}", app.url, path))
                .bearer_auth(app.token_for(user))
                .send()
                .await
                .unwrap();
            let status = r.status().as_u16();
            let text = r.text().await.unwrap();
            (status, serde_json::from_str(&text).unwrap_or(Value::Null))
        }
    };
    let (status, v) = del(
        format!("/api/other/conversations/{thread}/queue/{two}"),
        "other",
    )
    .await;
    assert_eq!(status, 404, "{v}");
    assert_error(&v, "not_found");
    let (status, _) = del(url.clone(), "qc").await;
    assert_eq!(status, 204);
    let (status, v) = del(url, "qc").await;
    assert_eq!(status, 404);
    assert_error(&v, "not_found");
    let (status, v) = del(format!("/api/qc/conversations/{thread}/queue/nope"), "qc").await;
    assert_eq!(status, 404);
    assert_error(&v, "not_found");
    c.send(json!({"type": "cancel", "thread_id": thread, "message_id": one, "request_id": "y"}))
        .await;
    let e = c.until(|f| f["type"] == "error").await;
    assert_eq!(e.last().unwrap()["code"], "not_found");

    // The running answer ends and nothing else runs.
    c.until_done(1).await;
    let extra = c.sync("after").await;
    assert!(
        extra.iter().all(|f| f["type"] != "message.added"),
        "{extra:?}"
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    let loaded = load(&mut c, &thread).await;
    assert_eq!(loaded["messages"].as_array().unwrap().len(), 2, "{loaded}");
    assert_eq!(loaded["queued"], json!([]));
    assert!(app.tasks("qc").await.is_empty());
}

#[tokio::test]
async fn a_full_queue_refuses_more() {
    let app = TestApp::spawn_with(|c| {
        c.offline_delta_delay = Duration::from_millis(20);
        c.max_queued_per_thread = 1;
    })
    .await;
    let mut c = WsClient::connect(&app, "qf").await;
    let thread = busy_thread(&mut c).await;
    c.send(enqueue(&thread, "add one", "a")).await;
    c.until(|f| f["type"] == "message.queued").await;
    c.send(enqueue(&thread, "add two", "b")).await;
    let e = c.until(|f| f["type"] == "error").await;
    let e = e.last().unwrap();
    assert_eq!(
        (e["code"].as_str(), e["request_id"].as_str()),
        (Some("queue_full"), Some("b"))
    );
    // A thread that is not the user's is not found, queued or not.
    let mut stranger = WsClient::connect(&app, "stranger").await;
    stranger.send(enqueue(&thread, "add x", "s")).await;
    let e = stranger.until(|f| f["type"] == "error").await;
    assert_eq!(e.last().unwrap()["code"], "not_found");
}

#[tokio::test]
async fn enqueue_works_over_rest_and_sse() {
    let app = paced().await;
    let mut c = WsClient::connect(&app, "qr").await;
    let thread = busy_thread(&mut c).await;
    // REST waits for its queued turn and answers with it.
    let rest = app
        .post("/api/qr/chat", "qr")
        .json(&json!({"message": "add buy bread", "conversation_id": thread, "on_busy": "enqueue"}))
        .send();
    let (r, _) = tokio::join!(rest, c.until(|f| f["type"] == "message.queued"));
    let (status, v) = json_of(r.unwrap()).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["status"], "completed");
    assert!(v["response"].as_str().unwrap().contains("buy bread"), "{v}");

    // SSE: the queue's events unnumbered, then the turn's, numbered from 1.
    c.send(json!({"type": "message", "thread_id": thread, "content": "help", "request_id": "h2"}))
        .await;
    c.until(|f| f["type"] == "stream.delta" && f["request_id"] == "h2")
        .await;
    let body = app
        .post("/api/qr/chat/stream", "qr")
        .json(&json!({"message": "add buy jam", "conversation_id": thread, "on_busy": "enqueue"}))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let queued_at = body.find("event: message.queued").expect("queued event");
    let added_at = body.find("event: message.added").expect("added event");
    assert!(queued_at < added_at, "{body}");
    assert!(!body[..added_at].contains("id:"), "{body}");
    let first_id = body.find("id: ").expect("numbered events");
    assert!(
        first_id > added_at && body[first_id..].starts_with("id: 1\n"),
        "{body}"
    );
    assert!(body.contains(r#""message_status":"completed""#), "{body}");

    // A queued REST send cancelled from elsewhere answers 409 `cancelled`.
    c.send(json!({"type": "message", "thread_id": thread, "content": "help", "request_id": "h3"}))
        .await;
    c.until(|f| f["type"] == "stream.delta" && f["request_id"] == "h3")
        .await;
    let rest = app
        .post("/api/qr/chat", "qr")
        .json(&json!({"message": "add buy tea", "conversation_id": thread, "on_busy": "enqueue"}))
        .send();
    let cancel = async {
        let q = c
            .until(|f| f["type"] == "message.queued" && f["message"]["content"] == "add buy tea")
            .await;
        let id = q.last().unwrap()["message"]["id"].clone();
        c.send(json!({"type": "cancel", "thread_id": thread, "message_id": id}))
            .await;
    };
    let (r, _) = tokio::join!(rest, cancel);
    let (status, v) = json_of(r.unwrap()).await;
    assert_eq!(status, 409, "{v}");
    assert_error(&v, "cancelled");
    let titles: Vec<Value> = app
        .tasks("qr")
        .await
        .iter()
        .map(|t| t["title"].clone())
        .collect();
    assert_eq!(titles, [json!("buy bread"), json!("buy jam")]);
}

#[tokio::test]
async fn a_queued_send_retried_is_queued_once() {
    let app = paced().await;
    let mut c = WsClient::connect(&app, "qi").await;
    let thread = busy_thread(&mut c).await;
    let mut send = enqueue(&thread, "add buy rice", "r1");
    send["client_message_id"] = json!("send-1");
    c.send(send.clone()).await;
    let first = c.until(|f| f["type"] == "message.queued").await;
    let id = first.last().unwrap()["message"]["id"].clone();
    send["request_id"] = json!("r2");
    c.send(send).await;
    let again = c
        .until(|f| f["type"] == "message.queued" && f["request_id"] == "r2")
        .await;
    assert_eq!(again.last().unwrap()["message"]["id"], id);
    c.until_done(2).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(app.tasks("qi").await.len(), 1);
    let loaded = load(&mut c, &thread).await;
    assert_eq!(loaded["messages"].as_array().unwrap().len(), 4, "{loaded}");
}

#[tokio::test]
async fn queued_messages_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("q.db");
    let slow = |c: &mut agentwire::Config| {
        c.offline_delta_delay = Duration::from_millis(20);
        c.shutdown_drain = Duration::from_secs(10);
    };
    let app = TestApp::spawn_at(&path, slow).await;
    let mut c = WsClient::connect(&app, "qs").await;
    let thread = busy_thread(&mut c).await;
    c.send(enqueue(&thread, "add water plants", "w")).await;
    c.until(|f| f["type"] == "message.queued").await;
    // A graceful stop lets the running turn end but starts nothing new.
    app.stop().await;

    let app = TestApp::spawn_at(&path, |_| {}).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    loop {
        let tasks = app.tasks("qs").await;
        if !tasks.is_empty() {
            assert_eq!(tasks[0]["title"], "water plants");
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the queued message never ran"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let mut c = WsClient::connect(&app, "qs").await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let loaded = load(&mut c, &thread).await;
        let statuses: Vec<&str> = loaded["messages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["status"].as_str().unwrap())
            .collect();
        if statuses.len() == 4 && statuses[3] == "completed" {
            assert_eq!(loaded["queued"], json!([]));
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "{loaded}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn an_interrupting_message_goes_before_the_queue() {
    let app = paced().await;
    let mut c = WsClient::connect(&app, "qx").await;
    let thread = busy_thread(&mut c).await;
    c.send(enqueue(&thread, "add waiting", "w")).await;
    c.until(|f| f["type"] == "message.queued").await;
    c.send(
        json!({"type": "message", "thread_id": thread, "content": "add call the bank",
                  "on_busy": "interrupt", "request_id": "u"}),
    )
    .await;
    let frames = c.until_done(3).await;
    let order: Vec<(&str, &str)> = frames
        .iter()
        .filter(|f| f["type"] == "message.done")
        .map(|f| {
            (
                f["request_id"].as_str().unwrap_or(""),
                f["message"]["status"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        order,
        [
            ("first", "interrupted"),
            ("u", "completed"),
            ("w", "completed")
        ]
    );
    let titles: Vec<Value> = app
        .tasks("qx")
        .await
        .iter()
        .map(|t| t["title"].clone())
        .collect();
    assert_eq!(titles, [json!("call the bank"), json!("waiting")]);
}
