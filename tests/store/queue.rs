//! Conformance cases for a thread's queue: messages wait in order, under a cap, each owned by
//! its user; the write that starts a queued message's turn takes it off the queue, once.

use agentwire::model::QueuedStatus;
use agentwire::store::{ClaimStep, NewQueued, TurnStart};

use super::*;

conformance!(
    messages_queue_in_order_under_a_cap,
    a_queued_message_starts_its_turn_once,
    a_queued_client_id_is_a_sent_turn,
);

fn queued<'a>(thread: ThreadId, content: &'a str, meta: &'a serde_json::Value) -> NewQueued<'a> {
    NewQueued {
        id: MessageId::new(),
        thread,
        answer_id: MessageId::new(),
        content,
        metadata: meta,
        request_id: Some("r1"),
        client_message_id: None,
        cap: 2,
    }
}

async fn messages_queue_in_order_under_a_cap(s: Store) {
    let (a, b) = (&alice(), &bob());
    let c = conv(&s, a).await;
    let meta = json!({"language": "en"});
    let one = s.enqueue(a, &queued(c.id, "one", &meta)).await.unwrap();
    let two = s.enqueue(a, &queued(c.id, "two", &meta)).await.unwrap();
    assert_eq!((one.message.position, two.message.position), (1, 2));
    assert_eq!(one.message.status, QueuedStatus::Queued);
    assert_eq!(one.metadata, meta);
    assert_eq!(one.request_id.as_deref(), Some("r1"));
    let full = s.enqueue(a, &queued(c.id, "three", &meta)).await;
    assert!(matches!(full, Err(Error::QueueFull)), "{full:?}");
    // Another user's thread, or none, is not found.
    let theirs = s.enqueue(b, &queued(c.id, "x", &meta)).await;
    assert!(matches!(theirs, Err(Error::NotFound(_))), "{theirs:?}");
    assert!(s.queued(b, c.id).await.unwrap().is_empty());
    assert!(!s.unqueue(b, c.id, one.message.id).await.unwrap());

    let listed: Vec<String> = s
        .queued(a, c.id)
        .await
        .unwrap()
        .into_iter()
        .map(|q| q.message.content)
        .collect();
    assert_eq!(listed, ["one", "two"]);
    assert_eq!(s.queued_threads().await.unwrap(), [(a.clone(), c.id)]);
    assert!(s.unqueue(a, c.id, one.message.id).await.unwrap());
    assert!(!s.unqueue(a, c.id, one.message.id).await.unwrap());
    let left = s.queued(a, c.id).await.unwrap();
    assert_eq!(left.len(), 1);
    assert_eq!(
        (left[0].message.id, left[0].message.position),
        (two.message.id, 1)
    );
    // Deleting the thread deletes its queue.
    assert!(s.delete_conversation(a, c.id).await.unwrap());
    assert!(s.queued_threads().await.unwrap().is_empty());
}

async fn a_queued_message_starts_its_turn_once(s: Store) {
    let a = &alice();
    let c = conv(&s, a).await;
    let meta = json!({});
    let q = s.enqueue(a, &queued(c.id, "later", &meta)).await.unwrap();
    let mut question = msg(c.id, "later");
    question.id = q.message.id;
    let start = TurnStart {
        question: &question,
        answer: Some(q.answer_id),
        client_message_id: None,
        claim: ClaimStep::None,
    };
    let (m, answer) = s.start_queued_turn(a, &start).await.unwrap();
    assert_eq!(m.id, q.message.id);
    assert_eq!(answer.unwrap().id, q.answer_id);
    assert!(s.queued(a, c.id).await.unwrap().is_empty());
    // A second start finds it gone and writes nothing.
    let again = s.start_queued_turn(a, &start).await;
    assert!(
        matches!(again, Err(Error::NotFound("queued message"))),
        "{again:?}"
    );
    let all = s
        .list_messages(a, c.id, &page(10, None))
        .await
        .unwrap()
        .data;
    assert_eq!(all.len(), 2);
}

async fn a_queued_client_id_is_a_sent_turn(s: Store) {
    let a = &alice();
    let c = conv(&s, a).await;
    let meta = json!({});
    let mut new = queued(c.id, "once", &meta);
    new.client_message_id = Some("client-1");
    let q = s.enqueue(a, &new).await.unwrap();
    let sent = s.sent_turn(a, "client-1").await.unwrap().unwrap();
    assert!(sent.queued);
    assert_eq!(
        (sent.question_id, sent.answer_id),
        (q.message.id, q.answer_id)
    );
    assert!(sent.question.is_none());
    // The same client id again writes nothing.
    let mut again = queued(c.id, "once", &meta);
    again.client_message_id = Some("client-1");
    let dup = s.enqueue(a, &again).await;
    assert!(matches!(dup, Err(Error::DuplicateSend)), "{dup:?}");
    assert_eq!(s.queued(a, c.id).await.unwrap().len(), 1);
}
