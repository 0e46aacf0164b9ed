//! REST over the real server: chat turns, listings, errors, isolation, rate limit, restart.

mod common;

use std::time::Duration;

use common::{assert_error, json_of, TestApp};
use serde_json::{json, Value};

#[tokio::test]
async fn health_reports_database_agent_and_version() {
    let app = TestApp::spawn().await;
    let r = app
        .client()
        .get(format!("{}/api/health", app.url))
        .send()
        .await
        .unwrap();
    let (status, v) = json_of(r).await;
    assert_eq!(status, 200);
    assert_eq!(v["status"], "ok");
    assert_eq!(v["database"], "ok");
    assert_eq!(v["agent"], "offline");
    assert_eq!(v["version"], env!("CARGO_PKG_VERSION"));
    assert!(v["uptime_s"].is_u64());

    // A database that cannot be reached makes health fail loudly.
    app.state.store.close().await;
    let r = app
        .client()
        .get(format!("{}/api/health", app.url))
        .send()
        .await
        .unwrap();
    let (status, v) = json_of(r).await;
    assert_eq!(status, 503);
    assert_eq!(v["database"], "unavailable");
}

#[tokio::test]
async fn english_turn_adds_a_task_and_answers_in_full_shape() {
    let app = TestApp::spawn().await;
    let v = app.say("alice", "add a task to buy milk", None).await;
    assert!(v["conversation_id"].as_str().unwrap().len() == 36);
    assert_eq!(v["message"], v["response"]);
    assert!(v["message"].as_str().unwrap().contains("buy milk"), "{v}");
    assert_eq!(v["tool_calls"][0]["tool_name"], "add_task");
    assert_eq!(v["tool_calls"][0]["arguments"]["title"], "buy milk");
    assert_eq!(v["tool_calls"][0]["result"]["ok"], true);
    assert_eq!(v["tool_calls"][0]["result"]["task"]["number"], 1);
    for k in ["prompt_tokens", "completion_tokens", "total_tokens"] {
        assert!(v["usage"][k].is_u64(), "{v}");
    }
    assert!(chrono::DateTime::parse_from_rfc3339(v["timestamp"].as_str().unwrap()).is_ok());
    assert_eq!(v["metadata"]["user_id"], "alice");
    assert_eq!(v["metadata"]["token_verified"], true);
    assert_eq!(v["metadata"]["language"], "en");

    let tasks = app.tasks("alice").await;
    assert_eq!(tasks.len(), 1);
    assert_eq!(tasks[0]["title"], "buy milk");
    assert_eq!(tasks[0]["number"], 1);
    assert_eq!(tasks[0]["completed"], false);
    for k in ["priority", "due_date", "created_at", "updated_at"] {
        assert!(tasks[0].get(k).is_some(), "task lacks {k}: {}", tasks[0]);
    }
}

#[tokio::test]
async fn roman_urdu_turns_change_tasks_and_answer_in_roman_urdu() {
    let app = TestApp::spawn().await;
    let v = app.say("sara", "meeting ka task bana do", None).await;
    assert_eq!(v["metadata"]["language"], "roman-urdu");
    assert_eq!(v["tool_calls"][0]["tool_name"], "add_task");
    assert_eq!(app.tasks("sara").await[0]["title"], "meeting");

    let v = app
        .say("sara", "Kal doctor ke paas jana hai, task bana do", None)
        .await;
    let tasks = app.tasks("sara").await;
    assert_eq!(tasks.len(), 2, "{v}");
    let tomorrow = (chrono::Utc::now().date_naive() + chrono::Days::new(1)).to_string();
    assert_eq!(tasks[1]["due_date"], tomorrow.as_str());

    let v = app
        .say("sara", "Mera meeting wala task delete kar do", None)
        .await;
    assert_eq!(v["tool_calls"][0]["tool_name"], "delete_task");
    assert_eq!(v["metadata"]["language"], "roman-urdu");
    let text = v["message"].as_str().unwrap();
    assert!(text.contains("'meeting'"), "{text}");
    let tasks = app.tasks("sara").await;
    assert_eq!(tasks.len(), 1);
    assert!(tasks.iter().all(|t| t["title"] != "meeting"));
}

