//! A send repeated with the same `client_message_id` (a client retrying after a lost answer or
//! a dropped socket) never runs a second turn: it gets the turn the first send started.
//!
//! The store keeps each send's client id with the messages it wrote, in the same write, so a
//! second start with it writes nothing, on any instance and whatever the race. The repeat is
//! answered from the store: the user message, then the answer as stored (final, or in progress
//! with its text so far and `next_seq`), then, while the turn runs, the rest of it from the hub,
//! filtered to that answer, until its `message.done`.

use std::sync::Arc;

use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;

use super::event::{ChatEvent, Event, Unqueued};
use super::follow::Followed;
use super::{Chat, Turn, TurnRequest};
use crate::agent::Language;
use crate::error::{Error, Result};
use crate::hub::Subscription;
use crate::model::{Message, MessageId, MessageStatus, QueuedMessage, ThreadId, ToolCall, UserId};

/// Longest `client_message_id`, in characters.
pub const MAX_CLIENT_MESSAGE_ID_CHARS: usize = 64;

/// The id as given, or `invalid_request` unless it is 1–64 characters with no control
/// character.
pub fn valid_client_message_id(id: &str) -> Result<&str> {
    let chars = id.chars().count();
    if chars == 0 || chars > MAX_CLIENT_MESSAGE_ID_CHARS || id.chars().any(char::is_control) {
        return Err(Error::Invalid(format!(
            "client_message_id must be 1-{MAX_CLIENT_MESSAGE_ID_CHARS} characters, without \
             control characters"
        )));
    }
    Ok(id)
}

impl Chat {
    /// Answers a start refused with `e`: a send whose client id turns out to be taken gets the
    /// turn that took it; anything else is the error.
    pub(super) async fn refused(&self, req: &TurnRequest, e: Error) -> Result<Turn> {
        let Some(id) = req.client_message_id.as_deref() else {
            return Err(e);
        };
        match e {
            Error::DuplicateSend => self.repeat(req, id).await,
            Error::ThreadBusy => {
                // The same send may be starting its turn here right now (sent twice at once):
                // its write decides, so wait for it.
                if let Some(mut written) = req
                    .thread_id
                    .and_then(|thread| self.pending_send(thread, &req.user, id))
                {
                    let _ = written.wait_for(|done| *done).await;
                }
                match self.inner.store.sent_turn(&req.user, id).await? {
                    Some(_) => self.repeat(req, id).await,
                    None => Err(Error::ThreadBusy),
                }
            }
            e => Err(e),
        }
    }

    /// Whether `user`'s send `client_id` is starting (or running) the turn on `thread` here:
    /// then a watch that turns true once its start is written.
    fn pending_send(
        &self,
        thread: ThreadId,
        user: &UserId,
        client_id: &str,
    ) -> Option<watch::Receiver<bool>> {
        let running = self.inner.running.get(&thread)?;
        (running.user == *user && running.client_message_id.as_deref() == Some(client_id))
            .then(|| running.written.clone())
    }

