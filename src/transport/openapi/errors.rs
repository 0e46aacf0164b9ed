//! The error answers of the document: for each HTTP status, the codes [`Error`] answers with
//! it, taken from `Error::code()` and `Error::status()` themselves.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use axum::http::StatusCode;
use serde_json::{json, Value};

use crate::error::{AgentError, Error};

/// Codes answered outside [`Error`]: MCP's 406 (`transport::mcp::edge`).
const OTHER_CODES: &[(u16, &str)] = &[(406, "not_acceptable")];

/// One error of each variant. The match below has no wildcard, so a new variant does not
/// compile until it is listed here too.
fn every_error() -> Vec<Error> {
    let all = vec![
        Error::Unauthorized,
        Error::Forbidden,
        Error::NotFound("thing"),
        Error::Invalid(String::new()),
        Error::MessageTooLong(String::new()),
        Error::PayloadTooLarge,
        Error::UnsupportedMediaType(String::new()),
        Error::NotConfigured(String::new()),
        Error::ThreadBusy,
        Error::Conflict(String::new()),
        Error::DuplicateSend,
        Error::QueueFull,
        Error::Unqueued,
        Error::RateLimited(Duration::ZERO),
        Error::TooManySessions,
        Error::AgentUnavailable(AgentError::Unavailable(String::new())),
        Error::Agent(AgentError::Failed(String::new())),
        Error::ShuttingDown,
        Error::RequestTimeout,
        Error::TooManyConnections,
        Error::DatabaseUnavailable(String::new()),
        Error::BrokerUnavailable(String::new()),
        Error::MethodNotAllowed,
        Error::Db(sqlx::Error::PoolClosed),
        Error::Sqlite(rusqlite::Error::QueryReturnedNoRows),
        Error::Internal(String::new()),
    ];
    for e in &all {
        match e {
            Error::Unauthorized
            | Error::Forbidden
            | Error::NotFound(_)
            | Error::Invalid(_)
            | Error::MessageTooLong(_)
            | Error::PayloadTooLarge
            | Error::UnsupportedMediaType(_)
            | Error::NotConfigured(_)
            | Error::ThreadBusy
            | Error::Conflict(_)
            | Error::DuplicateSend
            | Error::QueueFull
            | Error::Unqueued
            | Error::RateLimited(_)
            | Error::TooManySessions
            | Error::AgentUnavailable(_)
            | Error::Agent(_)
            | Error::ShuttingDown
            | Error::RequestTimeout
            | Error::TooManyConnections
            | Error::DatabaseUnavailable(_)
            | Error::BrokerUnavailable(_)
            | Error::MethodNotAllowed
            // A reported error carries one of the codes above.
            | Error::Reported(_)
            | Error::Db(_)
            | Error::Sqlite(_)
            | Error::Internal(_) => {}
        }
    }
    all
}

/// Every error code, by the status it is answered with.
pub fn codes_by_status() -> BTreeMap<u16, BTreeSet<String>> {
    let mut codes: BTreeMap<u16, BTreeSet<String>> = BTreeMap::new();
    for e in every_error() {
        codes
            .entry(e.status().as_u16())
            .or_default()
            .insert(e.code().to_string());
    }
    for (status, code) in OTHER_CODES {
        codes.entry(*status).or_default().insert(code.to_string());
    }
    codes
}

/// The response object of an error status: our envelope, with `code` one of that status's.
pub fn response(status: u16) -> Value {
    let codes = codes_by_status().remove(&status).unwrap_or_else(|| {
        panic!("no error is answered with {status}; list its codes in OTHER_CODES")
    });
    let reason = StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("Error");
    let list = codes
        .iter()
        .map(|c| format!("`{c}`"))
        .collect::<Vec<_>>()
        .join(", ");
    let mut response = json!({
        "description": format!("{reason}: {list}"),
        "content": {"application/json": {"schema": {"allOf": [
            {"$ref": "#/components/schemas/Error"},
            {"properties": {"error": {"properties": {"code": {"enum": codes}}}}},
        ]}}},
    });
    match status {
        401 => {
            response["headers"] = json!({"WWW-Authenticate": {
                "description": "`Bearer`", "schema": {"type": "string"}}});
        }
        429 => {
            response["headers"] = json!({"Retry-After": {
                "description": "Seconds to wait (with `rate_limited`).",
                "schema": {"type": "integer"}}});
        }
        _ => {}
    }
    response
}