#[tokio::test]
async fn conversation_continues_across_requests_with_context() {
    let app = TestApp::spawn().await;
    let first = app.say("bob", "add a task to call the bank", None).await;
    let id = first["conversation_id"].as_str().unwrap().to_string();
    // "it" refers to the task the conversation touched last.
    let second = app.say("bob", "mark it as done", Some(&id)).await;
    assert_eq!(second["conversation_id"], id.as_str());
    assert_eq!(
        second["tool_calls"][0]["tool_name"], "complete_task",
        "{second}"
    );
    let tasks = app.tasks("bob").await;
    assert_eq!(tasks[0]["completed"], true);

    let r = app
        .get(&format!("/api/bob/conversations/{id}/messages"), "bob")
        .send()
        .await
        .unwrap();
    let (status, v) = json_of(r).await;
    assert_eq!(status, 200);
    let msgs = v["data"].as_array().unwrap();
    let roles: Vec<&str> = msgs.iter().map(|m| m["role"].as_str().unwrap()).collect();
    assert_eq!(roles, ["user", "assistant", "user", "assistant"]);
    let seqs: Vec<i64> = msgs.iter().map(|m| m["seq"].as_i64().unwrap()).collect();
    assert_eq!(seqs, [1, 2, 3, 4]);
    assert_eq!(msgs[0]["content"], "add a task to call the bank");
    assert_eq!(msgs[1]["status"], "completed");
    assert_eq!(msgs[1]["tool_calls"][0]["tool_name"], "add_task");

    // Only one conversation exists, and its title comes from the first message.
    let r = app
        .get("/api/bob/conversations", "bob")
        .send()
        .await
        .unwrap();
    let (_, v) = json_of(r).await;
    assert_eq!(v["data"].as_array().unwrap().len(), 1);
    assert_eq!(v["data"][0]["title"], "add a task to call the bank");
}

#[tokio::test]
async fn content_alias_and_language_metadata_are_honoured() {
    let app = TestApp::spawn().await;
    let (status, v) = app
        .chat(
            "u1",
            json!({"content": "show my tasks", "metadata": {"language": "roman-urdu", "device": "mobile"}}),
        )
        .await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["metadata"]["language"], "roman-urdu");
    assert_eq!(v["tool_calls"][0]["tool_name"], "list_tasks");
}

