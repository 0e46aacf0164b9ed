//! How well the offline agent understands sentences nobody wrote its rules from.
//!
//! Every sentence of `dev.jsonl` and `test.jsonl` goes through the path a chat message takes on
//! the server: its language is detected as the chat core detects it, and the offline agent runs
//! with task tools bound to a user who already has fifteen tasks (see `README.md`), on a real
//! store. What the agent did — the tool it called, its arguments, the task it changed and the
//! language of its answer — is scored against the labels. Both halves are printed; the targets
//! are asserted on the test half, which the vocabulary is never tuned on. Misses are printed for
//! the development half only.

mod case;

use std::fmt;

use agentwire::agent::offline::reply;
use agentwire::agent::tools::Tools;
use agentwire::agent::{detect_language, Agent, AgentInput, AgentStep, Language, OfflineAgent};
use agentwire::model::{
    Message, MessageId, MessageStatus, NewTask, Priority, Role, Task, TaskFilter, ThreadId, UserId,
};
use agentwire::store::Store;
use case::{norm_title, reply_language, Case, Observed, TOOL_INTENTS};
use chrono::{NaiveDate, Utc};
use futures::StreamExt;

/// The tasks the user has before each sentence, numbered from 1 in this order.
const SEED_TASKS: [&str; 15] = [
    "buy milk",
    "call mom",
    "pay internet bill",
    "dentist appointment",
    "team meeting",
    "meeting notes",
    "ammi ki dawai",
    "gaari ki service",
    "renew passport",
    "gym membership",
    "bijli ka bill",
    "sabzi lana",
    "laundry",
    "book flights",
    "doctor ke paas jana",
];

/// A Sunday, the day every relative date in the labels is counted from.
fn today() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, 22).expect("a real date")
}

/// Hits out of sentences for one measure.
#[derive(Default)]
struct Ratio {
    hit: usize,
    of: usize,
}

impl Ratio {
    fn add(&mut self, hit: bool) {
        self.of += 1;
        self.hit += usize::from(hit);
    }

    fn percent(&self) -> f64 {
        if self.of == 0 {
            100.0
        } else {
            100.0 * self.hit as f64 / self.of as f64
        }
    }
}

impl fmt::Display for Ratio {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:.1}% ({}/{})", self.percent(), self.hit, self.of)
    }
}

#[derive(Default)]
struct Score {
    intent: Ratio,
    title: Ratio,
    slots: Ratio,
    language: Ratio,
    misses: Vec<String>,
}

/// The chat core's path for one message: detect its language, then run the agent.
async fn turn(store: &Store, user: &UserId, text: &str, history: Vec<Message>) -> Vec<AgentStep> {
    let agent = Agent::Offline(OfflineAgent::default());
    let input = AgentInput {
        history,
        content: text.trim().to_string(),
        language: detect_language(text),
        today: today(),
        notes: Vec::new(),
    };
    let steps: Vec<_> = agent
        .run(Tools::new(store.clone(), user.clone()), input)
        .collect()
        .await;
    steps
        .into_iter()
        .map(|s| s.expect("the offline agent does not fail on a working store"))
        .collect()
}

/// The stored messages of a turn, as the chat core hands them to the next one.
fn history_of(text: &str, steps: Vec<AgentStep>) -> Vec<Message> {
    let conversation = ThreadId::new();
    let message = |seq, role, content: String, tool_calls| Message {
        id: MessageId::new(),
        conversation_id: conversation,
        seq,
        role,
        content,
        tool_calls,
        status: MessageStatus::Completed,
        usage: None,
        created_at: Utc::now(),
        next_seq: None,
    };
    let mut answer = String::new();
    let mut calls = Vec::new();
    for step in steps {
        match step {
            AgentStep::Delta(d) => answer.push_str(&d),
            AgentStep::ToolCalled(call) => calls.push(call),
            _ => {}
        }
    }
    vec![
        message(1, Role::User, text.to_string(), Vec::new()),
        message(2, Role::Assistant, answer, calls),
    ]
}

async fn evaluate(store: &Store, half: &str) -> Score {
    let path = format!(
        "{}/tests/offline_eval/{half}.jsonl",
        env!("CARGO_MANIFEST_DIR")
    );
    let data = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let mut score = Score::default();
    for (k, line) in data
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
    {
        let case = Case::parse(k + 1, line);
        let user = UserId(format!("{half}-{}", case.line));
        for title in SEED_TASKS {
            let task = NewTask {
                title: title.into(),
                priority: Priority::Medium,
                due_date: None,
            };
            store.add_task(&user, &task).await.expect("seed task");
        }
        let history = match &case.after {
            Some(first) => history_of(first, turn(store, &user, first, Vec::new()).await),
            None => Vec::new(),
        };
        let steps = turn(store, &user, &case.text, history).await;
        let seen = Observed::from_steps(&steps, detect_language(&case.text));
        judge(&case, &seen, &mut score);
    }
    score
}

