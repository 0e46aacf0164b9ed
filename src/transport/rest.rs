//! REST endpoints: a whole turn as one JSON answer, the listings, health and the dev token.
//!
//! `POST /api/{user_id}/chat` collects the core's event stream into one response; everything it
//! says comes from those events, so REST can never disagree with the WebSocket about a turn.

use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::Utc;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::{page_request, parse_message_id, parse_thread_id, ApiJson, ApiPath, ApiQuery};
use crate::auth::AuthUser;
use crate::chat::event::{ChatEvent, ThreadView};
use crate::chat::{OnBusy, Turn, TurnRequest, MAX_CLIENT_MESSAGE_ID_CHARS};
use crate::error::{Error, ErrorBody, Result};
use crate::model::{Message, Page, QueuedMessage, TaskFilter, ThreadId, ToolCall, Usage, UserId};
use crate::state::AppState;

/// The body of `POST /api/{user_id}/chat` and its stream twin.
#[derive(Debug, Deserialize, JsonSchema)]
#[schemars(extend("required" = ["message"]))]
pub struct ChatBody {
    /// The user's message (`content` is accepted too). Required: a body without it is 400.
    #[serde(default, alias = "content")]
    #[schemars(with = "String", length(min = 1))]
    pub message: Option<String>,
    /// The conversation to continue; absent or empty starts a new one. Not a UUID, or another
    /// user's: 404.
    #[serde(default)]
    pub conversation_id: Option<String>,
    /// The client's own data, kept with the conversation.
    #[serde(default)]
    pub metadata: Option<Value>,
    /// The client's id of this send: sending it again returns the same turn.
    #[serde(default)]
    #[schemars(length(min = 1, max = MAX_CLIENT_MESSAGE_ID_CHARS))]
    #[schemars(regex(pattern = r"^[^\u0000-\u001f\u007f-\u009f]*$"))]
    pub client_message_id: Option<String>,
    /// When the conversation is answering another message: `reject` (409 `thread_busy`),
    /// `enqueue` (this one waits its turn) or `interrupt` (that answer stops, `interrupted`,
    /// and this one starts).
    #[serde(default)]
    pub on_busy: OnBusy,
}

impl ChatBody {
    /// The turn this body asks for, on behalf of `user`.
    pub fn into_turn_request(self, user: UserId) -> Result<TurnRequest> {
        let content = self
            .message
            .ok_or_else(|| Error::invalid("message is required"))?;
        let thread_id = match self.conversation_id.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(id) => Some(parse_thread_id(id)?),
        };
        Ok(TurnRequest {
            user,
            thread_id,
            content,
            metadata: self.metadata.unwrap_or(Value::Null),
            request_id: None,
            details: None,
            attachments: Vec::new(),
            client_message_id: self.client_message_id,
            on_busy: self.on_busy,
            create_thread: false,
        })
    }
}

/// A tool call of the answer, with what it returned.
#[derive(Debug, Serialize, JsonSchema)]
struct ToolCallView {
    tool_name: String,
    arguments: Value,
    result: Value,
}

impl From<ToolCall> for ToolCallView {
    fn from(c: ToolCall) -> Self {
        ToolCallView {
            tool_name: c.tool_name,
            arguments: c.arguments,
            result: c.result,
        }
    }
}

/// The answer of `POST /api/{user_id}/chat`.
#[derive(Debug, Serialize, JsonSchema)]
pub struct ChatResponse {
    conversation_id: ThreadId,
    message: String,
    /// The same text, for clients written against the first API draft.
    response: String,
    tool_calls: Vec<ToolCallView>,
    usage: Usage,
    status: crate::model::MessageStatus,
    /// When the answer was sent (RFC 3339).
    timestamp: String,
    /// `user_id`, `token_verified` and the `language` the answer is in.
    metadata: Value,
}

pub async fn chat(
    State(state): State<AppState>,
    auth: AuthUser,
    ApiPath(user_id): ApiPath<String>,
    ApiJson(body): ApiJson<ChatBody>,
) -> Result<Json<ChatResponse>> {
    let user = auth.require(&user_id)?.clone();
    let turn = state
        .chat
        .start_turn(body.into_turn_request(user.clone())?)
        .await?;
    let language = turn.language;
    let message = collect(turn).await?;
    let response = ChatResponse {
        conversation_id: message.conversation_id,
        response: message.content.clone(),
        message: message.content,
        tool_calls: message.tool_calls.into_iter().map(Into::into).collect(),
        usage: message.usage.unwrap_or_default(),
        status: message.status,
        timestamp: Utc::now().to_rfc3339(),
        metadata: json!({
            "user_id": user,
            "token_verified": true,
            "language": language.code(),
        }),
    };
    Ok(Json(response))
}

/// Waits for the turn's final message; an `error` event becomes the response's error.
async fn collect(mut turn: Turn) -> Result<Message> {
    let mut failure: Option<ErrorBody> = None;
    while let Some(event) = turn.next().await {
        match &event.body {
            ChatEvent::MessageDone { message, .. } if failure.is_none() => {
                return Ok(message.clone())
            }
            ChatEvent::Error { error, .. } => failure = Some(error.clone()),
            _ => {}
        }
    }
    // The turn's error as it reported it: same code, same message, same status.
    Err(match failure {
        Some(body) => Error::Reported(body),
        None => Error::Internal("turn ended without a message".into()),
    })
}

/// A page of a listing.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct PageQuery {
    /// How many rows, 1 to 100.
    #[schemars(range(min = 1, max = 100))]
    limit: Option<u32>,
    /// The `after` cursor of the previous page.
    after: Option<String>,
}

