//! The claimer: on each tick it gives up on parked deliveries whose wait is over, arms the probes
//! of silent targets that are due, and leases the due deliveries that fit in memory. It sleeps
//! until the store's next due time (or a second at most), and is woken early by ingest, the
//! recorder, a webhook change, or another node's `NOTIFY`.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use super::engine::Shared;
use crate::domain::health::{given_up_message, CONFIRMED_FOR, PROBE_WATCHDOG};
use crate::domain::{now_ms, Millis};
use crate::metrics;

/// How long the claimer sleeps at most when nothing is due (a fallback: it is woken on changes).
const POLL: Duration = Duration::from_secs(1);
/// Most deliveries claimed at once.
const CLAIM_BATCH: usize = 1024;
/// Most deliveries given up in one store call.
const GIVE_UP_BATCH: usize = 1000;
/// Upkeep (give-ups, probes) runs at most this often while claims keep the claimer busy.
const UPKEEP_EVERY: Millis = 200;

pub(super) async fn run(shared: Arc<Shared>, mut shutdown: watch::Receiver<bool>) {
    let give_up_message = given_up_message(shared.config.retry.window());
    let mut upkeep_at: Millis = 0;
    loop {
        if *shutdown.borrow() {
            return;
        }
        let now = now_ms();
        if now >= upkeep_at {
            upkeep(&shared, now, &give_up_message).await;
            upkeep_at = now + UPKEEP_EVERY;
        }
        let wait = match claim(&shared).await {
            Some(wait) => wait,
            None => continue, // a full batch: there is more
        };
        tokio::select! {
            _ = shared.claimer_wake.notified() => {}
            _ = shared.store.wait_for_new_work() => {}
            _ = tokio::time::sleep(wait) => {}
            _ = shutdown.changed() => {}
        }
    }
}

/// Gives up on what waited the whole window for a silent target, and arms due probes.
async fn upkeep(shared: &Shared, now: Millis, give_up_message: &str) {
    let confirmed_since = now - CONFIRMED_FOR.as_millis() as Millis;
    let store = &shared.store;
    match store
        .give_up_parked(now, confirmed_since, give_up_message, GIVE_UP_BATCH)
        .await
    {
        Ok(0) => {}
        Ok(n) => {
            metrics::deliveries_given_up(n);
            tracing::warn!(
                deliveries = n,
                "deliveries failed: their target did not answer for the whole retry window"
            );
        }
        Err(e) => tracing::warn!(error = %e, "giving up on parked deliveries failed; will retry"),
    }
    if let Err(e) = store.arm_probes(now, PROBE_WATCHDOG).await {
        tracing::warn!(error = %e, "arming probes of silent targets failed; will retry");
    }
}

/// Claims what is due and fits in memory; returns how long to sleep, or `None` when the batch
/// was full and the claimer should go on at once.
async fn claim(shared: &Shared) -> Option<Duration> {
    let max_held = shared.config.max_held;
    let min_room = (max_held / 4).clamp(1, CLAIM_BATCH);
    let room = max_held.saturating_sub(shared.held.load(Ordering::Relaxed));
    if room < min_room {
        return Some(POLL);
    }
    let now = now_ms();
    let limit = room.min(CLAIM_BATCH);
    match shared
        .store
        .claim_due(now, limit, shared.lease_until(now))
        .await
    {
        Ok(jobs) => {
            let full = jobs.len() == limit;
            shared.submit(jobs);
            if full {
                return None;
            }
        }
        Err(e) => {
            tracing::warn!(error = %e, "claiming due deliveries failed; will retry");
            return Some(POLL);
        }
    }
    let next = shared.store.next_due_at().await.ok().flatten();
    let wait = next.map_or(POLL, |due| {
        Duration::from_millis((due - now_ms()).max(5) as u64)
    });
    Some(wait.min(POLL))
}
