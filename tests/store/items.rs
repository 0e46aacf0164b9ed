//! Conformance cases for what surrounds messages: message details, feedback, hidden items,
//! attachments (bytes in the database, owner-only), listing by creation time and the message
//! edits a retry needs.

use agentwire::model::{AttachmentId, FeedbackKind, NewAttachment, Order};

use super::*;

conformance!(
    get_and_delete_messages_after,
    conversations_by_creation_page_both_ways,
    message_details_round_trip,
    feedback_is_per_item_and_replaced,
    hidden_items_sit_after_the_last_message,
    a_turn_learns_whether_its_thread_has_hidden_items,
    attachments_bytes_and_ownership,
    attachment_bytes_are_written_once,
    deleting_a_conversation_removes_its_extras,
);

async fn a_turn_learns_whether_its_thread_has_hidden_items(s: Store) {
    let (a, b) = (&alice(), &bob());
    let c = conv(&s, a).await;
    let other = conv(&s, a).await;
    say(&s, a, c.id, "one").await;
    let (got, has) = s.conversation_for_turn(a, c.id).await.unwrap().unwrap();
    assert_eq!(got, s.get_conversation(a, c.id).await.unwrap().unwrap());
    assert!(!has);
    s.add_hidden_item(a, c.id, &json!("stopped")).await.unwrap();
    assert!(s.conversation_for_turn(a, c.id).await.unwrap().unwrap().1);
    assert!(
        !s.conversation_for_turn(a, other.id)
            .await
            .unwrap()
            .unwrap()
            .1
    );
    assert!(s.conversation_for_turn(b, c.id).await.unwrap().is_none());
    assert!(s
        .conversation_for_turn(a, ThreadId::new())
        .await
        .unwrap()
        .is_none());
}

async fn get_and_delete_messages_after(s: Store) {
    let (a, b) = (&alice(), &bob());
    let c = conv(&s, a).await;
    let m1 = say(&s, a, c.id, "one").await;
    let m2 = say(&s, a, c.id, "two").await;
    say(&s, a, c.id, "three").await;
    assert_eq!(
        s.get_message(a, c.id, m1.id).await.unwrap(),
        Some(m1.clone())
    );
    assert_eq!(s.get_message(b, c.id, m1.id).await.unwrap(), None);
    assert_eq!(
        s.get_message(a, ThreadId::new(), m1.id).await.unwrap(),
        None
    );

    assert_eq!(s.delete_messages_after(b, c.id, m1.seq).await.unwrap(), 0);
    s.add_hidden_item(a, c.id, &json!("late")).await.unwrap();
    assert_eq!(s.delete_messages_after(a, c.id, m2.seq).await.unwrap(), 1);
    let left = s.list_messages(a, c.id, &page(10, None)).await.unwrap();
    assert_eq!(left.data, vec![m1, m2.clone()]);
    assert!(
        s.hidden_items(a, c.id).await.unwrap().is_empty(),
        "hidden items after go too"
    );
    // seq is never reused after a delete.
    assert_eq!(say(&s, a, c.id, "four").await.seq, 4);
}

async fn conversations_by_creation_page_both_ways(s: Store) {
    let a = &alice();
    let mut ids = Vec::new();
    for _ in 0..3 {
        ids.push(conv(&s, a).await.id);
    }
    conv(&s, &bob()).await;
    // Activity does not reorder a listing by creation.
    say(&s, a, ids[0], "bump").await;
    let all = |rows: Vec<Conversation>| rows.iter().map(|c| c.id).collect::<Vec<_>>();
    let desc = s
        .conversations_by_creation(a, Order::Desc, None, 10)
        .await
        .unwrap();
    assert_eq!(all(desc), vec![ids[2], ids[1], ids[0]]);
    let asc = s
        .conversations_by_creation(a, Order::Asc, Some(ids[0]), 10)
        .await
        .unwrap();
    assert_eq!(all(asc), vec![ids[1], ids[2]]);
    let desc = s
        .conversations_by_creation(a, Order::Desc, Some(ids[2]), 1)
        .await
        .unwrap();
    assert_eq!(all(desc), vec![ids[1]]);
    assert_invalid(
        s.conversations_by_creation(&bob(), Order::Desc, Some(ids[0]), 10)
            .await,
    );
}

