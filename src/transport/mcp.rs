//! The task tools as a Model Context Protocol server, for MCP clients (desktop assistants,
//! agent frameworks): streamable HTTP at `/api/mcp`, and stdio (`agentwire mcp --user ID`).
//!
//! Over HTTP every request carries a bearer JWT, verified before the MCP service sees it; each
//! tool call acts for the user of the request that made it, so a session id never carries a
//! user. A session does have an owner, though: the user whose `initialize` opened it is the only
//! one whose requests reach it ([`edge`]), and [`sessions`] bounds how many each user and everyone
//! hold. Over stdio the user is fixed by the operator who started the process. Either way the
//! tools are the same user-scoped [`Tools`] the agents use.

pub mod edge;
pub mod sessions;

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Router;
use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::{CallToolResult, ContentBlock, Implementation, ServerCapabilities, ServerConfig};
use rmcp::service::{RequestContext, RoleServer};
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use rmcp::{tool, tool_handler, tool_router, ErrorData, ServerHandler};
use serde_json::{json, Value};

use crate::agent::tools::{
    AddTaskArgs, ListTasksArgs, TaskOutcome, TaskRefArgs, Tools, UpdateTaskArgs,
};
use crate::auth::{bearer, AuthUser};
use crate::chat::Chat;
use crate::error::{Error, Result};
use crate::model::UserId;
use crate::state::AppState;
use edge::Edge;
use sessions::LocalSessions;

/// The MCP server of the task tools.
#[derive(Clone)]
pub struct TaskServer {
    chat: Chat,
    /// The user of a stdio server; `None` over HTTP, where each request names its user.
    fixed_user: Option<UserId>,
    tool_router: ToolRouter<Self>,
}

#[tool_router]
impl TaskServer {
    /// A server whose users come from verified HTTP requests.
    pub fn for_http(chat: Chat) -> Self {
        TaskServer {
            chat,
            fixed_user: None,
            tool_router: Self::tool_router(),
        }
    }

    /// A server acting for one user (stdio).
    pub fn for_user(chat: Chat, user: UserId) -> Self {
        TaskServer {
            chat,
            fixed_user: Some(user),
            tool_router: Self::tool_router(),
        }
    }

