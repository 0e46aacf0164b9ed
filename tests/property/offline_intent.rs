//! The offline agent's parser (`intent::parse`): any message, in any script, of any length, with
//! control characters, quotes and numbers of every size, on any day the calendar holds, is an
//! intent that keeps the parser's promises (a title is never empty nor padded, a task named by
//! its title names something); the language tag and the answer's word deltas hold too.

use agentwire::agent::offline::intent::{parse, Intent, TaskRef};
use agentwire::agent::word_deltas;
use agentwire::agent::{detect_language, Language};
use chrono::{Days, NaiveDate};
use proptest::prelude::*;

use super::{config, text};

/// Words the parser knows in both languages, numbers and dates of every size, quotes, marks and
/// scripts it does not know: sentences made of them reach every branch of the parser.
const PIECES: &[&str] = &[
    "add",
    "task",
    "tasks",
    "kar",
    "do",
    "kal",
    "parson",
    "3",
    "#",
    "#2",
    "'",
    "\"",
    "“",
    "”",
    "-",
    "2026-11-30",
    "2026-02-30",
    "9999-99-99",
    "to",
    "the",
    "wala",
    "ka",
    "ko",
    "naam",
    "rename",
    "priority",
    "high",
    "low",
    "zaroori",
    "not",
    "in",
    "days",
    "din",
    "baad",
    "next",
    "friday",
    "peer",
    "it",
    "isko",
    "dikhao",
    "show",
    "list",
    "pending",
    "completed",
    "mukammal",
    "ho",
    "gaya",
    "hata",
    "delete",
    "remove",
    "done",
    "complete",
    "update",
    "change",
    "move",
    "due",
    "by",
    "?",
    "!",
    "salam",
    "hello",
    "help",
    "🙂",
    "ٹاسک",
    "ß",
    "İ",
    "0",
    "-7",
    "1st",
    "3rd",
    "99999999999999999999",
    "18446744073709551616",
    "\u{200b}",
    "\u{301}",
    "\u{202e}",
    "\t",
    "\n",
    "\0",
    " ",
];

/// A sentence of known words, numbers and marks, with or without spaces between them.
fn sentence() -> impl Strategy<Value = String> {
    proptest::collection::vec((proptest::sample::select(PIECES), any::<bool>()), 0..16).prop_map(
        |words| {
            words
                .into_iter()
                .flat_map(|(w, space)| [w, if space { " " } else { "" }])
                .collect()
        },
    )
}

/// A long message: one piece or word repeated up to a few thousand times.
fn long_message() -> impl Strategy<Value = String> {
    (sentence(), 100..600usize).prop_map(|(s, n)| s.repeat(n).chars().take(8000).collect())
}

/// Any day the calendar holds, and its two ends.
fn day() -> impl Strategy<Value = NaiveDate> {
    let span = NaiveDate::MAX
        .signed_duration_since(NaiveDate::MIN)
        .num_days() as u64;
    prop_oneof![
        (0..=span).prop_map(|d| NaiveDate::MIN.checked_add_days(Days::new(d)).unwrap()),
        Just(NaiveDate::MIN),
        Just(NaiveDate::MAX),
        (0..20_000u64).prop_map(|d| NaiveDate::from_ymd_opt(2000, 1, 1).unwrap() + Days::new(d)),
    ]
}

/// The parser's promises for one message on one day.
fn check(text: &str, today: NaiveDate) -> Result<(), TestCaseError> {
    let parsed = parse(text, today);
    prop_assert_eq!(parsed.language, detect_language(text));
    match &parsed.intent {
        Intent::Add { title, .. } => {
            prop_assert!(!title.trim().is_empty(), "empty title from {:?}", text);
            prop_assert_eq!(title.trim(), title.as_str(), "padded title from {:?}", text);
        }
        Intent::Update {
            task,
            title: Some(title),
            ..
        } => {
            prop_assert!(!title.trim().is_empty(), "empty new title from {:?}", text);
            check_ref(task, text)?;
        }
        Intent::Complete { task } | Intent::Delete { task } | Intent::Update { task, .. } => {
            check_ref(task, text)?;
        }
        _ => {}
    }
    Ok(())
}

fn check_ref(task: &TaskRef, text: &str) -> Result<(), TestCaseError> {
    if let TaskRef::Title(t) = task {
        prop_assert!(!t.trim().is_empty(), "empty reference from {:?}", text);
    }
    Ok(())
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn property_intent_any_text_on_any_day(text in text(200), today in day()) {
        check(&text, today)?;
    }

    #[test]
    fn property_intent_sentences_of_known_words_on_any_day(text in sentence(), today in day()) {
        check(&text, today)?;
    }

    #[test]
    fn property_intent_long_messages(text in long_message()) {
        check(&text, NaiveDate::from_ymd_opt(2026, 11, 22).unwrap())?;
    }

    #[test]
    fn property_intent_language_tags_from_metadata(tag in prop_oneof![text(20), sentence()]) {
        // A client's `metadata.language`: a language or none, and a known one reads back.
        if let Some(lang) = Language::from_tag(&tag) {
            prop_assert_eq!(Language::from_tag(lang.code()), Some(lang));
        }
    }

    #[test]
    fn property_intent_answers_split_into_deltas_that_join_back(text in prop_oneof![text(200), sentence()]) {
        let deltas = word_deltas(&text);
        prop_assert!(deltas.iter().all(|d| !d.is_empty()));
        prop_assert_eq!(deltas.concat(), text);
    }
}
