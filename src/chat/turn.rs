//! One turn, run in its own task: history → agent → tools → persist → publish.
//!
//! The assistant message (the answer) is stored `in_progress` by the write that started the
//! turn, with the user message. While it streams, its text and tool calls so far are saved
//! behind it ([`super::partial`]), so a process killed mid-turn loses at most a moment of it;
//! when the turn ends, one write stores its final text, tool calls, usage and status over the
//! row. Every event goes to the hub (all of the user's sockets) and to the starter's
//! [`super::Turn`], whose receiver may already be gone: that never stops the turn.

use std::sync::Arc;

use chrono::Utc;
use futures::StreamExt;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::claim::Claim;
use super::event::{ChatEvent, Event, ThreadView};
use super::partial::{Saver, Snapshot};
use super::Inner;
use crate::agent::tools::Tools;
use crate::agent::{AgentInput, AgentStep, ContextNote, Language};
use crate::error::Error;
use crate::model::{
    Conversation, Message, MessageStatus, NewMessage, Role, ToolCall, Usage, UserId,
};

/// Everything a spawned turn needs.
pub(super) struct TurnJob {
    pub user: UserId,
    pub request_id: Option<String>,
    pub thread: Conversation,
    pub created: bool,
    /// Whether the thread held hidden items when the turn started.
    pub has_notes: bool,
    pub user_message: Message,
    /// The answer as its turn's start stored it: in progress, no text yet.
    pub answer: Message,
    pub language: Language,
    pub cancel: CancellationToken,
    pub events: mpsc::UnboundedSender<Arc<Event>>,
    /// The thread's claim, released (among instances) right before the turn's last event and
    /// (here) when the job is dropped.
    pub claim: Claim,
}

impl TurnJob {
    fn emit(&self, inner: &Inner, body: ChatEvent) {
        let event = Arc::new(Event::new(self.user.clone(), body, self.request_id.clone()));
        inner.hub.publish(event.clone());
        // The starter may have gone away (REST client disconnected); the turn goes on.
        let _ = self.events.send(event);
    }
}

/// What the agent produced so far.
#[derive(Default)]
struct Draft {
    content: String,
    tool_calls: Vec<ToolCall>,
    usage: Option<Usage>,
    deltas: u32,
}

impl Draft {
    fn snapshot(&self) -> Snapshot<'_> {
        Snapshot {
            content: &self.content,
            tool_calls: &self.tool_calls,
            deltas: self.deltas,
        }
    }
}

pub(super) async fn run(inner: &Inner, job: TurnJob) {
    let _running = crate::metrics::turn_started();
    let thread_id = job.thread.id;
    if job.created {
        job.emit(
            inner,
            ChatEvent::ThreadCreated {
                thread: ThreadView::from(&job.thread),
            },
        );
    }
    job.emit(
        inner,
        ChatEvent::MessageAdded {
            thread_id,
            message: job.user_message.clone(),
        },
    );

    let history = match load_history(inner, &job).await {
        Ok(h) => h,
        Err(e) => return fail(inner, &job, e, None).await,
    };
    job.emit(
        inner,
        ChatEvent::MessageAdded {
            thread_id,
            message: job.answer.clone(),
        },
    );

    let notes = match load_notes(inner, &job, &history).await {
        Ok(n) => n,
        Err(e) => return fail(inner, &job, e, None).await,
    };
    let input = AgentInput {
        history,
        content: job.user_message.content.clone(),
        language: job.language,
        today: Utc::now().date_naive(),
        notes,
    };
    let mut steps = inner
        .agent
        .run(Tools::new(inner.store.clone(), job.user.clone()), input);
    let mut draft = Draft::default();
    let mut saver = Saver::new(
        inner.saves(),
        job.user.clone(),
        job.answer.id,
        inner.settings.save_lag,
    );
    // Made once, not per step: a new one registers with the token again.
    let cancelled = job.cancel.cancelled();
    tokio::pin!(cancelled);
    let status = loop {
        let step = tokio::select! {
            biased;
            _ = &mut cancelled => {
                break if job.claim.interrupted().load(std::sync::atomic::Ordering::Acquire) {
                    MessageStatus::Interrupted
                } else {
                    MessageStatus::Cancelled
                };
            }
            why = saver.wake(), if saver.busy() => {
                saver.woke(why, &draft.snapshot());
                continue;
            }
            step = steps.next() => step,
        };
        match step {
            None => break MessageStatus::Completed,
            Some(Ok(step)) => {
                if apply(inner, &job, &mut draft, step) {
                    saver.changed(&draft.snapshot());
                }
                // An agent whose steps are all ready (the offline one answers at once) would
                // otherwise publish its whole answer before any socket could drain its queue,
                // and a long answer would overflow them: give way every so often.
                tokio::task::consume_budget().await;
            }
            Some(Err(e)) => {
                drop(steps);
                saver.settle().await;
                return fail(inner, &job, e, Some(draft)).await;
            }
        }
    };
    // Stop the agent before persisting, so nothing it does lands after the final write; and
    // let the save in flight land first, so it cannot overwrite the final text.
    drop(steps);
    saver.settle().await;
    finish(inner, &job, draft, status).await;
}

