//! Starting a turn: the send checked, answered from an earlier send with the same client id,
//! queued or interrupting as `on_busy` says, then the write that starts it (user message,
//! answer in progress, claim) and its launch in a task of its own. Every turn is launched here,
//! a queued message's and a retry's too.

use std::sync::atomic::Ordering;
use std::time::Duration;

use serde_json::Value;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::claim::Claim;
use super::repeat::{self, valid_client_message_id};
use super::{turn, Chat, OnBusy, Turn, TurnRequest};
use crate::agent::Language;
use crate::error::{Error, Result};
use crate::model::{
    AttachmentId, Conversation, Message, MessageId, MessageStatus, NewMessage, Role, ThreadId,
    UserId,
};
use crate::store::TurnStart;

/// How long an interrupting send waits for the turn it stops to end.
const INTERRUPT_WAIT: Duration = Duration::from_secs(10);

impl Chat {
    /// Validates and starts a turn. Errors come back before anything runs: `invalid_request`,
    /// `message_too_long`, `rate_limited`, `not_found` (unknown or another user's thread),
    /// `thread_busy`, `shutting_down`. On success the user message and the answer (in
    /// progress) are already stored, and the turn runs in its own task, independent of the
    /// caller. A send whose `client_message_id` an earlier send used gets that send's turn
    /// (see [`Turn`]): nothing is stored and nothing runs again.
    pub async fn start_turn(&self, req: TurnRequest) -> Result<Turn> {
        let first = self.start_turn_once(&req, true).await;
        match (req.on_busy, &first, req.thread_id) {
            (OnBusy::Enqueue, Err(Error::ThreadBusy), Some(thread)) => {
                self.enqueue(&req, thread).await
            }
            (OnBusy::Interrupt, Err(Error::ThreadBusy), Some(thread)) => {
                self.interrupt_and_start(&req, thread).await
            }
            _ => first,
        }
    }

    /// Stops the running turn (its text kept, `interrupted`), wherever it runs, and starts
    /// `req`'s once the thread is free, ahead of the thread's queue. The allowance was taken by
    /// the first try.
    async fn interrupt_and_start(&self, req: &TurnRequest, thread: ThreadId) -> Result<Turn> {
        *self.inner.interrupting.entry(thread).or_insert(0) += 1;
        let started = async {
            self.interrupt_turn(&req.user, thread).await?;
            let deadline = tokio::time::Instant::now() + INTERRUPT_WAIT;
            loop {
                tokio::time::sleep(Duration::from_millis(10)).await;
                match self.start_turn_once(req, false).await {
                    Err(Error::ThreadBusy) if tokio::time::Instant::now() < deadline => continue,
                    other => return other,
                }
            }
        }
        .await;
        self.inner.interrupting.remove_if_mut(&thread, |_, n| {
            *n -= 1;
            *n == 0
        });
        // The queue waited for this send: it goes on after its turn, or now.
        self.wake_queue(&req.user, thread);
        started
    }

