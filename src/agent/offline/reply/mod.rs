//! Offline assistant replies, in English or Roman Urdu.
//!
//! Owns the wording of every answer the offline assistant gives after it has
//! parsed a message and acted on the user's tasks. Every function is pure,
//! returns short plain text in the requested [`Language`], and shows task
//! titles in single quotes.

use super::intent::Action;
use crate::agent::Language;
use crate::model::{Priority, Task, TaskFilter};

/// Confirms a new task: its number and title, plus its priority (when not
/// the default medium) and due date (when set).
pub fn added(lang: Language, task: &Task) -> String {
    let extra = details(lang, task);
    match lang {
        Language::English => format!("Added task #{} '{}'{}.", task.number, task.title, extra),
        Language::RomanUrdu => format!(
            "Theek hai, task #{} '{}' add ho gaya{}.",
            task.number, task.title, extra
        ),
    }
}

/// Lists tasks under a heading that names the filter, one task per line as
/// `#3 buy milk (high, due 2026-11-23)`, with a done marker on completed
/// tasks. An empty list gets its own sentence.
pub fn listed(lang: Language, tasks: &[Task], filter: TaskFilter) -> String {
    if tasks.is_empty() {
        return match (lang, filter) {
            (Language::English, TaskFilter::All) => {
                "You have no tasks yet. Say \"add buy milk\" to create one.".to_string()
            }
            (Language::English, TaskFilter::Pending) => {
                "Nothing pending, you're all caught up!".to_string()
            }
            (Language::English, TaskFilter::Completed) => {
                "You haven't completed any tasks yet.".to_string()
            }
            (Language::RomanUrdu, TaskFilter::All) => {
                "Aap ki list abhi khaali hai. \"doodh lena task bana do\" likh kar task banayein."
                    .to_string()
            }
            (Language::RomanUrdu, TaskFilter::Pending) => {
                "Koi task baqi nahi hai, sab mukammal ho gaya!".to_string()
            }
            (Language::RomanUrdu, TaskFilter::Completed) => {
                "Abhi tak koi task mukammal nahi hua hai.".to_string()
            }
        };
    }
    let heading = match (lang, filter) {
        (Language::English, TaskFilter::All) => "Here are your tasks:",
        (Language::English, TaskFilter::Pending) => "Your pending tasks:",
        (Language::English, TaskFilter::Completed) => "Your completed tasks:",
        (Language::RomanUrdu, TaskFilter::All) => "Yeh rahe aap ke tasks:",
        (Language::RomanUrdu, TaskFilter::Pending) => "Yeh tasks abhi baqi hain:",
        (Language::RomanUrdu, TaskFilter::Completed) => "Yeh tasks mukammal ho chuke hain:",
    };
    let mut out = heading.to_string();
    for task in tasks {
        out.push('\n');
        out.push_str(&line(lang, task));
    }
    out
}

/// Confirms that a task was marked as done.
pub fn completed(lang: Language, task: &Task) -> String {
    match lang {
        Language::English => format!(
            "Nice! Task #{} '{}' is marked as done.",
            task.number, task.title
        ),
        Language::RomanUrdu => format!(
            "Zabardast! Task #{} '{}' mukammal ho gaya.",
            task.number, task.title
        ),
    }
}

/// Says the task was already done, so nothing changed.
pub fn already_completed(lang: Language, task: &Task) -> String {
    match lang {
        Language::English => format!("Task #{} '{}' is already done.", task.number, task.title),
        Language::RomanUrdu => format!(
            "Task #{} '{}' pehle hi mukammal ho chuka hai.",
            task.number, task.title
        ),
    }
}

/// Confirms that a task was deleted.
pub fn deleted(lang: Language, task: &Task) -> String {
    match lang {
        Language::English => format!("Deleted task #{} '{}'.", task.number, task.title),
        Language::RomanUrdu => format!(
            "Theek hai, '{}' task (#{}) delete ho gaya.",
            task.title, task.number
        ),
    }
}

/// Confirms a change and shows the task as it is now.
pub fn updated(lang: Language, task: &Task) -> String {
    match lang {
        Language::English => format!("Updated task #{}: {}.", task.number, summary(lang, task)),
        Language::RomanUrdu => format!(
            "Task #{} update ho gaya hai: {}.",
            task.number,
            summary(lang, task)
        ),
    }
}

/// Says no task matches `reference` (a title fragment or a number such as
/// `"#7"`), shown in single quotes.
pub fn not_found(lang: Language, reference: &str) -> String {
    let reference = reference.trim();
    match lang {
        Language::English => format!(
            "I couldn't find a task matching '{reference}'. Say \"show my tasks\" to see them all."
        ),
        Language::RomanUrdu => format!(
            "'{reference}' se milta hua koi task nahi mila. \"mere tasks dikhao\" likh kar sab dekh lein."
        ),
    }
}

/// Asks which of several matching tasks the user meant, listing each by
/// number and title.
pub fn ambiguous(lang: Language, candidates: &[Task]) -> String {
    let list = candidates
        .iter()
        .map(|t| format!("#{} '{}'", t.number, t.title))
        .collect::<Vec<_>>()
        .join(", ");
    match (lang, candidates.is_empty()) {
        (Language::English, false) => format!(
            "More than one task matches: {list}. Which one do you mean? Reply with its number."
        ),
        (Language::English, true) => "Which task do you mean? Reply with its number.".to_string(),
        (Language::RomanUrdu, false) => format!(
            "Kai tasks milte hain: {list}. Aap ka matlab kaun sa hai? Us ka number bata dein."
        ),
        (Language::RomanUrdu, true) => {
            "Aap ka matlab kaun sa task hai? Us ka number bata dein.".to_string()
        }
    }
}

