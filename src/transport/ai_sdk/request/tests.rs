//! Reading the AI SDK's frames and bodies: every field checked, every refusal named.

use super::*;
use serde_json::json;

fn send(extra: Value) -> Value {
    let mut frame = json!({"type": "send", "requestId": "r1", "id": "chat-1",
        "trigger": "submit-message",
        "messages": [{"id": "m1", "role": "user", "parts": [{"type": "text", "text": "hi"}]}],
        "headers": {}, "body": {}});
    for (k, v) in extra.as_object().unwrap() {
        if v.is_null() {
            frame.as_object_mut().unwrap().remove(k);
        } else {
            frame[k] = v.clone();
        }
    }
    frame
}

fn refused(frame: Value) -> BadFrame {
    parse_frame(&frame.to_string()).expect_err(&frame.to_string())
}

#[test]
fn a_send_reads_the_newest_user_text() {
    let frame = send(json!({"messages": [
        {"id": "m0", "role": "user", "parts": [{"type": "text", "text": "old"}]},
        {"id": "a0", "role": "assistant", "parts": []},
        {"id": "m1", "role": "user", "parts": [{"type": "text", "text": "add"},
            {"type": "data-x", "data": 1}, {"type": "text", "text": "buy milk"}]}],
        "metadata": {"language": "en"}, "headers": {"AUTHORIZATION": "Bearer t"}}));
    let Ok(Frame::Send {
        request_id,
        headers,
        request,
    }) = parse_frame(&frame.to_string())
    else {
        panic!("refused");
    };
    assert_eq!(request_id, "r1");
    assert_eq!(frame_token(&headers), Some("t"));
    assert_eq!(
        request.trigger,
        Trigger::Submit {
            content: "add\nbuy milk".into()
        }
    );
    assert_eq!(request.metadata, json!({"language": "en"}));
}

#[test]
fn frames_the_sdk_refuses_are_refused() {
    for (extra, id) in [
        (json!({"requestId": 5}), ""),
        (json!({"requestId": "x".repeat(129)}), ""),
        (json!({"type": 1}), "r1"),
        (json!({"type": "nope"}), "r1"),
        (json!({"id": 3}), "r1"),
        (json!({"id": ""}), "r1"),
        (json!({"headers": {"a": 1}}), "r1"),
        (json!({"headers": null}), "r1"),
        (json!({"body": []}), "r1"),
        (json!({"body": null}), "r1"),
        (json!({"trigger": "resume-stream"}), "r1"),
        (json!({"messageId": 4}), "r1"),
        (json!({"messages": []}), "r1"),
        (
            json!({"messages": [{"id": "m", "role": "user", "parts": []}]}),
            "r1",
        ),
        (
            json!({"messages": [{"id": "m", "role": "bot", "parts": [{"type": "text", "text": "x"}]}]}),
            "r1",
        ),
        (
            json!({"messages": [{"role": "user", "parts": [{"type": "text", "text": "x"}]}]}),
            "r1",
        ),
        (
            json!({"messages": [{"id": "m", "role": "user", "parts": [{"type": "texts", "text": "x"}]}]}),
            "r1",
        ),
        (
            json!({"messages": [{"id": "m", "role": "user", "parts": [{"type": "text", "text": 1}]}]}),
            "r1",
        ),
    ] {
        let bad = refused(send(extra.clone()));
        assert_eq!(bad.request_id, id, "{extra}");
        assert!(matches!(bad.error, Error::Invalid(_)), "{extra}");
    }
    for text in ["", "[]", "{", "\"send\""] {
        assert_eq!(parse_frame(text).unwrap_err().request_id, "");
    }
}

#[test]
fn sends_we_cannot_answer_are_refused() {
    for extra in [
        json!({"messageId": "m1"}),
        json!({"messages": [{"id": "a", "role": "assistant", "parts": [{"type": "text", "text": "x"}]}]}),
        json!({"messages": [{"id": "m", "role": "user", "parts": [{"type": "file", "mediaType": "image/png", "url": "data:,"}]}]}),
        json!({"messages": [{"id": "m", "role": "user", "parts": [{"type": "step-start"}]}]}),
    ] {
        refused(send(extra));
    }
    let regenerate = send(json!({"trigger": "regenerate-message", "messageId": "a1"}));
    assert!(matches!(
        parse_frame(&regenerate.to_string()),
        Ok(Frame::Send {
            request: ChatRequest {
                trigger: Trigger::Regenerate,
                ..
            },
            ..
        })
    ));
}

#[test]
fn resume_and_abort() {
    let resume = |last: Value| {
        let mut f =
            json!({"type": "resume", "requestId": "r2", "id": "c", "headers": {}, "body": {}});
        if !last.is_null() {
            f["lastSequence"] = last;
        }
        parse_frame(&f.to_string())
    };
    assert!(matches!(
        resume(Value::Null),
        Ok(Frame::Resume {
            last_sequence: None,
            ..
        })
    ));
    assert!(matches!(
        resume(json!(7)),
        Ok(Frame::Resume {
            last_sequence: Some(7),
            ..
        })
    ));
    assert!(matches!(
        resume(json!(7.0)),
        Ok(Frame::Resume {
            last_sequence: Some(7),
            ..
        })
    ));
    for bad in [
        json!(-1),
        json!(1.5),
        json!("3"),
        json!(9007199254740992u64),
    ] {
        assert!(resume(bad.clone()).is_err(), "{bad}");
    }
    assert!(matches!(
        parse_frame(r#"{"type":"abort","requestId":"r3"}"#),
        Ok(Frame::Abort { request_id }) if request_id == "r3"
    ));
}

#[test]
fn an_http_body_is_a_send_without_the_frame() {
    let body = json!({"id": "c", "trigger": "submit-message", "extra": 1,
        "messages": [{"id": "m", "role": "user", "parts": [{"type": "text", "text": "hi"}]}]});
    let request = parse_body(&body).unwrap();
    assert_eq!(request.chat_id, "c");
    assert!(parse_body(&json!([])).is_err());
    assert!(parse_body(&json!({"id": "c"})).is_err());
}
