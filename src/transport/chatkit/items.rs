//! Our messages as ChatKit items, and the item pages of §9.
//!
//! A user message is one `user_message` item (its content parts, attachments and quoted text
//! come from the details stored when it was sent over ChatKit; a message sent over REST or the
//! WebSocket shows as one `input_text`). An assistant message is a `workflow` item listing the
//! tools it called (id `wf_<message id>`), when it called any, then an `assistant_message` item
//! with its text (id = the message id), when it has any text, then a `widget` item (id
//! `wg_<message id>`) listing the tasks its tools touched, as they are now, with "Complete" and
//! "Delete" buttons (actions `task.complete` / `task.delete`, payload `{"number": N}`).
//! Tool-role messages are not shown. An answer still being written (its turn runs, here or on
//! another instance) shows its tool calls and text so far: the workflow without its summary,
//! and the `assistant_message` item, even empty, with `"status": "in_progress"` and `next_seq`,
//! the seq of the first live delta its text does not hold.

use std::collections::HashMap;

use serde_json::{json, Value};

use super::attachments::Links;
use super::types::{Item, ItemBody, OutputText, Page};
use crate::error::{Error, Result};
use crate::model::{Message, MessageId, MessageStatus, Order, Role, Task, ToolCall};

/// Prefix of the workflow item showing an assistant message's tool calls.
pub const WORKFLOW_PREFIX: &str = "wf_";

/// Prefix of the task widget of an assistant message.
pub const WIDGET_PREFIX: &str = "wg_";

/// Most tasks one widget shows.
pub const WIDGET_MAX_TASKS: usize = 20;

/// The user's tasks now, by number: what task widgets show.
pub type TaskBoard = HashMap<i64, Task>;

/// Every visible item of a thread's messages, oldest first.
pub fn render(
    messages: &[Message],
    details: &HashMap<MessageId, Value>,
    links: &Links,
    board: &TaskBoard,
) -> Vec<Item> {
    let mut items = Vec::with_capacity(messages.len() + 4);
    for m in messages {
        match m.role {
            Role::User => items.push(user_item(m, details.get(&m.id), links)),
            Role::Assistant if m.status == MessageStatus::InProgress => {
                if !m.tool_calls.is_empty() {
                    items.push(workflow_item(m, &m.tool_calls, false));
                }
                let mut item = assistant_item(m, &m.content);
                item.body = ItemBody::AssistantMessage {
                    content: vec![OutputText::new(&m.content)],
                    status: Some(m.status),
                    next_seq: m.next_seq,
                };
                items.push(item);
            }
            Role::Assistant => {
                if !m.tool_calls.is_empty() {
                    items.push(workflow_item(m, &m.tool_calls, true));
                }
                if !m.content.is_empty() {
                    items.push(assistant_item(m, &m.content));
                }
                items.extend(widget_item(m, board));
            }
            Role::Tool => {}
        }
    }
    items
}

/// The `user_message` item of `m`, with the ChatKit details it was sent with.
pub fn user_item(m: &Message, details: Option<&Value>, links: &Links) -> Item {
    let thread_id = m.conversation_id.to_string();
    let get = |k: &str| details.and_then(|d| d.get(k)).cloned();
    let content = match get("content") {
        Some(Value::Array(parts)) => parts,
        _ => vec![json!({"type": "input_text", "text": m.content})],
    };
    let attachments = match get("attachments") {
        Some(Value::Array(list)) => list
            .iter()
            .map(|a| links.stored_attachment_json(a, &thread_id))
            .collect(),
        _ => Vec::new(),
    };
    let quoted_text = get("quoted_text").and_then(|q| q.as_str().map(str::to_string));
    let inference_options = match get("inference_options") {
        Some(v @ Value::Object(_)) => v,
        _ => json!({}),
    };
    Item {
        id: m.id.to_string(),
        thread_id,
        created_at: m.created_at,
        body: ItemBody::UserMessage {
            content,
            attachments,
            quoted_text,
            inference_options,
        },
    }
}

