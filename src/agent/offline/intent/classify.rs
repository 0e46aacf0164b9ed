//! Classification: which intent a message carries.
//!
//! The main verb picks the intent (the first verb in English, the last in Roman Urdu, which is
//! verb-final). "Put" and "take" are verbs only with a list to put something on or take it off.
//! A message with no verb may still carry one by its shape: a list named with a question ("what's
//! on my plate") asks for the list, something put on a list is added, something taken off it is
//! removed, a task said to have a priority or a date ("the laundry is not urgent anymore") is
//! changed, and greetings, help requests and questions about tasks are recognised by their words.
//! Building the intent from the words the verb left is `build`'s job.

use chrono::NaiveDate;

use super::build::{parse_add, parse_target, parse_update};
use super::dates::scan_due;
use super::normalise::Tok;
use super::priority::scan_priority;
use super::reference::int_of;
use super::titles::is_filler;
use super::vocabulary::{greet_fillers, Canon};
use super::{Action, Intent};
use crate::agent::Language;
use crate::model::TaskFilter;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verb {
    Add,
    Delete,
    Done,
    Update,
    List,
}

/// The plural nouns that make a message about tasks in general, not one task.
const PLURAL_TASKS: &[&str] = &[
    "tasks",
    "todos",
    "items",
    "reminders",
    "chores",
    "kaamon",
    "kamon",
    "things",
    "stuff",
];

/// The intent of a tokenised message. `today` anchors relative dates.
pub(super) fn classify(toks: &[Tok], today: NaiveDate, lang: Language) -> Intent {
    if toks.is_empty() {
        return Intent::Unknown;
    }
    let has = |c: Canon| toks.iter().any(|t| t.is(c));
    if toks
        .iter()
        .find(|t| !is_filler(t))
        .is_some_and(|t| t.is(Canon::HowTo))
    {
        return Intent::Help;
    }

    // "done" next to a list verb or a question ("show done tasks", "kaun se
    // kaam ho chuke") describes tasks instead of completing one.
    let has_number = toks.iter().any(|t| int_of(t).is_some());
    let done_is_filter = has(Canon::List) || (has(Canon::Question) && !has_number);
    let mut verbs: Vec<(usize, Verb)> = Vec::new();
    for (k, t) in toks.iter().enumerate() {
        if t.quoted {
            continue;
        }
        let verb = match t.canon {
            Some(Canon::Add | Canon::Remind) => Verb::Add,
            Some(Canon::Place) if has(Canon::Dest) => Verb::Add,
            Some(Canon::Place) if has(Canon::DestOut) => Verb::Delete,
            Some(Canon::Delete) => Verb::Delete,
            Some(Canon::Done) => {
                if done_is_filter || plural_task_follows(toks, k) {
                    continue;
                }
                Verb::Done
            }
            Some(Canon::Update | Canon::Rename | Canon::Move) => Verb::Update,
            Some(Canon::List) => Verb::List,
            _ => continue,
        };
        verbs.push((k, verb));
    }
    // Urdu is verb-final, but an infinitive ("cylinder badalna", "doctor ko dikhana") is often
    // the title's own verb: the last imperative wins over it.
    let chosen = match lang {
        Language::English => verbs.first(),
        Language::RomanUrdu => verbs
            .iter()
            .rev()
            .find(|(k, _)| !toks[*k].key.ends_with("na"))
            .or(verbs.last()),
    };
    match chosen.copied() {
        Some((k, Verb::Add)) => parse_add(toks, Some(k), today, lang),
        Some((k, Verb::Delete)) => parse_target(toks, k, Action::Delete),
        Some((k, Verb::Done)) => parse_target(toks, k, Action::Complete),
        Some((k, Verb::Update)) => parse_update(toks, k, today, lang),
        Some((_, Verb::List)) => Intent::List {
            filter: list_filter(toks),
        },
        None => classify_without_verb(toks, today, lang),
    }
}

fn is_plural_tasks(t: &Tok) -> bool {
    t.is(Canon::Task) && PLURAL_TASKS.contains(&t.raw.as_str())
}

fn plural_task_follows(toks: &[Tok], k: usize) -> bool {
    toks.get(k + 1).is_some_and(is_plural_tasks)
}

fn classify_without_verb(toks: &[Tok], today: NaiveDate, lang: Language) -> Intent {
    let has = |c: Canon| toks.iter().any(|t| t.is(c));
    if has(Canon::Help) {
        return Intent::Help;
    }
    let greet_only = toks
        .iter()
        .all(|t| t.is(Canon::Greet) || (!t.quoted && greet_fillers().contains(&t.key)));
    if greet_only && has(Canon::Greet) {
        return Intent::Greeting;
    }
    // "what's on my plate", "kya kya karna hai".
    if has(Canon::Agenda) || (has(Canon::Dest) && has(Canon::Question)) {
        return Intent::List {
            filter: list_filter(toks),
        };
    }

    // "task 1 ki priority high kar do", "mark task 3 as urgent".
    if let Some(k) = toks.iter().position(|t| {
        t.is(Canon::Kardo)
            || t.is(Canon::Weak)
            || t.is(Canon::Place)
            || t.is(Canon::Naam)
            || t.is(Canon::Prio)
            || t.is(Canon::DateWord)
    }) {
        if let Some(intent) = changes_something(parse_update(toks, k, today, lang)) {
            return intent;
        }
    }
    // "the laundry is not urgent anymore", "task 10 should be due on friday".
    if lang == Language::English && !has(Canon::Question) {
        if let Some(k) = toks
            .iter()
            .position(|t| !t.quoted && matches!(t.key.as_str(), "is" | "are" | "be" | "isnt"))
        {
            let mut used = vec![false; toks.len()];
            let says_field = scan_due(toks, &mut used, today, lang).is_some()
                || scan_priority(toks, &mut used, false).is_some();
            if says_field {
                if let Some(intent) = changes_something(parse_update(toks, k, today, lang)) {
                    return intent;
                }
            }
        }
    }

    let only_list_words = toks.iter().all(|t| {
        is_filler(t)
            || t.is(Canon::Question)
            || t.is(Canon::All)
            || t.is(Canon::Pending)
            || t.is(Canon::Done)
    });
    if has(Canon::Pending)
        || has(Canon::Done)
        || toks.iter().any(is_plural_tasks)
        || (has(Canon::Task) && (only_list_words || has(Canon::Question)))
    {
        return Intent::List {
            filter: list_filter(toks),
        };
    }
    // "oat milk on my list", "call mom off my list".
    if has(Canon::Dest) {
        return parse_add(toks, None, today, lang);
    }
    if let Some(k) = toks.iter().position(|t| t.is(Canon::DestOut)) {
        return parse_target(toks, k, Action::Delete);
    }
    if has(Canon::Greet) {
        return Intent::Greeting;
    }
    Intent::Unknown
}

/// The update, when it names a task and something to change on it.
fn changes_something(intent: Intent) -> Option<Intent> {
    match &intent {
        Intent::Update {
            title,
            priority,
            due_date,
            ..
        } if title.is_some() || priority.is_some() || due_date.is_some() => Some(intent),
        _ => None,
    }
}

fn list_filter(toks: &[Tok]) -> TaskFilter {
    let pending = toks.iter().any(|t| t.is(Canon::Pending));
    let done = toks.iter().any(|t| t.is(Canon::Done));
    match (pending, done) {
        (true, false) => TaskFilter::Pending,
        (false, true) => TaskFilter::Completed,
        _ => TaskFilter::All,
    }
}
