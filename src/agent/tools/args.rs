//! What a model is told about the task tools, and how the arguments it sends are read.
//!
//! The argument types are the declaration: each tool's JSON schema is generated from its type
//! ([`tool_specs`]), so what the model is told and what [`parse_args`] accepts never disagree.

use chrono::NaiveDate;
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::model::{Priority, TaskFilter};

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
    pub(super) fn number(&self) -> Option<i64> {
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

/// The model's arguments as `T`, without any `user_id` (the user is fixed by authentication, so
/// one the model sends is ignored); malformed arguments become the `invalid_arguments` result
/// the model reads.
pub(super) fn parse_args<T: serde::de::DeserializeOwned>(v: &Value) -> Result<T, Value> {
    let mut v = if v.is_null() { json!({}) } else { v.clone() };
    if let Value::Object(map) = &mut v {
        map.remove("user_id");
    }
    serde_json::from_value(v)
        .map_err(|e| json!({"ok": false, "error": "invalid_arguments", "message": e.to_string()}))
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
}
