//! The JWT verifier (`Jwt::verify`): any string is a verified user or `Unauthorized`, never a
//! panic. Tokens signed with the right key carry header and claims of every shape (`alg`
//! variants, `crit`, huge, negative, fractional and mistyped `exp`/`nbf`/`iat`, `aud`, `sub`
//! and `user_id` that disagree, are empty, long or hold control characters), and the verdict
//! is exactly what the rules in `src/auth.rs` and SECURITY.md say.

use agentwire::auth::{now_secs, Jwt, Verified};
use agentwire::error::Error;
use agentwire::model::UserId;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::{Algorithm, EncodingKey};
use proptest::prelude::*;
use serde_json::{json, Value};

use super::{config, json, number, text};

const SECRET: &str = "property-secret-property-secret-property";

/// A token with exactly these header and claims JSON texts, HS256-signed with `secret`.
fn token(header: &Value, claims: &Value, secret: &str) -> String {
    let message = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let key = EncodingKey::from_secret(secret.as_bytes());
    let signature = jsonwebtoken::crypto::sign(message.as_bytes(), &key, Algorithm::HS256)
        .expect("HS256 signs anything");
    format!("{message}.{signature}")
}

/// `Ok`, or the one documented error.
fn verify(jwt: &Jwt, token: &str) -> Result<Option<Verified>, TestCaseError> {
    match jwt.verify(token) {
        Ok(v) => Ok(Some(v)),
        Err(Error::Unauthorized) => Ok(None),
        Err(e) => Err(TestCaseError::fail(format!(
            "undocumented {e:?} for {token}"
        ))),
    }
}

/// A year, in seconds: the times near `now` are this far from it, so that the clock moving on
/// during a long run never changes a verdict (the leeway's edge is a unit test's job).
const YEAR: u64 = 365 * 24 * 3600;

/// A number that is a valid `exp`/`nbf`/`iat` a year before or after `now`, or one of every
/// edge.
fn time(now: u64) -> impl Strategy<Value = Value> {
    prop_oneof![
        proptest::sample::select(vec![
            now + YEAR,
            now - YEAR,
            0,
            u32::MAX as u64,
            i64::MAX as u64,
            u64::MAX,
        ])
        .prop_map(Value::from),
        number().prop_map(Value::Number),
    ]
}

/// `good`, or anything else: absent, null, an edge number, a string, an array, an object.
fn claim(good: BoxedStrategy<Value>) -> BoxedStrategy<Option<Value>> {
    prop_oneof![
        2 => Just(None),
        1 => Just(Some(Value::Null)),
        6 => good.prop_map(Some),
        1 => json().prop_map(Some),
    ]
    .boxed()
}

/// A user id: a plain one, the same as another, empty, 128 or 129 bytes, or any text.
fn user() -> BoxedStrategy<Value> {
    prop_oneof![
        "[a-z]{1,8}".prop_map(Value::from),
        Just(Value::from("alice")),
        Just(Value::from("")),
        Just(Value::from("u".repeat(128))),
        Just(Value::from("u".repeat(129))),
        text(20).prop_map(Value::String),
    ]
    .boxed()
}

/// `base` with up to three of its members set to a value the edit's strategy picks, or removed
/// (`None`): a valid token's parts, each case a few steps off valid, so every rule is tried on
/// tokens that pass all the others.
fn edited(
    base: BoxedStrategy<Value>,
    edits: Vec<(&'static str, BoxedStrategy<Option<Value>>)>,
) -> BoxedStrategy<Value> {
    let edit = proptest::strategy::Union::new(
        edits
            .into_iter()
            .map(|(key, value)| value.prop_map(move |v| (key, v)).boxed()),
    );
    (base, proptest::collection::vec(edit, 0..=3))
        .prop_map(|(mut v, edits)| {
            let map = v.as_object_mut().expect("an object");
            for (key, value) in edits {
                match value {
                    Some(value) => map.insert(key.to_string(), value),
                    None => map.remove(key),
                };
            }
            v
        })
        .boxed()
}

/// A JOSE header: `{"alg": "HS256", "typ": "JWT"}` with `alg` of every spelling, `crit`, or
/// `typ`/`kid`/`x5c` of any type.
fn header() -> BoxedStrategy<Value> {
    let alg = proptest::sample::select(vec![
        "HS256", "hs256", "HS384", "HS512", "RS256", "ES256", "none", "None", "",
    ])
    .prop_map(Value::from)
    .boxed();
    let string = || text(10).prop_map(Value::String).boxed();
    let strings = proptest::collection::vec(string(), 0..3)
        .prop_map(Value::Array)
        .boxed();
    let crit = prop_oneof![Just(json!(["exp"])), Just(json!([])), json()].boxed();
    edited(
        Just(json!({"alg": "HS256", "typ": "JWT"})).boxed(),
        vec![
            ("alg", claim(alg)),
            ("typ", claim(string())),
            ("kid", claim(string())),
            ("x5c", claim(strings)),
            ("crit", claim(crit)),
            ("x-ext", claim(json().boxed())),
        ],
    )
}

/// Claims: `{"sub", "exp", "iat"}` valid, with `sub`, `user_id`, `exp`, `iat`, `nbf`, `aud`,
/// `iss` or an unknown claim absent, null, valid or anything.
fn claims(now: u64) -> BoxedStrategy<Value> {
    let aud = prop_oneof![
        text(8).prop_map(Value::String),
        proptest::collection::vec(text(8).prop_map(Value::String), 0..3).prop_map(Value::Array),
    ]
    .boxed();
    let base = "[a-z]{1,8}"
        .prop_map(move |user| json!({"sub": user, "exp": now + YEAR, "iat": now}))
        .boxed();
    edited(
        base,
        vec![
            ("sub", claim(user())),
            ("user_id", claim(user())),
            ("exp", claim(time(now).boxed())),
            ("iat", claim(time(now).boxed())),
            ("nbf", claim(time(now).boxed())),
            ("aud", claim(aud)),
            ("iss", claim(text(8).prop_map(Value::String).boxed())),
            ("email", claim(text(8).prop_map(Value::String).boxed())),
        ],
    )
}

/// The verdict the rules give for a token with this header and these claims, signed with our
/// key at `now`: the verified user, or `None` for `Unauthorized`.
fn model(header: &Value, claims: &Value, now: u64) -> Option<Verified> {
    let opt_str = |v: &Value, key: &str| -> Result<Option<String>, ()> {
        match v.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(()),
        }
    };
    // The header: an object, HS256 exactly, no `crit`, known members of the right type.
    let h = header.as_object()?;
    if h.get("alg")?.as_str()? != "HS256" || h.contains_key("crit") {
        return None;
    }
    opt_str(header, "typ").ok()?;
    opt_str(header, "kid").ok()?;
    match h.get("x5c") {
        None | Some(Value::Null) => {}
        Some(Value::Array(items)) if items.iter().all(Value::is_string) => {}
        Some(_) => return None,
    }
    // The claims: `exp` an integer not passed, `iat` an integer if present, `nbf` an integer
    // already reached if present and not null, no `aud` (we are no audience).
    let c = claims.as_object()?;
    let exp = c.get("exp")?.as_u64()?;
    if exp < now - 5 {
        return None;
    }
    if let Some(iat) = c.get("iat") {
        iat.as_u64()?;
    }
    match c.get("nbf") {
        None | Some(Value::Null) => {}
        Some(nbf) => {
            if nbf.as_u64()? > now + 5 {
                return None;
            }
        }
    }
    match c.get("aud") {
        Some(Value::String(_)) => return None,
        Some(Value::Array(items)) if items.iter().all(Value::is_string) => return None,
        _ => {}
    }
    // The user: `sub` or `user_id`, equal when both are there, 1-128 bytes, no control character.
    let user = match (
        opt_str(claims, "sub").ok()?,
        opt_str(claims, "user_id").ok()?,
    ) {
        (Some(sub), Some(uid)) if sub != uid => return None,
        (Some(id), _) | (None, Some(id)) => id,
        (None, None) => return None,
    };
    if user.is_empty() || user.len() > 128 || user.chars().any(char::is_control) {
        return None;
    }
    Some(Verified {
        user: UserId(user),
        expires_at: exp,
    })
}

