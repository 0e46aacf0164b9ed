//! SQLite queries of `answers.rs`: a turn's start, its answer's saves and end, the sweep of
//! interrupted answers and the client ids of sends. Same storage forms as `sqlite.rs`; every
//! query filters by `user_id`. The writes run in `sqlite::append`'s groups.

use chrono::{DateTime, Utc};
use rusqlite::{params, Connection, ErrorCode};

use super::rows::{all, execute, one, to_json, uuid, At};
use super::{append_message, create_conversation, message, MESSAGE};
use crate::error::{Error, Result};
use crate::model::{Conversation, Message, MessageId, NewMessage, ThreadId, UserId};
use crate::store::answers::{new_answer, Interrupted, PartialAnswer, SentTurn, TurnStart};

/// A [`TurnStart`] the grouped writer can keep until its turn comes.
pub(in crate::store) struct OwnedStart {
    question: NewMessage,
    answer: Option<MessageId>,
    client_message_id: Option<String>,
}

impl OwnedStart {
    pub(in crate::store) fn of(start: &TurnStart<'_>) -> Self {
        OwnedStart {
            question: start.question.clone(),
            answer: start.answer,
            client_message_id: start.client_message_id.map(str::to_string),
        }
    }

    /// The id of the user message it stores.
    pub(in crate::store) fn question_id(&self) -> MessageId {
        self.question.id
    }

    /// Whether the start is one statement (a plain append), atomic on its own.
    pub(in crate::store) fn one_statement(&self) -> bool {
        self.answer.is_none() && self.client_message_id.is_none() && self.question.details.is_none()
    }
}

/// Writes a turn's start: the conversation first when `create` is given, the user message, its
/// answer and the client id. Several statements: the grouped writer runs them in a savepoint.
pub(in crate::store) fn start(
    conn: &Connection,
    user: &UserId,
    create: Option<&Conversation>,
    start: &OwnedStart,
    now: DateTime<Utc>,
) -> Result<(Message, Option<Message>)> {
    if let Some(c) = create {
        create_conversation(conn, c)?;
    }
    let question = append_message(conn, user, &start.question, now)?;
    let Some(id) = start.answer else {
        return Ok((question, None));
    };
    let answer = append_message(conn, user, &new_answer(id, question.conversation_id), now)?;
    if let Some(client) = &start.client_message_id {
        let ids = (question.conversation_id, question.id, id);
        record_send(conn, user, client, ids, now)?;
    }
    Ok((question, Some(answer)))
}

/// Records `user`'s client id of a send with what it wrote: its thread, its user message and
/// the answer it started. `Error::DuplicateSend` when the user has sent with that id before.
pub(in crate::store) fn record_send(
    conn: &Connection,
    user: &UserId,
    client: &str,
    (thread, message, answer): (ThreadId, MessageId, MessageId),
    now: DateTime<Utc>,
) -> Result<()> {
    let recorded = execute(
        conn,
        "INSERT INTO client_messages (user_id, client_message_id, conversation_id, \
         message_id, answer_id, created_at) VALUES (?, ?, ?, ?, ?, ?)",
        params![
            user.as_str(),
            client,
            thread.0.to_string(),
            message.0.to_string(),
            answer.0.to_string(),
            now.timestamp_micros(),
        ],
    );
    match recorded {
        Err(Error::Sqlite(rusqlite::Error::SqliteFailure(f, _)))
            if f.code == ErrorCode::ConstraintViolation =>
        {
            Err(Error::DuplicateSend)
        }
        other => other.map(|_| ()),
    }
}

/// Each save is one statement; several run in the caller's savepoint.
pub(in crate::store) fn save_partials(
    conn: &Connection,
    saves: &[(UserId, PartialAnswer)],
) -> Result<Vec<MessageId>> {
    let mut saved = Vec::with_capacity(saves.len());
    for (user, a) in saves {
        let done = execute(
            conn,
            "UPDATE messages SET content = ?, tool_calls = ?, next_seq = ? \
             WHERE id = ? AND user_id = ? AND status = 'in_progress'",
            params![
                &a.content,
                to_json(&a.tool_calls)?,
                a.next_seq,
                a.id.0.to_string(),
                user.as_str()
            ],
        )?;
        if done > 0 {
            saved.push(a.id);
        }
    }
    Ok(saved)
}

pub(in crate::store) fn finish_answer(
    conn: &Connection,
    user: &UserId,
    a: &NewMessage,
    next_seq: u32,
) -> Result<Message> {
    let usage = a.usage.as_ref().map(to_json).transpose()?;
    let sql = format!(
        "UPDATE messages SET content = ?, tool_calls = ?, status = ?, usage = ?, next_seq = ? \
         WHERE id = ? AND user_id = ? RETURNING {MESSAGE}"
    );
    let params = params![
        &a.content,
        to_json(&a.tool_calls)?,
        a.status.as_str(),
        usage,
        next_seq,
        a.id.0.to_string(),
        user.as_str(),
    ];
    one(conn, &sql, params, message)?.ok_or(Error::NotFound("message"))
}

pub(in crate::store) fn drop_answer(
    conn: &Connection,
    user: &UserId,
    id: MessageId,
) -> Result<bool> {
    let done = execute(
        conn,
        "DELETE FROM messages WHERE id = ? AND user_id = ?",
        params![id.0.to_string(), user.as_str()],
    )?;
    Ok(done > 0)
}

/// Every answer in progress: on SQLite the starting process is the only one.
pub(in crate::store) fn interrupt_every(conn: &mut Connection) -> Result<Vec<Interrupted>> {
    let sql = format!(
        "UPDATE messages SET status = 'interrupted' WHERE status = 'in_progress' \
         RETURNING {MESSAGE}, user_id"
    );
    all(conn, &sql, [], |row| {
        Ok(Interrupted {
            message: message(row)?,
            user: UserId(row.get(10)?),
        })
    })
}

pub(in crate::store) fn sent_turn(
    conn: &mut Connection,
    user: &UserId,
    client_message_id: &str,
) -> Result<Option<SentTurn>> {
    let ids = one(
        conn,
        "SELECT conversation_id, message_id, answer_id FROM client_messages \
         WHERE user_id = ? AND client_message_id = ?",
        params![user.as_str(), client_message_id],
        |row| {
            Ok((
                ThreadId(uuid(row, At(0, "conversation_id"))?),
                MessageId(uuid(row, At(1, "message_id"))?),
                MessageId(uuid(row, At(2, "answer_id"))?),
            ))
        },
    )?;
    let Some((thread_id, question, answer)) = ids else {
        return Ok(None);
    };
    let sql = format!("SELECT {MESSAGE} FROM messages WHERE id IN (?, ?) AND user_id = ?");
    let params = params![question.0.to_string(), answer.0.to_string(), user.as_str()];
    let found = all(conn, &sql, params, message)?;
    let pick = |id: MessageId| found.iter().find(|m| m.id == id).cloned();
    let queued = found.is_empty() && super::queue::is_queued(conn, user, question)?;
    Ok(Some(SentTurn {
        thread_id,
        question_id: question,
        answer_id: answer,
        question: pick(question),
        answer: pick(answer),
        queued,
    }))
}

pub(in crate::store) fn sweep_client_ids(
    conn: &mut Connection,
    before: DateTime<Utc>,
) -> Result<u64> {
    let done = execute(
        conn,
        "DELETE FROM client_messages WHERE created_at < ?",
        params![before.timestamp_micros()],
    )?;
    Ok(done as u64)
}