    #[tool(description = "Add a task to the user's task list.")]
    async fn add_task(
        &self,
        Parameters(args): Parameters<AddTaskArgs>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, ErrorData> {
        let tools = self.tools(&ctx)?;
        let result = tools.add_task(args).await;
        self.announce(&tools, &result);
        outcome(result.map(|o| o.to_json()))
    }

    #[tool(description = "List the user's tasks: all (default), pending or completed.")]
    async fn list_tasks(
        &self,
        Parameters(args): Parameters<ListTasksArgs>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, ErrorData> {
        let tools = self.tools(&ctx)?;
        outcome(
            tools
                .list_tasks(args)
                .await
                .map(|tasks| json!({"ok": true, "count": tasks.len(), "tasks": tasks})),
        )
    }

    #[tool(description = "Mark one of the user's tasks as done (by number or title words).")]
    async fn complete_task(
        &self,
        Parameters(args): Parameters<TaskRefArgs>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, ErrorData> {
        let tools = self.tools(&ctx)?;
        let result = tools.complete_task(args).await;
        self.announce(&tools, &result);
        outcome(result.map(|o| o.to_json()))
    }

    #[tool(description = "Delete one of the user's tasks (by number or title words).")]
    async fn delete_task(
        &self,
        Parameters(args): Parameters<TaskRefArgs>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, ErrorData> {
        let tools = self.tools(&ctx)?;
        let result = tools.delete_task(args).await;
        self.announce(&tools, &result);
        outcome(result.map(|o| o.to_json()))
    }

    #[tool(description = "Change the title, priority or due date of one of the user's tasks.")]
    async fn update_task(
        &self,
        Parameters(args): Parameters<UpdateTaskArgs>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, ErrorData> {
        let tools = self.tools(&ctx)?;
        let result = tools.update_task(args).await;
        self.announce(&tools, &result);
        outcome(result.map(|o| o.to_json()))
    }
}

impl TaskServer {
    /// Tells the user's open sockets about a change, as a turn's tool call would.
    fn announce(&self, tools: &Tools, result: &Result<TaskOutcome>) {
        if let Ok(outcome) = result {
            self.chat.announce_task_change(tools.user(), outcome);
        }
    }

    /// The tools of the user this call acts for.
    fn tools(&self, ctx: &RequestContext<RoleServer>) -> Result<Tools, ErrorData> {
        let user = match &self.fixed_user {
            Some(user) => user.clone(),
            None => ctx
                .extensions
                .get::<axum::http::request::Parts>()
                .and_then(|parts| parts.extensions.get::<UserId>())
                .cloned()
                // The auth layer runs before every HTTP request; this is a wiring bug.
                .ok_or_else(|| ErrorData::internal_error("request is not authenticated", None))?,
        };
        Ok(self.chat.tools_for(&user))
    }
}

#[tool_handler(router = self.tool_router)]
impl ServerHandler for TaskServer {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(Implementation::new("agentwire", env!("CARGO_PKG_VERSION")))
            .with_instructions(
                "Task tools of the signed-in user: add, list, complete, delete and update tasks. \
                 Tasks are named by number or by words of their title.",
            )
    }
}

/// A tool's JSON result: a tool-level error when `ok` is false, a protocol error (without
/// details) when the server failed.
fn outcome(result: Result<Value>) -> Result<CallToolResult, ErrorData> {
    match result {
        Ok(value) => {
            let text = ContentBlock::text(value.to_string());
            if value["ok"] == json!(false) {
                Ok(CallToolResult::error(vec![text]))
            } else {
                Ok(CallToolResult::success(vec![text]))
            }
        }
        Err(e) => {
            e.log_if_internal();
            Err(ErrorData::internal_error(e.public_message(), None))
        }
    }
}

/// `/api/mcp`: the streamable HTTP service behind [`authenticate`] and then [`edge::guard`].
pub fn routes(state: &AppState) -> Router<AppState> {
    let sessions = Arc::new(LocalSessions::new(&state.config.mcp));
    let edge = Edge {
        sessions: sessions.clone(),
    };
    Router::new()
        .nest_service("/api/mcp", http_service(state, sessions))
        .layer(axum::middleware::from_fn_with_state(edge, edge::guard))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            authenticate,
        ))
}

/// The streamable HTTP service over `sessions`.
fn http_service(
    state: &AppState,
    sessions: Arc<LocalSessions>,
) -> StreamableHttpService<TaskServer, LocalSessions> {
    // Host checks guard unauthenticated local servers against DNS rebinding; every request here
    // needs a bearer token, and the server may sit behind any host name. The body limit is
    // checked first by `edge::guard`; rmcp's own is set to the same, should a body pass it by.
    let config = StreamableHttpServerConfig::default()
        .disable_allowed_hosts()
        .with_max_request_body_bytes(state.config.max_body_bytes)
        .with_cancellation_token(state.closing.child_token());
    // One server for every session: its tool router (names, descriptions, JSON schemas) is
    // built once and shared, not rebuilt per `initialize`.
    let server = TaskServer::for_http(state.chat.clone());
    StreamableHttpService::new(move || Ok(server.clone()), sessions, config)
}

/// Verifies the bearer token of every MCP request and hands its user to the tools.
pub async fn authenticate(
    State(state): State<AppState>,
    mut request: Request,
    next: Next,
) -> Response {
    let user = match bearer(request.headers()).map(|t| state.jwt.verify(t)) {
        Some(Ok(verified)) => verified.user,
        _ => return Error::Unauthorized.into_response(),
    };
    request.extensions_mut().insert(user.clone());
    request.extensions_mut().insert(AuthUser(user));
    next.run(request).await
}

/// Serves the tools of `user` over stdin/stdout until the client disconnects.
pub async fn serve_stdio(chat: Chat, user: UserId) -> std::io::Result<()> {
    use rmcp::ServiceExt;
    let running = TaskServer::for_user(chat, user)
        .serve(rmcp::transport::stdio())
        .await
        .map_err(std::io::Error::other)?;
    running.waiting().await.map_err(std::io::Error::other)?;
    Ok(())
}
