//! Conformance cases for conversations, messages, isolation between users, JSON and timestamp
//! round trips and restarts. Each case gets a fresh, migrated store and owns it.

use super::*;

conformance!(
    migrate_twice_is_a_noop,
    conversation_lifecycle,
    append_message_allocates_seq,
    concurrent_appends_take_distinct_seqs,
    a_failing_append_among_concurrent_ones_fails_alone,
    append_to_foreign_conversation_writes_nothing,
    messages_order_and_limits,
    conversation_pages_are_stable,
    invalid_cursor,
    users_are_isolated,
    json_round_trips,
    timestamps_round_trip,
);
conformance!(@url restart_keeps_data);

async fn seqs(s: &Store, user: &UserId, id: ThreadId) -> Vec<i64> {
    let page = s.list_messages(user, id, &page(100, None)).await.unwrap();
    page.data.iter().map(|m| m.seq).collect()
}

/// Everything `user` can list, to compare before and after.
async fn snapshot(s: &Store, user: &UserId, id: ThreadId) -> impl PartialEq + std::fmt::Debug {
    let all = page(100, None);
    let conversations = s.list_conversations(user, &all).await.unwrap();
    let messages = s.list_messages(user, id, &all).await.unwrap();
    let tasks = s.list_tasks(user, TaskFilter::All, &all).await.unwrap();
    (conversations, messages, tasks)
}

async fn migrate_twice_is_a_noop(s: Store) {
    assert!(["sqlite", "postgres"].contains(&s.backend_name()));
    let c = conv(&s, &alice()).await;
    s.migrate().await.unwrap();
    s.migrate().await.unwrap();
    s.ping().await.unwrap();
    assert_eq!(s.get_conversation(&alice(), c.id).await.unwrap(), Some(c));
}

async fn conversation_lifecycle(s: Store) {
    let a = &alice();
    let meta = json!({"source": "web"});
    let c = s
        .create_conversation(a, Some("Plans"), &meta)
        .await
        .unwrap();
    assert_eq!((c.title.as_deref(), &c.metadata), (Some("Plans"), &meta));
    assert_eq!((&c.user_id, c.created_at), (a, c.updated_at));
    assert_eq!(
        s.get_conversation(a, c.id).await.unwrap().as_ref(),
        Some(&c)
    );

    let renamed = s.rename_conversation(a, c.id, "  Trip  ").await.unwrap();
    let renamed = renamed.unwrap();
    assert_eq!(renamed.title.as_deref(), Some("Trip"));
    assert!(renamed.updated_at > c.updated_at);
    assert_eq!(renamed.created_at, c.created_at);
    assert_eq!(s.get_conversation(a, c.id).await.unwrap(), Some(renamed));
    let missing = s.rename_conversation(a, ThreadId::new(), "x").await;
    assert_eq!(missing.unwrap(), None);

    say(&s, a, c.id, "one").await;
    say(&s, a, c.id, "two").await;
    let other = conv(&s, a).await;
    say(&s, a, other.id, "stays").await;

    assert!(s.delete_conversation(a, c.id).await.unwrap());
    assert_eq!(s.get_conversation(a, c.id).await.unwrap(), None);
    assert!(seqs(&s, a, c.id).await.is_empty(), "messages cascade");
    assert!(!s.delete_conversation(a, c.id).await.unwrap());
    let late = s.append_message(a, &msg(c.id, "late")).await;
    assert!(matches!(late, Err(Error::NotFound("conversation"))));
    assert_eq!(seqs(&s, a, other.id).await, vec![1]);
}

async fn append_message_allocates_seq(s: Store) {
    let a = &alice();
    let c = conv(&s, a).await;
    let mut last = c.updated_at;
    for expected in 1..=3 {
        let m = say(&s, a, c.id, "hi").await;
        assert_eq!(m.seq, expected);
        assert!(m.created_at > last);
        let now = s.get_conversation(a, c.id).await.unwrap().unwrap();
        assert_eq!(now.updated_at, m.created_at, "append bumps updated_at");
        assert_eq!(now.created_at, c.created_at);
        last = m.created_at;
    }
    assert_eq!(seqs(&s, a, c.id).await, vec![1, 2, 3]);
}

