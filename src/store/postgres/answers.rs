//! PostgreSQL queries of `answers.rs`: a turn's answer's saves and end, the sweeps of
//! interrupted answers and the client ids of sends (the start is `postgres::append_message` and
//! `postgres::start_conversation`). Every query filters by `user_id`.

use chrono::{DateTime, Utc};
use sqlx::postgres::PgRow;
use sqlx::types::Json;
use sqlx::{PgPool, Row};
use uuid::Uuid;

use super::{message, release_cte, MESSAGE};
use crate::error::{Error, Result};
use crate::model::{Message, MessageId, NewMessage, ThreadId, UserId};
use crate::store::answers::{Interrupted, PartialAnswer, SentTurn};
use crate::store::ClaimStep;

pub(in crate::store) async fn save_partials(
    pool: &PgPool,
    saves: &[(UserId, PartialAnswer)],
) -> Result<Vec<MessageId>> {
    // One statement for the lot, committed without waiting for the WAL to reach the disk
    // (`synchronous_commit` off for this statement's transaction only): what a save guards
    // against is this process dying, which a commit in PostgreSQL's hands survives, and the
    // next save or the final write follows within moments. Waiting for the flush made every
    // save cost a disk sync.
    let mut ids = Vec::with_capacity(saves.len());
    let mut users = Vec::with_capacity(saves.len());
    let mut contents = Vec::with_capacity(saves.len());
    let mut calls = Vec::with_capacity(saves.len());
    let mut seqs = Vec::with_capacity(saves.len());
    for (user, a) in saves {
        ids.push(a.id.0);
        users.push(user.as_str());
        contents.push(a.content.as_str());
        calls.push(
            serde_json::to_string(&a.tool_calls)
                .map_err(|e| Error::Internal(format!("encoding JSON: {e}")))?,
        );
        seqs.push(i64::from(a.next_seq));
    }
    let saved: Vec<Uuid> = sqlx::query_scalar(
        "UPDATE messages m SET content = v.content, tool_calls = v.tool_calls::jsonb, \
         next_seq = v.next_seq \
         FROM (SELECT set_config('synchronous_commit', 'off', true)) AS async_commit, \
         unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::bigint[]) \
           AS v(id, user_id, content, tool_calls, next_seq) \
         WHERE m.id = v.id AND m.user_id = v.user_id AND m.status = 'in_progress' \
         RETURNING m.id",
    )
    .bind(ids)
    .bind(users)
    .bind(contents)
    .bind(calls)
    .bind(seqs)
    .fetch_all(pool)
    .await?;
    Ok(saved.into_iter().map(MessageId).collect())
}

pub(in crate::store) async fn finish_answer(
    pool: &PgPool,
    user: &UserId,
    a: &NewMessage,
    next_seq: u32,
    claim: ClaimStep,
) -> Result<Message> {
    // The update and the claim's release in one statement; the release runs whether or not
    // the answer is still there (every statement of a WITH runs to completion).
    let free = match claim {
        ClaimStep::Release(_) => release_cte(9, "$8"),
        _ => String::new(),
    };
    let sql = format!(
        "WITH {free} u AS (UPDATE messages SET content = $3, tool_calls = $4, status = $5, \
         usage = $6, next_seq = $7 WHERE id = $1 AND user_id = $2 RETURNING {MESSAGE}) \
         SELECT {MESSAGE} FROM u"
    );
    let mut query = sqlx::query(&sql)
        .bind(a.id.0)
        .bind(user.as_str())
        .bind(&a.content)
        .bind(Json(&a.tool_calls))
        .bind(a.status.as_str())
        .bind(a.usage.map(Json))
        .bind(i64::from(next_seq));
    if let ClaimStep::Release(instance) = claim {
        query = query.bind(a.conversation_id.0).bind(instance);
    }
    let row = query.fetch_optional(pool).await?;
    row.as_ref()
        .map(message)
        .transpose()?
        .ok_or(Error::NotFound("message"))
}

