//! Request handlers: the ten JSON answers, and the checks the six streaming requests pass
//! before their stream starts (thread, item, attachments, action), so that every client error
//! is a JSON error and never a truncated stream.

use axum::response::{IntoResponse, Response};
use axum::Json;
use base64::Engine;
use serde_json::{json, Value};
use uuid::Uuid;

use super::actions::run_action;
use super::attachments::{check_mime, check_size, parse_attachment_id, stored_form, Links};
use super::items::{assistant_item, page, page_limit};
use super::lookup::{find_item, thread_items};
use super::request::{Action, Request, UserInput};
use super::stream::{self, Mapper, Mode, Run};
use super::types::{Item, Page, StreamEvent, Thread};
use crate::chat::{Chat, OnBusy, TurnRequest};
use crate::error::{Error, Result};
use crate::model::{FeedbackKind, MessageId, NewAttachment, Order, ThreadId, UserId};
use crate::state::AppState;
use crate::transport::parse_thread_id;

/// Items `threads.get_by_id` returns with the thread.
const THREAD_ITEMS: u32 = 20;

/// Routes one parsed request to its handler; each arm names the request's one job.
pub(super) async fn dispatch(
    state: &AppState,
    user: UserId,
    links: Links,
    request: Request,
) -> Result<Response> {
    let chat = &state.chat;
    match request {
        Request::CreateThread { input } => send_message(state, user, links, None, input).await,
        Request::AddUserMessage { thread_id, input } => {
            let id = parse_thread_id(&thread_id)?;
            send_message(state, user, links, Some(id), input).await
        }
        Request::AddClientToolOutput { thread_id } => {
            chat.read(&user)
                .thread(parse_thread_id(&thread_id)?)
                .await?;
            // This server's agent never hands a tool call to the client, so no thread has a
            // pending one.
            Err(Error::invalid(
                "the thread has no pending client tool call to complete",
            ))
        }
        Request::AddStructuredInput { thread_id, item_id } => {
            let id = parse_thread_id(&thread_id)?;
            find_item(state, &user, &links, id, &item_id).await?;
            Err(Error::invalid(
                "that item is not a pending structured input",
            ))
        }
        Request::RetryAfterItem { thread_id, item_id } => {
            retry_after_item(state, user, links, &thread_id, &item_id).await
        }
        Request::CustomAction {
            thread_id,
            item_id,
            action,
        } => custom_action(state, user, links, &thread_id, item_id, &action).await,
        Request::SyncCustomAction {
            thread_id,
            item_id,
            action,
        } => sync_custom_action(state, user, links, &thread_id, item_id, &action).await,
        Request::GetThread { thread_id } => get_thread(state, user, links, &thread_id).await,
        Request::ListThreads {
            limit,
            order,
            after,
        } => list_threads(chat, user, limit, order, after).await,
        Request::UpdateThread { thread_id, title } => {
            let id = parse_thread_id(&thread_id)?;
            let conversation = chat.rename_thread(&user, id, &title).await?;
            Ok(Json(Thread::of(&conversation)).into_response())
        }
        Request::DeleteThread { thread_id } => {
            chat.delete_thread(&user, parse_thread_id(&thread_id)?)
                .await?;
            Ok(Json(json!({})).into_response())
        }
        Request::ListItems {
            thread_id,
            limit,
            order,
            after,
        } => {
            let id = parse_thread_id(&thread_id)?;
            let all = thread_items(state, &user, &links, id).await?;
            let got = page(all, order, after.as_deref(), page_limit(limit))?;
            Ok(Json(got).into_response())
        }
        Request::Feedback {
            thread_id,
            item_ids,
            kind,
        } => feedback(state, user, links, &thread_id, &item_ids, &kind).await,
        Request::CreateAttachment {
            name,
            size,
            mime_type,
        } => create_attachment(state, user, links, name, size, &mime_type).await,
        Request::DeleteAttachment { attachment_id } => {
            chat.delete_attachment(&user, parse_attachment_id(&attachment_id)?)
                .await?;
            Ok(Json(json!({})).into_response())
        }
        Request::Transcribe {
            audio_base64,
            mime_type,
        } => transcribe(state, &audio_base64, &mime_type).await,
    }
}

