//! Hostile frames on an authenticated socket: malformed ones each get an `error` event with
//! their `request_id` and the socket keeps serving; an oversized one closes it with 1009 (before
//! authentication too); a burst of 1,000 frames is answered whole, in order, without touching
//! anyone else's socket.

mod common;

use common::ws::{Ended, WsClient};
use common::TestApp;
use futures::SinkExt;
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::Message;

#[tokio::test]
async fn malformed_frames_get_error_events_and_the_socket_keeps_serving() {
    let app = TestApp::spawn().await;
    let mut c = WsClient::connect(&app, "m").await;
    let cases = [
        ("not json", "invalid_frame", None),
        ("[1,2,3]", "invalid_frame", None),
        (r#"{"content":"no type"}"#, "invalid_frame", None),
        (
            r#"{"type":"dance","request_id":"r1"}"#,
            "unknown_type",
            Some("r1"),
        ),
        (
            r#"{"type":"message","request_id":"r2"}"#,
            "invalid_frame",
            Some("r2"),
        ),
        (
            r#"{"type":"message","content":7,"request_id":"r3"}"#,
            "invalid_frame",
            Some("r3"),
        ),
        (
            r#"{"type":"threads.list","limit":"x","request_id":"r4"}"#,
            "invalid_frame",
            Some("r4"),
        ),
        (
            r#"{"type":"threads.list","limit":0,"request_id":"r5"}"#,
            "invalid_frame",
            Some("r5"),
        ),
        (
            r#"{"type":"cancel","request_id":"r6"}"#,
            "invalid_frame",
            Some("r6"),
        ),
        (
            r#"{"type":"message","content":"   ","request_id":"r7"}"#,
            "invalid_frame",
            Some("r7"),
        ),
        (
            r#"{"type":"message","content":"hi","metadata":5,"request_id":"r8"}"#,
            "invalid_frame",
            Some("r8"),
        ),
    ];
    for (text, code, rid) in cases {
        c.send_raw(Message::Text(text.into())).await;
        let e = c.next().await;
        assert_eq!(e["type"], "error", "{text}");
        assert_eq!(e["code"], code, "{text}: {e}");
        assert!(!e["message"].as_str().unwrap().is_empty());
        if let Some(rid) = rid {
            assert_eq!(e["request_id"], rid, "{text}");
        }
    }
    c.send_raw(Message::Binary(vec![0u8; 10].into())).await;
    let e = c.next().await;
    assert_eq!(e["code"], "invalid_frame");

    let long = "a".repeat(2001);
    c.send(json!({"type": "message", "content": long, "request_id": "long"}))
        .await;
    let e = c.next().await;
    assert_eq!(e["code"], "message_too_long");
    assert_eq!(e["request_id"], "long");

    for (frame, code) in [
        (
            json!({"type": "message", "content": "hi", "thread_id": "nope", "request_id": "n1"}),
            "not_found",
        ),
        (
            json!({"type": "thread.load", "thread_id": "00000000-0000-0000-0000-000000000000", "request_id": "n2"}),
            "not_found",
        ),
        (
            json!({"type": "cancel", "thread_id": "00000000-0000-0000-0000-000000000000", "request_id": "n3"}),
            "not_found",
        ),
    ] {
        let rid = frame["request_id"].clone();
        c.send(frame).await;
        let e = c.next().await;
        assert_eq!(e["code"], code, "{e}");
        assert_eq!(e["request_id"], rid);
    }
    // Still serving, and nothing else was queued.
    assert!(c.sync("alive").await.is_empty());
    // A valid turn still works on the same socket.
    c.send(json!({"type": "message", "content": "show my tasks"}))
        .await;
    let frames = c.until_done(1).await;
    assert_eq!(frames.last().unwrap()["message"]["status"], "completed");
}

#[tokio::test]
async fn oversized_frame_closes_1009() {
    let app = TestApp::spawn().await;
    let mut c = WsClient::connect(&app, "big").await;
    let huge = json!({"type": "message", "content": "x".repeat(70 * 1024)});
    c.send(huge).await;
    assert_eq!(c.ended().await, Ended::Close(1009));
}

#[tokio::test]
async fn an_oversized_first_frame_closes_1009() {
    let app = TestApp::spawn().await;
    let mut c = WsClient::connect_bare(&app).await;
    // A 100 KB token, over the 64 KiB frame limit, before the socket is authenticated.
    c.send(json!({"type": "auth", "token": "x".repeat(100 * 1024)}))
        .await;
    assert_eq!(c.ended().await, Ended::Close(1009));
}

/// One frame of the burst and the answer it must get: `(frame, answer type, error code)`.
fn burst_frame(i: usize) -> (Message, &'static str, Option<&'static str>) {
    let id = format!("b{i}");
    let text = |v: Value| Message::Text(v.to_string().into());
    match i % 6 {
        0 => (
            text(json!({"type": "ping", "request_id": id})),
            "pong",
            None,
        ),
        1 => (
            text(json!({"type": "threads.list", "request_id": id})),
            "threads",
            None,
        ),
        2 => (
            Message::Text(format!(r#"{{"type":"ping","request_id":"{id}""#).into()),
            "error",
            Some("invalid_frame"),
        ),
        3 => (
            text(json!({"type": "dance", "request_id": id})),
            "error",
            Some("unknown_type"),
        ),
        4 => (
            text(json!({"type": "thread.load", "request_id": id,
                "thread_id": "00000000-0000-4000-8000-000000000000"})),
            "error",
            Some("not_found"),
        ),
        _ => (
            text(json!({"type": "cancel", "thread_id": "nope", "request_id": id})),
            "error",
            Some("not_found"),
        ),
    }
}

#[tokio::test]
async fn a_burst_of_a_thousand_frames_is_answered_whole_and_in_order() {
    const BURST: usize = 1000;
    let app = TestApp::spawn().await;
    let mut bystander = WsClient::connect(&app, "bystander").await;
    let mut c = WsClient::connect(&app, "burst").await;
    // Written in one go: queued before the server reads the first.
    for i in 0..BURST {
        c.ws.feed(burst_frame(i).0).await.unwrap();
    }
    c.ws.flush().await.unwrap();
    for i in 0..BURST {
        let (_, kind, code) = burst_frame(i);
        let answer = c.next().await;
        assert_eq!(answer["type"], kind, "frame {i}: {answer}");
        if let Some(code) = code {
            assert_eq!(answer["code"], code, "frame {i}: {answer}");
        }
        // A frame cut off before its request_id could be read gets an answer without one.
        if i % 6 != 2 {
            assert_eq!(answer["request_id"], format!("b{i}"), "{answer}");
        }
    }
    // Nothing more came, and the socket still runs a turn.
    assert!(c.sync("after").await.is_empty());
    c.send(json!({"type": "message", "content": "add buy milk"}))
        .await;
    let frames = c.until_done(1).await;
    assert_eq!(frames.last().unwrap()["message"]["status"], "completed");
    // The other user's socket heard none of it.
    assert!(bystander.sync("quiet").await.is_empty());
}
