//! The PostgreSQL backend: pool options, migrations and every PostgreSQL query of the store.
//!
//! Native types throughout: UUID, TIMESTAMPTZ (microsecond precision), JSONB, DATE, BOOLEAN.
//! Functions here are called only through `Store`, receive already-validated input and must
//! not validate or build cursors. Every user-data query filters by `user_id`, on the row or
//! on the conversation it belongs to.

pub(super) mod answers;
pub(super) mod items;
#[cfg(test)]
mod plans;
pub(super) mod queue;

use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};
use serde_json::Value;
use sqlx::postgres::{PgArguments, PgConnectOptions, PgPoolOptions, PgRow};
use sqlx::query::QueryAs;
use sqlx::types::Json;
use sqlx::{Connection, PgConnection, PgPool, Postgres, Row};

use super::cursor::ConversationKey;
use super::{
    added, appended, migrator, parse_priority, parse_role, parse_status, shown_next_seq, ClaimStep,
    TurnStart, FIND_TASKS_LIMIT,
};
use crate::error::{Error, Result};
use crate::model::{
    Conversation, Message, MessageId, NewMessage, NewTask, Task, TaskFilter, TaskPatch, ThreadId,
    ToolCall, Usage, UserId,
};

pub(super) const CONVERSATION: &str = "id, user_id, title, created_at, updated_at, metadata";
pub(super) const MESSAGE: &str =
    "id, conversation_id, seq, role, content, tool_calls, status, usage, created_at, next_seq";
const TASK: &str = "number, title, priority, due_date, completed, created_at, updated_at";

/// A thread's messages after seq `$3`, oldest first; `$1` the conversation, `$2` its owner.
///
/// Ownership is checked on the conversation, not on `messages.user_id`: the planner takes the
/// two conditions on messages as independent, when the thread fixes its user, so it expected
/// a handful of rows, read the whole thread with a bitmap scan and sorted it. That made every
/// turn's history read grow with the thread (1.5 ms at 500 messages). Conditioned on the
/// conversation alone, the rows come straight off the `(conversation_id, seq)` index, and the
/// owner check runs once. The plans are checked in `postgres::plans`, generic and custom.
pub(super) fn thread_page() -> String {
    format!("SELECT {MESSAGE} FROM messages WHERE conversation_id = $1 AND seq > $3 AND {OWNED} ORDER BY seq")
}

/// A thread's messages, newest first; `$1` the conversation, `$2` its owner (see
/// [`thread_page`] for why the owner is checked on the conversation).
pub(super) fn thread_newest() -> String {
    format!(
        "SELECT {MESSAGE} FROM messages WHERE conversation_id = $1 AND {OWNED} ORDER BY seq DESC"
    )
}

/// Conversation `$1` is user `$2`'s.
const OWNED: &str = "EXISTS (SELECT 1 FROM conversations c WHERE c.id = $1 AND c.user_id = $2)";

/// A pool of at most `pool_size` connections to `url`, after one connection proved the server
/// reachable. Waiting for a pooled connection and running one statement each take at most
/// `timeout`; past it the operation fails (`Error::DatabaseUnavailable`).
pub(super) async fn connect(url: &str, pool_size: u32, timeout: Duration) -> Result<PgPool> {
    // The server cancels a statement that runs past the timeout (57014); a startup parameter,
    // so it costs no round trip.
    let options = PgConnectOptions::from_str(url)?
        .options([("statement_timeout", timeout.as_millis().to_string())]);
    // The pool retries a refused connection until its acquire timeout and then says only that
    // it timed out; one attempt of our own first says where and why, as soon as it fails.
    let place = format!("{}:{}", options.get_host(), options.get_port());
    let unreachable = |why: String| {
        Error::DatabaseUnavailable(format!("cannot connect to PostgreSQL at {place}: {why}"))
    };
    match tokio::time::timeout(timeout, PgConnection::connect_with(&options)).await {
        Ok(Ok(conn)) => {
            let _ = conn.close().await;
        }
        Ok(Err(sqlx::Error::Io(e))) => return Err(unreachable(e.to_string())),
        Ok(Err(e)) => return Err(unreachable(e.to_string())),
        Err(_) => return Err(unreachable(format!("no answer within {timeout:?}"))),
    }
    // sqlx already pings each connection when it comes back to the pool; a second ping when it
    // is taken out again would cost every query one more round trip to the server.
    Ok(PgPoolOptions::new()
        .max_connections(pool_size)
        .test_before_acquire(false)
        .acquire_timeout(timeout)
        .connect_lazy_with(options))
}

