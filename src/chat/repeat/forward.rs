//! Passing on the rest of a running turn to a [`Turn`] that did not start it (a repeated send's,
//! or a queued send's), from what [`Followed`] reads of the hub.

use super::*;

/// The turn a [`Forwarder`] passes on: its answer, and before that, for a send still queued, the
/// start of its turn.
pub(in crate::chat) struct Target {
    pub(super) thread: ThreadId,
    answer: MessageId,
    /// Deltas below it (already in the text the caller has) are skipped.
    next_seq: u32,
    /// Tool calls the caller has already: skipped once each.
    known: Vec<ToolCall>,
    /// The queued user message whose turn has not started yet.
    waiting: Option<MessageId>,
}

impl Target {
    /// A running answer, as the store had it.
    pub(in crate::chat) fn answer(answer: Message) -> Target {
        Target {
            thread: answer.conversation_id,
            answer: answer.id,
            next_seq: answer.next_seq.unwrap_or(0),
            known: answer.tool_calls,
            waiting: None,
        }
    }

    /// A queued message, whose answer will have the id `answer`.
    pub(in crate::chat) fn queued(message: &QueuedMessage, answer: MessageId) -> Target {
        Target {
            thread: message.conversation_id,
            answer,
            next_seq: 0,
            known: Vec::new(),
            waiting: Some(message.id),
        }
    }
}

/// Forwards the rest of a turn, as [`Followed`] reads it from the hub, to a [`Turn`] that did
/// not start it: a repeated send's, or a queued send's.
pub(super) struct Forwarder {
    pub(super) chat: Chat,
    pub(super) user: UserId,
    /// The events of the target's thread, queue events included.
    pub(super) events: Followed,
    pub(super) target: Target,
    pub(super) tx: mpsc::UnboundedSender<Arc<Event>>,
    /// Cancelling the forwarder's turn cancels the turn it follows, or its queued message.
    pub(super) cancel: CancellationToken,
}

/// What a forwarder does with an event.
enum Step {
    Forward,
    Skip,
    /// Forward it; the turn is over.
    Last,
    /// Forward it; the turn is over unless its answer is still stored (a `message.done` follows).
    Error,
    /// The queued message was cancelled: the turn ends with `cancelled`, having never run.
    Cancelled,
}

impl Forwarder {
    pub(super) async fn run(mut self) {
        let thread = self.target.thread;
        let mut cancelled = false;
        loop {
            let event = match self.events.pop() {
                Some(event) => Ok(event),
                None => tokio::select! {
                    biased;
                    _ = self.tx.closed() => return,
                    _ = self.cancel.cancelled(), if !cancelled => {
                        cancelled = true;
                        self.stop().await;
                        continue;
                    }
                    read = self.events.read() => match read {
                        Ok(()) => continue,
                        Err(lagged) => Err(lagged),
                    },
                },
            };
            let Ok(event) = event else {
                if self.recover().await {
                    return;
                }
                continue;
            };
            let step = self.step(&event.body);
            if matches!(step, Step::Skip) {
                continue;
            }
            if let Step::Cancelled = step {
                let error = ChatEvent::Error {
                    thread_id: Some(thread),
                    error: Error::Unqueued.body(),
                };
                let _ = self.tx.send(Arc::new(Event::new(
                    self.user.clone(),
                    error,
                    event.request_id.clone(),
                )));
                return;
            }
            if self.tx.send(event).is_err() {
                return;
            }
            match step {
                Step::Last => return,
                // A turn that failed having said nothing ends with its error (its answer is
                // gone); otherwise its `message.done` follows.
                Step::Error if self.stored().await.is_none() => return,
                _ => {}
            }
        }
    }

    /// Where `event` stands in the followed turn.
    fn step(&mut self, event: &ChatEvent) -> Step {
        let t = &mut self.target;
        if let Some(waiting) = t.waiting {
            return match event {
                ChatEvent::MessageQueued { message, .. } if message.id == waiting => Step::Forward,
                ChatEvent::MessageUnqueued {
                    message_id, reason, ..
                } if *message_id == waiting => match reason {
                    Unqueued::Started => Step::Forward,
                    Unqueued::Cancelled => Step::Cancelled,
                },
                ChatEvent::MessageAdded { message, .. } if message.id == waiting => {
                    t.waiting = None;
                    Step::Forward
                }
                _ => Step::Skip,
            };
        }
        match event {
            ChatEvent::MessageAdded { message, .. } if message.id == t.answer => Step::Forward,
            ChatEvent::StreamDelta {
                message_id, seq, ..
            } if *message_id == t.answer => {
                if *seq < t.next_seq {
                    Step::Skip
                } else {
                    Step::Forward
                }
            }
            ChatEvent::ToolCalled {
                message_id,
                tool_name,
                arguments,
                result,
                ..
            } if *message_id == t.answer => {
                let seen = t.known.iter().position(|c| {
                    c.tool_name == *tool_name && c.arguments == *arguments && c.result == *result
                });
                match seen {
                    Some(i) => {
                        t.known.remove(i);
                        Step::Skip
                    }
                    None => Step::Forward,
                }
            }
            ChatEvent::TaskChanged {
                thread_id: Some(th),
                ..
            } if *th == t.thread => Step::Forward,
            ChatEvent::MessageDone { message, .. } if message.id == t.answer => Step::Last,
            ChatEvent::Error {
                thread_id: Some(th),
                ..
            } if *th == t.thread => Step::Error,
            _ => Step::Skip,
        }
    }

    /// Stops what is followed: the queued message while it waits, else the running turn.
    async fn stop(&self) {
        let (user, thread) = (&self.user, self.target.thread);
        if let Some(waiting) = self.target.waiting {
            match self.chat.cancel_queued(user, thread, waiting).await {
                Ok(true) => return,
                Ok(false) => {}
                Err(e) => e.log_if_internal(),
            }
        }
        let _ = self.chat.cancel(user, thread).await;
    }

    /// After events were dropped for this subscription, the deltas can no longer be followed
    /// whole, so only the turn's end is: true when the turn is over (its end sent).
    async fn recover(&mut self) -> bool {
        self.events
            .resubscribe(self.chat.inner.hub.subscribe(&self.user));
        self.target.next_seq = u32::MAX;
        if self.target.waiting.is_some() {
            let queue = self
                .chat
                .inner
                .store
                .queued(&self.user, self.target.thread)
                .await;
            let waiting = self.target.waiting;
            if matches!(queue, Ok(q) if q.iter().any(|q| Some(q.message.id) == waiting)) {
                return false;
            }
            self.target.waiting = None;
        }
        match self.stored().await {
            Some(m) if m.status != MessageStatus::InProgress => {
                let done = ChatEvent::MessageDone {
                    thread_id: self.target.thread,
                    message: m,
                };
                let _ = self
                    .tx
                    .send(Arc::new(Event::new(self.user.clone(), done, None)));
                true
            }
            Some(_) => false,
            None => true,
        }
    }

    /// The answer as stored now; `None` when it is gone (or unreadable).
    async fn stored(&self) -> Option<Message> {
        let t = &self.target;
        match self
            .chat
            .inner
            .store
            .get_message(&self.user, t.thread, t.answer)
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