/// Scores one sentence. Slots are checked on every sentence whose intent runs a tool: each
/// slot the intent carries must be what the label says, and absent when the label has none.
fn judge(case: &Case, seen: &Observed, score: &mut Score) {
    let mut wrong = Vec::new();
    let intent_ok = seen.intent == case.intent;
    score.intent.add(intent_ok);
    if !intent_ok {
        wrong.push(format!("intent {}", seen.intent));
    }
    if !case.titles.is_empty() {
        let got = seen.title.as_deref().map(norm_title);
        let ok = case
            .titles
            .iter()
            .any(|t| got.as_deref() == Some(&norm_title(t)));
        score.title.add(ok);
        if !ok {
            wrong.push(format!("title {:?}", seen.title));
        }
    }
    if TOOL_INTENTS.contains(&case.intent.as_str()) {
        let task = matches!(case.intent.as_str(), "complete" | "delete" | "update");
        let fields = matches!(case.intent.as_str(), "add" | "update");
        let ok = (!task || seen.task == case.task)
            && (!fields || (seen.priority == case.priority && seen.due == case.due))
            && (case.intent != "update" || !case.titles.is_empty() || seen.title.is_none())
            && (case.intent != "list"
                || case.filters.iter().any(|f| seen.filter.as_ref() == Some(f)));
        score.slots.add(ok);
        if !ok {
            wrong.push(format!(
                "slots task={:?} priority={:?} due={:?} filter={:?} title={:?}",
                seen.task, seen.priority, seen.due, seen.filter, seen.title
            ));
        }
    }
    let lang_ok = seen.reply_lang == case.lang;
    score.language.add(lang_ok);
    if !lang_ok {
        wrong.push(format!("reply language {:?}", seen.reply_lang));
    }
    if !wrong.is_empty() {
        score.misses.push(format!(
            "line {}: {:?} -> {} | reply: {}",
            case.line,
            case.text,
            wrong.join("; "),
            seen.reply.replace('\n', " / ")
        ));
    }
}

#[tokio::test]
async fn offline_agent_meets_its_targets_on_sentences_it_was_not_tuned_on() {
    let store = Store::connect("sqlite::memory:", 1).await.unwrap();
    store.migrate().await.unwrap();
    for half in ["dev", "test"] {
        let s = evaluate(&store, half).await;
        if half == "dev" {
            for miss in &s.misses {
                eprintln!("dev miss, {miss}");
            }
        }
        println!(
            "offline agent, {half} half: intent {}, title {}, slots {}, reply language {}",
            s.intent, s.title, s.slots, s.language
        );
        if half == "test" {
            assert!(
                s.intent.of + s.title.of >= 200,
                "the test half is too small"
            );
            assert!(s.intent.percent() >= 97.0, "test intent {}", s.intent);
            assert!(s.title.percent() >= 95.0, "test title {}", s.title);
            assert!(s.slots.percent() >= 97.0, "test slots {}", s.slots);
            assert!(
                s.language.percent() >= 100.0,
                "test reply language {}",
                s.language
            );
        }
    }
}

/// The reply-language measure reads the answer's own words; every answer the agent can give
/// must read as the language it was written in, or the measure would be wrong.
#[test]
fn every_answer_reads_as_its_own_language() {
    let at = Utc::now();
    let task = Task {
        number: 3,
        title: "doodh lana hai kal".into(),
        priority: Priority::High,
        due_date: Some(today()),
        completed: false,
        created_at: at,
        updated_at: at,
    };
    let tasks = vec![task.clone()];
    for lang in [Language::English, Language::RomanUrdu] {
        let mut answers = vec![
            reply::added(lang, &task),
            reply::completed(lang, &task),
            reply::already_completed(lang, &task),
            reply::deleted(lang, &task),
            reply::updated(lang, &task),
            reply::nothing_to_change(lang, &task),
            reply::not_found(lang, "kal ka kaam"),
            reply::ambiguous(lang, &tasks),
            reply::ambiguous(lang, &[]),
            reply::greeting(lang),
            reply::help(lang),
            reply::unknown(lang),
        ];
        for filter in [TaskFilter::All, TaskFilter::Pending, TaskFilter::Completed] {
            answers.push(reply::listed(lang, &tasks, filter));
            answers.push(reply::listed(lang, &[], filter));
        }
        for action in [
            agentwire::agent::offline::intent::Action::Add,
            agentwire::agent::offline::intent::Action::Complete,
            agentwire::agent::offline::intent::Action::Delete,
            agentwire::agent::offline::intent::Action::Update,
        ] {
            answers.push(reply::incomplete(lang, action));
        }
        for answer in answers {
            assert_eq!(reply_language(&answer), lang, "{answer}");
        }
    }
}