pub(super) async fn migrate(pool: &PgPool) -> Result<()> {
    // A migration may rewrite a large table: it runs without the statement timeout, on a
    // connection taken out of the pool for good so the setting never reaches a request.
    let mut conn = pool.acquire().await?.detach();
    sqlx::query("SET statement_timeout = 0")
        .execute(&mut conn)
        .await?;
    let result = migrations().run_direct(&mut conn).await;
    let _ = conn.close().await;
    result.map_err(sqlx::Error::from)?;
    Ok(())
}

fn migrations() -> sqlx::migrate::Migrator {
    migrator(&[
        (
            1,
            "init",
            include_str!("../../../migrations/postgres/0001_init.sql"),
        ),
        (
            2,
            "chatkit",
            include_str!("../../../migrations/postgres/0002_chatkit.sql"),
        ),
        (
            3,
            "drop_messages_user",
            include_str!("../../../migrations/postgres/0003_drop_messages_user.sql"),
        ),
        (
            4,
            "event_relay",
            include_str!("../../../migrations/postgres/0004_event_relay.sql"),
        ),
        (
            5,
            "running_turns",
            include_str!("../../../migrations/postgres/0005_running_turns.sql"),
        ),
        (
            6,
            "durable_answers",
            include_str!("../../../migrations/postgres/0006_durable_answers.sql"),
        ),
        (
            7,
            "queued_messages",
            include_str!("../../../migrations/postgres/0007_queued_messages.sql"),
        ),
    ])
}

pub(super) async fn ping(pool: &PgPool) -> Result<()> {
    sqlx::query("SELECT 1").execute(pool).await?;
    Ok(())
}

pub(super) fn conversation(row: &PgRow) -> Result<Conversation> {
    Ok(Conversation {
        id: ThreadId(row.try_get("id")?),
        user_id: UserId(row.try_get("user_id")?),
        title: row.try_get("title")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
        metadata: row.try_get::<Json<Value>, _>("metadata")?.0,
    })
}

pub(super) fn message(row: &PgRow) -> Result<Message> {
    let status = parse_status(row.try_get("status")?)?;
    Ok(Message {
        id: MessageId(row.try_get("id")?),
        conversation_id: ThreadId(row.try_get("conversation_id")?),
        seq: row.try_get("seq")?,
        role: parse_role(row.try_get("role")?)?,
        content: row.try_get("content")?,
        tool_calls: row.try_get::<Json<Vec<ToolCall>>, _>("tool_calls")?.0,
        status,
        usage: row.try_get::<Option<Json<Usage>>, _>("usage")?.map(|u| u.0),
        created_at: row.try_get("created_at")?,
        next_seq: shown_next_seq(status, row.try_get("next_seq")?)?,
    })
}