async fn concurrent_appends_take_distinct_seqs(s: Store) {
    let a = &alice();
    let c = conv(&s, a).await;
    let appends = (0..20).map(|i| {
        let s = s.clone();
        tokio::spawn(async move { say(&s, &alice(), c.id, &format!("m{i}")).await })
    });
    let mut got: Vec<Message> = futures::future::join_all(appends)
        .await
        .into_iter()
        .map(Result::unwrap)
        .collect();
    got.sort_by_key(|m| m.seq);
    assert_eq!(
        got.iter().map(|m| m.seq).collect::<Vec<_>>(),
        (1..=20).collect::<Vec<_>>()
    );
    assert_eq!(seqs(&s, a, c.id).await, (1..=20).collect::<Vec<_>>());
    let last = got.last().unwrap();
    let now = s.get_conversation(a, c.id).await.unwrap().unwrap();
    assert_eq!(now.updated_at, last.created_at);
    // A message id already stored fails the whole append: no seq is used up.
    let again = NewMessage {
        id: last.id,
        ..msg(c.id, "again")
    };
    assert!(s.append_message(a, &again).await.is_err());
    assert_eq!(say(&s, a, c.id, "next").await.seq, 21);
}

async fn a_failing_append_among_concurrent_ones_fails_alone(s: Store) {
    let a = &alice();
    let c = conv(&s, a).await;
    let taken = say(&s, a, c.id, "first").await;
    // Appends racing each other (SQLite commits those that queue up together): one reuses a
    // stored message id, one targets a conversation that is not there.
    let appends = (0..12).map(|i| {
        let s = s.clone();
        let m = match i {
            5 => NewMessage {
                id: taken.id,
                ..msg(c.id, "duplicate")
            },
            7 => msg(ThreadId::new(), "nowhere"),
            _ => msg(c.id, &format!("m{i}")),
        };
        tokio::spawn(async move { s.append_message(&alice(), &m).await })
    });
    let results: Vec<_> = futures::future::join_all(appends)
        .await
        .into_iter()
        .map(Result::unwrap)
        .collect();
    for (i, r) in results.iter().enumerate() {
        match i {
            5 => assert!(matches!(r, Err(e) if e.code() == "internal"), "{i}: {r:?}"),
            7 => assert!(
                matches!(r, Err(Error::NotFound("conversation"))),
                "{i}: {r:?}"
            ),
            _ => assert!(r.is_ok(), "{i}: {r:?}"),
        }
    }
    assert_eq!(seqs(&s, a, c.id).await, (1..=11).collect::<Vec<_>>());
}

async fn append_to_foreign_conversation_writes_nothing(s: Store) {
    let (a, b) = (&alice(), &bob());
    let c = conv(&s, a).await;
    say(&s, a, c.id, "mine").await;
    let before = s.get_conversation(a, c.id).await.unwrap();
    let intruder = msg(c.id, "not yours");
    let err = s.append_message(b, &intruder).await;
    assert!(
        matches!(err, Err(Error::NotFound("conversation"))),
        "{err:?}"
    );
    let missing = s.append_message(a, &msg(ThreadId::new(), "x")).await;
    assert!(matches!(missing, Err(Error::NotFound("conversation"))));
    let streaming = NewMessage {
        status: MessageStatus::InProgress,
        ..msg(c.id, "partial")
    };
    let err = s.append_message(a, &streaming).await;
    assert!(matches!(err, Err(Error::Internal(_))), "{err:?}");
    assert_eq!(s.get_conversation(a, c.id).await.unwrap(), before);
    assert_eq!(seqs(&s, a, c.id).await, vec![1]);
    assert!(seqs(&s, b, c.id).await.is_empty());
    // The failed append consumed no seq and left its message id free.
    let retry = s.append_message(a, &intruder).await.unwrap();
    assert_eq!((retry.seq, retry.id), (2, intruder.id));
}

