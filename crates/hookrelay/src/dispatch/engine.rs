//! The engine's tasks and the bounded in-memory pipeline between them.
//!
//! The store is the source of truth; memory only holds a bounded window of it (`max_held` jobs),
//! so a million pending deliveries cost disk, not RAM. New deliveries are leased to this node at
//! ingest and handed straight to the dispatcher (no polling delay on the happy path); everything
//! else (retries, a backlog, work left by a crash) comes through the claimer.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use tokio::sync::{mpsc, watch, Notify};
use tokio::task::JoinHandle;

use super::retry::RetryPolicy;
use super::sender::Sender;
use crate::domain::{now_ms, Millis};
use crate::store::{AttemptRecord, DeliveryJob, Outcome, Placement, Store};

/// The engine's limits and policies.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    pub retry: RetryPolicy,
    pub success_any_2xx: bool,
    pub per_target_concurrency: usize,
    pub max_in_flight: usize,
    /// Jobs held in memory at most (queued + in flight + being recorded).
    pub max_held: usize,
    /// How long a claimed delivery stays reserved for this node.
    pub lease: Duration,
    /// How long shutdown waits for attempts under way.
    pub shutdown_grace: Duration,
}

/// How long the claimer sleeps at most when nothing is due (a fallback: it is woken on changes).
const POLL: Duration = Duration::from_secs(1);
/// Most deliveries claimed at once.
const CLAIM_BATCH: usize = 1024;
/// Most outcomes written in one store call.
const RECORD_BATCH: usize = 2048;

/// A handle to the running engine.
#[derive(Clone)]
pub struct Engine {
    inner: Arc<Inner>,
}

/// What the engine's tasks share.
pub(super) struct Inner {
    pub(super) store: Arc<dyn Store>,
    pub(super) config: EngineConfig,
    /// Jobs in memory: queued, under way, or waiting to be recorded.
    pub(super) held: AtomicUsize,
    pub(super) claimer_wake: Notify,
    pub(super) jobs: mpsc::UnboundedSender<Vec<DeliveryJob>>,
    /// Webhooks whose URL or state changed: the dispatcher hands back the jobs it holds for them
    /// (they carry the old URL) so they are claimed again as the webhook is now.
    pub(super) changed: mpsc::UnboundedSender<String>,
    /// Webhooks whose target the dispatcher is putting work off for, with until when: their new
    /// deliveries are stored due then instead of being leased here only to be handed back.
    /// Replaced whole on change, so ingest reads a snapshot without holding the lock.
    pub(super) put_off: RwLock<Arc<HashMap<String, Millis>>>,
}

impl Inner {
    /// Puts off new deliveries of `webhooks` until `until` (or later, if already put off longer).
    pub(super) fn put_off(&self, webhooks: &HashSet<String>, until: Millis) {
        let covered = |map: &HashMap<String, Millis>| {
            webhooks
                .iter()
                .all(|w| map.get(w).is_some_and(|&due| due >= until))
        };
        if covered(&self.put_off.read().expect("put_off lock")) {
            return; // the usual case while a target stays silent: nothing to copy
        }
        let mut map = self.put_off.write().expect("put_off lock");
        *map = Arc::new(put_off_until(&map, webhooks, until, now_ms()));
    }

    /// Lets new deliveries of `webhooks` through again (their target answers).
    pub(super) fn resume(&self, webhooks: &HashSet<String>) {
        let mut map = self.put_off.write().expect("put_off lock");
        if webhooks.iter().any(|w| map.contains_key(w)) {
            let mut next = (**map).clone();
            next.retain(|w, _| !webhooks.contains(w));
            *map = Arc::new(next);
        }
    }
}

/// The engine's tasks, to wait for at shutdown.
pub struct EngineTasks {
    handles: Vec<JoinHandle<()>>,
}

impl EngineTasks {
    pub async fn join(self) {
        for h in self.handles {
            let _ = h.await;
        }
    }
}