/// A third segment that is no HS256 signature of the first two under our key.
fn forged(header: &Value, claims: &Value, how: u8) -> String {
    let right = token(header, claims, SECRET);
    let (message, signature) = right.rsplit_once('.').unwrap();
    match how % 4 {
        0 => token(header, claims, "another-secret-another-secret-another"),
        1 => format!("{message}."),
        2 => format!("{message}.{}", signature.chars().rev().collect::<String>()),
        _ => {
            let key = EncodingKey::from_secret(SECRET.as_bytes());
            let other =
                jsonwebtoken::crypto::sign(message.as_bytes(), &key, Algorithm::HS384).unwrap();
            format!("{message}.{other}")
        }
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn property_jwt_any_string_is_unauthorized(s in text(300)) {
        prop_assert!(verify(&Jwt::new(SECRET), &s)?.is_none());
    }

    #[test]
    fn property_jwt_any_three_segments_are_unauthorized(
        parts in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..64), 1..5),
        raw in any::<bool>(),
    ) {
        // Base64 of random bytes, or the bytes themselves, joined with dots.
        let segments: Vec<String> = parts
            .iter()
            .map(|p| if raw { String::from_utf8_lossy(p).into_owned() } else { URL_SAFE_NO_PAD.encode(p) })
            .collect();
        prop_assert!(verify(&Jwt::new(SECRET), &segments.join("."))?.is_none());
    }

    #[test]
    fn property_jwt_any_signed_json_is_a_user_or_unauthorized(h in json(), c in json()) {
        let now = now_secs();
        let verdict = verify(&Jwt::new(SECRET), &token(&h, &c, SECRET))?;
        if let Some(v) = verdict {
            // Whatever got through meets every rule.
            prop_assert_eq!(Some(v), model(&h, &c, now), "{} {}", h, c);
        }
    }

    #[test]
    fn property_jwt_signed_tokens_get_the_verdict_of_the_rules(h in header(), c in claims(now_secs())) {
        let now = now_secs();
        let verdict = verify(&Jwt::new(SECRET), &token(&h, &c, SECRET))?;
        prop_assert_eq!(verdict, model(&h, &c, now), "header {} claims {}", h, c);
    }

    #[test]
    fn property_jwt_forged_signatures_are_unauthorized(h in header(), c in claims(now_secs()), how in any::<u8>()) {
        prop_assert!(verify(&Jwt::new(SECRET), &forged(&h, &c, how))?.is_none());
    }
}

/// The generators are worth their names: in a fixed sample, signed tokens get both verdicts
/// often, so the rules are each tried on tokens that pass all the others.
#[test]
fn signed_tokens_reach_both_verdicts() {
    use proptest::strategy::ValueTree;
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    let now = now_secs();
    let (h, c) = (header(), claims(now));
    let accepted = (0..2000)
        .filter(|_| {
            let h = h.new_tree(&mut runner).unwrap().current();
            let c = c.new_tree(&mut runner).unwrap().current();
            model(&h, &c, now).is_some()
        })
        .count();
    assert!(
        (400..1600).contains(&accepted),
        "{accepted} of 2000 accepted"
    );
}
