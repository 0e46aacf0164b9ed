//! Messages queued behind a thread's running turn (`on_busy: "enqueue"`).
//!
//! A queued message is stored at once (so it survives a restart and every instance sees it),
//! announced with `message.queued`, and started when the turns before it end: the turn that
//! ends looks at its thread's queue when a message may wait behind it, and starts the first. The
//! write that starts a queued message's turn takes it off the queue in the same transaction
//! (`Store::start_queued_turn`), so it runs once whoever starts it, and a cancel either takes it
//! off first (it never runs) or finds it gone.
//!
//! Who looks at a queue:
//! - the send that queued a message, when no turn runs on the thread in this process any more
//!   (the turn ended while the message was being written);
//! - the turn a message waits behind, when it ends here: the sender marks it
//!   (`Running::queued`), or, with several instances, asks the instance that runs it to;
//! - an interrupting send, which goes before the queue, once its turn started;
//! - every few seconds, and at start-up, every thread with a queue and no turn ([`Chat::tend_queues`]):
//!   that covers a turn's instance that died, or a hint between instances that came too late.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use super::event::{ChatEvent, Event, Unqueued};
use super::repeat::{language_of, Target};
use super::{validate_content, Chat, OnBusy, Turn, TurnRequest};
use crate::error::{Error, Result};
use crate::model::{MessageId, MessageStatus, NewMessage, Role, ThreadId, UserId};
use crate::store::{NewQueued, Queued, TurnStart};

impl Chat {
    /// Queues `req` behind the turn running on `thread`. Its [`Turn`] gets `message.queued`,
    /// then, once it starts, its turn's events; or an `error` `cancelled` when it is cancelled
    /// before it runs. Errors: `not_found`, `queue_full`, and those of the content's checks.
    pub(super) async fn enqueue(&self, req: &TurnRequest, thread: ThreadId) -> Result<Turn> {
        let inner = &self.inner;
        let content = validate_content(&req.content, inner.settings.max_message_chars)?;
        let metadata = match &req.metadata {
            serde_json::Value::Null => serde_json::json!({}),
            m => m.clone(),
        };
        // Subscribe before the write, so the follower misses nothing of the turn.
        let live = inner.hub.subscribe(&req.user);
        let new = NewQueued {
            id: MessageId::new(),
            thread,
            answer_id: MessageId::new(),
            content: &content,
            metadata: &metadata,
            request_id: req.request_id.as_deref(),
            client_message_id: req.client_message_id.as_deref(),
            cap: inner.settings.max_queued,
        };
        let queued = match inner.store.enqueue(&req.user, &new).await {
            Ok(q) => q,
            Err(Error::DuplicateSend) => {
                let id = req.client_message_id.as_deref().unwrap_or_default();
                return self.repeat(req, id).await;
            }
            Err(e) => return Err(e),
        };
        crate::metrics::turn_queued();
        let event = ChatEvent::MessageQueued {
            thread_id: thread,
            message: queued.message.clone(),
        };
        inner.hub.publish(Arc::new(Event::new(
            req.user.clone(),
            event,
            req.request_id.clone(),
        )));
        self.wake_queue(&req.user, thread);
        if let Some(cluster) = inner.cluster.get() {
            if !inner.running.contains_key(&thread) {
                cluster.wake_queue(&req.user, thread).await;
            }
        }
        let language = language_of(req, &content);
        let target = Target::queued(&queued.message, queued.answer_id);
        Ok(self.following(
            req,
            (thread, queued.answer_id),
            language,
            Vec::new(),
            live,
            Some(target),
        ))
    }

    /// Takes a queued message of `user`'s thread off its queue before it runs, telling every
    /// socket (`message.unqueued`, `cancelled`); false when it is not queued there.
    pub async fn cancel_queued(
        &self,
        user: &UserId,
        thread: ThreadId,
        id: MessageId,
    ) -> Result<bool> {
        if !self.inner.store.unqueue(user, thread, id).await? {
            return Ok(false);
        }
        self.unqueued(user, thread, id, Unqueued::Cancelled);
        Ok(true)
    }

    /// The messages queued on one of `user`'s threads, next first; `not_found` for anyone
    /// else's thread.
    pub async fn queue_of(
        &self,
        user: &UserId,
        thread: ThreadId,
    ) -> Result<Vec<crate::model::QueuedMessage>> {
        let queue = self.inner.store.queued(user, thread).await?;
        Ok(queue.into_iter().map(|q| q.message).collect())
    }

