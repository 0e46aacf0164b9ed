//! The delta coalescing window (`STREAM_COALESCE_MS`, off by default): text an agent produces
//! within one window of a delta's first piece travels as one delta.
//!
//! A model streaming at 30–150 tokens a second makes one frame per token for every socket of
//! the user; with a 40 ms window (what Ably and Sockudo offer) a fast answer makes a few frames
//! where it made dozens, at the price of up to one window of added latency per piece. `seq`
//! keeps its meaning: it numbers the deltas of an answer as they are sent (0, 1, 2 …), so a
//! client that appends by `seq` and resumes by position needs no change — a delta only carries
//! more text. Anything else the agent does (a tool call, usage, the end of the answer) first
//! sends the text held so far, so the order of steps is kept. A turn stopped mid-window keeps
//! the text sent so far, as it always does: what was held was never shown to anyone.

use std::time::Duration;

use futures::StreamExt;
use tokio::time::Instant;

use super::{AgentStep, StepStream};

/// `steps` with the deltas of each `window` merged; `steps` itself when `window` is zero.
pub fn coalesce(steps: StepStream, window: Duration) -> StepStream {
    if window.is_zero() {
        return steps;
    }
    struct State {
        steps: StepStream,
        window: Duration,
        /// Text held, and when it must leave.
        held: String,
        due: Option<Instant>,
        /// A step that came while text was held: it follows that text.
        next: Option<Result<AgentStep, crate::error::Error>>,
        done: bool,
    }
    let state = State {
        steps,
        window,
        held: String::new(),
        due: None,
        next: None,
        done: false,
    };
    futures::stream::unfold(state, |mut s| async move {
        loop {
            if let Some(step) = s.next.take() {
                return Some((step, s));
            }
            if s.done {
                return None;
            }
            let step = match s.due {
                None => s.steps.next().await,
                Some(due) => tokio::select! {
                    biased;
                    step = s.steps.next() => step,
                    _ = tokio::time::sleep_until(due) => {
                        s.due = None;
                        return Some((Ok(AgentStep::Delta(std::mem::take(&mut s.held))), s));
                    }
                },
            };
            match step {
                Some(Ok(AgentStep::Delta(text))) => {
                    if text.is_empty() {
                        continue;
                    }
                    s.held.push_str(&text);
                    s.due.get_or_insert_with(|| Instant::now() + s.window);
                }
                other => {
                    s.done = other.is_none();
                    s.next = other;
                    if s.due.take().is_some() {
                        return Some((Ok(AgentStep::Delta(std::mem::take(&mut s.held))), s));
                    }
                }
            }
        }
    })
    .boxed()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Error;
    use crate::model::{ToolCall, Usage};

    fn delta(t: &str) -> Result<AgentStep, Error> {
        Ok(AgentStep::Delta(t.into()))
    }

    /// `(step, gap before it in ms)` as a paced stream, on the paused test clock.
    fn paced(steps: Vec<(Result<AgentStep, Error>, u64)>) -> StepStream {
        futures::stream::iter(steps)
            .then(|(step, gap)| async move {
                tokio::time::sleep(Duration::from_millis(gap)).await;
                step
            })
            .boxed()
    }

    async fn collect(s: StepStream) -> Vec<(AgentStep, u64)> {
        let start = Instant::now();
        s.map(|r| (r.expect("no error"), start.elapsed().as_millis() as u64))
            .collect()
            .await
    }

    #[tokio::test(start_paused = true)]
    async fn deltas_within_a_window_travel_together_and_leave_when_it_closes() {
        // Tokens at 20, 40 … 120 ms; a 50 ms window from the first token held.
        let tokens: Vec<_> = (0..6).map(|i| (delta(&format!("w{i} ")), 20)).collect();
        let out = collect(coalesce(paced(tokens), Duration::from_millis(50))).await;
        assert_eq!(
            out,
            vec![
                // w0 (20 ms) opens a window closing at 70: w1 and w2 join it.
                (AgentStep::Delta("w0 w1 w2 ".into()), 70),
                // w3 (80 ms) opens the next; the answer ends at 120 with w5, before it closes.
                (AgentStep::Delta("w3 w4 w5 ".into()), 120),
            ]
        );
    }

    #[tokio::test(start_paused = true)]
    async fn other_steps_send_the_held_text_first_and_keep_their_order() {
        let call = ToolCall {
            id: None,
            tool_name: "add_task".into(),
            arguments: serde_json::json!({}),
            result: serde_json::json!({}),
        };
        let steps = vec![
            (delta("a"), 1),
            (delta("b"), 1),
            (Ok(AgentStep::ToolCalled(call.clone())), 1),
            (delta(""), 1),
            (delta("c"), 1),
            (Ok(AgentStep::Usage(Usage::default())), 1),
        ];
        let out: Vec<_> = collect(coalesce(paced(steps), Duration::from_secs(10)))
            .await
            .into_iter()
            .map(|(s, _)| s)
            .collect();
        assert_eq!(
            out,
            vec![
                AgentStep::Delta("ab".into()),
                AgentStep::ToolCalled(call),
                AgentStep::Delta("c".into()),
                AgentStep::Usage(Usage::default()),
            ]
        );
    }

    #[tokio::test(start_paused = true)]
    async fn the_end_of_the_answer_sends_what_is_held_and_errors_pass_through() {
        let out: Vec<_> = coalesce(
            paced(vec![(delta("x"), 1), (Err(Error::invalid("boom")), 1)]),
            Duration::from_secs(10),
        )
        .collect()
        .await;
        assert!(matches!(&out[0], Ok(AgentStep::Delta(d)) if d == "x"));
        assert!(matches!(&out[1], Err(Error::Invalid(_))));
        assert_eq!(out.len(), 2);
        let out = collect(coalesce(
            paced(vec![(delta("y"), 1)]),
            Duration::from_secs(10),
        ))
        .await;
        assert_eq!(out, vec![(AgentStep::Delta("y".into()), 1)]);
    }

    #[tokio::test]
    async fn a_zero_window_changes_nothing() {
        let out: Vec<_> = coalesce(
            paced(vec![(delta("a"), 0), (delta("b"), 0)]),
            Duration::ZERO,
        )
        .collect()
        .await;
        assert_eq!(out.len(), 2);
    }
}
