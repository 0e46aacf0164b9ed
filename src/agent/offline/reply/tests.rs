//! Tests of the replies, in both languages: what each says, and how it names the task.

use super::*;
use chrono::{NaiveDate, TimeZone, Utc};

const BOTH: [Language; 2] = [Language::English, Language::RomanUrdu];

fn task(number: i64, title: &str, priority: Priority, due: Option<NaiveDate>, done: bool) -> Task {
    let at = Utc.with_ymd_and_hms(2026, 11, 22, 9, 0, 0).unwrap();
    Task {
        number,
        title: title.to_string(),
        priority,
        due_date: due,
        completed: done,
        created_at: at,
        updated_at: at,
    }
}

fn milk() -> Task {
    task(
        3,
        "buy milk",
        Priority::High,
        NaiveDate::from_ymd_opt(2026, 11, 23),
        false,
    )
}

fn plain() -> Task {
    task(7, "call mom", Priority::Medium, None, false)
}

#[test]
fn added_mentions_number_title_priority_and_due_date() {
    for lang in BOTH {
        let text = added(lang, &milk());
        assert!(text.contains("#3"), "{text}");
        assert!(text.contains("'buy milk'"), "{text}");
        assert!(text.contains("high"), "{text}");
        assert!(text.contains("2026-11-23"), "{text}");
        let text = added(lang, &plain());
        assert!(text.contains("#7") && text.contains("'call mom'"), "{text}");
        assert!(!text.contains("medium") && !text.contains('('), "{text}");
    }
    assert_eq!(
        added(Language::English, &milk()),
        "Added task #3 'buy milk' (high priority, due 2026-11-23)."
    );
    let ur = added(Language::RomanUrdu, &milk());
    assert!(ur.contains("Theek hai") && ur.contains("ho gaya"), "{ur}");
}

#[test]
fn listed_puts_each_task_on_its_own_line() {
    let tasks = vec![milk(), task(4, "pay rent", Priority::Low, None, true)];
    let en = listed(Language::English, &tasks, TaskFilter::All);
    let lines: Vec<&str> = en.lines().collect();
    assert_eq!(lines.len(), 3, "{en}");
    assert_eq!(lines[1], "#3 buy milk (high, due 2026-11-23)");
    assert_eq!(lines[2], "#4 pay rent (low) [done]");
    let ur = listed(Language::RomanUrdu, &tasks, TaskFilter::All);
    let lines: Vec<&str> = ur.lines().collect();
    assert_eq!(lines.len(), 3, "{ur}");
    assert!(lines[0].contains("Yeh rahe"), "{ur}");
    assert_eq!(lines[1], "#3 buy milk (high, tareekh 2026-11-23)");
    assert_eq!(lines[2], "#4 pay rent (low) [mukammal]");
    assert!(listed(Language::RomanUrdu, &tasks, TaskFilter::Pending).contains("baqi hain"));
    assert!(listed(Language::English, &tasks, TaskFilter::Completed).contains("completed"));
}

#[test]
fn empty_lists_get_their_own_sentence() {
    for filter in [TaskFilter::All, TaskFilter::Pending, TaskFilter::Completed] {
        for lang in BOTH {
            let text = listed(lang, &[], filter);
            assert!(!text.is_empty() && !text.contains('#'), "{text}");
        }
        let ur = listed(Language::RomanUrdu, &[], filter);
        assert!(ur.contains("hai") || ur.contains("hua"), "{ur}");
    }
    assert_ne!(
        listed(Language::English, &[], TaskFilter::Pending),
        listed(Language::English, &[], TaskFilter::Completed)
    );
}

#[test]
fn task_confirmations_name_the_task() {
    let t = milk();
    let all: [fn(Language, &Task) -> String; 5] = [
        completed,
        already_completed,
        deleted,
        updated,
        nothing_to_change,
    ];
    for f in all {
        for lang in BOTH {
            let text = f(lang, &t);
            assert!(text.contains("'buy milk'"), "{text}");
            assert!(text.contains("#3"), "{text}");
        }
    }
    assert!(completed(Language::RomanUrdu, &t).contains("mukammal ho gaya"));
    assert!(already_completed(Language::RomanUrdu, &t).contains("ho chuka hai"));
    assert_eq!(
        deleted(Language::RomanUrdu, &t),
        "Theek hai, 'buy milk' task (#3) delete ho gaya."
    );
    assert!(updated(Language::RomanUrdu, &t).contains("update ho gaya hai"));
    assert!(updated(Language::English, &t).contains("high, due 2026-11-23"));
    assert!(nothing_to_change(Language::RomanUrdu, &t).contains("badalna hai"));
    assert!(completed(Language::English, &t).contains("done"));
}

#[test]
fn not_found_and_ambiguous() {
    for lang in BOTH {
        assert!(not_found(lang, "meeting").contains("'meeting'"));
    }
    assert!(not_found(Language::RomanUrdu, "meeting").contains("nahi mila"));
    let candidates = vec![
        task(2, "meeting notes", Priority::Medium, None, false),
        task(5, "team meeting", Priority::Medium, None, false),
    ];
    for lang in BOTH {
        let text = ambiguous(lang, &candidates);
        assert!(text.contains("#2 'meeting notes'"), "{text}");
        assert!(text.contains("#5 'team meeting'"), "{text}");
        assert!(text.contains('?'), "{text}");
        assert!(ambiguous(lang, &[]).contains('?'));
    }
    let ur = ambiguous(Language::RomanUrdu, &candidates);
    assert!(ur.contains("kaun sa hai"), "{ur}");
}

#[test]
fn incomplete_asks_for_the_missing_piece() {
    for action in [
        Action::Add,
        Action::Complete,
        Action::Delete,
        Action::Update,
    ] {
        for lang in BOTH {
            let text = incomplete(lang, action);
            assert!(text.contains('?'), "{text}");
        }
        let ur = incomplete(Language::RomanUrdu, action);
        assert!(ur.contains("hai"), "{ur}");
    }
    assert!(incomplete(Language::RomanUrdu, Action::Delete).contains("hata do"));
    assert!(incomplete(Language::English, Action::Add).contains("add"));
}

#[test]
fn greeting_help_unknown() {
    for lang in BOTH {
        assert!(!greeting(lang).is_empty());
        assert!(!unknown(lang).is_empty());
        let h = help(lang);
        for tool in ["Add:", "List:", "Update:", "Delete:"] {
            assert!(h.contains(tool), "{h}");
        }
    }
    assert!(help(Language::English).contains("Complete:"));
    assert!(help(Language::RomanUrdu).contains("mukammal kar do"));
    assert!(help(Language::RomanUrdu).contains("bana do"));
    assert!(greeting(Language::RomanUrdu).contains("hai"));
    assert!(unknown(Language::RomanUrdu).contains("madad"));
    assert!(unknown(Language::English).contains("help"));
}
