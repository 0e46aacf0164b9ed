//! The parser's sentence table and robustness tests.

use std::collections::HashSet;

use chrono::{Datelike, Days, Weekday};

use super::*;
use crate::agent::detect_language;

const EN: Language = Language::English;
const UR: Language = Language::RomanUrdu;

/// Sunday.
fn today() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, 22).unwrap()
}

fn day(offset: u64) -> Option<NaiveDate> {
    today().checked_add_days(Days::new(offset))
}

fn date(y: i32, m: u32, d: u32) -> Option<NaiveDate> {
    NaiveDate::from_ymd_opt(y, m, d)
}

fn add(title: &str, priority: Option<Priority>, due_date: Option<NaiveDate>) -> Intent {
    Intent::Add {
        title: title.to_string(),
        priority,
        due_date,
    }
}

fn add_plain(title: &str) -> Intent {
    add(title, None, None)
}

fn num(n: i64) -> TaskRef {
    TaskRef::Number(n)
}

fn named(title: &str) -> TaskRef {
    TaskRef::Title(title.to_string())
}

fn upd(
    task: TaskRef,
    title: Option<&str>,
    priority: Option<Priority>,
    due_date: Option<NaiveDate>,
) -> Intent {
    Intent::Update {
        task,
        title: title.map(str::to_string),
        priority,
        due_date,
    }
}

fn complete(task: TaskRef) -> Intent {
    Intent::Complete { task }
}

fn delete(task: TaskRef) -> Intent {
    Intent::Delete { task }
}

fn list(filter: TaskFilter) -> Intent {
    Intent::List { filter }
}

fn incomplete(action: Action) -> Intent {
    Intent::Incomplete { action }
}

const HIGH: Option<Priority> = Some(Priority::High);
const MEDIUM: Option<Priority> = Some(Priority::Medium);
const LOW: Option<Priority> = Some(Priority::Low);

mod odd;
mod tables;

use tables::{english_cases, urdu_cases};

fn check(cases: Vec<(&'static str, Intent)>, language: Language) -> usize {
    let mut failures = Vec::new();
    let count = cases.len();
    for (input, want) in cases {
        let got = parse(input, today());
        if got.intent != want {
            failures.push(format!(
                "{input:?}\n   want {want:?}\n    got {:?}",
                got.intent
            ));
        }
        if got.language != language {
            failures.push(format!(
                "{input:?}: language {:?}, want {language:?}",
                got.language
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
    count
}

#[test]
fn today_is_a_sunday() {
    assert_eq!(today().weekday(), Weekday::Sun);
}

#[test]
fn english_table() {
    assert!(check(english_cases(), EN) >= 30);
}

#[test]
fn roman_urdu_table() {
    assert!(check(urdu_cases(), UR) >= 30);
}

#[test]
fn every_intent_is_covered_in_both_languages() {
    for cases in [english_cases(), urdu_cases()] {
        let kinds: HashSet<std::mem::Discriminant<Intent>> = cases
            .iter()
            .map(|(_, i)| std::mem::discriminant(i))
            .collect();
        assert_eq!(kinds.len(), 9, "{kinds:?}");
    }
}

#[test]
fn spelling_variants_fold_together() {
    let groups: &[(&[&str], Intent)] = &[
        (
            &[
                "task 4 delete kar do",
                "task 4 delete kardo",
                "task 4 delete kr do",
                "task 4 delete krdo",
                "task 4 delete kar dein",
                "task 4 delete kar dijiye",
                "task 4 delete karo",
            ],
            delete(num(4)),
        ),
        (
            &[
                "mere tasks dikhao",
                "mere tasks dikha do",
                "mere tasks dikhaa do",
                "mere tasks dikhado",
                "mere tasks batao",
                "mere tasks bata do",
                "mere tasks btao",
            ],
            list(TaskFilter::All),
        ),
        (
            &[
                "task 4 hata do",
                "task 4 hatado",
                "task 4 mita do",
                "task 4 mitado",
                "delete task 4",
                "remove task 4",
                "task 4 khatam kar do",
            ],
            delete(num(4)),
        ),
        (
            &[
                "chai lena bana do",
                "chai lena banao",
                "chai lena add kar do",
                "chai lena daal do",
                "chai lena likh lo",
                "chai lena yaad dila do",
            ],
            add_plain("chai lena"),
        ),
        (
            &[
                "task 4 mukammal",
                "task 4 complete",
                "task 4 done",
                "task 4 ho gaya",
                "task 4 kar liya",
                "finish task 4",
            ],
            complete(num(4)),
        ),
        (
            &[
                "task 4 ki priority badal do high",
                "task 4 ki priority change kar do high",
                "task 4 ki priority update kar do high",
                "task 4 ki priority tabdeel karo high",
            ],
            upd(num(4), None, HIGH, None),
        ),
        (
            &[
                "zaroori task bana do chai",
                "zaruri task bana do chai",
                "zuroori task bana do chai",
            ],
            add("chai", HIGH, None),
        ),
        (
            &["parson chai task bana do", "parso chai task bana do"],
            add("chai", None, day(2)),
        ),
        (
            &["kal chai task bana do", "kl chai task bana do"],
            add("chai", None, day(1)),
        ),
    ];
    for (inputs, want) in groups {
        for input in *inputs {
            assert_eq!(&parse(input, today()).intent, want, "{input:?}");
        }
    }
}

#[test]
fn urdu_weekdays_and_english_weekdays_agree() {
    let pairs = [
        ("peer", "monday", 23),
        ("pir", "monday", 23),
        ("mangal", "tuesday", 24),
        ("budh", "wednesday", 25),
        ("jumeraat", "thursday", 26),
        ("juma", "friday", 27),
        ("jumma", "friday", 27),
        ("hafta", "saturday", 28),
        ("haftay", "saturday", 28),
        ("itwaar", "sunday", 29),
    ];
    for (urdu, english, dom) in pairs {
        let want = date(2026, 11, dom);
        let ur = parse(&format!("{urdu} ko chai ka task bana do"), today());
        assert_eq!(ur.intent, add("chai", None, want), "{urdu}");
        let en = parse(&format!("add chai on {english}"), today());
        assert_eq!(en.intent, add("chai", None, want), "{english}");
        let next = parse(&format!("add chai next {english}"), today());
        assert_eq!(next.intent, add("chai", None, want), "next {english}");
    }
}

/// Deterministic pseudo-random generator, so failures reproduce.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> usize {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) as usize
    }
}
