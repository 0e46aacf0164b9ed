//! Conformance cases for tasks: per-user numbering, concurrency, search, filters, patches,
//! deletes and title validation. Each case gets a fresh, migrated store and owns it.

use super::*;

conformance!(
    task_numbers,
    concurrent_add_task,
    find_tasks,
    list_tasks_filters,
    update_task_patch,
    delete_task_returns_it,
    titles_are_validated,
);

async fn numbers(s: &Store, filter: TaskFilter, p: PageRequest) -> (Vec<i64>, Option<String>) {
    let page = s.list_tasks(&alice(), filter, &p).await.unwrap();
    assert_eq!(page.has_more, page.after.is_some());
    (page.data.iter().map(|t| t.number).collect(), page.after)
}

fn patch() -> TaskPatch {
    TaskPatch::default()
}

async fn task_numbers(s: Store) {
    let (a, b) = (&alice(), &bob());
    for (expected, title) in [(1, "a"), (2, "b"), (3, "c")] {
        let t = add(&s, a, title).await;
        assert_eq!(
            (t.number, t.completed, t.priority),
            (expected, false, Priority::Medium)
        );
        assert_eq!(s.get_task(a, t.number).await.unwrap(), Some(t));
    }
    assert_eq!(add(&s, b, "b1").await.number, 1);
    s.delete_task(a, 3).await.unwrap().unwrap();
    assert_eq!(add(&s, a, "d").await.number, 4, "numbers are never reused");
    s.delete_task(a, 4).await.unwrap().unwrap();
    assert_eq!(add(&s, a, "e").await.number, 5);
    assert_eq!(s.get_task(a, 3).await.unwrap(), None);
    assert_eq!(add(&s, b, "b2").await.number, 2);
}

async fn concurrent_add_task(s: Store) {
    let adds = (0..20).map(|i| {
        let s = s.clone();
        tokio::spawn(async move { add(&s, &alice(), &format!("t{i}")).await.number })
    });
    let results = futures::future::join_all(adds).await;
    let mut got: Vec<i64> = results.into_iter().map(Result::unwrap).collect();
    got.sort_unstable();
    assert_eq!(got, (1..=20).collect::<Vec<_>>());
    let (listed, _) = numbers(&s, TaskFilter::All, page(100, None)).await;
    assert_eq!(listed, got);
}

async fn find_tasks(s: Store) {
    let a = &alice();
    for title in [
        "Buy MILK",
        "milk the cow",
        "Call mom",
        "Almond Milk latte",
        "100% done",
    ] {
        add(&s, a, title).await;
    }
    let done = TaskPatch {
        completed: Some(true),
        ..patch()
    };
    s.update_task(a, 2, &done).await.unwrap().unwrap();
    let found = |q: &'static str| {
        let s = s.clone();
        async move {
            let tasks = s.find_tasks(&alice(), q).await.unwrap();
            tasks.iter().map(|t| t.number).collect::<Vec<_>>()
        }
    };
    assert_eq!(
        found("  mIlK ").await,
        vec![1, 4, 2],
        "pending first, then by number"
    );
    assert_eq!(found("%").await, vec![5], "wildcards are literal");
    assert!(found("_").await.is_empty());
    assert!(found("nothing").await.is_empty());
    for i in 0..25 {
        add(&s, a, &format!("bulk {i}")).await;
    }
    assert_eq!(
        found("BULK").await,
        (6..=25).collect::<Vec<_>>(),
        "at most 20"
    );
}

async fn list_tasks_filters(s: Store) {
    let a = &alice();
    for i in 1..=5 {
        add(&s, a, &format!("t{i}")).await;
    }
    let done = TaskPatch {
        completed: Some(true),
        ..patch()
    };
    for n in [2, 4] {
        s.update_task(a, n, &done).await.unwrap().unwrap();
    }
    let all = page(50, None);
    assert_eq!(
        numbers(&s, TaskFilter::All, all.clone()).await.0,
        [1, 2, 3, 4, 5]
    );
    assert_eq!(
        numbers(&s, TaskFilter::Pending, all.clone()).await.0,
        [1, 3, 5]
    );
    assert_eq!(numbers(&s, TaskFilter::Completed, all).await.0, [2, 4]);
    let (first, after) = numbers(&s, TaskFilter::Pending, page(2, None)).await;
    assert_eq!(first, [1, 3]);
    add(&s, a, "t6").await;
    let (second, after) = numbers(&s, TaskFilter::Pending, page(2, after)).await;
    assert_eq!((second, after), (vec![5, 6], None));
}