#[tokio::test]
async fn bad_bodies_get_clear_json_errors() {
    let app = TestApp::spawn().await;
    let post = |body: &'static str| {
        app.post("/api/u1/chat", "u1")
            .header("content-type", "application/json")
            .body(body)
            .send()
    };
    let (s, v) = json_of(post("{not json").await.unwrap()).await;
    assert_eq!(s, 400);
    assert_error(&v, "invalid_request");

    let (s, v) = json_of(post("{}").await.unwrap()).await;
    assert_eq!(s, 400);
    assert_error(&v, "invalid_request");
    assert!(v["error"]["message"].as_str().unwrap().contains("message"));

    let (s, v) = json_of(post(r#"{"message": 42}"#).await.unwrap()).await;
    assert_eq!(s, 400);
    assert_error(&v, "invalid_request");

    let (s, v) = json_of(post(r#"{"message": "   "}"#).await.unwrap()).await;
    assert_eq!(s, 400);
    assert_error(&v, "invalid_request");

    let (s, v) = json_of(post(r#"{"message": "hi", "metadata": [1]}"#).await.unwrap()).await;
    assert_eq!(s, 400);
    assert_error(&v, "invalid_request");

    // 2000 characters (after trimming) is allowed, 2001 is not.
    let (s, _) = app
        .chat(
            "u1",
            json!({"message": format!("  {}  ", "a".repeat(2000))}),
        )
        .await;
    assert_eq!(s, 200);
    let (s, v) = app.chat("u1", json!({"message": "ü".repeat(2001)})).await;
    assert_eq!(s, 400);
    assert_error(&v, "message_too_long");

    let r = app
        .post("/api/u1/chat", "u1")
        .json(&json!({"message": "x".repeat(200_000)}))
        .send()
        .await
        .unwrap();
    let (s, v) = json_of(r).await;
    assert_eq!(s, 413);
    assert_error(&v, "payload_too_large");

    // Nothing above left a conversation behind except the one valid turn.
    let r = app.get("/api/u1/conversations", "u1").send().await.unwrap();
    let (_, v) = json_of(r).await;
    assert_eq!(v["data"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn unknown_conversation_ids_are_not_found() {
    let app = TestApp::spawn().await;
    for id in ["conv-123", "00000000-0000-0000-0000-000000000000"] {
        let (s, v) = app
            .chat("u1", json!({"message": "hi", "conversation_id": id}))
            .await;
        assert_eq!(s, 404, "{id}");
        assert_error(&v, "not_found");
        let r = app
            .get(&format!("/api/u1/conversations/{id}/messages"), "u1")
            .send()
            .await
            .unwrap();
        let (s, v) = json_of(r).await;
        assert_eq!(s, 404);
        assert_error(&v, "not_found");
    }
}

#[tokio::test]
async fn users_never_see_or_change_each_others_data() {
    let app = TestApp::spawn().await;
    let a = app.say("alice", "add a task to buy milk", None).await;
    let conv = a["conversation_id"].as_str().unwrap().to_string();

    // Bob on his own paths: nothing of Alice's exists.
    assert!(app.tasks("bob").await.is_empty());
    let r = app
        .get("/api/bob/conversations", "bob")
        .send()
        .await
        .unwrap();
    let (_, v) = json_of(r).await;
    assert!(v["data"].as_array().unwrap().is_empty());
    let r = app
        .get(&format!("/api/bob/conversations/{conv}/messages"), "bob")
        .send()
        .await
        .unwrap();
    let (s, v) = json_of(r).await;
    assert_eq!(s, 404);
    assert_error(&v, "not_found");
    let (s, v) = app
        .chat(
            "bob",
            json!({"message": "delete task 1", "conversation_id": conv}),
        )
        .await;
    assert_eq!(s, 404);
    assert_error(&v, "not_found");

    // Bob's own "delete task 1" touches only his (empty) task list.
    let v = app.say("bob", "delete task 1", None).await;
    assert_eq!(v["tool_calls"][0]["result"]["error"], "not_found");
    assert_eq!(app.tasks("alice").await.len(), 1);

    // Bob with his token on Alice's paths: 403 everywhere.
    for path in [
        "/api/alice/conversations".to_string(),
        format!("/api/alice/conversations/{conv}/messages"),
        "/api/alice/tasks".to_string(),
    ] {
        let r = app.get(&path, "bob").send().await.unwrap();
        let (s, v) = json_of(r).await;
        assert_eq!(s, 403, "{path}");
        assert_error(&v, "forbidden");
    }
    for path in ["/api/alice/chat", "/api/alice/chat/stream"] {
        let r = app
            .post(path, "bob")
            .json(&json!({"message": "hi"}))
            .send()
            .await
            .unwrap();
        let (s, v) = json_of(r).await;
        assert_eq!(s, 403, "{path}");
        assert_error(&v, "forbidden");
    }
    assert_eq!(app.tasks("alice").await.len(), 1);
}

#[tokio::test]
async fn conversations_paginate_newest_first() {
    let app = TestApp::spawn().await;
    let mut ids = Vec::new();
    for i in 0..5 {
        let v = app.say("p", &format!("add task number {i}"), None).await;
        ids.push(v["conversation_id"].as_str().unwrap().to_string());
    }
    let r = app
        .get("/api/p/conversations?limit=2", "p")
        .send()
        .await
        .unwrap();
    let (s, page1) = json_of(r).await;
    assert_eq!(s, 200);
    assert_eq!(page1["has_more"], true);
    let got: Vec<&str> = page1["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert_eq!(got, [ids[4].as_str(), ids[3].as_str()]);

    // A new conversation between pages neither shifts nor duplicates the next page.
    app.say("p", "add task interleaved", None).await;
    let after = page1["after"].as_str().unwrap();
    let r = app
        .get(&format!("/api/p/conversations?limit=2&after={after}"), "p")
        .send()
        .await
        .unwrap();
    let (_, page2) = json_of(r).await;
    let got: Vec<&str> = page2["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert_eq!(got, [ids[2].as_str(), ids[1].as_str()]);
    let after = page2["after"].as_str().unwrap();
    let r = app
        .get(&format!("/api/p/conversations?limit=2&after={after}"), "p")
        .send()
        .await
        .unwrap();
    let (_, page3) = json_of(r).await;
    assert_eq!(page3["has_more"], false);
    assert_eq!(page3["data"][0]["id"], ids[0].as_str());
    assert!(page3["after"].is_null());

    for q in ["limit=0", "limit=101", "limit=abc", "after=garbage"] {
        let r = app
            .get(&format!("/api/p/conversations?{q}"), "p")
            .send()
            .await
            .unwrap();
        let (s, v) = json_of(r).await;
        assert_eq!(s, 400, "{q}");
        assert_error(&v, "invalid_request");
    }
}

#[tokio::test]
async fn task_listing_filters_by_status() {
    let app = TestApp::spawn().await;
    app.say("t", "add a task to buy milk", None).await;
    app.say("t", "add a task to pay rent", None).await;
    app.say("t", "mark task 1 as done", None).await;
    let get = |q: &'static str| app.get(&format!("/api/t/tasks{q}"), "t").send();
    let (_, v) = json_of(get("?status=pending").await.unwrap()).await;
    let titles: Vec<&str> = v["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["title"].as_str().unwrap())
        .collect();
    assert_eq!(titles, ["pay rent"]);
    let (_, v) = json_of(get("?status=completed").await.unwrap()).await;
    assert_eq!(v["data"][0]["title"], "buy milk");
    assert_eq!(v["has_more"], false);
    let (_, v) = json_of(get("?status=all").await.unwrap()).await;
    assert_eq!(v["data"].as_array().unwrap().len(), 2);
    let (s, v) = json_of(get("?status=someday").await.unwrap()).await;
    assert_eq!(s, 400);
    assert_error(&v, "invalid_request");
}

#[tokio::test]
async fn unknown_routes_and_methods_answer_json() {
    let app = TestApp::spawn().await;
    let r = app
        .client()
        .get(format!("{}/api/nope", app.url))
        .send()
        .await
        .unwrap();
    let (s, v) = json_of(r).await;
    assert_eq!(s, 404);
    assert_error(&v, "not_found");
    let r = app
        .client()
        .delete(format!("{}/api/health", app.url))
        .send()
        .await
        .unwrap();
    let (s, v) = json_of(r).await;
    assert_eq!(s, 405);
    assert_error(&v, "method_not_allowed");
}

#[tokio::test]
async fn rate_limit_is_per_user_with_retry_after() {
    let app = TestApp::spawn_with(|c| {
        c.rate_limit_requests = 2;
        c.rate_limit_window = Duration::from_secs(60);
    })
    .await;
    app.say("r", "hi", None).await;
    // The stream endpoint draws on the same allowance.
    let r = app
        .post("/api/r/chat/stream", "r")
        .json(&json!({"message": "hi"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let _ = r.text().await;
    let r = app
        .post("/api/r/chat", "r")
        .json(&json!({"message": "hi"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 429);
    let retry: u64 = r.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=30).contains(&retry), "{retry}");
    let (_, v) = json_of(r).await;
    assert_error(&v, "rate_limited");
    // Another user is unaffected; reads are not limited.
    app.say("other", "hi", None).await;
    assert!(app.tasks("r").await.is_empty());
}

#[tokio::test]
async fn dev_token_route_mints_working_tokens_in_development_only() {
    let app = TestApp::spawn().await;
    let r = app
        .client()
        .post(format!("{}/api/dev/token", app.url))
        .json(&json!({"user_id": "demo"}))
        .send()
        .await
        .unwrap();
    let (s, v) = json_of(r).await;
    assert_eq!(s, 200);
    let token = v["token"].as_str().unwrap();
    let r = app
        .client()
        .get(format!("{}/api/demo/tasks", app.url))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    for bad in [json!({}), json!({"user_id": ""}), json!({"user_id": "a/b"})] {
        let r = app
            .client()
            .post(format!("{}/api/dev/token", app.url))
            .json(&bad)
            .send()
            .await
            .unwrap();
        let (s, v) = json_of(r).await;
        assert_eq!(s, 400, "{bad}");
        assert_error(&v, "invalid_request");
    }

    let prod =
        TestApp::spawn_with(|c| c.environment = agentwire::config::Environment::Production).await;
    let r = prod
        .client()
        .post(format!("{}/api/dev/token", prod.url))
        .json(&json!({"user_id": "demo"}))
        .send()
        .await
        .unwrap();
    let (s, v) = json_of(r).await;
    assert_eq!(s, 404);
    assert_error(&v, "not_found");
}

#[tokio::test]
async fn cors_allows_only_configured_origins() {
    let app =
        TestApp::spawn_with(|c| c.cors_origins = vec!["https://app.example.com".into()]).await;
    let preflight = |origin: &'static str| {
        app.client()
            .request(reqwest::Method::OPTIONS, format!("{}/api/u/chat", app.url))
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header(
                "access-control-request-headers",
                "authorization,content-type",
            )
            .send()
    };
    let r = preflight("https://app.example.com").await.unwrap();
    assert_eq!(
        r.headers()["access-control-allow-origin"],
        "https://app.example.com"
    );
    let r = preflight("https://evil.example.com").await.unwrap();
    assert!(r.headers().get("access-control-allow-origin").is_none());
}

#[tokio::test]
async fn restart_keeps_conversations_messages_and_tasks() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("keep.db");
    let app = TestApp::spawn_at(&path, |_| {}).await;
    let v = app.say("k", "add a task to water the plants", None).await;
    let conv = v["conversation_id"].as_str().unwrap().to_string();
    app.stop().await;

    let app = TestApp::spawn_at(&path, |_| {}).await;
    assert_eq!(app.tasks("k").await[0]["title"], "water the plants");
    let r = app
        .get(&format!("/api/k/conversations/{conv}/messages"), "k")
        .send()
        .await
        .unwrap();
    let (s, v) = json_of(r).await;
    assert_eq!(s, 200);
    assert_eq!(v["data"].as_array().unwrap().len(), 2);
    // The conversation goes on where it stopped, and task numbers keep counting.
    app.say("k", "add a task to feed the cat", Some(&conv))
        .await;
    let tasks = app.tasks("k").await;
    assert_eq!(tasks[1]["number"], 2);
}

#[tokio::test]
async fn full_flow_on_postgres() {
    let Some(url) = common::fresh_postgres().await else {
        eprintln!("TEST_DATABASE_URL not set: skipping the PostgreSQL REST flow");
        return;
    };
    let app = TestApp::spawn_on(&url).await;
    let v = app.say("pg", "add a task to renew passport", None).await;
    let conv = v["conversation_id"].as_str().unwrap().to_string();
    app.say("pg", "task 1 mukammal kar do", Some(&conv)).await;
    let tasks = app.tasks("pg").await;
    assert_eq!(tasks[0]["completed"], true);
    assert!(app.tasks("other").await.is_empty());
    let r = app
        .get(&format!("/api/pg/conversations/{conv}/messages"), "pg")
        .send()
        .await
        .unwrap();
    let (_, v) = json_of(r).await;
    assert_eq!(v["data"].as_array().unwrap().len(), 4);
    let r = app
        .client()
        .get(format!("{}/api/health", app.url))
        .send()
        .await
        .unwrap();
    let (_, h): (u16, Value) = json_of(r).await;
    assert_eq!(h["database_backend"], "postgres");
}
