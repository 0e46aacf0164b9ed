//! Authentication over HTTP: every protected route refuses bad tokens with 401 and our shape.

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
