//! Odd input: whatever is typed, parsing never panics and keeps its invariants.

use super::*;

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
