//! Client frames of the WebSocket protocol and the server frames that answer them directly.
//!
//! Parsing goes in two steps so each failure gets its own code: text that is not a JSON object
//! with a string `type` is `invalid_frame`; an unknown `type` is `unknown_type`; a known type
//! with fields of the wrong shape is `invalid_frame` naming the field, and so is a frame with a
//! NUL anywhere ([`nul`]). The `request_id` is read first, so even a rejected frame's error
//! echoes it.

use serde::Deserialize;
use serde_json::{json, Value};

use crate::chat::event::ThreadView;
use crate::chat::{OnBusy, ThreadPage};
use crate::error::ErrorBody;
use crate::model::{Page, ThreadId};
use crate::transport::nul;

/// A frame a client may send.
#[derive(Debug, Clone, PartialEq)]
pub enum ClientFrame {
    Auth {
        token: String,
        /// A position to resume from (first `auth` frame only).
        resume_after: Option<String>,
    },
    Resume {
        after: String,
    },
    Message {
        thread_id: Option<String>,
        content: String,
        metadata: Value,
        client_message_id: Option<String>,
        on_busy: OnBusy,
    },
    Cancel {
        thread_id: String,
        /// A queued message to take off the queue, rather than the running turn.
        message_id: Option<String>,
    },
    ThreadsList {
        limit: Option<u32>,
        after: Option<String>,
    },
    ThreadLoad {
        thread_id: String,
        limit: Option<u32>,
        after: Option<String>,
    },
    Ping,
}

