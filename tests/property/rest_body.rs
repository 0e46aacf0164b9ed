//! REST chat bodies (`POST /api/{user_id}/chat` and its stream twin): any bytes are a `ChatBody`
//! or a 400 `invalid_request` from `ApiJson` (exactly when serde refuses them or they hold a
//! NUL), every body decodes as a model of its fields says, and what it asks for is a turn request
//! or the documented error: `invalid_request` without a message, `not_found` for a conversation
//! id that is not a UUID. The content's next checks (length, title) never panic either.

use std::sync::OnceLock;

use agentwire::chat::{title_from, validate_content, OnBusy};
use agentwire::error::Error;
use agentwire::model::UserId;
use agentwire::transport::nul::in_json;
use agentwire::transport::rest::ChatBody;
use agentwire::transport::ApiJson;
use axum::body::{Body, Bytes};
use axum::extract::FromRequest;
use proptest::prelude::*;
use serde_json::{Map, Value};
use uuid::Uuid;

use super::{broken_json, config, has_nul, json, object_with, text};

const FIELDS: &[&str] = &[
    "message",
    "content",
    "conversation_id",
    "metadata",
    "client_message_id",
    "on_busy",
];

/// The one runtime the extractor's futures run on.
fn runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("a current-thread runtime")
    })
}

/// What `ApiJson` makes of a request body.
fn extract(body: Vec<u8>) -> Result<ChatBody, Error> {
    let request = axum::http::Request::post("/api/u/chat")
        .body(Body::from(Bytes::from(body)))
        .expect("a request");
    runtime()
        .block_on(ApiJson::<ChatBody>::from_request(request, &()))
        .map(|ApiJson(body)| body)
}

/// A conversation id of every kind: a UUID (plain, padded, upper-case, braced, URN), empty,
/// blank, or any text.
fn conversation_id() -> impl Strategy<Value = Value> {
    prop_oneof![
        any::<u128>().prop_map(|n| Value::from(Uuid::from_u128(n).to_string())),
        any::<u128>().prop_map(|n| Value::from(format!(" {} ", Uuid::from_u128(n)))),
        any::<u128>().prop_map(|n| Value::from(Uuid::from_u128(n).to_string().to_uppercase())),
        any::<u128>().prop_map(|n| Value::from(format!("{{{}}}", Uuid::from_u128(n)))),
        any::<u128>().prop_map(|n| Value::from(Uuid::from_u128(n).urn().to_string())),
        Just(Value::from("")),
        Just(Value::from(" \t")),
        text(40).prop_map(Value::String),
    ]
}

/// A body close to a real one: each field absent, valid or of a random type, and sometimes
/// `content` instead of `message`, both, or unknown members.
fn near_body() -> impl Strategy<Value = Map<String, Value>> {
    let string = || text(300).prop_map(Value::String).boxed();
    let field = |good: BoxedStrategy<Value>| prop_oneof![3 => Just(None), 6 => good.prop_map(Some), 1 => json().prop_map(Some)];
    let on_busy = proptest::sample::select(&["reject", "enqueue", "interrupt"][..])
        .prop_map(Value::from)
        .boxed();
    let values = (
        field(string()),
        field(conversation_id().boxed()),
        field(json().boxed()),
        field(text(70).prop_map(Value::String).boxed()),
        field(on_busy),
    );
    let name = proptest::sample::select(&["message", "content", "both"][..]);
    let extra = prop_oneof![4 => Just(Map::new()), 1 => object_with(FIELDS)];
    (values, name, field(string()), extra).prop_map(
        |((message, conversation, metadata, client_id, on_busy), name, other, mut map)| {
            let (message, content) = match name {
                "message" => (message, None),
                "content" => (None, message),
                _ => (message, other),
            };
            let values = [message, content, conversation, metadata, client_id, on_busy];
            for (name, value) in FIELDS.iter().zip(values) {
                match value {
                    Some(v) => map.insert(name.to_string(), v),
                    None => map.remove(*name),
                };
            }
            map
        },
    )
}

type Model = Result<
    (
        Option<String>,
        Option<String>,
        Value,
        Option<String>,
        OnBusy,
    ),
    (),
>;

/// What serde makes of a body: its fields, or a refusal. Like any struct serde derives, a body
/// may also be an array of the fields in order (`["hi"]` is `{"message": "hi"}`).
fn model(v: &Value) -> Model {
    let map = match v {
        Value::Object(map) => map.clone(),
        Value::Array(items) if items.len() <= 5 => {
            let names = [
                "message",
                "conversation_id",
                "metadata",
                "client_message_id",
                "on_busy",
            ];
            names
                .iter()
                .map(|n| n.to_string())
                .zip(items.iter().cloned())
                .collect()
        }
        _ => return Err(()),
    };
    let opt_str = |key: &str| match map.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(()),
    };
    // `content` is another name for `message`; giving both is a duplicate field.
    if map.contains_key("message") && map.contains_key("content") {
        return Err(());
    }
    let message = opt_str(if map.contains_key("content") {
        "content"
    } else {
        "message"
    })?;
    let on_busy = match map.get("on_busy").map(Value::as_str) {
        None => OnBusy::Reject,
        Some(Some("reject")) => OnBusy::Reject,
        Some(Some("enqueue")) => OnBusy::Enqueue,
        Some(Some("interrupt")) => OnBusy::Interrupt,
        Some(_) => return Err(()),
    };
    let metadata = map.get("metadata").cloned().unwrap_or(Value::Null);
    Ok((
        message,
        opt_str("conversation_id")?,
        metadata,
        opt_str("client_message_id")?,
        on_busy,
    ))
}

