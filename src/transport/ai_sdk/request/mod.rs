//! The requests of both AI SDK transports, read and checked before anything runs.
//!
//! A WebSocket frame is refused whenever the SDK's own `safeValidateWebSocketChatTransportRequest`
//! would refuse it (and in a few more cases: ids too long, a newest message we cannot answer),
//! so a client never depends on a frame only this server takes. Its messages are read by
//! [`super::messages`].

use serde_json::{Map, Value};

use super::messages::{check_messages, user_text};
use crate::error::{Error, Result};

/// Longest request id and chat id, in characters (the SDK makes 16-character ids).
pub const MAX_ID_CHARS: usize = 128;

/// What a send asks for.
#[derive(Debug, Clone, PartialEq)]
pub enum Trigger {
    /// A new user message with this text.
    Submit { content: String },
    /// The last answer again.
    Regenerate,
}

/// A send: the chat, what to do, and the client's metadata.
#[derive(Debug, Clone, PartialEq)]
pub struct ChatRequest {
    pub chat_id: String,
    pub trigger: Trigger,
    /// The `messageId` of a regeneration (which answer).
    pub message_id: Option<String>,
    /// The request's metadata when it is an object (`language` is honoured), else `{}`.
    pub metadata: Value,
}

/// One client frame of `WebSocketChatTransport`.
#[derive(Debug)]
pub enum Frame {
    Send {
        request_id: String,
        headers: Map<String, Value>,
        request: ChatRequest,
    },
    Resume {
        request_id: String,
        headers: Map<String, Value>,
        chat_id: String,
        /// The last chunk the client has; `None` for all of the turn.
        last_sequence: Option<u64>,
    },
    Abort {
        request_id: String,
    },
}

impl Frame {
    /// The `requestId` every answer to the frame carries.
    pub fn request_id(&self) -> &str {
        match self {
            Frame::Send { request_id, .. }
            | Frame::Resume { request_id, .. }
            | Frame::Abort { request_id } => request_id,
        }
    }
}

/// A frame refused, with the `requestId` to answer (empty when it had no usable one).
#[derive(Debug)]
pub struct BadFrame {
    pub request_id: String,
    pub error: Error,
}

/// Reads one text frame.
pub fn parse_frame(text: &str) -> std::result::Result<Frame, BadFrame> {
    let bad = |request_id: &str, error: Error| BadFrame {
        request_id: request_id.to_string(),
        error,
    };
    let value: Value = serde_json::from_str(text)
        .map_err(|_| bad("", Error::invalid("a frame must be a JSON object")))?;
    let Value::Object(mut map) = value else {
        return Err(bad("", Error::invalid("a frame must be a JSON object")));
    };
    let request_id = match map.get("requestId") {
        Some(Value::String(id)) if id.chars().count() <= MAX_ID_CHARS => id.clone(),
        _ => {
            let why = format!("requestId must be a string of at most {MAX_ID_CHARS} characters");
            return Err(bad("", Error::Invalid(why)));
        }
    };
    let kind = match map.get("type") {
        Some(Value::String(kind)) => kind.clone(),
        _ => return Err(bad(&request_id, Error::invalid("type must be a string"))),
    };
    if kind == "abort" {
        return Ok(Frame::Abort { request_id });
    }
    let checked = (|| {
        let chat_id = chat_id(map.get("id"))?;
        let headers = match map.remove("headers") {
            Some(Value::Object(h)) if h.values().all(Value::is_string) => h,
            _ => return Err(Error::invalid("headers must be an object of strings")),
        };
        if !matches!(map.get("body"), Some(Value::Object(_))) {
            return Err(Error::invalid("body must be an object"));
        }
        match kind.as_str() {
            "resume" => Ok(Frame::Resume {
                request_id: request_id.clone(),
                headers,
                chat_id,
                last_sequence: last_sequence(map.get("lastSequence"))?,
            }),
            "send" => Ok(Frame::Send {
                request_id: request_id.clone(),
                headers,
                request: chat_request(chat_id, &map, map.get("metadata"))?,
            }),
            other => Err(Error::Invalid(format!(
                "unknown frame type {other:?}: expected send, resume or abort"
            ))),
        }
    })();
    checked.map_err(|error| bad(&request_id, error))
}

/// Reads the body `DefaultChatTransport` posts: `id`, `messages`, `trigger`, `messageId`, and
/// the app's own fields (of which `metadata` is read).
pub fn parse_body(body: &Value) -> Result<ChatRequest> {
    let Value::Object(map) = body else {
        return Err(Error::invalid("the request body must be a JSON object"));
    };
    chat_request(chat_id(map.get("id"))?, map, map.get("metadata"))
}

/// The bearer token of a frame's `headers` (`Authorization`, any case), if it has one.
pub fn frame_token(headers: &Map<String, Value>) -> Option<&str> {
    let value = headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("authorization"))?
        .1
        .as_str()?;
    let (scheme, token) = value.trim().split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

fn chat_id(value: Option<&Value>) -> Result<String> {
    match value {
        Some(Value::String(id))
            if !id.is_empty()
                && id.chars().count() <= MAX_ID_CHARS
                && !id.chars().any(char::is_control) =>
        {
            Ok(id.clone())
        }
        _ => Err(Error::Invalid(format!(
            "id (the chat) must be a string of 1 to {MAX_ID_CHARS} characters, without control \
             characters"
        ))),
    }
}

/// `lastSequence`: absent, or a safe integer from 0 (JavaScript's `Number.isSafeInteger`).
fn last_sequence(value: Option<&Value>) -> Result<Option<u64>> {
    const SAFE: u64 = (1 << 53) - 1;
    let Some(value) = value else {
        return Ok(None);
    };
    let n = value.as_u64().or_else(|| {
        value
            .as_f64()
            .filter(|f| f.fract() == 0.0 && *f >= 0.0 && *f <= SAFE as f64)
            .map(|f| f as u64)
    });
    match n {
        Some(n) if n <= SAFE => Ok(Some(n)),
        _ => Err(Error::invalid(
            "lastSequence must be left out or be a whole number from 0",
        )),
    }
}

fn chat_request(
    chat_id: String,
    map: &Map<String, Value>,
    metadata: Option<&Value>,
) -> Result<ChatRequest> {
    let message_id = match map.get("messageId") {
        None => None,
        Some(Value::String(id)) => Some(id.clone()),
        Some(_) => return Err(Error::invalid("messageId must be a string when given")),
    };
    let messages = map
        .get("messages")
        .ok_or_else(|| Error::invalid("messages must be given"))?;
    let newest = check_messages(messages)?;
    let trigger = match map.get("trigger").and_then(Value::as_str) {
        Some("submit-message") => {
            if message_id.is_some() {
                return Err(Error::invalid(
                    "editing an earlier message is not supported: send a new message",
                ));
            }
            Trigger::Submit {
                content: user_text(newest)?,
            }
        }
        Some("regenerate-message") => Trigger::Regenerate,
        _ => {
            return Err(Error::invalid(
                "trigger must be submit-message or regenerate-message",
            ))
        }
    };
    let metadata = match metadata {
        Some(Value::Object(m)) => Value::Object(m.clone()),
        _ => Value::Object(Map::new()),
    };
    Ok(ChatRequest {
        chat_id,
        trigger,
        message_id,
        metadata,
    })
}

#[cfg(test)]
mod tests;
