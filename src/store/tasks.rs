//! The store's tasks: each user's numbered to-do list, added, found, listed, changed and
//! deleted by the agent's tools.

use super::{cursor, dispatch, now, valid_title, Store};
use crate::error::Result;
use crate::model::{NewTask, Page, PageRequest, Task, TaskFilter, TaskPatch, UserId};

impl Store {
    /// Adds a task with the user's next number (1, 2, 3, …). Numbers are allocated atomically,
    /// never collide under concurrency and are never reused, even after a delete.
    pub async fn add_task(&self, user: &UserId, task: &NewTask) -> Result<Task> {
        let title = valid_title(&task.title)?;
        dispatch!(self.add_task(user, &title, task, now()))
    }

    /// The user's task with this number, or `None`.
    pub async fn get_task(&self, user: &UserId, number: i64) -> Result<Option<Task>> {
        dispatch!(self.get_task(user, number))
    }

    /// Tasks whose title contains `query` (trimmed, case-insensitive), pending first, then by
    /// number; at most [`super::FIND_TASKS_LIMIT`]. An empty query matches every task.
    /// SQLite folds ASCII letters only; PostgreSQL folds per the database's locale.
    pub async fn find_tasks(&self, user: &UserId, query: &str) -> Result<Vec<Task>> {
        dispatch!(self.find_tasks(user, query.trim()))
    }

    /// The user's tasks matching `filter`, by number ascending.
    pub async fn list_tasks(
        &self,
        user: &UserId,
        filter: TaskFilter,
        page: &PageRequest,
    ) -> Result<Page<Task>> {
        let (after, limit) = cursor::number_page(page)?;
        let rows = dispatch!(self.list_tasks(user, filter, after, limit + 1))?;
        Ok(cursor::page(rows, limit, |t: &Task| {
            cursor::encode_number(t.number)
        }))
    }

    /// Applies the patch's `Some` fields (a new title is validated) and bumps `updated_at`,
    /// even for an empty patch. `None` when the task is missing.
    pub async fn update_task(
        &self,
        user: &UserId,
        number: i64,
        patch: &TaskPatch,
    ) -> Result<Option<Task>> {
        let title = patch.title.as_deref().map(valid_title).transpose()?;
        dispatch!(self.update_task(user, number, title.as_deref(), patch, now()))
    }

    /// Deletes the task and returns it as it was; `None` when missing. Its number stays used.
    pub async fn delete_task(&self, user: &UserId, number: i64) -> Result<Option<Task>> {
        dispatch!(self.delete_task(user, number))
    }
}
