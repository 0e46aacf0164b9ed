//! OpenAI ChatKit's custom-backend protocol: `POST /api/chatkit` and its helper routes.
//!
//! One endpoint takes `{type, params, metadata?}` for all sixteen request types; six answer
//! with an event stream ([`stream`]), ten with JSON ([`handlers`]). Authentication (401) comes
//! first, then the whole request is parsed ([`request`]) and the thread's existence and
//! ownership checked, so every client error is a JSON error before any stream starts.
//!
//! Dependencies run one way: `handlers` calls `actions` and [`stream`]; all three read a thread's
//! items and the task board through `lookup`, which renders with [`items`] and [`types`].
//!
//! ChatKit threads are our conversations and its items our messages: this module only
//! translates. Turns run in the chat core (no second copy of the turn); reading, renaming,
//! feedback, retries, hidden items and attachments are core operations too.
//!
//! Routes: `POST /api/chatkit`, `GET /api/chatkit/health` (no auth), and the attachment routes
//! of [`attachments`] (their own body limit, `ATTACHMENT_MAX_BYTES`).

mod actions;
pub mod attachments;
mod handlers;
pub mod items;
mod lookup;
pub mod request;
pub mod stream;
pub mod types;

use axum::extract::{DefaultBodyLimit, State};
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::Serialize;
use serde_json::Value;

use super::ApiJson;
use crate::auth::AuthUser;
use crate::config::Config;
use crate::error::Result;
use crate::state::AppState;
use attachments::Links;

/// The ChatKit routes, to merge into the API router.
pub fn routes(config: &Config) -> Router<AppState> {
    // Multipart framing adds a little to the file itself; the file's own size is checked exactly.
    let upload_limit = DefaultBodyLimit::max(config.attachment_max_bytes.saturating_add(16 * 1024));
    Router::new()
        .route("/api/chatkit", post(handle))
        .route("/api/chatkit/health", get(health))
        .route(
            "/api/chatkit/attachments",
            post(attachments::direct_upload).layer(upload_limit),
        )
        .route(
            "/api/chatkit/attachments/{id}/upload",
            post(attachments::upload)
                .put(attachments::upload)
                .layer(upload_limit),
        )
        .route(
            "/api/chatkit/attachments/{id}/preview",
            get(attachments::preview),
        )
}

/// `POST /api/chatkit`: every ChatKit request.
pub async fn handle(
    State(state): State<AppState>,
    auth: AuthUser,
    headers: HeaderMap,
    ApiJson(body): ApiJson<Value>,
) -> Result<Response> {
    let request = request::parse(body)?;
    let links = Links::new(&state, &headers, &auth.0);
    handlers::dispatch(&state, auth.0, links, request).await
}

/// The answer of `GET /api/chatkit/health`.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Health {
    openai_key_configured: bool,
    /// Always false: no session/client-secret exchange, which belongs to OpenAI's hosted mode.
    session_endpoint_available: bool,
    store_implemented: bool,
    timestamp: DateTime<Utc>,
}

/// `GET /api/chatkit/health`: what this ChatKit backend offers. No authentication.
pub async fn health(State(state): State<AppState>) -> Json<Health> {
    Json(Health {
        openai_key_configured: state.config.provider.api_key.is_some(),
        session_endpoint_available: false,
        store_implemented: true,
        timestamp: Utc::now(),
    })
}
