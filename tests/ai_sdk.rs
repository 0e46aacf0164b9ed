//! The AI SDK's WebSocket protocol at `/api/ai-sdk/ws`, over real sockets: sends streamed as
//! numbered chunks, resumes after a drop (here and on another instance), aborts, the JWT rules
//! at the handshake and in frames, bad frames, and chat ids of other users. The SDK's own
//! client drives the same endpoints in tests/ai_sdk/ (Node); HTTP is in tests/ai_sdk_http.rs.

mod common;

use std::time::Duration;

use agentwire::auth::{now_secs, Jwt};
use common::ai_sdk::{resume, send, AiSocket};
use common::ws::{Ended, WsClient};
use common::{json_of, TestApp, SECRET};
use futures::SinkExt;
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

/// A server whose offline agent spaces its deltas, so an answer can be cut and resumed.
async fn paced() -> TestApp {
    TestApp::spawn_with(|c| c.offline_delta_delay = Duration::from_millis(40)).await
}

/// The stored messages of `user`'s thread.
async fn stored(app: &TestApp, user: &str, thread: &str) -> Vec<Value> {
    let r = app
        .get(
            &format!("/api/{user}/conversations/{thread}/messages"),
            user,
        )
        .send()
        .await
        .unwrap();
    let (status, v) = json_of(r).await;
    assert_eq!(status, 200, "{v}");
    v["data"].as_array().unwrap().clone()
}

#[tokio::test]
async fn a_send_streams_its_turn_as_numbered_chunks_to_every_socket_of_the_user() {
    let app = TestApp::spawn().await;
    let mut api_socket = WsClient::connect(&app, "alice").await;
    let mut s = AiSocket::connect(&app, "alice").await;
    s.send(send("r1", "groceries", "add a task to buy milk", None))
        .await;
    assert_eq!(s.next().await, json!({"type": "start", "requestId": "r1"}));
    let got = s.all("r1").await;
    assert_eq!(got.last, json!({"type": "end", "requestId": "r1"}));
    let numbers: Vec<u64> = got.chunks.iter().map(|(n, _)| *n).collect();
    assert_eq!(numbers, (0..numbers.len() as u64).collect::<Vec<_>>());
    let kinds = got.kinds();
    assert_eq!(kinds[..2], ["start", "start-step"]);
    assert_eq!(kinds[kinds.len() - 2..], ["finish-step", "finish"]);

    let call = got.chunk("tool-input-available");
    assert_eq!(call["toolName"], "add_task");
    assert_eq!(call["input"]["title"], "buy milk");
    let output = got.chunk("tool-output-available");
    assert_eq!(output["toolCallId"], call["toolCallId"]);
    assert_eq!(output["output"]["task"]["title"], "buy milk");

    let start = got.chunk("start");
    let thread = start["messageMetadata"]["threadId"].as_str().unwrap();
    let finish = got.chunk("finish");
    assert_eq!(finish["finishReason"], "stop");
    assert_eq!(finish["messageMetadata"]["status"], "completed");
    let messages = stored(&app, "alice", thread).await;
    assert_eq!(messages.len(), 2);
    assert_eq!(messages[0]["content"], "add a task to buy milk");
    assert_eq!(messages[1]["id"], start["messageId"]);
    assert_eq!(messages[1]["content"], got.text());

    // The same turn, live on the user's socket of our own protocol.
    let frames = api_socket.until_done(1).await;
    let done = frames.last().unwrap();
    assert_eq!(done["thread_id"], thread);
    assert_eq!(done["message"]["content"], got.text());
    assert_eq!(app.tasks("alice").await.len(), 1);
}

