//! What the model is told: the system prompt and the conversation replayed in the form the Chat
//! Completions API expects, earlier tool calls and their results included, so a continued
//! conversation can say "mark it done" and the model knows which task "it" is.

use chrono::NaiveDate;
use serde_json::{json, Value};

use crate::agent::{ContextNote, Language};
use crate::model::{Message, Role};

/// The system prompt for one turn.
pub fn system_prompt(language: Language, today: NaiveDate) -> String {
    let answer_in = match language {
        Language::English => "English",
        Language::RomanUrdu => "Roman Urdu (Urdu written in Latin letters, as the user writes it)",
    };
    format!(
        "You are a task assistant. You help the user manage their own task list with the tools \
         add_task, list_tasks, complete_task, delete_task and update_task. The user writes in \
         English or in Roman Urdu (for example \"Mera meeting wala task delete kar do\" means \
         \"delete my meeting task\"); always answer in the language of their latest message. \
         This message looks like {answer_in}.\n\
         Rules:\n\
         - Use the tools for every change and every question about tasks; never invent tasks, \
           numbers or results. A task is named by its number or by words of its title.\n\
         - Tools act only on the signed-in user; never ask for or pass a user id.\n\
         - If a tool answers `ambiguous` or `not_found`, ask the user which task they mean \
           instead of guessing. Before deleting, make sure the task is the one meant; when you \
           are unsure, ask first.\n\
         - Dates are YYYY-MM-DD. Today is {today}; \"kal\" means tomorrow, \"parson\" the day \
           after, \"aaj\" today.\n\
         - Keep answers short and friendly; mention task numbers and titles in single quotes."
    )
}

/// The request messages: system prompt, replayed history with hidden notes after the messages
/// they follow, then the new user message.
pub fn messages(
    system: &str,
    history: &[Message],
    notes: &[ContextNote],
    content: &str,
) -> Vec<Value> {
    let mut out = vec![json!({"role": "system", "content": system})];
    let note = |n: &ContextNote| json!({"role": "system", "content": n.text});
    for (i, message) in history.iter().enumerate() {
        match message.role {
            Role::User => out.push(json!({"role": "user", "content": message.content})),
            Role::Assistant => replay_assistant(&mut out, message, i),
            // Tool results are stored inside the assistant message that made the call.
            Role::Tool => {}
        }
        out.extend(
            notes
                .iter()
                .filter(|n| n.after_seq == message.seq)
                .map(note),
        );
    }
    // Notes written after the last replayed message.
    let last_seq = history.last().map(|m| m.seq).unwrap_or(i64::MIN);
    out.extend(notes.iter().filter(|n| n.after_seq > last_seq).map(note));
    out.push(json!({"role": "user", "content": content}));
    out
}

