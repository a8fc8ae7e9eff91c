//! One target's share of the dispatcher's memory, and the pure policy over it. A target holds at
//! most its fair share of memory; beyond it, its overflow goes back to the store, due when the
//! target will have worked through what it holds (from how long its attempts take), so that a
//! slow target cannot fill the memory other targets need, nor hold jobs past their leases. A
//! target with every slot taken and nothing finishing (a stalled target, before its first
//! timeouts make it silent) has its overflow put off for ever longer. Health (silent or
//! answering) is not kept here: it lives in the store.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use crate::domain::job::DeliveryJob;
use crate::domain::target::TargetUrl;
use crate::domain::Millis;

/// A stuck target's overflow is first put off this long; the delay doubles every [`GROWTH`]
/// while it stays stuck, up to [`MAX_DEFER`].
const DEFER: Duration = Duration::from_secs(5);
const GROWTH: Duration = Duration::from_secs(5);
const MAX_DEFER: Duration = Duration::from_secs(600);
/// An overflowing target's handed-back deliveries come back after this long at least, and at
/// most (when the target is slow) after [`MAX_COMEBACK`].
const MIN_COMEBACK: Duration = Duration::from_millis(100);
const MAX_COMEBACK: Duration = Duration::from_secs(60);
/// A target holds at most what it can work through in this long.
const HOLD_FOR: Duration = Duration::from_secs(10);
/// A target with every slot taken and nothing finished for this long is stuck.
const STUCK_AFTER: Millis = 1_000;

/// One target's jobs in memory.
#[derive(Default)]
pub(super) struct TargetQueue {
    pub(super) in_flight: usize,
    /// Queued jobs, with their parsed target and its key.
    pub(super) queue: VecDeque<(DeliveryJob, Arc<TargetUrl>, Arc<str>)>,
    /// When an attempt to this target last finished (or when the target was first seen).
    pub(super) last_done_at: Millis,
    /// How far a stuck target's overflow is pushed out (grows while it stays stuck).
    defer_level: u32,
    /// When `defer_level` last grew.
    raised_at: Millis,
    /// How long its attempts take, smoothed (milliseconds).
    attempt_ms: f64,
}

impl TargetQueue {
    pub(super) fn new(now: Millis) -> TargetQueue {
        TargetQueue {
            last_done_at: now,
            ..TargetQueue::default()
        }
    }

    /// Every slot taken and nothing finished for [`STUCK_AFTER`].
    pub(super) fn stuck(&self, now: Millis, per_target: usize) -> bool {
        self.in_flight >= per_target && now - self.last_done_at >= STUCK_AFTER
    }

    /// Whether a new job must go back to the store instead of waiting here: the target already
    /// holds its fair share of memory.
    pub(super) fn overflows(&self, share: usize) -> bool {
        self.queue.len() + self.in_flight >= share
    }

    /// `share`, lowered for a slow target to what it can work through in [`HOLD_FOR`] (never below
    /// `per_target`): a slow target's queue would otherwise outlive the leases of the jobs in it
    /// and keep memory from targets that answer fast.
    pub(super) fn time_cap(&self, share: usize, per_target: usize) -> usize {
        if self.attempt_ms <= 0.0 {
            return share; // nothing known yet
        }
        let rounds = HOLD_FOR.as_millis() as f64 / self.attempt_ms;
        let cap = (rounds * per_target as f64) as usize;
        share.min(cap.max(per_target))
    }

    /// Records an attempt that took `duration_ms`: the target moves again.
    pub(super) fn finished(&mut self, now: Millis, duration_ms: i64) {
        self.in_flight -= 1;
        self.last_done_at = now;
        self.defer_level = 0;
        let sample = duration_ms.max(0) as f64;
        self.attempt_ms = if self.attempt_ms == 0.0 {
            sample
        } else {
            0.8 * self.attempt_ms + 0.2 * sample
        };
    }

    /// When the overflow handed back at `now` is due again: after what this target holds has
    /// had its turn (a stuck target: ever later). `roll` in [0, 1) picks the jitter that keeps
    /// handed-back deliveries from all coming back at once.
    pub(super) fn overflow_due(&mut self, now: Millis, per_target: usize, roll: f64) -> Millis {
        if !self.stuck(now, per_target) {
            let rounds = (self.queue.len() + self.in_flight) as f64 / per_target.max(1) as f64;
            let drain = Duration::from_millis((rounds * self.attempt_ms) as u64);
            let due = drain
                .clamp(MIN_COMEBACK, MAX_COMEBACK)
                .mul_f64(0.75 + roll.clamp(0.0, 1.0) / 2.0);
            return now + due.as_millis() as i64;
        }
        if self.defer_level == 0 || now - self.raised_at >= GROWTH.as_millis() as i64 {
            self.defer_level = self.defer_level.saturating_add(1);
            self.raised_at = now;
        }
        now + defer_for(self.defer_level, roll).as_millis() as i64
    }

