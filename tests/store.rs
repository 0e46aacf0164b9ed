//! Conformance suite for `Store`: each case is written once (in `store/conversations.rs` and
//! `store/tasks.rs`) and runs on SQLite (a fresh temp file per test) and on PostgreSQL (a fresh
//! database per test) when `TEST_DATABASE_URL` is set. This file owns the harness and shared
//! helpers. Cases must not depend on each other, on test order, or on anything outside their
//! database.

use std::future::Future;

use agentwire::error::Error;
use agentwire::model::{
    Conversation, Message, MessageId, MessageStatus, NewMessage, NewTask, PageRequest, Priority,
    Role, Task, TaskFilter, TaskPatch, ThreadId, ToolCall, Usage, UserId,
};
use agentwire::store::Store;
use chrono::NaiveDate;
use serde_json::json;
use sqlx::{Connection, Executor, PgConnection};

struct TestDb {
    store: Store,
    url: String,
    _dir: Option<tempfile::TempDir>,
    /// `(admin_url, database)` of a PostgreSQL database to drop afterwards.
    drop_pg: Option<(String, String)>,
}

async fn sqlite_db() -> TestDb {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("agentwire.db").display());
    let store = Store::connect(&url, 5).await.unwrap();
    store.migrate().await.unwrap();
    TestDb {
        store,
        url,
        _dir: Some(dir),
        drop_pg: None,
    }
}

async fn postgres_db() -> Option<TestDb> {
    let Ok(admin_url) = std::env::var("TEST_DATABASE_URL") else {
        eprintln!("note: TEST_DATABASE_URL is unset; skipping this PostgreSQL test");
        return None;
    };
    let name = format!("agentwire_test_{}", uuid::Uuid::new_v4().simple());
    let mut admin = PgConnection::connect(&admin_url).await.unwrap();
    admin
        .execute(format!("CREATE DATABASE {name}").as_str())
        .await
        .unwrap();
    admin.close().await.unwrap();
    let url = with_database(&admin_url, &name);
    let store = Store::connect(&url, 5).await.unwrap();
    store.migrate().await.unwrap();
    Some(TestDb {
        store,
        url,
        _dir: None,
        drop_pg: Some((admin_url, name)),
    })
}

/// `admin_url` with its database name replaced, keeping any `?query`.
fn with_database(admin_url: &str, name: &str) -> String {
    let (base, query) = admin_url
        .split_once('?')
        .map_or((admin_url, None), |(b, q)| (b, Some(q)));
    let (scheme, rest) = base.split_once("://").unwrap();
    let authority = rest.split_once('/').map_or(rest, |(a, _)| a);
    let query = query.map(|q| format!("?{q}")).unwrap_or_default();
    format!("{scheme}://{authority}/{name}{query}")
}

/// Runs a case on its own task so the database is dropped even when the case panics.
async fn run<F, Fut>(db: TestDb, case: F)
where
    F: FnOnce(Store, String) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let outcome = tokio::spawn(case(db.store.clone(), db.url.clone())).await;
    db.store.close().await;
    if let Some((admin_url, name)) = db.drop_pg {
        if let Ok(mut admin) = PgConnection::connect(&admin_url).await {
            let drop = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
            let _ = admin.execute(drop.as_str()).await;
        }
    }
    if let Err(e) = outcome {
        std::panic::resume_unwind(e.into_panic());
    }
}

/// Inside a case module: one `mod <case>` per case, each with a `sqlite` and a `postgres`
/// test. `@url` cases also receive the database URL (to reconnect).
macro_rules! conformance {
    ($($case:ident),* $(,)?) => {
        $(conformance!(@test $case, |store, _url| super::$case(store));)*
    };
    (@url $($case:ident),* $(,)?) => {
        $(conformance!(@test $case, super::$case);)*
    };
    (@test $case:ident, $call:expr) => {
        mod $case {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                crate::run(crate::sqlite_db().await, $call).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                if let Some(db) = crate::postgres_db().await {
                    crate::run(db, $call).await;
                }
            }
        }
    };
}

#[path = "store/answers.rs"]
mod answers;
#[path = "store/claims.rs"]
mod claims;
#[path = "store/conversations.rs"]
mod conversations;
#[path = "store/items.rs"]
mod items;
#[path = "store/queue.rs"]
mod queue;
#[path = "store/tasks.rs"]
mod tasks;
#[path = "store/turns.rs"]
mod turns;

fn alice() -> UserId {
    UserId::new("alice")
}

fn bob() -> UserId {
    UserId::new("bob")
}

fn page(limit: u32, after: Option<String>) -> PageRequest {
    PageRequest { limit, after }
}

fn date(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}

fn assert_invalid<T: std::fmt::Debug>(r: Result<T, Error>) {
    assert!(
        matches!(r, Err(Error::Invalid(_))),
        "expected Invalid, got {r:?}"
    );
}

fn msg(conversation_id: ThreadId, content: &str) -> NewMessage {
    NewMessage {
        id: MessageId::new(),
        conversation_id,
        role: Role::User,
        content: content.to_string(),
        tool_calls: vec![],
        status: MessageStatus::Completed,
        usage: None,
        details: None,
    }
}

fn task(title: &str) -> NewTask {
    NewTask {
        title: title.to_string(),
        priority: Priority::Medium,
        due_date: None,
    }
}

/// A new untitled conversation of `user`.
async fn conv(s: &Store, user: &UserId) -> Conversation {
    s.create_conversation(user, None, &json!({})).await.unwrap()
}

/// Appends a user message and returns it.
async fn say(s: &Store, user: &UserId, id: ThreadId, content: &str) -> Message {
    s.append_message(user, &msg(id, content)).await.unwrap()
}

async fn add(s: &Store, user: &UserId, title: &str) -> Task {
    s.add_task(user, &task(title)).await.unwrap()
}

#[tokio::test]
async fn unknown_scheme_is_invalid() {
    let err = Store::connect("mysql://root:secret@localhost/db", 1).await;
    let Err(Error::Invalid(message)) = &err else {
        panic!("expected Invalid, got {err:?}")
    };
    assert!(message.contains("`mysql`"), "{message}");
    assert!(!message.contains("secret"), "{message}");
    assert_invalid(Store::connect("no-scheme", 1).await);
}

#[tokio::test]
async fn sqlite_in_memory_works() {
    let s = Store::connect("sqlite::memory:", 4).await.unwrap();
    s.migrate().await.unwrap();
    assert_eq!(s.backend_name(), "sqlite");
    let c = conv(&s, &alice()).await;
    assert_eq!(say(&s, &alice(), c.id, "hi").await.seq, 1);
    s.ping().await.unwrap();
    s.close().await;
}
