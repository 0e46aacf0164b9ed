//! Who an `/api/ai-sdk/ws` socket serves, and until when.
//!
//! Browsers cannot set handshake headers, so the SDK puts `Authorization` inside each frame's
//! `headers`: a socket may open with no token. The first good token (at the handshake or in a
//! frame) decides the socket's user for good; every later frame that carries a token must be
//! for that user, and a later expiry pushes the socket's deadline back. Tokens are checked by
//! the one [`Jwt`] of the server, with its rules (HS256, `exp`, `nbf`, no `crit`).

use std::time::Duration;

use serde_json::{Map, Value};
use tokio::time::Instant;

use super::request::frame_token;
use crate::auth::{now_secs, Jwt, Verified};
use crate::error::{Error, Result};
use crate::model::UserId;
use crate::transport::ws::close;

/// The user of one socket, once known, and when the socket must close.
pub struct SocketAuth {
    user: Option<UserId>,
    /// When the socket closes: the end of the auth timeout until a token arrives, then the
    /// newest token's expiry plus the grace.
    deadline: Instant,
    grace: Duration,
}

impl SocketAuth {
    /// A socket that must show a token within `timeout`; `grace` follows each expiry.
    pub fn new(timeout: Duration, grace: Duration) -> Self {
        SocketAuth {
            user: None,
            deadline: Instant::now() + timeout,
            grace,
        }
    }

    pub fn user(&self) -> Option<&UserId> {
        self.user.as_ref()
    }

    pub fn deadline(&self) -> Instant {
        self.deadline
    }

    /// The close frame due at the deadline.
    pub fn close_at_deadline(&self) -> (u16, &'static str) {
        match self.user {
            None => (close::AUTH_TIMEOUT, "authentication timed out"),
            Some(_) => (close::UNAUTHORIZED, "token expired"),
        }
    }

    /// Takes a token verified at the handshake.
    pub fn sign_in(&mut self, v: &Verified) {
        self.user = Some(v.user.clone());
        self.deadline = instant_of(v.expires_at) + self.grace;
    }

    /// The user a frame acts for: that of its token when it has an `Authorization` header
    /// (`unauthorized` when the token is bad, `forbidden` when it is another user's than the
    /// socket's), else the socket's (`unauthorized` when there is none yet).
    pub fn authorize(&mut self, jwt: &Jwt, headers: &Map<String, Value>) -> Result<UserId> {
        let has_header = headers
            .keys()
            .any(|k| k.eq_ignore_ascii_case("authorization"));
        if !has_header {
            return self.user.clone().ok_or(Error::Unauthorized);
        }
        let token = frame_token(headers).ok_or(Error::Unauthorized)?;
        let verified = jwt.verify(token)?;
        if self.user.as_ref().is_some_and(|u| *u != verified.user) {
            return Err(Error::Forbidden);
        }
        let later = instant_of(verified.expires_at) + self.grace;
        if self.user.is_none() || later > self.deadline {
            self.sign_in(&verified);
        }
        Ok(verified.user)
    }
}

/// The `Instant` at which a unix time (seconds) arrives, capped at thirty years (a validly
/// signed token may say `exp: 18446744073709551615`; tokio itself takes thirty years for
/// "never").
fn instant_of(unix_secs: u64) -> Instant {
    const NEVER: Duration = Duration::from_secs(30 * 365 * 24 * 3600);
    let wait = Duration::from_secs(unix_secs.saturating_sub(now_secs())).min(NEVER);
    Instant::now() + wait
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn headers(token: &str) -> Map<String, Value> {
        json!({"authorization": format!("Bearer {token}")})
            .as_object()
            .unwrap()
            .clone()
    }

    #[tokio::test]
    async fn the_first_good_token_decides_the_user() {
        let jwt = Jwt::new("socket-auth-secret-socket-auth-secret");
        let mut auth = SocketAuth::new(Duration::from_secs(5), Duration::from_secs(5));
        let none = Map::new();
        assert!(matches!(
            auth.authorize(&jwt, &none),
            Err(Error::Unauthorized)
        ));
        assert!(matches!(
            auth.authorize(&jwt, &headers("bad")),
            Err(Error::Unauthorized)
        ));
        let basic = json!({"Authorization": "Basic abc"});
        assert!(matches!(
            auth.authorize(&jwt, basic.as_object().unwrap()),
            Err(Error::Unauthorized)
        ));
        assert_eq!(auth.close_at_deadline().0, close::AUTH_TIMEOUT);

        let alice = jwt.mint(&UserId::new("alice"), Duration::from_secs(60));
        let first_deadline = auth.deadline();
        assert_eq!(
            auth.authorize(&jwt, &headers(&alice)).unwrap().as_str(),
            "alice"
        );
        assert!(auth.deadline() > first_deadline + Duration::from_secs(50));
        assert_eq!(auth.authorize(&jwt, &none).unwrap().as_str(), "alice");
        let bob = jwt.mint(&UserId::new("bob"), Duration::from_secs(600));
        assert!(matches!(
            auth.authorize(&jwt, &headers(&bob)),
            Err(Error::Forbidden)
        ));
        // A longer-lived token of the same user pushes the deadline back.
        let before = auth.deadline();
        let longer = jwt.mint(&UserId::new("alice"), Duration::from_secs(3600));
        auth.authorize(&jwt, &headers(&longer)).unwrap();
        assert!(auth.deadline() > before + Duration::from_secs(3000));
        assert_eq!(auth.close_at_deadline().0, close::UNAUTHORIZED);
    }
}
