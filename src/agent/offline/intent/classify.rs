//! Classification: which intent a message carries, and building that intent from its words.
//!
//! The main verb picks the intent (the first verb in English, the last in Roman Urdu, which is
//! verb-final); a message with no verb may still be a greeting, a help request, an update
//! ("task 1 ki priority high kar do") or a list request. Each intent is then built from the words
//! the verb left: dates and priorities are taken out first, and what remains names the task or
//! becomes its title.

use chrono::NaiveDate;

use super::dates::scan_due;
use super::normalise::Tok;
use super::priority::scan_priority;
use super::reference::{int_of, pure_ref, resolve_ref};
use super::titles::{drop_list_destination, is_filler, join, strip_edges};
use super::vocabulary::{greet_fillers, Canon};
use super::{Action, Intent, Language, TaskRef};
use crate::model::TaskFilter;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verb {
    Add,
    Delete,
    Done,
    Update,
    List,
}

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
    let chosen = match lang {
        Language::English => verbs.first(),
        Language::RomanUrdu => verbs.last(),
    };
    match chosen.copied() {
        Some((_, Verb::Add)) => parse_add(toks, today, lang),
        Some((_, Verb::Delete)) => parse_target(toks, Canon::Delete, Action::Delete),
        Some((_, Verb::Done)) => parse_target(toks, Canon::Done, Action::Complete),
        Some((k, Verb::Update)) => parse_update(toks, k, today, lang),
        Some((_, Verb::List)) => Intent::List {
            filter: list_filter(toks),
        },
        None => classify_without_verb(toks, today, lang),
    }
}

fn plural_task_follows(toks: &[Tok], k: usize) -> bool {
    toks.get(k + 1).is_some_and(|t| {
        t.is(Canon::Task)
            && matches!(
                t.raw.as_str(),
                "tasks" | "todos" | "items" | "reminders" | "chores" | "kaamon" | "kamon"
            )
    })
}

