//! The task tools: add, list, complete, delete and update a task of ONE user.
//!
//! `Tools` is built for the authenticated user and has no way to name another, so every agent —
//! offline or model-driven — is user-scoped by construction. A task is named by its number or by
//! words of its title; a reference that matches nothing or several tasks returns a structured
//! outcome the agent turns into a question, never a change to the wrong task.

use chrono::NaiveDate;
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::error::{Error, Result};
use crate::model::{
    NewTask, PageRequest, Priority, Task, TaskChange, TaskFilter, TaskPatch, UserId,
};
use crate::store::Store;

/// The names the tools are declared under, to the model and in `tool.called` events.
pub const TOOL_NAMES: [&str; 5] = [
    "add_task",
    "list_tasks",
    "complete_task",
    "delete_task",
    "update_task",
];

/// How a task is named: its number (as the user says "task 3"), or words of its title.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum TaskArg {
    Number(i64),
    Text(String),
}

impl TaskArg {
    /// A number when the text is one ("3", "#3", "task 3").
    fn number(&self) -> Option<i64> {
        match self {
            TaskArg::Number(n) => Some(*n),
            TaskArg::Text(t) => {
                let t = t.trim().to_ascii_lowercase();
                let t = t.strip_prefix("task").unwrap_or(&t).trim();
                let t = t.strip_prefix('#').unwrap_or(t).trim();
                t.parse().ok()
            }
        }
    }

    /// The reference as the user would read it back.
    pub fn describe(&self) -> String {
        match self {
            TaskArg::Number(n) => format!("#{n}"),
            TaskArg::Text(t) => t.trim().to_string(),
        }
    }
}

/// Arguments of `add_task`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AddTaskArgs {
    /// Short title of the task, in the user's words.
    pub title: String,
    /// low, medium (default) or high.
    #[serde(default)]
    pub priority: Option<Priority>,
    /// Due date as YYYY-MM-DD.
    #[serde(default)]
    pub due_date: Option<NaiveDate>,
}

/// Arguments of `list_tasks`.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListTasksArgs {
    /// all (default), pending or completed.
    #[serde(default)]
    pub status: Option<TaskFilter>,
}

/// Arguments of `complete_task` and `delete_task`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TaskRefArgs {
    /// The task's number, or words of its title.
    pub task: TaskArg,
}

/// Arguments of `update_task`; only the fields given change.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateTaskArgs {
    /// The task's number, or words of its title.
    pub task: TaskArg,
    /// New title.
    #[serde(default)]
    pub title: Option<String>,
    /// New priority: low, medium or high.
    #[serde(default)]
    pub priority: Option<Priority>,
    /// New due date as YYYY-MM-DD.
    #[serde(default)]
    pub due_date: Option<NaiveDate>,
}

/// A tool as declared to a model: name, description and JSON schema of its arguments.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolSpec {
    pub name: &'static str,
    pub description: &'static str,
    pub parameters: Value,
}

/// The five task tools with argument schemas generated from the argument types above, so the
/// declaration and the parser can never disagree.
pub fn tool_specs() -> Vec<ToolSpec> {
    vec![
        ToolSpec {
            name: "add_task",
            description: "Add a task to the user's task list.",
            parameters: schema_of::<AddTaskArgs>(),
        },
        ToolSpec {
            name: "list_tasks",
            description: "List the user's tasks, optionally only pending or completed ones.",
            parameters: schema_of::<ListTasksArgs>(),
        },
        ToolSpec {
            name: "complete_task",
            description: "Mark one of the user's tasks as done.",
            parameters: schema_of::<TaskRefArgs>(),
        },
        ToolSpec {
            name: "delete_task",
            description: "Delete one of the user's tasks.",
            parameters: schema_of::<TaskRefArgs>(),
        },
        ToolSpec {
            name: "update_task",
            description: "Change the title, priority or due date of one of the user's tasks.",
            parameters: schema_of::<UpdateTaskArgs>(),
        },
    ]
}

/// A self-contained JSON schema (no `$ref`s, no meta keys) for function-calling APIs.
fn schema_of<T: JsonSchema>() -> Value {
    let generator = schemars::generate::SchemaSettings::draft07()
        .with(|s| s.inline_subschemas = true)
        .into_generator();
    let mut schema = generator.into_root_schema_for::<T>().to_value();
    if let Value::Object(map) = &mut schema {
        map.remove("$schema");
        map.remove("title");
        map.remove("description");
    }
    schema
}

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

/// The model's arguments as `T`, without any `user_id` (the user is fixed by authentication, so
/// one the model sends is ignored); malformed arguments become the `invalid_arguments` result
/// the model reads.
fn parse_args<T: serde::de::DeserializeOwned>(v: &Value) -> Result<T, Value> {
    let mut v = if v.is_null() { json!({}) } else { v.clone() };
    if let Value::Object(map) = &mut v {
        map.remove("user_id");
    }
    serde_json::from_value(v)
        .map_err(|e| json!({"ok": false, "error": "invalid_arguments", "message": e.to_string()}))
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
    fn task_arg_numbers() {
        let n = |v: Value| serde_json::from_value::<TaskArg>(v).unwrap().number();
        assert_eq!(n(json!(3)), Some(3));
        assert_eq!(n(json!("3")), Some(3));
        assert_eq!(n(json!("#12")), Some(12));
        assert_eq!(n(json!("Task 7")), Some(7));
        assert_eq!(n(json!("meeting")), None);
        assert_eq!(n(json!("3 apples")), None);
    }

    #[test]
    fn tool_schemas_are_self_contained_objects() {
        let specs = tool_specs();
        let names: Vec<&str> = specs.iter().map(|s| s.name).collect();
        assert_eq!(names, TOOL_NAMES);
        for spec in &specs {
            let text = spec.parameters.to_string();
            assert_eq!(spec.parameters["type"], "object", "{}", spec.name);
            assert!(
                !text.contains("$ref") && !text.contains("$schema"),
                "{text}"
            );
        }
        let add = &specs[0].parameters;
        assert_eq!(add["required"], json!(["title"]));
        assert!(add["properties"]["priority"].to_string().contains("high"));
        let complete = &specs[2].parameters;
        assert_eq!(complete["required"], json!(["task"]));
        assert!(complete["properties"]["task"]
            .to_string()
            .contains("integer"));
    }

    #[test]
    fn outcome_json_shapes() {
        let v = TaskOutcome::NotFound("meeting".into()).to_json();
        assert_eq!(v["ok"], false);
        assert_eq!(v["error"], "not_found");
        let v = TaskOutcome::Ambiguous(vec![]).to_json();
        assert_eq!(v["error"], "ambiguous");
    }
}
