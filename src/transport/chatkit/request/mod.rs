//! Parsing a ChatKit request: the `{type, params, metadata?}` envelope and each type's params.
//!
//! Lenient as the reference is, and a little more: the content type is ignored, unknown keys
//! are ignored, and `null` reads as "absent" everywhere (so `"order": null` means the default).
//! Anything else malformed is a 400 naming the problem, before any response type is chosen.
//!
//! This module holds the request types and the envelope; each type's `params` are read in
//! `params`.

mod params;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::{Error, Result};
use crate::model::Order;
pub use params::params_schemas;

/// Keys whose values are the client's own data and are relayed as they are.
const OPAQUE_KEYS: &[&str] = &["result", "payload", "data", "answers"];

/// One content part of a user message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "type")]
pub enum InputPart {
    #[serde(rename = "input_text")]
    Text { text: String },
    #[serde(rename = "input_tag")]
    Tag {
        id: String,
        text: String,
        #[serde(default = "empty_object")]
        data: Value,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        group: Option<String>,
        #[serde(default)]
        interactive: bool,
    },
}

fn empty_object() -> Value {
    Value::Object(Default::default())
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ToolChoice {
    pub id: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct InferenceOptions {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_choice: Option<ToolChoice>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
}

/// `UserMessageInput`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
pub struct UserInput {
    pub content: Vec<InputPart>,
    #[serde(default)]
    pub attachments: Vec<String>,
    #[serde(default)]
    pub quoted_text: Option<String>,
    #[serde(default)]
    pub inference_options: InferenceOptions,
}

impl UserInput {
    /// The message text the agent reads: the text parts and tag labels, in order.
    pub fn text(&self) -> String {
        self.content
            .iter()
            .map(|p| match p {
                InputPart::Text { text } => text.as_str(),
                InputPart::Tag { text, .. } => text.as_str(),
            })
            .collect()
    }
}

/// A widget action: `{type, payload?}` (other keys the client sends are ignored).
#[derive(Debug, Clone, Deserialize, JsonSchema)]
pub struct Action {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub payload: Option<Value>,
}

/// Every ChatKit request type, with its params.
#[derive(Debug, Clone)]
pub enum Request {
    CreateThread {
        input: UserInput,
    },
    AddUserMessage {
        thread_id: String,
        input: UserInput,
    },
    AddClientToolOutput {
        thread_id: String,
    },
    AddStructuredInput {
        thread_id: String,
        item_id: String,
    },
    RetryAfterItem {
        thread_id: String,
        item_id: String,
    },
    CustomAction {
        thread_id: String,
        item_id: Option<String>,
        action: Action,
    },
    SyncCustomAction {
        thread_id: String,
        item_id: Option<String>,
        action: Action,
    },
    GetThread {
        thread_id: String,
    },
    ListThreads {
        limit: Option<u32>,
        order: Order,
        after: Option<String>,
    },
    UpdateThread {
        thread_id: String,
        title: String,
    },
    DeleteThread {
        thread_id: String,
    },
    ListItems {
        thread_id: String,
        limit: Option<u32>,
        order: Order,
        after: Option<String>,
    },
    Feedback {
        thread_id: String,
        item_ids: Vec<String>,
        kind: String,
    },
    CreateAttachment {
        name: String,
        size: i64,
        mime_type: String,
    },
    DeleteAttachment {
        attachment_id: String,
    },
    Transcribe {
        audio_base64: String,
        mime_type: String,
    },
}

impl Request {
    /// Whether this request type answers with an event stream.
    pub fn is_streaming(&self) -> bool {
        matches!(
            self,
            Request::CreateThread { .. }
                | Request::AddUserMessage { .. }
                | Request::AddClientToolOutput { .. }
                | Request::AddStructuredInput { .. }
                | Request::RetryAfterItem { .. }
                | Request::CustomAction { .. }
        )
    }
}

/// Parses a request envelope. 400 for anything that is not a known, well-formed request.
pub fn parse(body: Value) -> Result<Request> {
    let (kind, params) = envelope(body)?;
    params::decode(&kind, params)
}

/// The envelope's `type` and its `params` (an object, its nulls stripped); `metadata`, when
/// present, must be an object or null.
fn envelope(body: Value) -> Result<(String, Value)> {
    let Value::Object(mut envelope) = body else {
        return Err(Error::invalid("request body must be a JSON object"));
    };
    let kind = match envelope.remove("type") {
        Some(Value::String(s)) => s,
        Some(_) => return Err(Error::invalid("`type` must be a string")),
        None => return Err(Error::invalid("missing `type`")),
    };
    let mut p = match envelope.remove("params") {
        Some(p @ Value::Object(_)) => p,
        Some(Value::Null) | None => {
            return Err(Error::Invalid(format!("{kind}: missing `params`")))
        }
        Some(_) => {
            return Err(Error::Invalid(format!(
                "{kind}: `params` must be an object"
            )))
        }
    };
    if let Some(m) = envelope.get("metadata") {
        if !(m.is_object() || m.is_null()) {
            return Err(Error::invalid("`metadata` must be an object"));
        }
    }
    strip_nulls(&mut p);
    Ok((kind, p))
}

/// Removes `null` members of objects, recursively, except inside the client's opaque data.
fn strip_nulls(v: &mut Value) {
    match v {
        Value::Object(map) => {
            map.retain(|_, v| !v.is_null());
            for (k, v) in map.iter_mut() {
                if !OPAQUE_KEYS.contains(&k.as_str()) {
                    strip_nulls(v);
                }
            }
        }
        Value::Array(list) => list.iter_mut().for_each(strip_nulls),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use schemars::SchemaGenerator;
    use serde_json::json;

    #[test]
    fn envelope_errors_are_invalid() {
        for body in [
            json!([]),
            json!({"params": {}}),
            json!({"type": 3, "params": {}}),
            json!({"type": "threads.list"}),
            json!({"type": "threads.list", "params": []}),
            json!({"type": "threads.nope", "params": {}}),
            json!({"type": "threads.get_by_id", "params": {}}),
            json!({"type": "items.list", "params": {"thread_id": "t", "order": "sideways"}}),
        ] {
            assert!(
                matches!(parse(body.clone()), Err(Error::Invalid(_))),
                "{body}"
            );
        }
    }

    #[test]
    fn the_documented_types_are_the_known_ones() {
        let mut generator = SchemaGenerator::default();
        let documented = params_schemas(&mut generator);
        assert_eq!(documented.len(), 16, "the sixteen request types");
        for (kind, _) in documented {
            // Empty params: each type fails on its params, none as an unknown type.
            let e = parse(json!({"type": kind, "params": {}}));
            if let Err(Error::Invalid(message)) = &e {
                assert!(
                    !message.contains("unknown request type"),
                    "{kind}: {message}"
                );
            }
        }
    }

    #[test]
    fn nulls_read_as_absent_and_unknown_keys_are_ignored() {
        let r = parse(json!({"type": "threads.list", "metadata": {"x": 1},
            "params": {"limit": null, "order": null, "after": null, "extra": 1}}))
        .unwrap();
        assert!(matches!(
            r,
            Request::ListThreads {
                limit: None,
                order: Order::Desc,
                after: None
            }
        ));
        let r = parse(json!({"type": "threads.create", "params": {"input": {
            "content": [{"type": "input_tag", "id": "t", "text": "T"}],
            "quoted_text": null, "inference_options": {"model": null}}}}))
        .unwrap();
        let Request::CreateThread { input } = r else {
            panic!()
        };
        assert_eq!(
            serde_json::to_value(&input.content).unwrap(),
            json!([{"type": "input_tag", "id": "t", "text": "T", "data": {}, "interactive": false}])
        );
        assert_eq!(input.inference_options, InferenceOptions::default());
        assert!(input.attachments.is_empty());
    }
}
