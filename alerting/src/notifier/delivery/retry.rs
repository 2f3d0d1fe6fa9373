//! Retries with exponential backoff, as Alertmanager's retry stage (`notify.RetryStage`, which
//! uses `cenkalti/backoff`'s defaults with no elapsed-time limit): the first attempt at once, then
//! waits of 500 ms × 1.5ⁿ, each randomised by ±50 %, the base capped at 60 s, until the flush's
//! deadline (Alertmanager's context deadline: the next `group_interval` tick).

use std::future::Future;
use std::time::Duration;

use tokio::time::Instant;

use super::DeliveryError;

/// Exponential backoff with jitter. Each [`Backoff::next_delay`] is the current base interval
/// randomised uniformly within `base × (1 ± randomization)`; the base then grows by `multiplier`
/// up to `max_interval`.
#[derive(Clone, Debug, PartialEq)]
pub struct Backoff {
    /// First base interval (500 ms).
    pub initial: Duration,
    /// Growth of the base interval per wait (1.5).
    pub multiplier: f64,
    /// Jitter as a fraction of the base interval (0.5 → ±50 %), in [0, 1].
    pub randomization: f64,
    /// Cap of the base interval (60 s).
    pub max_interval: Duration,
    current: Duration,
}

impl Default for Backoff {
    /// Alertmanager's: 500 ms, ×1.5, ±50 %, capped at 60 s.
    fn default() -> Backoff {
        Backoff::new(Duration::from_millis(500), 1.5, 0.5, Duration::from_secs(60))
    }
}

impl Backoff {
    pub fn new(initial: Duration, multiplier: f64, randomization: f64, max_interval: Duration) -> Backoff {
        Backoff {
            initial,
            multiplier: multiplier.max(1.0),
            randomization: randomization.clamp(0.0, 1.0),
            max_interval,
            current: initial,
        }
    }

    /// The base interval the next wait is drawn around.
    pub fn current_interval(&self) -> Duration {
        self.current
    }

    /// The next wait, then grows the base interval.
    pub fn next_delay(&mut self) -> Duration {
        let base = self.current.as_secs_f64();
        let spread = base * self.randomization;
        let delay = base - spread + fastrand::f64() * 2.0 * spread;
        let grown = (base * self.multiplier).min(self.max_interval.as_secs_f64());
        self.current = Duration::from_secs_f64(grown.max(0.0));
        Duration::from_secs_f64(delay.max(0.0))
    }

    /// Back to the initial interval.
    pub fn reset(&mut self) {
        self.current = self.initial;
    }
}

/// [`deliver_with_backoff`] with Alertmanager's [`Backoff::default`].
pub async fn deliver_with_retries<F, Fut>(what: &str, deadline: Instant, attempt: F) -> Result<u32, DeliveryError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<(), DeliveryError>>,
{
    deliver_with_backoff(what, deadline, Backoff::default(), attempt).await
}

