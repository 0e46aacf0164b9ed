//! The crate's one error type and its JSON shape.
//!
//! Every failure a client can see is an [`Error`]; `code()` and `status()` are the single place
//! that decides its wire code and HTTP status. 5xx errors log their source once and send only a
//! generic message: no SQL, URL, key or provider body ever leaves the server.
//!
//! Database errors are sorted here, once, as they are converted: a database that cannot be
//! reached (refused or lost connection, pool wait or statement past `DATABASE_TIMEOUT_SECS`,
//! SQLite locked by another process) is [`Error::DatabaseUnavailable`], a 503 the client may
//! retry; anything else stays an internal error.

use std::time::Duration;

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

/// Why the model provider could not answer.
#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    /// The provider is unreachable, overloaded or refused us (connect error, 429, 5xx).
    #[error("the model provider is unavailable: {0}")]
    Unavailable(String),
    /// The provider answered something we cannot use.
    #[error("the model provider failed: {0}")]
    Failed(String),
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("missing, invalid or expired token")]
    Unauthorized,
    #[error("that resource belongs to another user")]
    Forbidden,
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    MessageTooLong(String),
    #[error("request body is too large")]
    PayloadTooLarge,
    #[error("{0}")]
    UnsupportedMediaType(String),
    #[error("{0}")]
    NotConfigured(String),
    #[error("this thread is already answering a message")]
    ThreadBusy,
    /// The request is valid but the resource's state no longer allows it (e.g. an attachment's
    /// bytes, which are written once).
    #[error("{0}")]
    Conflict(String),
    /// A send whose `client_message_id` an earlier send of the user already used. The chat
    /// core answers such a send with the earlier turn; this reaches a client only if that
    /// turn's messages are gone.
    #[error("a message with this client_message_id was already sent")]
    DuplicateSend,
    /// A thread's queue of waiting messages is full.
    #[error("this thread already has as many queued messages as it may hold")]
    QueueFull,
    /// A queued message was cancelled before its turn started.
    #[error("the queued message was cancelled before it ran")]
    Unqueued,
    #[error("too many requests; retry in {}s", .0.as_secs().max(1))]
    RateLimited(Duration),
    #[error("too many MCP sessions are open; close one or retry later")]
    TooManySessions,
    #[error("the assistant is unavailable right now")]
    AgentUnavailable(#[source] AgentError),
    #[error("the assistant failed")]
    Agent(#[source] AgentError),
    #[error("the server is shutting down")]
    ShuttingDown,
    #[error("the request body did not arrive in time")]
    RequestTimeout,
    #[error("too many open connections; retry shortly")]
    TooManyConnections,
    /// The database cannot be reached or did not answer in time; the detail (for the log and
    /// the operator's console, never a client) names the cause.
    #[error("the database is unavailable right now; retry shortly")]
    DatabaseUnavailable(String),
    /// The broker that relays between instances (NATS) cannot be reached; as above, the detail
    /// is for the log only.
    #[error("the event broker is unavailable right now; retry shortly")]
    BrokerUnavailable(String),
    #[error("method not allowed on this route")]
    MethodNotAllowed,
    /// An error already reported as a body (by a turn's `error` event, on this instance or
    /// another): answered as it was, status included.
    #[error("{}", .0.message)]
    Reported(ErrorBody),
    #[error("internal error")]
    Db(sqlx::Error),
    #[error("internal error")]
    Sqlite(rusqlite::Error),
    #[error("internal error")]
    Internal(String),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// Shorthand for a 400 with a message the client can act on.
    pub fn invalid(msg: impl Into<String>) -> Self {
        Error::Invalid(msg.into())
    }

    /// The stable machine-readable code sent to clients.
    pub fn code(&self) -> &str {
        match self {
            Error::Reported(body) => &body.code,
            Error::MethodNotAllowed => "method_not_allowed",
            Error::Unauthorized => "unauthorized",
            Error::Forbidden => "forbidden",
            Error::NotFound(_) => "not_found",
            Error::Invalid(_) => "invalid_request",
            Error::MessageTooLong(_) => "message_too_long",
            Error::PayloadTooLarge => "payload_too_large",
            Error::UnsupportedMediaType(_) => "unsupported_media_type",
            Error::NotConfigured(_) => "not_configured",
            Error::ThreadBusy => "thread_busy",
            Error::Conflict(_) | Error::DuplicateSend => "conflict",
            Error::QueueFull => "queue_full",
            Error::Unqueued => "cancelled",
            Error::RateLimited(_) => "rate_limited",
            Error::TooManySessions => "too_many_sessions",
            Error::AgentUnavailable(_) => "agent_unavailable",
            Error::ShuttingDown => "shutting_down",
            Error::RequestTimeout => "request_timeout",
            Error::TooManyConnections => "too_many_connections",
            Error::DatabaseUnavailable(_) => "database_unavailable",
            Error::BrokerUnavailable(_) => "broker_unavailable",
            Error::Agent(_) | Error::Db(_) | Error::Sqlite(_) | Error::Internal(_) => "internal",
        }
    }

    pub fn status(&self) -> StatusCode {
        status_of(self.code())
    }

    /// The message a client may see. Server-side failures get the generic text only.
    pub fn public_message(&self) -> String {
        self.to_string()
    }

    /// Logs the internal cause of a server-side failure; call once where the error is answered.
    pub fn log_if_internal(&self) {
        match self {
            Error::Db(e) => tracing::error!(error = %e, "database error"),
            Error::Sqlite(e) => tracing::error!(error = %e, "database error"),
            Error::Internal(e) => tracing::error!(error = %e, "internal error"),
            Error::DatabaseUnavailable(e) => tracing::warn!(error = %e, "database unavailable"),
            Error::BrokerUnavailable(e) => tracing::warn!(error = %e, "event broker unavailable"),
            Error::Agent(e) | Error::AgentUnavailable(e) => {
                tracing::warn!(error = %e, "agent error")
            }
            _ => {}
        }
    }

    /// The `{"code","message"}` body shared by REST errors and WebSocket `error` events.
    pub fn body(&self) -> ErrorBody {
        ErrorBody {
            code: self.code().to_string(),
            message: self.public_message(),
        }
    }
}

/// The HTTP status of each error code: one per code, so an error reported as a body (a turn's
/// `error` event) is answered with the status its own variant has.
fn status_of(code: &str) -> StatusCode {
    match code {
        "unauthorized" => StatusCode::UNAUTHORIZED,
        "forbidden" => StatusCode::FORBIDDEN,
        "not_found" => StatusCode::NOT_FOUND,
        "method_not_allowed" => StatusCode::METHOD_NOT_ALLOWED,
        "invalid_request" | "message_too_long" => StatusCode::BAD_REQUEST,
        "payload_too_large" => StatusCode::PAYLOAD_TOO_LARGE,
        "unsupported_media_type" => StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "thread_busy" | "conflict" | "queue_full" | "cancelled" => StatusCode::CONFLICT,
        "rate_limited" | "too_many_sessions" => StatusCode::TOO_MANY_REQUESTS,
        "request_timeout" => StatusCode::REQUEST_TIMEOUT,
        "not_configured"
        | "agent_unavailable"
        | "shutting_down"
        | "too_many_connections"
        | "database_unavailable"
        | "broker_unavailable" => StatusCode::SERVICE_UNAVAILABLE,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

impl From<sqlx::Error> for Error {
    fn from(e: sqlx::Error) -> Self {
        if unreachable_pg(&e) {
            Error::DatabaseUnavailable(e.to_string())
        } else {
            Error::Db(e)
        }
    }
}

impl From<rusqlite::Error> for Error {
    fn from(e: rusqlite::Error) -> Self {
        use rusqlite::ErrorCode;
        match e.sqlite_error_code() {
            // Locked by another process past the busy timeout, or the file itself failing.
            Some(
                ErrorCode::DatabaseBusy
                | ErrorCode::DatabaseLocked
                | ErrorCode::CannotOpen
                | ErrorCode::SystemIoFailure
                | ErrorCode::DiskFull,
            ) => Error::DatabaseUnavailable(e.to_string()),
            _ => Error::Sqlite(e),
        }
    }
}

/// Whether a PostgreSQL error means the database cannot be reached or did not answer in time,
/// rather than that this query was wrong: worth a retry, not a bug report.
fn unreachable_pg(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::WorkerCrashed => true,
        sqlx::Error::Database(db) => db.code().is_some_and(|code| {
            // 08: connection exceptions; 57P01-03: shut down or starting; 57014: cancelled
            // (the statement timeout); 53300: too many connections; 3D000: the database is
            // gone; 28: the server refused our credentials.
            code.starts_with("08")
                || code.starts_with("28")
                || matches!(
                    &*code,
                    "57P01" | "57P02" | "57P03" | "57014" | "53300" | "3D000"
                )
        }),
        _ => false,
    }
}

/// The inner object of `{"error": {...}}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize, schemars::JsonSchema)]
pub struct ErrorBody {
    /// What went wrong, for programs: `invalid_request`, `not_found`, …
    pub code: String,
    /// What went wrong, for people.
    pub message: String,
}

/// Every HTTP error answer: `{"error": {"code", "message"}}`.
#[derive(Serialize, schemars::JsonSchema)]
#[schemars(rename = "Error")]
pub struct Envelope<'a> {
    pub error: &'a ErrorBody,
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        self.log_if_internal();
        let body = self.body();
        let mut response = (self.status(), axum::Json(Envelope { error: &body })).into_response();
        let headers = response.headers_mut();
        match &self {
            Error::Unauthorized => {
                headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            }
            Error::RateLimited(wait) => {
                let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
                headers.insert(header::RETRY_AFTER, HeaderValue::from(secs.max(1)));
            }
            _ => {}
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_error_reported_as_a_body_answers_as_its_own_variant_would() {
        let errors = [
            Error::Unauthorized,
            Error::NotFound("conversation"),
            Error::invalid("bad"),
            Error::MessageTooLong("long".into()),
            Error::ThreadBusy,
            Error::QueueFull,
            Error::Unqueued,
            Error::RateLimited(Duration::from_secs(3)),
            Error::AgentUnavailable(AgentError::Unavailable("down".into())),
            Error::Agent(AgentError::Failed("odd".into())),
            Error::DatabaseUnavailable("gone".into()),
            Error::BrokerUnavailable("nats down".into()),
            Error::ShuttingDown,
            Error::MethodNotAllowed,
            Error::Internal("secret".into()),
        ];
        for e in errors {
            let reported = Error::Reported(e.body());
            assert_eq!(
                (reported.status(), reported.code(), reported.body()),
                (e.status(), e.code(), e.body()),
                "{e:?}"
            );
        }
        assert_eq!(Error::ThreadBusy.status(), StatusCode::CONFLICT);
        assert_eq!(Error::QueueFull.status(), StatusCode::CONFLICT);
        assert_eq!(
            Error::MethodNotAllowed.status(),
            StatusCode::METHOD_NOT_ALLOWED
        );
        assert_eq!(
            Error::PayloadTooLarge.status(),
            StatusCode::PAYLOAD_TOO_LARGE
        );
        assert_eq!(Error::RequestTimeout.status(), StatusCode::REQUEST_TIMEOUT);
        assert_eq!(
            Error::NotConfigured("x".into()).status(),
            StatusCode::SERVICE_UNAVAILABLE
        );
        assert_eq!(
            Error::TooManySessions.status(),
            StatusCode::TOO_MANY_REQUESTS
        );
    }

    #[test]
    fn internal_errors_hide_their_cause() {
        let e = Error::Internal("password=hunter2 at db.internal:5432".into());
        assert_eq!(e.public_message(), "internal error");
        let e = Error::Agent(AgentError::Failed("sk-secret https://api".into()));
        assert_eq!(e.public_message(), "the assistant failed");
        assert_eq!(e.code(), "internal");
    }

    #[test]
    fn rate_limited_sets_retry_after_rounded_up() {
        let r = Error::RateLimited(Duration::from_millis(1500)).into_response();
        assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(r.headers()[header::RETRY_AFTER], "2");
    }

    #[test]
    fn an_unreachable_database_is_a_503_the_client_may_retry() {
        let busy = rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_BUSY),
            Some("database is locked".into()),
        );
        let refused = std::io::Error::from(std::io::ErrorKind::ConnectionRefused);
        for e in [
            Error::from(sqlx::Error::PoolTimedOut),
            Error::from(sqlx::Error::Io(refused)),
            Error::from(busy),
        ] {
            assert_eq!(e.code(), "database_unavailable", "{e:?}");
            assert_eq!(e.status(), StatusCode::SERVICE_UNAVAILABLE);
            assert!(!e.public_message().contains("locked"));
        }
        // A query that is wrong stays a bug: 500, no details.
        let e = Error::from(sqlx::Error::RowNotFound);
        assert_eq!(e.code(), "internal");
        let e = Error::from(rusqlite::Error::QueryReturnedNoRows);
        assert_eq!(e.status(), StatusCode::INTERNAL_SERVER_ERROR);
    }

    #[test]
    fn unauthorized_sets_www_authenticate() {
        let r = Error::Unauthorized.into_response();
        assert_eq!(r.headers()[header::WWW_AUTHENTICATE], "Bearer");
    }
}