    /// One try at starting `req`'s turn: checked, answered from an earlier send with the same
    /// client id, or written and launched; the allowance is taken when `limit`.
    async fn start_turn_once(&self, req: &TurnRequest, limit: bool) -> Result<Turn> {
        let inner = &self.inner;
        if inner.closing.load(Ordering::Acquire) {
            return Err(Error::ShuttingDown);
        }
        let checked = Checked::of(req, inner.settings.max_message_chars)?;
        // A retried send is answered with its turn before any limit applies: it runs nothing.
        if let Some(id) = checked.client_id {
            if inner.store.sent_turn(&req.user, id).await?.is_some() {
                return self.repeat(req, id).await;
            }
        }
        if limit {
            inner.limiter.check(&req.user)?;
        }
        let existing = self.existing_thread(req).await?;
        let named_new = existing.is_none() && req.thread_id.is_some();
        let cancel = inner.kill.child_token();
        let thread_id = match &existing {
            Some((c, _)) => c.id,
            None => req.thread_id.unwrap_or_default(),
        };
        let question = checked.question(thread_id, req.details.clone());
        // With several instances, the write of the user message also takes the thread's claim
        // among them (`thread_busy` when another runs a turn on it).
        let start = TurnStart {
            question: &question,
            answer: Some(MessageId::new()),
            client_message_id: checked.client_id,
            claim: self.take_step(),
        };
        let written = self.write_start(req, existing, &start, &checked.metadata, &cancel, false);
        let started = match written.await {
            Ok(started) => started,
            Err(e) if named_new => return self.named_start_failed(req, e).await,
            Err(e) => return self.refused(req, e).await,
        };
        let language = repeat::language_of(req, &checked.content);
        let request_id = req.request_id.clone();
        self.launch(
            &req.user,
            request_id,
            &req.attachments,
            started,
            language,
            cancel,
        )
        .await
    }

    /// The thread `req` names, with whether it holds hidden items; `None` for a new thread
    /// (none named, or a named one to create). `not_found` for a thread the user does not have.
    async fn existing_thread(&self, req: &TurnRequest) -> Result<Option<(Conversation, bool)>> {
        let Some(id) = req.thread_id else {
            return Ok(None);
        };
        match self
            .inner
            .store
            .conversation_for_turn(&req.user, id)
            .await?
        {
            Some(found) => Ok(Some(found)),
            None if req.create_thread => Ok(None),
            None => Err(Error::NotFound("conversation")),
        }
    }

    /// Runs the turn whose start `started` wrote, in its own task, after joining `attachments`
    /// to its thread. Every turn starts here: a send's, a queued message's and a retry's.
    pub(super) async fn launch(
        &self,
        user: &UserId,
        request_id: Option<String>,
        attachments: &[AttachmentId],
        started: Started,
        language: Language,
        cancel: CancellationToken,
    ) -> Result<Turn> {
        let inner = &self.inner;
        let Started {
            thread,
            created,
            has_notes,
            user_message,
            answer,
            claim,
        } = started;
        claim.written();
        if !attachments.is_empty() {
            inner
                .store
                .assign_attachments(user, attachments, thread.id)
                .await?;
        }
        let thread_id = thread.id;
        let (tx, rx) = mpsc::unbounded_channel();
        let message_id = answer.id;
        let job = turn::TurnJob {
            user: user.clone(),
            request_id,
            thread,
            created,
            has_notes,
            user_message,
            answer,
            language,
            cancel: cancel.clone(),
            events: tx,
            claim,
        };
        let inner = self.inner.clone();
        self.inner
            .tracker
            .spawn(async move { turn::run(&inner, job).await });
        Ok(Turn {
            thread_id,
            message_id,
            language,
            replayed: Vec::new(),
            events: rx,
            cancel,
        })
    }

    /// The write that starts a turn (see [`Store::start_turn`]), with the thread's claim: on
    /// `existing`, taken here first; on a new thread, once the write created it (nobody can
    /// know its id before the turn announces it). `start.claim` takes it among instances.
    pub(super) async fn write_start(
        &self,
        req: &TurnRequest,
        existing: Option<(Conversation, bool)>,
        start: &TurnStart<'_>,
        metadata: &Value,
        cancel: &CancellationToken,
        from_queue: bool,
    ) -> Result<Started> {
        let store = &self.inner.store;
        let client_id = start.client_message_id;
        let (thread, created, has_notes, user_message, answer, mut claim) = match existing {
            Some((thread, has_notes)) => {
                let claim = self.take_claim(thread.id, &req.user, cancel.clone(), client_id)?;
                let (m, a) = match from_queue {
                    true => store.start_queued_turn(&req.user, start).await?,
                    false => store.start_turn(&req.user, start).await?,
                };
                (thread, false, has_notes, m, a, claim)
            }
            None => {
                let title = title_from(&start.question.content);
                let (thread, m, a) = store
                    .start_turn_in_new(&req.user, Some(&title), metadata, start)
                    .await?;
                let claim = self.take_claim(thread.id, &req.user, cancel.clone(), client_id)?;
                (thread, true, false, m, a, claim)
            }
        };
        let answer =
            answer.ok_or_else(|| Error::Internal("a turn started without its answer".into()))?;
        claim.taken_with_write();
        Ok(Started {
            thread,
            created,
            has_notes,
            user_message,
            answer,
            claim,
        })
    }
}

