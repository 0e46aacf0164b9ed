//! Offline intent parser for the task assistant.
//!
//! Owns turning one user message, written in English or Roman Urdu (Urdu in
//! Latin letters), into a structured [`Intent`] plus the [`Language`] it was
//! written in, so the assistant can act and answer without a language model.
//!
//! The parser works in stages: quoted text is set aside, the rest is
//! lower-cased and stripped of punctuation, spelling variants and multi-word
//! phrases are folded into canonical words, the main verb picks the intent
//! (first verb for English, last verb for Roman Urdu, which is verb-final),
//! and dates, priorities, task references and titles are read from the
//! remaining words.
//!
//! This module holds the parser's public face: the types it returns and its
//! entry point, [`parse`]. [`crate::agent::detect_language`] tells a message's language from the
//! same tokens. Each stage lives in its own submodule:
//!
//! - `lexicon` (English and shared) and `urdu` (Roman Urdu stems and request endings): the
//!   classes of phrasings the parser knows, per intent;
//! - `spelling`: one key for the ways a word is spelled, and the lexicon's pattern notation;
//! - `vocabulary`: the lexicons gathered into one index, marker words and fillers;
//! - `normalise`: text to tokens (quotes, words, clause breaks, folded phrases) and their language;
//! - `phrasing`: meanings that come from word order (a list something goes on or comes off);
//! - `classify`: the verb, or the shape of a message without one, that picks the intent;
//! - `build`: the intent built from the words the verb left;
//! - `dates` and `calendar`: due dates, relative and by day of the month;
//! - `priority`: priority phrases;
//! - `reference`: which task a message points to;
//! - `titles`: filler words and turning the words that are left into a title.

mod build;
mod calendar;
mod classify;
mod dates;
mod lexicon;
pub(in crate::agent) mod normalise;
mod phrasing;
mod priority;
mod reference;
mod spelling;
mod titles;
mod urdu;
mod vocabulary;

use chrono::NaiveDate;

use crate::agent::Language;
use crate::model::{Priority, TaskFilter};
use normalise::{language_of, tokenize};

/// Which task a message is talking about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TaskRef {
    /// The task's number as shown to the user ("task 3", "#3", "teesra task").
    Number(i64),
    /// Words that should match the task's title ("the meeting task" → `meeting`).
    Title(String),
    /// "it", "that one", "isko", "ise", "usay", "woh wala": the task mentioned
    /// last in the conversation.
    Previous,
}

/// What the user wants done.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Intent {
    /// Create a task. `title` is never empty.
    Add {
        title: String,
        priority: Option<Priority>,
        due_date: Option<NaiveDate>,
    },
    /// Show tasks, optionally only pending or only completed ones.
    List { filter: TaskFilter },
    /// Mark a task as done.
    Complete { task: TaskRef },
    /// Remove a task.
    Delete { task: TaskRef },
    /// Change a task; each `Some` field is a new value, `None` means unchanged.
    /// All fields may be `None` ("update task 3"): the caller should ask what to change.
    Update {
        task: TaskRef,
        title: Option<String>,
        priority: Option<Priority>,
        due_date: Option<NaiveDate>,
    },
    /// A greeting with nothing else in it.
    Greeting,
    /// A request for help or for what the assistant can do.
    Help,
    /// An intent word without the thing it needs, e.g. "add a task" with no
    /// title, "delete" with no task.
    Incomplete { action: Action },
    /// Nothing the parser understood.
    Unknown,
}

/// The task actions that need extra information from the user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Add,
    Complete,
    Delete,
    Update,
}

/// Result of [`parse`]: the intent and the language of the message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parsed {
    pub intent: Intent,
    pub language: Language,
}

/// Parses one user message. `today` anchors relative dates ("kal",
/// "next friday", "in 3 days"). Never panics, on any input (empty, emoji,
/// very long text, mixed scripts).
pub fn parse(text: &str, today: NaiveDate) -> Parsed {
    let toks = tokenize(text);
    let language = language_of(&toks);
    let intent = classify::classify(&toks, today, language);
    Parsed { intent, language }
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod class_tests;