impl Engine {
    /// Starts the engine. It stops when `shutdown` turns true: queued jobs are handed back to the
    /// store, attempts under way get `shutdown_grace` to finish and be recorded.
    pub fn start(
        store: Arc<dyn Store>,
        sender: Sender,
        config: EngineConfig,
        shutdown: watch::Receiver<bool>,
    ) -> (Engine, EngineTasks) {
        let (jobs_tx, jobs_rx) = mpsc::unbounded_channel();
        let (changed_tx, changed_rx) = mpsc::unbounded_channel();
        let (records_tx, records_rx) = mpsc::unbounded_channel();
        let inner = Arc::new(Inner {
            store,
            config,
            held: AtomicUsize::new(0),
            claimer_wake: Notify::new(),
            jobs: jobs_tx,
            changed: changed_tx,
            put_off: RwLock::default(),
        });
        let handles = vec![
            tokio::spawn(claimer(inner.clone(), shutdown.clone())),
            tokio::spawn(super::dispatcher::dispatcher(
                inner.clone(),
                sender,
                jobs_rx,
                changed_rx,
                records_tx,
                shutdown,
            )),
            tokio::spawn(recorder(inner.clone(), records_rx)),
        ];
        (Engine { inner }, EngineTasks { handles })
    }

    /// Where the deliveries of an ingest at `now` go: leased to this node while it has room in
    /// memory, put off for targets the dispatcher is putting work off for.
    pub fn placement(&self, now: Millis) -> Placement {
        let room = self.inner.held.load(Ordering::Relaxed) + 64 < self.inner.config.max_held;
        Placement {
            lease_until: room.then(|| self.lease_until(now)),
            held: self.inner.put_off.read().expect("put_off lock").clone(),
        }
    }

    /// The lease end for deliveries claimed now.
    pub fn lease_until(&self, now: Millis) -> Millis {
        now + self.inner.config.lease.as_millis() as i64
    }

    /// Hands deliveries already leased to this node to the dispatcher.
    pub fn submit(&self, jobs: Vec<DeliveryJob>) {
        if jobs.is_empty() {
            return;
        }
        self.inner.held.fetch_add(jobs.len(), Ordering::Relaxed);
        if let Err(lost) = self.inner.jobs.send(jobs) {
            // Shutting down: the leases expire or are released at the next start.
            self.inner.held.fetch_sub(lost.0.len(), Ordering::Relaxed);
        }
    }

    /// A webhook's URL or state changed: its new deliveries are no longer put off, and the jobs
    /// held for it in memory (with the old URL) go back to the store, due now.
    pub fn webhook_changed(&self, webhook_id: &str) {
        self.inner.resume(&HashSet::from([webhook_id.to_string()]));
        let _ = self.inner.changed.send(webhook_id.to_string());
    }

    /// Tells the claimer that the store has new due work (or new retry times).
    pub fn wake(&self) {
        self.inner.claimer_wake.notify_one();
    }

    /// Jobs currently in memory.
    pub fn held(&self) -> usize {
        self.inner.held.load(Ordering::Relaxed)
    }
}

/// `map` with `webhooks` put off until `until` (or later, where they already were), and without
/// the entries that ended before `now`.
fn put_off_until(
    map: &HashMap<String, Millis>,
    webhooks: &HashSet<String>,
    until: Millis,
    now: Millis,
) -> HashMap<String, Millis> {
    let mut next: HashMap<String, Millis> = map
        .iter()
        .filter(|(_, &due)| due > now)
        .map(|(w, &due)| (w.clone(), due))
        .collect();
    for w in webhooks {
        let due = next.entry(w.clone()).or_insert(until);
        *due = (*due).max(until);
    }
    next
}