    pub(super) fn idle(&self) -> bool {
        self.queue.is_empty() && self.in_flight == 0
    }
}

/// How many jobs one target may hold in memory: its fair share of `max_held` among the targets
/// that have work, never less than what it may run at once.
pub(super) fn fair_share(max_held: usize, active_targets: usize, per_target: usize) -> usize {
    (max_held / active_targets.max(1)).max(per_target)
}

/// How long to put off a stuck target's overflow the `level`-th time in a row.
fn defer_for(level: u32, roll: f64) -> Duration {
    let base = DEFER
        .saturating_mul(1 << level.saturating_sub(1).min(16))
        .min(MAX_DEFER);
    base.mul_f64(0.75 + roll.clamp(0.0, 1.0) / 2.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_target_may_hold_its_fair_share_of_memory() {
        assert_eq!(fair_share(2048, 1, 32), 2048);
        assert_eq!(fair_share(2048, 4, 32), 512);
        assert_eq!(fair_share(2048, 1000, 32), 32);
    }

    fn job() -> (DeliveryJob, Arc<TargetUrl>, Arc<str>) {
        let job = DeliveryJob {
            id: crate::domain::delivery::DeliveryId(1),
            attempt_no: 1,
            license_id: "1".into(),
            webhook_id: "w".into(),
            event_type: livechat_webhooks::EventType::VisitorQueued,
            url: "http://example.com/".into(),
            body: Default::default(),
            lease_until: 0,
            signing: None,
        };
        let target = TargetUrl::parse("http://example.com/").unwrap();
        let key = Arc::from(target.key());
        (job, Arc::new(target), key)
    }

    #[test]
    fn a_target_over_its_share_hands_back_due_when_it_will_have_room() {
        let mut t = TargetQueue::new(0);
        assert!(!t.overflows(64), "an idle target holds nothing");
        t.in_flight = 32;
        t.finished(0, 200);
        t.in_flight = 32;
        for _ in 0..32 {
            t.queue.push_back(job());
        }
        assert!(t.overflows(64));
        // 64 held, 32 at a time, 200 ms each: room again in about 400 ms (±25 %).
        let due = t.overflow_due(100, 32, 0.5);
        assert_eq!(due, 500);
        // Slow or fast, within bounds.
        t.attempt_ms = 1.0;
        assert_eq!(t.overflow_due(100, 32, 0.5), 200, "at least MIN_COMEBACK");
        t.attempt_ms = 1e9;
        assert_eq!(t.overflow_due(100, 32, 0.5), 60_100, "at most MAX_COMEBACK");
    }

    #[test]
    fn a_slow_target_holds_only_what_it_works_through_in_ten_seconds() {
        let mut t = TargetQueue::new(0);
        assert_eq!(t.time_cap(2048, 32), 2048, "nothing known yet");
        t.in_flight = 1;
        t.finished(0, 5);
        assert_eq!(t.time_cap(2048, 32), 2048, "a fast target keeps its share");
        t.attempt_ms = 8_000.0;
        assert_eq!(t.time_cap(2048, 32), 40, "32 slots, 1.25 rounds in 10 s");
        t.attempt_ms = 60_000.0;
        assert_eq!(t.time_cap(2048, 32), 32, "never less than its slots");
    }

    #[test]
    fn a_stuck_targets_overflow_is_put_off_ever_longer_up_to_a_cap() {
        let mut t = TargetQueue {
            in_flight: 32,
            ..TargetQueue::new(-1_000)
        };
        assert!(
            t.stuck(0, 32),
            "every slot taken, nothing finished for a second"
        );
        assert_eq!(t.overflow_due(0, 32, 0.5), 5_000);
        let again = t.overflow_due(4_000, 32, 0.5);
        assert_eq!(again, 9_000, "grows at most once per GROWTH");
        assert_eq!(t.overflow_due(6_000, 32, 0.5), 16_000);
        let secs = |level, roll| defer_for(level, roll).as_secs_f64();
        assert_eq!(
            (secs(1, 0.0), secs(1, 1.0)),
            (3.75, 6.25),
            "jittered by ±25 %"
        );
        assert_eq!(secs(40, 0.5), 600.0);
        t.finished(7_000, 10);
        t.in_flight = 32;
        assert!(!t.stuck(7_500, 32), "it moved");
        let after = t.overflow_due(8_000, 32, 0.5);
        assert_eq!(after, 13_000, "a finished attempt starts over");
    }
}