async fn message_details_round_trip(s: Store) {
    let (a, b) = (&alice(), &bob());
    let c = conv(&s, a).await;
    let m = say(&s, a, c.id, "hi").await;
    let data = json!({"content": [{"type": "input_text", "text": "hi"}], "quoted_text": "ü ✓"});
    let other = s.set_message_details(b, m.id, &data).await;
    assert!(matches!(other, Err(Error::NotFound(_))));
    assert!(s.message_details(a, c.id).await.unwrap().is_empty());
    s.set_message_details(a, m.id, &json!({"old": true}))
        .await
        .unwrap();
    s.set_message_details(a, m.id, &data).await.unwrap();
    assert_eq!(
        s.message_details(a, c.id).await.unwrap(),
        vec![(m.id, data)]
    );
    assert!(s.message_details(b, c.id).await.unwrap().is_empty());
}

async fn feedback_is_per_item_and_replaced(s: Store) {
    let (a, b) = (&alice(), &bob());
    let c = conv(&s, a).await;
    let items = vec!["x".to_string(), "y".to_string()];
    let denied = s
        .add_feedback(b, c.id, &items, FeedbackKind::Positive)
        .await;
    assert!(matches!(denied, Err(Error::NotFound("conversation"))));
    s.add_feedback(a, c.id, &items, FeedbackKind::Positive)
        .await
        .unwrap();
    s.add_feedback(a, c.id, &items[1..], FeedbackKind::Negative)
        .await
        .unwrap();
    let got = s.feedback(a, c.id).await.unwrap();
    let got: Vec<(&str, FeedbackKind)> = got.iter().map(|f| (f.item_id.as_str(), f.kind)).collect();
    assert_eq!(
        got,
        vec![("x", FeedbackKind::Positive), ("y", FeedbackKind::Negative)]
    );
    assert!(s.feedback(b, c.id).await.unwrap().is_empty());
}

async fn hidden_items_sit_after_the_last_message(s: Store) {
    let (a, b) = (&alice(), &bob());
    let c = conv(&s, a).await;
    say(&s, a, c.id, "one").await;
    say(&s, a, c.id, "two").await;
    let h = s
        .add_hidden_item(a, c.id, &json!({"type": "cancelled"}))
        .await
        .unwrap();
    assert_eq!(h.after_seq, 2);
    assert!(matches!(
        s.add_hidden_item(b, c.id, &json!(1)).await,
        Err(Error::NotFound("conversation"))
    ));
    assert_eq!(s.hidden_items(a, c.id).await.unwrap(), vec![h]);
    assert!(s.hidden_items(b, c.id).await.unwrap().is_empty());
    // Hidden items are not messages.
    assert_eq!(
        s.list_messages(a, c.id, &page(10, None))
            .await
            .unwrap()
            .data
            .len(),
        2
    );
}

async fn attachments_bytes_and_ownership(s: Store) {
    let (a, b) = (&alice(), &bob());
    let new = NewAttachment {
        name: "cat.png".into(),
        mime_type: "image/png".into(),
        size: 3,
    };
    let att = s.create_attachment(a, &new, None).await.unwrap();
    assert!(!att.uploaded && att.conversation_id.is_none());
    assert_eq!(
        s.get_attachment(a, att.id).await.unwrap(),
        Some(att.clone())
    );
    assert_eq!(s.get_attachment(b, att.id).await.unwrap(), None);
    assert_eq!(s.attachment_bytes(a, att.id).await.unwrap(), None);
    assert_eq!(
        s.put_attachment_bytes(b, att.id, b"no").await.unwrap(),
        None
    );
    let bytes: Vec<u8> = (0..=255u8).cycle().take(70_000).collect();
    let up = s
        .put_attachment_bytes(a, att.id, &bytes)
        .await
        .unwrap()
        .unwrap();
    assert!(up.uploaded);
    assert_eq!(up.size, 70_000);
    assert_eq!(s.attachment_bytes(a, att.id).await.unwrap(), Some(bytes));
    assert_eq!(s.attachment_bytes(b, att.id).await.unwrap(), None);

    let c = conv(&s, a).await;
    s.assign_attachments(b, &[att.id], c.id).await.unwrap();
    assert_eq!(
        s.get_attachment(a, att.id)
            .await
            .unwrap()
            .unwrap()
            .conversation_id,
        None
    );
    s.assign_attachments(a, &[att.id], c.id).await.unwrap();
    assert_eq!(
        s.get_attachment(a, att.id)
            .await
            .unwrap()
            .unwrap()
            .conversation_id,
        Some(c.id)
    );

    let direct = s.create_attachment(a, &new, Some(b"abc")).await.unwrap();
    assert!(direct.uploaded);
    assert!(!s.delete_attachment(b, direct.id).await.unwrap());
    assert!(s.delete_attachment(a, direct.id).await.unwrap());
    assert_eq!(s.attachment_bytes(a, direct.id).await.unwrap(), None);
    assert!(!s.delete_attachment(a, AttachmentId::new()).await.unwrap());
}

