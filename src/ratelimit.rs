//! Per-user limit on turn-starting requests, shared by every transport.
//!
//! A keyed GCRA limiter (governor): `requests` per `window`, with a burst of `requests`, so a user
//! may send the whole allowance at once and then one more each `window / requests`.

use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota};

use crate::error::{Error, Result};
use crate::model::UserId;

/// Cheap-to-clone handle; `None` inside means unlimited.
#[derive(Clone)]
pub struct RateLimiter(Option<Arc<DefaultKeyedRateLimiter<UserId>>>);

impl RateLimiter {
    /// `requests == 0` disables the limit.
    pub fn new(requests: u32, window: Duration) -> Self {
        let Some(burst) = NonZeroU32::new(requests) else {
            return RateLimiter(None);
        };
        let period = (window / requests).max(Duration::from_nanos(1));
        let quota = Quota::with_period(period)
            .expect("period is non-zero")
            .allow_burst(burst);
        RateLimiter(Some(Arc::new(governor::RateLimiter::keyed(quota))))
    }

    /// Takes one request from `user`'s allowance, or says how long to wait.
    pub fn check(&self, user: &UserId) -> Result<()> {
        let Some(limiter) = &self.0 else {
            return Ok(());
        };
        limiter.check_key(user).map_err(|not_until| {
            Error::RateLimited(not_until.wait_time_from(DefaultClock::default().now()))
        })?;
        // Keep the key table from growing without bound under many distinct users.
        if limiter.len() > 100_000 {
            limiter.retain_recent();
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allows_the_burst_then_refuses_with_a_wait() {
        let rl = RateLimiter::new(3, Duration::from_secs(60));
        let u = UserId::new("u");
        for _ in 0..3 {
            rl.check(&u).unwrap();
        }
        match rl.check(&u) {
            Err(Error::RateLimited(wait)) => {
                assert!(wait > Duration::from_secs(15) && wait <= Duration::from_secs(20))
            }
            other => panic!("expected rate limit, got {other:?}"),
        }
        // Another user has their own allowance.
        rl.check(&UserId::new("v")).unwrap();
    }

    #[test]
    fn zero_disables() {
        let rl = RateLimiter::new(0, Duration::from_secs(60));
        for _ in 0..1000 {
            rl.check(&UserId::new("u")).unwrap();
        }
    }
}
