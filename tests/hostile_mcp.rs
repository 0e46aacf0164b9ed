//! MCP over raw streamable HTTP, as a hostile client drives it: sessions bound to their user
//! (another user's session id is 404 on every method), capped per user and in total even
//! under concurrent initializes, closed when idle; and every error in the documented shape,
//! JSON-RPC's for a message, ours for HTTP's own, with the body limit honoured.

mod common;

use common::mcp::{assert_gone, assert_lists, delete, get, initialize, list, open, post, try_open};
use common::{assert_error, json_of, TestApp};
use serde_json::Value;

#[tokio::test]
async fn http_mcp_refuses_missing_and_bad_tokens() {
    let app = TestApp::spawn().await;
    for auth in [None, Some("Bearer nope")] {
        let mut req = app
            .client()
            .post(format!("{}/api/mcp", app.url))
            .header("accept", "application/json, text/event-stream")
            .json(&initialize());
        if let Some(a) = auth {
            req = req.header("authorization", a);
        }
        let r = req.send().await.unwrap();
        assert_eq!(r.headers()["www-authenticate"], "Bearer");
        let (s, v) = json_of(r).await;
        assert_eq!(s, 401);
        assert_error(&v, "unauthorized");
    }
}

#[tokio::test]
async fn another_users_session_id_is_404_on_every_method() {
    let app = TestApp::spawn().await;
    let id = open(&app, "alice").await;

    assert_gone(&app, "bob", &id).await;
    let (s, v) = json_of(get(&app, "bob", &id).send().await.unwrap()).await;
    assert_eq!(s, 404);
    assert_error(&v, "not_found");
    let (s, v) = json_of(delete(&app, "bob", &id).send().await.unwrap()).await;
    assert_eq!(s, 404);
    assert_error(&v, "not_found");
    // An id no one holds answers the same: nothing tells Bob the first one exists.
    assert_gone(&app, "bob", "no-such-session").await;

    // Alice's session is untouched by all of that.
    assert_lists(&app, "alice", &id).await;
    let stream = get(&app, "alice", &id).send().await.unwrap();
    assert_eq!(stream.status(), 200);
    assert_eq!(stream.headers()["content-type"], "text/event-stream");
    drop(stream);
    let r = delete(&app, "alice", &id).send().await.unwrap();
    assert_eq!(r.status(), 202);
    assert_gone(&app, "alice", &id).await;
}

#[tokio::test]
async fn sessions_are_capped_per_user_and_in_total() {
    let app = TestApp::spawn_with(|c| {
        c.mcp.max_sessions_per_user = 2;
        c.mcp.max_sessions = 3;
    })
    .await;
    let a1 = open(&app, "alice").await;
    let a2 = open(&app, "alice").await;
    assert_lists(&app, "alice", &a1).await;
    // Alice at her limit: her least recently used session (a2) makes room.
    let a3 = open(&app, "alice").await;
    assert_gone(&app, "alice", &a2).await;
    assert_lists(&app, "alice", &a1).await;
    assert_lists(&app, "alice", &a3).await;

    // Three open in all: a new user is refused, and no one else's session is closed for it.
    let b1 = open(&app, "bob").await;
    let (s, v) = try_open(&app, "carol").await.unwrap_err();
    assert_eq!(s, 429);
    assert_error(&v, "too_many_sessions");
    assert_lists(&app, "bob", &b1).await;
    assert_lists(&app, "alice", &a1).await;
    assert_lists(&app, "alice", &a3).await;

    // A closed session frees its room.
    let r = delete(&app, "bob", &b1).send().await.unwrap();
    assert_eq!(r.status(), 202);
    let c1 = open(&app, "carol").await;
    assert_lists(&app, "carol", &c1).await;
}

#[tokio::test]
async fn idle_sessions_close_and_free_their_room() {
    let app = TestApp::spawn_with(|c| {
        c.mcp.session_idle = std::time::Duration::from_secs(1);
        c.mcp.max_sessions = 1;
    })
    .await;
    let id = open(&app, "alice").await;
    // In use, a session outlives its idle time many times over.
    for _ in 0..6 {
        tokio::time::sleep(std::time::Duration::from_millis(400)).await;
        assert_lists(&app, "alice", &id).await;
    }
    // Left alone, it closes; its id answers 404, and its room goes to someone else.
    tokio::time::sleep(std::time::Duration::from_millis(2500)).await;
    assert_gone(&app, "alice", &id).await;
    let other = open(&app, "bob").await;
    assert_lists(&app, "bob", &other).await;
}