fn fields(b: ChatBody) -> Model {
    Ok((
        b.message,
        b.conversation_id,
        b.metadata.unwrap_or(Value::Null),
        b.client_message_id,
        b.on_busy,
    ))
}

/// The body's turn request is what the model says; its content then passes or fails the length
/// check with a documented code, and its title is one short line.
fn check_turn(body: ChatBody) -> Result<(), TestCaseError> {
    let (message, conversation) = (body.message.clone(), body.conversation_id.clone());
    match body.into_turn_request(UserId::new("u")) {
        Ok(req) => {
            prop_assert_eq!(Some(&req.content), message.as_ref());
            let id = conversation
                .as_deref()
                .map(str::trim)
                .filter(|id| !id.is_empty());
            prop_assert_eq!(
                req.thread_id.map(|t| t.0),
                id.map(|id| Uuid::parse_str(id).unwrap())
            );
            match validate_content(&req.content, 2000) {
                Ok(content) => {
                    prop_assert!(!content.is_empty() && content.chars().count() <= 2000);
                    let title = title_from(&content);
                    prop_assert!(
                        title.chars().count() <= 61 && !title.contains('\n'),
                        "{:?}",
                        title
                    );
                }
                Err(e) => prop_assert!(matches!(e.code(), "invalid_request" | "message_too_long")),
            }
        }
        Err(Error::Invalid(_)) => prop_assert!(message.is_none()),
        Err(Error::NotFound(what)) => {
            prop_assert_eq!(what, "conversation");
            let id = conversation.unwrap_or_default();
            prop_assert!(Uuid::parse_str(id.trim()).is_err(), "{:?} refused", id);
        }
        Err(e) => prop_assert!(false, "undocumented {:?}", e),
    }
    Ok(())
}

/// `ApiJson` answers the body or `invalid_request`; it takes exactly what serde takes, minus
/// bodies with a NUL. The NUL is looked for by the scanner the server uses (`nul::in_json`,
/// itself checked against a parser below): serde reads a body whose unknown member holds a
/// number no `Value` can (`1e309`), so a parse cannot always say.
fn check_bytes(bytes: Vec<u8>) -> Result<(), TestCaseError> {
    let serde = serde_json::from_slice::<ChatBody>(&bytes).is_ok();
    let nul = in_json(&bytes);
    match extract(bytes) {
        Ok(body) => {
            prop_assert!(serde && !nul);
            check_turn(body)?;
        }
        Err(e) => {
            prop_assert_eq!(e.code(), "invalid_request");
            prop_assert!(!serde || nul, "refused a body serde takes: {}", e);
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn property_rest_any_bytes_are_a_body_or_invalid_request(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        check_bytes(bytes)?;
    }

    #[test]
    fn property_rest_broken_json_is_a_body_or_invalid_request(text in broken_json(near_body().prop_map(Value::Object))) {
        check_bytes(text.into_bytes())?;
    }

    #[test]
    fn property_rest_near_bodies_decode_as_the_model_says(map in near_body()) {
        // The model reads what the server reads: a float may come back a last digit away.
        let text = Value::Object(map).to_string();
        let v: Value = serde_json::from_str(&text).unwrap();
        match extract(text.clone().into_bytes()) {
            Ok(body) => {
                prop_assert!(!has_nul(&v));
                prop_assert_eq!(fields(body), model(&v), "{}", text);
                check_turn(serde_json::from_value(v).unwrap())?;
            }
            Err(e) => {
                prop_assert_eq!(e.code(), "invalid_request");
                prop_assert!(model(&v).is_err() || has_nul(&v), "refused {}: {}", text, e);
            }
        }
    }

    #[test]
    fn property_rest_nul_scan_agrees_with_a_parser(text in prop_oneof![json().prop_map(|v| v.to_string()), broken_json(json())]) {
        // Wherever a parser reads the text, the scanner finds a NUL exactly when the parser does.
        if let Ok(v) = serde_json::from_str::<Value>(&text) {
            prop_assert_eq!(in_json(text.as_bytes()), has_nul(&v), "{}", text);
        }
    }

    #[test]
    fn property_rest_any_json_decodes_as_the_model_says(v in json()) {
        let decoded = serde_json::from_value::<ChatBody>(v.clone());
        prop_assert_eq!(decoded.map_or(Err(()), fields), model(&v), "{}", v);
    }
}
