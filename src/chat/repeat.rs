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

use super::event::{ChatEvent, Event};
use super::{Chat, Turn, TurnRequest};
use crate::agent::Language;
use crate::error::{Error, Result};
use crate::hub::Subscription;
use crate::model::{Message, MessageStatus, ThreadId, ToolCall, UserId};

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
        let sent = inner
            .store
            .sent_turn(&req.user, client_id)
            .await?
            .ok_or(Error::DuplicateSend)?;
        let question = sent.question.ok_or(Error::DuplicateSend)?;
        let thread_id = sent.thread_id;
        let event = |body| Arc::new(Event::new(req.user.clone(), body, req.request_id.clone()));
        let language = req
            .metadata
            .get("language")
            .and_then(|l| l.as_str())
            .and_then(Language::from_tag)
            .unwrap_or_else(|| crate::agent::offline::intent::detect_language(&question.content));
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
        let (tx, rx) = mpsc::unbounded_channel();
        for e in &replayed {
            let _ = tx.send(e.clone());
        }
        let cancel = CancellationToken::new();
        if let Some(answer) = running {
            let follow = Follow {
                chat: self.clone(),
                user: req.user.clone(),
                live,
                answer,
                tx,
                cancel: cancel.clone(),
            };
            tokio::spawn(follow.run());
        }
        Ok(Turn {
            thread_id,
            message_id: sent.answer_id,
            language,
            replayed,
            events: rx,
            cancel,
        })
    }
}

/// Forwards the rest of a running answer's turn from the hub to a repeated send's [`Turn`].
struct Follow {
    chat: Chat,
    user: UserId,
    live: Subscription,
    /// The answer as the store had it when the repeat was answered.
    answer: Message,
    tx: mpsc::UnboundedSender<Arc<Event>>,
    /// Cancelling the repeat's turn cancels the turn it repeats.
    cancel: CancellationToken,
}

impl Follow {
    async fn run(mut self) {
        let thread = self.answer.conversation_id;
        let id = self.answer.id;
        // Deltas the stored text already holds are skipped, and so are tool calls it lists.
        let mut next_seq = self.answer.next_seq.unwrap_or(0);
        let mut known: Vec<ToolCall> = std::mem::take(&mut self.answer.tool_calls);
        let mut cancelled = false;
        let mut pending: std::collections::VecDeque<Arc<Event>> = Default::default();
        loop {
            let event = match pending.pop_front() {
                Some(event) => Ok(event),
                None => tokio::select! {
                    biased;
                    _ = self.tx.closed() => return,
                    _ = self.cancel.cancelled(), if !cancelled => {
                        cancelled = true;
                        let _ = self.chat.cancel(&self.user, thread).await;
                        continue;
                    }
                    found = self.live.recv(64) => match found {
                        Ok(found) => {
                            let user = &self.user;
                            pending.extend(found.into_iter().flat_map(|d| d.into_events(user)));
                            continue;
                        }
                        Err(lagged) => Err(lagged),
                    },
                },
            };
            let Ok(event) = event else {
                // Events were dropped for this subscription: the deltas can no longer be
                // followed whole, so only the turn's end is.
                self.live = self.chat.inner.hub.subscribe(&self.user);
                next_seq = u32::MAX;
                match self.stored().await {
                    Some(m) if m.status != MessageStatus::InProgress => {
                        let done = ChatEvent::MessageDone {
                            thread_id: thread,
                            message: m,
                        };
                        let _ = self
                            .tx
                            .send(Arc::new(Event::new(self.user.clone(), done, None)));
                        return;
                    }
                    Some(_) => continue,
                    None => return,
                }
            };
            match &event.body {
                ChatEvent::StreamDelta {
                    message_id, seq, ..
                } if *message_id == id => {
                    if *seq < next_seq {
                        continue;
                    }
                }
                ChatEvent::ToolCalled {
                    message_id,
                    tool_name,
                    arguments,
                    result,
                    ..
                } if *message_id == id => {
                    let seen = known.iter().position(|c| {
                        c.tool_name == *tool_name
                            && c.arguments == *arguments
                            && c.result == *result
                    });
                    if let Some(i) = seen {
                        known.remove(i);
                        continue;
                    }
                }
                ChatEvent::TaskChanged {
                    thread_id: Some(t), ..
                } if *t == thread => {}
                ChatEvent::MessageDone { message, .. } if message.id == id => {
                    let _ = self.tx.send(event);
                    return;
                }
                ChatEvent::Error {
                    thread_id: Some(t), ..
                } if *t == thread => {
                    if self.tx.send(event).is_err() {
                        return;
                    }
                    // A turn that failed having said nothing ends with its error (its answer is
                    // gone); otherwise its `message.done` follows.
                    match self.stored().await {
                        Some(_) => continue,
                        None => return,
                    }
                }
                _ => continue,
            }
            if self.tx.send(event).is_err() {
                return;
            }
        }
    }

    /// The answer as stored now; `None` when it is gone (or unreadable).
    async fn stored(&self) -> Option<Message> {
        let thread = self.answer.conversation_id;
        match self
            .chat
            .inner
            .store
            .get_message(&self.user, thread, self.answer.id)
            .await
        {
            Ok(m) => m,
            Err(e) => {
                e.log_if_internal();
                None
            }
        }
    }
}
