//! WebSocket authentication, token refresh and expiry, and bad-input handling.

mod common;

use std::time::Duration;

use common::ws::{bearer_request, Ended, WsClient};
use common::{TestApp, SECRET};
use futures::StreamExt;
use jsonwebtoken::{encode, Algorithm, EncodingKey, Header};
use serde_json::json;
use tokio_tungstenite::tungstenite::Message;

fn short_token(user: &str, secs: u64) -> String {
    let exp = agentwire::auth::now_secs() + secs;
    encode(
        &Header::new(Algorithm::HS256),
        &json!({"sub": user, "exp": exp}),
        &EncodingKey::from_secret(SECRET.as_bytes()),
    )
    .unwrap()
}

#[tokio::test]
async fn header_auth_sends_ready_with_user_and_connection_id() {
    let app = TestApp::spawn().await;
    let mut c = WsClient::connect_request(bearer_request(&app, &app.token_for("alice"))).await;
    let ready = c.next().await;
    assert_eq!(ready["type"], "ready");
    assert_eq!(ready["user_id"], "alice");
    assert_eq!(ready["connection_id"].as_str().unwrap().len(), 32);
    assert!(ready["expires_at"].as_u64().unwrap() > agentwire::auth::now_secs());
}

#[tokio::test]
async fn query_token_auth() {
    let app = TestApp::spawn().await;
    let url = format!("ws://{}/api/ws?token={}", app.addr, app.token_for("q"));
    let mut c = WsClient::connect_request(url).await;
    let ready = c.next().await;
    assert_eq!(ready["type"], "ready");
    assert_eq!(ready["user_id"], "q");
}

#[tokio::test]
async fn first_frame_auth() {
    let app = TestApp::spawn().await;
    let mut c = WsClient::connect_bare(&app).await;
    c.send(json!({"type": "auth", "token": app.token_for("f")}))
        .await;
    let ready = c.next().await;
    assert_eq!(ready["type"], "ready");
    assert_eq!(ready["user_id"], "f");
    assert_eq!(c.sync("p").await.len(), 0);
}

#[tokio::test]
async fn every_auth_failure_closes_4401() {
    let app = TestApp::spawn().await;
    let expired = encode(
        &Header::new(Algorithm::HS256),
        &json!({"sub": "x", "exp": agentwire::auth::now_secs() - 120}),
        &EncodingKey::from_secret(SECRET.as_bytes()),
    )
    .unwrap();

    // Bad header token.
    let mut c = WsClient::connect_request(bearer_request(&app, "nonsense")).await;
    assert_eq!(c.ended().await, Ended::Close(4401));

    // Expired query token.
    let mut c =
        WsClient::connect_request(format!("ws://{}/api/ws?token={expired}", app.addr)).await;
    assert_eq!(c.ended().await, Ended::Close(4401));

    // Bad first-frame token.
    let mut c = WsClient::connect_bare(&app).await;
    c.send(json!({"type": "auth", "token": "nonsense"})).await;
    assert_eq!(c.ended().await, Ended::Close(4401));

    // Anything but an auth frame first.
    let mut c = WsClient::connect_bare(&app).await;
    c.send(json!({"type": "message", "content": "hi"})).await;
    assert_eq!(c.ended().await, Ended::Close(4401));
    let mut c = WsClient::connect_bare(&app).await;
    c.send_raw(Message::Binary(vec![1, 2, 3].into())).await;
    assert_eq!(c.ended().await, Ended::Close(4401));

    // Nothing reached the store.
    assert!(app.tasks("x").await.is_empty());
}

#[tokio::test]
async fn silence_closes_4408() {
    let app = TestApp::spawn_with(|c| c.ws.auth_timeout = Duration::from_millis(200)).await;
    let mut c = WsClient::connect_bare(&app).await;
    assert_eq!(c.ended().await, Ended::Close(4408));
}

#[tokio::test]
async fn plain_http_to_the_socket_route_is_a_json_error() {
    let app = TestApp::spawn().await;
    let r = app
        .client()
        .get(format!("{}/api/ws", app.url))
        .send()
        .await
        .unwrap();
    let (s, v) = common::json_of(r).await;
    assert_eq!(s, 400);
    common::assert_error(&v, "invalid_request");
}

#[tokio::test]
async fn expiry_without_refresh_warns_then_closes_4401() {
    let app = TestApp::spawn_with(|c| c.ws.token_grace = Duration::from_millis(300)).await;
    let mut c = WsClient::connect_with_token(&app, &short_token("e", 2)).await;
    let warning = c.next().await;
    assert_eq!(warning["type"], "error");
    assert_eq!(warning["code"], "token_expired");
    assert_eq!(c.ended().await, Ended::Close(4401));
}