#[tokio::test]
async fn a_resume_sends_the_rest_after_last_sequence_and_the_same_chunks_from_zero() {
    let app = paced().await;
    let mut first = AiSocket::connect(&app, "alice").await;
    first.send(send("r1", "c-resume", "help", None)).await;
    let before = first
        .read("r1", |c| {
            c.iter().filter(|(_, c)| c["type"] == "text-delta").count() == 3
        })
        .await;
    drop(first);
    let last = before.chunks.last().unwrap().0;

    let mut second = AiSocket::connect(&app, "alice").await;
    second
        .send(resume("r2", "c-resume", Some(last), None))
        .await;
    second.send(resume("r3", "c-resume", None, None)).await;
    let rest = second.all("r2").await;
    assert_eq!(rest.last["type"], "end");
    assert_eq!(
        rest.chunks[0].0,
        last + 1,
        "nothing the client has is sent again"
    );
    let whole = second.all("r3").await;
    assert_eq!(whole.chunks[..before.chunks.len()], before.chunks[..]);
    assert_eq!(whole.chunks[before.chunks.len()..], rest.chunks[..]);

    let thread = before.chunk("start")["messageMetadata"]["threadId"]
        .as_str()
        .unwrap()
        .to_string();
    let answer = &stored(&app, "alice", &thread).await[1];
    assert_eq!(answer["status"], "completed");
    assert_eq!(
        format!("{}{}", before.text(), rest.text()),
        answer["content"]
    );

    // Over: nothing to resume.
    second.send(resume("r4", "c-resume", None, None)).await;
    assert_eq!(
        second.next().await,
        json!({"type": "no-active", "requestId": "r4"})
    );
}

#[tokio::test]
async fn a_turn_started_on_the_api_socket_is_followed_by_its_thread_id() {
    let app = paced().await;
    let mut api_socket = WsClient::connect(&app, "alice").await;
    api_socket
        .send(json!({"type": "message", "content": "help", "request_id": "q"}))
        .await;
    let created = api_socket.next().await;
    let thread = created["thread"]["id"].as_str().unwrap().to_string();
    let mut s = AiSocket::connect(&app, "alice").await;
    s.send(resume("r1", &thread, None, None)).await;
    let got = s.all("r1").await;
    assert_eq!(got.last["type"], "end");
    let done = api_socket.until_done(1).await;
    assert_eq!(done.last().unwrap()["message"]["content"], got.text());
}

