//! ChatKit requests (`request::parse`): any JSON is a request or a 400 `invalid_request`
//! (docs/chatkit.md, "Requests and errors"); every well-formed request of the sixteen types,
//! with `null`s, unknown keys and metadata sprinkled in, is decoded as its own type with its own
//! fields; and the checks a request meets next (ids, page sizes, attachment size and type) answer
//! a value or their documented error.

use agentwire::error::Error;
use agentwire::model::Order;
use agentwire::transport::chatkit::attachments::{check_mime, check_size, parse_attachment_id};
use agentwire::transport::chatkit::items::page_limit;
use agentwire::transport::chatkit::request::{parse, Request};
use agentwire::transport::parse_thread_id;
use proptest::prelude::*;
use proptest::strategy::BoxedStrategy;
use serde_json::{json, Value};

use super::{broken_json, config, json, number, object, object_with, optional, text};

const TYPES: &[&str] = &[
    "threads.create",
    "threads.add_user_message",
    "threads.add_client_tool_output",
    "threads.add_structured_input",
    "threads.retry_after_item",
    "threads.custom_action",
    "threads.sync_custom_action",
    "threads.get_by_id",
    "threads.list",
    "threads.update",
    "threads.delete",
    "items.list",
    "items.feedback",
    "attachments.create",
    "attachments.delete",
    "input.transcribe",
];

const PARAM_NAMES: &[&str] = &[
    "thread_id",
    "item_id",
    "input",
    "result",
    "action",
    "limit",
    "order",
    "after",
    "title",
    "item_ids",
    "kind",
    "name",
    "size",
    "mime_type",
    "attachment_id",
    "audio_base64",
];

fn s() -> BoxedStrategy<Value> {
    text(30).prop_map(Value::String).boxed()
}

/// A valid `UserMessageInput`: text and tag parts, attachments, quoted text, options.
fn input() -> BoxedStrategy<Value> {
    let part = prop_oneof![
        object(
            vec![("type", Just(json!("input_text")).boxed()), ("text", s())],
            vec![]
        ),
        object(
            vec![
                ("type", Just(json!("input_tag")).boxed()),
                ("id", s()),
                ("text", s())
            ],
            vec![
                ("data", json().boxed()),
                ("group", s()),
                ("interactive", any::<bool>().prop_map(Value::Bool).boxed()),
            ],
        ),
    ];
    let options = object(
        vec![],
        vec![
            ("tool_choice", object(vec![("id", s())], vec![])),
            ("model", s()),
        ],
    );
    object(
        vec![(
            "content",
            proptest::collection::vec(part, 0..4)
                .prop_map(Value::Array)
                .boxed(),
        )],
        vec![
            (
                "attachments",
                proptest::collection::vec(s(), 0..3)
                    .prop_map(Value::Array)
                    .boxed(),
            ),
            ("quoted_text", s()),
            ("inference_options", options),
        ],
    )
}

fn non_null() -> BoxedStrategy<Value> {
    // A mapping, not a filter: a million cases would exceed proptest's budget of rejections.
    json()
        .prop_map(|v| if v.is_null() { json!({}) } else { v })
        .boxed()
}

/// Valid params for the request type `kind`.
fn params(kind: &str) -> BoxedStrategy<Value> {
    let limit = || any::<u32>().prop_map(Value::from).boxed();
    let order = || {
        proptest::sample::select(&["asc", "desc"][..])
            .prop_map(Value::from)
            .boxed()
    };
    let action = || {
        object(
            vec![("type", s())],
            vec![("payload", json().boxed()), ("label", s())],
        )
    };
    match kind {
        "threads.create" => object(vec![("input", input())], vec![]),
        "threads.add_user_message" => object(vec![("thread_id", s()), ("input", input())], vec![]),
        "threads.add_client_tool_output" => {
            object(vec![("thread_id", s()), ("result", non_null())], vec![])
        }
        "threads.add_structured_input" => object(
            vec![("thread_id", s()), ("item_id", s()), ("input", non_null())],
            vec![],
        ),
        "threads.retry_after_item" => object(vec![("thread_id", s()), ("item_id", s())], vec![]),
        "threads.custom_action" | "threads.sync_custom_action" => object(
            vec![("thread_id", s()), ("action", action())],
            vec![("item_id", s())],
        ),
        "threads.list" => object(
            vec![],
            vec![("limit", limit()), ("order", order()), ("after", s())],
        ),
        "threads.update" => object(vec![("thread_id", s()), ("title", s())], vec![]),
        "items.list" => object(
            vec![("thread_id", s())],
            vec![("limit", limit()), ("order", order()), ("after", s())],
        ),
        "items.feedback" => object(
            vec![
                ("thread_id", s()),
                (
                    "item_ids",
                    proptest::collection::vec(s(), 0..3)
                        .prop_map(Value::Array)
                        .boxed(),
                ),
                ("kind", s()),
            ],
            vec![],
        ),
        "attachments.create" => object(
            vec![
                ("name", s()),
                ("size", any::<i64>().prop_map(Value::from).boxed()),
                ("mime_type", s()),
            ],
            vec![],
        ),
        "attachments.delete" => object(vec![("attachment_id", s())], vec![]),
        "input.transcribe" => object(vec![("audio_base64", s()), ("mime_type", s())], vec![]),
        // threads.get_by_id, threads.delete
        _ => object(vec![("thread_id", s())], vec![]),
    }
}

