//! What a thread holds now, read from the chat core and rendered as ChatKit items: every
//! visible item, one item by id, and the user's task board that task widgets show.
//!
//! The JSON handlers, the action hook and the event stream all read through here, so none of
//! them depends on another for it.

use std::collections::HashMap;

use serde_json::Value;

use super::attachments::Links;
use super::items::{self, TaskBoard};
use super::types::Item;
use crate::chat::Chat;
use crate::error::{Error, Result};
use crate::model::{MessageId, PageRequest, TaskFilter, ThreadId, UserId};
use crate::state::AppState;

/// Every visible item of one of the user's threads, oldest first (`not_found` otherwise).
pub(super) async fn thread_items(
    state: &AppState,
    user: &UserId,
    links: &Links,
    id: ThreadId,
) -> Result<Vec<Item>> {
    let messages = state.chat.read(user).messages(id).await?;
    let board = if messages.iter().any(|m| !m.tool_calls.is_empty()) {
        task_board(&state.chat, user).await?
    } else {
        TaskBoard::new()
    };
    let details: HashMap<MessageId, Value> = state
        .chat
        .message_details(user, id)
        .await?
        .into_iter()
        .collect();
    Ok(items::render(&messages, &details, links, &board))
}

/// The user's tasks now, by number.
pub(super) async fn task_board(chat: &Chat, user: &UserId) -> Result<TaskBoard> {
    let mut board = TaskBoard::new();
    let mut page = PageRequest::first(100);
    loop {
        let got = chat.read(user).tasks(TaskFilter::All, &page).await?;
        board.extend(got.data.into_iter().map(|t| (t.number, t)));
        match got.after {
            Some(after) if got.has_more => page.after = Some(after),
            _ => return Ok(board),
        }
    }
}

/// The item `item_id` of one of the user's threads; `not_found` when there is none.
pub(super) async fn find_item(
    state: &AppState,
    user: &UserId,
    links: &Links,
    id: ThreadId,
    item_id: &str,
) -> Result<Item> {
    thread_items(state, user, links, id)
        .await?
        .into_iter()
        .find(|i| i.id == item_id)
        .ok_or(Error::NotFound("item"))
}