fn task(row: &PgRow) -> Result<Task> {
    Ok(Task {
        number: row.try_get("number")?,
        title: row.try_get("title")?,
        priority: parse_priority(row.try_get("priority")?)?,
        due_date: row.try_get::<Option<NaiveDate>, _>("due_date")?,
        completed: row.try_get("completed")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

pub(super) async fn create_conversation(pool: &PgPool, c: &Conversation) -> Result<()> {
    sqlx::query(
        "INSERT INTO conversations (id, user_id, title, created_at, updated_at, metadata) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(c.id.0)
    .bind(c.user_id.as_str())
    .bind(c.title.as_deref())
    .bind(c.created_at)
    .bind(c.updated_at)
    .bind(Json(&c.metadata))
    .execute(pool)
    .await?;
    Ok(())
}

pub(super) async fn get_conversation(
    pool: &PgPool,
    user: &UserId,
    id: ThreadId,
) -> Result<Option<Conversation>> {
    let sql = format!("SELECT {CONVERSATION} FROM conversations WHERE id = $1 AND user_id = $2");
    let row = sqlx::query(&sql)
        .bind(id.0)
        .bind(user.as_str())
        .fetch_optional(pool)
        .await?;
    row.as_ref().map(conversation).transpose()
}

pub(super) async fn list_conversations(
    pool: &PgPool,
    user: &UserId,
    after: Option<ConversationKey>,
    fetch: i64,
) -> Result<Vec<Conversation>> {
    let rows = match after {
        None => {
            let sql = format!(
                "SELECT {CONVERSATION} FROM conversations WHERE user_id = $1 \
                 ORDER BY updated_at DESC, id DESC LIMIT $2"
            );
            sqlx::query(&sql)
                .bind(user.as_str())
                .bind(fetch)
                .fetch_all(pool)
                .await?
        }
        Some(key) => {
            let sql = format!(
                "SELECT {CONVERSATION} FROM conversations \
                 WHERE user_id = $1 AND (updated_at, id) < ($2, $3) \
                 ORDER BY updated_at DESC, id DESC LIMIT $4"
            );
            sqlx::query(&sql)
                .bind(user.as_str())
                .bind(key.updated_at)
                .bind(key.id)
                .bind(fetch)
                .fetch_all(pool)
                .await?
        }
    };
    rows.iter().map(conversation).collect()
}

pub(super) async fn rename_conversation(
    pool: &PgPool,
    user: &UserId,
    id: ThreadId,
    title: &str,
    now: DateTime<Utc>,
) -> Result<Option<Conversation>> {
    let sql = format!(
        "UPDATE conversations SET title = $1, updated_at = $2 WHERE id = $3 AND user_id = $4 \
         RETURNING {CONVERSATION}"
    );
    let row = sqlx::query(&sql)
        .bind(title)
        .bind(now)
        .bind(id.0)
        .bind(user.as_str())
        .fetch_optional(pool)
        .await?;
    row.as_ref().map(conversation).transpose()
}

pub(super) async fn delete_conversation(
    pool: &PgPool,
    user: &UserId,
    id: ThreadId,
) -> Result<bool> {
    let done = sqlx::query("DELETE FROM conversations WHERE id = $1 AND user_id = $2")
        .bind(id.0)
        .bind(user.as_str())
        .execute(pool)
        .await?;
    Ok(done.rows_affected() > 0)
}

/// Starts a turn on an existing conversation (see `Store::start_turn`): its user message and,
/// when asked, its answer in progress and its client id, with the step on the thread's claim.
pub(super) async fn append_message(
    pool: impl sqlx::PgExecutor<'_>,
    user: &UserId,
    start: &TurnStart<'_>,
    now: DateTime<Utc>,
    lapse_secs: f64,
) -> Result<(Message, Option<Message>)> {
    // One statement, so one round trip and atomic without a transaction: the UPDATE takes the
    // conversation's next seq (two with an answer; its row lock serialises concurrent appends
    // to one conversation) and the INSERTs use them; the details, when given, go in with it,
    // and so do the step on the thread's claim and the client's id of the send. No
    // conversation row (another user's or missing) means no insert. A client id already used
    // fails the whole statement on the key of `client_messages`.
    //
    // A taken claim gates the UPDATE; a freed one is deleted whatever the append does (every
    // statement of a WITH runs to completion).
    //
    // The last two columns say whether the claim was taken and whether the thread is there:
    // together, busy or missing.
    let msg = start.question;
    let mut params = Params(11);
    let (claim_cte, gate, answered) = match start.claim {
        ClaimStep::None => (String::new(), "", "true, true"),
        ClaimStep::Free(_) => (free_cte(params.take(), "$2"), "", "true, true"),
        ClaimStep::Take(_) => {
            let (instance, lapse) = (params.take(), params.take());
            let answer = match start.answer {
                Some(_) => format!("${}::uuid", params.peek()),
                None => "NULL::uuid".into(),
            };
            (
                take_cte(instance, lapse, &answer),
                "AND EXISTS (SELECT 1 FROM k)",
                "EXISTS (SELECT 1 FROM k), \
                 EXISTS (SELECT 1 FROM conversations WHERE id = $2 AND user_id = $3)",
            )
        }
    };
    let rows = 1 + i64::from(start.answer.is_some());
    let answer_p = start.answer.map(|_| params.take());
    let client_p = start.client_message_id.map(|_| params.take());
    let extra = turn_ctes(answer_p, client_p, "c.last_seq");
    let sql = format!(
        "WITH {claim_cte} c AS (UPDATE conversations SET last_seq = last_seq + {rows}, \
         updated_at = $1 WHERE id = $2 AND user_id = $3 {gate} \
         RETURNING id, user_id, last_seq), \
         m AS (INSERT INTO messages (id, conversation_id, user_id, seq, role, content, \
         tool_calls, status, usage, created_at) \
         SELECT $4, c.id, c.user_id, c.last_seq - {rows} + 1, $5, $6, $7, $8, $9, $1 FROM c \
         RETURNING id, user_id, seq), {DETAILS}{extra} \
         SELECT (SELECT seq FROM m), {answered}"
    );
    let query = sqlx::query_as::<_, (Option<i64>, bool, bool)>(&sql);
    let mut query = bind_message(query, now, msg.conversation_id, user, msg);
    match start.claim {
        ClaimStep::None => {}
        ClaimStep::Take(instance) => query = query.bind(instance).bind(lapse_secs),
        ClaimStep::Free(instance) => query = query.bind(instance),
    }
    if let Some(answer) = start.answer {
        query = query.bind(answer.0);
    }
    if let Some(client) = start.client_message_id {
        query = query.bind(client);
    }
    match query.fetch_one(pool).await.map_err(duplicate_send)? {
        (Some(seq), _, _) => Ok(started(start, seq, now)),
        (None, false, true) => Err(Error::ThreadBusy),
        (None, _, _) => Err(Error::NotFound("conversation")),
    }
}

/// Numbers the parameters a statement adds after its fixed ones.
struct Params(u32);

impl Params {
    /// The next parameter's number, taken.
    fn take(&mut self) -> u32 {
        self.0 += 1;
        self.0 - 1
    }

    /// The next parameter's number, not taken.
    fn peek(&self) -> u32 {
        self.0
    }
}

/// The messages a turn's start wrote, without reading them back: the user message at `seq`,
/// its answer (when asked for) right after it.
fn started(start: &TurnStart<'_>, seq: i64, now: DateTime<Utc>) -> (Message, Option<Message>) {
    let question = appended(start.question, seq, now);
    let answer = start.answer.map(|id| {
        let answer = super::answers::new_answer(id, start.question.conversation_id);
        appended(&answer, seq + 1, now)
    });
    (question, answer)
}

/// A client id already used is `Error::DuplicateSend`; any other failure is kept.
pub(super) fn duplicate_send(e: sqlx::Error) -> Error {
    match &e {
        sqlx::Error::Database(db) if db.constraint() == Some("client_messages_pkey") => {
            Error::DuplicateSend
        }
        _ => e.into(),
    }
}

/// The CTEs a turn's start adds after its user message (CTE `m`): its answer in progress at
/// seq `{last}` (id `$answer`) and the client's id of the send (`$client`), both for the
/// conversation of CTE `c`. Each begins with a comma.
fn turn_ctes(answer: Option<u32>, client: Option<u32>, last: &str) -> String {
    let mut out = String::new();
    if let Some(a) = answer {
        out.push_str(&format!(
            ", a AS (INSERT INTO messages (id, conversation_id, user_id, seq, role, content, \
             tool_calls, status, usage, created_at, next_seq) \
             SELECT ${a}, c.id, c.user_id, {last}, 'assistant', '', '[]'::jsonb, 'in_progress', \
             NULL, $1, 0 FROM c)"
        ));
    }
    if let Some(k) = client {
        let answer = answer.map_or("NULL".to_string(), |a| format!("${a}"));
        out.push_str(&format!(
            ", i AS (INSERT INTO client_messages (user_id, client_message_id, conversation_id, \
             message_id, answer_id, created_at) SELECT c.user_id, ${k}, c.id, $4, {answer}, $1 \
             FROM c)"
        ));
    }
    out
}

/// The message's details, `$10`, stored with the row of CTE `m` (see `append_message`).
const DETAILS: &str = "d AS (INSERT INTO message_details (message_id, user_id, data) \
     SELECT id, user_id, $10 FROM m WHERE $10::jsonb IS NOT NULL)";

/// Takes the claim on conversation `$2` of user `$3` for instance `$instance` (`relay_db`'s
/// `claim_turn`, as CTE `k`), for the answer `answer` (an SQL expression): no row when a claim
/// refreshed within `$lapse` seconds holds it.
fn take_cte(instance: u32, lapse: u32, answer: &str) -> String {
    format!(
        "k AS (INSERT INTO running_turns (thread_id, user_id, instance, message_id) \
         SELECT id, user_id, ${instance}, {answer} FROM conversations WHERE id = $2 AND user_id = $3 \
         ON CONFLICT (thread_id) DO UPDATE \
           SET user_id = EXCLUDED.user_id, instance = EXCLUDED.instance, \
               message_id = EXCLUDED.message_id, seen_at = now() \
           WHERE running_turns.seen_at < now() - make_interval(secs => ${lapse}) \
         RETURNING 1),"
    )
}

/// Frees the claim on conversation `{thread}` (an SQL expression) if instance `$instance` holds
/// it, as CTE `r`.
pub(super) fn free_cte(instance: u32, thread: &str) -> String {
    format!(
        "r AS (DELETE FROM running_turns WHERE thread_id = {thread} AND instance = ${instance}),"
    )
}

/// Starts a turn on a new conversation (see `Store::start_turn_in_new`).
pub(super) async fn start_conversation(
    pool: &PgPool,
    c: &Conversation,
    start: &TurnStart<'_>,
    now: DateTime<Utc>,
) -> Result<(Message, Option<Message>)> {
    // One statement: the conversation, its first message, that message's details, its answer
    // in progress and the client's id of the send when asked, and, for a turn among several
    // instances, the new thread's claim (nobody else can hold it yet).
    let mut params = Params(13);
    let instance_p = matches!(start.claim, ClaimStep::Take(_)).then(|| params.take());
    let answer_p = start.answer.map(|_| params.take());
    let client_p = start.client_message_id.map(|_| params.take());
    let rows = 1 + i64::from(start.answer.is_some());
    let claim_cte = match instance_p {
        Some(instance) => {
            let answer = answer_p.map_or("NULL::uuid".to_string(), |a| format!("${a}::uuid"));
            format!(
                ", k AS (INSERT INTO running_turns (thread_id, user_id, instance, message_id) \
                 SELECT id, user_id, ${instance}, {answer} FROM c)"
            )
        }
        None => String::new(),
    };
    let extra = turn_ctes(answer_p, client_p, "2");
    let sql = format!(
        "WITH c AS (INSERT INTO conversations (id, user_id, title, created_at, updated_at, \
         metadata, last_seq) VALUES ($2, $3, $11, $1, $1, $12, {rows}) RETURNING id, user_id), \
         m AS (INSERT INTO messages (id, conversation_id, user_id, seq, role, content, \
         tool_calls, status, usage, created_at) \
         SELECT $4, c.id, c.user_id, 1, $5, $6, $7, $8, $9, $1 FROM c RETURNING id, user_id, seq), \
         {DETAILS}{claim_cte}{extra} SELECT seq FROM m"
    );
    let query = sqlx::query_as::<_, (i64,)>(&sql);
    let mut query = bind_message(query, now, c.id, &c.user_id, start.question)
        .bind(c.title.as_deref())
        .bind(Json(&c.metadata));
    if let ClaimStep::Take(instance) = start.claim {
        query = query.bind(instance);
    }
    if let Some(answer) = start.answer {
        query = query.bind(answer.0);
    }
    if let Some(client) = start.client_message_id {
        query = query.bind(client);
    }
    let (seq,) = query.fetch_one(pool).await.map_err(duplicate_send)?;
    Ok(started(start, seq, now))
}

/// Binds `$1`–`$10` of a message write, as `append_message` and `start_conversation` number
/// them: the time, the conversation and its owner, then the message and its details.
fn bind_message<'q, O>(
    query: QueryAs<'q, Postgres, O, PgArguments>,
    now: DateTime<Utc>,
    conversation: ThreadId,
    user: &'q UserId,
    msg: &'q NewMessage,
) -> QueryAs<'q, Postgres, O, PgArguments> {
    query
        .bind(now)
        .bind(conversation.0)
        .bind(user.as_str())
        .bind(msg.id.0)
        .bind(msg.role.as_str())
        .bind(&msg.content)
        .bind(Json(&msg.tool_calls))
        .bind(msg.status.as_str())
        .bind(msg.usage.map(Json))
        .bind(msg.details.as_ref().map(Json))
}

pub(super) async fn list_messages(
    pool: &PgPool,
    user: &UserId,
    id: ThreadId,
    after_seq: i64,
    fetch: i64,
) -> Result<Vec<Message>> {
    let rows = sqlx::query(&format!("{} LIMIT $4", thread_page()))
        .bind(id.0)
        .bind(user.as_str())
        .bind(after_seq)
        .bind(fetch)
        .fetch_all(pool)
        .await?;
    rows.iter().map(message).collect()
}

pub(super) async fn recent_messages(
    pool: &PgPool,
    user: &UserId,
    id: ThreadId,
    limit: i64,
) -> Result<Vec<Message>> {
    // Newest first straight off the (conversation_id, seq) index, turned round here: no sort.
    let rows = sqlx::query(&format!("{} LIMIT $3", thread_newest()))
        .bind(id.0)
        .bind(user.as_str())
        .bind(limit)
        .fetch_all(pool)
        .await?;
    rows.iter().rev().map(message).collect()
}

pub(super) async fn add_task(
    pool: &PgPool,
    user: &UserId,
    title: &str,
    new: &NewTask,
    now: DateTime<Utc>,
) -> Result<Task> {
    let mut tx = pool.begin().await?;
    // The upsert locks the user's counter row until commit, so concurrent adds queue up.
    let number: i64 = sqlx::query_scalar(
        "INSERT INTO task_counters (user_id, last_number) VALUES ($1, 1) \
         ON CONFLICT (user_id) DO UPDATE SET last_number = task_counters.last_number + 1 \
         RETURNING last_number",
    )
    .bind(user.as_str())
    .fetch_one(&mut *tx)
    .await?;
    sqlx::query(
        "INSERT INTO tasks (user_id, number, title, priority, due_date, completed, created_at, \
         updated_at) VALUES ($1, $2, $3, $4, $5, FALSE, $6, $6)",
    )
    .bind(user.as_str())
    .bind(number)
    .bind(title)
    .bind(new.priority.as_str())
    .bind(new.due_date)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(added(number, title, new, now))
}

pub(super) async fn get_task(pool: &PgPool, user: &UserId, number: i64) -> Result<Option<Task>> {
    let sql = format!("SELECT {TASK} FROM tasks WHERE user_id = $1 AND number = $2");
    let row = sqlx::query(&sql)
        .bind(user.as_str())
        .bind(number)
        .fetch_optional(pool)
        .await?;
    row.as_ref().map(task).transpose()
}

pub(super) async fn find_tasks(pool: &PgPool, user: &UserId, query: &str) -> Result<Vec<Task>> {
    // strpos() rather than ILIKE, so `%` and `_` in the query are literal.
    let sql = format!(
        "SELECT {TASK} FROM tasks WHERE user_id = $1 AND strpos(lower(title), lower($2)) > 0 \
         ORDER BY completed, number LIMIT $3"
    );
    let rows = sqlx::query(&sql)
        .bind(user.as_str())
        .bind(query)
        .bind(FIND_TASKS_LIMIT)
        .fetch_all(pool)
        .await?;
    rows.iter().map(task).collect()
}

pub(super) async fn list_tasks(
    pool: &PgPool,
    user: &UserId,
    filter: TaskFilter,
    after_number: i64,
    fetch: i64,
) -> Result<Vec<Task>> {
    let only = match filter {
        TaskFilter::All => "",
        TaskFilter::Pending => "AND NOT completed",
        TaskFilter::Completed => "AND completed",
    };
    let sql = format!(
        "SELECT {TASK} FROM tasks WHERE user_id = $1 AND number > $2 {only} \
         ORDER BY number LIMIT $3"
    );
    let rows = sqlx::query(&sql)
        .bind(user.as_str())
        .bind(after_number)
        .bind(fetch)
        .fetch_all(pool)
        .await?;
    rows.iter().map(task).collect()
}

pub(super) async fn update_task(
    pool: &PgPool,
    user: &UserId,
    number: i64,
    title: Option<&str>,
    patch: &TaskPatch,
    now: DateTime<Utc>,
) -> Result<Option<Task>> {
    let sql = format!(
        "UPDATE tasks SET title = COALESCE($1, title), priority = COALESCE($2, priority), \
         due_date = CASE WHEN $3 THEN $4 ELSE due_date END, \
         completed = COALESCE($5, completed), updated_at = $6 \
         WHERE user_id = $7 AND number = $8 RETURNING {TASK}"
    );
    let row = sqlx::query(&sql)
        .bind(title)
        .bind(patch.priority.map(|p| p.as_str()))
        .bind(patch.due_date.is_some())
        .bind(patch.due_date.flatten())
        .bind(patch.completed)
        .bind(now)
        .bind(user.as_str())
        .bind(number)
        .fetch_optional(pool)
        .await?;
    row.as_ref().map(task).transpose()
}

pub(super) async fn delete_task(pool: &PgPool, user: &UserId, number: i64) -> Result<Option<Task>> {
    let sql = format!("DELETE FROM tasks WHERE user_id = $1 AND number = $2 RETURNING {TASK}");
    let row = sqlx::query(&sql)
        .bind(user.as_str())
        .bind(number)
        .fetch_optional(pool)
        .await?;
    row.as_ref().map(task).transpose()
}
