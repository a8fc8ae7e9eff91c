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
/// A probe that has not come back by then (its node died, its delivery was deleted) is replaced
/// by another.
pub const PROBE_WATCHDOG: Duration = Duration::from_secs(60);
/// How long an unanswered attempt keeps a silence current. New deliveries are parked, and parked
/// ones given up, only on a current silence: after a quiet spell the target may well be back, so
/// it is tried again first.
pub const CONFIRMED_FOR: Duration = Duration::from_secs(60);
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
    /// Whether a probe is out.
    pub probing: bool,
    /// Failed probes since it went silent.
    pub probe_level: u32,
    /// When an attempt last got no answer.
    pub last_miss_at: Option<Millis>,
    /// Why that attempt got no answer.
    pub last_error: Option<String>,
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

    /// Silent, and confirmed so by an unanswered attempt within [`CONFIRMED_FOR`] of `now`.
    pub fn confirmed_silent(&self, now: Millis) -> bool {
        self.is_silent()
            && self
                .last_miss_at
                .is_some_and(|at| now - at <= CONFIRMED_FOR.as_millis() as i64)
    }

    /// The next probe time to show: `None` while the target answers or a probe is under way.
    pub fn next_probe_at(&self) -> Option<Millis> {
        self.probe_at.filter(|_| self.is_silent() && !self.probing)
    }

    /// The health after an attempt that ended at `at` and got an answer (`error: None`) or none,
    /// and what the store must do about it.
    pub fn after_attempt(&self, at: Millis, error: Option<&str>) -> (Health, Effect) {
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
            if self.probing {
                // The probe failed: wait longer before the next one.
                next.probing = false;
                next.probe_level = self.probe_level.saturating_add(1);
                next.probe_at = Some(at + millis(probe_gap(next.probe_level)));
            }
            // A probe or an attempt that was under way when the target fell silent: either way
            // its delivery is parked again with the others.
            return (next, park());
        }
        if next.misses >= SILENT_AFTER {
            next.silent_since = Some(at);
            next.probe_level = 0;
            next.probing = false;
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
        attempts: impl IntoIterator<Item = (Millis, Option<&'a str>)>,
    ) -> (Health, Effect) {
        let mut health = self.clone();
        let mut effect = Effect::default();
        for (at, error) in attempts {
            let (next, e) = health.after_attempt(at, error);
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

/// The attempts of `records` that reached for a target, by target key, in order: when each
/// ended and, when it got no answer, why. What [`Health::after_attempts`] folds.
pub fn attempts_by_target(
    records: &[AttemptRecord],
) -> BTreeMap<&str, Vec<(Millis, Option<&str>)>> {
    let mut by_target: BTreeMap<&str, Vec<(Millis, Option<&str>)>> = BTreeMap::new();
    for r in records {
        if let Some(key) = r.target_key.as_deref() {
            let error = (!r.answered()).then(|| r.attempt.error.as_deref().unwrap_or("no answer"));
            by_target
                .entry(key)
                .or_default()
                .push((r.ended_at(), error));
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
mod tests {
    use super::*;

    const REFUSED: Option<&str> = Some("could not connect");

    fn silent_at(at: Millis) -> Health {
        Health::default()
            .after_attempts([(at, REFUSED), (at, REFUSED), (at, REFUSED)])
            .0
    }

    #[test]
    fn transitions() {
        let answering = Health::default();
        let one_miss = answering.after_attempt(1_000, REFUSED).0;
        let silent = silent_at(1_000);
        let probing = Health {
            probing: true,
            probe_at: Some(61_500),
            ..silent.clone()
        };
        // (from, attempt ended at, error) → (misses, silent_since, probe_at, probing, level, effect)
        type Row = (
            &'static str,
            Health,
            Millis,
            Option<&'static str>,
            (u32, Option<Millis>, Option<Millis>, bool, u32),
            Effect,
        );
        let none = Effect::default();
        let parks = park();
        let unparks = Effect {
            unpark: true,
            park: false,
        };
        let table: Vec<Row> = vec![
            (
                "an answer keeps a healthy target healthy",
                answering.clone(),
                5,
                None,
                (0, None, None, false, 0),
                none,
            ),
            (
                "a first miss is counted",
                answering.clone(),
                5,
                REFUSED,
                (1, None, None, false, 0),
                none,
            ),
            (
                "an answer forgets the misses",
                one_miss.clone(),
                5,
                None,
                (0, None, None, false, 0),
                none,
            ),
            (
                "the third miss in a row silences it",
                one_miss.after_attempt(1_001, REFUSED).0,
                1_002,
                REFUSED,
                (3, Some(1_002), Some(1_502), false, 0),
                parks,
            ),
            (
                "a stray miss re-parks and keeps the probe time",
                silent.clone(),
                1_100,
                REFUSED,
                (4, Some(1_000), Some(1_500), false, 0),
                parks,
            ),
            (
                "a failed probe doubles the gap",
                probing.clone(),
                2_000,
                REFUSED,
                (4, Some(1_000), Some(3_000), false, 1),
                parks,
            ),
            (
                "an answering probe ends the silence",
                probing.clone(),
                2_000,
                None,
                (0, None, None, false, 0),
                unparks,
            ),
            (
                "any answer ends the silence",
                silent.clone(),
                2_000,
                None,
                (0, None, None, false, 0),
                unparks,
            ),
        ];
        for (what, from, at, error, (misses, since, probe_at, out, level), effect) in table {
            let (next, got) = from.after_attempt(at, error);
            assert_eq!(
                (
                    next.misses,
                    next.silent_since,
                    next.probe_at,
                    next.probing,
                    next.probe_level
                ),
                (misses, since, probe_at, out, level),
                "{what}"
            );
            assert_eq!(got, effect, "{what}");
            assert_eq!(
                next.last_error.is_some(),
                error.is_some(),
                "{what}: last error"
            );
        }
    }

    #[test]
    fn a_given_up_delivery_says_why_naming_the_window_and_the_last_error() {
        let message = given_up_message(Duration::from_secs(10));
        let error = given_up_error(&message, Some("could not connect"));
        assert!(
            error.starts_with("not sent") && error.contains("retry window (10s)"),
            "{error}"
        );
        assert!(
            error.ends_with("last attempt: could not connect"),
            "{error}"
        );
        assert_eq!(given_up_error(&message, None), message);
    }

    #[test]
    fn probes_come_ever_less_often_up_to_a_cap() {
        let gaps: Vec<u64> = [0, 1, 3, 1_000]
            .map(|l| probe_gap(l).as_millis() as u64)
            .to_vec();
        assert_eq!(gaps, vec![500, 1_000, 4_000, 30_000]);
    }

    #[test]
    fn a_batch_folds_in_order_and_an_answer_within_it_unparks() {
        let silent = silent_at(0);
        let (h, e) = silent.after_attempts([(10, REFUSED), (20, None)]);
        assert_eq!(
            (h, e),
            (
                Health::default(),
                Effect {
                    unpark: true,
                    park: false
                }
            )
        );
        // Back, then silent again within one batch: unpark what was parked, then park again.
        let (h, e) =
            silent.after_attempts([(10, None), (11, REFUSED), (12, REFUSED), (13, REFUSED)]);
        assert!(h.is_silent());
        assert_eq!(
            e,
            Effect {
                unpark: true,
                park: true
            }
        );
        assert_eq!(
            Health::default().after_attempts([]),
            (Health::default(), Effect::default())
        );
    }

    #[test]
    fn a_silence_is_current_only_while_misses_keep_confirming_it() {
        let silent = silent_at(100_000);
        let limit = 100_000 + CONFIRMED_FOR.as_millis() as i64;
        assert!(silent.confirmed_silent(limit));
        assert!(!silent.confirmed_silent(limit + 1));
        assert!(
            !Health::default().confirmed_silent(0),
            "answering is not silent"
        );
    }

    #[test]
    fn the_next_probe_is_shown_only_while_one_is_awaited() {
        let silent = silent_at(0);
        assert_eq!(silent.next_probe_at(), Some(500));
        let out = Health {
            probing: true,
            ..silent
        };
        assert_eq!(out.next_probe_at(), None, "one is under way");
        assert_eq!(Health::default().next_probe_at(), None);
    }

    #[test]
    fn a_parked_delivery_waits_the_window_counted_from_the_silence_or_its_last_try() {
        let window = Duration::from_secs(10);
        assert_eq!(
            parked_until(1_000, 4_000, window),
            14_000,
            "silent since 4 s"
        );
        assert_eq!(parked_until(9_000, 4_000, window), 19_000, "tried at 9 s");
        assert_eq!(
            parked_until(0, 0, Duration::ZERO),
            5_000,
            "at least MIN_WINDOW"
        );
    }
}