async fn messages_order_and_limits(s: Store) {
    let a = &alice();
    let c = conv(&s, a).await;
    for i in 1..=7 {
        say(&s, a, c.id, &format!("m{i}")).await;
    }
    let mut after = None;
    let mut pages = vec![];
    loop {
        let p = s.list_messages(a, c.id, &page(3, after)).await.unwrap();
        assert_eq!(p.has_more, p.after.is_some());
        let contents: Vec<_> = p.data.iter().map(|m| m.content.as_str()).collect();
        pages.push(contents.join(","));
        if !p.has_more {
            break;
        }
        after = p.after;
    }
    assert_eq!(pages, ["m1,m2,m3", "m4,m5,m6", "m7"]);
    let one = s.list_messages(a, c.id, &page(0, None)).await.unwrap();
    assert_eq!(
        (one.data.len(), one.has_more),
        (1, true),
        "limit 0 clamps to 1"
    );
    let all = s.list_messages(a, c.id, &page(10_000, None)).await.unwrap();
    assert_eq!((all.data.len(), all.has_more, all.after), (7, false, None));

    for (limit, expected) in [(3, vec![5, 6, 7]), (100, (1..=7).collect()), (0, vec![])] {
        let recent = s.recent_messages(a, c.id, limit).await.unwrap();
        let got: Vec<i64> = recent.iter().map(|m| m.seq).collect();
        assert_eq!(got, expected, "recent_messages({limit})");
    }
}

async fn conversation_pages_are_stable(s: Store) {
    let a = &alice();
    let mut created = vec![];
    for _ in 0..5 {
        created.push(conv(&s, a).await);
    }
    created.sort_by_key(|c| std::cmp::Reverse((c.updated_at, c.id.0)));
    let expected: Vec<ThreadId> = created.iter().map(|c| c.id).collect();
    let ids = |p: &agentwire::model::Page<Conversation>| -> Vec<ThreadId> {
        p.data.iter().map(|c| c.id).collect()
    };

    let p1 = s.list_conversations(a, &page(2, None)).await.unwrap();
    assert_eq!((ids(&p1), p1.has_more), (expected[0..2].to_vec(), true));
    let newest = conv(&s, a).await;
    let p2 = s.list_conversations(a, &page(2, p1.after)).await.unwrap();
    assert_eq!(
        ids(&p2),
        expected[2..4],
        "no duplicate, no gap after an insert"
    );
    let p3 = s.list_conversations(a, &page(2, p2.after)).await.unwrap();
    assert_eq!(
        (ids(&p3), p3.has_more, p3.after),
        (expected[4..].to_vec(), false, None)
    );

    let fresh = s.list_conversations(a, &page(100, None)).await.unwrap();
    assert_eq!(fresh.data.len(), 6);
    assert_eq!(fresh.data[0].id, newest.id);
    say(&s, a, expected[4], "bump").await;
    let fresh = s.list_conversations(a, &page(1, None)).await.unwrap();
    assert_eq!(
        fresh.data[0].id, expected[4],
        "activity moves a conversation first"
    );
}

async fn invalid_cursor(s: Store) {
    let a = &alice();
    let c = conv(&s, a).await;
    for bad in ["garbage", "12", "-1:x", "1:not-a-uuid", ""] {
        let r = s.list_conversations(a, &page(5, Some(bad.into()))).await;
        let ok = matches!(&r, Err(Error::Invalid(m)) if m == "invalid cursor");
        assert!(ok, "{bad:?}: {r:?}");
    }
    for bad in ["x", "-1", "1.5", ""] {
        let after = Some(bad.to_string());
        assert_invalid(s.list_messages(a, c.id, &page(5, after.clone())).await);
        assert_invalid(s.list_tasks(a, TaskFilter::All, &page(5, after)).await);
    }
}

async fn users_are_isolated(s: Store) {
    let (a, b) = (&alice(), &bob());
    let c = s
        .create_conversation(a, Some("secret"), &json!({"k": 1}))
        .await;
    let c = c.unwrap();
    say(&s, a, c.id, "private").await;
    add(&s, a, "alice's task").await;
    let all = page(100, None);
    let before = snapshot(&s, a, c.id).await;

    assert_eq!(s.get_conversation(b, c.id).await.unwrap(), None);
    assert!(s.list_conversations(b, &all).await.unwrap().data.is_empty());
    assert_eq!(s.rename_conversation(b, c.id, "mine").await.unwrap(), None);
    assert!(!s.delete_conversation(b, c.id).await.unwrap());
    let err = s.append_message(b, &msg(c.id, "hi")).await;
    assert!(matches!(err, Err(Error::NotFound("conversation"))));
    let msgs = s.list_messages(b, c.id, &all).await.unwrap();
    assert!(msgs.data.is_empty() && !msgs.has_more);
    assert!(s.recent_messages(b, c.id, 10).await.unwrap().is_empty());
    assert_eq!(s.get_task(b, 1).await.unwrap(), None);
    assert!(s.find_tasks(b, "task").await.unwrap().is_empty());
    let listed = s.list_tasks(b, TaskFilter::All, &all).await.unwrap();
    assert!(listed.data.is_empty());
    let patch = TaskPatch {
        completed: Some(true),
        ..TaskPatch::default()
    };
    assert_eq!(s.update_task(b, 1, &patch).await.unwrap(), None);
    assert_eq!(s.delete_task(b, 1).await.unwrap(), None);

    assert_eq!(
        snapshot(&s, a, c.id).await,
        before,
        "alice's data is unchanged"
    );
    assert_eq!(add(&s, b, "bob's").await.number, 1);
}

