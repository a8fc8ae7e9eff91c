//! The retry policy, as pure functions: what counts as delivered, and when to try again.

use std::time::Duration;

use crate::domain::job::Outcome;
use crate::domain::Millis;

/// When to retry, from the configuration.
#[derive(Debug, Clone)]
pub struct RetryPolicy {
    /// Delay before retry 1, 2, …; its length is the number of retries.
    pub schedule: Vec<Duration>,
    /// Each delay moves at random by up to this fraction either way.
    pub jitter: f64,
    /// A `Retry-After` postpones a retry by at most this.
    pub max_retry_after: Duration,
}

impl RetryPolicy {
    /// What happens after failed attempt number `attempt_no` (1-based) at `now`. `roll` is a
    /// random number in [0, 1) that picks the jitter; `retry_after` is what a 429 or 503 asked for.
    ///
    /// The delay is the scheduled one, jittered; a `Retry-After` can postpone it (never bring it
    /// forward) up to `max_retry_after`. After the last scheduled retry the delivery has failed.
    pub fn after_failure(
        &self,
        attempt_no: i64,
        now: Millis,
        retry_after: Option<Duration>,
        roll: f64,
    ) -> Outcome {
        let index = usize::try_from(attempt_no - 1).unwrap_or(usize::MAX);
        let Some(scheduled) = self.schedule.get(index) else {
            return Outcome::Failed;
        };
        let factor = 1.0 + self.jitter * (2.0 * roll.clamp(0.0, 1.0) - 1.0);
        let mut delay = scheduled.mul_f64(factor.max(0.0));
        if let Some(asked) = retry_after {
            delay = delay.max(asked.min(self.max_retry_after));
        }
        Outcome::RetryAt(now + delay.as_millis() as i64)
    }
}

impl RetryPolicy {
    /// The longest the whole schedule can take, jitter included: how long a delivery may wait,
    /// untried, for a target that does not answer before it fails.
    pub fn window(&self) -> Duration {
        let total: Duration = self.schedule.iter().sum();
        total.mul_f64(1.0 + self.jitter.max(0.0))
    }
}

/// LiveChat's rule: delivered means HTTP 200. `any_2xx` widens it to every 2xx.
pub fn is_success(status: u16, any_2xx: bool) -> bool {
    status == 200 || (any_2xx && (200..300).contains(&status))
}

/// Why an answer with this status did not count as delivered.
pub fn unsuccessful_status(status: u16, any_2xx: bool) -> String {
    let rule = if any_2xx { "a 2xx status" } else { "HTTP 200" };
    format!("the target answered HTTP {status}; only {rule} counts as delivered")
}

/// Whether a status invites a `Retry-After` to be honoured.
pub fn honours_retry_after(status: u16) -> bool {
    status == 429 || status == 503
}

/// Parses a `Retry-After` value: seconds, or an HTTP date (relative to `now`).
pub fn parse_retry_after(value: &str, now: std::time::SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn policy() -> RetryPolicy {
        RetryPolicy {
            schedule: vec![Duration::from_secs(10), Duration::from_secs(60)],
            jitter: 0.2,
            max_retry_after: Duration::from_secs(3600),
        }
    }

    #[test]
    fn the_window_is_the_whole_schedule_at_its_longest() {
        assert_eq!(policy().window(), Duration::from_secs(84));
        let default = RetryPolicy {
            schedule: crate::config::Config::defaults().retry_schedule,
            jitter: 0.2,
            max_retry_after: Duration::from_secs(3600),
        };
        let hours = default.window().as_secs_f64() / 3600.0;
        assert!(hours < 6.0, "inside LiveChat's 6 hours: {hours}");
    }

    #[test]
    fn the_first_failure_waits_the_first_delay() {
        assert_eq!(
            policy().after_failure(1, 1_000, None, 0.5),
            Outcome::RetryAt(11_000)
        );
        assert_eq!(
            policy().after_failure(2, 0, None, 0.5),
            Outcome::RetryAt(60_000)
        );
    }

    #[test]
    fn the_failure_after_the_last_retry_is_final() {
        assert_eq!(policy().after_failure(3, 0, None, 0.5), Outcome::Failed);
        assert_eq!(policy().after_failure(99, 0, None, 0.5), Outcome::Failed);
    }

    #[test]
    fn retry_after_postpones_but_never_hastens_and_is_capped() {
        let p = policy();
        let asked = |s| Some(Duration::from_secs(s));
        assert_eq!(
            p.after_failure(1, 0, asked(120), 0.5),
            Outcome::RetryAt(120_000)
        );
        assert_eq!(
            p.after_failure(1, 0, asked(1), 0.5),
            Outcome::RetryAt(10_000)
        );
        assert_eq!(
            p.after_failure(1, 0, asked(86_400), 0.5),
            Outcome::RetryAt(3_600_000)
        );
    }

    #[test]
    fn only_200_is_success_unless_widened() {
        assert!(is_success(200, false));
        assert!(!is_success(204, false));
        assert!(is_success(204, true));
        assert!(!is_success(301, true));
        assert!(!is_success(500, true));
    }

    #[test]
    fn retry_after_is_read_as_seconds_or_a_date() {
        let now = std::time::UNIX_EPOCH + Duration::from_secs(1_000_000_000);
        assert_eq!(
            parse_retry_after("120", now),
            Some(Duration::from_secs(120))
        );
        let later = httpdate::fmt_http_date(now + Duration::from_secs(30));
        assert_eq!(
            parse_retry_after(&later, now),
            Some(Duration::from_secs(30))
        );
        assert_eq!(parse_retry_after("soon", now), None);
    }

    proptest! {
        #[test]
        fn jitter_stays_within_its_fraction(attempt in 1i64..=2, roll in 0.0f64..1.0) {
            let p = policy();
            let base = p.schedule[(attempt - 1) as usize].as_millis() as f64;
            match p.after_failure(attempt, 0, None, roll) {
                Outcome::RetryAt(at) => {
                    prop_assert!(at as f64 >= base * 0.8 - 1.0 && at as f64 <= base * 1.2 + 1.0);
                }
                other => prop_assert!(false, "{other:?}"),
            }
        }
    }
}
