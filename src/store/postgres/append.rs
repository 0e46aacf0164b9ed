//! Appending a message, in one statement: the message and its details and, for a turn's start,
//! its answer in progress, the client's id of the send and the step on the thread's claim;
//! for a new thread, the conversation too.
//!
//! One statement is one round trip, and atomic without a transaction: its CTEs (`c` the
//! conversation, `m` the message, `d` its details, `a` the answer, `i` the client id, `k` and
//! `r` the claim) each do one part, and a missing or busy thread makes the whole write nothing.

use chrono::{DateTime, Utc};
use sqlx::postgres::PgArguments;
use sqlx::query::QueryAs;
use sqlx::types::Json;
use sqlx::{PgPool, Postgres};

use crate::error::{Error, Result};
use crate::model::{Conversation, Message, NewMessage, ThreadId, UserId};
use crate::store::{appended, ClaimStep, TurnStart};

/// Starts a turn on an existing conversation (see `Store::start_turn`): its user message and,
/// when asked, its answer in progress and its client id, with the step on the thread's claim.
pub(in crate::store) async fn append_message(
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
        ClaimStep::Release(_) => (release_cte(params.take(), "$2"), "", "true, true"),
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
        ClaimStep::Release(instance) => query = query.bind(instance),
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
        let answer = crate::store::answers::new_answer(id, start.question.conversation_id);
        appended(&answer, seq + 1, now)
    });
    (question, answer)
}

/// A client id already used is `Error::DuplicateSend`; any other failure is kept.
pub(in crate::store) fn duplicate_send(e: sqlx::Error) -> Error {
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
pub(in crate::store) fn release_cte(instance: u32, thread: &str) -> String {
    format!(
        "r AS (DELETE FROM running_turns WHERE thread_id = {thread} AND instance = ${instance}),"
    )
}

/// Starts a turn on a new conversation (see `Store::start_turn_in_new`).
pub(in crate::store) async fn start_conversation(
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