/// What the write that starts a turn gave.
pub(super) struct Started {
    pub(super) thread: Conversation,
    /// Whether the write created the thread.
    pub(super) created: bool,
    /// Whether the thread held hidden items.
    pub(super) has_notes: bool,
    pub(super) user_message: Message,
    pub(super) answer: Message,
    pub(super) claim: Claim,
}

/// A send's fields, checked.
struct Checked<'a> {
    content: String,
    metadata: Value,
    client_id: Option<&'a str>,
}

impl<'a> Checked<'a> {
    /// `req`'s content trimmed and bounded, its metadata an object, its client id valid.
    fn of(req: &'a TurnRequest, max_chars: usize) -> Result<Self> {
        let content = validate_content(&req.content, max_chars)?;
        let metadata = match &req.metadata {
            Value::Null => Value::Object(Default::default()),
            Value::Object(m) => Value::Object(m.clone()),
            _ => return Err(Error::invalid("metadata must be an object")),
        };
        let client_id = req
            .client_message_id
            .as_deref()
            .map(valid_client_message_id)
            .transpose()?;
        Ok(Checked {
            content,
            metadata,
            client_id,
        })
    }

    /// The user message to store in `thread`.
    fn question(&self, thread: ThreadId, details: Option<Value>) -> NewMessage {
        NewMessage {
            id: MessageId::new(),
            conversation_id: thread,
            role: Role::User,
            content: self.content.clone(),
            tool_calls: Vec::new(),
            status: MessageStatus::Completed,
            usage: None,
            details,
        }
    }
}

/// Trims a user message and enforces its length limits.
pub fn validate_content(content: &str, max_chars: usize) -> Result<String> {
    let content = content.trim();
    if content.is_empty() {
        return Err(Error::invalid("message must not be empty"));
    }
    if content.chars().count() > max_chars {
        return Err(Error::MessageTooLong(format!(
            "message is longer than {max_chars} characters"
        )));
    }
    Ok(content.to_string())
}

/// A thread title from its first message: the first line, at most 60 characters, cut at
/// a word boundary.
pub fn title_from(content: &str) -> String {
    const MAX: usize = 60;
    let line = content.lines().next().unwrap_or("").trim();
    if line.chars().count() <= MAX {
        return line.to_string();
    }
    let cut: String = line.chars().take(MAX).collect();
    let cut = match cut.rfind(' ') {
        Some(i) if i > MAX / 2 => &cut[..i],
        _ => &cut[..],
    };
    format!("{}…", cut.trim_end())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_is_trimmed_and_bounded() {
        assert_eq!(validate_content("  hi \n", 10).unwrap(), "hi");
        assert!(matches!(
            validate_content(" \n\t", 10),
            Err(Error::Invalid(_))
        ));
        assert!(validate_content(&"é".repeat(10), 10).is_ok());
        assert!(matches!(
            validate_content(&"é".repeat(11), 10),
            Err(Error::MessageTooLong(_))
        ));
    }

    #[test]
    fn titles_are_short_first_lines() {
        assert_eq!(title_from("buy milk\nand eggs"), "buy milk");
        let long = "word ".repeat(30);
        let t = title_from(&long);
        assert!(t.chars().count() <= 61);
        assert!(t.ends_with('…'));
        assert!(!t.contains("  "));
    }
}
