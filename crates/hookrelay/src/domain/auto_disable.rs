//! Auto-disable: the rules that decide when hookrelay disables a webhook whose target keeps
//! failing, and what it says about it. Pure: the recorder feeds [`track`] a batch of attempts and
//! writes what it returns; the upkeep task asks [`should_disable`] of what the store kept and
//! writes [`reason`] on the webhook.
//!
//! A webhook is **failing** from its first unsuccessful attempt after its last HTTP 200 (or
//! whatever counts as delivered); any success ends it. It is disabled once it has been failing for
//! `disable_after` *and* failures kept coming until then (the last one at or after
//! `failing_since + disable_after`), so a webhook that failed once, long ago, and has had nothing
//! to send since is left alone.

use std::collections::HashMap;
use std::time::Duration;

use livechat_webhooks::EventType;

use super::job::{AttemptRecord, Outcome};
use super::{rfc3339, Millis};

/// A webhook's failure streak, as the store keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failing {
    /// The first unsuccessful attempt since the last success.
    pub since: Millis,
    /// The latest unsuccessful attempt.
    pub last_at: Millis,
    /// How the latest one failed: the HTTP status or the error, as a phrase.
    pub last: String,
}

/// What one batch of attempts changes in one webhook's streak.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Tracking {
    /// Its latest attempt in the batch succeeded: the streak (if any) ends.
    Answered { webhook_id: String },
    /// Its latest attempts failed. `restart`: a success came earlier in the batch, so the streak
    /// starts at `first_at` whatever was stored; otherwise a stored streak goes on.
    Failed {
        webhook_id: String,
        first_at: Millis,
        last_at: Millis,
        last: String,
        restart: bool,
    },
}

/// Folds a batch of attempts (in the order they were recorded) into one change per webhook, in
/// the order webhooks first appear, so a busy webhook costs one write per batch, not per attempt.
pub fn track(records: &[AttemptRecord]) -> Vec<Tracking> {
    let mut out: Vec<Tracking> = Vec::new();
    let mut index: HashMap<&str, usize> = HashMap::new();
    for r in records {
        let at = r.ended_at();
        let Some(&i) = index.get(r.webhook_id.as_str()) else {
            index.insert(&r.webhook_id, out.len());
            out.push(match r.outcome {
                Outcome::Succeeded => Tracking::Answered {
                    webhook_id: r.webhook_id.clone(),
                },
                // A stored streak goes on.
                _ => failed(r, at, false),
            });
            continue;
        };
        let change = &mut out[i];
        match (r.outcome, &mut *change) {
            (Outcome::Succeeded, Tracking::Answered { .. }) => {}
            (Outcome::Succeeded, Tracking::Failed { .. }) => {
                *change = Tracking::Answered {
                    webhook_id: r.webhook_id.clone(),
                }
            }
            (
                _,
                Tracking::Failed {
                    first_at,
                    last_at,
                    last,
                    ..
                },
            ) => {
                *first_at = (*first_at).min(at);
                *last_at = at;
                *last = failure_phrase(r);
            }
            // A success came earlier in this batch: the streak starts here.
            (_, Tracking::Answered { .. }) => *change = failed(r, at, true),
        }
    }
    out
}

fn failed(r: &AttemptRecord, at: Millis, restart: bool) -> Tracking {
    Tracking::Failed {
        webhook_id: r.webhook_id.clone(),
        first_at: at,
        last_at: at,
        last: failure_phrase(r),
        restart,
    }
}

impl Tracking {
    pub fn webhook_id(&self) -> &str {
        match self {
            Tracking::Answered { webhook_id } | Tracking::Failed { webhook_id, .. } => webhook_id,
        }
    }
}

/// How an attempt failed, as kept on the webhook: its error (which names the HTTP status when
/// there was one), or the bare status.
fn failure_phrase(r: &AttemptRecord) -> String {
    match (&r.attempt.error, r.attempt.status_code) {
        (Some(error), _) => error.clone(),
        (None, Some(code)) => format!("the target answered HTTP {code}"),
        (None, None) => "no answer".into(),
    }
}

/// Whether a webhook failing as `failing` says is to be disabled at `now`: failing for at least
/// `disable_after`, with failures still coming at its end.
pub fn should_disable(failing: &Failing, now: Millis, disable_after: Duration) -> bool {
    let after = disable_after.as_millis().min(i64::MAX as u128) as Millis;
    let due = failing.since.saturating_add(after);
    now >= due && failing.last_at >= due
}

/// The sentence kept as `disabled_reason`: since when, for how long, and the last failure.
pub fn reason(failing: &Failing) -> String {
    let span = Duration::from_millis((failing.last_at - failing.since).max(0) as u64);
    // Whole seconds read better than "5days 3m 2s 120ms".
    let span = Duration::from_secs(span.as_secs());
    format!(
        "disabled by hookrelay: its target answered no HTTP 200 from {} to {} ({}) while its \
         deliveries kept failing; the last attempt: {}",
        rfc3339(failing.since),
        rfc3339(failing.last_at),
        humantime::format_duration(span),
        failing.last
    )
}

/// Whether disabling a webhook of `event_type` is announced with a `webhook_disabled` event: not
/// for a webhook that receives operational events itself, so that a broken operational
/// integration cannot feed a storm of events about itself.
pub fn announces(event_type: EventType) -> bool {
    !event_type.is_operational()
}

/// Whether a delivery of an event of `event_type` that failed is announced with a
/// `delivery_failed` event: not when it carried an operational event (no events about events
/// about events).
pub fn announces_failure_of(event_type: EventType) -> bool {
    !event_type.is_operational()
}

/// How often the upkeep task looks for webhooks to disable: a tenth of `disable_after`, at most
/// a minute (so a webhook is disabled within 10 % or a minute of its due time).
pub fn check_interval(disable_after: Duration) -> Duration {
    (disable_after / 10).clamp(Duration::from_millis(50), Duration::from_secs(60))
}

#[cfg(test)]
#[path = "auto_disable_tests.rs"]
mod tests;
