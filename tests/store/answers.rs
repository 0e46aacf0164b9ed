//! Conformance cases for a turn's answer: written in progress by the turn's first write, saved
//! as it streams, ended by one update, interrupted by the sweep when its process died; and the
//! client id of a send, which lets a send start one turn only.

use std::time::Duration;

use agentwire::store::{ClaimStep, PartialAnswer, Stale, TurnStart};
use uuid::Uuid;

use super::*;

conformance!(
    a_turn_starts_with_its_answer_in_progress,
    an_answer_is_saved_as_it_streams_and_ended_by_one_write,
    a_client_id_starts_one_turn_only,
    two_starts_with_one_client_id_at_once_make_one_turn,
);

conformance!(@url
    the_sweep_interrupts_answers_no_live_turn_writes,
);

fn start<'a>(question: &'a NewMessage, client: Option<&'a str>) -> TurnStart<'a> {
    TurnStart {
        question,
        answer: Some(MessageId::new()),
        client_message_id: client,
        claim: ClaimStep::None,
    }
}

async fn all_messages(s: &Store, user: &UserId, id: ThreadId) -> Vec<Message> {
    s.list_messages(user, id, &page(100, None))
        .await
        .unwrap()
        .data
}

fn call(name: &str) -> ToolCall {
    ToolCall {
        id: Some(format!("call_{name}")),
        tool_name: name.into(),
        arguments: json!({"title": name}),
        result: json!({"ok": true}),
    }
}

async fn a_turn_starts_with_its_answer_in_progress(s: Store) {
    let a = &alice();
    let first = msg(ThreadId::new(), "hi");
    let new = start(&first, None);
    let (c, q, answer) = s
        .start_turn_in_new(a, Some("hi"), &json!({}), &new)
        .await
        .unwrap();
    let answer = answer.expect("the answer was asked for");
    assert_eq!((q.seq, answer.seq), (1, 2));
    assert_eq!(answer.id, new.answer.unwrap());
    assert_eq!(
        (answer.role, answer.status, answer.content.as_str()),
        (Role::Assistant, MessageStatus::InProgress, "")
    );
    assert_eq!(answer.next_seq, Some(0));
    assert_eq!(all_messages(&s, a, c.id).await, vec![q, answer.clone()]);
    // On an existing thread: the next two seqs.
    let second = msg(c.id, "again");
    let (q2, a2) = s.start_turn(a, &start(&second, None)).await.unwrap();
    let a2 = a2.unwrap();
    assert_eq!((q2.seq, a2.seq), (3, 4));
    let listed = all_messages(&s, a, c.id).await;
    assert_eq!(listed.len(), 4);
    assert_eq!(listed[3], a2);
    // Another user's thread, or a missing one: nothing written.
    let err = s.start_turn(&bob(), &start(&msg(c.id, "x"), None)).await;
    assert!(matches!(err, Err(Error::NotFound(_))), "{err:?}");
    let err = s
        .start_turn(a, &start(&msg(ThreadId::new(), "x"), None))
        .await;
    assert!(matches!(err, Err(Error::NotFound(_))), "{err:?}");
    assert_eq!(all_messages(&s, a, c.id).await.len(), 4);
    // Only a turn's start writes an answer in progress.
    let sneaky = NewMessage {
        status: MessageStatus::InProgress,
        ..msg(c.id, "x")
    };
    let err = s.append_message(a, &sneaky).await;
    assert!(matches!(err, Err(Error::Internal(_))), "{err:?}");
    // A retry's answer joins a thread whose user message is stored already.
    let retry = s.start_answer(a, c.id, MessageId::new()).await.unwrap();
    assert_eq!((retry.seq, retry.status), (5, MessageStatus::InProgress));
}

