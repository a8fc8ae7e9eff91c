//! One target's state in the dispatcher, and the pure policies over it: how many attempts it may
//! run and hold, when it counts as silent or stuck, how its overflow is put off or parked, how
//! often a silent target is probed, and when a delivery waiting for it is given up. No I/O here:
//! the dispatcher acts on what these decide.

use std::collections::{HashSet, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use super::retry::RetryPolicy;
use crate::domain::target::TargetUrl;
use crate::domain::Millis;
use crate::store::DeliveryJob;

/// How far a delivery handed back for a troubled (silent or stuck) target is first pushed into
/// the future; it doubles every [`DEFER_GROWTH`] while the target stays troubled, up to
/// [`MAX_DEFER`], so a long outage's backlog does not cycle through the store and memory. (A
/// first step of 1 s was tried: it sent every delivery of a dead target round the claim loop
/// several times and cost a healthy target half its rate.)
const DEFER: Duration = Duration::from_secs(5);
const DEFER_GROWTH: Duration = Duration::from_secs(5);
const MAX_DEFER: Duration = Duration::from_secs(600);

/// One target's share of the dispatcher.
#[derive(Default)]
pub(super) struct TargetQueue {
    pub(super) in_flight: usize,
    pub(super) queue: VecDeque<(DeliveryJob, Arc<TargetUrl>)>,
    /// Attempts in a row that got no answer at all (refused, timed out, broken off).
    pub(super) silent_in_row: u32,
    /// How far this unanswering target's overflow is pushed out: it grows while the target
    /// stays silent, so a stalled target's backlog does not cycle through memory.
    pub(super) defer_level: u32,
    /// When `defer_level` last grew (it grows at most once per [`DEFER_GROWTH`]).
    pub(super) raised_at: Millis,
    /// When an attempt to this target last finished (or when the target was first seen).
    pub(super) last_done_at: Millis,
    /// Webhooks of this target whose new deliveries are put off while it does not answer.
    pub(super) put_off: HashSet<String>,
    /// A silent target is only probed: no attempt starts before this.
    pub(super) next_probe_at: Millis,
    /// Unanswered probes since the target went silent: the gap between probes doubles with each.
    pub(super) probe_level: u32,
    /// When the target went silent (its [`SILENT_AFTER`]-th unanswered attempt in a row).
    pub(super) silent_since: Millis,
    /// Whether a wake-up for its next probe is scheduled.
    pub(super) probe_scheduled: bool,
    /// Why its last attempt got no answer (while it has none), for deliveries given up on.
    pub(super) last_error: Option<String>,
}

/// How long an unanswered attempt keeps a silent target's silence current (twice the longest gap
/// between probes).
const CONFIRMED_FOR: Duration = Duration::from_secs(60);

/// Attempts in a row without an answer after which a target counts as unanswering.
const SILENT_AFTER: u32 = 3;
/// Attempts run at once to a silent target: one probe, to notice when it is back.
const SILENT_CONCURRENCY: usize = 1;
/// The pause after a silent target's first unanswered probe; it doubles with every further one,
/// up to [`MAX_PROBE_GAP`]. A refused connection comes back at once, so without it a dead target
/// would be tried as fast as its deliveries fall due.
const PROBE_GAP: Duration = Duration::from_millis(500);
const MAX_PROBE_GAP: Duration = Duration::from_secs(30);

/// How long to wait before probing a target again after `probe_level` unanswered probes.
fn probe_gap(probe_level: u32) -> Duration {
    let doublings = probe_level.min(16);
    PROBE_GAP.saturating_mul(1 << doublings).min(MAX_PROBE_GAP)
}

impl TargetQueue {
    pub(super) fn silent(&self) -> bool {
        self.silent_in_row >= SILENT_AFTER
    }

    /// Silent, or stuck: every slot taken and nothing finished for [`STUCK_AFTER`] (a stalled
    /// target, before its first timeouts come in).
    pub(super) fn troubled(&self, now: Millis, per_target: usize) -> bool {
        let stuck = self.in_flight >= self.concurrency(per_target)
            && now - self.last_done_at >= STUCK_AFTER;
        self.silent() || stuck
    }

    /// Whether this target is silent and its next probe is not due yet.
    pub(super) fn paced(&self, now: Millis) -> bool {
        self.silent() && now < self.next_probe_at
    }

    /// Silent, and recently confirmed so: its last attempt ended within [`CONFIRMED_FOR`]. After a
    /// quiet spell with nothing to probe with, a silent target may well be back; then its
    /// deliveries wait a little for the next probe instead of being parked or given up on old news.
    pub(super) fn confirmed_silent(&self, now: Millis) -> bool {
        self.silent() && now - self.last_done_at <= CONFIRMED_FOR.as_millis() as i64
    }

    /// How many attempts may run at once to this target.
    pub(super) fn concurrency(&self, per_target: usize) -> usize {
        if self.silent() {
            SILENT_CONCURRENCY.min(per_target)
        } else {
            per_target
        }
    }

    /// The most jobs this target may hold in memory, whatever its fair share.
    pub(super) fn share_cap(&self, per_target: usize) -> usize {
        if self.silent() {
            self.concurrency(per_target)
        } else {
            usize::MAX
        }
    }

    /// Records an attempt that got an answer. Returns the webhooks whose put-off ends, and whether
    /// their parked deliveries are to be brought back (only a silent target's were parked; a
    /// merely busy one's overflow comes back by itself within seconds).
    pub(super) fn answered(&mut self, now: Millis) -> (HashSet<String>, bool) {
        let was_silent = self.silent();
        self.last_done_at = now;
        self.last_error = None;
        self.silent_in_row = 0;
        self.defer_level = 0;
        (std::mem::take(&mut self.put_off), was_silent)
    }

    /// Records an attempt that got no answer, and why; returns true when the target has just gone
    /// silent.
    pub(super) fn unanswered(&mut self, now: Millis, error: String) -> bool {
        self.last_done_at = now;
        self.last_error = Some(error);
        self.silent_in_row = self.silent_in_row.saturating_add(1);
        let just_silent = self.silent_in_row == SILENT_AFTER;
        if just_silent {
            self.silent_since = now;
            self.probe_level = 0;
        } else if self.silent() && now >= self.next_probe_at {
            // A probe failed (not one of the attempts that were under way when the target fell
            // silent): wait longer before the next.
            self.probe_level = self.probe_level.saturating_add(1);
        }
        if self.silent() {
            self.next_probe_at = now + probe_gap(self.probe_level).as_millis() as i64;
        }
        just_silent
    }

    /// When this target's overflow at `now` comes back.
    ///
    /// A confirmed-silent target's deliveries are parked for the whole retry window: they come
    /// back when a probe finds the target answering again, or, if it never does, when they have
    /// waited the window and are given up. Bringing them back sooner would only send them round
    /// the claim loop: every round costs a claim and a release per delivery, and for a target
    /// that has been dead for long those rounds came in waves of everything put off since the
    /// last one. Other overflow comes back after [`overflow_delay`].
    pub(super) fn overflow_due(
        &mut self,
        now: Millis,
        per_target: usize,
        retry: &RetryPolicy,
    ) -> Millis {
        let delay = if self.confirmed_silent(now) {
            retry.window().max(DEFER)
        } else {
            overflow_delay(self, now, per_target)
        };
        now + delay.as_millis() as i64
    }
}

/// How far a healthy target's overflow is put off: just long enough to drain some of its queue.
pub(super) const SHORT_DEFER: Duration = Duration::from_secs(1);

/// How many jobs one target may hold in memory: its fair share of `max_held` among the targets
/// that have work, never less than what it may run at once.
pub(super) fn fair_share(max_held: usize, active_targets: usize, per_target: usize) -> usize {
    (max_held / active_targets.max(1)).max(per_target)
}

/// A target with every slot taken and nothing finished for this long is treated as silent before
/// its first timeouts come in.
const STUCK_AFTER: Millis = 1_000;

/// When to give an overflowing target's jobs back: soon for a target that answers, ever later
/// (up to [`MAX_DEFER`]) for one that stays silent (or is stuck with every slot taken).
fn overflow_delay(t: &mut TargetQueue, now: Millis, per_target: usize) -> Duration {
    if !t.troubled(now, per_target) {
        return SHORT_DEFER;
    }
    if t.defer_level == 0 || now - t.raised_at >= DEFER_GROWTH.as_millis() as i64 {
        t.defer_level = t.defer_level.saturating_add(1);
        t.raised_at = now;
    }
    defer_for(t.defer_level)
}

/// Whether a delivery put off now for a target silent since `silent_since` will, by the time it
/// can come back (a put-off lasts at least 3/4 of [`DEFER`], jitter included), have waited untried
/// for the whole retry window while its target did not answer. Only that time counts: waiting in
/// a backlog, behind a disabled webhook or while the relay was down is not the target's fault.
/// The window counts as at least [`DEFER`], so a very short schedule does not fail deliveries the
/// moment their target misses three answers.
pub(super) fn waited_out(
    job: &DeliveryJob,
    silent_since: Millis,
    now: Millis,
    retry: &RetryPolicy,
) -> bool {
    let back_at = now + DEFER.mul_f64(0.75).as_millis() as i64;
    let window = retry.window().max(DEFER).as_millis() as i64;
    back_at - job.idle_since.max(silent_since) >= window
}

/// How long to put off a saturated target's overflow the `level`-th time in a row, jittered so
/// the handed-back deliveries do not all return at once.
fn defer_for(level: u32) -> Duration {
    let base = DEFER
        .saturating_mul(1 << level.saturating_sub(1).min(16))
        .min(MAX_DEFER);
    base.mul_f64(0.75 + rand::random::<f64>() / 2.0)
}

/// Small values for the dispatcher's unit tests.
#[cfg(test)]
pub(super) mod fixtures {
    use super::*;
    use crate::domain::delivery::DeliveryId;

    /// One retry after `secs`, no jitter: a window of `secs`.
    pub fn retry_after(secs: u64) -> RetryPolicy {
        RetryPolicy {
            schedule: vec![Duration::from_secs(secs)],
            jitter: 0.0,
            max_retry_after: Duration::from_secs(60),
        }
    }

    /// A job for its second attempt, idle since `idle_since`.
    pub fn job(idle_since: Millis) -> DeliveryJob {
        DeliveryJob {
            id: DeliveryId(1),
            attempt_no: 2,
            license_id: "1".into(),
            webhook_id: "w".into(),
            event_type: livechat_webhooks::EventType::VisitorQueued,
            url: "http://example.com/".into(),
            body: Default::default(),
            idle_since,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::fixtures::{job, retry_after};
    use super::*;

    #[test]
    fn a_put_off_delivery_is_given_up_once_it_cannot_come_back_within_its_window() {
        let retry = retry_after(10);
        // A 10 s window; a put-off comes back 3.75 s later at the earliest.
        let silent_since = 0;
        assert!(!waited_out(&job(100_000), silent_since, 100_000, &retry));
        assert!(!waited_out(&job(100_000), silent_since, 106_000, &retry));
        assert!(waited_out(&job(100_000), silent_since, 106_250, &retry));
        // Only the time the target has been silent counts.
        assert!(!waited_out(&job(0), 103_000, 106_250, &retry));
        assert!(waited_out(&job(0), 103_000, 109_250, &retry));
        // However short the schedule, the window is at least DEFER.
        let no_retries = RetryPolicy {
            schedule: vec![],
            ..retry.clone()
        };
        assert!(!waited_out(&job(0), 0, 1_000, &no_retries));
        assert!(waited_out(&job(0), 0, 1_250, &no_retries));
    }

    #[test]
    fn each_target_may_hold_its_fair_share_of_memory() {
        assert_eq!(fair_share(2048, 1, 32), 2048);
        assert_eq!(fair_share(2048, 4, 32), 512);
        assert_eq!(fair_share(2048, 1000, 32), 32);
    }

    #[test]
    fn an_answering_targets_overflow_comes_back_soon_and_a_silent_ones_ever_later() {
        let mut t = TargetQueue::default();
        assert_eq!(overflow_delay(&mut t, 0, 32), SHORT_DEFER);
        t.silent_in_row = SILENT_AFTER;
        let first = overflow_delay(&mut t, 0, 32);
        assert!(first >= Duration::from_millis(3750), "{first:?}");
        assert_eq!(t.defer_level, 1);
        overflow_delay(&mut t, 4_000, 32);
        assert_eq!(t.defer_level, 1, "grows at most once per DEFER_GROWTH");
        overflow_delay(&mut t, 6_000, 32);
        assert_eq!(t.defer_level, 2);
    }

    #[test]
    fn a_silent_target_runs_one_probe_at_a_time_and_holds_no_more() {
        let mut t = TargetQueue::default();
        assert_eq!((t.concurrency(32), t.share_cap(32)), (32, usize::MAX));
        t.silent_in_row = SILENT_AFTER;
        assert_eq!((t.concurrency(32), t.share_cap(32)), (1, 1));
        assert_eq!(t.concurrency(1), 1);
    }

    #[test]
    fn a_target_with_every_slot_taken_and_nothing_finishing_counts_as_silent() {
        let mut t = TargetQueue {
            in_flight: 32,
            last_done_at: 0,
            ..TargetQueue::default()
        };
        assert!(!t.troubled(500, 32), "busy, not stuck yet");
        assert_eq!(overflow_delay(&mut t, 500, 32), SHORT_DEFER);
        assert!(t.troubled(1_500, 32));
        overflow_delay(&mut t, 1_500, 32);
        assert_eq!(t.defer_level, 1, "put off like a silent target");
    }

    #[test]
    fn a_saturated_targets_overflow_is_put_off_ever_longer_up_to_a_cap() {
        let secs = |level| defer_for(level).as_secs_f64();
        assert!((3.75..=6.25).contains(&secs(1)), "{}", secs(1));
        assert!((7.5..=12.5).contains(&secs(2)), "{}", secs(2));
        assert!((450.0..=750.0).contains(&secs(40)), "{}", secs(40));
    }

    #[test]
    fn a_silent_target_is_probed_ever_less_often_up_to_a_cap() {
        assert_eq!(probe_gap(0), Duration::from_millis(500));
        assert_eq!(probe_gap(1), Duration::from_secs(1));
        assert_eq!(probe_gap(3), Duration::from_secs(4));
        assert_eq!(probe_gap(1_000), MAX_PROBE_GAP);
    }

    #[test]
    fn silence_is_current_only_while_attempts_keep_confirming_it() {
        let mut t = TargetQueue {
            silent_in_row: SILENT_AFTER,
            last_done_at: 100_000,
            ..TargetQueue::default()
        };
        assert!(t.confirmed_silent(100_000 + CONFIRMED_FOR.as_millis() as i64));
        assert!(!t.confirmed_silent(100_001 + CONFIRMED_FOR.as_millis() as i64));
        t.silent_in_row = 0;
        assert!(
            !t.confirmed_silent(100_000),
            "a target that answers is not silent"
        );
    }

    #[test]
    fn only_a_silent_target_waits_for_its_next_probe() {
        let mut t = TargetQueue {
            next_probe_at: 2_000,
            ..TargetQueue::default()
        };
        assert!(!t.paced(1_000), "a target that answers is never paced");
        t.silent_in_row = SILENT_AFTER;
        assert!(t.paced(1_000));
        assert!(!t.paced(2_000), "its probe is due");
    }

    #[test]
    fn three_unanswered_attempts_make_a_target_silent_and_an_answer_ends_it() {
        let mut t = TargetQueue::default();
        assert!(!t.unanswered(1_000, "refused".into()));
        assert!(!t.unanswered(1_001, "refused".into()));
        assert!(t.unanswered(1_002, "refused".into()), "the third one");
        assert_eq!((t.silent_since, t.next_probe_at), (1_002, 1_502));
        // An attempt already under way when it fell silent does not lengthen the gap...
        assert!(!t.unanswered(1_100, "refused".into()));
        assert_eq!(t.probe_level, 0);
        // ...a failed probe does.
        t.unanswered(t.next_probe_at, "refused".into());
        assert_eq!(t.probe_level, 1);
        t.put_off.insert("w".into());
        let (resumed, bring_back) = t.answered(5_000);
        assert!(bring_back, "it was silent: its parked deliveries come back");
        assert_eq!(resumed, HashSet::from(["w".to_string()]));
        assert!(!t.silent() && t.put_off.is_empty() && t.last_error.is_none());
        assert!(
            !t.answered(5_001).1,
            "nothing parked for an answering target"
        );
    }

    #[test]
    fn a_confirmed_silent_targets_overflow_is_parked_for_the_retry_window() {
        let retry = retry_after(100);
        let mut t = TargetQueue::default();
        assert_eq!(
            t.overflow_due(0, 32, &retry),
            SHORT_DEFER.as_millis() as i64
        );
        for _ in 0..SILENT_AFTER {
            t.unanswered(1_000, "refused".into());
        }
        assert_eq!(t.overflow_due(2_000, 32, &retry), 102_000);
        let stale = 1_001 + CONFIRMED_FOR.as_millis() as i64;
        assert!(
            t.overflow_due(stale, 32, &retry) < stale + 100_000,
            "an old silence is put off, not parked"
        );
    }
}