/// A valid request envelope: a type, its params with unknown keys added, maybe metadata.
fn valid_request() -> impl Strategy<Value = Value> {
    proptest::sample::select(TYPES).prop_flat_map(|kind| {
        let unknown = proptest::collection::vec(("x_[a-z]{1,6}", json()), 0..3);
        let metadata = optional(object_with(&["a", "b"]).prop_map(Value::Object).boxed());
        (params(kind), unknown, metadata).prop_map(move |(mut params, unknown, metadata)| {
            params.as_object_mut().unwrap().extend(unknown);
            let mut envelope = json!({"type": kind, "params": params});
            if let Some(m) = metadata {
                envelope["metadata"] = m;
            }
            envelope
        })
    })
}

/// A valid request with one member of its params or envelope replaced by anything, or removed.
fn near_request() -> impl Strategy<Value = Value> {
    (
        valid_request(),
        any::<prop::sample::Index>(),
        proptest::option::of(json()),
        any::<bool>(),
    )
        .prop_map(|(mut v, at, replacement, in_params)| {
            let target = match in_params {
                true => v["params"].as_object_mut().unwrap(),
                false => v.as_object_mut().unwrap(),
            };
            let keys: Vec<String> = target.keys().cloned().collect();
            if let Some(key) = keys.get(at.index(keys.len().max(1))) {
                match replacement {
                    Some(r) => target.insert(key.clone(), r),
                    None => target.remove(key),
                };
            }
            v
        })
}

/// The request type a decoded request is.
fn type_of(r: &Request) -> &'static str {
    match r {
        Request::CreateThread { .. } => "threads.create",
        Request::AddUserMessage { .. } => "threads.add_user_message",
        Request::AddClientToolOutput { .. } => "threads.add_client_tool_output",
        Request::AddStructuredInput { .. } => "threads.add_structured_input",
        Request::RetryAfterItem { .. } => "threads.retry_after_item",
        Request::CustomAction { .. } => "threads.custom_action",
        Request::SyncCustomAction { .. } => "threads.sync_custom_action",
        Request::GetThread { .. } => "threads.get_by_id",
        Request::ListThreads { .. } => "threads.list",
        Request::UpdateThread { .. } => "threads.update",
        Request::DeleteThread { .. } => "threads.delete",
        Request::ListItems { .. } => "items.list",
        Request::Feedback { .. } => "items.feedback",
        Request::CreateAttachment { .. } => "attachments.create",
        Request::DeleteAttachment { .. } => "attachments.delete",
        Request::Transcribe { .. } => "input.transcribe",
    }
}

/// The thread a decoded request names, if it names one.
fn thread_of(r: &Request) -> Option<&str> {
    match r {
        Request::AddUserMessage { thread_id, .. }
        | Request::AddClientToolOutput { thread_id }
        | Request::AddStructuredInput { thread_id, .. }
        | Request::RetryAfterItem { thread_id, .. }
        | Request::CustomAction { thread_id, .. }
        | Request::SyncCustomAction { thread_id, .. }
        | Request::GetThread { thread_id }
        | Request::UpdateThread { thread_id, .. }
        | Request::DeleteThread { thread_id }
        | Request::ListItems { thread_id, .. }
        | Request::Feedback { thread_id, .. } => Some(thread_id),
        _ => None,
    }
}

/// Runs the checks a decoded request meets before it reaches the core; each answers a value or
/// its documented error, never a panic.
fn check_next_steps(r: &Request) -> Result<(), TestCaseError> {
    let code = |e: Error| e.code().to_string();
    if let Some(id) = thread_of(r) {
        prop_assert!(parse_thread_id(id).map_err(code).is_ok_or("not_found"));
    }
    match r {
        Request::ListThreads { limit, .. } | Request::ListItems { limit, .. } => {
            prop_assert!((1..=100).contains(&page_limit(*limit)));
        }
        Request::CreateAttachment {
            size, mime_type, ..
        } => {
            let size = check_size(*size, 10 << 20).map_err(code);
            prop_assert!(size.is_ok_or("invalid_request") || size.is_ok_or("payload_too_large"));
            let mime = check_mime(mime_type).map_err(code);
            prop_assert!(mime.is_ok_or("unsupported_media_type"));
        }
        Request::DeleteAttachment { attachment_id } => {
            prop_assert!(parse_attachment_id(attachment_id)
                .map_err(code)
                .is_ok_or("not_found"));
        }
        Request::CreateThread { input } | Request::AddUserMessage { input, .. } => {
            let _ = input.text();
        }
        _ => {}
    }
    Ok(())
}

