//! A target's health: whether it answers, and how a target that does not is probed.
//!
//! A target is one scheme://host:port ([`super::target::TargetUrl::key`]): every webhook whose URL
//! points there shares its health. The value lives in the store, one row per target that has
//! missed at least once, so every node acts on the same facts and a restart forgets nothing. This
//! file holds the value and its pure transitions; the store applies what they decide in the same
//! transaction as the attempts that caused them:
//!
//! - after [`SILENT_AFTER`] attempts in a row that got no answer (refused, timed out, broken off)
//!   the target is **silent**: its never-answered pending deliveries are parked;
//! - a silent target gets one **probe** at a time, a real delivery taken out of the parked ones
//!   when `probe_at` comes; each failed probe doubles the gap, up to [`MAX_PROBE_GAP`];
//! - the first answer (any HTTP status) makes it **answering** again and unparks everything.
//!
//! No I/O, no clock, no randomness here: time comes in as arguments.

use std::collections::BTreeMap;
use std::time::Duration;

use super::job::AttemptRecord;
use super::Millis;

/// Attempts in a row without an answer after which a target is silent.
pub const SILENT_AFTER: u32 = 3;
/// The pause before a silent target's first probe; it doubles with every failed probe.
const PROBE_GAP: Duration = Duration::from_millis(500);
/// The longest pause between two probes.
pub const MAX_PROBE_GAP: Duration = Duration::from_secs(30);
/// The timings that depend on how long one attempt may take (see [`Timings::for_attempts`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timings {
    /// How long an unanswered attempt keeps a silence current. New deliveries are parked, and
    /// parked ones given up, only on a current silence: after a quiet spell the target may well
    /// be back, so it is tried again first. Longer than the longest gap between two probes.
    pub confirmed_for: Duration,
    /// A probe that has not come back by then (its node died, its delivery was deleted) is
    /// replaced by another. Longer than any attempt.
    pub watchdog: Duration,
}

impl Timings {
    /// The timings for attempts that time out after `attempt_timeout`: at least a minute each, and
    /// always longer than a probe gap plus a whole attempt.
    pub fn for_attempts(attempt_timeout: Duration) -> Timings {
        let minute = Duration::from_secs(60);
        Timings {
            confirmed_for: minute.max(MAX_PROBE_GAP + attempt_timeout * 2),
            watchdog: minute.max(attempt_timeout * 2 + Duration::from_secs(10)),
        }
    }
}
/// The shortest retry window a parked delivery waits before it is given up, however short the
/// retry schedule (a target is not written off the moment it misses three answers).
pub const MIN_WINDOW: Duration = Duration::from_secs(5);

/// One target's health, as stored. The default is a target that answers.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Health {
    /// Attempts in a row that got no answer.
    pub misses: u32,
    /// When it went silent; `None` while it answers.
    pub silent_since: Option<Millis>,
    /// When the next probe may go (while a probe is out: when to give up waiting for it).
    pub probe_at: Option<Millis>,
    /// Whether a probe is out, and which delivery it is.
    pub probing: bool,
    pub probe_id: Option<i64>,
    /// Failed probes since it went silent.
    pub probe_level: u32,
    /// When an attempt last got no answer.
    pub last_miss_at: Option<Millis>,
    /// Why that attempt got no answer.
    pub last_error: Option<String>,
}

/// One finished attempt, as the health transitions see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Observed<'a> {
    /// When it ended.
    pub at: Millis,
    /// Why it got no answer; `None` when it got one.
    pub error: Option<&'a str>,
    /// The delivery it was an attempt of.
    pub delivery: i64,
}

/// What the store does after a transition, besides writing the new value.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Effect {
    /// Make every parked delivery of the target due now (it answers again).
    pub unpark: bool,
    /// Park the target's never-answered pending deliveries that are not under way.
    pub park: bool,
}

impl Health {
    pub fn is_silent(&self) -> bool {
        self.silent_since.is_some()
    }

    /// Silent, and confirmed so by an unanswered attempt within `confirmed_for` of `now`.
    pub fn confirmed_silent(&self, now: Millis, confirmed_for: Duration) -> bool {
        self.is_silent()
            && self
                .last_miss_at
                .is_some_and(|at| now - at <= millis(confirmed_for))
    }

    /// The next probe time to show: `None` while the target answers or a probe is under way.
    pub fn next_probe_at(&self) -> Option<Millis> {
        self.probe_at.filter(|_| self.is_silent() && !self.probing)
    }

