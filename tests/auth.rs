//! Authentication: every protected route refuses bad tokens with 401 and our shape, and every
//! way a token comes in (HTTP, the WebSockets, frames) applies the same checks.

mod common;

use common::{assert_error, json_of, TestApp, SECRET};
use jsonwebtoken::{encode, Algorithm, EncodingKey, Header};
use serde_json::json;

fn now() -> u64 {
    agentwire::auth::now_secs()
}

fn sign(alg: Algorithm, claims: serde_json::Value, secret: &str) -> String {
    encode(
        &Header::new(alg),
        &claims,
        &EncodingKey::from_secret(secret.as_bytes()),
    )
    .unwrap()
}

const ROUTES: [(&str, &str); 5] = [
    ("POST", "/api/u/chat"),
    ("POST", "/api/u/chat/stream"),
    ("GET", "/api/u/conversations"),
    (
        "GET",
        "/api/u/conversations/00000000-0000-0000-0000-000000000000/messages",
    ),
    ("GET", "/api/u/tasks"),
];

#[tokio::test]
async fn bad_tokens_get_401_with_www_authenticate_on_every_route() {
    let app = TestApp::spawn().await;
    let tokens: Vec<(&str, Option<String>)> = vec![
        ("missing", None),
        ("malformed", Some("Bearer not-a-jwt".into())),
        ("wrong scheme", Some(format!("Basic {}", app.token_for("u")))),
        ("bad signature", Some(format!("Bearer {}", sign(Algorithm::HS256, json!({"sub":"u","exp":now()+60}), "wrong-secret")))),
        ("expired", Some(format!("Bearer {}", sign(Algorithm::HS256, json!({"sub":"u","exp":now()-120}), SECRET)))),
        ("no exp", Some(format!("Bearer {}", sign(Algorithm::HS256, json!({"sub":"u"}), SECRET)))),
        ("other algorithm", Some(format!("Bearer {}", sign(Algorithm::HS512, json!({"sub":"u","exp":now()+60}), SECRET)))),
        ("alg none", Some("Bearer eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.eyJzdWIiOiJ1IiwiZXhwIjo5OTk5OTk5OTk5fQ.".into())),
    ];
    for (what, header) in &tokens {
        for (method, path) in ROUTES {
            let mut req = app
                .client()
                .request(method.parse().unwrap(), format!("{}{path}", app.url));
            if let Some(h) = header {
                req = req.header("authorization", h);
            }
            if method == "POST" {
                req = req.json(&json!({"message": "hi"}));
            }
            let r = req.send().await.unwrap();
            assert_eq!(r.status(), 401, "{what} on {method} {path}");
            assert_eq!(r.headers()["www-authenticate"], "Bearer", "{what}");
            let (_, v) = json_of(r).await;
            assert_error(&v, "unauthorized");
        }
    }
    // None of those requests reached the store.
    assert!(app.tasks("u").await.is_empty());
}

#[tokio::test]
async fn auth_is_checked_before_the_body() {
    let app = TestApp::spawn().await;
    let r = app
        .client()
        .post(format!("{}/api/u/chat", app.url))
        .body("{broken")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
}

#[tokio::test]
async fn user_id_claim_and_extra_claims_are_accepted() {
    let app = TestApp::spawn().await;
    let t = sign(
        Algorithm::HS256,
        json!({"sub":"user-456","user_id":"user-456","email":"u@example.com","iat":now(),"exp":now()+600}),
        SECRET,
    );
    let r = app
        .client()
        .get(format!("{}/api/user-456/tasks", app.url))
        .bearer_auth(&t)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    // sub and user_id that disagree are refused outright.
    let t = sign(
        Algorithm::HS256,
        json!({"sub":"a","user_id":"b","exp":now()+600}),
        SECRET,
    );
    let r = app
        .client()
        .get(format!("{}/api/a/tasks", app.url))
        .bearer_auth(&t)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
}

#[tokio::test]
async fn health_needs_no_token() {
    let app = TestApp::spawn().await;
    let r = app
        .client()
        .get(format!("{}/api/health", app.url))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}