async fn json_round_trips(s: Store) {
    let a = &alice();
    let meta = json!({"client": {"tags": ["a", "b"], "n": 1.5, "none": null}});
    let c = s.create_conversation(a, None, &meta).await.unwrap();
    let tool_calls = vec![
        ToolCall {
            id: Some("call_1".into()),
            tool_name: "add_task".into(),
            arguments: json!({"title": "Ünïcødé ✓ \"q\"", "due": null, "n": [1, {"d": [true]}]}),
            result: json!({"ok": true, "task": {"number": 3, "tags": []}}),
        },
        ToolCall {
            id: None,
            tool_name: "list".into(),
            arguments: json!({}),
            result: json!("plain"),
        },
    ];
    let usage = Usage {
        prompt_tokens: 10,
        completion_tokens: 5,
        total_tokens: 15,
    };
    let assistant = NewMessage {
        role: Role::Assistant,
        status: MessageStatus::Cancelled,
        tool_calls,
        usage: Some(usage),
        ..msg(c.id, "done")
    };
    let tool = NewMessage {
        role: Role::Tool,
        status: MessageStatus::Failed,
        ..msg(c.id, "")
    };
    let first = s.append_message(a, &assistant).await.unwrap();
    let second = s.append_message(a, &tool).await.unwrap();
    let read = s
        .list_messages(a, c.id, &page(10, None))
        .await
        .unwrap()
        .data;
    assert_eq!(read, vec![first, second]);
    assert_eq!((read[0].usage, read[1].usage), (Some(usage), None));
    assert_eq!(read[0].tool_calls, assistant.tool_calls);
    let got = s.get_conversation(a, c.id).await.unwrap().unwrap();
    assert_eq!(got.metadata, meta);
}

async fn timestamps_round_trip(s: Store) {
    let a = &alice();
    let c = conv(&s, a).await;
    let m = say(&s, a, c.id, "x").await;
    let t = add(&s, a, "x").await;
    for ts in [c.created_at, m.created_at, t.created_at, t.updated_at] {
        assert_eq!(
            ts.timestamp_subsec_nanos() % 1_000,
            0,
            "microsecond precision"
        );
    }
    let got = s.get_conversation(a, c.id).await.unwrap().unwrap();
    assert_eq!(
        (got.created_at, got.updated_at),
        (c.created_at, m.created_at)
    );
    let read = s.recent_messages(a, c.id, 1).await.unwrap();
    assert_eq!(read, vec![m]);
    assert_eq!(s.get_task(a, 1).await.unwrap(), Some(t));
}

async fn restart_keeps_data(s: Store, url: String) {
    let a = &alice();
    let c = s
        .create_conversation(a, Some("durable"), &json!({"v": 1}))
        .await;
    let m = say(&s, a, c.unwrap().id, "remember me").await;
    let t = add(&s, a, "survive").await;
    let c = s.get_conversation(a, m.conversation_id).await.unwrap();
    s.close().await;

    let s = Store::connect(&url, 2).await.unwrap();
    s.migrate().await.unwrap();
    assert_eq!(s.get_conversation(a, m.conversation_id).await.unwrap(), c);
    let read = s.list_messages(a, m.conversation_id, &page(10, None)).await;
    assert_eq!(read.unwrap().data, vec![m]);
    assert_eq!(s.get_task(a, 1).await.unwrap(), Some(t));
    assert_eq!(add(&s, a, "next").await.number, 2);
    s.close().await;
}