/// An assistant message becomes: its tool calls, one tool message per result, then its text.
fn replay_assistant(out: &mut Vec<Value>, message: &Message, position: usize) {
    if !message.tool_calls.is_empty() {
        let ids: Vec<String> = message
            .tool_calls
            .iter()
            .enumerate()
            .map(|(j, c)| {
                c.id.clone()
                    .unwrap_or_else(|| format!("call_h{position}_{j}"))
            })
            .collect();
        let calls: Vec<Value> = message
            .tool_calls
            .iter()
            .zip(&ids)
            .map(|(c, id)| {
                json!({
                    "id": id,
                    "type": "function",
                    "function": {"name": c.tool_name, "arguments": c.arguments.to_string()},
                })
            })
            .collect();
        out.push(json!({"role": "assistant", "tool_calls": calls}));
        for (call, id) in message.tool_calls.iter().zip(&ids) {
            out.push(
                json!({"role": "tool", "tool_call_id": id, "content": call.result.to_string()}),
            );
        }
    }
    if !message.content.is_empty() {
        out.push(json!({"role": "assistant", "content": message.content}));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{MessageId, MessageStatus, ThreadId, ToolCall};

    fn msg(role: Role, content: &str, calls: Vec<ToolCall>) -> Message {
        Message {
            id: MessageId::new(),
            conversation_id: ThreadId::new(),
            seq: 1,
            role,
            content: content.into(),
            tool_calls: calls,
            status: MessageStatus::Completed,
            usage: None,
            created_at: chrono::Utc::now(),
            next_seq: None,
        }
    }

    #[test]
    fn history_replays_tool_calls_and_results_in_api_order() {
        let call = ToolCall {
            id: Some("call_1".into()),
            tool_name: "add_task".into(),
            arguments: json!({"title": "buy milk"}),
            result: json!({"ok": true, "task": {"number": 4}}),
        };
        let history = vec![
            msg(Role::User, "add buy milk", vec![]),
            msg(Role::Assistant, "Added task #4.", vec![call]),
        ];
        let m = messages("SYS", &history, &[], "mark it done");
        let roles: Vec<&str> = m.iter().map(|v| v["role"].as_str().unwrap()).collect();
        assert_eq!(
            roles,
            ["system", "user", "assistant", "tool", "assistant", "user"]
        );
        assert_eq!(m[2]["tool_calls"][0]["id"], "call_1");
        assert_eq!(m[2]["tool_calls"][0]["function"]["name"], "add_task");
        let args: Value = serde_json::from_str(
            m[2]["tool_calls"][0]["function"]["arguments"]
                .as_str()
                .unwrap(),
        )
        .unwrap();
        assert_eq!(args["title"], "buy milk");
        assert_eq!(m[3]["tool_call_id"], "call_1");
        assert!(m[3]["content"].as_str().unwrap().contains("\"number\":4"));
        assert_eq!(m[4]["content"], "Added task #4.");
        assert_eq!(m[5]["content"], "mark it done");
    }

    #[test]
    fn calls_without_ids_get_stable_unique_ones() {
        let call = |n: &str| ToolCall {
            id: None,
            tool_name: n.into(),
            arguments: json!({}),
            result: json!({}),
        };
        let history = vec![msg(Role::Assistant, "", vec![call("a"), call("b")])];
        let m = messages("S", &history, &[], "x");
        let a = m[1]["tool_calls"][0]["id"].as_str().unwrap();
        let b = m[1]["tool_calls"][1]["id"].as_str().unwrap();
        assert_ne!(a, b);
        assert_eq!(m[2]["tool_call_id"], a);
        assert_eq!(m[3]["tool_call_id"], b);
        // No empty assistant text message is sent.
        assert_eq!(m.len(), 5);
    }

    #[test]
    fn hidden_notes_follow_the_message_they_were_written_after() {
        let mut a = msg(Role::User, "count to ten", vec![]);
        a.seq = 1;
        let mut b = msg(Role::Assistant, "one two", vec![]);
        b.seq = 2;
        let notes = [ContextNote {
            after_seq: 2,
            text: "The user stopped this answer.".into(),
        }];
        let m = messages("S", &[a, b], &notes, "hi");
        let roles: Vec<&str> = m.iter().map(|v| v["role"].as_str().unwrap()).collect();
        assert_eq!(roles, ["system", "user", "assistant", "system", "user"]);
        assert_eq!(m[3]["content"], "The user stopped this answer.");
        // A note after the newest message, with no history at all, still comes before the user.
        let m = messages("S", &[], &notes, "hi");
        assert_eq!(m[1]["content"], "The user stopped this answer.");
        // Exactly once.
        let m = messages("S", &[msg(Role::User, "x", vec![])], &notes, "hi");
        assert_eq!(
            m.iter()
                .filter(|v| v["content"] == "The user stopped this answer.")
                .count(),
            1
        );
    }

    #[test]
    fn prompt_names_the_language_and_date() {
        let p = system_prompt(
            Language::RomanUrdu,
            NaiveDate::from_ymd_opt(2026, 11, 22).unwrap(),
        );
        assert!(p.contains("Roman Urdu (Urdu written"));
        assert!(p.contains("2026-11-22"));
    }
}
