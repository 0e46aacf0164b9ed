//! One test per class of phrasing the lexicon knows, each with sentences of its own (none of
//! them is in the evaluation set), so a regression names its class.

use chrono::Days;

use super::*;

fn today() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, 22).unwrap()
}

fn intent(text: &str) -> Intent {
    parse(text, today()).intent
}

fn add(title: &str) -> Intent {
    Intent::Add {
        title: title.into(),
        priority: None,
        due_date: None,
    }
}

fn title(t: &str) -> TaskRef {
    TaskRef::Title(t.into())
}

fn assert_all(cases: &[(&str, Intent)]) {
    for (text, want) in cases {
        assert_eq!(&intent(text), want, "{text:?}");
    }
}

#[test]
fn a_list_to_put_something_on_or_take_it_off() {
    assert_all(&[
        ("pop sunscreen on the list", add("sunscreen")),
        (
            "slap new bulbs onto my weekly shopping list",
            add("new bulbs"),
        ),
        ("kitchen roll on my list plz", add("kitchen roll")),
        ("sabzi ki list mein adrak likh do", add("adrak")),
        (
            "take the gutters off my list",
            Intent::Delete {
                task: title("gutters"),
            },
        ),
        (
            "gutters list se nikal do",
            Intent::Delete {
                task: title("gutters"),
            },
        ),
        (
            "what's on my agenda",
            Intent::List {
                filter: TaskFilter::All,
            },
        ),
    ]);
}

#[test]
fn memory_metaphors_add_a_task() {
    assert_all(&[
        ("don't let me forget the gutters", add("gutters")),
        (
            "keep in mind that the boiler needs a service",
            add("boiler needs a service"),
        ),
        (
            "make a note of the wifi password change",
            add("wifi password change"),
        ),
        (
            "gutters saaf karne hain, yaad rakhna",
            add("gutters saaf karne"),
        ),
        (
            "boiler ki service likhna mat bhulna",
            add("boiler ki service"),
        ),
        (
            "mujhe gutters ke baare mein yaad karwa dena",
            add("gutters"),
        ),
    ]);
}

#[test]
fn a_task_said_to_be_over_or_no_longer_needed() {
    let done = |t: &str| Intent::Complete { task: title(t) };
    let gone = |t: &str| Intent::Delete { task: title(t) };
    assert_all(&[
        ("the gutters are sorted", done("gutters")),
        ("boiler service wrapped up", done("boiler service")),
        ("gutters over", done("gutters")),
        ("boiler wala kaam nipat gaya", done("boiler")),
        ("we no longer need the gutters task", gone("gutters")),
        ("boiler service isnt needed", gone("boiler service")),
        ("boiler ki ab zarurat nahi", gone("boiler")),
        ("gutters wala task nahi chahiye", gone("gutters")),
    ]);
}

#[test]
fn urdu_stems_take_every_request_ending_and_spelling() {
    for text in [
        "task 4 hataiye",
        "task 4 hatana",
        "task 4 hataao",
        "task 4 mita dijiye",
        "task 4 nikaal do",
    ] {
        assert_eq!(
            intent(text),
            Intent::Delete {
                task: TaskRef::Number(4)
            },
            "{text}"
        );
    }
    for text in ["task 4 mukkamal", "task 4 muqammal ho gya", "task 4 kr lia"] {
        assert_eq!(
            intent(text),
            Intent::Complete {
                task: TaskRef::Number(4)
            },
            "{text}"
        );
    }
}

#[test]
fn an_imperative_outranks_the_titles_own_infinitive() {
    assert_eq!(
        intent("naya task banao doctor ko dikhana"),
        add("doctor ko dikhana")
    );
    assert_eq!(
        intent("meri list dikhana"),
        Intent::List {
            filter: TaskFilter::All
        }
    );
}

#[test]
fn the_task_or_title_comes_from_another_clause() {
    assert_all(&[
        (
            "need to renew the lease, put it down",
            add("renew the lease"),
        ),
        (
            "lease renew karni hai, isko likh lo",
            add("lease renew karni"),
        ),
        (
            "forget the gutters, delete it",
            Intent::Delete {
                task: title("gutters"),
            },
        ),
        (
            "chai pee li, chai wala kaam ho gaya",
            Intent::Complete {
                task: title("chai"),
            },
        ),
    ]);
}

#[test]
fn numbers_said_as_words_name_a_task_only_when_marked() {
    let n = |n| Intent::Complete {
        task: TaskRef::Number(n),
    };
    assert_all(&[
        ("task twelve is done", n(12)),
        ("number three done", n(3)),
        ("paanch number wala kaam ho gaya", n(5)),
        ("task bees mukammal", n(20)),
    ]);
    assert_eq!(intent("add two plants"), add("two plants"));
}

#[test]
fn titles_lose_fillers_and_deixis() {
    assert_all(&[
        ("add repot the fern for me plz", add("repot the fern")),
        ("add this to my list: repot the fern", add("repot the fern")),
        ("zara fern repot karna likh lo", add("fern repot karna")),
        (
            "yeh bhi likh lo ke fern repot karna hai",
            add("fern repot karna"),
        ),
        (
            "bhai ko fern dena hai task bana do",
            add("bhai ko fern dena"),
        ),
        (
            "add something",
            Intent::Incomplete {
                action: Action::Add,
            },
        ),
    ]);
}

#[test]
fn a_task_said_to_have_a_priority_or_a_date_is_changed() {
    let friday = today().checked_add_days(Days::new(5));
    assert_all(&[
        (
            "the fern is urgent now",
            Intent::Update {
                task: title("fern"),
                title: None,
                priority: Some(Priority::High),
                due_date: None,
            },
        ),
        (
            "task 2 is due friday",
            Intent::Update {
                task: TaskRef::Number(2),
                title: None,
                priority: None,
                due_date: friday,
            },
        ),
        (
            "fern wala kaam juma pe daal do",
            Intent::Update {
                task: title("fern"),
                title: None,
                priority: None,
                due_date: friday,
            },
        ),
    ]);
}

#[test]
fn dates_by_day_of_the_month_and_saturday() {
    let due = |text: &str| match intent(text) {
        Intent::Add { due_date, .. } => due_date,
        other => panic!("{text}: {other:?}"),
    };
    let date = |m, d| NaiveDate::from_ymd_opt(2026, m, d);
    assert_eq!(due("add pay rent on 1st dec"), date(12, 1));
    assert_eq!(due("add pay rent by the 28th"), date(11, 28));
    assert_eq!(due("add pay rent december 2nd"), date(12, 2));
    assert_eq!(
        due("5 tareekh ko kiraya dena hai task bana do"),
        date(12, 5)
    );
    assert_eq!(due("hafte ko kiraya dena hai task bana do"), date(11, 28));
    assert_eq!(due("agle hafte kiraya dena hai task bana do"), date(11, 29));
}
