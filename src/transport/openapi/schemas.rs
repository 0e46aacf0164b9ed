//! Schemas of the types that do not derive one: the chat core's wire types (which stay free of
//! documentation concerns; tests below hold these to the types' serde forms), ChatKit's
//! request envelope and attachment, and MCP's JSON-RPC message.

use std::borrow::Cow;

use chrono::{DateTime, Utc};
use schemars::{json_schema, JsonSchema, Schema, SchemaGenerator};
use serde_json::{json, Value};

use crate::chat::event::ThreadView;
use crate::chat::OnBusy;
use crate::model::ThreadId;
use crate::transport::chatkit::request;

/// [`ThreadView`]'s fields, for its schema.
#[derive(JsonSchema)]
#[allow(dead_code)]
struct ThreadViewFields {
    id: ThreadId,
    title: Option<String>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    /// The client's own data, as sent with the conversation's first message.
    metadata: Value,
}

impl JsonSchema for ThreadView {
    fn schema_name() -> Cow<'static, str> {
        "ThreadView".into()
    }

    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        let mut schema = ThreadViewFields::json_schema(generator);
        schema.insert("description".into(), json!("A conversation's summary."));
        schema
    }
}

/// The `on_busy` values, as [`OnBusy`] reads them.
pub const ON_BUSY: [&str; 3] = ["reject", "enqueue", "interrupt"];

impl JsonSchema for OnBusy {
    fn schema_name() -> Cow<'static, str> {
        "OnBusy".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "What a send to a conversation that is answering another message \
                            does: `reject` it (409 `thread_busy`, the default), `enqueue` it \
                            behind the running turn, or `interrupt` the running turn.",
            "type": "string",
            "enum": ON_BUSY,
        })
    }
}

/// `{type, params, metadata?}`, one branch per ChatKit request type.
pub fn chatkit_request(generator: &mut SchemaGenerator) -> Value {
    let branches: Vec<Value> = request::params_schemas(generator)
        .into_iter()
        .map(|(kind, params)| {
            json!({
                "type": "object",
                "required": ["type", "params"],
                "properties": {
                    "type": {"const": kind},
                    "params": params,
                    "metadata": {"type": ["object", "null"]},
                },
            })
        })
        .collect();
    json!({"oneOf": branches})
}

/// A ChatKit `Attachment` as the attachment routes answer it.
pub fn chatkit_attachment() -> Value {
    json!({
        "type": "object",
        "required": ["id", "name", "mime_type", "type"],
        "properties": {
            "id": {"type": "string"},
            "name": {"type": "string"},
            "mime_type": {"type": "string"},
            "type": {"enum": ["image", "file"]},
            "preview_url": {"type": "string", "description": "Images only: a view link."},
            "upload_descriptor": {
                "description": "Until the bytes are uploaded: where to send them.",
                "type": "object",
                "required": ["url", "method", "headers"],
                "properties": {
                    "url": {"type": "string"},
                    "method": {"const": "POST"},
                    "headers": {"type": "object"},
                },
            },
            "thread_id": {"type": "string", "description": "Once a message uses it."},
        },
    })
}

/// One JSON-RPC 2.0 message (MCP's requests, notifications and responses).
pub fn json_rpc_message() -> Value {
    json!({
        "type": "object",
        "required": ["jsonrpc"],
        "properties": {
            "jsonrpc": {"const": "2.0"},
            "id": {"type": ["string", "integer"]},
            "method": {"type": "string"},
            "params": {"type": "object"},
            "result": {},
            "error": json_rpc_error()["properties"]["error"].clone(),
        },
    })
}

/// MCP's `initialize` request, which opens a session.
pub fn mcp_initialize() -> Value {
    json!({
        "type": "object",
        "required": ["jsonrpc", "id", "method", "params"],
        "properties": {
            "jsonrpc": {"const": "2.0"},
            "id": {"type": "integer"},
            "method": {"const": "initialize"},
            "params": {
                "type": "object",
                "required": ["protocolVersion", "capabilities", "clientInfo"],
                "properties": {
                    "protocolVersion": {"enum": ["2025-06-18", "2025-03-26", "2024-11-05"]},
                    "capabilities": {"type": "object"},
                    "clientInfo": {
                        "type": "object",
                        "required": ["name", "version"],
                        "properties": {
                            "name": {"type": "string"},
                            "version": {"type": "string"},
                        },
                    },
                },
            },
        },
    })
}

/// A JSON-RPC error answer, as `/api/mcp` sends for a body that is not one good message.
pub fn json_rpc_error() -> Value {
    json!({
        "type": "object",
        "required": ["jsonrpc", "id", "error"],
        "properties": {
            "jsonrpc": {"const": "2.0"},
            "id": {"type": ["string", "integer", "null"]},
            "error": {
                "type": "object",
                "required": ["code", "message"],
                "properties": {
                    "code": {"type": "integer"},
                    "message": {"type": "string"},
                    "data": {},
                },
            },
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ThreadId;

    #[test]
    fn thread_view_schema_names_exactly_its_fields() {
        let view = ThreadView {
            id: ThreadId::new(),
            title: None,
            created_at: Utc::now(),
            updated_at: Utc::now(),
            metadata: json!({}),
        };
        let written = serde_json::to_value(&view).unwrap();
        let mut generator = SchemaGenerator::default();
        let schema = ThreadView::json_schema(&mut generator).to_value();
        let mut documented: Vec<&String> =
            schema["properties"].as_object().unwrap().keys().collect();
        let mut fields: Vec<&String> = written.as_object().unwrap().keys().collect();
        documented.sort();
        fields.sort();
        assert_eq!(documented, fields);
    }

    #[test]
    fn on_busy_schema_lists_what_it_reads() {
        for value in ON_BUSY {
            serde_json::from_value::<OnBusy>(json!(value)).unwrap();
        }
        assert!(serde_json::from_value::<OnBusy>(json!("later")).is_err());
    }
}
