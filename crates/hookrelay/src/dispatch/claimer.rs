//! The claimer: on each tick it gives up on parked deliveries whose wait is over, arms the probes
//! of silent targets that are due, and leases the due deliveries that fit in memory. It sleeps
//! until the store's next due time (or a second at most), and is woken early by ingest, the
//! recorder, a webhook change, or another node's `NOTIFY`.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use super::engine::Shared;
use crate::domain::health::given_up_message;
use crate::domain::{now_ms, Millis};
use crate::metrics;
use crate::store::NextDue;

/// How long the claimer sleeps at most when nothing is due (a fallback: it is woken on changes).
const POLL: Duration = Duration::from_secs(1);
/// Most deliveries claimed at once.
const CLAIM_BATCH: usize = 1024;
/// Most deliveries given up in one store call.
const GIVE_UP_BATCH: usize = 1000;
/// Give-ups run at most this often while claims keep the claimer busy; probes are armed as soon
/// as one is due.
const GIVE_UP_EVERY: Millis = 200;
/// How often parked deliveries of targets that answer again are looked for (a safety net).
const STRANDED_EVERY: Millis = 5_000;
/// The shortest sleep, so that a due time that cannot be acted on yet is not polled in a loop.
const MIN_WAIT: Duration = Duration::from_millis(5);

/// When the claimer's periodic chores are next due.
struct Chores {
    give_up_at: Millis,
    probes_at: Millis,
    stranded_at: Millis,
    give_up_message: String,
}

pub(super) async fn run(shared: Arc<Shared>, mut shutdown: watch::Receiver<bool>) {
    let mut chores = Chores {
        give_up_at: 0,
        probes_at: 0,
        stranded_at: 0,
        give_up_message: given_up_message(shared.config.retry.window()),
    };
    let mut next = NextDue::default();
    loop {
        if *shutdown.borrow() {
            return;
        }
        let now = now_ms();
        chores
            .run(&shared, now, next.probe.is_some_and(|at| at <= now))
            .await;
        let Some(due) = claim(&shared).await else {
            continue; // a full batch: there is more
        };
        next = due;
        let wait = sleep_for(next, &chores, now_ms());
        tokio::select! {
            _ = shared.claimer_wake.notified() => {}
            _ = shared.store.wait_for_new_work() => {}
            _ = tokio::time::sleep(wait) => {}
            _ = shutdown.changed() => {}
        }
    }
}

impl Chores {
    /// Gives up on what waited the whole window for a silent target, arms due probes, and
    /// (now and then) unparks what a race left parked for a target that answers.
    async fn run(&mut self, shared: &Shared, now: Millis, probe_due: bool) {
        let store = &shared.store;
        let timings = shared.config.timings();
        if now >= self.give_up_at {
            self.give_up_at = now + GIVE_UP_EVERY;
            let confirmed_since = now - timings.confirmed_for.as_millis() as Millis;
            let message = &self.give_up_message;
            match store
                .give_up_parked(now, confirmed_since, message, GIVE_UP_BATCH)
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
                Err(e) => tracing::warn!(error = %e, "giving up on parked deliveries failed"),
            }
        }
        if probe_due || now >= self.probes_at {
            // Also on a timer: while claims keep the claimer busy it does not learn when the
            // next probe is due.
            self.probes_at = now + GIVE_UP_EVERY;
            if let Err(e) = store.arm_probes(now, timings.watchdog).await {
                tracing::warn!(error = %e, "arming probes of silent targets failed; will retry");
            }
        }
        if now >= self.stranded_at {
            self.stranded_at = now + STRANDED_EVERY;
            match store.unpark_stranded(now).await {
                Ok(0) => {}
                Ok(n) => {
                    tracing::info!(deliveries = n, "unparked deliveries of targets that answer")
                }
                Err(e) => tracing::warn!(error = %e, "looking for stranded deliveries failed"),
            }
        }
    }
}

/// How long to sleep: until the next due delivery or probe, the next give-up round while
/// something is parked, and at most [`POLL`].
fn sleep_for(next: NextDue, chores: &Chores, now: Millis) -> Duration {
    let until = [next.delivery, next.probe, Some(chores.give_up_at)]
        .into_iter()
        .flatten()
        .min()
        .unwrap_or(now + POLL.as_millis() as Millis);
    Duration::from_millis((until - now).max(0) as u64).clamp(MIN_WAIT, POLL)
}

/// Claims what is due and fits in memory; returns when work is due next, or `None` when the
/// batch was full and the claimer should go on at once.
async fn claim(shared: &Shared) -> Option<NextDue> {
    let held = shared.held.load(Ordering::Relaxed);
    if held > shared.config.lease_limit() {
        // Memory is full: the recorder wakes the claimer when there is room again.
        return Some(NextDue::default());
    }
    {
        let now = now_ms();
        let room = shared.config.max_held.saturating_sub(held);
        let limit = room.min(CLAIM_BATCH);
        let lease_until = shared.lease_until(now);
        match shared.store.claim_due(now, limit, lease_until).await {
            Ok(jobs) => {
                let full = jobs.len() == limit;
                shared.submit(jobs);
                if full {
                    return None;
                }
                // Caught up: ingest may lease new deliveries to this node again.
                shared.backlog.store(false, Ordering::Relaxed);
            }
            Err(e) => tracing::warn!(error = %e, "claiming due deliveries failed; will retry"),
        }
    }
    Some(shared.store.next_due_at().await.unwrap_or_default())
}
