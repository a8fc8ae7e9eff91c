//! The recorder: writes finished attempts back to the store in batches (with the health changes
//! they cause, in the same transaction), keeps them in memory until that succeeds, and passes
//! the consequences on: a target that went silent has the jobs held for it handed back, and new
//! due times wake the claimer.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;

use super::dispatcher::Command;
use super::engine::Shared;
use crate::domain::job::{AttemptRecord, Outcome};
use crate::domain::now_ms;
use crate::store::{HealthChanges, StoreError};

/// Most outcomes written in one store call.
const RECORD_BATCH: usize = 2048;

pub(super) async fn run(shared: Arc<Shared>, mut records: mpsc::UnboundedReceiver<AttemptRecord>) {
    let mut batch = Vec::with_capacity(RECORD_BATCH);
    while records.recv_many(&mut batch, RECORD_BATCH).await > 0 {
        let n = batch.len();
        let retries = batch
            .iter()
            .any(|r| matches!(r.outcome, Outcome::RetryAt(_)));
        let changes = write(&shared, batch.drain(..).collect()).await;
        if !changes.parked.is_empty() {
            let _ = shared.dispatcher.send(Command::Parked(changes.parked));
        }
        let before = shared.held.fetch_sub(n, Ordering::Relaxed);
        // Wake the claimer for new due times, or when memory has room for a claim again.
        let limit = shared.config.lease_limit();
        if retries || changes.unparked || (before > limit && before - n <= limit) {
            shared.claimer_wake.notify_one();
        }
    }
}

/// Writes one batch. An unavailable database is waited out; any other error is retried a few
/// times, then the outcomes are dropped and the leases' expiry brings those deliveries back.
async fn write(shared: &Shared, batch: Arc<[AttemptRecord]>) -> HealthChanges {
    let window = shared.config.retry.window();
    let mut backoff = Duration::from_millis(50);
    let mut tries = 0;
    loop {
        match shared
            .store
            .record_attempts(batch.clone(), now_ms(), window)
            .await
        {
            Ok(changes) => return changes,
            Err(e) => {
                tries += 1;
                let unavailable = matches!(e, StoreError::Unavailable(_));
                if !unavailable && tries >= 5 {
                    tracing::error!(error = %e, dropped = batch.len(), "giving up recording attempts");
                    return HealthChanges::default();
                }
                tracing::warn!(error = %e, pending = batch.len(), "recording attempts failed; retrying");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(5));
            }
        }
    }
}