/// The `assistant_message` item of `m` with `text` as its one content part.
pub fn assistant_item(m: &Message, text: &str) -> Item {
    Item {
        id: m.id.to_string(),
        thread_id: m.conversation_id.to_string(),
        created_at: m.created_at,
        body: ItemBody::AssistantMessage {
            content: vec![OutputText::new(text)],
            status: None,
            next_seq: None,
        },
    }
}

/// The `workflow` item listing `calls` of message `m`.
pub fn workflow_item(m: &Message, calls: &[ToolCall], done: bool) -> Item {
    let tasks: Vec<Value> = calls.iter().map(workflow_task).collect();
    let mut workflow = json!({"type": "custom", "tasks": tasks, "expanded": false});
    if done {
        workflow["summary"] = json!({"title": tools_summary(calls.len())});
    }
    Item {
        id: format!("{WORKFLOW_PREFIX}{}", m.id),
        thread_id: m.conversation_id.to_string(),
        created_at: m.created_at,
        body: ItemBody::Workflow { workflow },
    }
}

/// The tasks `calls` touched, in first-seen order, with the title each had then.
pub fn touched_tasks(calls: &[ToolCall]) -> Vec<(i64, String)> {
    let mut out: Vec<(i64, String)> = Vec::new();
    let mut add = |task: &Value| {
        let (Some(n), Some(title)) = (
            task.get("number").and_then(Value::as_i64),
            task.get("title").and_then(Value::as_str),
        ) else {
            return;
        };
        if !out.iter().any(|(k, _)| *k == n) {
            out.push((n, title.to_string()));
        }
    };
    for call in calls {
        let r = &call.result;
        if let Some(t) = r.get("task") {
            add(t);
        }
        for list in [r.as_array(), r.get("tasks").and_then(Value::as_array)]
            .into_iter()
            .flatten()
        {
            list.iter().for_each(&mut add);
        }
    }
    out
}

/// The task widget of message `m`: the (first 20) tasks its tools touched, as they are on `board` now
/// (a task no longer there shows as deleted, without buttons). `None` when it touched none.
pub fn widget_item(m: &Message, board: &TaskBoard) -> Option<Item> {
    let mut touched = touched_tasks(&m.tool_calls);
    if touched.is_empty() {
        return None;
    }
    // A long listing stays readable; the answer's text names every task.
    touched.truncate(WIDGET_MAX_TASKS);
    let mut copy = Vec::new();
    let rows: Vec<Value> = touched
        .iter()
        .map(|(n, old_title)| match board.get(n) {
            Some(task) => {
                copy.push(format!("#{n} {}", task.title));
                let mut details = vec![task.priority.as_str().to_string()];
                if let Some(due) = task.due_date {
                    details.push(format!("due {due}"));
                }
                if task.completed {
                    details.push("done".into());
                }
                let mut text = json!({"type": "Text", "value": format!("#{n} {}", task.title)});
                if task.completed {
                    text["lineThrough"] = json!(true);
                }
                let mut buttons = Vec::new();
                if !task.completed {
                    buttons.push(button("Complete", "task.complete", *n, None));
                }
                buttons.push(button("Delete", "task.delete", *n, Some("danger")));
                json!({"type": "ListViewItem", "key": format!("task-{n}"), "children": [
                    {"type": "Col", "children": [text, {"type": "Caption", "value": details.join(" · ")}]},
                    {"type": "Row", "children": buttons},
                ]})
            }
            None => {
                copy.push(format!("#{n} {old_title} (deleted)"));
                json!({"type": "ListViewItem", "key": format!("task-{n}"), "children": [
                    {"type": "Text", "value": format!("#{n} {old_title}"), "lineThrough": true},
                    {"type": "Caption", "value": "deleted"},
                ]})
            }
        })
        .collect();
    Some(Item {
        id: format!("{WIDGET_PREFIX}{}", m.id),
        thread_id: m.conversation_id.to_string(),
        created_at: m.created_at,
        body: ItemBody::Widget {
            widget: json!({"type": "ListView", "children": rows}),
            copy_text: Some(copy.join("\n")),
        },
    })
}