    fn unqueued(&self, user: &UserId, thread: ThreadId, id: MessageId, reason: Unqueued) {
        let event = ChatEvent::MessageUnqueued {
            thread_id: thread,
            message_id: id,
            reason,
        };
        self.inner
            .hub
            .publish(Arc::new(Event::new(user.clone(), event, None)));
    }

    /// Makes sure the first message queued on `thread` starts: when its turn ends, if one runs
    /// here; else now.
    pub(super) fn wake_queue(&self, user: &UserId, thread: ThreadId) {
        if !self.mark_queued(thread) {
            self.drain_later(user.clone(), thread);
        }
    }

    /// Marks the turn running on `thread` here, if any, to look at the thread's queue when it
    /// ends; false when none runs here. (Another instance's hint lands here.)
    pub fn mark_queued(&self, thread: ThreadId) -> bool {
        match self.inner.running.get(&thread) {
            Some(running) => {
                running.queued.store(true, Ordering::Release);
                true
            }
            None => false,
        }
    }

    /// [`Chat::drain`] in a task of its own.
    pub(super) fn drain_later(&self, user: UserId, thread: ThreadId) {
        let drain: Pin<Box<dyn Future<Output = ()> + Send>> =
            Box::pin(self.clone().drain(user, thread));
        self.inner.tracker.spawn(drain);
    }

    /// Starts the turn of the first message queued on `thread`, unless a turn runs there (on
    /// any instance) or an interrupting send is about to start one.
    async fn drain(self, user: UserId, thread: ThreadId) {
        loop {
            if self.inner.interrupting.contains_key(&thread) || !self.accepting() {
                return;
            }
            let next = match self.inner.store.queued(&user, thread).await {
                Ok(queue) => queue.into_iter().next(),
                Err(e) => {
                    tracing::warn!(error = %e, thread = %thread.0, "could not read a thread's queue");
                    return;
                }
            };
            let Some(next) = next else { return };
            match self.start_queued(next).await {
                Ok(()) => return,
                // Cancelled meanwhile: the next one.
                Err(Error::NotFound("queued message")) => continue,
                // A turn runs: when it ends here, it drains; one elsewhere was asked to.
                Err(Error::ThreadBusy) => {
                    self.mark_queued(thread);
                    return;
                }
                Err(Error::ShuttingDown) => return,
                Err(e) => {
                    tracing::warn!(error = %e, thread = %thread.0, "could not start a queued message");
                    return;
                }
            }
        }
    }

    /// Starts the turn of a queued message, taking it off the queue in the same write.
    async fn start_queued(&self, q: Queued) -> Result<()> {
        let inner = &self.inner;
        let thread = q.message.conversation_id;
        let existing = inner
            .store
            .conversation_for_turn(&q.user, thread)
            .await?
            .ok_or(Error::NotFound("conversation"))?;
        let req = TurnRequest {
            user: q.user.clone(),
            thread_id: Some(thread),
            content: q.message.content.clone(),
            metadata: q.metadata.clone(),
            request_id: q.request_id.clone(),
            details: None,
            attachments: Vec::new(),
            client_message_id: None,
            on_busy: OnBusy::Reject,
            create_thread: false,
        };
        let question = NewMessage {
            id: q.message.id,
            conversation_id: thread,
            role: Role::User,
            content: q.message.content.clone(),
            tool_calls: Vec::new(),
            status: MessageStatus::Completed,
            usage: None,
            details: None,
        };
        let start = TurnStart {
            question: &question,
            answer: Some(q.answer_id),
            client_message_id: None,
            claim: self.take_step(),
        };
        let cancel = inner.kill.child_token();
        let started = self
            .write_start(&req, Some(existing), &start, &q.metadata, &cancel, true)
            .await?;
        // More may wait behind it.
        self.mark_queued(thread);
        self.unqueued(&q.user, thread, q.message.id, Unqueued::Started);
        let language = language_of(&req, &req.content);
        self.launch(&q.user, q.request_id, &[], started, language, cancel)
            .await
            .map(|_| ())
    }

    /// Starts the queued messages of threads where no turn runs: at start-up (after the sweep of
    /// orphaned answers) and every few seconds after, for queues nobody else looks at.
    pub async fn tend_queues(&self) -> Result<usize> {
        let threads = self.inner.store.queued_threads().await?;
        let mut woken = 0;
        for (user, thread) in threads {
            if !self.inner.running.contains_key(&thread) {
                self.drain_later(user, thread);
                woken += 1;
            }
        }
        Ok(woken)
    }
}
