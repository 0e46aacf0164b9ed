//! JWT verification and minting, and the `AuthUser` extractor.
//!
//! Tokens are HS256 only (`none` and every other algorithm are refused), `exp` is required and
//! checked with a small leeway, `nbf` is honoured with the same leeway when present, and a token
//! whose header has a `crit` parameter is refused: we implement no JWS extension, and RFC 7515
//! says a recipient must not accept one it does not understand. The user is `sub`, or `user_id`
//! when `sub` is absent; a token whose `sub` and `user_id` disagree is refused. Nothing here
//! reads a user id from a request body.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{header, HeaderMap};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::model::UserId;
use crate::state::AppState;

/// Seconds of clock skew tolerated on `exp` and `nbf`.
const LEEWAY_SECS: u64 = 5;

/// The claims we read and write.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sub: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    pub exp: u64,
    #[serde(default)]
    pub iat: u64,
    /// Declared so that a malformed `nbf` fails to decode: the validator skips what it cannot
    /// parse, and a "not before" we cannot read must not be taken as "any time".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nbf: Option<u64>,
}

/// A verified token: who it is for and when it stops being valid (unix seconds).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    pub user: UserId,
    pub expires_at: u64,
}

/// Verifies and mints tokens with one HS256 key. Cheap to clone.
#[derive(Clone)]
pub struct Jwt(Arc<JwtKeys>);

struct JwtKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
}

impl Jwt {
    pub fn new(secret: &str) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.algorithms = vec![Algorithm::HS256];
        validation.leeway = LEEWAY_SECS;
        validation.set_required_spec_claims(&["exp"]);
        validation.validate_exp = true;
        validation.validate_nbf = true;
        Jwt(Arc::new(JwtKeys {
            encoding: EncodingKey::from_secret(secret.as_bytes()),
            decoding: DecodingKey::from_secret(secret.as_bytes()),
            validation,
        }))
    }

    /// Checks signature, algorithm, `crit`, `exp` and `nbf`; returns the token's user.
    pub fn verify(&self, token: &str) -> Result<Verified> {
        let claims: Claims = self.decode(token)?;
        let user = match (claims.sub, claims.user_id) {
            (Some(sub), Some(uid)) if sub != uid => return Err(Error::Unauthorized),
            (Some(id), _) | (None, Some(id)) => id,
            (None, None) => return Err(Error::Unauthorized),
        };
        if user.is_empty() || user.len() > 128 || user.chars().any(char::is_control) {
            return Err(Error::Unauthorized);
        }
        Ok(Verified {
            user: UserId(user),
            expires_at: claims.exp,
        })
    }

    /// The claims of any token signed with our key, after the checks every token gets:
    /// HS256, no `crit` header, `exp` present and not passed, `nbf` (when present) reached.
    /// `Unauthorized` otherwise. Used for user tokens and for attachment link signatures.
    pub fn decode<T: DeserializeOwned>(&self, token: &str) -> Result<T> {
        if has_crit_header(token) {
            return Err(Error::Unauthorized);
        }
        jsonwebtoken::decode::<T>(token, &self.0.decoding, &self.0.validation)
            .map(|data| data.claims)
            .map_err(|_| Error::Unauthorized)
    }

    /// Signs `claims` (which must carry an `exp`) with our key, HS256.
    pub fn sign<T: Serialize>(&self, claims: &T) -> String {
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), claims, &self.0.encoding)
            .expect("HS256 signing of a plain struct cannot fail")
    }

    /// Signs a token for `user` valid for `ttl` (an `exp` past `u64::MAX` saturates).
    pub fn mint(&self, user: &UserId, ttl: Duration) -> String {
        let now = now_secs();
        self.sign(&Claims {
            sub: Some(user.0.clone()),
            user_id: Some(user.0.clone()),
            iat: now,
            exp: now.saturating_add(ttl.as_secs().max(1)),
            nbf: None,
        })
    }
}