/// Applies one step of the agent; true when it changed the answer (text or tool calls).
fn apply(inner: &Inner, job: &TurnJob, draft: &mut Draft, step: AgentStep) -> bool {
    let thread_id = job.thread.id;
    let message_id = job.answer.id;
    match step {
        AgentStep::Delta(delta) => {
            if delta.is_empty() {
                return false;
            }
            draft.content.push_str(&delta);
            let seq = draft.deltas;
            draft.deltas += 1;
            job.emit(
                inner,
                ChatEvent::StreamDelta {
                    thread_id,
                    message_id,
                    delta,
                    seq,
                },
            );
            true
        }
        AgentStep::ToolCalled(call) => {
            job.emit(
                inner,
                ChatEvent::ToolCalled {
                    thread_id,
                    message_id,
                    tool_name: call.tool_name.clone(),
                    arguments: call.arguments.clone(),
                    result: call.result.clone(),
                },
            );
            draft.tool_calls.push(call);
            true
        }
        AgentStep::TaskChanged(change, task) => {
            job.emit(
                inner,
                ChatEvent::TaskChanged {
                    thread_id: Some(thread_id),
                    change,
                    task,
                },
            );
            false
        }
        AgentStep::Usage(u) => {
            draft.usage.get_or_insert_with(Usage::default).add(u);
            false
        }
    }
}

/// The last `history_limit` messages before this turn's user message, oldest first; answers
/// still in progress (this turn's own among them) are not history yet.
async fn load_history(inner: &Inner, job: &TurnJob) -> Result<Vec<Message>, Error> {
    let limit = inner.settings.history_limit;
    // A thread created for this turn holds only its user message and its answer: no
    // round trip needed.
    if limit == 0 || job.created {
        return Ok(Vec::new());
    }
    let mut recent = inner
        .store
        .recent_messages(&job.user, job.thread.id, limit + 2)
        .await?;
    recent.retain(|m| m.id != job.user_message.id && m.status != MessageStatus::InProgress);
    if recent.len() > limit as usize {
        recent.drain(..recent.len() - limit as usize);
    }
    Ok(recent)
}

/// Hidden context items of the thread that fall within the replayed history (or after it).
async fn load_notes(
    inner: &Inner,
    job: &TurnJob,
    history: &[Message],
) -> Result<Vec<ContextNote>, Error> {
    // Only a model reads notes, and only a thread that has some needs the round trip.
    if !job.has_notes || !inner.agent.reads_context_notes() {
        return Ok(Vec::new());
    }
    let from = history.first().map(|m| m.seq).unwrap_or(0);
    let items = inner.store.hidden_items(&job.user, job.thread.id).await?;
    Ok(items
        .into_iter()
        .filter(|item| item.after_seq >= from)
        .map(|item| ContextNote {
            after_seq: item.after_seq,
            text: match item.content.get("content").unwrap_or(&item.content) {
                serde_json::Value::String(s) => s.clone(),
                other => other.to_string(),
            },
        })
        .collect())
}

/// Stores the answer's end over its row and announces it.
async fn finish(inner: &Inner, job: &TurnJob, draft: Draft, status: MessageStatus) {
    let usage = draft.usage.or(Some(Usage::default()));
    crate::metrics::turn_finished(status, draft.deltas, usage);
    let message = NewMessage {
        id: job.answer.id,
        conversation_id: job.thread.id,
        role: Role::Assistant,
        content: draft.content,
        tool_calls: draft.tool_calls,
        status,
        usage,
        details: None,
    };
    // The same write releases the thread's claim among instances, unless it never ran.
    let release = job.claim.release_step();
    let saved = inner
        .store
        .finish_answer(&job.user, &message, draft.deltas, release)
        .await;
    if matches!(saved, Ok(_) | Err(Error::NotFound(_))) {
        job.claim.released_with_write();
    }
    job.claim.release().await;
    match saved {
        Ok(saved) => job.emit(
            inner,
            ChatEvent::MessageDone {
                thread_id: job.thread.id,
                message: saved,
            },
        ),
        Err(e) => {
            e.log_if_internal();
            job.emit(
                inner,
                ChatEvent::Error {
                    thread_id: Some(job.thread.id),
                    error: e.body(),
                },
            );
        }
    }
}

/// Ends a turn whose agent failed: the error event, then (when anything was produced) the
/// partial message stored with status `failed`. An answer that produced nothing is deleted,
/// so the thread shows no empty message.
async fn fail(inner: &Inner, job: &TurnJob, error: Error, draft: Option<Draft>) {
    error.log_if_internal();
    let draft = draft.filter(|d| !d.content.is_empty() || !d.tool_calls.is_empty());
    if draft.is_none() {
        // The error is the last event: the answer goes, and the claim with it.
        let release = job.claim.release_step();
        let dropped = inner
            .store
            .drop_answer(&job.user, job.thread.id, job.answer.id, release)
            .await;
        match dropped {
            Ok(_) => job.claim.released_with_write(),
            // Left in progress, the answer is marked interrupted by the next sweep.
            Err(e) => e.log_if_internal(),
        }
        job.claim.release().await;
    }
    job.emit(
        inner,
        ChatEvent::Error {
            thread_id: Some(job.thread.id),
            error: error.body(),
        },
    );
    match draft {
        Some(draft) => finish(inner, job, draft, MessageStatus::Failed).await,
        None => crate::metrics::turn_finished(MessageStatus::Failed, 0, None),
    }
}
