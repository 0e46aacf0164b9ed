//! WebSocket authentication, token refresh and expiry, pings, and server failures; the hostile
//! cases (bad tokens, bad frames, socket floods) are in `hostile_*.rs`.

mod common;

use std::time::Duration;

use common::jwt::expiring;
use common::ws::{bearer_request, Ended, WsClient};
use common::TestApp;
use serde_json::json;

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
    let mut c = WsClient::connect_with_token(&app, &expiring("e", 2)).await;
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
    let mut c = WsClient::connect_with_token(&app, &expiring("r", 2)).await;

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
