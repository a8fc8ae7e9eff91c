//! Bulk recovery in steps: each backend makes one step (one short transaction); the loop over
//! the steps is written once here.

use super::StoreResult;

/// The most failed deliveries one step of a bulk recovery looks at (and so changes), in one
/// transaction: small enough that SQLite's writer is never held for more than a few
/// milliseconds, so ingest goes on while millions are recovered.
pub const RECOVER_BATCH: usize = 1000;

/// What one step of a bulk recovery did (see [`super::Store::recover_failed`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecoveryStep {
    /// The id to go on after; `None` once the step has looked at the last failed delivery.
    pub next_after: Option<i64>,
    /// How many deliveries it made due (in a dry run: would have).
    pub recovered: u64,
}

impl RecoveryStep {
    /// A step that looked at `looked` deliveries out of a batch of `limit`, the last being
    /// `last`: a batch that was not full was the end.
    pub fn new(last: Option<i64>, looked: usize, limit: usize, recovered: u64) -> RecoveryStep {
        RecoveryStep {
            next_after: last.filter(|_| looked >= limit),
            recovered,
        }
    }
}

/// Runs a bulk recovery step after step, each starting after the id the previous one ended
/// with, and adds up what they recovered.
pub(super) async fn in_recovery_steps<F, Fut>(mut step: F) -> StoreResult<u64>
where
    F: FnMut(i64) -> Fut,
    Fut: std::future::Future<Output = StoreResult<RecoveryStep>>,
{
    let (mut after, mut total) = (0, 0);
    loop {
        let done = step(after).await?;
        total += done.recovered;
        match done.next_after {
            Some(id) => after = id,
            None => return Ok(total),
        }
    }
}
