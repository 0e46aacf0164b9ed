//! Hostile tokens over HTTP and every way in: each refused one gets 401 in our shape (4401 on a
//! socket), on REST, SSE, the three WebSocket ways, ChatKit, attachments, MCP and the AI SDK's
//! (its HTTP routes, its socket's handshake and its frames' headers) alike. The cases: `alg`
//! none (however spelt) and confused (RS256, ES256, HS512 … over an HMAC signature), bad
//! signatures, expired, missing or malformed `exp`, `nbf` ahead, a `crit` header, and a `sub`
//! of every wrong type; the largest `exp` is accepted and overflows nothing.

mod common;

use common::jwt::{now, sign, sign_with_header, signed, unsigned};
use common::{assert_error, json_of, TestApp, SECRET};
use jsonwebtoken::Algorithm;
use serde_json::{json, Value};

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

/// Tokens every way in must refuse, each validly formed but for one thing: (what, token).
fn refused_tokens() -> Vec<(&'static str, String)> {
    let exp = now() + 3600;
    let claims = json!({"sub": "u", "exp": exp});
    let hs256 = json!({"alg": "HS256", "typ": "JWT"});
    let valid = signed(claims.clone());
    let (head, signature) = valid.rsplit_once('.').unwrap();
    // The signature's first character changed (its last one carries padding bits, which a
    // lenient decoder could ignore).
    let first = if signature.starts_with('A') { "B" } else { "A" };
    let flipped = format!("{first}{}", &signature[1..]);
    let with_sub = |sub: Value| signed(json!({"sub": sub, "exp": exp}));
    vec![
        ("malformed", "not-a-jwt".into()),
        ("two segments", head.to_string()),
        (
            "bad signature",
            sign(Algorithm::HS256, claims.clone(), "wrong-secret"),
        ),
        ("flipped signature", format!("{head}.{flipped}")),
        ("no signature", format!("{head}.")),
        (
            "signature of another token",
            format!(
                "{head}.{}",
                signed(json!({"sub": "v", "exp": exp}))
                    .rsplit_once('.')
                    .unwrap()
                    .1
            ),
        ),
        (
            "alg none",
            unsigned(json!({"alg": "none", "typ": "JWT"}), claims.clone()),
        ),
        ("alg None", unsigned(json!({"alg": "None"}), claims.clone())),
        ("alg NONE", unsigned(json!({"alg": "NONE"}), claims.clone())),
        ("alg nOnE", unsigned(json!({"alg": "nOnE"}), claims.clone())),
        (
            "alg none, signed",
            sign_with_header(json!({"alg": "none"}), claims.clone()),
        ),
        (
            "no alg",
            sign_with_header(json!({"typ": "JWT"}), claims.clone()),
        ),
        (
            "alg RS256 over HMAC",
            sign_with_header(json!({"alg": "RS256", "typ": "JWT"}), claims.clone()),
        ),
        (
            "alg ES256 over HMAC",
            sign_with_header(json!({"alg": "ES256"}), claims.clone()),
        ),
        (
            "alg PS256 over HMAC",
            sign_with_header(json!({"alg": "PS256"}), claims.clone()),
        ),
        (
            "alg EdDSA over HMAC",
            sign_with_header(json!({"alg": "EdDSA"}), claims.clone()),
        ),
        ("alg HS384", sign(Algorithm::HS384, claims.clone(), SECRET)),
        ("alg HS512", sign(Algorithm::HS512, claims.clone(), SECRET)),
        (
            "crit header",
            sign_with_header(json!({"alg": "HS256", "crit": ["exp"]}), claims.clone()),
        ),
        (
            "header not JSON",
            format!("bm90IGpzb24.{}", valid.split_once('.').unwrap().1),
        ),
        ("expired", signed(json!({"sub": "u", "exp": now() - 120}))),
        ("no exp", signed(json!({"sub": "u"}))),
        (
            "exp a string",
            signed(json!({"sub": "u", "exp": exp.to_string()})),
        ),
        ("exp negative", signed(json!({"sub": "u", "exp": -1}))),
        (
            "nbf an hour ahead",
            signed(json!({"sub": "u", "exp": exp, "nbf": now() + 3600})),
        ),
        (
            "nbf a string",
            signed(json!({"sub": "u", "exp": exp, "nbf": "0"})),
        ),
        ("no sub", signed(json!({"exp": exp}))),
        ("sub a number", with_sub(json!(42))),
        ("sub null", with_sub(Value::Null)),
        ("sub an object", with_sub(json!({"id": "u"}))),
        ("sub an array", with_sub(json!(["u"]))),
        ("sub empty", with_sub(json!(""))),
        ("sub a control character", with_sub(json!("u\n"))),
        ("sub of 129 characters", with_sub(json!("u".repeat(129)))),
        (
            "sub and user_id disagree",
            signed(json!({"sub": "u", "user_id": "v", "exp": exp})),
        ),
        (
            "user_id a number",
            signed(json!({"user_id": 42, "exp": exp})),
        ),
        (
            "hs256 header, claims not JSON",
            format!("{}.bm90IGpzb24.{signature}", common::jwt::segment(&hs256)),
        ),
    ]
}

#[tokio::test]
async fn bad_tokens_get_401_with_www_authenticate_on_every_route() {
    let app = TestApp::spawn().await;
    let mut headers: Vec<(&str, Option<String>)> = vec![
        ("missing", None),
        (
            "wrong scheme",
            Some(format!("Basic {}", app.token_for("u"))),
        ),
        ("bearer without a token", Some("Bearer".into())),
        // (An empty token on a socket is no token: the socket waits for an `auth` frame.)
        ("bearer, empty token", Some("Bearer ".into())),
    ];
    for (what, token) in refused_tokens() {
        headers.push((what, Some(format!("Bearer {token}"))));
    }
    for (what, header) in &headers {
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
                .json(&common::mcp::initialize()),
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
    let exp = now() + 3600;
    let mut cases: Vec<(&str, String, bool)> = vec![
        // (what, token, accepted)
        ("valid", app.token_for("u"), true),
        (
            "nbf passed",
            signed(json!({"sub": "u", "exp": exp, "nbf": now() - 60})),
            true,
        ),
        (
            "user_id without sub",
            signed(json!({"user_id": "u", "exp": exp})),
            true,
        ),
        (
            "hand-made header",
            sign_with_header(
                json!({"alg": "HS256", "typ": "JWT"}),
                json!({"sub": "u", "exp": exp}),
            ),
            true,
        ),
        // The largest exp a token can carry: accepted, and nothing overflows after `ready`.
        (
            "exp u64::MAX",
            signed(json!({"sub": "u", "exp": u64::MAX})),
            true,
        ),
    ];
    cases.extend(
        refused_tokens()
            .into_iter()
            .map(|(what, t)| (what, t, false)),
    );
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
