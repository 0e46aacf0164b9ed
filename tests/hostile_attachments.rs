//! ChatKit attachment links as an attacker holding one uses them: a signature names its purpose
//! (view or upload) and its attachment; an upload link writes the bytes once, stops working
//! once the attachment is sent, and expires quickly; nothing a link alone gets back names a
//! thread. On SQLite and PostgreSQL.

mod common;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use common::chatkit::ck;
use common::jwt::signed;
use common::{assert_error, TestApp};
use serde_json::{json, Value};

/// An image attachment of alice's, announced but not uploaded: (id, upload URL, preview URL).
async fn announced(app: &TestApp) -> (String, String, String) {
    let a = ck(app, "alice", json!({"type": "attachments.create", "params": {"name": "cat.png", "size": 4, "mime_type": "image/png"}})).await.json();
    (
        a["id"].as_str().unwrap().to_string(),
        a["upload_descriptor"]["url"].as_str().unwrap().to_string(),
        a["preview_url"].as_str().unwrap().to_string(),
    )
}

/// The route of a link with another link's signature.
fn with_sig_of(route: &str, link: &str) -> String {
    let sig = link.split("sig=").nth(1).unwrap();
    format!("{}?sig={sig}", route.split('?').next().unwrap())
}

/// The claims inside a link's signature.
fn sig_claims(link: &str) -> Value {
    let sig = link.split("sig=").nth(1).unwrap();
    let payload = sig.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

/// A link alone (no bearer token) with this body; status and body text.
async fn anonymous_post(app: &TestApp, url: &str, body: &[u8]) -> (u16, String) {
    let r = app
        .client()
        .post(url)
        .body(body.to_vec())
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

async fn preview_bytes(app: &TestApp, url: &str) -> (u16, Vec<u8>) {
    let r = app.client().get(url).send().await.unwrap();
    (r.status().as_u16(), r.bytes().await.unwrap().to_vec())
}

#[tokio::test]
async fn a_view_link_cannot_upload_and_an_upload_link_cannot_view() {
    let app = TestApp::spawn().await;
    let (_, upload, preview) = announced(&app).await;
    assert_eq!(sig_claims(&upload)["use"], "upload");
    assert_eq!(sig_claims(&preview)["use"], "view");

    let (status, body) = anonymous_post(&app, &with_sig_of(&upload, &preview), b"evil").await;
    assert_eq!(status, 401, "{body}");
    assert_error(&serde_json::from_str(&body).unwrap(), "unauthorized");
    assert_eq!(
        preview_bytes(&app, &with_sig_of(&preview, &upload)).await.0,
        401
    );

    // Nothing was written: the upload link still works, once.
    let (status, body) = anonymous_post(&app, &upload, b"good").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(preview_bytes(&app, &preview).await, (200, b"good".to_vec()));
    assert_eq!(
        preview_bytes(&app, &with_sig_of(&preview, &upload)).await.0,
        401
    );
}

#[tokio::test]
async fn bytes_are_written_once_and_never_after_the_attachment_is_sent() {
    written_once(TestApp::spawn().await).await;
}

#[tokio::test]
async fn bytes_are_written_once_on_postgres() {
    let Some(url) = common::fresh_postgres().await else {
        eprintln!("note: TEST_DATABASE_URL is unset; skipping");
        return;
    };
    written_once(TestApp::spawn_on(&url).await).await;
}

async fn written_once(app: TestApp) {
    let (id, upload, preview) = announced(&app).await;
    let (status, body) = anonymous_post(&app, &upload, b"good").await;
    assert_eq!(status, 200, "{body}");
    let answer: Value = serde_json::from_str(&body).unwrap();
    assert!(answer.get("thread_id").is_none() && answer.get("upload_descriptor").is_none());

    // The same link again: 409, in our shape.
    let (status, body) = anonymous_post(&app, &upload, b"evil").await;
    assert_eq!(status, 409, "{body}");
    assert_error(&serde_json::from_str(&body).unwrap(), "conflict");

    // Sent in a thread: neither the upload link, nor the view link, nor the owner's own token
    // replaces the bytes, and nothing a link gets back names the thread.
    let msg = json!({"type": "threads.create", "params": {"input": {"content": [{"type": "input_text", "text": "look"}], "attachments": [id]}}});
    let events = ck(&app, "alice", msg).await.events();
    let thread = events[0]["thread"]["id"].as_str().unwrap().to_string();
    for url in [upload.clone(), with_sig_of(&upload, &preview)] {
        let (status, body) = anonymous_post(&app, &url, b"evil").await;
        assert!(status == 409 || status == 401, "{status} {body}");
        assert!(!body.contains(&thread), "{body}");
    }
    let r = app
        .post(&format!("/api/chatkit/attachments/{id}/upload"), "alice")
        .body(b"evil".to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 409);
    assert_eq!(preview_bytes(&app, &preview).await, (200, b"good".to_vec()));
    app.stop().await;
}

#[tokio::test]
async fn upload_links_expire_quickly_and_need_their_purpose() {
    let app = TestApp::spawn().await;
    let (id, upload, _) = announced(&app).await;
    let now = agentwire::auth::now_secs();
    let exp = sig_claims(&upload)["exp"].as_u64().unwrap();
    let ttl = agentwire::transport::chatkit::attachments::UPLOAD_LINK_TTL.as_secs();
    assert!(
        exp <= now + ttl + 1 && ttl <= 15 * 60,
        "exp {exp}, now {now}"
    );

    let route = upload.split('?').next().unwrap();
    let cases = [
        (
            "expired",
            json!({"att": id, "own": "alice", "use": "upload", "exp": now - 60}),
        ),
        (
            "no purpose",
            json!({"att": id, "own": "alice", "exp": now + 600}),
        ),
        (
            "unknown purpose",
            json!({"att": id, "own": "alice", "use": "admin", "exp": now + 600}),
        ),
        (
            "not yet valid",
            json!({"att": id, "own": "alice", "use": "upload", "exp": now + 600, "nbf": now + 300}),
        ),
    ];
    for (what, claims) in cases {
        let url = format!("{route}?sig={}", signed(claims));
        let (status, body) = anonymous_post(&app, &url, b"late").await;
        assert_eq!(status, 401, "{what}: {body}");
    }
    // A fresh, well-formed one works.
    let url = format!(
        "{route}?sig={}",
        signed(json!({"att": id, "own": "alice", "use": "upload", "exp": now + 60}))
    );
    assert_eq!(anonymous_post(&app, &url, b"ok").await.0, 200);
}
