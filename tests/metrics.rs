//! `GET /metrics`: Prometheus text with the request, socket and turn counters.
//! One test in its own binary: the counters are process-wide.

mod common;

use common::ws::WsClient;
use common::{metric as value, TestApp};

#[tokio::test]
async fn metrics_count_requests_sockets_and_turns() {
    let app = TestApp::spawn().await;
    app.say("alice", "hello", None).await;
    let bad = app
        .post("/api/bob/chat", "alice")
        .json(&serde_json::json!({"message": "hi"}))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 403);
    let mut ws = WsClient::connect(&app, "alice").await;
    ws.sync("p").await;

    let r = app
        .client()
        .get(format!("{}/metrics", app.url))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/plain"));
    let text = r.text().await.unwrap();
    let chat = r#"route="/api/{user_id}/chat""#;
    assert_eq!(
        value(
            &text,
            &format!(r#"agentwire_http_requests_total{{{chat},status="200"}}"#)
        ),
        1.0,
        "{text}"
    );
    assert_eq!(
        value(
            &text,
            &format!(r#"agentwire_http_errors_total{{{chat},status="403"}}"#)
        ),
        1.0
    );
    assert!(text.contains(&format!(
        r#"agentwire_http_request_duration_seconds_count{{{chat}}} 2"#
    )));
    // Routes, never raw paths: no user id becomes a label.
    assert!(!text.contains("/api/alice"));
    assert_eq!(value(&text, "agentwire_ws_sockets_open"), 1.0);
    assert_eq!(value(&text, "agentwire_ws_sockets_opened_total"), 1.0);
    assert_eq!(
        value(
            &text,
            r#"agentwire_turns_finished_total{status="completed"}"#
        ),
        1.0
    );
    assert_eq!(value(&text, "agentwire_turns_running"), 0.0);
    assert!(value(&text, "agentwire_stream_deltas_total") >= 1.0);
    assert!(text.contains("agentwire_ws_queue_drops_total 0"));
    // The turn's events are kept for resumes; the sweep (every second) reports them.
    let mut kept = 0.0;
    for _ in 0..100 {
        kept = value(&app.metrics().await, "agentwire_resume_kept_bytes");
        if kept > 0.0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(kept > 0.0);
    assert!(value(&app.metrics().await, "agentwire_resume_users") >= 1.0);

    drop(ws);
    // The gauge falls when the socket's task ends.
    let mut open = 1.0;
    for _ in 0..100 {
        let text = app.metrics().await;
        open = value(&text, "agentwire_ws_sockets_open");
        if open == 0.0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(open, 0.0);
}