pub(in crate::store) async fn drop_answer(
    pool: &PgPool,
    user: &UserId,
    thread: ThreadId,
    id: MessageId,
    claim: ClaimStep,
) -> Result<bool> {
    let free = match claim {
        ClaimStep::Release(_) => release_cte(4, "$3"),
        _ => String::new(),
    };
    let sql = format!(
        "WITH {free} x AS (DELETE FROM messages WHERE id = $1 AND user_id = $2 RETURNING 1) \
         SELECT count(*) FROM x"
    );
    let mut query = sqlx::query_scalar::<_, i64>(&sql)
        .bind(id.0)
        .bind(user.as_str());
    if let ClaimStep::Release(instance) = claim {
        query = query.bind(thread.0).bind(instance);
    }
    Ok(query.fetch_one(pool).await? > 0)
}

/// The message columns of a row of `messages m`, for statements that join it.
fn message_columns() -> String {
    MESSAGE
        .split(", ")
        .map(|c| format!("m.{c}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn interrupted(row: &PgRow) -> Result<Interrupted> {
    Ok(Interrupted {
        message: message(row)?,
        user: UserId(row.try_get("user_id")?),
    })
}

/// Every answer in progress: one instance runs (`MULTI_INSTANCE=off`) and it is starting.
pub(in crate::store) async fn interrupt_every(pool: &PgPool) -> Result<Vec<Interrupted>> {
    let sql = format!(
        "UPDATE messages SET status = 'interrupted' WHERE status = 'in_progress' \
         RETURNING {MESSAGE}, user_id"
    );
    let rows = sqlx::query(&sql).fetch_all(pool).await?;
    rows.iter().map(interrupted).collect()
}

/// The answers in progress no claim refreshed within `lapse_secs` covers, and the stale claims
/// themselves (which frees their threads).
pub(in crate::store) async fn interrupt_unclaimed(
    pool: &PgPool,
    lapse_secs: f64,
) -> Result<Vec<Interrupted>> {
    // A claim covers the answer it was taken for, or any answer of its thread when it was
    // taken apart from its answer's write (a retry). Both the DELETE and the UPDATE read the
    // claims as they were when the statement began.
    let sql = format!(
        "WITH dead AS (DELETE FROM running_turns \
           WHERE seen_at < now() - make_interval(secs => $1) RETURNING thread_id) \
         UPDATE messages m SET status = 'interrupted' \
         WHERE m.status = 'in_progress' AND NOT EXISTS ( \
           SELECT 1 FROM running_turns r WHERE r.thread_id = m.conversation_id \
           AND (r.message_id IS NULL OR r.message_id = m.id) \
           AND r.seen_at >= now() - make_interval(secs => $1)) \
         RETURNING {}, m.user_id",
        message_columns()
    );
    let rows = sqlx::query(&sql).bind(lapse_secs).fetch_all(pool).await?;
    rows.iter().map(interrupted).collect()
}

pub(in crate::store) async fn sent_turn(
    pool: &PgPool,
    user: &UserId,
    client_message_id: &str,
) -> Result<Option<SentTurn>> {
    let ids: Option<(Uuid, Uuid, Uuid)> = sqlx::query_as(
        "SELECT conversation_id, message_id, answer_id FROM client_messages \
         WHERE user_id = $1 AND client_message_id = $2",
    )
    .bind(user.as_str())
    .bind(client_message_id)
    .fetch_optional(pool)
    .await?;
    let Some((thread, question, answer)) = ids else {
        return Ok(None);
    };
    let sql = format!("SELECT {MESSAGE} FROM messages WHERE id = ANY($1) AND user_id = $2");
    let rows = sqlx::query(&sql)
        .bind(vec![question, answer])
        .bind(user.as_str())
        .fetch_all(pool)
        .await?;
    let found: Vec<Message> = rows.iter().map(message).collect::<Result<_>>()?;
    let pick = |id: Uuid| found.iter().find(|m| m.id.0 == id).cloned();
    let queued =
        found.is_empty() && super::queue::is_queued(pool, user, MessageId(question)).await?;
    Ok(Some(SentTurn {
        thread_id: ThreadId(thread),
        question_id: MessageId(question),
        answer_id: MessageId(answer),
        question: pick(question),
        answer: pick(answer),
        queued,
    }))
}

pub(in crate::store) async fn sweep_client_ids(
    pool: &PgPool,
    before: DateTime<Utc>,
) -> Result<u64> {
    let done = sqlx::query("DELETE FROM client_messages WHERE created_at < $1")
        .bind(before)
        .execute(pool)
        .await?;
    Ok(done.rows_affected())
}
