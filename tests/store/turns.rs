//! Conformance cases for the writes a turn starts with: a conversation with its first message,
//! and a message with its details, each a single write that leaves nothing half-done.

use super::*;

conformance!(
    a_conversation_starts_with_its_first_message,
    a_failed_start_writes_nothing,
    starts_racing_appends_fail_alone,
    details_are_stored_with_their_message,
);

/// The details of `id`'s messages, by message.
async fn details(s: &Store, user: &UserId, id: ThreadId) -> Vec<(MessageId, serde_json::Value)> {
    let mut all = s.message_details(user, id).await.unwrap();
    all.sort_by_key(|(m, _)| m.0);
    all
}

async fn conversation_ids(s: &Store, user: &UserId) -> Vec<ThreadId> {
    let all = s.list_conversations(user, &page(100, None)).await.unwrap();
    all.data.into_iter().map(|c| c.id).collect()
}

async fn a_conversation_starts_with_its_first_message(s: Store) {
    let a = &alice();
    let shape = json!({"content": [{"type": "input_text", "text": "hi"}]});
    let first = NewMessage {
        details: Some(shape.clone()),
        ..msg(ThreadId::new(), "hi")
    };
    let meta = json!({"language": "en"});
    let (c, m) = s
        .start_conversation(a, Some("  Greetings "), &meta, &first)
        .await
        .unwrap();
    assert_eq!(c.id, first.conversation_id);
    assert_eq!(
        (c.title.as_deref(), &c.metadata),
        (Some("Greetings"), &meta)
    );
    assert_eq!((m.id, m.seq, m.conversation_id), (first.id, 1, c.id));
    assert_eq!((c.created_at, c.updated_at), (m.created_at, m.created_at));
    assert_eq!(s.get_conversation(a, c.id).await.unwrap(), Some(c.clone()));
    let listed = s.list_messages(a, c.id, &page(10, None)).await.unwrap();
    assert_eq!(listed.data, vec![m.clone()]);
    assert_eq!(details(&s, a, c.id).await, vec![(m.id, shape)]);
    assert_eq!(conversation_ids(&s, a).await, vec![c.id]);
    // The thread goes on as any other, and is only its owner's.
    assert_eq!(say(&s, a, c.id, "next").await.seq, 2);
    assert!(s.get_conversation(&bob(), c.id).await.unwrap().is_none());
    // Without a title or details.
    let (untitled, m) = s
        .start_conversation(a, Some(" \n"), &json!({}), &msg(ThreadId::new(), "x"))
        .await
        .unwrap();
    assert_eq!((untitled.title, m.seq), (None, 1));
    assert!(details(&s, a, untitled.id).await.is_empty());
}

async fn a_failed_start_writes_nothing(s: Store) {
    let a = &alice();
    let c = conv(&s, a).await;
    let taken = say(&s, a, c.id, "first").await;
    let before = snapshot_of(&s, a).await;
    // The message id is taken: the conversation must not be left behind without it.
    let clash = NewMessage {
        id: taken.id,
        details: Some(json!({"x": 1})),
        ..msg(ThreadId::new(), "clash")
    };
    let err = s.start_conversation(a, Some("t"), &json!({}), &clash).await;
    assert!(matches!(&err, Err(e) if e.code() == "internal"), "{err:?}");
    assert_invalid(
        s.start_conversation(
            a,
            Some(&"t".repeat(501)),
            &json!({}),
            &msg(ThreadId::new(), "x"),
        )
        .await,
    );
    let streaming = NewMessage {
        status: MessageStatus::InProgress,
        ..msg(ThreadId::new(), "partial")
    };
    let err = s.start_conversation(a, None, &json!({}), &streaming).await;
    assert!(matches!(err, Err(Error::Internal(_))), "{err:?}");
    assert_eq!(snapshot_of(&s, a).await, before);
    assert!(s
        .get_conversation(a, clash.conversation_id)
        .await
        .unwrap()
        .is_none());
    // The id of the conversation that failed is still free.
    let (c2, _) = s
        .start_conversation(a, None, &json!({}), &msg(clash.conversation_id, "again"))
        .await
        .unwrap();
    assert_eq!(c2.id, clash.conversation_id);
}