async fn an_answer_is_saved_as_it_streams_and_ended_by_one_write(s: Store) {
    let a = &alice();
    let first = msg(ThreadId::new(), "hi");
    let (c, _, answer) = s
        .start_turn_in_new(a, None, &json!({}), &start(&first, None))
        .await
        .unwrap();
    let answer = answer.unwrap();
    let partial = PartialAnswer {
        id: answer.id,
        content: "Hello the".into(),
        tool_calls: vec![call("add_task")],
        next_seq: 2,
    };
    assert!(s.save_partial(a, &partial).await.unwrap());
    // Only its owner's save lands.
    assert!(!s.save_partial(&bob(), &partial).await.unwrap());
    // Several at once, in one write: each lands or not on its own.
    let (c2, _, other) = s
        .start_turn_in_new(
            a,
            None,
            &json!({}),
            &start(&msg(ThreadId::new(), "yo"), None),
        )
        .await
        .unwrap();
    let other = PartialAnswer {
        id: other.unwrap().id,
        content: "Yo".into(),
        tool_calls: vec![],
        next_seq: 1,
    };
    let saved = s
        .save_partials(vec![
            (a.clone(), other.clone()),
            (bob(), partial.clone()),
            (a.clone(), partial.clone()),
        ])
        .await
        .unwrap();
    let mut saved = saved;
    saved.sort_by_key(|m| m.0);
    let mut expected = vec![other.id, partial.id];
    expected.sort_by_key(|m| m.0);
    assert_eq!(saved, expected);
    let yo = all_messages(&s, a, c2.id).await.pop().unwrap();
    assert_eq!((yo.content.as_str(), yo.next_seq), ("Yo", Some(1)));
    let saved = all_messages(&s, a, c.id).await.pop().unwrap();
    assert_eq!(
        (saved.content.as_str(), saved.next_seq, saved.status),
        ("Hello the", Some(2), MessageStatus::InProgress)
    );
    assert_eq!(saved.tool_calls, vec![call("add_task")]);
    assert_eq!(
        (saved.seq, saved.created_at),
        (answer.seq, answer.created_at)
    );

    let end = NewMessage {
        id: answer.id,
        conversation_id: c.id,
        role: Role::Assistant,
        content: "Hello there.".into(),
        tool_calls: vec![call("add_task"), call("list_tasks")],
        status: MessageStatus::Completed,
        usage: Some(Usage {
            prompt_tokens: 3,
            completion_tokens: 4,
            total_tokens: 7,
        }),
        details: None,
    };
    let done = s.finish_answer(a, &end, 3, ClaimStep::None).await.unwrap();
    assert_eq!(
        (done.content.as_str(), done.status, done.next_seq),
        ("Hello there.", MessageStatus::Completed, None)
    );
    assert_eq!(done.usage.unwrap().total_tokens, 7);
    assert_eq!(all_messages(&s, a, c.id).await.pop().unwrap(), done);
    // A save that lands after the end changes nothing.
    assert!(!s.save_partial(a, &partial).await.unwrap());
    assert_eq!(all_messages(&s, a, c.id).await.pop().unwrap(), done);
    // Another user's answer, or a missing one, is not found.
    let err = s.finish_answer(&bob(), &end, 3, ClaimStep::None).await;
    assert!(matches!(err, Err(Error::NotFound(_))), "{err:?}");
    let gone = NewMessage {
        id: MessageId::new(),
        ..end.clone()
    };
    let err = s.finish_answer(a, &gone, 3, ClaimStep::None).await;
    assert!(matches!(err, Err(Error::NotFound(_))), "{err:?}");

    // An answer that said nothing before its turn failed is dropped.
    let (q, empty) = s
        .start_turn(a, &start(&msg(c.id, "x"), None))
        .await
        .unwrap();
    let empty = empty.unwrap();
    assert!(!s
        .drop_answer(&bob(), c.id, empty.id, ClaimStep::None)
        .await
        .unwrap());
    assert!(s
        .drop_answer(a, c.id, empty.id, ClaimStep::None)
        .await
        .unwrap());
    assert_eq!(all_messages(&s, a, c.id).await.pop().unwrap(), q);
}

