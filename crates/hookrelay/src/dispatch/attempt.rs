//! One attempt of a delivery: send it, decide what happens next (the retry policy), count it and
//! log it, and describe it as the record the recorder writes.

use std::sync::Arc;

use super::retry::{is_success, unsuccessful_status, RetryPolicy};
use super::sender::Sender;
use crate::domain::delivery::Attempt;
use crate::domain::job::{AttemptRecord, DeliveryJob, Outcome};
use crate::domain::signing::SigningKeys;
use crate::domain::target::TargetUrl;
use crate::domain::Millis;
use crate::metrics;

/// What an attempt needs besides the job.
#[derive(Clone)]
pub(super) struct Attempter {
    pub(super) sender: Sender,
    pub(super) retry: RetryPolicy,
    pub(super) success_any_2xx: bool,
}

impl Attempter {
    /// Makes one attempt. `over` is called with its duration as soon as the exchange is over (so
    /// the target's slot frees before the bookkeeping).
    pub(super) async fn run(
        &self,
        job: DeliveryJob,
        target: &TargetUrl,
        target_key: Arc<str>,
        over: impl FnOnce(i64),
    ) -> AttemptRecord {
        let keys = match job
            .signing
            .as_ref()
            .map(|s| SigningKeys::from_stored(&s.keys))
        {
            Some(Err(e)) => {
                over(0);
                let error = format!("stored signing secrets are invalid: {e}");
                return not_sent(&job, crate::domain::now_ms(), error);
            }
            Some(Ok(keys)) => Some(keys),
            None => None,
        };
        let signing = keys
            .as_ref()
            .zip(job.signing.as_ref())
            .map(|(keys, s)| (keys, s.message_id.as_str()));
        let mut sent = self
            .sender
            .send(target, job.body.clone(), job.attempt_no, signing)
            .await;
        over(sent.attempt.duration_ms);
        let a = &mut sent.attempt;
        let outcome = match a.status_code {
            Some(code) if is_success(code, self.success_any_2xx) => Outcome::Succeeded,
            _ => {
                if let (Some(code), None) = (a.status_code, &a.error) {
                    a.error = Some(unsuccessful_status(code, self.success_any_2xx));
                }
                let now = a.started_at + a.duration_ms;
                let roll = rand::random::<f64>();
                self.retry
                    .after_failure(job.attempt_no, now, sent.retry_after, roll)
            }
        };
        metrics::attempt_finished(&job, &sent.attempt, outcome);
        log_attempt(&job, &sent.attempt, outcome);
        AttemptRecord {
            delivery_id: job.id,
            webhook_id: job.webhook_id,
            attempt: sent.attempt,
            outcome,
            target_key: Some(target_key),
        }
    }
}

/// The record of a delivery failed without sending anything, and why (a stored URL that no
/// longer parses: only possible if the database was edited by hand).
pub(super) fn not_sent(job: &DeliveryJob, now: Millis, error: String) -> AttemptRecord {
    AttemptRecord {
        delivery_id: job.id,
        webhook_id: job.webhook_id.clone(),
        attempt: Attempt {
            attempt_no: job.attempt_no,
            started_at: now,
            duration_ms: 0,
            status_code: None,
            error: Some(error),
            response_body: None,
        },
        outcome: Outcome::Failed,
        target_key: None,
    }
}

/// One structured line per attempt, keyed by the delivery id: successes at debug (a busy relay
/// makes thousands a second), retries at info, a delivery whose retries ran out at warn.
fn log_attempt(job: &DeliveryJob, a: &Attempt, outcome: Outcome) {
    let outcome_label = metrics::outcome_label(outcome);
    macro_rules! line {
        ($level:ident, $message:literal) => {
            tracing::$level!(
                delivery_id = %job.id,
                license_id = %job.license_id,
                webhook_id = %job.webhook_id,
                event_type = job.event_type.as_str(),
                attempt = job.attempt_no,
                status_code = a.status_code,
                duration_ms = a.duration_ms,
                error = a.error.as_deref(),
                outcome = outcome_label,
                $message
            )
        };
    }
    match outcome {
        Outcome::Succeeded => line!(debug, "delivered"),
        Outcome::RetryAt(_) => line!(info, "attempt failed; retry scheduled"),
        Outcome::Failed => line!(warn, "attempt failed; no retries left, delivery failed"),
    }
}
