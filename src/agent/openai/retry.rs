//! Retrying calls to the model provider: connect errors, 429 and 5xx.
//!
//! A tower retry policy under async-openai's client, so it sees the raw HTTP response (status and
//! `Retry-After`) before the body becomes a stream. Only the request that opens a stream is
//! retried: once tokens flow, a failure is final for that message. Delays are exponential with
//! full jitter, or what `Retry-After` asks for; the turn's own timeout bounds the total.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use async_openai::error::OpenAIError;
use async_openai::middleware::HttpRequestFactory;
use rand::Rng;
use reqwest::Response;

/// Retry policy for one model request.
#[derive(Debug, Clone)]
pub struct ProviderRetry {
    /// Retries left (tries = retries + 1).
    remaining: u32,
    attempt: u32,
    base: Duration,
    cap: Duration,
}

impl ProviderRetry {
    /// `tries` total attempts, first retry after about `base`, no wait longer than `cap`.
    pub fn new(tries: u32, base: Duration, cap: Duration) -> Self {
        ProviderRetry {
            remaining: tries.saturating_sub(1),
            attempt: 0,
            base,
            cap,
        }
    }

    /// The wait before the next try: `Retry-After` when the provider said, else full jitter
    /// over an exponentially growing window.
    fn delay(&mut self, retry_after: Option<Duration>) -> Duration {
        let window = self
            .base
            .saturating_mul(2u32.saturating_pow(self.attempt))
            .min(self.cap);
        self.attempt += 1;
        match retry_after {
            Some(wait) => wait.min(self.cap),
            None => {
                let nanos = window.as_nanos().min(u64::MAX as u128) as u64;
                Duration::from_nanos(rand::rng().random_range(nanos / 2..=nanos.max(1)))
            }
        }
    }
}

/// Whether a result is worth another try, and what the provider asked us to wait.
fn retryable(result: &Result<Response, OpenAIError>) -> Option<Option<Duration>> {
    match result {
        Ok(r) if r.status().as_u16() == 429 || r.status().is_server_error() => Some(retry_after(r)),
        Ok(_) => None,
        Err(OpenAIError::Reqwest(e)) if e.is_connect() || e.is_timeout() => Some(None),
        Err(_) => None,
    }
}

fn retry_after(r: &Response) -> Option<Duration> {
    r.headers()
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse::<f64>()
        .ok()
        .filter(|s| s.is_finite() && *s >= 0.0)
        .map(Duration::from_secs_f64)
}

impl tower::retry::Policy<HttpRequestFactory, Response, OpenAIError> for ProviderRetry {
    type Future = Pin<Box<dyn Future<Output = ()> + Send + 'static>>;

    fn retry(
        &mut self,
        _req: &mut HttpRequestFactory,
        result: &mut Result<Response, OpenAIError>,
    ) -> Option<Self::Future> {
        if self.remaining == 0 {
            return None;
        }
        let retry_after = retryable(result)?;
        self.remaining -= 1;
        let wait = self.delay(retry_after);
        tracing::debug!(?wait, "retrying the model provider");
        Some(Box::pin(tokio::time::sleep(wait)))
    }

    fn clone_request(&mut self, req: &HttpRequestFactory) -> Option<HttpRequestFactory> {
        Some(req.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_grow_with_jitter_and_respect_retry_after_and_cap() {
        let mut p = ProviderRetry::new(3, Duration::from_millis(100), Duration::from_secs(2));
        let d0 = p.delay(None);
        assert!(d0 >= Duration::from_millis(50) && d0 <= Duration::from_millis(100));
        let d1 = p.delay(None);
        assert!(d1 >= Duration::from_millis(100) && d1 <= Duration::from_millis(200));
        assert_eq!(
            p.delay(Some(Duration::from_secs(1))),
            Duration::from_secs(1)
        );
        assert_eq!(
            p.delay(Some(Duration::from_secs(60))),
            Duration::from_secs(2)
        );
        for _ in 0..20 {
            assert!(p.delay(None) <= Duration::from_secs(2));
        }
    }

    #[test]
    fn tries_count_includes_the_first() {
        assert_eq!(
            ProviderRetry::new(3, Duration::ZERO, Duration::ZERO).remaining,
            2
        );
        assert_eq!(
            ProviderRetry::new(1, Duration::ZERO, Duration::ZERO).remaining,
            0
        );
    }
}