/// `Ok`, or an error with exactly this code.
trait OkOr {
    fn is_ok_or(&self, code: &str) -> bool;
}

impl<T> OkOr for Result<T, String> {
    fn is_ok_or(&self, code: &str) -> bool {
        self.as_ref().err().is_none_or(|c| c == code)
    }
}

/// Any JSON is a request or `invalid_request`.
fn check_any(v: Value) -> Result<(), TestCaseError> {
    match parse(v.clone()) {
        Ok(r) => check_next_steps(&r)?,
        Err(e) => prop_assert!(matches!(e, Error::Invalid(_)), "{:?} for {}", e, v),
    }
    Ok(())
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn property_chatkit_any_json_is_a_request_or_invalid_request(v in json()) {
        check_any(v)?;
    }

    #[test]
    fn property_chatkit_any_envelope_is_a_request_or_invalid_request(
        kind in prop_oneof![proptest::sample::select(TYPES).prop_map(Value::from), json()],
        params in prop_oneof![object_with(PARAM_NAMES).prop_map(Value::Object), json()],
        metadata in proptest::option::of(json()),
    ) {
        let mut v = json!({"type": kind, "params": params});
        if let Some(m) = metadata {
            v["metadata"] = m;
        }
        check_any(v)?;
    }

    #[test]
    fn property_chatkit_near_requests_are_a_request_or_invalid_request(v in near_request()) {
        check_any(v)?;
    }

    #[test]
    fn property_chatkit_broken_bodies_never_reach_the_parser(text in broken_json(valid_request())) {
        // The body is JSON-decoded first (`ApiJson`); whatever decodes goes to `parse`.
        if let Ok(v) = serde_json::from_str::<Value>(&text) {
            check_any(v)?;
        }
    }

    #[test]
    fn property_chatkit_valid_requests_decode_as_their_type(v in valid_request()) {
        let r = parse(v.clone()).map_err(|e| TestCaseError::fail(format!("{e} for {v}")))?;
        prop_assert_eq!(type_of(&r), v["type"].as_str().unwrap());
        let p = &v["params"];
        let given = |key: &str| p.get(key).and_then(Value::as_str).map(str::to_string);
        match &r {
            Request::ListThreads { limit, order, after }
            | Request::ListItems { limit, order, after, .. } => {
                prop_assert_eq!(*limit, p.get("limit").and_then(Value::as_u64).map(|n| n as u32));
                let asc = p.get("order").and_then(Value::as_str) == Some("asc");
                prop_assert_eq!(*order, if asc { Order::Asc } else { Order::Desc });
                prop_assert_eq!(after.clone(), given("after"));
            }
            Request::CreateThread { input } | Request::AddUserMessage { input, .. } => {
                let parts = p["input"]["content"].as_array().unwrap();
                let text: String = parts.iter().map(|part| part["text"].as_str().unwrap()).collect();
                prop_assert_eq!(input.text(), text);
            }
            Request::CustomAction { action, item_id, .. }
            | Request::SyncCustomAction { action, item_id, .. } => {
                prop_assert_eq!(Some(action.kind.clone()), p["action"]["type"].as_str().map(str::to_string));
                prop_assert_eq!(item_id.clone(), given("item_id"));
            }
            Request::CreateAttachment { size, .. } => prop_assert_eq!(Some(*size), p["size"].as_i64()),
            _ => {}
        }
        let thread = given("thread_id");
        prop_assert_eq!(thread_of(&r), thread.as_deref());
        check_next_steps(&r)?;
    }

    #[test]
    fn property_chatkit_numbers_of_every_edge_are_a_size_or_invalid_request(size in number()) {
        let v = json!({"type": "attachments.create",
                       "params": {"name": "a.png", "size": size, "mime_type": "image/png"}});
        match parse(v) {
            Ok(Request::CreateAttachment { size: got, .. }) => prop_assert_eq!(Some(got), size.as_i64()),
            Ok(other) => prop_assert!(false, "decoded as {:?}", other),
            Err(e) => prop_assert!(matches!(e, Error::Invalid(_)) && size.as_i64().is_none()),
        }
    }
}
