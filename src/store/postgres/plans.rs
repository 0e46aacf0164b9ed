//! The plans PostgreSQL picks for a thread's history, on a thread long enough for a bad plan to
//! show: rows straight off the `(conversation_id, seq)` index, never a scan of the whole thread
//! and a sort. Checked for the generic plan of a prepared statement (what sqlx's cached
//! statements settle on) and for the custom one. Skipped when `TEST_DATABASE_URL` is unset.

use serde_json::Value;
use sqlx::{Connection, Executor, PgConnection};
use uuid::Uuid;

use super::{thread_newest, thread_page};

/// Threads in the database, one per user, their messages interleaved on disk as concurrent
/// conversations' are; and messages per thread.
const THREADS: i64 = 50;
const PER_THREAD: i64 = 300;

/// A fresh, migrated database holding [`THREADS`] threads of [`PER_THREAD`] messages,
/// analysed, and one of the threads with its owner; `None` without `TEST_DATABASE_URL`.
async fn long_threads() -> Option<(PgConnection, Uuid, String)> {
    let admin_url = std::env::var("TEST_DATABASE_URL").ok()?;
    let name = format!("agentwire_t_{}", Uuid::new_v4().simple());
    let mut admin = PgConnection::connect(&admin_url).await.unwrap();
    admin
        .execute(format!("CREATE DATABASE {name}").as_str())
        .await
        .unwrap();
    let (base, query) = admin_url
        .split_once('?')
        .map_or((admin_url.as_str(), ""), |(b, q)| (b, q));
    let server = base.rsplit_once('/').map_or(base, |(s, _)| s);
    let url = match query {
        "" => format!("{server}/{name}"),
        q => format!("{server}/{name}?{q}"),
    };
    let pool = super::connect(&url, 1, crate::store::DEFAULT_TIMEOUT)
        .await
        .unwrap();
    super::migrate(&pool).await.unwrap();
    pool.close().await;

    let mut conn = PgConnection::connect(&url).await.unwrap();
    sqlx::query(
        "INSERT INTO conversations (id, user_id, title, created_at, updated_at, metadata) \
         SELECT gen_random_uuid(), 'user-' || n, 't', now(), now(), '{}' \
         FROM generate_series(1, $1) AS n",
    )
    .bind(THREADS)
    .execute(&mut conn)
    .await
    .unwrap();
    sqlx::query(
        "INSERT INTO messages (id, conversation_id, user_id, seq, role, content, status, \
         created_at) \
         SELECT gen_random_uuid(), c.id, c.user_id, s, 'user', repeat('word ', 60), \
                'completed', now() \
         FROM generate_series(1, $1) AS s, conversations c ORDER BY s, c.id",
    )
    .bind(PER_THREAD)
    .execute(&mut conn)
    .await
    .unwrap();
    conn.execute("ANALYZE").await.unwrap();
    let (thread, user): (Uuid, String) =
        sqlx::query_as("SELECT id, user_id FROM conversations ORDER BY id LIMIT 1")
            .fetch_one(&mut conn)
            .await
            .unwrap();
    Some((conn, thread, user))
}

/// Every node type of a JSON plan.
fn node_types(plan: &Value, out: &mut Vec<String>) {
    if let Some(t) = plan.get("Node Type").and_then(Value::as_str) {
        let direction = plan.get("Scan Direction").and_then(Value::as_str);
        out.push(match direction {
            Some("Backward") => format!("{t} Backward"),
            _ => t.to_string(),
        });
    }
    for child in plan
        .get("Plans")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        node_types(child, out);
    }
}

/// The node types of the plans of `sql`, prepared as the driver prepares it, for these
/// parameters: the custom plan, then the generic one.
async fn plans(conn: &mut PgConnection, sql: &str, types: &str, params: &str) -> Vec<Vec<String>> {
    conn.execute("DEALLOCATE ALL").await.unwrap();
    conn.execute(format!("PREPARE q ({types}) AS {sql}").as_str())
        .await
        .unwrap();
    let mut all = Vec::new();
    for mode in ["force_custom_plan", "force_generic_plan"] {
        conn.execute(format!("SET plan_cache_mode = {mode}").as_str())
            .await
            .unwrap();
        let explained: Value =
            sqlx::query_scalar(&format!("EXPLAIN (FORMAT JSON) EXECUTE q ({params})"))
                .fetch_one(&mut *conn)
                .await
                .unwrap();
        let mut nodes = Vec::new();
        node_types(&explained[0]["Plan"], &mut nodes);
        all.push(nodes);
    }
    all
}

/// Every plan reads its rows with `scan` and sorts nothing, nor scans the thread with a bitmap.
fn assert_off_the_index(plans: Vec<Vec<String>>, scan: &str) {
    for nodes in plans {
        assert!(nodes.iter().any(|n| n == scan), "{nodes:?}");
        assert!(
            !nodes.iter().any(|n| n == "Sort" || n.starts_with("Bitmap")),
            "{nodes:?}"
        );
    }
}

#[tokio::test]
async fn a_threads_newest_messages_come_off_the_index_without_a_sort() {
    let Some((mut conn, thread, user)) = long_threads().await else {
        eprintln!("note: TEST_DATABASE_URL is unset; skipping");
        return;
    };
    let params = format!("'{thread}', '{user}', 21");
    let sql = format!("{} LIMIT $3", thread_newest());
    let plans = plans(&mut conn, &sql, "uuid, text, int8", &params).await;
    assert_off_the_index(plans, "Index Scan Backward");
}

#[tokio::test]
async fn a_page_of_a_thread_comes_off_the_index_without_a_sort() {
    let Some((mut conn, thread, user)) = long_threads().await else {
        eprintln!("note: TEST_DATABASE_URL is unset; skipping");
        return;
    };
    // The first page: the whole thread is after its cursor.
    let params = format!("'{thread}', '{user}', 0, 51");
    let sql = format!("{} LIMIT $4", thread_page());
    let plans = plans(&mut conn, &sql, "uuid, text, int8, int8", &params).await;
    assert_off_the_index(plans, "Index Scan");
}
