//! One labelled sentence of the evaluation set, and what the agent did with it.
//!
//! The labels are read from a JSON line (the fields are described in `README.md` next to the
//! data); the observation is read from the steps the agent streamed, exactly as a client sees
//! them: the tool it called, with its arguments and result, and the text of its answer.

use agentwire::agent::offline::intent::Action;
use agentwire::agent::offline::reply;
use agentwire::agent::{detect_language, AgentStep, Language};
use agentwire::model::ToolCall;
use serde_json::Value;

/// The intents that run a task tool, and so have slots to check.
pub const TOOL_INTENTS: [&str; 5] = ["add", "list", "complete", "delete", "update"];

/// One line of `dev.jsonl` or `test.jsonl`.
#[derive(Debug)]
pub struct Case {
    pub line: usize,
    pub text: String,
    pub after: Option<String>,
    pub lang: Language,
    pub intent: String,
    /// The titles that are equally right; empty when the sentence has no title to check.
    pub titles: Vec<String>,
    pub task: Option<i64>,
    pub priority: Option<String>,
    pub due: Option<String>,
    /// The accepted list filters; empty when the intent is not `list`.
    pub filters: Vec<String>,
}

impl Case {
    /// Reads one JSON line; panics with the line number when it is malformed, since the data
    /// file is part of the test.
    pub fn parse(line: usize, json: &str) -> Case {
        let v: Value = serde_json::from_str(json)
            .unwrap_or_else(|e| panic!("line {line}: not JSON ({e}): {json}"));
        let text = |key: &str| v.get(key).and_then(Value::as_str).map(str::to_string);
        let list = |key: &str| match v.get(key) {
            Some(Value::String(s)) => vec![s.clone()],
            Some(Value::Array(a)) => a
                .iter()
                .map(|x| x.as_str().expect("a list of strings").to_string())
                .collect(),
            _ => Vec::new(),
        };
        let lang = match text("lang").as_deref() {
            Some("en") => Language::English,
            Some("ur") => Language::RomanUrdu,
            other => panic!("line {line}: lang must be en or ur, not {other:?}"),
        };
        let intent = text("intent").unwrap_or_else(|| panic!("line {line}: no intent"));
        assert!(
            TOOL_INTENTS.contains(&intent.as_str())
                || ["clarify", "greeting", "help", "unknown"].contains(&intent.as_str()),
            "line {line}: unknown intent {intent}"
        );
        Case {
            line,
            text: text("text").unwrap_or_else(|| panic!("line {line}: no text")),
            after: text("after"),
            lang,
            intent,
            titles: list("title"),
            task: v.get("task").and_then(Value::as_i64),
            priority: text("priority"),
            due: text("due"),
            filters: list("filter"),
        }
    }
}

/// What the agent did with one sentence, as far as the evaluation looks.
#[derive(Debug)]
pub struct Observed {
    pub intent: String,
    pub title: Option<String>,
    pub task: Option<i64>,
    pub priority: Option<String>,
    pub due: Option<String>,
    pub filter: Option<String>,
    pub reply_lang: Language,
    pub reply: String,
}

impl Observed {
    /// Reads the steps of one turn answered in `lang`.
    pub fn from_steps(steps: &[AgentStep], lang: Language) -> Observed {
        let reply: String = steps
            .iter()
            .filter_map(|s| match s {
                AgentStep::Delta(d) => Some(d.as_str()),
                _ => None,
            })
            .collect();
        let call = steps.iter().find_map(|s| match s {
            AgentStep::ToolCalled(call) => Some(call),
            _ => None,
        });
        let arg = |key: &str| {
            call.and_then(|c| c.arguments.get(key))
                .and_then(Value::as_str)
                .map(str::to_string)
        };
        Observed {
            intent: intent_of(call, &reply, lang),
            title: arg("title"),
            task: call.and_then(changed_task),
            priority: arg("priority"),
            due: arg("due_date"),
            filter: arg("status"),
            reply_lang: reply_language(&reply),
            reply,
        }
    }
}

/// The intent the agent acted on: the tool it ran, or `clarify` when it asked back and changed
/// nothing (a reference that matches several tasks, an update with nothing to change, a
/// missing title or task), or the kind of answer it gave without a tool.
fn intent_of(call: Option<&ToolCall>, reply: &str, lang: Language) -> String {
    if let Some(call) = call {
        let error = call.result.get("error").and_then(Value::as_str);
        if matches!(
            error,
            Some("ambiguous" | "nothing_to_change" | "invalid_arguments")
        ) {
            return "clarify".into();
        }
        return match call.tool_name.as_str() {
            "list_tasks" => "list".into(),
            name => name.trim_end_matches("_task").to_string(),
        };
    }
    let asks = [
        Action::Add,
        Action::Complete,
        Action::Delete,
        Action::Update,
    ]
    .iter()
    .any(|&a| reply == reply::incomplete(lang, a));
    if asks {
        "clarify".into()
    } else if reply == reply::greeting(lang) {
        "greeting".into()
    } else if reply == reply::help(lang) {
        "help".into()
    } else if reply == reply::unknown(lang) {
        "unknown".into()
    } else {
        format!("other: {reply}")
    }
}

/// The number of the task a complete, delete or update call acted on.
fn changed_task(call: &ToolCall) -> Option<i64> {
    if call.tool_name == "add_task" || call.result.get("ok") != Some(&Value::Bool(true)) {
        return None;
    }
    call.result.get("task")?.get("number")?.as_i64()
}

/// The language an answer is written in, read from its own words: the task lines of a listing
/// and quoted titles are the user's words, not the answer's, so they are left out.
pub fn reply_language(reply: &str) -> Language {
    let own: Vec<&str> = reply
        .lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .collect();
    detect_language(&own.join("\n"))
}

/// A title as compared: lower case, no apostrophes, single spaces.
pub fn norm_title(t: &str) -> String {
    t.to_lowercase()
        .replace(['\'', '’'], "")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}
