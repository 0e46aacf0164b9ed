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

fn english_cases() -> Vec<(&'static str, Intent)> {
    vec![
        // add
        ("add a task to buy milk", add_plain("buy milk")),
        (
            "remind me to call mom tomorrow",
            add("call mom", None, day(1)),
        ),
        ("create task: pay rent", add_plain("pay rent")),
        ("Add \"Buy Milk\" tomorrow", add("Buy Milk", None, day(1))),
        ("add 'Call Ali' urgent", add("Call Ali", HIGH, None)),
        (
            "add 'Mom's birthday gift' next sunday",
            add("Mom's birthday gift", None, date(2026, 11, 29)),
        ),
        ("add buy milk, high priority", add("buy milk", HIGH, None)),
        (
            "add an important task to file taxes",
            add("file taxes", HIGH, None),
        ),
        (
            "Add task renew passport ASAP!",
            add("renew passport", HIGH, None),
        ),
        (
            "add clean garage, low priority",
            add("clean garage", LOW, None),
        ),
        (
            "add water plants, not urgent",
            add("water plants", LOW, None),
        ),
        (
            "add a medium priority task to read the book",
            add("read the book", MEDIUM, None),
        ),
        (
            "add walk dog with normal priority",
            add("walk dog", MEDIUM, None),
        ),
        ("add pay bills today", add("pay bills", None, day(0))),
        (
            "add submit report day after tomorrow",
            add("submit report", None, day(2)),
        ),
        (
            "add dentist appointment next monday",
            add("dentist appointment", None, date(2026, 11, 23)),
        ),
        ("add gym on friday", add("gym", None, date(2026, 11, 27))),
        (
            "add call plumber in 3 days",
            add("call plumber", None, day(3)),
        ),
        (
            "add renew insurance on 2026-12-01",
            add("renew insurance", None, date(2026, 12, 1)),
        ),
        ("add pay rent 2026-02-30", add_plain("pay rent 2026-02-30")),
        (
            "add book flights next week",
            add("book flights", None, day(7)),
        ),
        (
            "set a reminder to water plants on saturday",
            add("water plants", None, date(2026, 11, 28)),
        ),
        (
            "new task: finish the report",
            add_plain("finish the report"),
        ),
        ("add milk to my shopping list", add_plain("milk")),
        ("add", incomplete(Action::Add)),
        ("add a task", incomplete(Action::Add)),
        // list
        ("show my tasks", list(TaskFilter::All)),
        ("what's pending?", list(TaskFilter::Pending)),
        ("list completed tasks", list(TaskFilter::Completed)),
        ("show all tasks", list(TaskFilter::All)),
        ("which tasks are remaining", list(TaskFilter::Pending)),
        ("my tasks", list(TaskFilter::All)),
        ("what do I have to do today", list(TaskFilter::All)),
        // complete
        ("mark task 3 as done", complete(num(3))),
        (
            "I finished the groceries task",
            complete(named("groceries")),
        ),
        ("complete #5", complete(num(5))),
        ("done with the 2nd task", complete(num(2))),
        ("complete it", complete(TaskRef::Previous)),
        ("done", incomplete(Action::Complete)),
        // delete
        ("delete task 2", delete(num(2))),
        ("remove the meeting task", delete(named("meeting"))),
        ("delete that one", delete(TaskRef::Previous)),
        ("delete 'Team Sync'", delete(named("Team Sync"))),
        ("please delete task number 12", delete(num(12))),
        ("delete", incomplete(Action::Delete)),
        ("delete all tasks", incomplete(Action::Delete)),
        ("this one is done", complete(TaskRef::Previous)),
        (
            "delete task 99999999999999999999",
            delete(named("99999999999999999999")),
        ),
        // update
        (
            "rename task 4 to call the bank",
            upd(num(4), Some("call the bank"), None, None),
        ),
        (
            "change priority of task 1 to high",
            upd(num(1), None, HIGH, None),
        ),
        (
            "move the dentist task to friday",
            upd(named("dentist"), None, None, date(2026, 11, 27)),
        ),
        (
            "postpone task 6 to next week",
            upd(num(6), None, None, day(7)),
        ),
        ("make task 2 urgent", upd(num(2), None, HIGH, None)),
        (
            "change task number 7 to low priority",
            upd(num(7), None, LOW, None),
        ),
        (
            "move it to tomorrow",
            upd(TaskRef::Previous, None, None, day(1)),
        ),
        (
            "rename 'Standup' to 'Daily sync'",
            upd(named("Standup"), Some("Daily sync"), None, None),
        ),
        ("mark task 8 as urgent", upd(num(8), None, HIGH, None)),
        ("update task 3", upd(num(3), None, None, None)),
        ("rename", incomplete(Action::Update)),
        // conversation
        ("hi", Intent::Greeting),
        ("Hello there!", Intent::Greeting),
        ("help", Intent::Help),
        ("what can you do?", Intent::Help),
        ("how do I add a task?", Intent::Help),
        ("tell me a joke", Intent::Unknown),
        ("", Intent::Unknown),
        ("?!...", Intent::Unknown),
    ]
}

