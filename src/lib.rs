//! agentwire: a WebSocket-first realtime chat server for AI assistants that act on a user's data.
//!
//! Data flows one way:
//! - [`transport`] decodes a wire format (REST, SSE, WebSocket, ChatKit, the AI SDK's, MCP) and
//!   calls the core; it also serves the web demo's pages (`/`, `/rest.html`), which use that API
//!   like any client;
//! - [`chat`] runs one turn: history, agent, tools, persistence, events; it queues messages sent
//!   to a busy thread and follows turns for clients that lost their stream;
//! - [`agent`] turns a message into deltas and tool calls, acting only through
//!   [`agent::tools::Tools`] bound to the authenticated user, and tells which language a
//!   message is written in ([`agent::language`]);
//! - [`store`] keeps threads, messages, queued messages and tasks in SQLite or PostgreSQL, each
//!   backend's SQL in a folder of its own (`store/sqlite/`, `store/postgres/`);
//! - [`hub`] keeps each user's recent events and fans them out to all of that user's
//!   subscribers, which resume from a position after a reconnect;
//! - [`relay`] carries the hub's events, cancels and queue hints between instances that share
//!   one PostgreSQL database, through PostgreSQL itself or a NATS server.
//!
//! Around them: [`auth`] verifies JWTs, [`config`] reads the environment, [`error`] is the one
//! error type, [`model`] holds the types every layer shares (ids, messages, tasks, pages and the
//! order a listing runs in), [`ratelimit`] is the per-user turn allowance, [`state`] builds
//! everything a request needs ([`AppState`]), [`metrics`] counts requests, sockets and turns for
//! `GET /metrics`. `server` is the accept loop under the router: connection caps and HTTP
//! timeouts. The load tester behind `agentwire load` (`src/load`) is part of the binary, not of
//! this library: a client of the server like any other, it reaches it only over the network.
//!
//! Vocabulary, one word per concept (Rust names and docs use these; wire formats, tables and
//! configuration keep their own):
//! - **thread**: a conversation. The model type and the store's table say `Conversation`
//!   (`conversations`), and so do the REST paths (`conversation_id`), kept for clients of the
//!   first API; ChatKit and the AI SDK say thread (or chat). In the core a `Conversation` value
//!   is a `thread`.
//! - **message**: a user's or the assistant's turn of speech in a thread; the assistant's is the
//!   **answer** of its **turn** (one user message, the agent's work, one answer). ChatKit's
//!   **items** are messages, plus hidden context items, which the core calls **notes**.
//! - **event**: what a turn emits, [`chat::event::ChatEvent`]; published as an
//!   [`chat::event::Event`], that body addressed to one user with the request id of the frame
//!   that caused it. A **position** (`pos`) is an event's place in its user's stream, and a
//!   **delivery** what a socket reads of that stream: one event, or adjacent deltas merged.
//! - **claim**: the right to run the one turn of a thread (`chat::claim`). A turn **takes** it
//!   before (or with) its first write and **releases** it right before its last event; a task
//!   action holds it while it writes. It lives in this process and, with several instances, in
//!   the database they share, where the store's `ClaimStep::{Take, Release}` take and release it
//!   within a write. No other word (hold, free, lock) names it.
//! - **queue**: a thread's messages waiting for its running turn to end.
//! - **read**: what a transport asks of a user's threads and tasks goes through one reader,
//!   `chat.read(&user)` ([`chat::Reader`]); a turn is started with `chat.start_turn`.

pub mod agent;
pub mod auth;
pub mod chat;
pub mod config;
pub mod error;
pub mod hub;
pub mod metrics;
pub mod model;
pub mod ratelimit;
pub mod relay;
mod server;
pub mod state;
pub mod store;
pub mod timeout;
pub mod transport;

use std::future::Future;

use axum::extract::DefaultBodyLimit;
use axum::http::{header, HeaderValue, Method};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::Router;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::cors::{AllowOrigin, CorsLayer};

pub use config::Config;
pub use state::AppState;
use transport::{mcp, openapi, rest, sse, web, ws};