async fn starts_racing_appends_fail_alone(s: Store) {
    let a = &alice();
    let c = conv(&s, a).await;
    let taken = say(&s, a, c.id, "first").await;
    // Starts and appends racing each other (SQLite commits those that queue up together);
    // one start reuses a stored message id, so its conversation must not appear.
    let doomed = ThreadId::new();
    let writes = (0..12).map(|i| {
        let s = s.clone();
        tokio::spawn(async move {
            let a = &alice();
            match i {
                4 => {
                    let clash = NewMessage {
                        id: taken.id,
                        details: Some(json!({"n": i})),
                        ..msg(doomed, "clash")
                    };
                    s.start_conversation(a, None, &json!({}), &clash)
                        .await
                        .map(|(c, _)| c.id)
                }
                i if i % 2 == 0 => {
                    let first = NewMessage {
                        details: Some(json!({"n": i})),
                        ..msg(ThreadId::new(), "start")
                    };
                    s.start_conversation(a, None, &json!({}), &first)
                        .await
                        .map(|(c, _)| c.id)
                }
                _ => s
                    .append_message(a, &msg(c.id, "more"))
                    .await
                    .map(|m| m.conversation_id),
            }
        })
    });
    let results: Vec<_> = futures::future::join_all(writes)
        .await
        .into_iter()
        .map(Result::unwrap)
        .collect();
    for (i, r) in results.iter().enumerate() {
        assert_eq!(r.is_ok(), i != 4, "{i}: {r:?}");
    }
    let ids = conversation_ids(&s, a).await;
    assert_eq!(ids.len(), 1 + 5, "{ids:?}");
    assert!(!ids.contains(&doomed));
    for r in results.iter().step_by(2).flatten() {
        let seqs: Vec<i64> = s
            .list_messages(a, *r, &page(10, None))
            .await
            .unwrap()
            .data
            .iter()
            .map(|m| m.seq)
            .collect();
        assert_eq!(seqs, vec![1]);
        assert_eq!(details(&s, a, *r).await.len(), 1);
    }
    let mine = s.list_messages(a, c.id, &page(100, None)).await.unwrap();
    assert_eq!(mine.data.len(), 1 + 6);
}

async fn details_are_stored_with_their_message(s: Store) {
    let (a, b) = (&alice(), &bob());
    let c = conv(&s, a).await;
    let shape = json!({"quoted_text": "earlier", "attachments": []});
    let m = NewMessage {
        details: Some(shape.clone()),
        ..msg(c.id, "with details")
    };
    let stored = s.append_message(a, &m).await.unwrap();
    assert_eq!(stored.seq, 1);
    assert_eq!(details(&s, a, c.id).await, vec![(m.id, shape.clone())]);
    // Someone else's thread: neither the message nor its details are written.
    let intruder = NewMessage {
        details: Some(json!({"evil": true})),
        ..msg(c.id, "not yours")
    };
    let err = s.append_message(b, &intruder).await;
    assert!(
        matches!(err, Err(Error::NotFound("conversation"))),
        "{err:?}"
    );
    let plain = say(&s, a, c.id, "plain").await;
    assert_eq!(plain.seq, 2);
    assert_eq!(details(&s, a, c.id).await, vec![(m.id, shape)]);
    assert!(details(&s, b, c.id).await.is_empty());
}

/// Everything `user` can list of conversations and their messages.
async fn snapshot_of(s: &Store, user: &UserId) -> Vec<(Conversation, Vec<Message>)> {
    let mut out = Vec::new();
    for c in s
        .list_conversations(user, &page(100, None))
        .await
        .unwrap()
        .data
    {
        let messages = s.list_messages(user, c.id, &page(100, None)).await.unwrap();
        out.push((c, messages.data));
    }
    out
}