    /// The health after an attempt of delivery `delivery` that ended at `at` and got an answer
    /// (`error: None`) or none, and what the store must do about it.
    pub fn after_attempt(
        &self,
        at: Millis,
        error: Option<&str>,
        delivery: i64,
    ) -> (Health, Effect) {
        let Some(error) = error else {
            let effect = Effect {
                unpark: self.is_silent(),
                park: false,
            };
            return (Health::default(), effect);
        };
        let mut next = Health {
            misses: self.misses.saturating_add(1),
            last_miss_at: Some(at),
            last_error: Some(error.to_string()),
            ..self.clone()
        };
        if self.is_silent() {
            if self.probing && self.probe_id == Some(delivery) {
                // The probe failed: wait longer before the next one.
                next.probing = false;
                next.probe_id = None;
                next.probe_level = self.probe_level.saturating_add(1);
                next.probe_at = Some(at + millis(probe_gap(next.probe_level)));
            }
            // The probe, or an attempt that was under way when the target fell silent: either
            // way its delivery is parked again with the others.
            return (next, park());
        }
        if next.misses >= SILENT_AFTER {
            next.silent_since = Some(at);
            next.probe_level = 0;
            next.probing = false;
            next.probe_id = None;
            next.probe_at = Some(at + millis(probe_gap(0)));
            return (next, park());
        }
        (next, Effect::default())
    }

    /// Folds several attempts (in the order they ended) into one new value and one effect: what
    /// one store transaction applies for a batch of records. An answer after a silence unparks
    /// even if the target fell silent again within the same batch (the park then follows).
    pub fn after_attempts<'a>(
        &self,
        attempts: impl IntoIterator<Item = Observed<'a>>,
    ) -> (Health, Effect) {
        let mut health = self.clone();
        let mut effect = Effect::default();
        for o in attempts {
            let (next, e) = health.after_attempt(o.at, o.error, o.delivery);
            health = next;
            effect.unpark |= e.unpark;
            effect.park = (effect.park && !e.unpark) || e.park;
        }
        (health, effect)
    }
}

fn park() -> Effect {
    Effect {
        unpark: false,
        park: true,
    }
}

fn millis(d: Duration) -> Millis {
    d.as_millis() as Millis
}

/// The pause before the next probe after `level` failed probes.
pub fn probe_gap(level: u32) -> Duration {
    PROBE_GAP
        .saturating_mul(1 << level.min(16))
        .min(MAX_PROBE_GAP)
}

/// When a delivery parked at `now` for a target silent since `silent_since` is given up: once it
/// has waited the whole retry `window` (at least [`MIN_WINDOW`]) for that target. Only time the
/// target was silent counts, so waiting in a backlog before is not held against it.
pub fn parked_until(idle_since: Millis, silent_since: Millis, window: Duration) -> Millis {
    idle_since.max(silent_since) + window_ms(window)
}

/// How long a parked delivery waits for its target at most, in milliseconds: the retry window,
/// at least [`MIN_WINDOW`].
pub fn window_ms(window: Duration) -> Millis {
    millis(window.max(MIN_WINDOW))
}

/// The attempts of `records` that reached for a target, by target key, in order. What
/// [`Health::after_attempts`] folds.
pub fn attempts_by_target(records: &[AttemptRecord]) -> BTreeMap<&str, Vec<Observed<'_>>> {
    let mut by_target: BTreeMap<&str, Vec<Observed>> = BTreeMap::new();
    for r in records {
        if let Some(key) = r.target_key.as_deref() {
            let error = (!r.answered()).then(|| r.attempt.error.as_deref().unwrap_or("no answer"));
            let observed = Observed {
                at: r.ended_at(),
                error,
                delivery: r.delivery_id.0,
            };
            by_target.entry(key).or_default().push(observed);
        }
    }
    by_target
}

/// The first part of the error a delivery given up after its retry window carries.
pub fn given_up_message(window: Duration) -> String {
    format!(
        "not sent: the target has not answered for the whole retry window ({}); the delivery has \
         failed and can be resent",
        humantime::format_duration(window.max(MIN_WINDOW))
    )
}

/// The whole error of a given-up delivery: [`given_up_message`], then the target's last error.
pub fn given_up_error(message: &str, last_error: Option<&str>) -> String {
    match last_error.filter(|e| !e.is_empty()) {
        Some(last) => format!("{message}; the target's last attempt: {last}"),
        None => message.to_string(),
    }
}

#[cfg(test)]
#[path = "health_tests.rs"]
mod tests;
