//! The action hook: what widget buttons (and `sendCustomAction`) can ask of this server.
//!
//! Handled actions, for `threads.custom_action` (streamed) and `threads.sync_custom_action`
//! (JSON):
//! - `{"type": "task.complete", "payload": {"number": N}}` marks task N done;
//! - `{"type": "task.delete", "payload": {"number": N}}` deletes task N.
//!
//! (`complete_task` / `delete_task` and a payload key `task` are accepted as synonyms.) Sent
//! from a task widget, N must be one of the widget's tasks, and the answer carries the widget
//! as it is afterwards. The core does the work and records an assistant message saying what
//! happened. Any other action type is a 400 before any stream.

use serde_json::Value;

use super::attachments::Links;
use super::items::widget_numbers;
use super::lookup::find_item;
use super::request::Action;
use super::types::Item;
use crate::chat::{TaskAction, TaskActionResult};
use crate::error::{Error, Result};
use crate::model::{ThreadId, UserId};
use crate::state::AppState;

/// The task action a widget button sends: `{"type": "task.complete" | "task.delete",
/// "payload": {"number": N}}`.
fn task_action(action: &Action) -> Result<TaskAction> {
    let number = action
        .payload
        .as_ref()
        .and_then(|p| p.get("number").or_else(|| p.get("task")))
        .and_then(Value::as_i64);
    let need = || {
        Error::Invalid(format!(
            "action {:?} needs a payload {{\"number\": <task number>}}",
            action.kind
        ))
    };
    match action.kind.as_str() {
        "task.complete" | "complete_task" => Ok(TaskAction::Complete(number.ok_or_else(need)?)),
        "task.delete" | "delete_task" => Ok(TaskAction::Delete(number.ok_or_else(need)?)),
        other => Err(Error::Invalid(format!(
            "unknown action {other:?}; this server handles \"task.complete\" and \"task.delete\""
        ))),
    }
}

/// Runs a task action, from a widget's button (`widget`, which must offer that task) or sent
/// on its own; returns what the core did and the widget as it is afterwards.
pub(super) async fn run_action(
    state: &AppState,
    user: &UserId,
    links: &Links,
    id: ThreadId,
    action: &Action,
    widget: Option<Item>,
) -> Result<(TaskActionResult, Option<Item>)> {
    let action = task_action(action)?;
    let number = match action {
        TaskAction::Complete(n) | TaskAction::Delete(n) => n,
    };
    if let Some(w) = &widget {
        if !widget_numbers(w).contains(&number) {
            return Err(Error::Invalid(format!("that widget has no task #{number}")));
        }
    }
    let done = state.chat.task_action(user, id, action).await?;
    let updated = match widget {
        Some(w) => Some(find_item(state, user, links, id, &w.id).await?),
        None => None,
    };
    Ok((done, updated))
}
