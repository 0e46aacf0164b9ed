//! Tokens made by hand, good and bad: any algorithm, any header, any claims, signed with the
//! test secret or another one.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::{encode, Algorithm, EncodingKey, Header};
use serde_json::{json, Value};

use super::SECRET;

pub fn now() -> u64 {
    agentwire::auth::now_secs()
}

/// `claims` signed with `alg` (an HMAC one) and `secret`.
pub fn sign(alg: Algorithm, claims: Value, secret: &str) -> String {
    encode(
        &Header::new(alg),
        &claims,
        &EncodingKey::from_secret(secret.as_bytes()),
    )
    .unwrap()
}

/// `claims` signed HS256 with the test secret: what the server accepts, claims permitting.
pub fn signed(claims: Value) -> String {
    sign(Algorithm::HS256, claims, SECRET)
}

/// A token for `user` that expires in `secs`.
pub fn expiring(user: &str, secs: u64) -> String {
    signed(json!({"sub": user, "exp": now() + secs}))
}

/// A token with this exact header JSON (jsonwebtoken's `Header` cannot carry `crit`, nor lie
/// about its algorithm), HMAC-SHA256-signed with the test secret whatever the header says.
pub fn sign_with_header(header: Value, claims: Value) -> String {
    let message = format!("{}.{}", segment(&header), segment(&claims));
    let key = EncodingKey::from_secret(SECRET.as_bytes());
    let signature = jsonwebtoken::crypto::sign(message.as_bytes(), &key, Algorithm::HS256).unwrap();
    format!("{message}.{signature}")
}

/// A token with this header and claims and no signature at all (`alg: none` style).
pub fn unsigned(header: Value, claims: Value) -> String {
    format!("{}.{}.", segment(&header), segment(&claims))
}

/// One base64url segment of a token.
pub fn segment(v: &Value) -> String {
    URL_SAFE_NO_PAD.encode(v.to_string())
}