pub async fn list_conversations(
    State(state): State<AppState>,
    auth: AuthUser,
    ApiPath(user_id): ApiPath<String>,
    ApiQuery(q): ApiQuery<PageQuery>,
) -> Result<Json<Page<ThreadView>>> {
    let user = auth.require(&user_id)?;
    let page = page_request(q.limit, q.after, 20)?;
    Ok(Json(state.chat.read(user).threads(&page).await?))
}

/// A page of a thread's messages, with the messages queued behind its running turn.
#[derive(Debug, Serialize, JsonSchema)]
pub struct MessagesPage {
    #[serde(flatten)]
    page: Page<Message>,
    queued: Vec<QueuedMessage>,
}

pub async fn list_messages(
    State(state): State<AppState>,
    auth: AuthUser,
    ApiPath((user_id, conversation_id)): ApiPath<(String, String)>,
    ApiQuery(q): ApiQuery<PageQuery>,
) -> Result<Json<MessagesPage>> {
    let user = auth.require(&user_id)?;
    let id = parse_thread_id(&conversation_id)?;
    let page = page_request(q.limit, q.after, 50)?;
    let thread = state.chat.read(user).thread_page(id, &page).await?;
    Ok(Json(MessagesPage {
        page: Page {
            data: thread.messages,
            has_more: thread.has_more,
            after: thread.after,
        },
        queued: thread.queued,
    }))
}

/// `DELETE /api/{user_id}/conversations/{conversation_id}/queue/{message_id}`: takes a queued
/// message off its thread's queue before it runs (204); 404 when it is not queued there.
pub async fn cancel_queued(
    State(state): State<AppState>,
    auth: AuthUser,
    ApiPath((user_id, conversation_id, message_id)): ApiPath<(String, String, String)>,
) -> Result<StatusCode> {
    let user = auth.require(&user_id)?;
    let thread = parse_thread_id(&conversation_id)?;
    let id = parse_message_id(&message_id)?;
    match state.chat.cancel_queued(user, thread, id).await? {
        true => Ok(StatusCode::NO_CONTENT),
        false => Err(Error::NotFound("queued message")),
    }
}

/// Which tasks, and a page of them.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct TaskQuery {
    /// `all` (the default), `pending` or `completed`.
    #[schemars(extend("enum" = ["all", "pending", "completed"]))]
    status: Option<String>,
    /// How many tasks, 1 to 100.
    #[schemars(range(min = 1, max = 100))]
    limit: Option<u32>,
    /// The `after` cursor of the previous page.
    after: Option<String>,
}

pub async fn list_tasks(
    State(state): State<AppState>,
    auth: AuthUser,
    ApiPath(user_id): ApiPath<String>,
    ApiQuery(q): ApiQuery<TaskQuery>,
) -> Result<Response> {
    let user = auth.require(&user_id)?;
    let filter = match q.status.as_deref() {
        None => TaskFilter::All,
        Some(s) => TaskFilter::parse(s)
            .ok_or_else(|| Error::invalid("status must be all, pending or completed"))?,
    };
    let page = page_request(q.limit, q.after, 100)?;
    Ok(Json(state.chat.read(user).tasks(filter, &page).await?).into_response())
}

/// The answer of `GET /api/health`.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Health {
    /// `ok`, or `degraded` when the database does not answer.
    #[schemars(extend("enum" = ["ok", "degraded"]))]
    status: &'static str,
    #[schemars(extend("enum" = ["ok", "unavailable"]))]
    database: &'static str,
    #[schemars(extend("enum" = ["sqlite", "postgres"]))]
    database_backend: &'static str,
    /// The agent that answers: `offline` or `openai`.
    agent: &'static str,
    version: &'static str,
    uptime_s: u64,
}

pub async fn health(State(state): State<AppState>) -> Response {
    let ok = matches!(
        tokio::time::timeout(Duration::from_secs(2), state.chat.database_ok()).await,
        Ok(true)
    );
    let body = Health {
        status: if ok { "ok" } else { "degraded" },
        database: if ok { "ok" } else { "unavailable" },
        database_backend: state.config.database_backend(),
        agent: state.chat.agent_name(),
        version: env!("CARGO_PKG_VERSION"),
        uptime_s: state.started.elapsed().as_secs(),
    };
    let status = if ok {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(body)).into_response()
}

/// The body of `POST /api/dev/token`.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct DevTokenBody {
    /// 1 to 128 characters, without `/` or control characters.
    user_id: String,
    /// How long the token lasts, in seconds: 3600 by default, clamped to 1 s to 7 days.
    #[serde(default)]
    ttl_secs: Option<u64>,
}

/// The answer of `POST /api/dev/token`.
#[derive(Debug, Serialize, JsonSchema)]
pub struct DevToken {
    token: String,
    user_id: String,
    #[schemars(extend("enum" = ["Bearer"]))]
    token_type: &'static str,
    expires_in: u64,
}

/// Development only (the route is not mounted in production): a token for any user id.
pub async fn dev_token(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<DevTokenBody>,
) -> Result<Json<DevToken>> {
    let user = body.user_id.trim();
    if user.is_empty() || user.len() > 128 || user.chars().any(|c| c.is_control() || c == '/') {
        return Err(Error::invalid(
            "user_id must be 1-128 characters, without '/' or control characters",
        ));
    }
    let ttl = body.ttl_secs.unwrap_or(3600).clamp(1, 7 * 24 * 3600);
    Ok(Json(DevToken {
        token: state.jwt.mint(&UserId::new(user), Duration::from_secs(ttl)),
        user_id: user.to_string(),
        token_type: "Bearer",
        expires_in: ttl,
    }))
}

/// 404 for every unknown route, in our shape.
pub async fn not_found() -> Error {
    Error::NotFound("route")
}

/// 405 for a known route with the wrong method, in our shape.
pub async fn method_not_allowed() -> Error {
    Error::MethodNotAllowed
}
