//! WebSocket client frames (`frame::parse`): any text is a frame or an error event whose code is
//! `invalid_frame` or `unknown_type` (docs/protocol.md, section 4), and a frame shaped like a real
//! one is decoded exactly as a model of the protocol's table says, `request_id` included.

use agentwire::chat::OnBusy;
use agentwire::transport::ws::frame::{parse, ClientFrame};
use proptest::prelude::*;
use proptest::strategy::{BoxedStrategy, ValueTree};
use proptest::test_runner::TestRunner;
use serde_json::{Map, Value};

use super::{broken_json, config, has_nul, json, object_with, text};

/// How the protocol reads one field.
#[derive(Debug, Clone, Copy)]
enum Kind {
    /// A string, required.
    Str,
    /// A string or null, optional.
    OptStr,
    /// An integer in `0..=u32::MAX` or null, optional.
    OptU32,
    /// Any JSON, optional.
    OptAny,
    /// `reject`, `enqueue` or `interrupt`, optional.
    OnBusy,
}

use Kind::*;

/// Every frame type and its fields, as docs/protocol.md lists them.
const TYPES: &[(&str, &[(&str, Kind)])] = &[
    ("auth", &[("token", Str), ("resume_after", OptStr)]),
    ("resume", &[("after", Str)]),
    (
        "message",
        &[
            ("thread_id", OptStr),
            ("content", Str),
            ("metadata", OptAny),
            ("client_message_id", OptStr),
            ("on_busy", OnBusy),
        ],
    ),
    ("cancel", &[("thread_id", Str), ("message_id", OptStr)]),
    ("threads.list", &[("limit", OptU32), ("after", OptStr)]),
    (
        "thread.load",
        &[("thread_id", Str), ("limit", OptU32), ("after", OptStr)],
    ),
    ("ping", &[]),
];

const FIELD_NAMES: &[&str] = &[
    "type",
    "request_id",
    "token",
    "resume_after",
    "after",
    "thread_id",
    "content",
    "metadata",
    "client_message_id",
    "on_busy",
    "message_id",
    "limit",
];

/// A value the protocol accepts for a field of this kind.
fn good(kind: Kind) -> BoxedStrategy<Value> {
    let string = || text(40).prop_map(Value::String);
    match kind {
        Str => string().boxed(),
        OptStr => prop_oneof![Just(Value::Null), string()].boxed(),
        OptU32 => prop_oneof![Just(Value::Null), any::<u32>().prop_map(Value::from)].boxed(),
        OptAny => json().boxed(),
        OnBusy => proptest::sample::select(&["reject", "enqueue", "interrupt"][..])
            .prop_map(Value::from)
            .boxed(),
    }
}

/// A `request_id` of every shape: absent, null, a string short or too long, a number, or other.
fn request_id() -> impl Strategy<Value = Option<Value>> {
    prop_oneof![
        3 => Just(None),
        1 => Just(Some(Value::Null)),
        3 => "[a-z0-9-]{0,20}".prop_map(|s| Some(Value::String(s))),
        1 => (120..140usize).prop_map(|n| Some(Value::String("r".repeat(n)))),
        1 => json().prop_map(Some),
    ]
}

/// A frame close to a real one: a known `type` (usually) with each of its fields absent, valid
/// or of a random type, sometimes an unknown field, and a `request_id` of any shape.
fn near_frame() -> impl Strategy<Value = Value> {
    let kind = prop_oneof![
        8 => (0..TYPES.len()).prop_map(|i| Some(Value::from(TYPES[i].0))),
        1 => text(12).prop_map(|s| Some(Value::String(s))),
        1 => proptest::option::of(json()),
    ];
    (kind, request_id()).prop_flat_map(|(kind, rid)| {
        let fields = match kind.as_ref().and_then(Value::as_str) {
            Some(name) => TYPES.iter().find(|t| t.0 == name).map_or(&[][..], |t| t.1),
            None => &[],
        };
        let each: Vec<_> = fields
            .iter()
            .map(|&(name, k)| {
                let value = prop_oneof![1 => Just(None), 6 => good(k).prop_map(Some), 1 => json().prop_map(Some)];
                (Just(name), value)
            })
            .collect();
        let extra = prop_oneof![6 => Just(Map::new()), 1 => object_with(FIELD_NAMES)];
        (each, extra).prop_map(move |(each, extra)| {
            let mut map = extra;
            for (name, value) in each {
                match value {
                    Some(v) => map.insert(name.to_string(), v),
                    None => map.remove(name),
                };
            }
            match &kind {
                Some(k) => map.insert("type".into(), k.clone()),
                None => map.remove("type"),
            };
            match &rid {
                Some(r) => map.insert("request_id".into(), r.clone()),
                None => map.remove("request_id"),
            };
            Value::Object(map)
        })
    })
}

/// Whether `v` is a valid value for a field of this kind.
fn fits(kind: Kind, v: &Value) -> bool {
    match kind {
        Str => v.is_string(),
        OptStr => v.is_string() || v.is_null(),
        OptU32 => v.is_null() || v.as_u64().is_some_and(|n| n <= u32::MAX as u64),
        OptAny => true,
        OnBusy => matches!(v.as_str(), Some("reject" | "enqueue" | "interrupt")),
    }
}

