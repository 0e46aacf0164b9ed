//! The offline agent: a rule-based English + Roman Urdu task assistant that needs no model.
//!
//! It parses the message into an intent ([`intent`]), runs at most one task tool, and answers in
//! the user's language ([`reply`]), streaming the answer in word-sized deltas through the same
//! [`AgentStep`] path a model uses. It is the default agent, so the server does its whole job with
//! no API key.

pub mod intent;
pub mod reply;

use std::time::Duration;

use futures::{stream, StreamExt};
use serde_json::{json, Value};
use uuid::Uuid;

use super::tools::{
    AddTaskArgs, ListTasksArgs, TaskArg, TaskOutcome, TaskRefArgs, Tools, UpdateTaskArgs,
};
use super::{word_deltas, AgentInput, AgentStep, Language, StepStream};
use crate::error::Result;
use crate::model::{Message, ToolCall};
use intent::{Action, Intent, TaskRef};

/// The rule-based agent. `delta_delay` spaces its deltas (zero answers at once).
#[derive(Debug, Clone, Default)]
pub struct OfflineAgent {
    pub delta_delay: Duration,
}

impl OfflineAgent {
    pub fn new(delta_delay: Duration) -> Self {
        OfflineAgent { delta_delay }
    }

    /// Runs one turn: the tool call (if any) first, then the answer's deltas.
    pub fn run(&self, tools: Tools, input: AgentInput) -> StepStream {
        let delay = self.delta_delay;
        stream::once(async move { respond(&tools, &input).await })
            .flat_map(|result| match result {
                Ok(steps) => stream::iter(steps.into_iter().map(Ok).collect::<Vec<_>>()),
                Err(e) => stream::iter(vec![Err(e)]),
            })
            .then(move |step| async move {
                if !delay.is_zero() && matches!(step, Ok(AgentStep::Delta(_))) {
                    tokio::time::sleep(delay).await;
                }
                step
            })
            .boxed()
    }
}

/// Everything the agent does for one message, as the list of steps to stream.
async fn respond(tools: &Tools, input: &AgentInput) -> Result<Vec<AgentStep>> {
    let parsed = intent::parse(&input.content, input.today);
    let lang = input.language;
    let mut steps = Vec::new();
    let text = match parsed.intent {
        Intent::Add {
            title,
            priority,
            due_date,
        } => {
            let args = json!({"title": title, "priority": priority.map(|p| p.as_str()), "due_date": due_date});
            let outcome = tools
                .add_task(AddTaskArgs {
                    title,
                    priority,
                    due_date,
                })
                .await?;
            record(&mut steps, "add_task", args, &outcome);
            outcome_text(lang, &outcome, Action::Add)
        }
        Intent::List { filter } => {
            let tasks = tools
                .list_tasks(ListTasksArgs {
                    status: Some(filter),
                })
                .await?;
            steps.push(AgentStep::ToolCalled(ToolCall {
                id: Some(call_id()),
                tool_name: "list_tasks".into(),
                arguments: json!({"status": filter}),
                result: json!({"ok": true, "count": tasks.len(), "tasks": tasks}),
            }));
            reply::listed(lang, &tasks, filter)
        }
        Intent::Complete { task } => match task_arg(task, &input.history) {
            Some(task) => {
                let args = json!({"task": arg_json(&task)});
                let outcome = tools.complete_task(TaskRefArgs { task }).await?;
                record(&mut steps, "complete_task", args, &outcome);
                outcome_text(lang, &outcome, Action::Complete)
            }
            None => reply::incomplete(lang, Action::Complete),
        },
        Intent::Delete { task } => match task_arg(task, &input.history) {
            Some(task) => {
                let args = json!({"task": arg_json(&task)});
                let outcome = tools.delete_task(TaskRefArgs { task }).await?;
                record(&mut steps, "delete_task", args, &outcome);
                outcome_text(lang, &outcome, Action::Delete)
            }
            None => reply::incomplete(lang, Action::Delete),
        },
        Intent::Update {
            task,
            title,
            priority,
            due_date,
        } => match task_arg(task, &input.history) {
            Some(task) => {
                let args = json!({
                    "task": arg_json(&task),
                    "title": title,
                    "priority": priority.map(|p| p.as_str()),
                    "due_date": due_date,
                });
                let outcome = tools
                    .update_task(UpdateTaskArgs {
                        task,
                        title,
                        priority,
                        due_date,
                    })
                    .await?;
                record(&mut steps, "update_task", args, &outcome);
                outcome_text(lang, &outcome, Action::Update)
            }
            None => reply::incomplete(lang, Action::Update),
        },
        Intent::Greeting => reply::greeting(lang),
        Intent::Help => reply::help(lang),
        Intent::Incomplete { action } => reply::incomplete(lang, action),
        Intent::Unknown => reply::unknown(lang),
    };
    steps.extend(word_deltas(&text).into_iter().map(AgentStep::Delta));
    Ok(steps)
}

/// Records a task tool's call and the change it made.
fn record(steps: &mut Vec<AgentStep>, tool: &str, mut arguments: Value, outcome: &TaskOutcome) {
    if let Value::Object(map) = &mut arguments {
        map.retain(|_, v| !v.is_null());
    }
    steps.push(AgentStep::ToolCalled(ToolCall {
        id: Some(call_id()),
        tool_name: tool.into(),
        arguments,
        result: outcome.to_json(),
    }));
    if let Some((change, task)) = outcome.change() {
        steps.push(AgentStep::TaskChanged(change, task.clone()));
    }
}

fn outcome_text(lang: Language, outcome: &TaskOutcome, action: Action) -> String {
    match outcome {
        TaskOutcome::Changed(change, task) => match change {
            crate::model::TaskChange::Added => reply::added(lang, task),
            crate::model::TaskChange::Completed => reply::completed(lang, task),
            crate::model::TaskChange::Deleted => reply::deleted(lang, task),
            crate::model::TaskChange::Updated => reply::updated(lang, task),
        },
        TaskOutcome::AlreadyCompleted(task) => reply::already_completed(lang, task),
        TaskOutcome::NothingToChange(task) => reply::nothing_to_change(lang, task),
        TaskOutcome::NotFound(reference) => reply::not_found(lang, reference),
        TaskOutcome::Ambiguous(candidates) => reply::ambiguous(lang, candidates),
        TaskOutcome::Invalid(_) => reply::incomplete(lang, action),
    }
}

/// The tool argument for a parsed reference; `Previous` becomes the task the conversation
/// touched last, or `None` when it touched none.
fn task_arg(task: TaskRef, history: &[Message]) -> Option<TaskArg> {
    match task {
        TaskRef::Number(n) => Some(TaskArg::Number(n)),
        TaskRef::Title(t) => Some(TaskArg::Text(t)),
        TaskRef::Previous => last_task_number(history).map(TaskArg::Number),
    }
}

/// The number of the task the most recent tool call of the conversation returned.
pub fn last_task_number(history: &[Message]) -> Option<i64> {
    history
        .iter()
        .rev()
        .flat_map(|m| m.tool_calls.iter().rev())
        .find_map(|call| call.result.get("task")?.get("number")?.as_i64())
}

fn arg_json(arg: &TaskArg) -> Value {
    match arg {
        TaskArg::Number(n) => json!(n),
        TaskArg::Text(t) => json!(t),
    }
}

fn call_id() -> String {
    format!("call_{}", Uuid::new_v4().simple())
}