/// Whether the token's header has a `crit` parameter, or cannot be read at all (both refused).
/// jsonwebtoken's `Header` silently drops `crit`, so the header segment is decoded here.
fn has_crit_header(token: &str) -> bool {
    let Some((segment, _)) = token.split_once('.') else {
        return true;
    };
    let Ok(bytes) = URL_SAFE_NO_PAD.decode(segment) else {
        return true;
    };
    match serde_json::from_slice::<serde_json::Map<String, serde_json::Value>>(&bytes) {
        Ok(header) => header.contains_key("crit"),
        Err(_) => true,
    }
}

pub fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// The bearer token of an `Authorization` header, if it has one.
pub fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.trim().split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

/// The user of a request with a valid bearer token; rejects with 401 otherwise.
#[derive(Debug, Clone)]
pub struct AuthUser(pub UserId);

impl AuthUser {
    /// 403 unless the path's `{user_id}` is this user.
    pub fn require(&self, path_user: &str) -> Result<&UserId> {
        if self.0.as_str() == path_user {
            Ok(&self.0)
        } else {
            Err(Error::Forbidden)
        }
    }
}

impl FromRequestParts<AppState> for AuthUser {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self> {
        let token = bearer(&parts.headers).ok_or(Error::Unauthorized)?;
        Ok(AuthUser(state.jwt.verify(token)?.user))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jsonwebtoken::{encode, EncodingKey, Header};
    use serde_json::json;

    const SECRET: &str = "test-secret-test-secret-test-secret";

    fn sign(alg: Algorithm, claims: serde_json::Value, secret: &str) -> String {
        encode(
            &Header::new(alg),
            &claims,
            &EncodingKey::from_secret(secret.as_bytes()),
        )
        .unwrap()
    }

    #[test]
    fn minted_tokens_verify() {
        let jwt = Jwt::new(SECRET);
        let t = jwt.mint(&UserId::new("alice"), Duration::from_secs(60));
        assert_eq!(jwt.verify(&t).unwrap().user, UserId::new("alice"));
    }

    #[test]
    fn refuses_bad_tokens() {
        let jwt = Jwt::new(SECRET);
        let exp = now_secs() + 60;
        let cases = [
            sign(
                Algorithm::HS256,
                json!({"sub":"a","exp":exp}),
                "other-secret",
            ),
            sign(Algorithm::HS384, json!({"sub":"a","exp":exp}), SECRET),
            sign(Algorithm::HS256, json!({"sub":"a"}), SECRET),
            sign(
                Algorithm::HS256,
                json!({"sub":"a","exp":now_secs() - 60}),
                SECRET,
            ),
            sign(
                Algorithm::HS256,
                json!({"sub":"a","user_id":"b","exp":exp}),
                SECRET,
            ),
            sign(Algorithm::HS256, json!({"exp":exp}), SECRET),
            "not.a.token".to_string(),
            // alg "none", unsigned
            "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.eyJzdWIiOiJhIiwiZXhwIjo5OTk5OTk5OTk5fQ."
                .to_string(),
        ];
        for t in cases {
            assert!(
                matches!(jwt.verify(&t), Err(Error::Unauthorized)),
                "accepted {t}"
            );
        }
    }

    #[test]
    fn user_id_claim_alone_or_equal_is_accepted() {
        let jwt = Jwt::new(SECRET);
        let exp = now_secs() + 60;
        let t = sign(Algorithm::HS256, json!({"user_id":"bob","exp":exp}), SECRET);
        assert_eq!(jwt.verify(&t).unwrap().user.as_str(), "bob");
        let t = sign(
            Algorithm::HS256,
            json!({"sub":"bob","user_id":"bob","exp":exp,"email":"b@x"}),
            SECRET,
        );
        assert_eq!(jwt.verify(&t).unwrap().user.as_str(), "bob");
    }