async fn the_sweep_interrupts_answers_no_live_turn_writes(s: Store, url: String) {
    let (a, b) = (&alice(), &bob());
    let (ca, _, running_a) = s
        .start_turn_in_new(
            a,
            None,
            &json!({}),
            &start(&msg(ThreadId::new(), "a"), None),
        )
        .await
        .unwrap();
    let running_a = running_a.unwrap();
    let (_, _, running_b) = s
        .start_turn_in_new(
            b,
            None,
            &json!({}),
            &start(&msg(ThreadId::new(), "b"), None),
        )
        .await
        .unwrap();
    let running_b = running_b.unwrap();
    let partial = PartialAnswer {
        id: running_a.id,
        content: "so far".into(),
        tool_calls: vec![],
        next_seq: 2,
    };
    s.save_partial(a, &partial).await.unwrap();
    // A finished answer is never touched.
    let (cf, _, ended) = s
        .start_turn_in_new(
            a,
            None,
            &json!({}),
            &start(&msg(ThreadId::new(), "c"), None),
        )
        .await
        .unwrap();
    let end = NewMessage {
        id: ended.unwrap().id,
        conversation_id: cf.id,
        role: Role::Assistant,
        content: "done".into(),
        tool_calls: vec![],
        status: MessageStatus::Completed,
        usage: None,
        details: None,
    };
    let ended = s.finish_answer(a, &end, 1, ClaimStep::None).await.unwrap();

    let Some(relay) = s.relay_db() else {
        // SQLite serves one process: at its start, every answer in progress is an orphan.
        let swept = s.interrupt_answers(Stale::Every).await.unwrap();
        assert_eq!(swept.len(), 2, "{swept:?}");
        let mine = swept.iter().find(|i| i.message.id == running_a.id).unwrap();
        assert_eq!(mine.user, *a);
        assert_eq!(
            (mine.message.status, mine.message.content.as_str()),
            (MessageStatus::Interrupted, "so far")
        );
        assert_eq!(mine.message.next_seq, None);
        assert!(swept
            .iter()
            .any(|i| i.message.id == running_b.id && i.user == *b));
        // Once marked, nothing is left to sweep, and the marks are stored.
        assert!(s.interrupt_answers(Stale::Every).await.unwrap().is_empty());
        let stored = all_messages(&s, a, ca.id).await;
        assert_eq!(stored[1].status, MessageStatus::Interrupted);
        assert_eq!(stored[1].content, "so far");
        assert_eq!(all_messages(&s, a, cf.id).await[1], ended);
        return;
    };
    // Several instances: an answer a live claim covers is left alone.
    let me = Uuid::new_v4();
    let (cl, _, claimed) = s
        .start_turn_in_new(
            a,
            None,
            &json!({}),
            &TurnStart {
                claim: ClaimStep::Take(me),
                ..start(&msg(ThreadId::new(), "claimed"), None)
            },
        )
        .await
        .unwrap();
    let claimed = claimed.unwrap();
    assert!(relay.turn_running(cl.id, a).await.unwrap());
    // The two started without a claim are no live turn's: swept, each once.
    let swept = s.interrupt_answers(Stale::Unclaimed).await.unwrap();
    let ids: Vec<MessageId> = swept.iter().map(|i| i.message.id).collect();
    assert_eq!(swept.len(), 2, "{swept:?}");
    assert!(ids.contains(&running_a.id) && ids.contains(&running_b.id));
    assert!(!ids.contains(&claimed.id));
    assert!(s
        .interrupt_answers(Stale::Unclaimed)
        .await
        .unwrap()
        .is_empty());
    // A claim taken apart from its answer (a retry's) covers every answer of its thread.
    let retry = s.start_answer(a, ca.id, MessageId::new()).await.unwrap();
    assert!(relay.claim_turn(ca.id, a, me).await.unwrap());
    assert!(s
        .interrupt_answers(Stale::Unclaimed)
        .await
        .unwrap()
        .is_empty());
    // Its instance stops refreshing the claims: they lapse, the answers are interrupted and
    // the threads freed.
    let lapse = Duration::from_secs(1);
    let s = s.with_claim_lapse(lapse);
    let mut conn = PgConnection::connect(&url).await.unwrap();
    conn.execute("UPDATE running_turns SET seen_at = now() - interval '5 seconds'")
        .await
        .unwrap();
    let swept = s.interrupt_answers(Stale::Unclaimed).await.unwrap();
    let mut ids: Vec<MessageId> = swept.iter().map(|i| i.message.id).collect();
    ids.sort_by_key(|m| m.0);
    let mut expected = vec![claimed.id, retry.id];
    expected.sort_by_key(|m| m.0);
    assert_eq!(ids, expected);
    assert!(!relay.turn_running(cl.id, a).await.unwrap());
    assert!(!relay.turn_running(ca.id, a).await.unwrap());
    assert_eq!(all_messages(&s, a, cf.id).await[1], ended);
}