type Outcome = Result<(ClientFrame, Option<String>), (&'static str, Option<String>)>;

/// What docs/protocol.md says `parse` answers for the frame `v`: the frame, or the error code,
/// each with the `request_id` echoed.
fn model(v: &Value) -> Outcome {
    let Value::Object(map) = v else {
        return Err(("invalid_frame", None));
    };
    let mut map = map.clone();
    let rid = match map.remove("request_id") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if s.len() <= 128 => Some(s),
        Some(Value::Number(n)) => Some(n.to_string()),
        Some(_) => return Err(("invalid_frame", None)),
    };
    if has_nul(v) {
        return Err(("invalid_frame", rid));
    }
    let Some(Value::String(kind)) = map.remove("type") else {
        return Err(("invalid_frame", rid));
    };
    let Some((_, fields)) = TYPES.iter().find(|t| t.0 == kind) else {
        return Err(("unknown_type", rid));
    };
    let known = map.keys().all(|k| fields.iter().any(|f| f.0 == k));
    let required = fields
        .iter()
        .all(|(name, k)| !matches!(k, Str) || map.contains_key(*name));
    let typed = fields
        .iter()
        .all(|(name, k)| map.get(*name).is_none_or(|v| fits(*k, v)));
    if !(known && required && typed) {
        return Err(("invalid_frame", rid));
    }
    let s = |name: &str| map.get(name).and_then(Value::as_str).map(str::to_string);
    let n = |name: &str| map.get(name).and_then(Value::as_u64).map(|n| n as u32);
    let frame = match kind.as_str() {
        "auth" => ClientFrame::Auth {
            token: s("token").unwrap(),
            resume_after: s("resume_after"),
        },
        "resume" => ClientFrame::Resume {
            after: s("after").unwrap(),
        },
        "message" => ClientFrame::Message {
            thread_id: s("thread_id"),
            content: s("content").unwrap(),
            metadata: map.get("metadata").cloned().unwrap_or(Value::Null),
            client_message_id: s("client_message_id"),
            on_busy: match s("on_busy").as_deref() {
                Some("enqueue") => OnBusy::Enqueue,
                Some("interrupt") => OnBusy::Interrupt,
                _ => OnBusy::Reject,
            },
        },
        "cancel" => ClientFrame::Cancel {
            thread_id: s("thread_id").unwrap(),
            message_id: s("message_id"),
        },
        "threads.list" => ClientFrame::ThreadsList {
            limit: n("limit"),
            after: s("after"),
        },
        "thread.load" => ClientFrame::ThreadLoad {
            thread_id: s("thread_id").unwrap(),
            limit: n("limit"),
            after: s("after"),
        },
        _ => ClientFrame::Ping,
    };
    Ok((frame, rid))
}

/// The frame's text, and the value the server reads from it (a float may come back a last digit
/// away from the one written, so the model is given what is read).
fn sent(v: &Value) -> (String, Value) {
    let text = v.to_string();
    let read = serde_json::from_str(&text).expect("serde_json reads what it writes");
    (text, read)
}

/// `parse`'s answer in the model's terms.
fn outcome(text: &str) -> Outcome {
    parse(text).map_err(|e| {
        let code = match e.error.code.as_str() {
            "invalid_frame" => "invalid_frame",
            "unknown_type" => "unknown_type",
            other => panic!("undocumented code {other:?} for {text:?}"),
        };
        (code, e.request_id)
    })
}

/// Checks what every answer must be, whatever the text: a documented code, and an echoed
/// `request_id` no longer than the protocol allows.
fn check_any(text: &str) -> Result<(), TestCaseError> {
    let rid = match outcome(text) {
        Ok((_, rid)) | Err((_, rid)) => rid,
    };
    prop_assert!(rid.is_none_or(|r| r.len() <= 128));
    if let Err(e) = parse(text) {
        prop_assert!(!e.error.message.is_empty());
    }
    Ok(())
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn property_ws_any_text_is_a_frame_or_a_documented_error(text in text(200)) {
        check_any(&text)?;
    }

    #[test]
    fn property_ws_broken_json_is_a_frame_or_a_documented_error(text in broken_json(near_frame())) {
        check_any(&text)?;
    }

    #[test]
    fn property_ws_any_json_is_decoded_as_the_protocol_says(v in json()) {
        let (text, v) = sent(&v);
        prop_assert_eq!(outcome(&text), model(&v), "{}", text);
    }

    #[test]
    fn property_ws_near_frames_are_decoded_as_the_protocol_says(v in near_frame()) {
        let (text, v) = sent(&v);
        prop_assert_eq!(outcome(&text), model(&v), "{}", text);
    }
}

/// The near-frame generator is worth its name: in a fixed sample it makes a valid frame of every
/// type and each of the three outcomes, so the property above checks more than errors.
#[test]
fn near_frames_reach_every_type_and_outcome() {
    let mut runner = TestRunner::deterministic();
    let strategy = near_frame();
    let (mut types, mut codes) = (std::collections::BTreeSet::new(), [0usize; 3]);
    for _ in 0..2000 {
        let v = strategy.new_tree(&mut runner).unwrap().current();
        match model(&v) {
            Ok(_) => {
                codes[0] += 1;
                types.insert(v["type"].as_str().unwrap().to_string());
            }
            Err(("invalid_frame", _)) => codes[1] += 1,
            Err(_) => codes[2] += 1,
        }
    }
    assert_eq!(
        types.len(),
        TYPES.len(),
        "valid frame types made: {types:?}"
    );
    assert!(codes.iter().all(|&n| n > 20), "outcomes: {codes:?}");
}