/// Runs `attempt` until it succeeds (returns the number of attempts), fails with an error that is
/// not [`retryable`](DeliveryError::retryable) (returned as is), or `deadline` passes
/// ([`DeliveryError::DeadlineExceeded`] with the last error). Each attempt is itself cut off at
/// the deadline; each failure is logged with `tracing::warn!` naming `what` and the attempt.
pub async fn deliver_with_backoff<F, Fut>(
    what: &str,
    deadline: Instant,
    mut backoff: Backoff,
    mut attempt: F,
) -> Result<u32, DeliveryError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<(), DeliveryError>>,
{
    let mut attempts = 0u32;
    let mut last: Option<DeliveryError> = None;
    loop {
        if Instant::now() >= deadline {
            let last = last.unwrap_or_else(|| DeliveryError::Connection {
                target: what.to_string(),
                detail: "deadline passed before the first attempt".to_string(),
            });
            return Err(DeliveryError::DeadlineExceeded { what: what.to_string(), attempts, last: Box::new(last) });
        }
        attempts += 1;
        let error = match tokio::time::timeout_at(deadline, attempt()).await {
            Ok(Ok(())) => return Ok(attempts),
            Ok(Err(error)) => error,
            Err(_elapsed) => DeliveryError::Connection {
                target: what.to_string(),
                detail: "attempt cut off at the deadline".to_string(),
            },
        };
        if !error.retryable() {
            tracing::warn!(what, attempts, error = %error, "notification failed, not retrying");
            return Err(error);
        }
        tracing::warn!(what, attempts, error = %error, "notification attempt failed, will retry");
        last = Some(error);
        let wake = Instant::now() + backoff.next_delay();
        tokio::time::sleep_until(wake.min(deadline)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_backoff_is_alertmanagers_and_stays_within_jitter_bounds() {
        let mut backoff = Backoff::default();
        let mut base = 0.5f64;
        for step in 0..40 {
            assert!((backoff.current_interval().as_secs_f64() - base).abs() < 1e-6, "step {step}");
            let delay = backoff.next_delay().as_secs_f64();
            assert!(delay >= base * 0.5 - 1e-9 && delay <= base * 1.5 + 1e-9, "step {step}: {delay} vs base {base}");
            base = (base * 1.5).min(60.0);
        }
        assert_eq!(backoff.current_interval(), Duration::from_secs(60), "capped");
        backoff.reset();
        assert_eq!(backoff.current_interval(), Duration::from_millis(500));
    }

    #[test]
    fn backoff_jitter_actually_varies() {
        let delays: Vec<Duration> = (0..20).map(|_| Backoff::default().next_delay()).collect();
        assert!(delays.iter().any(|d| *d != delays[0]), "{delays:?}");
    }

    #[test]
    fn backoff_without_randomization_is_exact() {
        let mut backoff = Backoff::new(Duration::from_millis(100), 2.0, 0.0, Duration::from_millis(350));
        let delays: Vec<u128> = (0..4).map(|_| backoff.next_delay().as_millis()).collect();
        assert_eq!(delays, vec![100, 200, 350, 350]);
    }

    #[tokio::test]
    async fn non_retryable_error_stops_at_once() {
        let deadline = Instant::now() + Duration::from_secs(5);
        let mut calls = 0;
        let result = deliver_with_retries("test", deadline, || {
            calls += 1;
            async { Err(DeliveryError::Status { target: "t".into(), status: 400, body: String::new() }) }
        })
        .await;
        assert!(matches!(result, Err(DeliveryError::Status { status: 400, .. })), "{result:?}");
        assert_eq!(calls, 1);
    }

    #[tokio::test]
    async fn retryable_errors_retry_until_success() {
        let deadline = Instant::now() + Duration::from_secs(10);
        let fast = Backoff::new(Duration::from_millis(5), 1.5, 0.5, Duration::from_millis(20));
        let mut calls = 0u32;
        let result = deliver_with_backoff("test", deadline, fast, || {
            calls += 1;
            let fail = calls < 4;
            async move {
                if fail {
                    Err(DeliveryError::Status { target: "t".into(), status: 429, body: String::new() })
                } else {
                    Ok(())
                }
            }
        })
        .await;
        assert_eq!(result.unwrap(), 4);
    }

    #[tokio::test]
    async fn an_attempt_that_hangs_is_cut_off_at_the_deadline() {
        let start = Instant::now();
        let deadline = start + Duration::from_millis(200);
        let result = deliver_with_retries("hang", deadline, || async {
            tokio::time::sleep(Duration::from_secs(30)).await;
            Ok(())
        })
        .await;
        match result {
            Err(DeliveryError::DeadlineExceeded { attempts, .. }) => assert_eq!(attempts, 1),
            other => panic!("{other:?}"),
        }
        assert!(start.elapsed() < Duration::from_secs(2));
    }
}

// Pharos — alerting/src/notifier/delivery/retry.rs