/// Asks what to change when an update named a task but no new value.
pub fn nothing_to_change(lang: Language, task: &Task) -> String {
    match lang {
        Language::English => format!(
            "What should I change on task #{} '{}'? You can give a new title, priority or due date.",
            task.number, task.title
        ),
        Language::RomanUrdu => format!(
            "Task #{} '{}' mein kya badalna hai? Naya naam, priority ya tareekh bata dein.",
            task.number, task.title
        ),
    }
}

/// Asks for what was missing: a title for a new task, or which task to
/// complete, delete or change.
pub fn incomplete(lang: Language, action: Action) -> String {
    let text = match (lang, action) {
        (Language::English, Action::Add) => {
            "What should the new task say? For example: \"add buy milk tomorrow\"."
        }
        (Language::English, Action::Complete) => {
            "Which task did you finish? Give its number or title, e.g. \"mark task 3 as done\"."
        }
        (Language::English, Action::Delete) => {
            "Which task should I delete? Give its number or title, e.g. \"delete task 2\"."
        }
        (Language::English, Action::Update) => {
            "Which task should I change, and how? For example: \"rename task 2 to call the bank\"."
        }
        (Language::RomanUrdu, Action::Add) => {
            "Task mein kya likhna hai? Misal: \"kal doodh lena hai, task bana do\"."
        }
        (Language::RomanUrdu, Action::Complete) => {
            "Kaun sa task mukammal hua hai? Number ya naam bata dein, jaise \"task 3 mukammal kar do\"."
        }
        (Language::RomanUrdu, Action::Delete) => {
            "Kaun sa task delete karna hai? Number ya naam bata dein, jaise \"task 2 hata do\"."
        }
        (Language::RomanUrdu, Action::Update) => {
            "Kaun sa task badalna hai aur kya? Misal: \"task 1 ki priority high kar do\"."
        }
    };
    text.to_string()
}

/// Greets back and says in one line what the assistant does.
pub fn greeting(lang: Language) -> String {
    match lang {
        Language::English => "Hi! I can add, list, complete, update and delete your tasks. \
                              What would you like to do?"
            .to_string(),
        Language::RomanUrdu => "Walaikum assalam! Main aap ke tasks add, list, update, \
                                mukammal aur delete kar sakta hoon. Bataiye kya karna hai?"
            .to_string(),
    }
}

/// Explains what the assistant can do, with one example per task tool.
pub fn help(lang: Language) -> String {
    match lang {
        Language::English => "I can manage your tasks. Try:\n\
             - Add: \"add buy milk tomorrow, high priority\"\n\
             - List: \"show my pending tasks\"\n\
             - Complete: \"mark task 3 as done\"\n\
             - Update: \"rename task 2 to call the bank\" or \"move task 2 to friday\"\n\
             - Delete: \"delete task 4\""
            .to_string(),
        Language::RomanUrdu => "Main aap ke tasks sambhal sakta hoon. Aise likhein:\n\
             - Add: \"kal doodh lena hai, task bana do\"\n\
             - List: \"mere baqi tasks dikhao\"\n\
             - Mukammal: \"task 3 mukammal kar do\"\n\
             - Update: \"task 1 ki priority high kar do\"\n\
             - Delete: \"task 4 hata do\""
            .to_string(),
    }
}

/// Says the message was not understood and what the assistant can do.
pub fn unknown(lang: Language) -> String {
    match lang {
        Language::English => "Sorry, I didn't get that. I can add, list, complete, update or \
                              delete tasks. Say \"help\" for examples."
            .to_string(),
        Language::RomanUrdu => "Maaf kijiye, baat samajh nahi aayi. Main tasks add, list, \
                                mukammal, update aur delete kar sakta hoon. Misalon ke liye \
                                \"madad\" likhein."
            .to_string(),
    }
}

/// " (high priority, due 2026-11-23)" or "" when there is nothing to add.
fn details(lang: Language, task: &Task) -> String {
    let mut parts = Vec::new();
    if task.priority != Priority::Medium {
        parts.push(format!("{} priority", task.priority.as_str()));
    }
    if let Some(due) = task.due_date {
        parts.push(match lang {
            Language::English => format!("due {due}"),
            Language::RomanUrdu => format!("tareekh {due}"),
        });
    }
    if parts.is_empty() {
        String::new()
    } else {
        format!(" ({})", parts.join(", "))
    }
}

/// "'buy milk' (high, due 2026-11-23, done)"
fn summary(lang: Language, task: &Task) -> String {
    let mut parts = vec![task.priority.as_str().to_string()];
    if let Some(due) = task.due_date {
        parts.push(match lang {
            Language::English => format!("due {due}"),
            Language::RomanUrdu => format!("tareekh {due}"),
        });
    }
    if task.completed {
        parts.push(
            match lang {
                Language::English => "done",
                Language::RomanUrdu => "mukammal",
            }
            .to_string(),
        );
    }
    format!("'{}' ({})", task.title, parts.join(", "))
}

/// "#3 buy milk (high, due 2026-11-23)", with " [done]" for completed tasks.
fn line(lang: Language, task: &Task) -> String {
    let mut parts = vec![task.priority.as_str().to_string()];
    if let Some(due) = task.due_date {
        parts.push(match lang {
            Language::English => format!("due {due}"),
            Language::RomanUrdu => format!("tareekh {due}"),
        });
    }
    let mut out = format!("#{} {} ({})", task.number, task.title, parts.join(", "));
    if task.completed {
        out.push_str(match lang {
            Language::English => " [done]",
            Language::RomanUrdu => " [mukammal]",
        });
    }
    out
}

#[cfg(test)]
mod tests;