fn urdu_cases() -> Vec<(&'static str, Intent)> {
    vec![
        // add
        ("doodh lene ka task bana do", add_plain("doodh lene")),
        (
            "kal doctor ke paas jana hai, task bana do",
            add("doctor ke paas jana", None, day(1)),
        ),
        (
            "bill jama karwana hai, bohat zaroori task bana do",
            add("bill jama karwana", HIGH, None),
        ),
        (
            "gaari dhone ka kaam kam zaroori hai, add kar do",
            add("gaari dhone", LOW, None),
        ),
        (
            "kitaab wapas karni hai, baad mein, task banao",
            add("kitaab wapas karni", LOW, None),
        ),
        (
            "report bhejni hai ahem task bana do",
            add("report bhejni", HIGH, None),
        ),
        (
            "zaruri: bijli ka bill dena, task bana do",
            add("bijli ka bill dena", HIGH, None),
        ),
        (
            "zuroori task banao: cheque jama karna",
            add("cheque jama karna", HIGH, None),
        ),
        (
            "aaj dawai leni hai yaad dila do",
            add("dawai leni", None, day(0)),
        ),
        (
            "parson ammi ko call karna hai, task banado",
            add("ammi ko call karna", None, day(2)),
        ),
        (
            "parso bijli ka bill, task bana do",
            add("bijli ka bill", None, day(2)),
        ),
        ("kl dentist ka task bana do", add("dentist", None, day(1))),
        (
            "peer ko gym jana hai task daal do",
            add("gym jana", None, date(2026, 11, 23)),
        ),
        (
            "mangal ko bank jana hai, task likh lo",
            add("bank jana", None, date(2026, 11, 24)),
        ),
        (
            "budh ko haircut ka task bana do",
            add("haircut", None, date(2026, 11, 25)),
        ),
        (
            "jumeraat ko plumber bulana hai, task bana do",
            add("plumber bulana", None, date(2026, 11, 26)),
        ),
        (
            "jumma ko namaz ke baad dawat, task bana do",
            add("namaz ke baad dawat", None, date(2026, 11, 27)),
        ),
        (
            "haftay ko safai ka task bana do",
            add("safai", None, date(2026, 11, 28)),
        ),
        (
            "itwaar ko cricket match, task add kar do",
            add("cricket match", None, date(2026, 11, 29)),
        ),
        (
            "3 din baad passport office jana hai, task bana do",
            add("passport office jana", None, day(3)),
        ),
        (
            "agle hafte rent dena hai, task bana do",
            add("rent dena", None, day(7)),
        ),
        (
            "\"Ammi ka Tohfa\" ka task bana do",
            add_plain("Ammi ka Tohfa"),
        ),
        ("task bana do", incomplete(Action::Add)),
        // list
        ("mere tasks dikhao", list(TaskFilter::All)),
        ("kaun se tasks baqi hain", list(TaskFilter::Pending)),
        ("mukammal tasks dikhao", list(TaskFilter::Completed)),
        ("mere baqi kaam btao", list(TaskFilter::Pending)),
        ("sab tasks dikha do", list(TaskFilter::All)),
        ("kya kya baqi hai?", list(TaskFilter::Pending)),
        ("kaun se kaam ho chuke hain", list(TaskFilter::Completed)),
        ("mukammal kaam dikhado", list(TaskFilter::Completed)),
        // complete
        ("task 3 mukammal kar do", complete(num(3))),
        ("meeting wala kaam ho gaya", complete(named("meeting"))),
        ("task 3 krdo mukammal", complete(num(3))),
        ("task 3 complete kr do", complete(num(3))),
        ("usay mukammal kar do", complete(TaskRef::Previous)),
        (
            "'Ammi ki dawai' wala task mukammal ho gaya",
            complete(named("Ammi ki dawai")),
        ),
        ("task 9 khatam ho gaya", complete(num(9))),
        ("ho gaya", incomplete(Action::Complete)),
        // delete
        (
            "Mera meeting wala task delete kar do",
            delete(named("meeting")),
        ),
        ("task 2 hata do", delete(num(2))),
        ("task #7 mitado", delete(num(7))),
        ("teesra task hata do", delete(num(3))),
        ("isko delete kar do", delete(TaskRef::Previous)),
        ("ise hata do", delete(TaskRef::Previous)),
        ("is task ko delete kar do", delete(TaskRef::Previous)),
        ("usko mukammal kar do", complete(TaskRef::Previous)),
        ("doodh ko list mein daal do", add_plain("doodh")),
        ("woh wala hata do", delete(TaskRef::Previous)),
        ("task 9 khatam kar do", delete(num(9))),
        ("hata do", incomplete(Action::Delete)),
        // update
        (
            "task 1 ki priority high kar do",
            upd(num(1), None, HIGH, None),
        ),
        (
            "task 2 ki priority kam kar do",
            upd(num(2), None, LOW, None),
        ),
        (
            "task 4 ka naam 'Bank Call' kar do",
            upd(num(4), Some("Bank Call"), None, None),
        ),
        (
            "task 4 ka naam bank ko call karna kar do",
            upd(num(4), Some("bank ko call karna"), None, None),
        ),
        (
            "meeting wale task ki date juma kar do",
            upd(named("meeting"), None, None, date(2026, 11, 27)),
        ),
        (
            "task 5 ko kal tak shift kar do",
            upd(num(5), None, None, day(1)),
        ),
        (
            "meeting wala task kal pe move kar do",
            upd(named("meeting"), None, None, day(1)),
        ),
        ("task 3 ko zaroori bana do", upd(num(3), None, HIGH, None)),
        (
            "Isko zaroori bana do",
            upd(TaskRef::Previous, None, HIGH, None),
        ),
        ("task 2 ko update kar do", upd(num(2), None, None, None)),
        (
            "task 6 ki tareekh badal do parson",
            upd(num(6), None, None, day(2)),
        ),
        // conversation
        ("salam", Intent::Greeting),
        ("Assalam o alaikum bhai", Intent::Greeting),
        ("madad", Intent::Help),
        ("aap kya kar sakte hain?", Intent::Help),
        ("doodh lena hai", Intent::Unknown),
    ]
}

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

