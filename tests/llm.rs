//! The model-driven agent, run end to end against the scripted OpenAI-compatible server.

mod common;

use std::time::Duration;

use common::mock_openai::{self as mock, MockOpenAi, Reply};
use common::ws::WsClient;
use common::{assert_error, json_of, TestApp};
use serde_json::{json, Value};

async fn messages_of(app: &TestApp, user: &str, conv: &str) -> Vec<Value> {
    let r = app
        .get(&format!("/api/{user}/conversations/{conv}/messages"), user)
        .send()
        .await
        .unwrap();
    let (s, v) = json_of(r).await;
    assert_eq!(s, 200, "{v}");
    v["data"].as_array().unwrap().clone()
}

/// The only conversation of `user`.
async fn only_conversation(app: &TestApp, user: &str) -> String {
    let r = app
        .get(&format!("/api/{user}/conversations"), user)
        .send()
        .await
        .unwrap();
    let (_, v) = json_of(r).await;
    assert_eq!(v["data"].as_array().unwrap().len(), 1, "{v}");
    v["data"][0]["id"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn sampling_settings_reach_the_model_only_when_set() {
    let mock = MockOpenAi::start(vec![
        mock::text(&["hi"], (5, 1)),
        mock::text(&["hi"], (5, 1)),
    ])
    .await;
    let tuned = TestApp::spawn_with_provider(&mock.url, |c| {
        c.provider.temperature = Some(0.25);
        c.provider.max_tokens = Some(300);
    })
    .await;
    tuned.say("alice", "hello", None).await;
    let plain = TestApp::spawn_with_provider(&mock.url, |_| {}).await;
    plain.say("alice", "hello", None).await;
    let reqs = mock.requests();
    assert_eq!(
        (reqs[0]["temperature"].as_f64(), &reqs[0]["max_tokens"]),
        (Some(0.25), &json!(300))
    );
    assert!(reqs[1].get("temperature").is_none(), "{}", reqs[1]);
    assert!(reqs[1].get("max_tokens").is_none(), "{}", reqs[1]);
    for r in &reqs {
        assert_eq!(r["model"], "mock-model");
        assert_eq!(
            r["messages"].as_array().unwrap().last().unwrap()["content"],
            "hello"
        );
    }
}

#[tokio::test]
async fn rest_turn_calls_add_task_and_a_follow_up_completes_it() {
    let mock = MockOpenAi::start(vec![
        mock::tool_calls(
            &[(
                "call_1",
                "add_task",
                r#"{"title": "buy milk", "priority": "high"}"#,
            )],
            7,
            (50, 10),
        ),
        mock::text(&["Added ", "'buy milk' ", "as task #1."], (80, 8)),
    ])
    .await;
    let app = TestApp::spawn_with_provider(&mock.url, |_| {}).await;
    let health = json_of(
        app.client()
            .get(format!("{}/api/health", app.url))
            .send()
            .await
            .unwrap(),
    )
    .await
    .1;
    assert_eq!(health["agent"], "openai");

    let v = app.say("alice", "add a task to buy milk", None).await;
    assert_eq!(v["message"], "Added 'buy milk' as task #1.");
    assert_eq!(v["tool_calls"][0]["tool_name"], "add_task");
    assert_eq!(v["tool_calls"][0]["arguments"]["title"], "buy milk");
    assert_eq!(v["tool_calls"][0]["result"]["task"]["number"], 1);
    assert_eq!(
        v["usage"],
        json!({"prompt_tokens": 130, "completion_tokens": 18, "total_tokens": 148})
    );
    let tasks = app.tasks("alice").await;
    assert_eq!(tasks.len(), 1);
    assert_eq!(tasks[0]["priority"], "high");
    assert!(app.tasks("bob").await.is_empty());

    // What the model was sent: tools declared from our schemas, usage requested, the prompt.
    let reqs = mock.requests();
    assert_eq!(reqs.len(), 2);
    let first = &reqs[0];
    assert_eq!(first["model"], "mock-model");
    assert_eq!(first["stream"], true);
    assert_eq!(first["stream_options"]["include_usage"], true);
    let tools: Vec<&str> = first["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["function"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        tools,
        [
            "add_task",
            "list_tasks",
            "complete_task",
            "delete_task",
            "update_task"
        ]
    );
    assert_eq!(first["messages"][0]["role"], "system");
    assert_eq!(
        first["messages"].as_array().unwrap().last().unwrap()["content"],
        "add a task to buy milk"
    );
    // The second call carries the tool call and its result.
    let second = reqs[1]["messages"].as_array().unwrap();
    let n = second.len();
    assert_eq!(second[n - 2]["tool_calls"][0]["id"], "call_1");
    assert_eq!(second[n - 1]["role"], "tool");
    assert_eq!(second[n - 1]["tool_call_id"], "call_1");
    assert!(second[n - 1]["content"]
        .as_str()
        .unwrap()
        .contains("\"number\":1"));

    // Follow-up in the same conversation: the history replay lets the model resolve "it".
    let conv = v["conversation_id"].as_str().unwrap().to_string();
    mock.push(mock::tool_calls(
        &[("call_2", "complete_task", r#"{"task": 1}"#)],
        4,
        (90, 5),
    ));
    mock.push(mock::text(&["Done!"], (100, 2)));
    let v2 = app.say("alice", "mark it done", Some(&conv)).await;
    assert_eq!(v2["tool_calls"][0]["tool_name"], "complete_task");
    assert_eq!(app.tasks("alice").await[0]["completed"], true);
    let replay = mock.requests()[2]["messages"].as_array().unwrap().clone();
    let roles: Vec<&str> = replay.iter().map(|m| m["role"].as_str().unwrap()).collect();
    assert_eq!(
        roles,
        ["system", "user", "assistant", "tool", "assistant", "user"]
    );
    assert_eq!(replay[2]["tool_calls"][0]["function"]["name"], "add_task");
    assert_eq!(replay[4]["content"], "Added 'buy milk' as task #1.");
    assert_eq!(replay[5]["content"], "mark it done");

    // Stored: usage per assistant message.
    let msgs = messages_of(&app, "alice", &conv).await;
    assert_eq!(msgs[1]["usage"]["total_tokens"], 148);
    assert_eq!(msgs[3]["usage"]["total_tokens"], 197);
}

#[tokio::test]
async fn websocket_turn_streams_model_deltas_and_tool_calls() {
    let mock = MockOpenAi::start(vec![
        mock::tool_calls(
            &[("call_w", "add_task", r#"{"title":"call mom"}"#)],
            3,
            (10, 2),
        ),
        mock::text(&["Sure", ", ", "added ", "it."], (20, 4)),
    ])
    .await;
    let app = TestApp::spawn_with_provider(&mock.url, |_| {}).await;
    let mut ws = WsClient::connect(&app, "wsu").await;
    ws.send(json!({"type": "message", "content": "remind me to call mom", "request_id": "r"}))
        .await;
    let frames = ws.until_done(1).await;
    // The model's four deltas, in order (a socket that reads them late gets them merged).
    let deltas: Vec<&Value> = frames
        .iter()
        .filter(|f| f["type"] == "stream.delta")
        .collect();
    let text: String = deltas
        .iter()
        .map(|f| f["delta"].as_str().unwrap())
        .collect();
    let count: u64 = deltas
        .iter()
        .map(|f| f["count"].as_u64().unwrap_or(1))
        .sum();
    assert_eq!((text.as_str(), count), ("Sure, added it.", 4));
    let tool = frames.iter().find(|f| f["type"] == "tool.called").unwrap();
    assert_eq!(tool["tool_name"], "add_task");
    assert_eq!(tool["arguments"]["title"], "call mom");
    let changed = frames.iter().find(|f| f["type"] == "task.changed").unwrap();
    assert_eq!(changed["task"]["title"], "call mom");
    let done = frames.last().unwrap();
    assert_eq!(done["message"]["content"], "Sure, added it.");
    assert_eq!(done["message"]["usage"]["total_tokens"], 36);
    assert_eq!(done["message"]["tool_calls"][0]["id"], "call_w");
}

#[tokio::test]
async fn parallel_tool_calls_split_mid_json_all_run_in_order() {
    let mock = MockOpenAi::start(vec![
        mock::tool_calls(
            &[
                (
                    "call_a",
                    "add_task",
                    r#"{"title":"first thing","due_date":"2026-12-01"}"#,
                ),
                ("call_b", "add_task", r#"{"title":"second thing"}"#),
                ("call_c", "list_tasks", r#"{"status":"pending"}"#),
            ],
            5,
            (10, 10),
        ),
        mock::text(&["Two tasks added."], (10, 3)),
    ])
    .await;
    let app = TestApp::spawn_with_provider(&mock.url, |_| {}).await;
    let v = app.say("par", "add two things", None).await;
    let names: Vec<&str> = v["tool_calls"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["tool_name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["add_task", "add_task", "list_tasks"]);
    assert_eq!(v["tool_calls"][2]["result"]["count"], 2);
    let tasks = app.tasks("par").await;
    assert_eq!(tasks[0]["title"], "first thing");
    assert_eq!(tasks[0]["due_date"], "2026-12-01");
    assert_eq!(tasks[1]["title"], "second thing");
    // All three results went back, each with its own call id.
    let msgs = mock.requests()[1]["messages"].as_array().unwrap().clone();
    let ids: Vec<&str> = msgs
        .iter()
        .filter(|m| m["role"] == "tool")
        .map(|m| m["tool_call_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["call_a", "call_b", "call_c"]);
}

#[tokio::test]
async fn a_user_id_from_the_model_is_never_honoured() {
    let mock = MockOpenAi::start(vec![
        mock::tool_calls(
            &[("c1", "add_task", r#"{"title":"sneaky","user_id":"victim"}"#)],
            6,
            (1, 1),
        ),
        mock::text(&["ok"], (1, 1)),
    ])
    .await;
    let app = TestApp::spawn_with_provider(&mock.url, |_| {}).await;
    app.say("honest", "add sneaky", None).await;
    assert_eq!(app.tasks("honest").await[0]["title"], "sneaky");
    assert!(app.tasks("victim").await.is_empty());
}

#[tokio::test]
async fn bad_tool_arguments_go_back_to_the_model_as_tool_errors() {
    let mock = MockOpenAi::start(vec![
        mock::tool_calls(
            &[
                ("c1", "add_task", r#"{"title": 5}"#),
                ("c2", "delete_task", "{not json"),
                ("c3", "drop_tables", "{}"),
            ],
            4,
            (1, 1),
        ),
        mock::text(&["Sorry, which task?"], (1, 1)),
    ])
    .await;
    let app = TestApp::spawn_with_provider(&mock.url, |_| {}).await;
    let v = app.say("args", "do things", None).await;
    assert_eq!(v["message"], "Sorry, which task?");
    let results: Vec<&str> = v["tool_calls"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["result"]["error"].as_str().unwrap())
        .collect();
    assert_eq!(
        results,
        ["invalid_arguments", "invalid_arguments", "unknown_tool"]
    );
    let back = mock.requests()[1]["messages"].as_array().unwrap().clone();
    assert!(back
        .iter()
        .filter(|m| m["role"] == "tool")
        .all(|m| m["content"].as_str().unwrap().contains("\"ok\":false")));
    assert!(app.tasks("args").await.is_empty());
}

#[tokio::test]
async fn a_429_then_success_is_retried_honouring_retry_after() {
    let mock = MockOpenAi::start(vec![
        mock::status(429, Some("0")),
        mock::status(503, None),
        mock::text(&["hello"], (3, 1)),
    ])
    .await;
    let app = TestApp::spawn_with_provider(&mock.url, |_| {}).await;
    let v = app.say("retry", "hi", None).await;
    assert_eq!(v["message"], "hello");
    assert_eq!(mock.requests().len(), 3);
}

#[tokio::test]
async fn provider_down_is_agent_unavailable_without_details_and_keeps_the_user_message() {
    let mock = MockOpenAi::start(vec![
        mock::status(500, None),
        mock::status(500, None),
        mock::status(500, None),
        mock::text(&["never"], (1, 1)),
    ])
    .await;
    let app = TestApp::spawn_with_provider(&mock.url, |_| {}).await;
    let (s, v) = app
        .chat("down", json!({"message": "add a task to buy milk"}))
        .await;
    assert_eq!(s, 503);
    assert_error(&v, "agent_unavailable");
    let text = v.to_string();
    for leak in [
        "sk-",
        "mock provider",
        "internal.example",
        "500",
        "127.0.0.1",
    ] {
        assert!(!text.contains(leak), "leaked {leak}: {text}");
    }
    // Three tries, no more.
    assert_eq!(mock.requests().len(), 3);
    let conv = only_conversation(&app, "down").await;
    let msgs = messages_of(&app, "down", &conv).await;
    assert_eq!(msgs.len(), 1);
    assert_eq!(msgs[0]["role"], "user");
    assert_eq!(msgs[0]["content"], "add a task to buy milk");
}

#[tokio::test]
async fn unreachable_provider_is_agent_unavailable_on_rest_sse_and_websocket() {
    let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/v1", closed.local_addr().unwrap());
    drop(closed);
    let app = TestApp::spawn_with(|c| {
        c.provider.base_url = Some(url);
        c.provider.timeout = Duration::from_secs(20);
    })
    .await;
    let (s, v) = app.chat("off", json!({"message": "hi"})).await;
    assert_eq!(s, 503);
    assert_error(&v, "agent_unavailable");

    let r = app
        .post("/api/off/chat/stream", "off")
        .json(&json!({"message": "hi"}))
        .send()
        .await
        .unwrap();
    let body = r.text().await.unwrap();
    assert!(body.contains("event: error"), "{body}");
    assert!(body.contains("\"code\":\"agent_unavailable\""), "{body}");

    let mut ws = WsClient::connect(&app, "off").await;
    ws.send(json!({"type": "message", "content": "hi", "request_id": "q"}))
        .await;
    let frames = ws.until(|f| f["type"] == "error").await;
    let e = frames.last().unwrap();
    assert_eq!(e["code"], "agent_unavailable");
    assert_eq!(e["request_id"], "q");
}

#[tokio::test]
async fn a_stream_cut_off_midway_fails_the_message_but_keeps_partial_text() {
    let mock = MockOpenAi::start(vec![mock::cut_off(&["Here ", "are ", "your"])]).await;
    let app = TestApp::spawn_with_provider(&mock.url, |_| {}).await;
    let (s, v) = app.chat("cut", json!({"message": "list"})).await;
    assert_eq!(s, 500);
    assert_error(&v, "internal");
    // The turn's own error, as every transport reports it, with nothing of its cause.
    assert_eq!(v["error"]["message"], "the assistant failed");
    assert_eq!(
        mock.requests().len(),
        1,
        "a stream that began is not retried"
    );
    let conv = only_conversation(&app, "cut").await;
    let msgs = messages_of(&app, "cut", &conv).await;
    assert_eq!(msgs.len(), 2);
    assert_eq!(msgs[1]["status"], "failed");
    assert_eq!(msgs[1]["content"], "Here are your");
}

#[tokio::test]
async fn a_client_error_from_the_provider_is_internal_and_not_retried() {
    let mock = MockOpenAi::start(vec![
        mock::status(400, None),
        mock::text(&["never"], (1, 1)),
    ])
    .await;
    let app = TestApp::spawn_with_provider(&mock.url, |_| {}).await;
    let (s, v) = app.chat("bad", json!({"message": "hi"})).await;
    assert_eq!(s, 500);
    assert_error(&v, "internal");
    assert_eq!(mock.requests().len(), 1);
}

#[tokio::test]
async fn a_slow_provider_hits_the_turn_timeout() {
    let mock = MockOpenAi::start(vec![mock::slow(&["too ", "late"], Duration::from_secs(3))]).await;
    let app =
        TestApp::spawn_with_provider(&mock.url, |c| c.provider.timeout = Duration::from_secs(1))
            .await;
    let (s, v) = app.chat("slowpoke", json!({"message": "hi"})).await;
    assert_eq!(s, 503);
    assert_error(&v, "agent_unavailable");
}

#[tokio::test]
async fn a_slow_stream_can_be_cancelled_over_the_websocket() {
    let mock = MockOpenAi::start(vec![mock::slow(
        &["one ", "two ", "three ", "four ", "five"],
        Duration::from_millis(150),
    )])
    .await;
    let app = TestApp::spawn_with_provider(&mock.url, |_| {}).await;
    let mut ws = WsClient::connect(&app, "stopper").await;
    ws.send(json!({"type": "message", "content": "count"}))
        .await;
    let frames = ws.until(|f| f["type"] == "stream.delta").await;
    let thread = frames[0]["thread"]["id"].as_str().unwrap().to_string();
    ws.send(json!({"type": "cancel", "thread_id": thread}))
        .await;
    let rest = ws.until_done(1).await;
    let done = rest.last().unwrap();
    assert_eq!(done["message"]["status"], "cancelled");
    let partial = done["message"]["content"].as_str().unwrap();
    assert!(
        partial.starts_with("one ") && partial.len() < "one two three four five".len(),
        "{partial}"
    );
}

#[tokio::test]
async fn fallback_offline_answers_when_the_provider_is_down() {
    let mock = MockOpenAi::start(vec![
        mock::status(503, None),
        mock::status(503, None),
        mock::status(503, None),
    ])
    .await;
    let app = TestApp::spawn_with_provider(&mock.url, |c| c.provider.fallback_offline = true).await;
    let v = app.say("fb", "add a task to water the plants", None).await;
    assert_eq!(v["tool_calls"][0]["tool_name"], "add_task");
    assert_eq!(app.tasks("fb").await[0]["title"], "water the plants");
}

#[tokio::test]
async fn a_model_that_never_stops_calling_tools_is_cut_at_max_turns() {
    let replies: Vec<Reply> = (0..3)
        .map(|i| mock::tool_calls(&[(&*format!("c{i}"), "list_tasks", "{}")], 10, (1, 1)))
        .collect();
    let mock = MockOpenAi::start(replies).await;
    let app = TestApp::spawn_with_provider(&mock.url, |c| c.provider.max_turns = 2).await;
    let (s, v) = app.chat("loop", json!({"message": "hi"})).await;
    assert_eq!(s, 500);
    assert_error(&v, "internal");
    assert_eq!(mock.requests().len(), 2);
    let conv = only_conversation(&app, "loop").await;
    let msgs = messages_of(&app, "loop", &conv).await;
    assert_eq!(msgs[1]["status"], "failed");
    assert_eq!(msgs[1]["tool_calls"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn chatkit_dictation_is_transcribed_by_the_provider() {
    let mock = MockOpenAi::start(vec![]).await;
    let app = TestApp::spawn_with_provider(&mock.url, |_| {}).await;
    let body = json!({"type": "input.transcribe", "params": {"audio_base64": "AAECAw==", "mime_type": "audio/webm;codecs=opus"}});
    let r = app
        .post("/api/chatkit", "dict")
        .json(&body)
        .send()
        .await
        .unwrap();
    let (s, v) = json_of(r).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v, json!({"text": "kal doctor ke paas jana hai"}));
    let seen = &mock.requests()[0];
    assert_eq!(seen["has_model"], true);
    assert_eq!(seen["has_file"], true);
    assert_eq!(seen["has_audio"], true);

    // A provider that stays down: 503 agent_unavailable, without its details.
    for _ in 0..3 {
        mock.push(mock::status(500, None));
    }
    let r = app
        .post("/api/chatkit", "dict")
        .json(&body)
        .send()
        .await
        .unwrap();
    let (s, v) = json_of(r).await;
    assert_eq!(s, 503);
    assert_error(&v, "agent_unavailable");
    assert!(!v.to_string().contains("mock transcription failure"));
}

#[tokio::test]
async fn dictation_without_a_provider_is_not_configured() {
    let app = TestApp::spawn().await;
    let body = json!({"type": "input.transcribe", "params": {"audio_base64": "AAECAw==", "mime_type": "audio/webm"}});
    let r = app
        .post("/api/chatkit", "dict")
        .json(&body)
        .send()
        .await
        .unwrap();
    let (s, v) = json_of(r).await;
    assert_eq!(s, 503);
    assert_error(&v, "not_configured");
}

#[tokio::test]
async fn a_stop_marker_reaches_the_model_on_the_next_turn() {
    let mock = MockOpenAi::start(vec![
        mock::text(&["one ", "two"], (1, 1)),
        mock::text(&["ok"], (1, 1)),
    ])
    .await;
    let app = TestApp::spawn_with_provider(&mock.url, |_| {}).await;
    let v = app.say("note", "count to ten", None).await;
    let conv = v["conversation_id"].as_str().unwrap().to_string();
    let thread = agentwire::model::ThreadId(conv.parse().unwrap());
    let user = agentwire::model::UserId::new("note");
    let marker = json!({"type": "sdk_hidden_context", "content": "The user cancelled the previous answer; do not continue it."});
    app.state
        .chat
        .add_hidden_item(&user, thread, &marker)
        .await
        .unwrap();
    app.say("note", "hi again", Some(&conv)).await;
    let sent = mock.requests()[1]["messages"].as_array().unwrap().clone();
    let roles: Vec<&str> = sent.iter().map(|m| m["role"].as_str().unwrap()).collect();
    assert_eq!(roles, ["system", "user", "assistant", "system", "user"]);
    assert_eq!(
        sent[3]["content"],
        "The user cancelled the previous answer; do not continue it."
    );
    // It is not shown anywhere a client reads.
    let msgs = messages_of(&app, "note", &conv).await;
    assert!(msgs
        .iter()
        .all(|m| !m["content"].as_str().unwrap().contains("cancelled")));
}
