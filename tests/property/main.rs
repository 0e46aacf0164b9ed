//! Property tests of the decoders an attacker reaches first: WebSocket client frames, ChatKit
//! requests, REST bodies, the JWT verifier and the offline agent's parser.
//!
//! Each property feeds a decoder arbitrary input, both unstructured (any string, any bytes, any
//! JSON) and shaped like the real thing (the right `type` with fields of random names, types and
//! values, or a valid input nudged out of shape), and checks that it never panics and answers
//! either a value or one of the errors the docs name, with the code they name.
//!
//! Cases per property: `PROPTEST_CASES` (proptest's own variable), 256 when unset, which keeps
//! the whole file to a few seconds in a debug build. The long run and its figures are in
//! `tests/PROPERTIES.md`.

mod chatkit_request;
mod jwt;
mod offline_intent;
mod rest_body;
mod ws_frame;

use proptest::prelude::*;
use proptest::strategy::BoxedStrategy;
use proptest::test_runner::FileFailurePersistence;
use serde_json::{Map, Number, Value};

/// The configuration of every property: `PROPTEST_CASES` cases (256 by default). A failing case
/// is saved beside the test file (`*.regressions`) and tried first on the next run.
pub fn config() -> ProptestConfig {
    ProptestConfig {
        failure_persistence: Some(Box::new(FileFailurePersistence::WithSource("regressions"))),
        ..ProptestConfig::default()
    }
}

/// Characters that break naive code: controls, NUL, quotes, backslashes, surrogates' neighbours,
/// combining marks, right-to-left text, emoji and the largest code point.
const AWKWARD: &[char] = &[
    '\0',
    '\u{1}',
    '\t',
    '\n',
    '\r',
    '\u{7f}',
    '\u{85}',
    '"',
    '\\',
    '\'',
    '/',
    '.',
    '{',
    '}',
    '\u{200b}',
    '\u{202e}',
    '\u{301}',
    '\u{fffd}',
    '\u{feff}',
    '\u{d7ff}',
    '\u{e000}',
    'ß',
    'İ',
    'ٹ',
    '任',
    '🙂',
    '\u{10ffff}',
];

/// Any text: random Unicode, runs of awkward characters, or plain words, up to `max` chars.
pub fn text(max: usize) -> impl Strategy<Value = String> {
    prop_oneof![
        proptest::collection::vec(any::<char>(), 0..=max).prop_map(String::from_iter),
        proptest::collection::vec(proptest::sample::select(AWKWARD), 0..=max.min(16))
            .prop_map(String::from_iter),
        "[a-z0-9 ._-]{0,24}",
    ]
}

/// Numbers on every edge a decoder may trip on: zero, negatives, `u32`/`i64`/`u64` limits and
/// one past them, and floats (fractional, huge, tiny).
pub fn number() -> impl Strategy<Value = Number> {
    prop_oneof![
        any::<u64>().prop_map(Number::from),
        any::<i64>().prop_map(Number::from),
        proptest::sample::select(vec![
            0u64,
            1,
            100,
            101,
            u32::MAX as u64,
            u32::MAX as u64 + 1,
            i64::MAX as u64,
            u64::MAX,
        ])
        .prop_map(Number::from),
        proptest::sample::select(vec![-1i64, i64::MIN, -(u32::MAX as i64)]).prop_map(Number::from),
        proptest::sample::select(vec![
            0.5f64,
            -0.0,
            1.0,
            1e20,
            -1e300,
            1e-300,
            1.8446744073709552e19
        ])
        .prop_map(|f| Number::from_f64(f).expect("finite")),
        finite().prop_map(|f| Number::from_f64(f).expect("finite")),
    ]
}

/// Any finite float, of every class and sign. Made finite rather than filtered: a million
/// cases would exceed proptest's budget of rejected values.
fn finite() -> impl Strategy<Value = f64> {
    use proptest::num::f64::{NEGATIVE, NORMAL, POSITIVE, SUBNORMAL, ZERO};
    POSITIVE | NEGATIVE | NORMAL | SUBNORMAL | ZERO
}

/// Any JSON value, nested a few levels deep, with awkward strings and edge numbers.
pub fn json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        number().prop_map(Value::Number),
        text(24).prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 32, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            proptest::collection::vec((text(12), inner), 0..6)
                .prop_map(|kv| Value::Object(kv.into_iter().collect())),
        ]
    })
}

/// A JSON object whose keys come mostly from `names` (the fields a decoder knows, so each one is
/// tried present, absent, null, and of every type) and sometimes from anywhere.
pub fn object_with(names: &'static [&'static str]) -> impl Strategy<Value = Map<String, Value>> {
    let key = prop_oneof![
        6 => proptest::sample::select(names).prop_map(str::to_string),
        1 => text(12),
    ];
    proptest::collection::vec((key, json()), 0..=names.len() + 2)
        .prop_map(|kv| kv.into_iter().collect())
}

/// `value`, or `null` (which the parser reads as absent), or nothing at all.
pub fn optional(value: BoxedStrategy<Value>) -> BoxedStrategy<Option<Value>> {
    prop_oneof![Just(None), Just(Some(Value::Null)), value.prop_map(Some)].boxed()
}

/// A JSON object from required and optional members (an absent optional member is left out).
pub fn object(
    required: Vec<(&'static str, BoxedStrategy<Value>)>,
    optionals: Vec<(&'static str, BoxedStrategy<Value>)>,
) -> BoxedStrategy<Value> {
    let optionals: Vec<_> = optionals
        .into_iter()
        .map(|(k, v)| (Just(k), optional(v)))
        .collect();
    let required: Vec<_> = required.into_iter().map(|(k, v)| (Just(k), v)).collect();
    (required, optionals)
        .prop_map(|(required, optionals)| {
            let mut map: Map<String, Value> =
                required.into_iter().map(|(k, v)| (k.into(), v)).collect();
            map.extend(
                optionals
                    .into_iter()
                    .filter_map(|(k, v)| Some((k.into(), v?))),
            );
            Value::Object(map)
        })
        .boxed()
}

/// Text that is not JSON, or is JSON cut short or with a byte flipped: what a fuzzer sends.
pub fn broken_json(valid: impl Strategy<Value = Value>) -> impl Strategy<Value = String> {
    (valid, any::<prop::sample::Index>(), any::<u8>(), 0..3u8).prop_map(|(v, at, byte, how)| {
        let mut bytes = v.to_string().into_bytes();
        let i = at.index(bytes.len() + 1);
        match how {
            0 => bytes.truncate(i),
            1 => bytes.insert(i, byte),
            _ => {
                if i < bytes.len() {
                    bytes[i] = byte;
                }
            }
        }
        String::from_utf8_lossy(&bytes).into_owned()
    })
}

/// Whether any string or key in `v` holds a NUL character.
pub fn has_nul(v: &Value) -> bool {
    match v {
        Value::String(s) => s.contains('\0'),
        Value::Array(items) => items.iter().any(has_nul),
        Value::Object(map) => map.iter().any(|(k, v)| k.contains('\0') || has_nul(v)),
        _ => false,
    }
}