/// A widget button whose click sends the action `kind` for task `number` to this server.
fn button(label: &str, kind: &str, number: i64, color: Option<&str>) -> Value {
    let mut b = json!({"type": "Button", "label": label, "onClickAction": {
        "type": kind, "payload": {"number": number},
        "handler": "server", "loadingBehavior": "auto", "streaming": true}});
    if let Some(c) = color {
        b["color"] = json!(c);
    }
    b
}

/// The task numbers a widget item offers buttons for.
pub fn widget_numbers(item: &Item) -> Vec<i64> {
    fn walk(node: &Value, out: &mut Vec<i64>) {
        if let Some(n) = node
            .pointer("/onClickAction/payload/number")
            .and_then(Value::as_i64)
        {
            out.push(n);
        }
        if let Some(children) = node.get("children").and_then(Value::as_array) {
            children.iter().for_each(|c| walk(c, out));
        }
    }
    let mut out = Vec::new();
    if let ItemBody::Widget { widget, .. } = &item.body {
        walk(widget, &mut out);
    }
    out
}

fn tools_summary(n: usize) -> String {
    if n == 1 {
        "Used 1 tool".into()
    } else {
        format!("Used {n} tools")
    }
}

/// One tool call as a `custom` workflow task: what ran, and what it returned.
pub fn workflow_task(call: &ToolCall) -> Value {
    json!({
        "type": "custom",
        "title": tool_label(&call.tool_name),
        "content": result_summary(&call.result),
        "status_indicator": "complete",
    })
}

/// The progress line shown while a tool runs.
pub fn tool_label(tool: &str) -> String {
    match tool {
        "add_task" => "Adding a task".into(),
        "list_tasks" => "Listing tasks".into(),
        "complete_task" => "Completing a task".into(),
        "delete_task" => "Deleting a task".into(),
        "update_task" => "Updating a task".into(),
        other => format!("Running {other}"),
    }
}

fn result_summary(result: &Value) -> String {
    if let Some(task) = result.get("task") {
        let number = task.get("number").and_then(Value::as_i64).unwrap_or(0);
        let title = task.get("title").and_then(Value::as_str).unwrap_or("");
        return format!("#{number} {title}");
    }
    if let Some(list) = result.as_array() {
        return format!("{} task(s)", list.len());
    }
    if let Some(list) = result.get("tasks").and_then(Value::as_array) {
        return format!("{} task(s)", list.len());
    }
    match result.get("error").and_then(Value::as_str) {
        Some(e) => e.replace('_', " "),
        None => "done".into(),
    }
}

/// Checks and defaults a page size: absent or 0 means 20; at most 100.
pub fn page_limit(limit: Option<u32>) -> u32 {
    match limit {
        None | Some(0) => 20,
        Some(n) => n.min(100),
    }
}

/// One page of `items` (oldest first) in `order`, after the item `after`
/// (`invalid_request` when no item of the thread has that id).
pub fn page(
    mut items: Vec<Item>,
    order: Order,
    after: Option<&str>,
    limit: u32,
) -> Result<Page<Item>> {
    if order == Order::Desc {
        items.reverse();
    }
    let start = match after {
        None => 0,
        Some(id) => {
            items
                .iter()
                .position(|i| i.id == id)
                .ok_or_else(|| Error::invalid("invalid cursor: no such item in this thread"))?
                + 1
        }
    };
    let rest = items.len().saturating_sub(start);
    let limit = limit as usize;
    let has_more = rest > limit;
    let data: Vec<Item> = items.into_iter().skip(start).take(limit).collect();
    let after = if has_more {
        data.last().map(|i| i.id.clone())
    } else {
        None
    };
    Ok(Page {
        data,
        has_more,
        after,
    })
}