async fn attachment_bytes_are_written_once(s: Store) {
    let a = &alice();
    let new = NewAttachment {
        name: "cat.png".into(),
        mime_type: "image/png".into(),
        size: 3,
    };
    // Two uploads racing for one attachment: exactly one wins, and its bytes are the ones kept.
    let att = s.create_attachment(a, &new, None).await.unwrap();
    let (one, two) = tokio::join!(
        s.put_attachment_bytes(a, att.id, b"one"),
        s.put_attachment_bytes(a, att.id, b"two"),
    );
    let (one, two) = (one.unwrap(), two.unwrap());
    assert!(one.is_some() != two.is_some(), "exactly one upload wins");
    let kept: &[u8] = if one.is_some() { b"one" } else { b"two" };
    assert_eq!(
        s.attachment_bytes(a, att.id).await.unwrap().as_deref(),
        Some(kept)
    );
    // Uploaded: no later write replaces the bytes.
    assert_eq!(
        s.put_attachment_bytes(a, att.id, b"new").await.unwrap(),
        None
    );
    assert_eq!(
        s.attachment_bytes(a, att.id).await.unwrap().as_deref(),
        Some(kept)
    );

    // Created with its bytes, then used by a message: still written once.
    let direct = s.create_attachment(a, &new, Some(b"abc")).await.unwrap();
    assert_eq!(
        s.put_attachment_bytes(a, direct.id, b"xyz").await.unwrap(),
        None
    );
    let c = conv(&s, a).await;
    s.assign_attachments(a, &[direct.id], c.id).await.unwrap();
    assert_eq!(
        s.put_attachment_bytes(a, direct.id, b"xyz").await.unwrap(),
        None
    );
    assert_eq!(
        s.attachment_bytes(a, direct.id).await.unwrap().as_deref(),
        Some(&b"abc"[..])
    );
}

async fn deleting_a_conversation_removes_its_extras(s: Store) {
    let a = &alice();
    let c = conv(&s, a).await;
    let m = say(&s, a, c.id, "hi").await;
    s.set_message_details(a, m.id, &json!({"x": 1}))
        .await
        .unwrap();
    s.add_feedback(a, c.id, &["i".to_string()], FeedbackKind::Negative)
        .await
        .unwrap();
    s.add_hidden_item(a, c.id, &json!("h")).await.unwrap();
    let new = NewAttachment {
        name: "n.txt".into(),
        mime_type: "text/plain".into(),
        size: 1,
    };
    let att = s.create_attachment(a, &new, Some(b"x")).await.unwrap();
    let kept = s.create_attachment(a, &new, Some(b"y")).await.unwrap();
    s.assign_attachments(a, &[att.id], c.id).await.unwrap();
    assert!(s.delete_conversation(a, c.id).await.unwrap());
    assert!(s.message_details(a, c.id).await.unwrap().is_empty());
    assert!(s.feedback(a, c.id).await.unwrap().is_empty());
    assert!(s.hidden_items(a, c.id).await.unwrap().is_empty());
    assert_eq!(s.get_attachment(a, att.id).await.unwrap(), None);
    assert!(s.get_attachment(a, kept.id).await.unwrap().is_some());
}