    /// The turn of `user`'s earlier send `client_id`, as a [`Turn`] whose events bring the
    /// caller up to date and then follow the turn to its end. `DuplicateSend` when that send's
    /// messages are gone (its thread was edited by a retry).
    pub(super) async fn repeat(&self, req: &TurnRequest, client_id: &str) -> Result<Turn> {
        let inner = &self.inner;
        // Subscribe before reading, so that no event of the turn falls between the two.
        let live = inner.hub.subscribe(&req.user);
        let mut sent = inner
            .store
            .sent_turn(&req.user, client_id)
            .await?
            .ok_or(Error::DuplicateSend)?;
        if sent.question.is_none() && !sent.queued {
            // Its queued message may have started between the two reads of the look-up.
            sent = inner
                .store
                .sent_turn(&req.user, client_id)
                .await?
                .ok_or(Error::DuplicateSend)?;
        }
        let thread_id = sent.thread_id;
        let event = |body| Arc::new(Event::new(req.user.clone(), body, req.request_id.clone()));
        if sent.queued {
            return self.repeat_queued(req, &sent, live).await;
        }
        let question = sent.question.ok_or(Error::DuplicateSend)?;
        let language = language_of(req, &question.content);
        let mut replayed = vec![event(ChatEvent::MessageAdded {
            thread_id,
            message: question,
        })];
        let running = match sent.answer {
            // The turn failed before it said anything, and its answer went with it.
            None => {
                let failed = Error::Internal("the answer to this message failed".into());
                replayed.push(event(ChatEvent::Error {
                    thread_id: Some(thread_id),
                    error: failed.body(),
                }));
                None
            }
            Some(answer) if answer.status != MessageStatus::InProgress => {
                replayed.push(event(ChatEvent::MessageDone {
                    thread_id,
                    message: answer,
                }));
                None
            }
            Some(answer) => {
                replayed.push(event(ChatEvent::MessageAdded {
                    thread_id,
                    message: answer.clone(),
                }));
                Some(answer)
            }
        };
        let target = running.map(Target::answer);
        let ids = (thread_id, sent.answer_id);
        Ok(self.following(req, ids, language, replayed, live, target))
    }

    /// The repeat of a send still queued: its `message.queued` with its place now, then its
    /// turn when it starts.
    async fn repeat_queued(
        &self,
        req: &TurnRequest,
        sent: &crate::store::SentTurn,
        live: Subscription,
    ) -> Result<Turn> {
        let queue = self.inner.store.queued(&req.user, sent.thread_id).await?;
        let question = sent.question_id;
        let Some(queued) = queue.into_iter().find(|q| q.message.id == question) else {
            // It started (or was cancelled) since: answer as for a send that ran.
            return Box::pin(self.repeat(req, req.client_message_id.as_deref().unwrap_or("")))
                .await;
        };
        let language = language_of(req, &queued.message.content);
        let replayed = vec![Arc::new(Event::new(
            req.user.clone(),
            ChatEvent::MessageQueued {
                thread_id: sent.thread_id,
                message: queued.message.clone(),
            },
            req.request_id.clone(),
        ))];
        let target = Target::queued(&queued.message, sent.answer_id);
        let ids = (sent.thread_id, sent.answer_id);
        Ok(self.following(req, ids, language, replayed, live, Some(target)))
    }

    /// A [`Turn`] whose events are `replayed`, then, with a `target`, the rest of its turn from
    /// `live` (subscribed before anything replayed was read) until the turn ends.
    pub(super) fn following(
        &self,
        req: &TurnRequest,
        (thread_id, message_id): (ThreadId, MessageId),
        language: Language,
        replayed: Vec<Arc<Event>>,
        live: Subscription,
        target: Option<Target>,
    ) -> Turn {
        let (tx, rx) = mpsc::unbounded_channel();
        for e in &replayed {
            let _ = tx.send(e.clone());
        }
        let cancel = CancellationToken::new();
        if let Some(target) = target {
            let forwarder = Forwarder {
                chat: self.clone(),
                user: req.user.clone(),
                events: Followed::new(req.user.clone(), target.thread, live, true),
                target,
                tx,
                cancel: cancel.clone(),
            };
            tokio::spawn(forwarder.run());
        }
        Turn {
            thread_id,
            message_id,
            language,
            replayed,
            events: rx,
            cancel,
        }
    }
}

/// The language of a turn: the send's `metadata.language`, else detected from its text.
pub(super) fn language_of(req: &TurnRequest, content: &str) -> Language {
    req.metadata
        .get("language")
        .and_then(|l| l.as_str())
        .and_then(Language::from_tag)
        .unwrap_or_else(|| crate::agent::detect_language(content))
}

mod forward;

use forward::Forwarder;
pub(super) use forward::Target;
