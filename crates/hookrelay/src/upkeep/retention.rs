//! The retention purge: every [`interval`] it removes what finished more than `retention` ago
//! ([`Store::purge`]), then the dashboard's counters past theirs ([`Store::purge_minutes`]), in
//! batches of [`BATCH`], each one short transaction, until nothing old is left, yielding between
//! batches so ingest keeps its latency.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use crate::domain::{dashboard, now_ms, Millis};
use crate::metrics;
use crate::store::{Store, StoreResult};

/// Rows of each kind one batch removes at most: about a millisecond of SQLite's writer on this
/// project's 2-core reference machine, so a purge never holds ingest's group commit for long.
pub const BATCH: usize = 500;

/// How often the purge looks for old rows: half the retention, at most a minute (so a short
/// retention is kept to within 1.5 × itself, a long one within a minute).
pub fn interval(retention: Duration) -> Duration {
    (retention / 2).min(Duration::from_secs(60))
}

/// The time before which finished history is removed.
pub fn cutoff(now: Millis, retention: Duration) -> Millis {
    now.saturating_sub(retention.as_millis().min(i64::MAX as u128) as i64)
}

/// Runs the purge until `shutdown` turns true.
pub async fn run(store: Arc<dyn Store>, retention: Duration, mut shutdown: watch::Receiver<bool>) {
    loop {
        purge_all(&*store, retention, &shutdown).await;
        tokio::select! {
            _ = tokio::time::sleep(interval(retention)) => {}
            _ = shutdown.changed() => {}
        }
        if *shutdown.borrow() {
            return;
        }
    }
}

/// Purges batch after batch until a batch comes back not full (or shutdown): finished history
/// older than the retention, then the dashboard's counters older than
/// [`dashboard::counters_cutoff`] (the retention, but at least two days).
pub async fn purge_all(store: &dyn Store, retention: Duration, shutdown: &watch::Receiver<bool>) {
    let now = now_ms();
    let cutoff = cutoff(now, retention);
    let history = batches(shutdown, || async {
        let purged = store.purge(cutoff, BATCH).await?;
        metrics::purged(&purged);
        Ok(purged.full(BATCH))
    });
    if !history.await {
        return;
    }
    let before = dashboard::counters_cutoff(cutoff, now);
    batches(shutdown, || async {
        let n = store.purge_minutes(before, BATCH).await?;
        metrics::purged_minutes(n);
        Ok(n >= BATCH as u64)
    })
    .await;
}

/// Runs `batch` until it says it was not full; false if it failed or shutdown came first.
async fn batches<F, Fut>(shutdown: &watch::Receiver<bool>, mut batch: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = StoreResult<bool>>,
{
    loop {
        match batch().await {
            Ok(false) => return true,
            Ok(true) => {}
            Err(e) => {
                tracing::warn!(error = %e, "retention purge failed; trying again later");
                return false;
            }
        }
        if *shutdown.borrow() {
            return false;
        }
        // Let the requests and attempt records queued meanwhile go first.
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_purge_looks_at_half_the_retention_and_at_least_every_minute() {
        let table = [
            (Duration::from_secs(10), Duration::from_secs(5)),
            (Duration::from_secs(120), Duration::from_secs(60)),
            (Duration::from_secs(30 * 86_400), Duration::from_secs(60)),
            (Duration::from_secs(1), Duration::from_millis(500)),
        ];
        for (retention, expected) in table {
            assert_eq!(interval(retention), expected, "{retention:?}");
        }
    }

    #[test]
    fn the_cutoff_is_the_retention_before_now_and_never_overflows() {
        assert_eq!(cutoff(100_000, Duration::from_secs(30)), 70_000);
        assert_eq!(cutoff(0, Duration::MAX), -i64::MAX);
    }
}
