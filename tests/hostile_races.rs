//! Races a hostile client can provoke by timing: a task action sent while a turn starts on
//! the same thread (one is refused, they never interleave), and a shutdown with a short drain
//! (the final events of a cancelled turn always go out before the close). The socket cap under
//! many sockets at once is in `hostile_sockets.rs`, MCP sessions under concurrent initializes in
//! `hostile_mcp.rs`.

mod common;

use std::time::Duration;

use common::ws::{Ended, WsClient};
use common::TestApp;
use serde_json::{json, Value};

#[tokio::test]
async fn a_task_action_and_a_turn_never_overlap_on_one_thread() {
    use agentwire::chat::{TaskAction, TurnRequest};
    use agentwire::model::UserId;
    let app = TestApp::spawn_with(|c| c.offline_delta_delay = Duration::from_millis(2)).await;
    let chat = app.state.chat.clone();
    let user = UserId::new("racer");
    let request = |thread, content: &str| TurnRequest {
        user: user.clone(),
        thread_id: thread,
        content: content.into(),
        metadata: Value::Null,
        request_id: None,
        details: None,
        attachments: Vec::new(),
        client_message_id: None,
        on_busy: Default::default(),
        create_thread: false,
    };
    let mut first = chat
        .start_turn(request(None, "add a task to buy milk"))
        .await
        .unwrap();
    let thread = first.thread_id;
    while first.next().await.is_some() {}
    let mut turns = Vec::new();
    for i in 0..20 {
        let (action, turn) = if i % 2 == 0 {
            // A turn running: the action is refused.
            let turn = chat.start_turn(request(Some(thread), "hello")).await;
            let action = chat
                .task_action(&user, thread, TaskAction::Complete(1))
                .await;
            assert_eq!(action.as_ref().err().map(|e| e.code()), Some("thread_busy"));
            (action, turn)
        } else {
            // Both at once: whichever holds the thread first, the other is refused.
            tokio::join!(
                chat.task_action(&user, thread, TaskAction::Complete(1)),
                chat.start_turn(request(Some(thread), "hello"))
            )
        };
        if let Ok(mut turn) = turn {
            turns.push(turn.message_id);
            while turn.next().await.is_some() {}
        }
        if let Err(e) = action {
            assert_eq!(e.code(), "thread_busy");
        }
    }
    assert!(turns.len() >= 10);
    // Each turn's answer directly follows its own user message: no action wrote in between.
    let messages = chat.read(&user).messages(thread).await.unwrap();
    for id in turns {
        let at = messages.iter().position(|m| m.id == id).unwrap();
        assert_eq!(
            messages[at - 1].role,
            agentwire::model::Role::User,
            "{messages:?}"
        );
    }
}

#[tokio::test]
async fn a_drained_turns_last_event_always_reaches_its_socket_before_1001() {
    for _ in 0..5 {
        let app = TestApp::spawn_with(|c| {
            c.offline_delta_delay = Duration::from_millis(20);
            c.shutdown_drain = Duration::from_millis(50);
        })
        .await;
        let mut c = WsClient::connect(&app, "last").await;
        c.send(json!({"type": "message", "content": "help"})).await;
        c.until(|f| f["type"] == "stream.delta").await;
        let stopping = tokio::spawn(app.stop());
        let rest = c.until_done(1).await;
        assert_eq!(rest.last().unwrap()["message"]["status"], "cancelled");
        assert_eq!(c.ended().await, Ended::Close(1001));
        stopping.await.unwrap();
    }
}
