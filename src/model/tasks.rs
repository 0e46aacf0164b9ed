//! A user's tasks: priorities, filters, patches and the changes tools make.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

/// Task priority.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Priority {
    Low,
    #[default]
    Medium,
    High,
}

impl Priority {
    pub fn as_str(self) -> &'static str {
        match self {
            Priority::Low => "low",
            Priority::Medium => "medium",
            Priority::High => "high",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "low" => Some(Priority::Low),
            "medium" | "normal" => Some(Priority::Medium),
            "high" | "urgent" => Some(Priority::High),
            _ => None,
        }
    }
}

/// A user's task. `number` is the short per-user id users say ("task 3"); it is never reused.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Task {
    pub number: i64,
    pub title: String,
    pub priority: Priority,
    pub due_date: Option<NaiveDate>,
    pub completed: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Fields of a task to create.
#[derive(Debug, Clone, PartialEq)]
pub struct NewTask {
    pub title: String,
    pub priority: Priority,
    pub due_date: Option<NaiveDate>,
}

/// Fields of a task to change; `None` leaves a field as it is.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TaskPatch {
    pub title: Option<String>,
    pub priority: Option<Priority>,
    /// `Some(None)` clears the due date.
    pub due_date: Option<Option<NaiveDate>>,
    pub completed: Option<bool>,
}

impl TaskPatch {
    pub fn is_empty(&self) -> bool {
        self.title.is_none()
            && self.priority.is_none()
            && self.due_date.is_none()
            && self.completed.is_none()
    }
}

/// Which tasks a listing returns.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum TaskFilter {
    #[default]
    All,
    Pending,
    Completed,
}

impl TaskFilter {
    pub fn parse(s: &str) -> Option<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "" | "all" => Some(TaskFilter::All),
            "pending" | "open" | "incomplete" => Some(TaskFilter::Pending),
            "completed" | "done" => Some(TaskFilter::Completed),
            _ => None,
        }
    }
}

/// What happened to a task, as `task.changed` reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum TaskChange {
    Added,
    Updated,
    Completed,
    Deleted,
}
