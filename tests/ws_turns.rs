//! Turns over the WebSocket: multiplexing, fan-out, cancel, turns that outlive sockets,
//! slow consumers and graceful shutdown.

mod common;

use std::collections::HashMap;
use std::time::Duration;

use common::ws::{Ended, WsClient};
use common::TestApp;
use serde_json::{json, Value};

/// A server whose offline agent spaces its deltas, so turns can overlap and be cancelled.
async fn paced(ms: u64) -> TestApp {
    TestApp::spawn_with(|c| c.offline_delta_delay = Duration::from_millis(ms)).await
}

fn of_type<'a>(frames: &'a [Value], t: &str) -> Vec<&'a Value> {
    frames.iter().filter(|f| f["type"] == t).collect()
}

#[tokio::test]
async fn a_turn_emits_the_documented_event_sequence() {
    let app = TestApp::spawn().await;
    let mut c = WsClient::connect(&app, "seq").await;
    c.send(json!({"type": "message", "content": "add a task to buy milk", "request_id": "q1"}))
        .await;
    let frames = c.until_done(1).await;
    let kinds: Vec<&str> = frames.iter().map(|f| f["type"].as_str().unwrap()).collect();
    assert_eq!(
        kinds[..3],
        ["thread.created", "message.added", "message.added"]
    );
    assert_eq!(*kinds.last().unwrap(), "message.done");
    for f in &frames {
        assert_eq!(
            f["request_id"], "q1",
            "every event echoes the request id: {f}"
        );
    }
    let thread = frames[0]["thread"]["id"].as_str().unwrap();
    assert_eq!(frames[1]["message"]["role"], "user");
    assert_eq!(frames[1]["message"]["content"], "add a task to buy milk");
    assert_eq!(frames[2]["message"]["role"], "assistant");
    assert_eq!(frames[2]["message"]["status"], "in_progress");
    let assistant_id = frames[2]["message"]["id"].as_str().unwrap();

    let tool = of_type(&frames, "tool.called");
    assert_eq!(tool[0]["tool_name"], "add_task");
    assert_eq!(tool[0]["thread_id"], thread);
    assert_eq!(tool[0]["message_id"], assistant_id);
    let changed = of_type(&frames, "task.changed");
    assert_eq!(changed[0]["change"], "added");
    assert_eq!(changed[0]["task"]["title"], "buy milk");

    let deltas = of_type(&frames, "stream.delta");
    let text: String = deltas
        .iter()
        .map(|d| d["delta"].as_str().unwrap())
        .collect();
    for (i, d) in deltas.iter().enumerate() {
        assert_eq!(d["seq"], i as u64);
        assert_eq!(d["message_id"], assistant_id);
    }
    let done = frames.last().unwrap();
    assert_eq!(done["message"]["id"], assistant_id);
    assert_eq!(done["message"]["content"], text.as_str());
    assert_eq!(done["message"]["status"], "completed");
    assert_eq!(done["message"]["tool_calls"][0]["tool_name"], "add_task");
    assert!(done["message"]["usage"]["total_tokens"].is_u64());
}

#[tokio::test]
async fn two_threads_stream_at_once_and_reassemble_per_thread() {
    let app = paced(15).await;
    let mut c = WsClient::connect(&app, "mux").await;
    c.send(json!({"type": "message", "content": "help", "request_id": "a"}))
        .await;
    c.send(json!({"type": "message", "content": "madad chahiye", "request_id": "b"}))
        .await;
    let frames = c.until_done(2).await;

    let mut texts: HashMap<String, String> = HashMap::new();
    let mut order = Vec::new();
    for f in of_type(&frames, "stream.delta") {
        let id = f["message_id"].as_str().unwrap().to_string();
        texts
            .entry(id.clone())
            .or_default()
            .push_str(f["delta"].as_str().unwrap());
        order.push(id);
    }
    let dones = of_type(&frames, "message.done");
    assert_eq!(dones.len(), 2);
    let threads: Vec<&str> = dones
        .iter()
        .map(|d| d["thread_id"].as_str().unwrap())
        .collect();
    assert_ne!(threads[0], threads[1]);
    for d in &dones {
        let id = d["message"]["id"].as_str().unwrap();
        assert_eq!(texts[id], d["message"]["content"].as_str().unwrap());
    }
    // The two streams really interleaved: after the first switch of message id, ids switch again.
    let switches = order.windows(2).filter(|w| w[0] != w[1]).count();
    assert!(
        switches >= 2,
        "deltas did not interleave: {switches} switches"
    );
    // Each turn's events carry its own request id.
    for d in dones {
        let rid = d["request_id"].as_str().unwrap();
        assert!(rid == "a" || rid == "b");
    }
}

