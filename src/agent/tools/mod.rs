//! The task tools: add, list, complete, delete and update a task of ONE user.
//!
//! `Tools` is built for the authenticated user and has no way to name another, so every agent —
//! offline or model-driven — is user-scoped by construction. A task is named by its number or by
//! words of its title; a reference that matches nothing or several tasks returns a structured
//! outcome the agent turns into a question, never a change to the wrong task.
//!
//! This module runs the tools and says what each did ([`TaskOutcome`]); what a model is told
//! about them and how its arguments are read is in `args`.

mod args;

use serde_json::{json, Value};

pub use args::{
    tool_specs, AddTaskArgs, ListTasksArgs, TaskArg, TaskRefArgs, ToolSpec, UpdateTaskArgs,
    TOOL_NAMES,
};

use crate::error::{Error, Result};
use crate::model::{NewTask, PageRequest, Task, TaskChange, TaskPatch, UserId};
use crate::store::Store;
use args::parse_args;

/// What a tool that acts on one task did.
#[derive(Debug, Clone, PartialEq)]
pub enum TaskOutcome {
    /// The change was made; the task as it is now (as it was, for a delete).
    Changed(TaskChange, Task),
    /// `complete_task` on a task that was already done.
    AlreadyCompleted(Task),
    /// `update_task` with no field to change.
    NothingToChange(Task),
    /// No task matches the reference.
    NotFound(String),
    /// Several tasks match; nothing was changed.
    Ambiguous(Vec<Task>),
    /// The arguments are unusable (empty title …).
    Invalid(String),
}

impl TaskOutcome {
    /// The JSON the model (and `tool.called`) sees.
    pub fn to_json(&self) -> Value {
        match self {
            TaskOutcome::Changed(change, task) => {
                json!({"ok": true, "change": change, "task": task})
            }
            TaskOutcome::AlreadyCompleted(task) => {
                json!({"ok": true, "change": null, "note": "already completed", "task": task})
            }
            TaskOutcome::NothingToChange(task) => {
                json!({"ok": false, "error": "nothing_to_change", "task": task})
            }
            TaskOutcome::NotFound(reference) => {
                json!({"ok": false, "error": "not_found", "query": reference})
            }
            TaskOutcome::Ambiguous(candidates) => json!({
                "ok": false,
                "error": "ambiguous",
                "message": "several tasks match; ask the user which one",
                "candidates": candidates,
            }),
            TaskOutcome::Invalid(message) => {
                json!({"ok": false, "error": "invalid_arguments", "message": message})
            }
        }
    }

    /// The task change to announce, if one happened.
    pub fn change(&self) -> Option<(TaskChange, &Task)> {
        match self {
            TaskOutcome::Changed(change, task) => Some((*change, task)),
            _ => None,
        }
    }
}

/// Which task a reference names.
enum Resolved {
    One(Task),
    None,
    Many(Vec<Task>),
}

/// The task tools of one user.
#[derive(Clone)]
pub struct Tools {
    store: Store,
    user: UserId,
}

impl Tools {
    pub fn new(store: Store, user: UserId) -> Self {
        Tools { store, user }
    }

    pub fn user(&self) -> &UserId {
        &self.user
    }

    pub async fn add_task(&self, args: AddTaskArgs) -> Result<TaskOutcome> {
        let title = clean_title(&args.title);
        if title.is_empty() {
            return Ok(TaskOutcome::Invalid("a task needs a title".into()));
        }
        let task = NewTask {
            title,
            priority: args.priority.unwrap_or_default(),
            due_date: args.due_date,
        };
        match self.store.add_task(&self.user, &task).await {
            Ok(task) => Ok(TaskOutcome::Changed(TaskChange::Added, task)),
            Err(Error::Invalid(m)) => Ok(TaskOutcome::Invalid(m)),
            Err(e) => Err(e),
        }
    }

    /// Up to 100 tasks, by number.
    pub async fn list_tasks(&self, args: ListTasksArgs) -> Result<Vec<Task>> {
        let page = self
            .store
            .list_tasks(
                &self.user,
                args.status.unwrap_or_default(),
                &PageRequest::first(100),
            )
            .await?;
        Ok(page.data)
    }

    pub async fn complete_task(&self, args: TaskRefArgs) -> Result<TaskOutcome> {
        let task = match self.resolve(&args.task, true).await? {
            Ok(task) => task,
            Err(outcome) => return Ok(outcome),
        };
        if task.completed {
            return Ok(TaskOutcome::AlreadyCompleted(task));
        }
        let patch = TaskPatch {
            completed: Some(true),
            ..TaskPatch::default()
        };
        self.patch(task, patch, TaskChange::Completed).await
    }

    pub async fn delete_task(&self, args: TaskRefArgs) -> Result<TaskOutcome> {
        let task = match self.resolve(&args.task, false).await? {
            Ok(task) => task,
            Err(outcome) => return Ok(outcome),
        };
        match self.store.delete_task(&self.user, task.number).await? {
            Some(task) => Ok(TaskOutcome::Changed(TaskChange::Deleted, task)),
            None => Ok(TaskOutcome::NotFound(args.task.describe())),
        }
    }

