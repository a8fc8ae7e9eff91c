//! One target's share of the dispatcher's memory, and the pure policy over it: a target with
//! every slot taken and nothing finishing (a stalled target, before its first timeouts make it
//! silent) has its overflow handed back to the store for ever longer, so it cannot fill the
//! memory other targets need. Any other target's overflow waits in its queue for the next free
//! slot. Health (silent or answering) is not kept here: it lives in the store.

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
/// A target with every slot taken and nothing finished for this long is stuck.
const STUCK_AFTER: Millis = 1_000;

/// One target's jobs in memory.
#[derive(Default)]
pub(super) struct TargetQueue {
    pub(super) in_flight: usize,
    pub(super) queue: VecDeque<(DeliveryJob, Arc<TargetUrl>)>,
    /// When an attempt to this target last finished (or when the target was first seen).
    pub(super) last_done_at: Millis,
    /// How far a stuck target's overflow is pushed out (grows while it stays stuck).
    defer_level: u32,
    /// When `defer_level` last grew.
    raised_at: Millis,
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

    /// Whether a new job must go back to the store instead of waiting here: only a stuck target
    /// that already holds its fair share of memory hands back.
    pub(super) fn overflows(&self, now: Millis, per_target: usize, share: usize) -> bool {
        self.queue.len() + self.in_flight >= share && self.stuck(now, per_target)
    }

    /// Records a finished attempt: the target moves again.
    pub(super) fn finished(&mut self, now: Millis) {
        self.in_flight -= 1;
        self.last_done_at = now;
        self.defer_level = 0;
    }

    /// When the overflow handed back at `now` is due again; `roll` in [0, 1) picks the jitter
    /// that keeps handed-back deliveries from all coming back at once.
    pub(super) fn overflow_due(&mut self, now: Millis, roll: f64) -> Millis {
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

    #[test]
    fn only_a_stuck_target_over_its_share_hands_its_overflow_back() {
        let busy = TargetQueue {
            in_flight: 32,
            ..TargetQueue::new(0)
        };
        // (what, now, share) → overflows
        let table = [
            ("busy but answering: waits for a slot", 500, 1, false),
            ("stuck, under its share", 1_500, 64, false),
            ("stuck and over its share", 1_500, 32, true),
        ];
        for (what, now, share, expected) in table {
            assert_eq!(busy.overflows(now, 32, share), expected, "{what}");
        }
    }

    #[test]
    fn a_stuck_targets_overflow_is_put_off_ever_longer_up_to_a_cap() {
        let mut t = TargetQueue::new(0);
        assert_eq!(t.overflow_due(0, 0.5), 5_000);
        assert_eq!(
            t.overflow_due(4_000, 0.5),
            9_000,
            "grows at most once per GROWTH"
        );
        assert_eq!(t.overflow_due(6_000, 0.5), 16_000);
        let secs = |level, roll| defer_for(level, roll).as_secs_f64();
        assert_eq!(
            (secs(1, 0.0), secs(1, 1.0)),
            (3.75, 6.25),
            "jittered by ±25 %"
        );
        assert_eq!(secs(40, 0.5), 600.0);
        t.finished_for_test();
        assert_eq!(
            t.overflow_due(7_000, 0.5),
            12_000,
            "a finished attempt starts over"
        );
    }

    impl TargetQueue {
        fn finished_for_test(&mut self) {
            self.in_flight = 1;
            self.finished(7_000);
        }
    }
}
