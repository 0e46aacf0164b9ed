//! The OpenAPI 3.1 document of every HTTP route, served at `GET /api/openapi.json`.
//!
//! The document is built from the code, not written beside it: bodies, answers and query
//! parameters are the JSON Schemas of the very types the handlers decode and encode (schemars,
//! from their serde attributes), the error answers are the codes and statuses of
//! [`Error`](crate::error::Error), and path parameters come from the route templates.
//! [`paths`] says, route by route, which of these each one takes and answers; a test holds
//! that table to the router, method by method, so a route cannot be added without it.
//! `tests/schemathesis/run.sh` fuzzes a live server against the document.

mod ai_sdk;
mod errors;
mod events;
mod paths;
mod schemas;

use axum::extract::State;
use axum::Json;
use schemars::generate::SchemaSettings;
use schemars::{JsonSchema, SchemaGenerator};
use serde_json::{json, Map, Value};

use crate::config::Config;
use crate::state::AppState;

/// `GET /api/openapi.json`: the document for this server's configuration (`/api/dev/token`
/// only where it is mounted). No authentication. Built per request: it takes well under a
/// millisecond and keeps no state.
pub async fn serve(State(state): State<AppState>) -> Json<Value> {
    Json(document(&state.config))
}

/// The OpenAPI 3.1 document of the routes `crate::router` mounts for `config`.
pub fn document(config: &Config) -> Value {
    let mut spec = Spec::new();
    paths::describe(&mut spec, config);
    spec.finish()
}

/// The document being built: one generator per direction, since a type reads differently than
/// it writes (a `#[serde(default)]` field is optional in a body; a field the server always
/// writes is required in an answer).
pub(crate) struct Spec {
    input: SchemaGenerator,
    output: SchemaGenerator,
    paths: Map<String, Value>,
    statuses: std::collections::BTreeSet<u16>,
}

impl Spec {
    fn new() -> Self {
        let settings = |s: SchemaSettings| {
            s.with(|s| {
                s.definitions_path = "/components/schemas".into();
                s.meta_schema = None;
            })
        };
        Spec {
            input: settings(SchemaSettings::draft2020_12().for_deserialize()).into_generator(),
            output: settings(SchemaSettings::draft2020_12().for_serialize()).into_generator(),
            paths: Map::new(),
            statuses: Default::default(),
        }
    }

    /// The schema of `T` as a handler reads it (a `$ref` for a named type).
    pub fn input<T: JsonSchema>(&mut self) -> Value {
        self.input.subschema_for::<T>().to_value()
    }

    /// The schema of `T` as a handler writes it.
    pub fn output<T: JsonSchema>(&mut self) -> Value {
        self.output.subschema_for::<T>().to_value()
    }

    /// The generator of request schemas, for types that describe themselves in parts.
    pub fn input_generator(&mut self) -> &mut SchemaGenerator {
        &mut self.input
    }

    /// The generator of answer schemas.
    pub fn output_generator(&mut self) -> &mut SchemaGenerator {
        &mut self.output
    }

    /// The query parameters of a handler's query struct `T`: one per field, required when the
    /// field is. A query string holds no `null`, so that type is dropped.
    pub fn query<T: JsonSchema>(&mut self) -> Vec<Value> {
        let schema = T::json_schema(&mut self.input).to_value();
        let required: Vec<&str> = schema["required"]
            .as_array()
            .map(|r| r.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        let Some(properties) = schema["properties"].as_object() else {
            return Vec::new();
        };
        properties
            .iter()
            .map(|(name, property)| {
                let mut property = property.clone();
                let description = property
                    .as_object_mut()
                    .and_then(|p| p.remove("description"));
                if let Some(types) = property["type"].as_array() {
                    let types: Vec<Value> =
                        types.iter().filter(|t| *t != "null").cloned().collect();
                    property["type"] = match types.as_slice() {
                        [one] => one.clone(),
                        _ => Value::Array(types),
                    };
                }
                let mut parameter = json!({
                    "name": name,
                    "in": "query",
                    "required": required.contains(&name.as_str()),
                    "schema": property,
                });
                if let Some(d) = description {
                    parameter["description"] = d;
                }
                parameter
            })
            .collect()
    }

    /// Adds one operation (see [`Op`]).
    pub fn add(&mut self, op: Op) {
        self.statuses.extend(op.errors.iter().copied());
        let mut operation = op.operation;
        let mut responses = operation["responses"].take();
        for status in &op.errors {
            responses[status.to_string()] =
                json!({"$ref": format!("#/components/responses/Error{status}")});
        }
        operation["responses"] = responses;
        // A path parameter the operation describes itself replaces the plain string one.
        let described = |p: &Value| op.parameters.iter().any(|q| q["name"] == p["name"]);
        let parameters = path_parameters(op.path)
            .into_iter()
            .filter(|p| !described(p))
            .chain(op.parameters.iter().cloned())
            .collect::<Vec<_>>();
        if !parameters.is_empty() {
            operation["parameters"] = Value::Array(parameters);
        }
        let item = self
            .paths
            .entry(op.path.to_string())
            .or_insert_with(|| json!({}));
        assert!(
            item.get(op.method).is_none(),
            "{} {} described twice",
            op.method,
            op.path
        );
        item[op.method] = operation;
    }

    fn finish(mut self) -> Value {
        // Registers `Error` (the envelope every error answer refers to) with its parts.
        self.output.subschema_for::<Envelope<'static>>();
        let mut schemas = self.input.take_definitions(true);
        for (name, schema) in self.output.take_definitions(true) {
            match schemas.get(&name) {
                Some(read) if *read != schema => {
                    panic!("{name} reads and writes differently; give one side its own type")
                }
                _ => {
                    schemas.insert(name, schema);
                }
            }
        }
        let mut responses = Map::new();
        for status in &self.statuses {
            responses.insert(format!("Error{status}"), errors::response(*status));
        }
        json!({
            "openapi": "3.1.0",
            "info": {
                "title": "agentwire",
                "version": env!("CARGO_PKG_VERSION"),
                "description": INFO,
            },
            "paths": self.paths,
            "components": {
                "schemas": schemas,
                "responses": responses,
                "securitySchemes": {
                    "bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT",
                        "description": "An HS256 JWT whose `sub` (or `user_id`) is the user; \
                                        `exp` required."},
                    "link": {"type": "apiKey", "in": "query", "name": "sig",
                        "description": "The signature of an attachment link: a `preview_url` \
                                        (view) or an `upload_descriptor` URL (upload)."},
                },
            },
        })
    }
}