/// `threads.retry_after_item`: runs the turn of a user message again and streams it. Only a
/// user message can be retried; its item id is its message id.
async fn retry_after_item(
    state: &AppState,
    user: UserId,
    links: Links,
    thread_id: &str,
    item_id: &str,
) -> Result<Response> {
    let chat = &state.chat;
    let id = parse_thread_id(thread_id)?;
    chat.read(&user).thread(id).await?;
    let item = find_item(state, &user, &links, id, item_id).await?;
    if !item.is_user_message() {
        return Err(Error::invalid("only a user message can be retried"));
    }
    let message = MessageId(Uuid::parse_str(&item.id).map_err(|_| Error::NotFound("item"))?);
    let turn = chat.retry_turn(&user, id, message, None).await?;
    let mapper = Mapper::new(Mode::Retry, links, None);
    Ok(Run::new(chat.clone(), user, turn, mapper).into_response())
}

/// `threads.custom_action`: the action's result as a short fixed stream (the widget as it is
/// afterwards, then the core's assistant message).
async fn custom_action(
    state: &AppState,
    user: UserId,
    links: Links,
    thread_id: &str,
    item_id: Option<String>,
    action: &Action,
) -> Result<Response> {
    let (id, widget) = action_widget(state, &user, &links, thread_id, item_id).await?;
    let Ok(widget) = widget else {
        // The reference's answer for an action on any other item: one non-retryable
        // error event and nothing else.
        return Ok(stream::fixed(vec![StreamEvent::Error {
            code: "stream.error",
            message: None,
            allow_retry: false,
        }]));
    };
    let (done, updated) = run_action(state, &user, &links, id, action, widget).await?;
    let mut events = vec![StreamEvent::stream_options()];
    if let Some(item) = updated {
        events.push(StreamEvent::ItemReplaced { item });
    }
    events.push(StreamEvent::ItemDone {
        item: assistant_item(&done.message, &done.message.content),
    });
    Ok(stream::fixed(events))
}

/// `threads.sync_custom_action`: the same action answered as JSON, with the updated widget.
async fn sync_custom_action(
    state: &AppState,
    user: UserId,
    links: Links,
    thread_id: &str,
    item_id: Option<String>,
    action: &Action,
) -> Result<Response> {
    let (id, widget) = action_widget(state, &user, &links, thread_id, item_id).await?;
    let widget = widget.map_err(|NotAWidget| Error::invalid("that item is not a widget"))?;
    let (_, updated) = run_action(state, &user, &links, id, action, widget).await?;
    Ok(match updated {
        Some(item) => Json(json!({ "updated_item": item })).into_response(),
        None => Json(json!({})).into_response(),
    })
}

/// `threads.get_by_id`: the thread with its first page of items.
async fn get_thread(
    state: &AppState,
    user: UserId,
    links: Links,
    thread_id: &str,
) -> Result<Response> {
    let id = parse_thread_id(thread_id)?;
    let conversation = state.chat.read(&user).thread(id).await?;
    let all = thread_items(state, &user, &links, id).await?;
    let mut thread = Thread::of(&conversation);
    thread.items = page(all, Order::Asc, None, THREAD_ITEMS)?;
    Ok(Json(thread).into_response())
}

/// `threads.list`: one page of the user's threads by creation time; `after` is a thread id.
async fn list_threads(
    chat: &Chat,
    user: UserId,
    limit: Option<u32>,
    order: Order,
    after: Option<String>,
) -> Result<Response> {
    let after = after
        .map(|a| {
            Uuid::parse_str(&a)
                .map(ThreadId)
                .map_err(|_| Error::invalid("invalid cursor"))
        })
        .transpose()?;
    let got = chat
        .read(&user)
        .threads_by_creation(order, after, page_limit(limit))
        .await?;
    Ok(Json(Page {
        data: got.data.iter().map(Thread::of).collect(),
        has_more: got.has_more,
        after: got.after,
    })
    .into_response())
}

/// `items.feedback`: every named item must be one of the thread's.
async fn feedback(
    state: &AppState,
    user: UserId,
    links: Links,
    thread_id: &str,
    item_ids: &[String],
    kind: &str,
) -> Result<Response> {
    let kind = FeedbackKind::parse(kind).ok_or_else(|| {
        Error::invalid("items.feedback: kind must be \"positive\" or \"negative\"")
    })?;
    if item_ids.is_empty() {
        return Err(Error::invalid("items.feedback: item_ids must not be empty"));
    }
    let id = parse_thread_id(thread_id)?;
    let all = thread_items(state, &user, &links, id).await?;
    if let Some(missing) = item_ids.iter().find(|i| !all.iter().any(|it| &it.id == *i)) {
        return Err(Error::Invalid(format!(
            "items.feedback: no item {missing:?} in this thread"
        )));
    }
    state
        .chat
        .record_feedback(&user, id, item_ids, kind)
        .await?;
    Ok(Json(json!({})).into_response())
}