/// Every route of the server.
pub fn router(state: AppState) -> Router {
    let config = state.config.clone();
    let mut api = Router::new()
        .merge(web::routes())
        .route("/api/health", get(rest::health))
        .route("/api/openapi.json", get(openapi::serve))
        .route("/metrics", get(metrics::scrape))
        .route("/api/ws", get(ws::upgrade))
        .route("/api/{user_id}/chat", post(rest::chat))
        .route("/api/{user_id}/chat/stream", post(sse::chat_stream))
        .route(
            "/api/{user_id}/conversations",
            get(rest::list_conversations),
        )
        .route(
            "/api/{user_id}/conversations/{conversation_id}/messages",
            get(rest::list_messages),
        )
        .route(
            "/api/{user_id}/conversations/{conversation_id}/stream",
            get(sse::resume_stream),
        )
        .route(
            "/api/{user_id}/conversations/{conversation_id}/queue/{message_id}",
            delete(rest::cancel_queued),
        )
        .route("/api/{user_id}/tasks", get(rest::list_tasks))
        .merge(transport::chatkit::routes(&config))
        .merge(transport::ai_sdk::routes(&config));
    if !config.is_production() {
        api = api.route("/api/dev/token", post(rest::dev_token));
    }
    let mut app = api
        .merge(mcp::routes(&state))
        .fallback(rest::not_found)
        .method_not_allowed_fallback(rest::method_not_allowed)
        .layer(axum::middleware::from_fn(metrics::track_http))
        .layer(DefaultBodyLimit::max(config.max_body_bytes))
        .layer(CatchPanicLayer::custom(panic_response));
    if let Some(cors) = cors_layer(&config.cors_origins) {
        app = app.layer(cors);
    }
    app.with_state(state)
}

fn panic_response(_: Box<dyn std::any::Any + Send + 'static>) -> Response {
    error::Error::Internal("a handler panicked".into()).into_response()
}

/// Forgets the client ids of old sends, at start and every hour, until `stop`.
async fn forget_old_sends(chat: chat::Chat, stop: tokio_util::sync::CancellationToken) {
    let mut every = tokio::time::interval(std::time::Duration::from_secs(3600));
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = every.tick() => {}
        }
        if let Err(e) = chat.forget_old_sends().await {
            tracing::warn!(error = %e, "could not forget the client ids of old sends");
        }
    }
}

/// How often threads with queued messages and no running turn are looked at.
const TEND_QUEUES_EVERY: std::time::Duration = std::time::Duration::from_secs(5);

/// Starts the queued messages nobody else starts (see `chat::queue`): at start, once the
/// answers left in progress are marked, and every few seconds, until `stop`.
async fn tend_queues(chat: chat::Chat, stop: tokio_util::sync::CancellationToken) {
    let mut every = tokio::time::interval(TEND_QUEUES_EVERY);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = every.tick() => {}
        }
        if let Err(e) = chat.tend_queues().await {
            tracing::warn!(error = %e, "could not look at the threads' queues");
        }
    }
}

/// CORS for the configured origins; none configured means same-origin only.
fn cors_layer(origins: &[String]) -> Option<CorsLayer> {
    if origins.is_empty() {
        return None;
    }
    let allow = if origins.iter().any(|o| o == "*") {
        AllowOrigin::any()
    } else {
        AllowOrigin::list(
            origins
                .iter()
                .filter_map(|o| HeaderValue::from_str(o).ok())
                .collect::<Vec<_>>(),
        )
    };
    Some(
        CorsLayer::new()
            .allow_origin(allow)
            .allow_methods([Method::GET, Method::POST, Method::DELETE, Method::OPTIONS])
            .allow_headers([header::AUTHORIZATION, header::CONTENT_TYPE])
            .max_age(std::time::Duration::from_secs(600)),
    )
}

/// Serves `state` on `listener`, under the HTTP timeouts and connection caps of
/// `state.config.http`, until `shutdown` resolves. First, before any turn runs, the answers left
/// in progress by a process that died are marked interrupted. Then, at the end: stop accepting,
/// let running turns finish (up to the configured drain time, streaming to their sockets
/// meanwhile), close every socket with 1001, send the last events to the other instances, wait
/// for in-flight HTTP requests, and close the store.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    match state.chat.interrupt_orphans().await {
        Ok(0) => {}
        Ok(n) => tracing::warn!(
            answers = n,
            "answers left in progress were marked interrupted"
        ),
        Err(e) => tracing::warn!(error = %e, "could not look for answers left in progress"),
    }
    tokio::spawn(forget_old_sends(state.chat.clone(), state.closing.clone()));
    tokio::spawn(tend_queues(state.chat.clone(), state.closing.clone()));
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let settings = server::Settings {
        http: state.config.http.clone(),
        tcp_send_buffer: state.config.tcp_send_buffer,
    };
    let app = router(state.clone());
    let server = tokio::spawn(server::run(listener, app, settings, stop_rx));

    shutdown.await;
    let _ = stop_tx.send(true);
    state.chat.shutdown(state.config.shutdown_drain).await;
    state.closing.cancel();
    state.connections.close();
    let _ = tokio::time::timeout(std::time::Duration::from_secs(5), state.connections.wait()).await;
    // The last turns' events reach the other instances before the store closes.
    state.relay_tasks.close();
    let _ = tokio::time::timeout(std::time::Duration::from_secs(5), state.relay_tasks.wait()).await;
    match server.await {
        Ok(result) => result?,
        Err(e) => tracing::error!(error = %e, "server task failed"),
    }
    state.store.close().await;
    Ok(())
}