use crate::error::Envelope;

const INFO: &str = "A WebSocket-first realtime chat server for AI assistants that act on a user's \
    data. The WebSocket protocol (`GET /api/ws`) is in docs/protocol.md, ChatKit's in \
    docs/chatkit.md. Every HTTP error is `{\"error\": {\"code\", \"message\"}}` (JSON-RPC's own \
    shape for a message `/api/mcp` refuses). Any route may also answer 408 `request_timeout` \
    (a request that came too slowly) or 503 `too_many_connections` before it is routed.";

/// `get_api_user_id_tasks` for `GET /api/{user_id}/tasks`: unique, as each route has each
/// method once.
fn operation_id(method: &str, path: &str) -> String {
    let words = path
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty());
    std::iter::once(method)
        .chain(words)
        .collect::<Vec<_>>()
        .join("_")
}

/// `{name}` segments of a route template, as required string parameters.
fn path_parameters(path: &str) -> Vec<Value> {
    path.split('{')
        .skip(1)
        .filter_map(|rest| rest.split_once('}'))
        .map(|(name, _)| {
            json!({"name": name, "in": "path", "required": true, "schema": {"type": "string"}})
        })
        .collect()
}

/// One operation: a method on a route, what it takes and what it answers. Errors are listed by
/// status only; their bodies and codes come from [`errors`].
pub(crate) struct Op {
    method: &'static str,
    path: &'static str,
    operation: Value,
    parameters: Vec<Value>,
    errors: Vec<u16>,
}

impl Op {
    pub fn new(method: &'static str, path: &'static str, summary: &str) -> Self {
        Op {
            method,
            path,
            operation: json!({
                "operationId": operation_id(method, path),
                "summary": summary,
                "responses": {},
                "security": [],
            }),
            parameters: Vec::new(),
            errors: Vec::new(),
        }
    }

    pub fn describe(mut self, text: &str) -> Self {
        self.operation["description"] = json!(text);
        self
    }

    /// A bearer token is required.
    pub fn bearer(self) -> Self {
        self.security(json!([{"bearer": []}]))
    }

    pub fn security(mut self, requirements: Value) -> Self {
        self.operation["security"] = requirements;
        self
    }

    pub fn parameters(mut self, parameters: Vec<Value>) -> Self {
        self.parameters.extend(parameters);
        self
    }

    /// A required JSON body with this schema.
    pub fn json_body(self, schema: Value) -> Self {
        self.body(json!({"application/json": {"schema": schema}}))
    }

    /// A required body with this `content` map.
    pub fn body(mut self, content: Value) -> Self {
        self.operation["requestBody"] = json!({"required": true, "content": content});
        self
    }

    /// A JSON answer with this schema.
    pub fn json(self, status: u16, description: &str, schema: Value) -> Self {
        self.answer(
            status,
            description,
            json!({"application/json": {"schema": schema}}),
        )
    }

    /// An answer with this `content` map (`null` for none).
    pub fn answer(mut self, status: u16, description: &str, content: Value) -> Self {
        let mut response = json!({"description": description});
        if !content.is_null() {
            response["content"] = content;
        }
        self.operation["responses"][status.to_string()] = response;
        self
    }

    /// An OpenAPI link from the `status` answer to the operation `method path`, which takes
    /// `parameters` (runtime expressions such as `$response.body#/id`) from it.
    pub fn link(mut self, status: u16, method: &str, path: &str, parameters: Value) -> Self {
        let id = operation_id(method, path);
        self.operation["responses"][status.to_string()]["links"][&id] =
            json!({"operationId": id, "parameters": parameters});
        self
    }

    /// Error answers in our shape, by status.
    pub fn errors(mut self, statuses: &[u16]) -> Self {
        self.errors.extend_from_slice(statuses);
        self
    }
}

#[cfg(test)]
mod tests;