async fn claimer(inner: Arc<Inner>, mut shutdown: watch::Receiver<bool>) {
    let max_held = inner.config.max_held;
    let min_room = (max_held / 4).clamp(1, CLAIM_BATCH);
    loop {
        if *shutdown.borrow() {
            return;
        }
        let room = max_held.saturating_sub(inner.held.load(Ordering::Relaxed));
        let mut wait = POLL;
        if room >= min_room {
            let now = now_ms();
            let limit = room.min(CLAIM_BATCH);
            match inner
                .store
                .claim_due(now, limit, now + inner.config.lease.as_millis() as i64)
                .await
            {
                Ok(jobs) => {
                    let full = jobs.len() == limit;
                    let claimed = jobs.len();
                    if claimed > 0 {
                        inner.held.fetch_add(claimed, Ordering::Relaxed);
                        if inner.jobs.send(jobs).is_err() {
                            return;
                        }
                    }
                    if full {
                        continue;
                    }
                    if let Ok(Some(due)) = inner.store.next_due_at().await {
                        let until = (due - now_ms()).max(5) as u64;
                        wait = wait.min(Duration::from_millis(until));
                    }
                }
                Err(e) => tracing::warn!(error = %e, "claiming due deliveries failed; will retry"),
            }
        }
        tokio::select! {
            _ = inner.claimer_wake.notified() => {}
            _ = inner.store.wait_for_new_work() => {}
            _ = tokio::time::sleep(wait) => {}
            _ = shutdown.changed() => {}
        }
    }
}

async fn recorder(inner: Arc<Inner>, mut records: mpsc::UnboundedReceiver<AttemptRecord>) {
    let mut batch = Vec::with_capacity(RECORD_BATCH);
    while records.recv_many(&mut batch, RECORD_BATCH).await > 0 {
        let n = batch.len();
        let retries = batch
            .iter()
            .any(|r| matches!(r.outcome, Outcome::RetryAt(_)));
        // Outcomes stay in memory until written: a database hiccup must not lose them.
        // An unavailable database is waited out; any other error is retried a few times, then
        // the outcomes are dropped and the leases' expiry brings those deliveries back.
        let mut backoff = Duration::from_millis(50);
        let mut tries = 0;
        loop {
            match inner.store.record_attempts(batch.clone()).await {
                Ok(()) => break,
                Err(e) => {
                    tries += 1;
                    let unavailable = matches!(e, crate::store::StoreError::Unavailable(_));
                    if !unavailable && tries >= 5 {
                        tracing::error!(error = %e, dropped = n, "giving up recording attempts");
                        break;
                    }
                    tracing::warn!(error = %e, pending = n, "recording attempts failed; retrying");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(5));
                }
            }
        }
        batch.clear();
        let before = inner.held.fetch_sub(n, Ordering::Relaxed);
        // Wake the claimer for new retry times, or when memory has room for a claim again.
        let half = inner.config.max_held / 2;
        if retries || (before >= half && before - n < half) {
            inner.claimer_wake.notify_one();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(names: &[&str]) -> HashSet<String> {
        names.iter().map(|n| n.to_string()).collect()
    }

    #[test]
    fn putting_off_keeps_the_later_time_and_drops_what_has_ended() {
        let map = HashMap::from([("a".to_string(), 5_000), ("old".to_string(), 900)]);
        let next = put_off_until(&map, &set(&["a", "b"]), 3_000, 1_000);
        assert_eq!(next.get("a"), Some(&5_000), "never brought forward");
        assert_eq!(next.get("b"), Some(&3_000));
        assert_eq!(next.get("old"), None, "ended before now");
        let later = put_off_until(&next, &set(&["a"]), 9_000, 1_000);
        assert_eq!(later.get("a"), Some(&9_000));
    }

    #[test]
    fn new_deliveries_of_a_put_off_webhook_are_due_then_and_not_leased() {
        let placement = Placement {
            lease_until: Some(60_000),
            held: Arc::new(HashMap::from([
                ("dead".to_string(), 8_000),
                ("back".to_string(), 900),
            ])),
        };
        assert_eq!(placement.place("dead", 1_000), (8_000, None));
        assert_eq!(placement.place("ok", 1_000), (60_000, Some(60_000)));
        assert_eq!(
            placement.place("back", 1_000),
            (60_000, Some(60_000)),
            "a put-off that has ended no longer applies"
        );
        let unleased = Placement::default();
        assert_eq!(
            unleased.place("ok", 1_000),
            (1_000, None),
            "due now, for the claimer"
        );
    }
}
