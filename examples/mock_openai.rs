//! The provider for load runs: the scripted OpenAI-compatible server of the test suite
//! (`tests/common/mock_openai.rs`), answering every `POST /v1/chat/completions` with the same
//! streamed reply: `MOCK_WORDS` content chunks (default 64, the bench agent's words), a finish
//! chunk, a usage chunk and `[DONE]`, sent as one body as a fast provider does.
//!
//! ```sh
//! cargo run --release --example mock_openai -- 127.0.0.1:8803
//! OPENAI_BASE_URL=http://127.0.0.1:8803/v1 OPENAI_API_KEY=mock ... agentwire serve
//! ```

#[allow(dead_code)]
#[path = "../tests/common/mock_openai.rs"]
mod mock_openai;

use agentwire::agent::bench::delta_text;

#[tokio::main]
async fn main() {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:8803".into());
    let words: u32 = match std::env::var("MOCK_WORDS") {
        Ok(v) => v
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("MOCK_WORDS: expected a whole number, got {v:?}")),
        Err(_) => 64,
    };
    let texts: Vec<String> = (0..words).map(delta_text).collect();
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    let mock =
        mock_openai::MockOpenAi::standing(mock_openai::text(&refs, (40, words)), &addr).await;
    eprintln!("mock_openai at {}: {words} words per answer", mock.url);
    std::future::pending::<()>().await;
}
