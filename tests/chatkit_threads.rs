//! ChatKit threads over HTTP: `POST /api/chatkit` driven like the ChatKit client, on the real
//! server. Covers the event sequence of a new thread and what it persists, thread and item
//! pagination, renaming, deleting and feedback, and the whole flow on PostgreSQL.

mod common;

use common::chatkit::{assert_no_nulls, ck, create, items, on_thread, text_input, types};
use common::{assert_error, TestApp};
use serde_json::{json, Value};

#[tokio::test]
async fn create_streams_the_reference_sequence_and_persists_items() {
    let app = TestApp::spawn().await;
    let (thread, events) = create(&app, "alice", "add a task to buy milk").await;
    events.iter().for_each(assert_no_nulls);
    let t = types(&events);
    assert_eq!(
        &t[..3],
        ["thread.created", "thread.item.done", "stream_options"]
    );
    let created = &events[0]["thread"];
    assert_eq!(created["status"], json!({"type": "active"}));
    assert_eq!(created["metadata"], json!({}));
    assert_eq!(created["items"], json!({"data": [], "has_more": false}));
    assert!(
        created.get("title").is_none(),
        "a new thread starts untitled"
    );
    assert!(created["created_at"].as_str().unwrap().ends_with('Z'));

    let user = &events[1]["item"];
    assert_eq!(user["type"], "user_message");
    assert_eq!(user["thread_id"], thread.as_str());
    assert_eq!(
        user["content"],
        json!([{"type": "input_text", "text": "add a task to buy milk"}])
    );
    assert_eq!(user["attachments"], json!([]));
    assert_eq!(events[2]["stream_options"], json!({"allow_cancel": true}));

    // The tool call shows as progress and a workflow item before the answer.
    assert!(t.contains(&"progress_update"));
    let wf_added = events
        .iter()
        .find(|e| e["type"] == "thread.item.added" && e["item"]["type"] == "workflow")
        .expect("workflow item");
    assert_eq!(wf_added["item"]["workflow"]["tasks"][0]["type"], "custom");

    let added = events
        .iter()
        .find(|e| e["type"] == "thread.item.added" && e["item"]["type"] == "assistant_message")
        .unwrap();
    let msg_id = added["item"]["id"].as_str().unwrap();
    let deltas: String = events
        .iter()
        .filter(|e| e["update"]["type"] == "assistant_message.content_part.text_delta")
        .map(|e| e["update"]["delta"].as_str().unwrap())
        .collect();
    let done = events
        .iter()
        .find(|e| e["type"] == "thread.item.done" && e["item"]["type"] == "assistant_message")
        .unwrap();
    assert_eq!(done["item"]["id"], msg_id);
    assert_eq!(done["item"]["content"][0]["text"], deltas.as_str());
    assert_eq!(done["item"]["content"][0]["annotations"], json!([]));
    let last = events.last().unwrap();
    assert_eq!(last["type"], "thread.updated");
    assert_eq!(last["thread"]["title"], "add a task to buy milk");

    // The task it added shows in a widget with its buttons, after the answer.
    let widget = events
        .iter()
        .find(|e| e["type"] == "thread.item.done" && e["item"]["type"] == "widget")
        .expect("task widget");
    let row = &widget["item"]["widget"]["children"][0];
    assert_eq!(row["children"][0]["children"][0]["value"], "#1 buy milk");
    assert_eq!(
        row["children"][1]["children"][0]["onClickAction"],
        json!({"type": "task.complete", "payload": {"number": 1}, "handler": "server",
               "loadingBehavior": "auto", "streaming": true})
    );

    // Persisted: get_by_id has [user, workflow, assistant, widget] with the same ids.
    let got = on_thread(&app, "alice", "threads.get_by_id", &thread)
        .await
        .json();
    assert_no_nulls(&got);
    let kinds: Vec<&str> = got["items"]["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["type"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        ["user_message", "workflow", "assistant_message", "widget"]
    );
    assert_eq!(got["items"]["data"][0]["id"], user["id"]);
    assert_eq!(got["items"]["data"][2], done["item"]);
    assert_eq!(got["items"]["data"][3], widget["item"]);
    assert_eq!(got["title"], "add a task to buy milk");

    // The same thread over REST, and a REST message over ChatKit.
    let convs = app
        .get("/api/alice/conversations", "alice")
        .send()
        .await
        .unwrap();
    let convs: Value = convs.json().await.unwrap();
    assert!(convs["data"]
        .as_array()
        .unwrap()
        .iter()
        .any(|c| c["id"] == thread.as_str()));
    app.say("alice", "show my tasks", Some(&thread)).await;
    let page = items(
        &app,
        "alice",
        &thread,
        json!({"order": "asc", "limit": 100}),
    )
    .await;
    let data = page["data"].as_array().unwrap();
    assert_eq!(data[4]["content"][0]["text"], "show my tasks");

    // A follow-up: no thread.created, the user echo first, then stream_options.
    let events = ck(&app, "alice", json!({"type": "threads.add_user_message",
        "params": {"thread_id": thread, "input": {"content": [{"type": "input_text", "text": "tag "},
            {"type": "input_tag", "id": "t1", "text": "Milk", "data": {"k": "v"}}],
            "attachments": [], "quoted_text": "quoted", "inference_options": {"model": "m"}}}}))
        .await
        .events();
    assert_eq!(&types(&events)[..2], ["thread.item.done", "stream_options"]);
    assert_eq!(
        events[0]["item"]["content"][1],
        json!({"type": "input_tag", "id": "t1", "text": "Milk", "data": {"k": "v"}, "interactive": false})
    );
    assert_eq!(events[0]["item"]["quoted_text"], "quoted");
    assert_eq!(
        events[0]["item"]["inference_options"],
        json!({"model": "m"})
    );
    assert!(!types(&events).contains(&"thread.updated"));
    // The stored item reads back exactly as echoed.
    let page = items(&app, "alice", &thread, json!({})).await;
    let echoed = page["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["id"] == events[0]["item"]["id"])
        .unwrap();
    assert_eq!(echoed, &events[0]["item"]);
}

#[tokio::test]
async fn threads_and_items_paginate_as_the_reference() {
    let app = TestApp::spawn().await;
    let mut ids = Vec::new();
    for text in ["one", "two", "three"] {
        ids.push(create(&app, "alice", text).await.0);
    }
    let p = ck(
        &app,
        "alice",
        json!({"type": "threads.list", "params": {"limit": 2}}),
    )
    .await
    .json();
    let got = ids_of(&p);
    assert_eq!(got, [ids[2].as_str(), ids[1].as_str()]);
    assert_eq!(
        (p["has_more"].clone(), p["after"].clone()),
        (json!(true), json!(ids[1]))
    );
    assert_eq!(
        p["data"][0]["items"],
        json!({"data": [], "has_more": false})
    );
    let p = ck(
        &app,
        "alice",
        json!({"type": "threads.list", "params": {"limit": 2, "after": ids[1]}}),
    )
    .await
    .json();
    assert_eq!(p["data"][0]["id"], ids[0].as_str());
    assert_eq!(p["has_more"], false);
    assert!(p.get("after").is_none());
    let p = ck(
        &app,
        "alice",
        json!({"type": "threads.list", "params": {"order": "asc", "limit": 0}}),
    )
    .await
    .json();
    let got = ids_of(&p);
    assert_eq!(got, ids.iter().map(String::as_str).collect::<Vec<_>>());

    // Items: both orders, following the cursor visits every item once.
    let thread = &ids[0];
    for text in ["hello", "hi again"] {
        ck(&app, "alice", json!({"type": "threads.add_user_message", "params": {"thread_id": thread, "input": text_input(text)}})).await.events();
    }
    let all = items(&app, "alice", thread, json!({"order": "asc", "limit": 100})).await;
    let all: Vec<Value> = all["data"].as_array().unwrap().clone();
    assert!(all.len() >= 6, "{all:?}");
    for order in ["asc", "desc"] {
        let mut seen = Vec::new();
        let mut after = Value::Null;
        loop {
            let p = items(
                &app,
                "alice",
                thread,
                json!({"order": order, "limit": 2, "after": after}),
            )
            .await;
            seen.extend(
                p["data"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|i| i["id"].clone()),
            );
            if p["has_more"] == false {
                assert!(p.get("after").is_none());
                break;
            }
            after = p["after"].clone();
            assert_eq!(&after, seen.last().unwrap());
        }
        let mut expect: Vec<Value> = all.iter().map(|i| i["id"].clone()).collect();
        if order == "desc" {
            expect.reverse();
        }
        assert_eq!(seen, expect, "{order}");
    }
    // Default order is newest first.
    let p = items(&app, "alice", thread, json!({})).await;
    assert_eq!(p["data"][0]["id"], all.last().unwrap()["id"]);
    // Unique ids within the thread.
    let mut unique: Vec<&Value> = all.iter().map(|i| &i["id"]).collect();
    unique.dedup();
    assert_eq!(unique.len(), all.len());
}

#[tokio::test]
async fn rename_delete_and_feedback() {
    let app = TestApp::spawn().await;
    let (thread, events) = create(&app, "alice", "hello there").await;
    let a = ck(
        &app,
        "alice",
        json!({"type": "threads.update", "params": {"thread_id": thread, "title": "Renamed"}}),
    )
    .await
    .json();
    assert_eq!(a["title"], "Renamed");
    assert_eq!(a["items"], json!({"data": [], "has_more": false}));
    let got = on_thread(&app, "alice", "threads.get_by_id", &thread)
        .await
        .json();
    assert_eq!(got["title"], "Renamed");

    let answer_id = events
        .iter()
        .find(|e| e["type"] == "thread.item.done" && e["item"]["type"] == "assistant_message")
        .unwrap()["item"]["id"]
        .clone();
    let a = ck(&app, "alice", json!({"type": "items.feedback", "params": {"thread_id": thread, "item_ids": [answer_id], "kind": "positive"}})).await;
    assert_eq!(a.json(), json!({}));
    let tid = agentwire::transport::parse_thread_id(&thread).unwrap();
    let fb = app
        .state
        .chat
        .feedback(&agentwire::model::UserId::new("alice"), tid)
        .await
        .unwrap();
    assert_eq!(fb.len(), 1);
    assert_eq!(fb[0].item_id, answer_id.as_str().unwrap());
    assert_eq!(fb[0].kind, agentwire::model::FeedbackKind::Positive);
    let a = ck(&app, "alice", json!({"type": "items.feedback", "params": {"thread_id": thread, "item_ids": [answer_id], "kind": "negative"}})).await;
    assert_eq!(a.status, 200);
    let fb = app
        .state
        .chat
        .feedback(&agentwire::model::UserId::new("alice"), tid)
        .await
        .unwrap();
    assert_eq!(fb[0].kind, agentwire::model::FeedbackKind::Negative);

    let a = on_thread(&app, "alice", "threads.delete", &thread).await;
    assert_eq!(a.json(), json!({}));
    let a = on_thread(&app, "alice", "threads.get_by_id", &thread).await;
    assert_eq!(a.status, 404);
    assert_error(&a.json(), "not_found");
    let l = ck(&app, "alice", json!({"type": "threads.list", "params": {}}))
        .await
        .json();
    assert_eq!(l["data"], json!([]));
    let a = on_thread(&app, "alice", "items.list", &thread).await;
    assert_eq!(a.status, 404);
}

#[tokio::test]
async fn the_whole_flow_runs_on_postgres() {
    let Some(url) = common::fresh_postgres().await else {
        eprintln!("note: TEST_DATABASE_URL is unset; skipping");
        return;
    };
    let app = TestApp::spawn_on(&url).await;
    let (thread, events) = create(&app, "alice", "add a task to buy milk").await;
    let done: Vec<Value> = events
        .iter()
        .filter(|e| e["type"] == "thread.item.done")
        .map(|e| e["item"].clone())
        .collect();
    let got = on_thread(&app, "alice", "threads.get_by_id", &thread)
        .await
        .json();
    assert_eq!(got["items"]["data"], json!(done));
    let a = ck(&app, "alice", json!({"type": "attachments.create", "params": {"name": "n.txt", "size": 2, "mime_type": "text/plain"}})).await.json();
    let r = app
        .client()
        .post(a["upload_descriptor"]["url"].as_str().unwrap())
        .body("hi")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let events = ck(
        &app,
        "alice",
        json!({"type": "threads.add_user_message", "params": {"thread_id": thread,
        "input": {"content": [{"type": "input_text", "text": "see"}], "attachments": [a["id"]]}}}),
    )
    .await
    .events();
    assert_eq!(
        events[0]["item"]["attachments"][0]["thread_id"],
        thread.as_str()
    );
    let u = events[0]["item"]["id"].clone();
    let retried = ck(
        &app,
        "alice",
        json!({"type": "threads.retry_after_item", "params": {"thread_id": thread, "item_id": u}}),
    )
    .await
    .events();
    assert_eq!(retried[0]["type"], "stream_options");
    let p = ck(
        &app,
        "alice",
        json!({"type": "threads.list", "params": {"limit": 1}}),
    )
    .await
    .json();
    assert_eq!(p["data"][0]["id"], thread.as_str());
    assert_eq!(
        on_thread(&app, "alice", "threads.delete", &thread)
            .await
            .json(),
        json!({})
    );
}

/// The ids of a listing's `data`, in order.
fn ids_of(page: &Value) -> Vec<&str> {
    page["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_str().unwrap())
        .collect()
}