/// Why a frame was refused, with the `request_id` it carried (if any could be read).
#[derive(Debug, Clone, PartialEq)]
pub struct FrameError {
    pub request_id: Option<String>,
    pub error: ErrorBody,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AuthFields {
    token: String,
    #[serde(default)]
    resume_after: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ResumeFields {
    after: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MessageFields {
    #[serde(default)]
    thread_id: Option<String>,
    content: String,
    #[serde(default)]
    metadata: Option<Value>,
    #[serde(default)]
    client_message_id: Option<String>,
    #[serde(default)]
    on_busy: OnBusy,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CancelFields {
    thread_id: String,
    #[serde(default)]
    message_id: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ListFields {
    #[serde(default)]
    limit: Option<u32>,
    #[serde(default)]
    after: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LoadFields {
    thread_id: String,
    #[serde(default)]
    limit: Option<u32>,
    #[serde(default)]
    after: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Empty {}

/// Parses one text frame into the frame and its `request_id`.
pub fn parse(text: &str) -> Result<(ClientFrame, Option<String>), FrameError> {
    let invalid = |request_id: Option<String>, message: String| FrameError {
        request_id,
        error: ErrorBody {
            code: "invalid_frame".into(),
            message,
        },
    };
    let Ok(Value::Object(mut map)) = serde_json::from_str::<Value>(text) else {
        return Err(invalid(None, "a frame must be a JSON object".into()));
    };
    let request_id = match map.remove("request_id") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if s.len() <= 128 => Some(s),
        Some(Value::Number(n)) => Some(n.to_string()),
        Some(_) => {
            return Err(invalid(
                None,
                "request_id must be a string of at most 128 characters".into(),
            ))
        }
    };
    if nul::in_json(text.as_bytes()) {
        return Err(invalid(request_id, nul::refused("a frame").to_string()));
    }
    let kind = match map.remove("type") {
        Some(Value::String(s)) => s,
        _ => {
            return Err(invalid(
                request_id,
                "a frame needs a string \"type\"".into(),
            ))
        }
    };
    let fields = Value::Object(map);
    fn de<T: serde::de::DeserializeOwned>(v: Value) -> Result<T, String> {
        serde_json::from_value(v).map_err(|e| e.to_string())
    }
    let frame = match kind.as_str() {
        "auth" => de::<AuthFields>(fields).map(|f| ClientFrame::Auth {
            token: f.token,
            resume_after: f.resume_after,
        }),
        "resume" => de::<ResumeFields>(fields).map(|f| ClientFrame::Resume { after: f.after }),
        "message" => de::<MessageFields>(fields).map(|f| ClientFrame::Message {
            thread_id: f.thread_id,
            content: f.content,
            metadata: f.metadata.unwrap_or(Value::Null),
            client_message_id: f.client_message_id,
            on_busy: f.on_busy,
        }),
        "cancel" => de::<CancelFields>(fields).map(|f| ClientFrame::Cancel {
            thread_id: f.thread_id,
            message_id: f.message_id,
        }),
        "threads.list" => de::<ListFields>(fields).map(|f| ClientFrame::ThreadsList {
            limit: f.limit,
            after: f.after,
        }),
        "thread.load" => de::<LoadFields>(fields).map(|f| ClientFrame::ThreadLoad {
            thread_id: f.thread_id,
            limit: f.limit,
            after: f.after,
        }),
        "ping" => de::<Empty>(fields).map(|_| ClientFrame::Ping),
        other => {
            let shown: String = other.chars().take(40).collect();
            return Err(FrameError {
                request_id,
                error: ErrorBody {
                    code: "unknown_type".into(),
                    message: format!("unknown frame type {shown:?}"),
                },
            });
        }
    };
    frame
        .map(|f| (f, request_id.clone()))
        .map_err(|m| invalid(request_id, format!("{kind}: {m}")))
}

/// Adds `request_id` to a server frame when the client gave one.
fn with_request_id(mut v: Value, request_id: &Option<String>) -> String {
    if let (Some(id), Value::Object(map)) = (request_id, &mut v) {
        map.insert("request_id".into(), json!(id));
    }
    v.to_string()
}

pub fn ready(user_id: &str, connection_id: &str, expires_at: u64, pos: &str) -> String {
    json!({"type": "ready", "user_id": user_id, "connection_id": connection_id,
           "expires_at": expires_at, "pos": pos})
    .to_string()
}

/// The answer to a resume: whether the events that follow are exactly what was missed.
pub fn resumed(recovered: bool, replayed: usize, request_id: &Option<String>) -> String {
    with_request_id(
        json!({"type": "resumed", "recovered": recovered, "replayed": replayed}),
        request_id,
    )
}

pub fn auth_refreshed(expires_at: u64, request_id: &Option<String>) -> String {
    with_request_id(
        json!({"type": "auth.refreshed", "expires_at": expires_at}),
        request_id,
    )
}

pub fn pong(request_id: &Option<String>) -> String {
    with_request_id(json!({"type": "pong"}), request_id)
}

pub fn threads(page: &Page<ThreadView>, request_id: &Option<String>) -> String {
    with_request_id(
        json!({"type": "threads", "data": page.data, "has_more": page.has_more, "after": page.after}),
        request_id,
    )
}

pub fn thread(page: &ThreadPage, request_id: &Option<String>) -> String {
    with_request_id(
        json!({
            "type": "thread",
            "thread": page.thread,
            "messages": page.messages,
            "has_more": page.has_more,
            "after": page.after,
            "running": page.running,
            "queued": page.queued,
        }),
        request_id,
    )
}

pub fn error(
    error: &ErrorBody,
    thread_id: Option<ThreadId>,
    request_id: &Option<String>,
) -> String {
    let mut v = json!({"type": "error", "code": error.code, "message": error.message});
    if let Some(t) = thread_id {
        v["thread_id"] = json!(t);
    }
    with_request_id(v, request_id)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(text: &str) -> String {
        parse(text).unwrap_err().error.code
    }

    #[test]
    fn parses_every_frame_type() {
        let (f, rid) = parse(r#"{"type":"message","content":"hi","request_id":"r1"}"#).unwrap();
        assert_eq!(rid.as_deref(), Some("r1"));
        assert_eq!(
            f,
            ClientFrame::Message {
                thread_id: None,
                content: "hi".into(),
                metadata: Value::Null,
                client_message_id: None,
                on_busy: OnBusy::Reject,
            }
        );
        let (f, _) =
            parse(r#"{"type":"message","content":"hi","client_message_id":"c-1"}"#).unwrap();
        assert!(matches!(
            f,
            ClientFrame::Message { client_message_id: Some(id), .. } if id == "c-1"
        ));
        assert!(matches!(
            parse(r#"{"type":"auth","token":"t"}"#).unwrap().0,
            ClientFrame::Auth { .. }
        ));
        assert!(matches!(
            parse(r#"{"type":"cancel","thread_id":"x"}"#).unwrap().0,
            ClientFrame::Cancel { .. }
        ));
        assert!(matches!(
            parse(r#"{"type":"threads.list","limit":5}"#).unwrap().0,
            ClientFrame::ThreadsList { limit: Some(5), .. }
        ));
        assert!(matches!(
            parse(r#"{"type":"thread.load","thread_id":"x","after":"3"}"#)
                .unwrap()
                .0,
            ClientFrame::ThreadLoad { .. }
        ));
        assert_eq!(parse(r#"{"type":"ping"}"#).unwrap().0, ClientFrame::Ping);
        assert!(matches!(
            parse(r#"{"type":"message","content":"hi","on_busy":"interrupt"}"#)
                .unwrap()
                .0,
            ClientFrame::Message {
                on_busy: OnBusy::Interrupt,
                ..
            }
        ));
        assert_eq!(
            parse(r#"{"type":"resume","after":"1.a"}"#).unwrap().0,
            ClientFrame::Resume {
                after: "1.a".into()
            }
        );
        assert_eq!(
            parse(r#"{"type":"auth","token":"t","resume_after":"1.a"}"#)
                .unwrap()
                .0,
            ClientFrame::Auth {
                token: "t".into(),
                resume_after: Some("1.a".into())
            }
        );
    }

    #[test]
    fn refuses_bad_frames_with_distinct_codes() {
        assert_eq!(code("not json"), "invalid_frame");
        assert_eq!(code("[1,2]"), "invalid_frame");
        assert_eq!(code(r#"{"content":"hi"}"#), "invalid_frame");
        assert_eq!(code(r#"{"type":5}"#), "invalid_frame");
        assert_eq!(code(r#"{"type":"dance"}"#), "unknown_type");
        assert_eq!(code(r#"{"type":"message"}"#), "invalid_frame");
        assert_eq!(code(r#"{"type":"message","content":5}"#), "invalid_frame");
        assert_eq!(
            code(r#"{"type":"message","content":"hi","client_message_id":7}"#),
            "invalid_frame"
        );
        assert_eq!(
            code(r#"{"type":"threads.list","limit":"ten"}"#),
            "invalid_frame"
        );
        assert_eq!(code(r#"{"type":"ping","extra":1}"#), "invalid_frame");
        assert_eq!(code(r#"{"type":"resume"}"#), "invalid_frame");
        assert_eq!(
            code(r#"{"type":"message","content":"hi","on_busy":"later"}"#),
            "invalid_frame"
        );
        assert_eq!(code(r#"{"type":"resume","after":7}"#), "invalid_frame");
        assert_eq!(code(r#"{"type":"ping","request_id":{}}"#), "invalid_frame");
        assert_eq!(
            code(r#"{"type":"message","content":"a\u0000"}"#),
            "invalid_frame"
        );
        assert_eq!(code(r#"{"type":"dance","x\u0000":1}"#), "invalid_frame");
    }

    #[test]
    fn errors_keep_the_request_id() {
        let e = parse(r#"{"type":"dance","request_id":"r9"}"#).unwrap_err();
        assert_eq!(e.request_id.as_deref(), Some("r9"));
        let e = parse(r#"{"type":"message","request_id":"r8"}"#).unwrap_err();
        assert_eq!(e.request_id.as_deref(), Some("r8"));
        let e = parse(r#"{"type":"message","content":"\u0000","request_id":"r7"}"#).unwrap_err();
        assert_eq!(e.request_id.as_deref(), Some("r7"));
        assert!(e.error.message.contains("NUL"), "{}", e.error.message);
    }
}
