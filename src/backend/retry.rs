//! Retries with full-jitter exponential backoff, for idempotent provider requests only (GET,
//! HEAD, DELETE, LIST). A streamed PUT is never retried: its body cannot be replayed.

use std::future::Future;
use std::time::Duration;

use ring::rand::{SecureRandom, SystemRandom};

use super::BackendError;

/// Attempts in total.
pub const ATTEMPTS: u32 = 3;
const BASE: Duration = Duration::from_millis(100);
const CAP: Duration = Duration::from_secs(2);

/// A random delay in `[0, min(CAP, BASE · 2^attempt))`.
pub fn backoff(attempt: u32) -> Duration {
    let ceiling = BASE.saturating_mul(1 << attempt.min(10)).min(CAP);
    let mut r = [0u8; 4];
    // If the generator fails, fall back to the full ceiling: slower, never faster.
    let fraction = match SystemRandom::new().fill(&mut r) {
        Ok(()) => f64::from(u32::from_be_bytes(r)) / f64::from(u32::MAX),
        Err(_) => 1.0,
    };
    ceiling.mul_f64(fraction)
}

/// Runs `op` until it succeeds, fails with a non-retryable error, or runs out of attempts.
pub async fn idempotent<T, F, Fut>(mut op: F) -> Result<T, BackendError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, BackendError>>,
{
    let mut attempt = 0;
    loop {
        match op().await {
            Err(e) if e.retryable() && attempt + 1 < ATTEMPTS => {
                tracing::debug!(provider = %e.provider, error = %crate::report::Report(&e), attempt, "retrying provider request");
                tokio::time::sleep(backoff(attempt)).await;
                attempt += 1;
            }
            other => return other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_stays_under_its_ceiling() {
        for attempt in 0..20 {
            assert!(backoff(attempt) <= CAP);
        }
        assert!(backoff(0) <= BASE);
    }
}