    /// A token with this exact header JSON, signed HS256 with `secret`.
    fn sign_with_header(
        header: serde_json::Value,
        claims: serde_json::Value,
        secret: &str,
    ) -> String {
        let segment = |v: serde_json::Value| URL_SAFE_NO_PAD.encode(v.to_string());
        let message = format!("{}.{}", segment(header), segment(claims));
        let key = EncodingKey::from_secret(secret.as_bytes());
        let signature =
            jsonwebtoken::crypto::sign(message.as_bytes(), &key, Algorithm::HS256).unwrap();
        format!("{message}.{signature}")
    }

    #[test]
    fn nbf_is_honoured_with_the_leeway() {
        let jwt = Jwt::new(SECRET);
        let (now, exp) = (now_secs(), now_secs() + 7200);
        let at = |nbf: serde_json::Value| {
            jwt.verify(&sign(
                Algorithm::HS256,
                json!({"sub":"a","exp":exp,"nbf":nbf}),
                SECRET,
            ))
        };
        assert!(matches!(at(json!(now + 3600)), Err(Error::Unauthorized)));
        assert!(matches!(at(json!(now + 60)), Err(Error::Unauthorized)));
        // A "not before" we cannot read is no "any time".
        assert!(matches!(at(json!("soon")), Err(Error::Unauthorized)));
        assert!(matches!(at(json!(-1)), Err(Error::Unauthorized)));
        assert!(at(json!(now + 2)).is_ok(), "within the leeway");
        assert!(at(json!(now - 60)).is_ok());
    }

    #[test]
    fn any_crit_header_is_refused() {
        let jwt = Jwt::new(SECRET);
        let claims = json!({"sub":"a","exp":now_secs() + 60});
        let plain = sign_with_header(json!({"alg":"HS256","typ":"JWT"}), claims.clone(), SECRET);
        assert!(
            jwt.verify(&plain).is_ok(),
            "the hand-made token is otherwise valid"
        );
        for crit in [
            json!(["exp"]),
            json!(["http://example.com/ext"]),
            json!([]),
            json!("b64"),
        ] {
            let t = sign_with_header(
                json!({"alg":"HS256","typ":"JWT","crit":crit}),
                claims.clone(),
                SECRET,
            );
            assert!(
                matches!(jwt.verify(&t), Err(Error::Unauthorized)),
                "accepted crit {crit}"
            );
        }
    }

    #[test]
    fn the_largest_exp_verifies_and_mint_saturates() {
        let jwt = Jwt::new(SECRET);
        let t = sign(Algorithm::HS256, json!({"sub":"a","exp":u64::MAX}), SECRET);
        assert_eq!(jwt.verify(&t).unwrap().expires_at, u64::MAX);
        let t = jwt.mint(&UserId::new("a"), Duration::MAX);
        assert_eq!(jwt.verify(&t).unwrap().expires_at, u64::MAX);
        // One past u64 is no number we read.
        let t = sign(Algorithm::HS256, json!({"sub":"a","exp":1e20}), SECRET);
        assert!(jwt.verify(&t).is_err());
    }

    #[test]
    fn expiry_has_small_leeway() {
        let jwt = Jwt::new(SECRET);
        let t = sign(
            Algorithm::HS256,
            json!({"sub":"a","exp":now_secs() - 2}),
            SECRET,
        );
        assert!(jwt.verify(&t).is_ok());
    }

    #[test]
    fn bearer_parsing() {
        let mut h = HeaderMap::new();
        assert_eq!(bearer(&h), None);
        h.insert(header::AUTHORIZATION, "Bearer abc".parse().unwrap());
        assert_eq!(bearer(&h), Some("abc"));
        h.insert(header::AUTHORIZATION, "bearer  abc ".parse().unwrap());
        assert_eq!(bearer(&h), Some("abc"));
        h.insert(header::AUTHORIZATION, "Basic abc".parse().unwrap());
        assert_eq!(bearer(&h), None);
        h.insert(header::AUTHORIZATION, "Bearer ".parse().unwrap());
        assert_eq!(bearer(&h), None);
    }
}
