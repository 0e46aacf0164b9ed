//! ChatKit actions over HTTP: the buttons of the task widget, as streamed and as sync custom
//! actions.

mod common;

use common::chatkit::{ck, create, items, types};
use common::TestApp;
use serde_json::json;

#[tokio::test]
async fn task_widget_buttons_complete_and_delete_tasks() {
    let app = TestApp::spawn().await;
    let (thread, events) = create(&app, "alice", "add a task to buy milk").await;
    assert_eq!(app.tasks("alice").await.len(), 1);
    let widget = events
        .iter()
        .find(|e| e["item"]["type"] == "widget")
        .unwrap()["item"]
        .clone();
    let wid = widget["id"].clone();

    // "Complete" on the widget: the widget is replaced with the task done, then a confirmation.
    let events = ck(&app, "alice", json!({"type": "threads.custom_action", "params": {"thread_id": thread,
        "item_id": wid, "action": {"type": "task.complete", "payload": {"number": 1}, "handler": "server"}}})).await.events();
    assert_eq!(
        types(&events),
        ["stream_options", "thread.item.replaced", "thread.item.done"]
    );
    let replaced = &events[1]["item"];
    assert_eq!(replaced["id"], wid);
    let row = &replaced["widget"]["children"][0];
    assert_eq!(row["children"][0]["children"][0]["lineThrough"], true);
    let buttons = row["children"][1]["children"].as_array().unwrap();
    assert_eq!(buttons.len(), 1, "no Complete button on a done task");
    assert!(events[2]["item"]["content"][0]["text"]
        .as_str()
        .unwrap()
        .contains("#1"));
    assert_eq!(app.tasks("alice").await[0]["completed"], true);
    // The widget reads back as replaced; the confirmation is stored last.
    let page = items(&app, "alice", &thread, json!({"order": "asc"})).await;
    let data = page["data"].as_array().unwrap();
    assert!(data.contains(replaced));
    assert_eq!(data.last().unwrap(), &events[2]["item"]);

    // A task the widget does not show is refused.
    let a = ck(
        &app,
        "alice",
        json!({"type": "threads.sync_custom_action", "params": {"thread_id": thread,
        "item_id": wid, "action": {"type": "task.delete", "payload": {"number": 7}}}}),
    )
    .await;
    assert_eq!(a.status, 400);
    // "Delete" as a sync action: the updated widget comes back as JSON.
    let a = ck(
        &app,
        "alice",
        json!({"type": "threads.sync_custom_action", "params": {"thread_id": thread,
        "item_id": wid, "action": {"type": "task.delete", "payload": {"number": 1}}}}),
    )
    .await
    .json();
    assert_eq!(a["updated_item"]["id"], wid);
    assert_eq!(
        a["updated_item"]["widget"]["children"][0]["children"][1]["value"],
        "deleted"
    );
    assert!(app.tasks("alice").await.is_empty());

    // An action without an item, and one on a non-widget item (one non-retryable error event).
    let (_, more) = create(&app, "alice", "add a task to walk the dog").await;
    let events = ck(
        &app,
        "alice",
        json!({"type": "threads.custom_action", "params": {"thread_id": thread,
        "action": {"type": "task.complete", "payload": {"number": 2}}}}),
    )
    .await
    .events();
    assert_eq!(types(&events), ["stream_options", "thread.item.done"]);
    assert_eq!(app.tasks("alice").await[0]["completed"], true);
    let user_item = more[1]["item"]["id"].clone();
    let thread2 = more[0]["thread"]["id"].clone();
    let events = ck(&app, "alice", json!({"type": "threads.custom_action", "params": {"thread_id": thread2, "item_id": user_item,
        "action": {"type": "task.complete"}}})).await.events();
    assert_eq!(
        events,
        [json!({"type": "error", "code": "stream.error", "allow_retry": false})]
    );
}