fn classify_without_verb(toks: &[Tok], today: NaiveDate, lang: Language) -> Intent {
    let has = |c: Canon| toks.iter().any(|t| t.is(c));
    if has(Canon::Help) {
        return Intent::Help;
    }
    let greet_only = toks
        .iter()
        .all(|t| t.is(Canon::Greet) || (!t.quoted && greet_fillers().contains(t.raw.as_str())));
    if greet_only && has(Canon::Greet) {
        return Intent::Greeting;
    }

    // "task 1 ki priority high kar do", "mark task 3 as urgent".
    if let Some(k) = toks.iter().position(|t| {
        t.is(Canon::Kardo)
            || t.is(Canon::Weak)
            || t.is(Canon::Naam)
            || t.is(Canon::Prio)
            || t.is(Canon::DateWord)
    }) {
        let intent = parse_update(toks, k, today, lang);
        if let Intent::Update {
            title,
            priority,
            due_date,
            ..
        } = &intent
        {
            if title.is_some() || priority.is_some() || due_date.is_some() {
                return intent;
            }
        }
    }

    let plural_tasks = toks.iter().any(|t| {
        t.is(Canon::Task)
            && matches!(
                t.raw.as_str(),
                "tasks" | "todos" | "items" | "reminders" | "chores" | "kaamon" | "kamon"
            )
    });
    let only_list_words = toks.iter().all(|t| {
        is_filler(t)
            || t.is(Canon::Question)
            || t.is(Canon::All)
            || t.is(Canon::Pending)
            || t.is(Canon::Done)
    });
    if has(Canon::Pending)
        || has(Canon::Done)
        || plural_tasks
        || (has(Canon::Task) && (only_list_words || has(Canon::Question)))
    {
        return Intent::List {
            filter: list_filter(toks),
        };
    }
    if has(Canon::Greet) {
        return Intent::Greeting;
    }
    Intent::Unknown
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

fn parse_add(toks: &[Tok], today: NaiveDate, lang: Language) -> Intent {
    let mut used: Vec<bool> = toks
        .iter()
        .map(|t| t.is(Canon::Add) || t.is(Canon::Remind) || t.is(Canon::Kardo))
        .collect();
    let due_date = scan_due(toks, &mut used, today, lang);
    let priority = scan_priority(toks, &mut used, false);
    let mut rest: Vec<&Tok> = unused(toks, &used, 0, toks.len());
    drop_list_destination(&mut rest);

    if let Some(q) = rest.iter().find(|t| t.quoted) {
        return Intent::Add {
            title: q.raw.clone(),
            priority,
            due_date,
        };
    }
    let core = strip_edges(&rest);
    if core.is_empty() {
        return Intent::Incomplete {
            action: Action::Add,
        };
    }
    // "task 3 ko zaroori bana do": making an existing task something.
    if let Some(task) = pure_ref(core) {
        if priority.is_some() || due_date.is_some() {
            return Intent::Update {
                task,
                title: None,
                priority,
                due_date,
            };
        }
        return Intent::Incomplete {
            action: Action::Add,
        };
    }
    Intent::Add {
        title: join(core),
        priority,
        due_date,
    }
}

fn parse_target(toks: &[Tok], verb: Canon, action: Action) -> Intent {
    let span: Vec<&Tok> = toks
        .iter()
        .filter(|t| !(t.is(verb) || t.is(Canon::Kardo) || t.is(Canon::Weak)))
        .collect();
    match (resolve_ref(&span), action) {
        (Some(task), Action::Complete) => Intent::Complete { task },
        (Some(task), _) => Intent::Delete { task },
        (None, action) => Intent::Incomplete { action },
    }
}

fn parse_update(toks: &[Tok], verb_idx: usize, today: NaiveDate, lang: Language) -> Intent {
    let n = toks.len();
    let mut used: Vec<bool> = toks
        .iter()
        .map(|t| {
            t.is(Canon::Update)
                || t.is(Canon::Rename)
                || t.is(Canon::Move)
                || t.is(Canon::Weak)
                || t.is(Canon::Kardo)
        })
        .collect();
    let naam_idx = toks.iter().position(|t| t.is(Canon::Naam));
    let renaming = naam_idx.is_some() || toks.iter().any(|t| t.is(Canon::Rename));

    // Split into "which task" (left) and "new value" (right).
    let split = match (lang, naam_idx) {
        (Language::RomanUrdu, Some(k)) => Some(k),
        _ => toks
            .iter()
            .enumerate()
            .position(|(k, t)| {
                k > verb_idx
                    && !used[k]
                    && !t.quoted
                    && matches!(t.raw.as_str(), "to" | "into" | "as")
            })
            .or(naam_idx),
    };

    // A new title keeps its own words: no dates or priorities are read from it.
    let mut scan_mask = used.clone();
    if let (true, Some(s)) = (renaming, split) {
        for m in scan_mask.iter_mut().skip(s + 1) {
            *m = true;
        }
    }
    let due_date = scan_due(toks, &mut scan_mask, today, lang);
    let priority = scan_priority(toks, &mut scan_mask, !renaming);
    for k in 0..n {
        let in_right = renaming && split.is_some_and(|s| k > s);
        if !in_right {
            used[k] = scan_mask[k];
        }
    }

    let (left, right) = match split {
        Some(s) => (unused(toks, &used, 0, s), unused(toks, &used, s + 1, n)),
        None => (unused(toks, &used, 0, n), Vec::new()),
    };
    let mut title = right.iter().find(|t| t.quoted).map(|t| t.raw.clone());
    if title.is_none() {
        let core = strip_edges(&right);
        if !core.is_empty() {
            title = Some(join(core));
        }
    }
    let mut task = resolve_ref(&left);
    // "task 4 ko 'Bank Call' kar do": quoted new title next to a number.
    if title.is_none() {
        if let Some(q) = left.iter().find(|t| t.quoted) {
            let plain: Vec<&Tok> = left.iter().copied().filter(|t| !t.quoted).collect();
            if let Some(r @ (TaskRef::Number(_) | TaskRef::Previous)) = resolve_ref(&plain) {
                task = Some(r);
                title = Some(q.raw.clone());
            }
        }
    }
    match task {
        Some(task) => Intent::Update {
            task,
            title,
            priority,
            due_date,
        },
        None => Intent::Incomplete {
            action: Action::Update,
        },
    }
}

fn unused<'t>(toks: &'t [Tok], used: &[bool], from: usize, to: usize) -> Vec<&'t Tok> {
    toks.iter()
        .enumerate()
        .take(to)
        .skip(from)
        .filter(|(k, _)| !used[*k])
        .map(|(_, t)| t)
        .collect()
}