#[tokio::test]
async fn refresh_before_expiry_keeps_the_socket() {
    let app = TestApp::spawn_with(|c| c.ws.token_grace = Duration::from_millis(300)).await;
    // The token's expiry, in seconds (it may round up by one).
    let expires = agentwire::auth::now_secs() + 3;
    let mut c = WsClient::connect_with_token(&app, &short_token("r", 2)).await;

    // A token of another user is refused and changes nothing.
    c.send(json!({"type": "auth", "token": app.token_for("intruder"), "request_id": "a0"}))
        .await;
    let e = c.next().await;
    assert_eq!(e["type"], "error");
    assert_eq!(e["code"], "forbidden");
    assert_eq!(e["request_id"], "a0");
    // So is a bad one.
    c.send(json!({"type": "auth", "token": "junk", "request_id": "a1"}))
        .await;
    let e = c.next().await;
    assert_eq!(e["code"], "unauthorized");

    c.send(json!({"type": "auth", "token": app.token_for("r"), "request_id": "a2"}))
        .await;
    let ok = c.next().await;
    assert_eq!(ok["type"], "auth.refreshed");
    assert_eq!(ok["request_id"], "a2");
    assert!(ok["expires_at"].as_u64().unwrap() > agentwire::auth::now_secs() + 60);

    // Past the old expiry and its grace, the socket still serves, with no warning in between:
    // wait for the clock to pass them, not for a fixed time.
    let past = Duration::from_secs(expires) + Duration::from_millis(300);
    while Duration::from_secs(agentwire::auth::now_secs()) <= past {
        assert!(c.sync("waiting").await.is_empty());
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(c.sync("still-here").await.is_empty());
}

#[tokio::test]
async fn malformed_frames_get_error_events_and_the_socket_keeps_serving() {
    let app = TestApp::spawn().await;
    let mut c = WsClient::connect(&app, "m").await;
    let cases = [
        ("not json", "invalid_frame", None),
        ("[1,2,3]", "invalid_frame", None),
        (r#"{"content":"no type"}"#, "invalid_frame", None),
        (
            r#"{"type":"dance","request_id":"r1"}"#,
            "unknown_type",
            Some("r1"),
        ),
        (
            r#"{"type":"message","request_id":"r2"}"#,
            "invalid_frame",
            Some("r2"),
        ),
        (
            r#"{"type":"message","content":7,"request_id":"r3"}"#,
            "invalid_frame",
            Some("r3"),
        ),
        (
            r#"{"type":"threads.list","limit":"x","request_id":"r4"}"#,
            "invalid_frame",
            Some("r4"),
        ),
        (
            r#"{"type":"threads.list","limit":0,"request_id":"r5"}"#,
            "invalid_frame",
            Some("r5"),
        ),
        (
            r#"{"type":"cancel","request_id":"r6"}"#,
            "invalid_frame",
            Some("r6"),
        ),
        (
            r#"{"type":"message","content":"   ","request_id":"r7"}"#,
            "invalid_frame",
            Some("r7"),
        ),
        (
            r#"{"type":"message","content":"hi","metadata":5,"request_id":"r8"}"#,
            "invalid_frame",
            Some("r8"),
        ),
    ];
    for (text, code, rid) in cases {
        c.send_raw(Message::Text(text.into())).await;
        let e = c.next().await;
        assert_eq!(e["type"], "error", "{text}");
        assert_eq!(e["code"], code, "{text}: {e}");
        assert!(!e["message"].as_str().unwrap().is_empty());
        if let Some(rid) = rid {
            assert_eq!(e["request_id"], rid, "{text}");
        }
    }
    c.send_raw(Message::Binary(vec![0u8; 10].into())).await;
    let e = c.next().await;
    assert_eq!(e["code"], "invalid_frame");

    let long = "a".repeat(2001);
    c.send(json!({"type": "message", "content": long, "request_id": "long"}))
        .await;
    let e = c.next().await;
    assert_eq!(e["code"], "message_too_long");
    assert_eq!(e["request_id"], "long");

    for (frame, code) in [
        (
            json!({"type": "message", "content": "hi", "thread_id": "nope", "request_id": "n1"}),
            "not_found",
        ),
        (
            json!({"type": "thread.load", "thread_id": "00000000-0000-0000-0000-000000000000", "request_id": "n2"}),
            "not_found",
        ),
        (
            json!({"type": "cancel", "thread_id": "00000000-0000-0000-0000-000000000000", "request_id": "n3"}),
            "not_found",
        ),
    ] {
        let rid = frame["request_id"].clone();
        c.send(frame).await;
        let e = c.next().await;
        assert_eq!(e["code"], code, "{e}");
        assert_eq!(e["request_id"], rid);
    }
    // Still serving, and nothing else was queued.
    assert!(c.sync("alive").await.is_empty());
    // A valid turn still works on the same socket.
    c.send(json!({"type": "message", "content": "show my tasks"}))
        .await;
    let frames = c.until_done(1).await;
    assert_eq!(frames.last().unwrap()["message"]["status"], "completed");
}

#[tokio::test]
async fn oversized_frame_closes_1009() {
    let app = TestApp::spawn().await;
    let mut c = WsClient::connect(&app, "big").await;
    let huge = json!({"type": "message", "content": "x".repeat(70 * 1024)});
    c.send(huge).await;
    assert_eq!(c.ended().await, Ended::Close(1009));
}

#[tokio::test]
async fn an_oversized_first_frame_closes_1009() {
    let app = TestApp::spawn().await;
    let mut c = WsClient::connect_bare(&app).await;
    // A 100 KB token, over the 64 KiB frame limit, before the socket is authenticated.
    c.send(json!({"type": "auth", "token": "x".repeat(100 * 1024)}))
        .await;
    assert_eq!(c.ended().await, Ended::Close(1009));
}

#[tokio::test]
async fn a_refresh_to_the_largest_exp_keeps_the_socket_serving() {
    let app = TestApp::spawn().await;
    let mut c = WsClient::connect_with_token(&app, &short_token("forever", 60)).await;
    let token = encode(
        &Header::new(Algorithm::HS256),
        &json!({"sub": "forever", "exp": u64::MAX}),
        &EncodingKey::from_secret(SECRET.as_bytes()),
    )
    .unwrap();
    c.send(json!({"type": "auth", "token": token, "request_id": "a"}))
        .await;
    let ok = c.next().await;
    assert_eq!(ok["type"], "auth.refreshed", "{ok}");
    assert_eq!(ok["expires_at"], u64::MAX);
    assert!(c.sync("after").await.is_empty());
    c.send(json!({"type": "message", "content": "show my tasks"}))
        .await;
    let frames = c.until_done(1).await;
    assert_eq!(frames.last().unwrap()["message"]["status"], "completed");
}

#[tokio::test]
async fn socket_limit_per_user_closes_4429() {
    let app = TestApp::spawn_with(|c| c.ws.max_sockets_per_user = 2).await;
    let _a = WsClient::connect(&app, "lim").await;
    let _b = WsClient::connect(&app, "lim").await;
    let url = format!("ws://{}/api/ws?token={}", app.addr, app.token_for("lim"));
    let mut c = WsClient::connect_request(url).await;
    assert_eq!(c.ended().await, Ended::Close(4429));
    // Another user is unaffected.
    WsClient::connect(&app, "other").await;
}

#[tokio::test]
async fn a_peer_that_never_answers_pings_is_dropped() {
    let app = TestApp::spawn_with(|c| c.ws.ping_interval = Duration::from_millis(100)).await;
    let mut c = WsClient::connect(&app, "quiet").await;
    // Do not read (so no pong is sent) until the server has let the socket go.
    let quiet = agentwire::model::UserId::new("quiet");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while app.state.hub.subscribers(&quiet) > 0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the silent peer was never dropped"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(c.ended().await, Ended::Dropped);
    // A peer that reads (and so answers pings) stays.
    let mut live = WsClient::connect(&app, "chatty").await;
    for i in 0..6 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert!(live.sync(&format!("s{i}")).await.is_empty());
    }
}

#[tokio::test]
async fn server_failures_are_internal_errors_without_details() {
    let app = TestApp::spawn().await;
    let mut c = WsClient::connect(&app, "db").await;
    app.state.store.close().await;
    c.send(json!({"type": "threads.list", "request_id": "x"}))
        .await;
    let e = c.next().await;
    assert_eq!(e["code"], "internal");
    assert_eq!(e["message"], "internal error");
    assert_eq!(e["request_id"], "x");
    c.send(json!({"type": "message", "content": "hi", "request_id": "y"}))
        .await;
    let e = c.next().await;
    assert_eq!(e["code"], "internal");
    assert_eq!(e["request_id"], "y");
    // The socket itself is fine.
    assert!(c.sync("ok").await.is_empty());
}

#[tokio::test]
async fn the_socket_cap_holds_when_many_sockets_connect_at_once() {
    let app = TestApp::spawn_with(|c| c.ws.max_sockets_per_user = 3).await;
    let url = format!("ws://{}/api/ws?token={}", app.addr, app.token_for("herd"));
    let attempts = (0..12).map(|_| async {
        let mut c = WsClient::connect_request(url.clone()).await;
        let first = tokio::time::timeout(common::ws::WAIT, c.ws.next())
            .await
            .expect("an answer");
        let ready = matches!(first, Some(Ok(Message::Text(ref t))) if t.contains("\"ready\""));
        (ready, c)
    });
    let results = futures::future::join_all(attempts).await;
    let ready = results.iter().filter(|(r, _)| *r).count();
    assert_eq!(ready, 3, "exactly the cap got in");
    assert_eq!(
        app.state
            .hub
            .subscribers(&agentwire::model::UserId::new("herd")),
        3
    );
}