#[tokio::test]
async fn an_abort_cancels_its_turn_and_keeps_the_text_so_far() {
    let app = paced().await;
    let mut s = AiSocket::connect(&app, "alice").await;
    s.send(send("r1", "c-abort", "help", None)).await;
    let before = s
        .read("r1", |c| {
            c.iter().filter(|(_, c)| c["type"] == "text-delta").count() == 2
        })
        .await;
    s.send(json!({"type": "abort", "requestId": "r1"})).await;
    let thread = before.chunk("start")["messageMetadata"]["threadId"]
        .as_str()
        .unwrap()
        .to_string();
    let answer = loop {
        let messages = stored(&app, "alice", &thread).await;
        if messages[1]["status"] != "in_progress" {
            break messages[1].clone();
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(answer["status"], "cancelled");
    let kept = answer["content"].as_str().unwrap();
    assert!(kept.starts_with(&before.text()), "{kept:?}");
    // Ended: a resume finds nothing, and the aborted request says nothing more.
    s.send(resume("r2", "c-abort", None, None)).await;
    loop {
        let f = s.next().await;
        if f["requestId"] == "r2" {
            assert_eq!(f["type"], "no-active");
            break;
        }
        assert_eq!(f["type"], "chunk", "{f}");
    }
}

#[tokio::test]
async fn another_users_chat_id_names_nothing_of_theirs() {
    let app = paced().await;
    let mut alice = AiSocket::connect(&app, "alice").await;
    alice.send(send("a1", "shared", "help", None)).await;
    let start = alice.read("a1", |c| c.len() == 1).await;
    let thread = start.chunk("start")["messageMetadata"]["threadId"]
        .as_str()
        .unwrap()
        .to_string();

    let mut bob = AiSocket::connect(&app, "bob").await;
    for (id, chat) in [("b1", "shared"), ("b2", thread.as_str())] {
        bob.send(resume(id, chat, None, None)).await;
        assert_eq!(
            bob.next().await,
            json!({"type": "no-active", "requestId": id})
        );
    }
    // A send to alice's thread id is a chat of bob's own.
    bob.send(send("b3", &thread, "hello", None)).await;
    let bobs = bob.all("b3").await;
    assert_eq!(bobs.last["type"], "end");
    let bobs_thread = bobs.chunk("start")["messageMetadata"]["threadId"].clone();
    assert_ne!(bobs_thread, thread.as_str());

    let alices = alice.all("a1").await;
    assert_eq!(alices.last["type"], "end");
    let messages = stored(&app, "alice", &thread).await;
    assert_eq!(messages.len(), 2, "bob added nothing to alice's thread");
    let r = app
        .get(&format!("/api/bob/conversations/{thread}/messages"), "bob")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
}

#[tokio::test]
async fn regenerate_answers_the_last_message_again() {
    let app = TestApp::spawn().await;
    let mut s = AiSocket::connect(&app, "alice").await;
    s.send(send("r1", "c-regen", "hello", None)).await;
    let first = s.all("r1").await;
    let first_answer = first.chunk("start")["messageId"].clone();
    let thread = first.chunk("start")["messageMetadata"]["threadId"]
        .as_str()
        .unwrap()
        .to_string();

    let mut again = send("r2", "c-regen", "hello", None);
    again["trigger"] = "regenerate-message".into();
    again["messageId"] = first_answer.clone();
    s.send(again.clone()).await;
    let second = s.all("r2").await;
    assert_eq!(second.last["type"], "end");
    let answer = second.chunk("start")["messageId"].clone();
    assert_ne!(answer, first_answer);
    let messages = stored(&app, "alice", &thread).await;
    assert_eq!(messages.len(), 2, "the old answer made way for the new one");
    assert_eq!(messages[1]["id"], answer);

    // A newer message makes that answer an old one; a chat never sent to has nothing.
    s.send(send("r3", "c-regen", "help", None)).await;
    assert_eq!(s.all("r3").await.last["type"], "end");
    again["requestId"] = "r4".into();
    again["messageId"] = answer;
    s.send(again.clone()).await;
    let refused = s.next_for("r4").await;
    assert_eq!(refused["type"], "error");
    assert!(refused["errorText"]
        .as_str()
        .unwrap()
        .starts_with("invalid_frame: "));
    again["requestId"] = "r5".into();
    again["id"] = "never-used".into();
    s.send(again).await;
    let refused = s.next_for("r5").await;
    assert!(
        refused["errorText"]
            .as_str()
            .unwrap()
            .starts_with("not_found: "),
        "{refused}"
    );
}

#[tokio::test]
async fn a_send_to_a_chat_still_answering_is_refused() {
    let app = paced().await;
    let mut s = AiSocket::connect(&app, "alice").await;
    s.send(send("r1", "busy", "help", None)).await;
    s.read("r1", |c| c.len() == 1).await;
    s.send(send("r2", "busy", "hello", None)).await;
    let refused = s.next_for("r2").await;
    assert_eq!(refused["type"], "error");
    assert!(refused["errorText"]
        .as_str()
        .unwrap()
        .starts_with("thread_busy: "));
    assert_eq!(s.all("r1").await.last["type"], "end");
}

#[tokio::test]
async fn two_first_sends_to_one_new_chat_make_one_thread() {
    let app = paced().await;
    let mut one = AiSocket::connect(&app, "alice").await;
    let mut two = AiSocket::connect(&app, "alice").await;
    tokio::join!(
        one.send(send("r1", "raced", "help", None)),
        two.send(send("r2", "raced", "help", None))
    );
    let (first, second) = tokio::join!(one.next(), two.next());
    let mut kinds = [first["type"].clone(), second["type"].clone()];
    kinds.sort_by_key(|k| k.to_string());
    assert_eq!(kinds, [json!("error"), json!("start")], "{first} {second}");
    let refused = if first["type"] == "error" {
        &first
    } else {
        &second
    };
    assert!(
        refused["errorText"]
            .as_str()
            .unwrap()
            .starts_with("thread_busy: "),
        "{refused}"
    );
    let r = app
        .get("/api/alice/conversations", "alice")
        .send()
        .await
        .unwrap();
    assert_eq!(json_of(r).await.1["data"].as_array().unwrap().len(), 1);
}

/// A token signed with the test key, with these claims.
fn signed(claims: Value) -> String {
    Jwt::new(SECRET).sign(&claims)
}

#[tokio::test]
async fn handshake_tokens_follow_the_jwt_rules_and_bad_ones_close_with_4401() {
    let app = TestApp::spawn().await;
    let now = now_secs();
    for token in [
        "garbage".to_string(),
        signed(json!({"sub": "alice", "exp": now - 60})),
        signed(json!({"sub": "alice", "exp": now + 600, "nbf": now + 3600})),
        Jwt::new("another-secret-another-secret-0123").mint(
            &agentwire::model::UserId::new("alice"),
            Duration::from_secs(60),
        ),
    ] {
        let url = format!("ws://{}/api/ai-sdk/ws?token={token}", app.addr);
        let mut s = AiSocket::connect_request(url).await;
        assert_eq!(s.ended().await, Ended::Close(4401), "{token}");
    }
    // A header, or the subprotocol a browser can set; ours is chosen when offered.
    let mut req = format!("ws://{}/api/ai-sdk/ws", app.addr)
        .into_client_request()
        .unwrap();
    let offered = format!("agentwire, bearer.{}", app.token_for("alice"));
    req.headers_mut()
        .insert("sec-websocket-protocol", offered.parse().unwrap());
    let (ws, response) = tokio_tungstenite::connect_async(req).await.unwrap();
    assert_eq!(response.headers()["sec-websocket-protocol"], "agentwire");
    let mut s = AiSocket::from(ws);
    s.send(send("r1", "c", "hello", None)).await;
    assert_eq!(s.next().await["type"], "start");
}

#[tokio::test]
async fn frame_tokens_decide_the_socket_user_and_a_silent_socket_closes_with_4408() {
    let app = TestApp::spawn_with(|c| c.ws.auth_timeout = Duration::from_millis(300)).await;
    let mut s = AiSocket::connect_bare(&app).await;
    s.send(send("r1", "c", "hello", None)).await;
    let f = s.next().await;
    assert_eq!(f["requestId"], "r1");
    assert!(
        f["errorText"]
            .as_str()
            .unwrap()
            .starts_with("unauthorized: "),
        "{f}"
    );
    s.send(send("r2", "c", "hello", Some("not-a-token"))).await;
    assert!(s.next().await["errorText"]
        .as_str()
        .unwrap()
        .starts_with("unauthorized: "));

    s.send(send("r3", "c", "hello", Some(&app.token_for("alice"))))
        .await;
    assert_eq!(s.next().await["type"], "start");
    assert_eq!(s.all("r3").await.last["type"], "end");
    // The socket is alice's now: frames without a token are hers, another user's token is no.
    s.send(resume("r4", "c", None, None)).await;
    assert_eq!(s.next().await["type"], "no-active");
    s.send(resume("r5", "c", None, Some(&app.token_for("bob"))))
        .await;
    assert!(s.next().await["errorText"]
        .as_str()
        .unwrap()
        .starts_with("forbidden: "));

    let mut silent = AiSocket::connect_bare(&app).await;
    assert_eq!(silent.ended().await, Ended::Close(4408));
}

#[tokio::test]
async fn a_socket_whose_token_expires_closes_with_4401() {
    let app = TestApp::spawn_with(|c| c.ws.token_grace = Duration::ZERO).await;
    let token = signed(json!({"sub": "alice", "exp": now_secs() + 1}));
    let url = format!("ws://{}/api/ai-sdk/ws?token={token}", app.addr);
    let mut s = AiSocket::connect_request(url).await;
    s.send(resume("r1", "c", None, None)).await;
    assert_eq!(s.next().await["type"], "no-active");
    assert_eq!(s.ended().await, Ended::Close(4401));
}

#[tokio::test]
async fn sends_share_the_users_rate_limit_with_every_transport() {
    let app = TestApp::spawn_with(|c| c.rate_limit_requests = 2).await;
    app.say("alice", "hello", None).await;
    let mut s = AiSocket::connect(&app, "alice").await;
    s.send(send("r1", "limited", "hello", None)).await;
    assert_eq!(s.all("r1").await.last["type"], "end");
    s.send(send("r2", "limited", "hello", None)).await;
    let refused = s.next_for("r2").await;
    assert!(
        refused["errorText"]
            .as_str()
            .unwrap()
            .starts_with("rate_limited: "),
        "{refused}"
    );
}

#[tokio::test]
async fn bad_frames_get_an_error_under_their_request_id() {
    let app = TestApp::spawn_with(|c| c.ai_sdk_max_body_bytes = 4096).await;
    let mut s = AiSocket::connect(&app, "alice").await;
    let error_of = |f: Value, id: &str| {
        assert_eq!(f["type"], "error", "{f}");
        assert_eq!(f["requestId"], id, "{f}");
        f["errorText"].as_str().unwrap().to_string()
    };
    s.send_text("not json").await;
    assert!(error_of(s.next().await, "").starts_with("invalid_frame: "));
    s.send(json!({"type": "subscribe", "requestId": "x1"}))
        .await;
    error_of(s.next().await, "x1");
    let mut empty = send("x2", "c", "hi", None);
    empty["messages"] = json!([]);
    s.send(empty).await;
    error_of(s.next().await, "x2");
    let mut no_body = send("x3", "c", "hi", None);
    no_body.as_object_mut().unwrap().remove("body");
    s.send(no_body).await;
    error_of(s.next().await, "x3");
    s.send(send("x4", "c", "a\u{0}b", None)).await;
    assert!(error_of(s.next().await, "x4").contains("NUL"));
    s.ws.send(tokio_tungstenite::tungstenite::Message::Binary(
        vec![1, 2].into(),
    ))
    .await
    .unwrap();
    error_of(s.next().await, "");
    // The socket still works, then a frame over the limit closes it with 1009.
    s.send(send("x5", "c", "hello", None)).await;
    assert_eq!(s.next().await["type"], "start");
    s.send(send("x6", "c", &"a".repeat(5000), None)).await;
    assert_eq!(s.ended().await, Ended::Close(1009));
}

#[tokio::test]
async fn a_turn_sent_on_one_instance_resumes_on_another() {
    let Some(url) = common::fresh_postgres().await else {
        eprintln!("TEST_DATABASE_URL not set: skipping the several-instance test");
        return;
    };
    let pace = |c: &mut agentwire::Config| c.offline_delta_delay = Duration::from_millis(40);
    let a = TestApp::spawn_on_with(&url, pace).await;
    let b = TestApp::spawn_on_with(&url, pace).await;
    let mut on_a = AiSocket::connect(&a, "alice").await;
    on_a.send(send("r1", "across", "help", None)).await;
    let before = on_a
        .read("r1", |c| {
            c.iter().filter(|(_, c)| c["type"] == "text-delta").count() == 3
        })
        .await;
    drop(on_a);
    let last = before.chunks.last().unwrap().0;
    let mut on_b = AiSocket::connect(&b, "alice").await;
    on_b.send(resume("r2", "across", Some(last), None)).await;
    let rest = on_b.all("r2").await;
    assert_eq!(rest.last["type"], "end");
    assert_eq!(rest.chunks[0].0, last + 1);
    let thread = before.chunk("start")["messageMetadata"]["threadId"]
        .as_str()
        .unwrap()
        .to_string();
    let answer = &stored(&b, "alice", &thread).await[1];
    assert_eq!(
        format!("{}{}", before.text(), rest.text()),
        answer["content"]
    );
}