fn odd_inputs() -> Vec<String> {
    let mut inputs: Vec<String> = [
        "",
        " ",
        "\n\t",
        "!!!???",
        "'",
        "\"",
        "''",
        "\"\"",
        "' '",
        "'a",
        "a'",
        "\"unclosed",
        "#",
        "# 3",
        "#3#",
        "task",
        "task 99999999999999999999",
        "task -3",
        "task 0",
        "in 99999999999 days",
        "in 9999 weeks",
        "9999-99-99",
        "0000-01-01",
        "2026-02-30",
        "2026-13-01",
        "262-1-1",
        "1-2-3-4",
        "---",
        "- 3 -",
        "task 3 to",
        "rename to",
        "to to to",
        "kar do",
        "do do do",
        "kal kal kal",
        "next next next",
        "day after",
        "3rd",
        "99999999999999999999th",
        "ٹاسک بناؤ",
        "मेरा काम",
        "任务 3 删除",
        "🙂🙂🙂",
        "add 🙂",
        "delete 🙂 task",
        "’’’",
        "“quoted” add",
        "add \"  \"",
        "add ''",
        "is us is us",
        "ho gaya ho gaya",
        "priority priority",
        "naam naam naam",
        "rename 'a' to 'b' to 'c'",
        "add 'x' 'y' 'z'",
        "task3 hata do",
        "kaam12 mukammal",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    inputs.push("a".repeat(10_000));
    inputs.push("add ".repeat(2_500));
    inputs.push("'a ".repeat(3_000));
    inputs.push("\"".repeat(5_000));
    inputs.push("task 1 ".repeat(1_500));
    inputs.push("🙂".repeat(4_000));

    let pieces = [
        "add",
        "task",
        "kar",
        "do",
        "kal",
        "3",
        "#",
        "'",
        "\"",
        "-",
        "2026-11-30",
        "to",
        "the",
        "wala",
        "ka",
        "naam",
        "priority",
        "high",
        "zaroori",
        "not",
        "in",
        "din",
        "baad",
        "next",
        "friday",
        "peer",
        "it",
        "isko",
        "dikhao",
        "mukammal",
        "ho",
        "gaya",
        "hata",
        "rename",
        "move",
        "?",
        "!",
        "🙂",
        "ٹاسک",
        "ß",
        "İ",
        "99999999999999999999",
        "0",
        "-7",
        "1st",
        "tasks",
        "pending",
        "salam",
        "help",
        "\u{200b}",
        "\u{0301}",
        " ",
    ];
    let mut rng = Lcg(0x5eed);
    for _ in 0..400 {
        let len = rng.next() % 12;
        let mut s = String::new();
        for _ in 0..len {
            s.push_str(pieces[rng.next() % pieces.len()]);
            if rng.next() & 3 != 0 {
                s.push(' ');
            }
        }
        inputs.push(s);
    }
    inputs
}

#[test]
fn parse_never_panics_and_keeps_its_invariants() {
    for input in odd_inputs() {
        for anchor in [today(), NaiveDate::MIN, NaiveDate::MAX] {
            let parsed = parse(&input, anchor);
            assert_eq!(parsed.language, detect_language(&input));
            match &parsed.intent {
                Intent::Add { title, .. } => {
                    assert!(!title.trim().is_empty(), "empty title from {input:?}");
                    assert_eq!(title.trim(), title, "untrimmed title from {input:?}");
                }
                Intent::Complete { task }
                | Intent::Delete { task }
                | Intent::Update { task, .. } => {
                    if let TaskRef::Title(t) = task {
                        assert!(!t.trim().is_empty(), "empty reference from {input:?}");
                    }
                }
                _ => {}
            }
        }
    }
}

#[test]
fn relative_dates_near_the_end_of_time_are_dropped() {
    for input in ["add chai kal", "add chai next friday", "add chai in 3 days"] {
        match parse(input, NaiveDate::MAX).intent {
            Intent::Add {
                title, due_date, ..
            } => {
                assert!(title.starts_with("chai"), "{input:?}: {title}");
                assert_eq!(due_date, None, "{input:?}");
            }
            other => panic!("{input:?}: {other:?}"),
        }
    }
}