    pub async fn update_task(&self, args: UpdateTaskArgs) -> Result<TaskOutcome> {
        let task = match self.resolve(&args.task, false).await? {
            Ok(task) => task,
            Err(outcome) => return Ok(outcome),
        };
        let title = args.title.as_deref().map(clean_title);
        if title.as_deref() == Some("") {
            return Ok(TaskOutcome::Invalid("a task needs a title".into()));
        }
        let patch = TaskPatch {
            title,
            priority: args.priority,
            due_date: args.due_date.map(Some),
            completed: None,
        };
        if patch.is_empty() {
            return Ok(TaskOutcome::NothingToChange(task));
        }
        self.patch(task, patch, TaskChange::Updated).await
    }

    /// Runs a tool by name with JSON arguments, as a model calls it. Arguments that do not parse
    /// come back as an `invalid_arguments` result for the model to correct, not as an error.
    pub async fn call(
        &self,
        name: &str,
        arguments: &Value,
    ) -> Result<(Value, Option<TaskOutcome>)> {
        match name {
            "add_task" => run_with(arguments, |a| self.add_task(a)).await,
            "complete_task" => run_with(arguments, |a| self.complete_task(a)).await,
            "delete_task" => run_with(arguments, |a| self.delete_task(a)).await,
            "update_task" => run_with(arguments, |a| self.update_task(a)).await,
            "list_tasks" => match parse_args::<ListTasksArgs>(arguments) {
                Ok(a) => {
                    let tasks = self.list_tasks(a).await?;
                    let count = tasks.len();
                    Ok((json!({"ok": true, "count": count, "tasks": tasks}), None))
                }
                Err(v) => Ok((v, None)),
            },
            other => Ok((
                json!({"ok": false, "error": "unknown_tool", "message": format!("no tool named {other}")}),
                None,
            )),
        }
    }

    async fn patch(&self, task: Task, patch: TaskPatch, change: TaskChange) -> Result<TaskOutcome> {
        match self
            .store
            .update_task(&self.user, task.number, &patch)
            .await
        {
            Ok(Some(task)) => Ok(TaskOutcome::Changed(change, task)),
            Ok(None) => Ok(TaskOutcome::NotFound(format!("#{}", task.number))),
            Err(Error::Invalid(m)) => Ok(TaskOutcome::Invalid(m)),
            Err(e) => Err(e),
        }
    }

    /// Finds the one task a reference names, or the outcome explaining why not.
    /// `prefer_pending`: when a title matches several tasks of which exactly one is pending,
    /// that one is meant ("complete the milk task" after an older milk task was done).
    async fn resolve(
        &self,
        arg: &TaskArg,
        prefer_pending: bool,
    ) -> Result<Result<Task, TaskOutcome>> {
        let resolved = match arg.number() {
            Some(n) => match self.store.get_task(&self.user, n).await? {
                Some(t) => Resolved::One(t),
                None => Resolved::None,
            },
            None => {
                let query = clean_title(&arg.describe());
                if query.is_empty() {
                    return Ok(Err(TaskOutcome::Invalid("say which task".into())));
                }
                self.match_title(&query, prefer_pending).await?
            }
        };
        Ok(match resolved {
            Resolved::One(t) => Ok(t),
            Resolved::None => Err(TaskOutcome::NotFound(arg.describe())),
            Resolved::Many(ts) => Err(TaskOutcome::Ambiguous(ts)),
        })
    }

    async fn match_title(&self, query: &str, prefer_pending: bool) -> Result<Resolved> {
        let found = self.store.find_tasks(&self.user, query).await?;
        // An exact title match wins over substring matches.
        let exact: Vec<&Task> = found
            .iter()
            .filter(|t| t.title.eq_ignore_ascii_case(query))
            .collect();
        if exact.len() == 1 {
            return Ok(Resolved::One(exact[0].clone()));
        }
        if prefer_pending {
            let pending: Vec<&Task> = found.iter().filter(|t| !t.completed).collect();
            if pending.len() == 1 && found.len() > 1 {
                return Ok(Resolved::One(pending[0].clone()));
            }
        }
        Ok(match found.len() {
            0 => Resolved::None,
            1 => Resolved::One(found.into_iter().next().expect("one")),
            _ => Resolved::Many(found),
        })
    }
}

fn clean_title(t: &str) -> String {
    t.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Runs a task-changing tool on its parsed arguments; its outcome is both the model's result
/// and what the turn announces.
async fn run_with<T, F, Fut>(arguments: &Value, run: F) -> Result<(Value, Option<TaskOutcome>)>
where
    T: serde::de::DeserializeOwned,
    F: FnOnce(T) -> Fut,
    Fut: std::future::Future<Output = Result<TaskOutcome>>,
{
    match parse_args(arguments) {
        Ok(a) => {
            let outcome = run(a).await?;
            Ok((outcome.to_json(), Some(outcome)))
        }
        Err(v) => Ok((v, None)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outcome_json_shapes() {
        let v = TaskOutcome::NotFound("meeting".into()).to_json();
        assert_eq!(v["ok"], false);
        assert_eq!(v["error"], "not_found");
        let v = TaskOutcome::Ambiguous(vec![]).to_json();
        assert_eq!(v["error"], "ambiguous");
    }
}