/// A token with this exact header JSON (jsonwebtoken's `Header` cannot carry `crit`), signed
/// HS256 with the test secret.
fn sign_with_header(header: serde_json::Value, claims: serde_json::Value) -> String {
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine;
    let segment = |v: serde_json::Value| URL_SAFE_NO_PAD.encode(v.to_string());
    let message = format!("{}.{}", segment(header), segment(claims));
    let key = EncodingKey::from_secret(SECRET.as_bytes());
    let signature = jsonwebtoken::crypto::sign(message.as_bytes(), &key, Algorithm::HS256).unwrap();
    format!("{message}.{signature}")
}

/// Every way a user token comes in.
#[derive(Debug, Clone, Copy)]
enum Way {
    Rest,
    Sse,
    ChatKit,
    ChatKitAttachment,
    Mcp,
    WsHeader,
    WsQuery,
    WsAuthFrame,
    AiSdkHttp,
    AiSdkResume,
    AiSdkWsQuery,
    AiSdkWsProtocol,
    AiSdkFrame,
}

const WAYS: [Way; 13] = [
    Way::Rest,
    Way::Sse,
    Way::ChatKit,
    Way::ChatKitAttachment,
    Way::Mcp,
    Way::WsHeader,
    Way::WsQuery,
    Way::WsAuthFrame,
    Way::AiSdkHttp,
    Way::AiSdkResume,
    Way::AiSdkWsQuery,
    Way::AiSdkWsProtocol,
    Way::AiSdkFrame,
];

/// Whether `way` accepts `token` for user `u`. Each request is valid apart from its token, so
/// an HTTP way answers its own success status or 401 in our shape, nothing else; a socket
/// answers `ready` and then keeps serving (a ping gets its pong), or closes 4401.
async fn accepted(app: &TestApp, way: Way, token: &str) -> bool {
    use common::ws::{bearer_request, WsClient};
    let http = |method: &str, path: &str| {
        app.client()
            .request(method.parse().unwrap(), format!("{}{path}", app.url))
            .bearer_auth(token)
    };
    let (request, success) = match way {
        Way::Rest => (http("GET", "/api/u/tasks"), 200),
        Way::Sse => (
            http("POST", "/api/u/chat/stream").json(&json!({"message": "hi"})),
            200,
        ),
        Way::ChatKit => (
            http("POST", "/api/chatkit").json(&json!({"type": "threads.list", "params": {}})),
            200,
        ),
        // Past authentication an attachment nobody has is 404.
        Way::ChatKitAttachment => (
            http(
                "GET",
                "/api/chatkit/attachments/00000000-0000-0000-0000-000000000000/preview",
            ),
            404,
        ),
        Way::Mcp => (
            http("POST", "/api/mcp")
                .header("accept", "application/json, text/event-stream")
                .json(
                    &json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
                    "protocolVersion": "2025-06-18", "capabilities": {},
                    "clientInfo": {"name": "t", "version": "1"}}}),
                ),
            200,
        ),
        Way::AiSdkHttp => (
            // A chat of its own each time: one still answering would be 409.
            http("POST", "/api/ai-sdk").json(&common::ai_sdk::chat_body(
                &uuid::Uuid::new_v4().to_string(),
                "hi",
            )),
            200,
        ),
        Way::AiSdkResume => (http("GET", "/api/ai-sdk/c/stream"), 204),
        Way::AiSdkWsQuery | Way::AiSdkWsProtocol | Way::AiSdkFrame => {
            return ai_sdk_socket_accepts(app, way, token).await;
        }
        Way::WsHeader | Way::WsQuery | Way::WsAuthFrame => {
            let mut c = match way {
                Way::WsHeader => WsClient::connect_request(bearer_request(app, token)).await,
                Way::WsQuery => {
                    let url = format!("ws://{}/api/ws?token={token}", app.addr);
                    WsClient::connect_request(url).await
                }
                _ => {
                    let mut c = WsClient::connect_bare(app).await;
                    c.send(json!({"type": "auth", "token": token})).await;
                    c
                }
            };
            use futures::StreamExt;
            use tokio_tungstenite::tungstenite::Message;
            let first = tokio::time::timeout(common::ws::WAIT, c.ws.next())
                .await
                .expect("an answer within the wait");
            return match first {
                Some(Ok(Message::Text(t))) => {
                    let ready: serde_json::Value = serde_json::from_str(t.as_str()).unwrap();
                    assert_eq!(ready["type"], "ready", "{way:?}: {ready}");
                    assert!(c.sync("alive").await.is_empty(), "{way:?}");
                    true
                }
                Some(Ok(Message::Close(frame))) => {
                    let code = frame.map(|f| u16::from(f.code));
                    assert_eq!(code, Some(4401), "{way:?}");
                    false
                }
                other => panic!("{way:?}: unexpected {other:?}"),
            };
        }
    };
    let r = request.send().await.unwrap();
    let status = r.status().as_u16();
    if status == 401 {
        let (_, v) = json_of(r).await;
        assert_error(&v, "unauthorized");
        return false;
    }
    assert_eq!(status, success, "{way:?}: {}", r.text().await.unwrap());
    true
}