async fn a_client_id_starts_one_turn_only(s: Store) {
    let (a, b) = (&alice(), &bob());
    let first = msg(ThreadId::new(), "add milk");
    let sent = start(&first, Some("send-1"));
    let (c, q, answer) = s
        .start_turn_in_new(a, None, &json!({}), &sent)
        .await
        .unwrap();
    let answer = answer.unwrap();
    let found = s.sent_turn(a, "send-1").await.unwrap().unwrap();
    assert_eq!(found.thread_id, c.id);
    assert_eq!(found.answer_id, answer.id);
    assert_eq!(found.question.as_ref(), Some(&q));
    assert_eq!(found.answer.as_ref(), Some(&answer));
    // The same id again, on a new thread or on this one: nothing is written.
    let again = msg(ThreadId::new(), "add milk");
    let err = s
        .start_turn_in_new(a, None, &json!({}), &start(&again, Some("send-1")))
        .await;
    assert!(matches!(err, Err(Error::DuplicateSend)), "{err:?}");
    let err = s
        .start_turn(a, &start(&msg(c.id, "add milk"), Some("send-1")))
        .await;
    assert!(matches!(err, Err(Error::DuplicateSend)), "{err:?}");
    assert!(s
        .get_conversation(a, again.conversation_id)
        .await
        .unwrap()
        .is_none());
    assert_eq!(all_messages(&s, a, c.id).await.len(), 2);
    let listed = s.list_conversations(a, &page(100, None)).await.unwrap();
    assert_eq!(listed.data.len(), 1);
    // Ids are per user; another id is another send.
    assert!(s.sent_turn(b, "send-1").await.unwrap().is_none());
    s.start_turn_in_new(
        b,
        None,
        &json!({}),
        &start(&msg(ThreadId::new(), "x"), Some("send-1")),
    )
    .await
    .unwrap();
    let (_, a2) = s
        .start_turn(a, &start(&msg(c.id, "more"), Some("send-2")))
        .await
        .unwrap();
    let found = s.sent_turn(a, "send-2").await.unwrap().unwrap();
    assert_eq!(found.answer, a2);
    // An id is kept until it is swept, and the answer it finds is the answer as it is now.
    let partial = PartialAnswer {
        id: answer.id,
        content: "Added".into(),
        tool_calls: vec![],
        next_seq: 1,
    };
    s.save_partial(a, &partial).await.unwrap();
    let found = s.sent_turn(a, "send-1").await.unwrap().unwrap();
    assert_eq!(found.answer.unwrap().content, "Added");
    assert_eq!(
        s.sweep_client_ids(Duration::from_secs(3600)).await.unwrap(),
        0
    );
    assert_eq!(s.sweep_client_ids(Duration::ZERO).await.unwrap(), 3);
    assert!(s.sent_turn(a, "send-1").await.unwrap().is_none());
    // Deleting the thread forgets its sends.
    s.start_turn(a, &start(&msg(c.id, "later"), Some("send-3")))
        .await
        .unwrap();
    assert!(s.delete_conversation(a, c.id).await.unwrap());
    assert!(s.sent_turn(a, "send-3").await.unwrap().is_none());
}

async fn two_starts_with_one_client_id_at_once_make_one_turn(s: Store) {
    let a = &alice();
    for round in 0..5 {
        let id = format!("twice-{round}");
        let tries = (0..2).map(|_| {
            let (s, a, id) = (s.clone(), a.clone(), id.clone());
            tokio::spawn(async move {
                let first = msg(ThreadId::new(), "add milk");
                s.start_turn_in_new(&a, None, &json!({}), &start(&first, Some(&id)))
                    .await
                    .map(|(c, _, _)| c.id)
            })
        });
        let outcomes: Vec<_> = futures::future::join_all(tries)
            .await
            .into_iter()
            .map(Result::unwrap)
            .collect();
        let won: Vec<ThreadId> = outcomes
            .iter()
            .filter_map(|o| o.as_ref().ok())
            .copied()
            .collect();
        assert_eq!(won.len(), 1, "{outcomes:?}");
        assert!(
            outcomes
                .iter()
                .any(|o| matches!(o, Err(Error::DuplicateSend))),
            "{outcomes:?}"
        );
        assert_eq!(
            s.sent_turn(a, &id).await.unwrap().unwrap().thread_id,
            won[0]
        );
    }
    let listed = s.list_conversations(a, &page(100, None)).await.unwrap();
    assert_eq!(listed.data.len(), 5);
}