#[tokio::test]
async fn mcp_errors_come_in_the_documented_shapes() {
    let app = TestApp::spawn_with(|c| c.max_body_bytes = 2048).await;
    let raw = |body: &'static str| {
        post(&app, "alice", None)
            .header("content-type", "application/json")
            .body(body)
    };
    let is_json = |r: &reqwest::Response| r.headers()["content-type"] == "application/json";

    // A body that is not JSON, and JSON that is not a message: JSON-RPC errors, as MCP asks.
    let r = raw("{\"jsonrpc\": \"2.0\", ").send().await.unwrap();
    assert!(is_json(&r));
    let (s, v) = json_of(r).await;
    assert_eq!(s, 400);
    assert_eq!(v["jsonrpc"], "2.0");
    assert_eq!(v["id"], Value::Null);
    assert_eq!(v["error"]["code"], -32700);
    let (s, v) = json_of(raw("{\"hello\": 1}").send().await.unwrap()).await;
    assert_eq!(s, 400);
    assert_eq!(v["error"]["code"], -32600);

    // Errors of HTTP itself: ours.
    let r = post(&app, "alice", None)
        .header("content-type", "text/plain")
        .body(initialize().to_string())
        .send()
        .await
        .unwrap();
    let (s, v) = json_of(r).await;
    assert_eq!(s, 415);
    assert_error(&v, "unsupported_media_type");

    for method in [reqwest::Method::PUT, reqwest::Method::PATCH] {
        let r = app
            .client()
            .request(method, format!("{}/api/mcp", app.url))
            .bearer_auth(app.token_for("alice"))
            .json(&initialize())
            .send()
            .await
            .unwrap();
        assert_eq!(r.headers()["allow"], "GET, POST, DELETE");
        let (s, v) = json_of(r).await;
        assert_eq!(s, 405);
        assert_error(&v, "method_not_allowed");
    }

    for size in [4096, 1 << 20] {
        let mut big = initialize();
        big["params"]["clientInfo"]["name"] = "x".repeat(size).into();
        let r = post(&app, "alice", None).json(&big).send().await.unwrap();
        let (s, v) = json_of(r).await;
        assert_eq!(s, 413);
        assert_error(&v, "payload_too_large");
    }

    // rmcp's own refusals, put in our shape: no session id on GET, an Accept without SSE.
    let r = app
        .get("/api/mcp", "alice")
        .header("accept", "text/event-stream")
        .send()
        .await
        .unwrap();
    let (s, v) = json_of(r).await;
    assert_eq!(s, 400);
    assert_error(&v, "invalid_request");
    let r = app
        .post("/api/mcp", "alice")
        .header("accept", "application/json")
        .json(&initialize())
        .send()
        .await
        .unwrap();
    let (s, v) = json_of(r).await;
    assert_eq!(s, 406);
    assert_error(&v, "not_acceptable");

    // None of that left a session open, and a proper client still gets one.
    let id = open(&app, "alice").await;
    assert_lists(&app, "alice", &id).await;
}

#[tokio::test]
async fn concurrent_initializes_keep_within_the_limits_and_leak_no_room() {
    let app = TestApp::spawn_with(|c| {
        c.mcp.max_sessions_per_user = 2;
        c.mcp.max_sessions = 4;
    })
    .await;
    let tries = futures::future::join_all((0..12).map(|_| try_open(&app, "dave"))).await;
    let mut alive = Vec::new();
    for t in tries {
        match t {
            Ok(id) => {
                if list(&app, "dave", &id).await.0 == 200 {
                    alive.push(id);
                }
            }
            Err((s, v)) => {
                assert_eq!(s, 429, "{v}");
                assert_error(&v, "too_many_sessions");
            }
        }
    }
    assert!(!alive.is_empty() && alive.len() <= 2, "{alive:?}");
    for id in &alive {
        assert_eq!(delete(&app, "dave", id).send().await.unwrap().status(), 202);
    }
    // Every slot came back: four users get the four sessions the server allows.
    for user in ["erin", "frank", "grace", "heidi"] {
        let id = open(&app, user).await;
        assert_lists(&app, user, &id).await;
    }
    let (s, _) = try_open(&app, "ivan").await.unwrap_err();
    assert_eq!(s, 429);
}
