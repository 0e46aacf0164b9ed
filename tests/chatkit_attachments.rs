//! ChatKit attachments over HTTP: the two-phase upload (create, then upload to the signed URL)
//! and the direct multipart upload, previews, sending and deleting, and who may do each. What a
//! link alone may do (and may not) is in `hostile_attachments.rs`.

mod common;

use common::chatkit::ck;
use common::TestApp;
use serde_json::{json, Value};

#[tokio::test]
async fn attachments_two_phase_and_direct() {
    let app = TestApp::spawn_with(|c| c.attachment_max_bytes = 1000).await;
    let a = ck(&app, "alice", json!({"type": "attachments.create", "params": {"name": "cat.png", "size": 4, "mime_type": "image/png"}})).await.json();
    assert_eq!(a["type"], "image");
    assert!(a.get("thread_id").is_none() && a.get("metadata").is_none());
    let id = a["id"].as_str().unwrap().to_string();
    let upload = a["upload_descriptor"]["url"].as_str().unwrap().to_string();
    assert_eq!(a["upload_descriptor"]["method"], "POST");
    assert!(a["preview_url"].as_str().unwrap().starts_with("http://"));

    // Using it before the upload is refused.
    let msg = json!({"type": "threads.create", "params": {"input": {"content": [{"type": "input_text", "text": "look"}], "attachments": [id]}}});
    assert_eq!(ck(&app, "alice", msg.clone()).await.status, 400);

    // Another user's token cannot upload to it; the signed URL alone can, raw or multipart.
    let r = app
        .client()
        .post(&upload)
        .bearer_auth(app.token_for("bob"))
        .body(vec![1u8, 2, 3, 4])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    // The signature is no user token.
    let sig = upload.split("sig=").nth(1).unwrap();
    let r = reqwest::Client::new()
        .post(format!("{}/api/chatkit", app.url))
        .bearer_auth(sig)
        .json(&json!({"type": "threads.list", "params": {}}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    // Nor does a signature for one attachment open another.
    let other = ck(&app, "alice", json!({"type": "attachments.create", "params": {"name": "b.png", "size": 1, "mime_type": "image/png"}})).await.json();
    let other_upload = other["upload_descriptor"]["url"].as_str().unwrap();
    let forged = format!("{}?sig={sig}", other_upload.split('?').next().unwrap());
    let r = app
        .client()
        .post(forged)
        .body(vec![1u8])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let bare = upload.split('?').next().unwrap();
    let r = app
        .client()
        .post(bare)
        .body(vec![1u8])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let r = app
        .client()
        .post(&upload)
        .body(vec![0u8; 1001])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 413);
    let r = app
        .client()
        .put(&upload)
        .body(vec![1u8, 2, 3, 4])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let up: Value = r.json().await.unwrap();
    assert!(up.get("upload_descriptor").is_none());
    let preview = app
        .client()
        .get(up["preview_url"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(preview.status(), 200);
    assert_eq!(preview.headers()["content-type"], "image/png");
    assert_eq!(preview.headers()["x-content-type-options"], "nosniff");
    assert_eq!(preview.bytes().await.unwrap().as_ref(), &[1u8, 2, 3, 4]);

    // Bob cannot send it or delete it.
    assert_eq!(ck(&app, "bob", msg.clone()).await.status, 404);
    assert_eq!(
        ck(
            &app,
            "bob",
            json!({"type": "attachments.delete", "params": {"attachment_id": id}})
        )
        .await
        .status,
        404
    );

    let events = ck(&app, "alice", msg.clone()).await.events();
    let thread = events[0]["thread"]["id"].clone();
    let att = &events[1]["item"]["attachments"][0];
    assert_eq!(
        (att["id"].as_str(), &att["thread_id"]),
        (Some(id.as_str()), &thread)
    );
    assert_eq!(att["name"], "cat.png");

    let a = ck(
        &app,
        "alice",
        json!({"type": "attachments.delete", "params": {"attachment_id": id}}),
    )
    .await;
    assert_eq!(a.json(), json!({}));
    assert_eq!(ck(&app, "alice", msg).await.status, 404);
    let aid = agentwire::transport::chatkit::attachments::parse_attachment_id(&id).unwrap();
    let gone = app
        .state
        .store
        .attachment_bytes(&agentwire::model::UserId::new("alice"), aid)
        .await
        .unwrap();
    assert!(gone.is_none(), "bytes freed");

    // Direct upload: multipart `file`.
    let r = upload_direct(&app, "alice", b"hello", "notes.txt", "text/plain").await;
    assert_eq!(r.status(), 200);
    let d: Value = r.json().await.unwrap();
    assert_eq!(
        (d["type"].as_str(), d["name"].as_str()),
        (Some("file"), Some("notes.txt"))
    );
    assert!(d.get("upload_descriptor").is_none() && d.get("preview_url").is_none());
    let r = upload_direct(&app, "alice", b"MZ", "x.exe", "application/x-msdownload").await;
    assert_eq!(r.status(), 415);
}

/// `POST /api/chatkit/attachments` with `bytes` as the multipart `file` field.
async fn upload_direct(
    app: &TestApp,
    user: &str,
    bytes: &[u8],
    name: &str,
    mime: &str,
) -> reqwest::Response {
    let part = reqwest::multipart::Part::bytes(bytes.to_vec())
        .file_name(name.to_string())
        .mime_str(mime)
        .unwrap();
    app.post("/api/chatkit/attachments", user)
        .multipart(reqwest::multipart::Form::new().part("file", part))
        .send()
        .await
        .unwrap()
}