/// Whether an `/api/ai-sdk/ws` socket takes `token` (at the handshake, or in a frame's
/// headers): two resumes both answered `no-active`; refused, a close 4401 (handshake) or an
/// `error` `unauthorized` (frame).
async fn ai_sdk_socket_accepts(app: &TestApp, way: Way, token: &str) -> bool {
    use common::ai_sdk::{resume, AiSocket};
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    use tokio_tungstenite::tungstenite::Message;
    let base = format!("ws://{}/api/ai-sdk/ws", app.addr);
    let (mut s, in_frame) = match way {
        Way::AiSdkWsQuery => (
            AiSocket::connect_request(format!("{base}?token={token}")).await,
            None,
        ),
        Way::AiSdkWsProtocol => {
            let mut req = base.into_client_request().unwrap();
            let offered = format!("agentwire, bearer.{token}");
            req.headers_mut()
                .insert("sec-websocket-protocol", offered.parse().unwrap());
            (AiSocket::connect_request(req).await, None)
        }
        _ => (AiSocket::connect_request(base).await, Some(token)),
    };
    use futures::StreamExt;
    for id in ["r1", "r2"] {
        s.send(resume(id, "c", None, in_frame)).await;
        let answer = tokio::time::timeout(common::ws::WAIT, s.ws.next())
            .await
            .expect("an answer within the wait");
        match answer {
            Some(Ok(Message::Text(t))) => {
                let f: serde_json::Value = serde_json::from_str(t.as_str()).unwrap();
                if f["type"] == "error" {
                    assert!(in_frame.is_some(), "{way:?}: {f}");
                    assert!(f["errorText"]
                        .as_str()
                        .unwrap()
                        .starts_with("unauthorized: "));
                    return false;
                }
                assert_eq!(f, json!({"type": "no-active", "requestId": id}), "{way:?}");
            }
            Some(Ok(Message::Close(frame))) => {
                assert!(in_frame.is_none(), "{way:?}");
                assert_eq!(frame.map(|f| u16::from(f.code)), Some(4401), "{way:?}");
                return false;
            }
            other => panic!("{way:?}: unexpected {other:?}"),
        }
    }
    true
}

#[tokio::test]
async fn every_way_in_applies_the_same_token_checks() {
    let app = TestApp::spawn().await;
    let plain = json!({"alg": "HS256", "typ": "JWT"});
    let claims = json!({"sub": "u", "exp": now() + 3600});
    let cases = [
        // (what, token, accepted)
        ("valid", app.token_for("u"), true),
        (
            "nbf an hour ahead",
            sign(
                Algorithm::HS256,
                json!({"sub": "u", "exp": now() + 7200, "nbf": now() + 3600}),
                SECRET,
            ),
            false,
        ),
        (
            "nbf passed",
            sign(
                Algorithm::HS256,
                json!({"sub": "u", "exp": now() + 3600, "nbf": now() - 60}),
                SECRET,
            ),
            true,
        ),
        (
            "hand-made header",
            sign_with_header(plain, claims.clone()),
            true,
        ),
        (
            "crit header",
            sign_with_header(
                json!({"alg": "HS256", "typ": "JWT", "crit": ["exp"]}),
                claims,
            ),
            false,
        ),
        // The largest exp a token can carry: accepted, and nothing overflows after `ready`.
        (
            "exp u64::MAX",
            sign(
                Algorithm::HS256,
                json!({"sub": "u", "exp": u64::MAX}),
                SECRET,
            ),
            true,
        ),
    ];
    let mut wrong = Vec::new();
    for (what, token, expected) in &cases {
        for way in WAYS {
            if accepted(&app, way, token).await != *expected {
                wrong.push(format!("{what} on {way:?}"));
            }
        }
    }
    assert!(wrong.is_empty(), "wrongly accepted or refused: {wrong:#?}");
}
