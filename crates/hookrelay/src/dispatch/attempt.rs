//! One attempt of a delivery: send it, decide what happens next (the retry policy), count it and
//! log it, and describe it as the record the recorder writes.

use std::sync::Arc;

use super::retry::{is_success, unsuccessful_status, RetryPolicy};
use super::sender::Sender;
use crate::domain::delivery::Attempt;
use crate::domain::job::{AttemptRecord, DeliveryJob, Outcome};
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
        if job.signing.as_ref().is_some_and(|s| !s.keys.can_sign()) {
            over(0);
            let error = "not sent: the webhook's stored signing secrets cannot be read; rotate \
                         the secret or turn signing off and on again, then resend"
                .to_string();
            return not_sent(&job, crate::domain::now_ms(), error);
        }
        let mut sent = self
            .sender
            .send(
                target,
                job.body.clone(),
                job.attempt_no,
                job.signing.as_ref(),
                Some(&job),
            )
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
            license_id: job.license_id,
            webhook_id: job.webhook_id,
            attempt: sent.attempt,
            outcome,
            target_key: Some(target_key),
        }
    }
}

/// The record of a delivery failed without sending anything, and why (a stored URL or signing
/// secrets that no longer parse: only possible if the database was edited by hand).
pub(super) fn not_sent(job: &DeliveryJob, now: Millis, error: String) -> AttemptRecord {
    AttemptRecord {
        delivery_id: job.id,
        license_id: job.license_id.clone(),
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