/// `attachments.create`: checks the type and size, then records the attachment awaiting its
/// upload.
async fn create_attachment(
    state: &AppState,
    user: UserId,
    links: Links,
    name: String,
    size: i64,
    mime_type: &str,
) -> Result<Response> {
    let mime_type = check_mime(mime_type)?;
    check_size(size, state.config.attachment_max_bytes)?;
    let new = NewAttachment {
        name,
        mime_type,
        size,
    };
    let a = state.chat.create_attachment(&user, &new, None).await?;
    Ok(Json(links.attachment_json(&a)).into_response())
}

/// `threads.create` / `threads.add_user_message`: checks everything, starts the turn in the
/// core, then streams it.
async fn send_message(
    state: &AppState,
    user: UserId,
    links: Links,
    thread: Option<ThreadId>,
    input: UserInput,
) -> Result<Response> {
    let chat = &state.chat;
    if let Some(id) = thread {
        chat.read(&user).thread(id).await?;
    }
    let ids = input
        .attachments
        .iter()
        .map(|a| parse_attachment_id(a))
        .collect::<Result<Vec<_>>>()?;
    let attachments = chat.attachments_for_message(&user, &ids).await?;
    let mut text = input.text();
    if text.trim().is_empty() && !attachments.is_empty() {
        let names: Vec<&str> = attachments.iter().map(|a| a.name.as_str()).collect();
        text = format!("(attached: {})", names.join(", "));
    }
    let mut details = json!({
        "content": input.content,
        "attachments": attachments.iter().map(stored_form).collect::<Vec<_>>(),
        "inference_options": input.inference_options,
    });
    if let Some(q) = &input.quoted_text {
        details["quoted_text"] = json!(q);
    }
    let turn = chat
        .start_turn(TurnRequest {
            user: user.clone(),
            thread_id: thread,
            content: text,
            metadata: Value::Null,
            request_id: None,
            details: Some(details.clone()),
            attachments: ids,
            client_message_id: None,
            on_busy: OnBusy::Reject,
            create_thread: false,
        })
        .await?;
    let mode = if thread.is_some() {
        Mode::Message
    } else {
        Mode::Create
    };
    let mapper = Mapper::new(mode, links, Some(details));
    let run = Run::new(chat.clone(), user, turn, mapper);
    Ok(run.into_response())
}

/// An action's item is not a widget (the two action requests answer this differently).
struct NotAWidget;

/// The thread an action is for (checked to be the user's) and its widget: `None` when the action
/// names no item, `NotAWidget` when the item is something else. Unknown thread or item: 404.
async fn action_widget(
    state: &AppState,
    user: &UserId,
    links: &Links,
    thread_id: &str,
    item_id: Option<String>,
) -> Result<(ThreadId, std::result::Result<Option<Item>, NotAWidget>)> {
    let id = parse_thread_id(thread_id)?;
    state.chat.read(user).thread(id).await?;
    let Some(item_id) = item_id else {
        return Ok((id, Ok(None)));
    };
    let item = find_item(state, user, links, id, &item_id).await?;
    Ok((
        id,
        if item.is_widget() {
            Ok(Some(item))
        } else {
            Err(NotAWidget)
        },
    ))
}

/// `input.transcribe`: the audio is checked (base64, an audio type), then transcribed by the
/// configured provider; without one the answer is 503 `not_configured`.
async fn transcribe(state: &AppState, audio_base64: &str, mime_type: &str) -> Result<Response> {
    let audio = base64::engine::general_purpose::STANDARD
        .decode(audio_base64.trim())
        .map_err(|_| Error::invalid("input.transcribe: audio_base64 is not valid base64"))?;
    if audio.is_empty() {
        return Err(Error::invalid("input.transcribe: the recording is empty"));
    }
    let media = super::attachments::media_type(mime_type);
    if !media.starts_with("audio/") {
        return Err(Error::UnsupportedMediaType(format!(
            "input.transcribe: expected an audio type, got {media:?}"
        )));
    }
    let text = state.chat.transcribe(audio, &media).await?;
    Ok(Json(json!({ "text": text })).into_response())
}
