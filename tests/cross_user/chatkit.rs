//! Every ChatKit request type, as Bob sends it. The list is checked against the request
//! decoder's source: a request type missing here fails the matrix.

use serde_json::{json, Value};

use super::common::chatkit::{ck, text_input};
use super::ids::{Ids, Kind};
use super::world::World;
use super::Answer;

/// Builds one request's `params` from the ids.
pub type Params = fn(&Ids) -> Value;

/// Every request type, each with the requests that name an id.
pub const REQUESTS: &[(&str, &[Params])] = &[
    ("threads.create", &[new_thread_with_attachment]),
    (
        "threads.add_user_message",
        &[message, message_with_attachment],
    ),
    ("threads.add_client_tool_output", &[tool_output]),
    ("threads.add_structured_input", &[structured_input]),
    ("threads.retry_after_item", &[on_item]),
    ("threads.custom_action", &[action_on_widget, action_alone]),
    (
        "threads.sync_custom_action",
        &[action_on_widget, action_alone],
    ),
    ("threads.get_by_id", &[on_thread]),
    ("threads.list", &[threads_after]),
    ("threads.update", &[rename]),
    ("threads.delete", &[on_thread]),
    ("items.list", &[on_thread, items_after]),
    ("items.feedback", &[feedback]),
    ("attachments.create", &[new_attachment]),
    ("attachments.delete", &[attachment]),
    ("input.transcribe", &[transcribe]),
];

fn with_attachment(ids: &Ids) -> Value {
    let mut input = text_input("look at this");
    input["attachments"] = json!([ids.get(Kind::Attachment)]);
    input
}

fn new_thread_with_attachment(ids: &Ids) -> Value {
    json!({"input": with_attachment(ids)})
}

fn message(ids: &Ids) -> Value {
    json!({"thread_id": ids.get(Kind::Thread), "input": text_input("what are my tasks")})
}

fn message_with_attachment(ids: &Ids) -> Value {
    json!({"thread_id": ids.get(Kind::Thread), "input": with_attachment(ids)})
}

fn tool_output(ids: &Ids) -> Value {
    json!({"thread_id": ids.get(Kind::Thread), "result": {}})
}

fn structured_input(ids: &Ids) -> Value {
    json!({"thread_id": ids.get(Kind::Thread), "item_id": ids.get(Kind::Item), "input": {}})
}

fn on_item(ids: &Ids) -> Value {
    json!({"thread_id": ids.get(Kind::Thread), "item_id": ids.get(Kind::Item)})
}

fn action(ids: &Ids) -> Value {
    json!({"type": "task.complete", "payload": {"number": ids.number(Kind::Task)}})
}

fn action_on_widget(ids: &Ids) -> Value {
    json!({"thread_id": ids.get(Kind::Thread), "item_id": ids.get(Kind::Item),
        "action": action(ids)})
}

fn action_alone(ids: &Ids) -> Value {
    json!({"thread_id": ids.get(Kind::Thread), "action": action(ids)})
}

fn on_thread(ids: &Ids) -> Value {
    json!({"thread_id": ids.get(Kind::Thread)})
}

fn threads_after(ids: &Ids) -> Value {
    json!({"after": ids.get(Kind::Cursor)})
}

fn rename(ids: &Ids) -> Value {
    json!({"thread_id": ids.get(Kind::Thread), "title": "bob was here"})
}

fn items_after(ids: &Ids) -> Value {
    json!({"thread_id": ids.get(Kind::Thread), "after": ids.get(Kind::Cursor)})
}

fn feedback(ids: &Ids) -> Value {
    json!({"thread_id": ids.get(Kind::Thread), "item_ids": [ids.get(Kind::Item)],
        "kind": "negative"})
}

fn new_attachment(_: &Ids) -> Value {
    json!({"name": "errand.txt", "size": 5, "mime_type": "text/plain"})
}

fn attachment(ids: &Ids) -> Value {
    json!({"attachment_id": ids.get(Kind::Attachment)})
}

fn transcribe(_: &Ids) -> Value {
    json!({"audio_base64": "AAAA", "mime_type": "audio/webm"})
}

/// Sends Bob's request of type `kind`.
pub async fn send(w: &World, kind: &str, params: Value) -> Answer {
    let a = ck(&w.app, "bob", json!({"type": kind, "params": params})).await;
    Answer::of_http(a.status, a.body)
}