#[tokio::test]
async fn every_socket_of_the_user_sees_the_turn_and_no_one_else_does() {
    let app = TestApp::spawn().await;
    let mut tab1 = WsClient::connect(&app, "fan").await;
    let mut tab2 = WsClient::connect(&app, "fan").await;
    let mut stranger = WsClient::connect(&app, "someone-else").await;
    tab1.send(json!({"type": "message", "content": "add a task to buy bread"}))
        .await;
    let seen1 = tab1.until_done(1).await;
    let seen2 = tab2.until_done(1).await;
    assert_eq!(seen1, seen2);
    assert!(stranger.sync("nothing").await.is_empty());
}

#[tokio::test]
async fn a_rest_turn_is_seen_live_on_the_socket() {
    let app = TestApp::spawn().await;
    let mut c = WsClient::connect(&app, "mixed").await;
    let v = app.say("mixed", "add a task to call mom", None).await;
    let frames = c.until_done(1).await;
    assert_eq!(frames[0]["type"], "thread.created");
    assert_eq!(frames[0]["thread"]["id"], v["conversation_id"]);
    assert_eq!(frames.last().unwrap()["message"]["content"], v["message"]);
}

#[tokio::test]
async fn cancel_keeps_partial_text_and_frees_the_thread() {
    let app = paced(40).await;
    let mut c = WsClient::connect(&app, "can").await;
    c.send(json!({"type": "message", "content": "help", "request_id": "m1"}))
        .await;
    let frames = c.until(|f| f["type"] == "stream.delta").await;
    let thread = frames[0]["thread"]["id"].as_str().unwrap().to_string();

    // A second message to a running thread is refused.
    c.send(json!({"type": "message", "thread_id": thread, "content": "hi", "request_id": "m2"}))
        .await;
    c.send(json!({"type": "cancel", "thread_id": thread, "request_id": "c1"}))
        .await;
    let rest = c.until_done(1).await;
    let busy: Vec<&Value> = rest.iter().filter(|f| f["type"] == "error").collect();
    assert_eq!(busy.len(), 1, "{rest:?}");
    assert_eq!(busy[0]["code"], "thread_busy");
    assert_eq!(busy[0]["request_id"], "m2");

    let done = rest.last().unwrap();
    assert_eq!(done["message"]["status"], "cancelled");
    let partial = done["message"]["content"].as_str().unwrap();
    let full_help_len = {
        let v = app.say("probe", "help", None).await;
        v["message"].as_str().unwrap().len()
    };
    assert!(
        !partial.is_empty() && partial.len() < full_help_len,
        "partial: {partial:?}"
    );

    // The thread is free again and the cancelled message is stored as such.
    c.send(json!({"type": "message", "thread_id": thread, "content": "show my tasks"}))
        .await;
    let after = c.until_done(1).await;
    assert_eq!(after.last().unwrap()["message"]["status"], "completed");
    c.send(json!({"type": "thread.load", "thread_id": thread, "request_id": "l"}))
        .await;
    let loaded = c.next().await;
    assert_eq!(loaded["type"], "thread");
    let statuses: Vec<&str> = loaded["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["status"].as_str().unwrap())
        .collect();
    assert_eq!(
        statuses,
        ["completed", "cancelled", "completed", "completed"]
    );
    assert_eq!(loaded["messages"][1]["content"], partial);
}

#[tokio::test]
async fn a_turn_finishes_after_its_socket_closes() {
    let app = paced(20).await;
    let mut c = WsClient::connect(&app, "gone").await;
    c.send(json!({"type": "message", "content": "help"})).await;
    let frames = c.until(|f| f["type"] == "stream.delta").await;
    let thread = frames[0]["thread"]["id"].as_str().unwrap().to_string();
    drop(c);

    let mut later = WsClient::connect(&app, "gone").await;
    later
        .send(json!({"type": "thread.load", "thread_id": thread}))
        .await;
    let mut loaded = later.until(|f| f["type"] == "thread").await.pop().unwrap();
    if loaded["running"] == true {
        later.until(|f| f["type"] == "message.done").await;
        later
            .send(json!({"type": "thread.load", "thread_id": thread}))
            .await;
        loaded = later.until(|f| f["type"] == "thread").await.pop().unwrap();
    }
    let msgs = loaded["messages"].as_array().unwrap();
    assert_eq!(msgs.len(), 2);
    assert_eq!(msgs[1]["status"], "completed");
    assert!(msgs[1]["content"].as_str().unwrap().len() > 20);
}

#[tokio::test]
async fn threads_list_and_thread_load_paginate_and_respect_ownership() {
    let app = TestApp::spawn().await;
    let mut c = WsClient::connect(&app, "lister").await;
    let mut ids = Vec::new();
    for i in 0..3 {
        c.send(json!({"type": "message", "content": format!("add a task to buy item {i}")}))
            .await;
        let frames = c.until_done(1).await;
        ids.push(frames[0]["thread"]["id"].as_str().unwrap().to_string());
    }
    c.send(json!({"type": "threads.list", "limit": 2, "request_id": "t1"}))
        .await;
    let page = c.next().await;
    assert_eq!(page["type"], "threads");
    assert_eq!(page["request_id"], "t1");
    assert_eq!(page["has_more"], true);
    assert_eq!(page["data"][0]["id"], ids[2].as_str());
    c.send(json!({"type": "threads.list", "limit": 2, "after": page["after"]}))
        .await;
    let page2 = c.next().await;
    assert_eq!(page2["has_more"], false);
    assert_eq!(page2["data"][0]["id"], ids[0].as_str());

    c.send(json!({"type": "thread.load", "thread_id": ids[0], "limit": 1, "request_id": "l1"}))
        .await;
    let t = c.next().await;
    assert_eq!(t["type"], "thread");
    assert_eq!(t["thread"]["id"], ids[0].as_str());
    assert_eq!(t["messages"].as_array().unwrap().len(), 1);
    assert_eq!(t["messages"][0]["role"], "user");
    assert_eq!(t["has_more"], true);
    c.send(json!({"type": "thread.load", "thread_id": ids[0], "after": t["after"]}))
        .await;
    let t2 = c.next().await;
    assert_eq!(t2["messages"][0]["role"], "assistant");

    // Another user can neither load, continue nor cancel these threads.
    let mut other = WsClient::connect(&app, "snoop").await;
    other
        .send(json!({"type": "thread.load", "thread_id": ids[0]}))
        .await;
    assert_eq!(other.next().await["code"], "not_found");
    other
        .send(json!({"type": "message", "thread_id": ids[0], "content": "delete task 1"}))
        .await;
    assert_eq!(other.next().await["code"], "not_found");
    other.send(json!({"type": "threads.list"})).await;
    assert_eq!(other.next().await["data"], json!([]));
    assert_eq!(app.tasks("lister").await.len(), 3);
}

#[tokio::test]
async fn rate_limit_reaches_the_socket_as_an_error_event() {
    let app = TestApp::spawn_with(|c| c.rate_limit_requests = 1).await;
    let mut c = WsClient::connect(&app, "rl").await;
    c.send(json!({"type": "message", "content": "hi"})).await;
    c.until_done(1).await;
    c.send(json!({"type": "message", "content": "hi again", "request_id": "x"}))
        .await;
    let e = c.next().await;
    assert_eq!(e["code"], "rate_limited");
    assert_eq!(e["request_id"], "x");
}

#[tokio::test]
async fn a_slow_reader_is_closed_1013_without_delaying_others() {
    let app = TestApp::spawn_with(|c| {
        c.ws.send_queue = 256;
        c.offline_delta_delay = Duration::from_millis(1);
        c.tcp_send_buffer = Some(4096);
    })
    .await;
    let user = agentwire::model::UserId::new("slow");
    for i in 0..60 {
        let t = agentwire::model::NewTask {
            title: format!("a reasonably long task title number {i} to make the list long"),
            priority: agentwire::model::Priority::Medium,
            due_date: None,
        };
        app.state.store.add_task(&user, &t).await.unwrap();
    }
    // The slow socket has a tiny receive buffer and does not read.
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(2048).unwrap();
    let stream = socket.connect(app.addr).await.unwrap();
    let url = format!("ws://{}/api/ws?token={}", app.addr, app.token_for("slow"));
    let (slow, _) =
        tokio_tungstenite::client_async(url, tokio_tungstenite::MaybeTlsStream::Plain(stream))
            .await
            .unwrap();
    let mut slow = WsClient { ws: slow };

    let mut fast = WsClient::connect(&app, "slow").await;
    for _ in 0..4 {
        fast.send(json!({"type": "message", "content": "show my tasks"}))
            .await;
    }
    // The fast socket gets all four complete turns while the slow one is stuck.
    let frames = fast.until_done(4).await;
    assert_eq!(of_type(&frames, "message.done").len(), 4);
    assert!(of_type(&frames, "error").is_empty());

    assert_eq!(slow.ended().await, Ended::Close(1013));
}

#[tokio::test]
async fn shutdown_lets_running_turns_finish_then_closes_sockets_1001() {
    let app = paced(20).await;
    let mut c = WsClient::connect(&app, "bye").await;
    c.send(json!({"type": "message", "content": "help"})).await;
    c.until(|f| f["type"] == "stream.delta").await;
    let state = app.state.clone();
    let stopping = tokio::spawn(app.stop());
    while state.chat.accepting() {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }

    // New work is refused while draining...
    c.send(json!({"type": "message", "content": "show my tasks", "request_id": "late"}))
        .await;
    let rest = c.until_done(1).await;
    let refused: Vec<&Value> = rest.iter().filter(|f| f["type"] == "error").collect();
    assert_eq!(refused[0]["code"], "shutting_down");
    assert_eq!(refused[0]["request_id"], "late");
    // ...the running turn completes in full...
    assert_eq!(rest.last().unwrap()["message"]["status"], "completed");
    // ...and then the socket is closed as going away.
    assert_eq!(c.ended().await, Ended::Close(1001));
    stopping.await.unwrap();
    assert_eq!(state.chat.running_turns(), 0);
}

#[tokio::test]
async fn an_answer_longer_than_the_socket_queue_arrives_whole() {
    // Twenty long titles: the offline agent answers with far more deltas than a socket queues.
    let app = TestApp::spawn_with(|c| c.ws.send_queue = 256).await;
    let user = agentwire::model::UserId::new("long");
    for i in 0..20 {
        let task = agentwire::model::NewTask {
            title: format!("task {i} {}", "with a rather long title ".repeat(18)),
            priority: agentwire::model::Priority::Medium,
            due_date: None,
        };
        app.state.store.add_task(&user, &task).await.unwrap();
    }
    let mut c = WsClient::connect(&app, "long").await;
    c.send(json!({"type": "message", "content": "show my tasks", "request_id": "l1"}))
        .await;
    let frames = c.until_done(1).await;
    let deltas = of_type(&frames, "stream.delta");
    // Every delta, in order: adjacent ones may come merged (`count`), never with a hole.
    let mut next = 0;
    for d in &deltas {
        assert_eq!(d["seq"], next, "{d}");
        next += d["count"].as_u64().unwrap_or(1);
    }
    assert!(next > 256, "{next} deltas");
    let text: String = deltas
        .iter()
        .map(|d| d["delta"].as_str().unwrap())
        .collect();
    assert_eq!(text, frames.last().unwrap()["message"]["content"]);
}
