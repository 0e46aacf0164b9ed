//! Transports: the edges that decode a wire format, call the chat core and encode its events.
//!
//! No transport touches the store or the agent directly for a turn; they call
//! [`crate::chat::Chat`]. This module holds what they share: extractors whose rejections use our
//! error shape (a handler takes [`ApiPath`], [`ApiQuery`] and [`ApiJson`], never axum's own,
//! whose rejections are plain text), the [`nul`] rule they apply, and the small parsing helpers
//! for ids and pages.

pub mod ai_sdk;
pub mod chatkit;
pub mod mcp;
pub mod nul;
pub mod openapi;
pub mod rest;
pub mod sse;
pub mod web;
pub mod ws;

use axum::extract::rejection::{
    JsonRejection, PathRejection, QueryRejection, RawPathParamsRejection,
};
use axum::extract::{FromRequest, FromRequestParts, RawPathParams, Request};
use axum::http::request::Parts;
use axum::http::StatusCode;
use serde::de::DeserializeOwned;
use uuid::Uuid;

use crate::error::{Error, Result};
use crate::model::{PageRequest, ThreadId};

/// `axum::Json`, but a bad body is our `{"error":…}` (400, or 413 when too large), and a body
/// with a NUL anywhere is refused ([`nul`]).
pub struct ApiJson<T>(pub T);

impl<S, T> FromRequest<S> for ApiJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = Error;

    async fn from_request(req: Request, state: &S) -> Result<Self> {
        // Clients of the seeds send JSON without a content type; parse the body regardless.
        let bytes = axum::body::Bytes::from_request(req, state)
            .await
            .map_err(|rejection| {
                if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                    Error::PayloadTooLarge
                } else {
                    Error::invalid("could not read the request body")
                }
            })?;
        match axum::Json::<T>::from_bytes(&bytes) {
            Ok(_) if nul::in_json(&bytes) => Err(nul::refused("the request body")),
            Ok(axum::Json(v)) => Ok(ApiJson(v)),
            Err(JsonRejection::JsonSyntaxError(_)) => {
                Err(Error::invalid("request body is not valid JSON"))
            }
            Err(JsonRejection::JsonDataError(e)) => Err(Error::Invalid(data_error(&e.body_text()))),
            Err(_) => Err(Error::invalid("request body is not valid JSON")),
        }
    }
}

/// serde's message without axum's prefix ("Failed to deserialize the JSON body into the target
/// type: ").
fn data_error(text: &str) -> String {
    match text.split_once(": ") {
        Some((_, rest)) => rest.to_string(),
        None => text.to_string(),
    }
}

/// `axum::extract::Query`, with our error shape; a query with a NUL (`%00`) is refused ([`nul`]).
pub struct ApiQuery<T>(pub T);

impl<S, T> FromRequestParts<S> for ApiQuery<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self> {
        // `%00` is the only way a URI can carry a NUL: raw control bytes never reach a handler.
        if parts.uri.query().is_some_and(|q| q.contains("%00")) {
            return Err(nul::refused("the query string"));
        }
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(v)) => Ok(ApiQuery(v)),
            Err(QueryRejection::FailedToDeserializeQueryString(e)) => {
                Err(Error::Invalid(data_error(&e.body_text())))
            }
            Err(_) => Err(Error::invalid("invalid query string")),
        }
    }
}

/// `axum::extract::Path`, with our error shape: a segment that is not UTF-8 once
/// percent-decoded (`%FF`) or that holds a NUL (`%00`) is 400 `invalid_request`.
pub struct ApiPath<T>(pub T);

impl<S, T> FromRequestParts<S> for ApiPath<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self> {
        let raw = RawPathParams::from_request_parts(parts, state)
            .await
            .map_err(|rejection| match rejection {
                RawPathParamsRejection::InvalidUtf8InPathParam(e) => Error::Invalid(format!(
                    "invalid URL: the segment {} is not valid UTF-8",
                    quoted_key(&e.body_text())
                )),
                other => missing_params(&other.body_text()),
            })?;
        for (key, value) in &raw {
            nul::refuse(value, &format!("the URL segment `{key}`"))?;
        }
        match axum::extract::Path::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(v)) => Ok(ApiPath(v)),
            Err(PathRejection::FailedToDeserializePathParams(e)) => Err(Error::Invalid(format!(
                "invalid URL: {}",
                e.body_text().trim_start_matches("Invalid URL: ")
            ))),
            Err(other) => Err(missing_params(&other.body_text())),
        }
    }
}

/// The `` `key` `` of axum's "Invalid UTF-8 in `key`".
fn quoted_key(text: &str) -> &str {
    match (text.find('`'), text.rfind('`')) {
        (Some(start), Some(end)) if end > start => &text[start..=end],
        _ => "of the path",
    }
}

/// A handler that takes path parameters on a route without any: a wiring bug, not the client's.
fn missing_params(detail: &str) -> Error {
    Error::Internal(format!("path parameters: {detail}"))
}

/// A thread id from a path or body. A string that is not a UUID names no thread: 404, like a
/// thread of another user.
pub fn parse_thread_id(s: &str) -> Result<ThreadId> {
    Uuid::parse_str(s.trim())
        .map(ThreadId)
        .map_err(|_| Error::NotFound("conversation"))
}

/// A message id from a path or frame; anything but a UUID names no message.
pub fn parse_message_id(s: &str) -> Result<crate::model::MessageId> {
    Uuid::parse_str(s.trim())
        .map(crate::model::MessageId)
        .map_err(|_| Error::NotFound("message"))
}

/// Checks `limit` (1..=100, default `default`) and builds the page request.
pub fn page_request(
    limit: Option<u32>,
    after: Option<String>,
    default: u32,
) -> Result<PageRequest> {
    let limit = limit.unwrap_or(default);
    if !(1..=100).contains(&limit) {
        return Err(Error::invalid("limit must be between 1 and 100"));
    }
    Ok(PageRequest {
        limit,
        after: after.filter(|a| !a.is_empty()),
    })
}
