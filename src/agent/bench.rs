//! The bench agent: answers every message with exactly `deltas` word deltas, `delay` apart (on a
//! schedule from the first, so pacing does not drift), and
//! calls no tool, so load runs measure the server rather than the agent and stay comparable.
//!
//! It is selected with `BENCH_AGENT_DELTAS` (see `.env.example`) and is never the default.

use std::time::Duration;

use futures::{stream, StreamExt};

use super::{AgentInput, AgentStep, StepStream};
use crate::model::Usage;

/// A fixed-shape answer: `deltas` words, the first at once, the rest `delay` apart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BenchAgent {
    pub deltas: u32,
    pub delay: Duration,
}

impl BenchAgent {
    pub fn new(deltas: u32, delay: Duration) -> Self {
        BenchAgent { deltas, delay }
    }

    /// The turn: `deltas` [`AgentStep::Delta`]s of [`delta_text`], then one [`AgentStep::Usage`]
    /// counting one prompt token per input word and one completion token per delta.
    pub fn run(&self, input: AgentInput) -> StepStream {
        let delay = self.delay;
        let usage = Usage {
            prompt_tokens: input.content.split_whitespace().count() as u32,
            completion_tokens: self.deltas,
            total_tokens: input.content.split_whitespace().count() as u32 + self.deltas,
        };
        // Delta `i` is due `i × delay` after the first, as a model produces tokens at its own
        // pace: a turn held up by a busy server sends what is due at once rather than shifting
        // the rest of its answer later.
        let start = tokio::time::Instant::now();
        stream::iter(0..self.deltas)
            .then(move |i| async move {
                // The first delta goes at once, so time to first delta measures the server.
                if i > 0 && !delay.is_zero() {
                    tokio::time::sleep_until(start + delay * i).await;
                }
                Ok(AgentStep::Delta(delta_text(i)))
            })
            .chain(stream::once(async move { Ok(AgentStep::Usage(usage)) }))
            .boxed()
    }
}

/// The text of delta `i`: a short word and a space (`"w0 "`, `"w1 "` …), the size of a typical
/// model token. The baseline server of the benchmarks sends the same words.
pub fn delta_text(i: u32) -> String {
    format!("w{i} ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::agent::Language;

    fn input(content: &str) -> AgentInput {
        AgentInput {
            history: Vec::new(),
            content: content.into(),
            language: Language::English,
            today: chrono::NaiveDate::from_ymd_opt(2026, 1, 1).unwrap(),
            notes: Vec::new(),
        }
    }

    async fn steps(agent: &BenchAgent, content: &str) -> Vec<AgentStep> {
        agent
            .run(input(content))
            .map(|s| s.expect("bench steps never fail"))
            .collect()
            .await
    }

    #[tokio::test]
    async fn answers_with_exactly_that_many_deltas_and_no_tool() {
        let agent = BenchAgent::new(64, Duration::ZERO);
        let steps = steps(&agent, "delete my meeting task").await;
        assert_eq!(steps.len(), 65);
        let deltas: Vec<&AgentStep> = steps
            .iter()
            .filter(|s| matches!(s, AgentStep::Delta(_)))
            .collect();
        assert_eq!(deltas.len(), 64);
        assert_eq!(deltas[0], &AgentStep::Delta("w0 ".into()));
        assert_eq!(deltas[63], &AgentStep::Delta("w63 ".into()));
        assert!(!steps
            .iter()
            .any(|s| matches!(s, AgentStep::ToolCalled(_) | AgentStep::TaskChanged(..))));
        assert_eq!(
            steps.last(),
            Some(&AgentStep::Usage(Usage {
                prompt_tokens: 4,
                completion_tokens: 64,
                total_tokens: 68
            }))
        );
    }

    #[tokio::test]
    async fn zero_deltas_is_an_empty_answer() {
        let steps = steps(&BenchAgent::new(0, Duration::ZERO), "hi").await;
        assert_eq!(steps.len(), 1);
        assert!(matches!(steps[0], AgentStep::Usage(_)));
    }

    #[tokio::test(start_paused = true)]
    async fn deltas_are_paced_after_the_first() {
        let agent = BenchAgent::new(5, Duration::from_millis(20));
        let start = tokio::time::Instant::now();
        let mut stream = agent.run(input("x"));
        let first = stream.next().await.unwrap().unwrap();
        assert_eq!(first, AgentStep::Delta("w0 ".into()));
        assert_eq!(start.elapsed(), Duration::ZERO);
        while stream.next().await.is_some() {}
        // Four gaps of 20 ms between five deltas; paused time advances exactly.
        assert_eq!(start.elapsed(), Duration::from_millis(80));
    }
}