async fn update_task_patch(s: Store) {
    let a = &alice();
    let new = NewTask {
        title: "Pay rent".into(),
        priority: Priority::High,
        due_date: Some(date("2030-01-31")),
    };
    let t = s.add_task(a, &new).await.unwrap();
    let retitle = TaskPatch {
        title: Some(" Pay the rent ".into()),
        ..patch()
    };
    let u = s.update_task(a, 1, &retitle).await.unwrap().unwrap();
    assert_eq!(u.title, "Pay the rent");
    assert_eq!(
        (u.priority, u.due_date, u.completed),
        (t.priority, t.due_date, false)
    );
    assert!(u.updated_at > t.updated_at);
    assert_eq!(u.created_at, t.created_at);

    let finish = TaskPatch {
        priority: Some(Priority::Low),
        completed: Some(true),
        ..patch()
    };
    let u = s.update_task(a, 1, &finish).await.unwrap().unwrap();
    assert_eq!((u.priority, u.completed), (Priority::Low, true));
    assert_eq!(u.due_date, Some(date("2030-01-31")));
    let clear = TaskPatch {
        due_date: Some(None),
        ..patch()
    };
    let u = s.update_task(a, 1, &clear).await.unwrap().unwrap();
    assert_eq!(
        (u.due_date, u.completed, u.title.as_str()),
        (None, true, "Pay the rent")
    );
    let reopen = TaskPatch {
        due_date: Some(Some(date("2031-02-28"))),
        completed: Some(false),
        ..patch()
    };
    let u = s.update_task(a, 1, &reopen).await.unwrap().unwrap();
    assert_eq!((u.due_date, u.completed), (Some(date("2031-02-28")), false));

    let touched = s.update_task(a, 1, &patch()).await.unwrap().unwrap();
    assert!(
        touched.updated_at > u.updated_at,
        "an empty patch still bumps updated_at"
    );
    let expected = Task {
        updated_at: touched.updated_at,
        ..u
    };
    assert_eq!(touched, expected);
    assert_eq!(s.get_task(a, 1).await.unwrap(), Some(touched));
    assert_eq!(s.update_task(a, 99, &clear).await.unwrap(), None);
}

async fn delete_task_returns_it(s: Store) {
    let a = &alice();
    add(&s, a, "keep").await;
    add(&s, a, "drop").await;
    let before = s.get_task(a, 2).await.unwrap();
    assert!(before.is_some());
    assert_eq!(s.delete_task(a, 2).await.unwrap(), before);
    assert_eq!(s.get_task(a, 2).await.unwrap(), None);
    assert_eq!(s.delete_task(a, 2).await.unwrap(), None);
    assert_eq!(numbers(&s, TaskFilter::All, page(10, None)).await.0, [1]);
}

async fn titles_are_validated(s: Store) {
    let a = &alice();
    let long = "é".repeat(501);
    for bad in ["", "  \t ", long.as_str()] {
        assert_invalid(s.add_task(a, &task(bad)).await);
    }
    assert_invalid(s.create_conversation(a, Some(&long), &json!({})).await);
    let untitled = s.create_conversation(a, Some(" \n"), &json!({})).await;
    assert_eq!(
        untitled.unwrap().title,
        None,
        "a blank title means untitled"
    );
    let ok = add(&s, a, &"é".repeat(500)).await;
    assert_eq!(ok.number, 1, "rejected adds consume no number");
    let c = s
        .create_conversation(a, Some("t"), &json!({}))
        .await
        .unwrap();
    assert_invalid(s.rename_conversation(a, c.id, " ").await);
    assert_invalid(s.rename_conversation(a, c.id, &long).await);
    let bad = TaskPatch {
        title: Some("\n".into()),
        completed: Some(true),
        ..patch()
    };
    assert_invalid(s.update_task(a, 1, &bad).await);
    assert_eq!(s.get_task(a, 1).await.unwrap(), Some(ok));
    assert_eq!(s.get_conversation(a, c.id).await.unwrap(), Some(c));
}
