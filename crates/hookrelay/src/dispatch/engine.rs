//! The engine's tasks and the bounded in-memory pipeline between them.
//!
//! The store is the source of truth; memory only holds a bounded window of it (`max_held` jobs),
//! so a million pending deliveries cost disk, not RAM. New deliveries are leased to this node at
//! ingest and handed straight to the dispatcher (no polling delay on the happy path); everything
//! else (retries, a backlog, work left by a crash) comes through the claimer.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, watch, Notify};
use tokio::task::JoinHandle;

use super::retry::{is_success, unsuccessful_status, RetryPolicy};
use super::sender::Sender;
use crate::domain::delivery::DeliveryId;
use crate::domain::target::TargetUrl;
use crate::domain::{now_ms, Millis};
use crate::metrics;
use crate::store::{AttemptRecord, DeliveryJob, Outcome, Store};

/// The engine's limits and policies.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    pub retry: RetryPolicy,
    pub success_any_2xx: bool,
    pub per_target_concurrency: usize,
    pub max_in_flight: usize,
    /// Jobs held in memory at most (queued + in flight + being recorded).
    pub max_held: usize,
    /// Jobs waiting for one target at most; more are handed back to the store for later.
    pub max_queued_per_target: usize,
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
/// How far a delivery handed back for a saturated target is first pushed into the future; it
/// doubles each time the same target is still saturated, up to [`MAX_DEFER`].
const DEFER: Duration = Duration::from_secs(5);
const MAX_DEFER: Duration = Duration::from_secs(600);

/// A handle to the running engine.
#[derive(Clone)]
pub struct Engine {
    inner: Arc<Inner>,
}

struct Inner {
    store: Arc<dyn Store>,
    config: EngineConfig,
    held: AtomicUsize,
    claimer_wake: Notify,
    jobs: mpsc::UnboundedSender<Vec<DeliveryJob>>,
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
        let (records_tx, records_rx) = mpsc::unbounded_channel();
        let inner = Arc::new(Inner {
            store,
            config,
            held: AtomicUsize::new(0),
            claimer_wake: Notify::new(),
            jobs: jobs_tx,
        });
        let handles = vec![
            tokio::spawn(claimer(inner.clone(), shutdown.clone())),
            tokio::spawn(dispatcher(
                inner.clone(),
                sender,
                jobs_rx,
                records_tx,
                shutdown,
            )),
            tokio::spawn(recorder(inner.clone(), records_rx)),
        ];
        (Engine { inner }, EngineTasks { handles })
    }

    /// Whether new deliveries should be leased to this node at ingest (there is room in memory).
    pub fn has_room(&self) -> bool {
        self.inner.held.load(Ordering::Relaxed) + 64 < self.inner.config.max_held
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

    /// Tells the claimer that the store has new due work (or new retry times).
    pub fn wake(&self) {
        self.inner.claimer_wake.notify_one();
    }

    /// Jobs currently in memory.
    pub fn held(&self) -> usize {
        self.inner.held.load(Ordering::Relaxed)
    }
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

/// One target's share of the dispatcher.
#[derive(Default)]
struct TargetQueue {
    in_flight: usize,
    queue: VecDeque<(DeliveryJob, TargetUrl)>,
    /// How many times in a row this target's overflow was handed back: a slow or stalled
    /// target's backlog is pushed ever further out instead of cycling through memory.
    defer_level: u32,
}

async fn dispatcher(
    inner: Arc<Inner>,
    sender: Sender,
    mut jobs: mpsc::UnboundedReceiver<Vec<DeliveryJob>>,
    records: mpsc::UnboundedSender<AttemptRecord>,
    mut shutdown: watch::Receiver<bool>,
) {
    let config = inner.config.clone();
    let (done_tx, mut done_rx) = mpsc::unbounded_channel::<String>();
    let mut targets: HashMap<String, TargetQueue> = HashMap::new();
    // Targets with queued jobs that wait only for a global slot, in arrival order.
    let mut waiting: VecDeque<String> = VecDeque::new();
    let mut in_flight = 0usize;
    let mut deferred: HashMap<String, Vec<DeliveryId>> = HashMap::new();

    let start =
        |key: &str, t: &mut TargetQueue, in_flight: &mut usize, waiting: &mut VecDeque<String>| {
            while t.in_flight < config.per_target_concurrency {
                if *in_flight >= config.max_in_flight {
                    if !t.queue.is_empty() && !waiting.iter().any(|k| k == key) {
                        waiting.push_back(key.to_string());
                    }
                    return;
                }
                let Some((job, target)) = t.queue.pop_front() else {
                    return;
                };
                t.in_flight += 1;
                *in_flight += 1;
                let sender = sender.clone();
                let done = done_tx.clone();
                let records = records.clone();
                let key = key.to_string();
                let retry = config.retry.clone();
                let any_2xx = config.success_any_2xx;
                metrics::attempts_started();
                tokio::spawn(async move {
                    let record = attempt(&sender, job, &target, &retry, any_2xx, done, key).await;
                    let _ = records.send(record);
                });
            }
        };

    loop {
        tokio::select! {
            batch = jobs.recv() => {
                let Some(batch) = batch else { break };
                for job in batch {
                    let target = match TargetUrl::parse(&job.url) {
                        Ok(t) => t,
                        Err(e) => {
                            // Only possible if a stored URL was edited by hand.
                            let _ = records.send(AttemptRecord {
                                delivery_id: job.id,
                                attempt: crate::domain::delivery::Attempt {
                                    attempt_no: job.attempt_no,
                                    started_at: now_ms(),
                                    duration_ms: 0,
                                    status_code: None,
                                    error: Some(format!("stored target URL is invalid: {e}")),
                                    response_body: None,
                                },
                                outcome: Outcome::Failed,
                            });
                            continue;
                        }
                    };
                    let key = target.key();
                    let t = targets.entry(key.clone()).or_default();
                    if t.queue.len() >= config.max_queued_per_target {
                        deferred.entry(key).or_default().push(job.id);
                        continue;
                    }
                    t.queue.push_back((job, target));
                    start(&key, t, &mut in_flight, &mut waiting);
                }
                for (key, ids) in deferred.drain() {
                    let level = targets.get_mut(&key).map_or(0, |t| {
                        t.defer_level = t.defer_level.saturating_add(1);
                        t.defer_level
                    });
                    hand_back(&inner, ids, now_ms() + defer_for(level).as_millis() as i64);
                }
            }
            Some(key) = done_rx.recv() => {
                in_flight -= 1;
                if let Some(t) = targets.get_mut(&key) {
                    t.in_flight -= 1;
                    start(&key, t, &mut in_flight, &mut waiting);
                    if t.queue.is_empty() {
                        t.defer_level = 0;
                        if t.in_flight == 0 {
                            targets.remove(&key);
                        }
                    }
                }
                while in_flight < config.max_in_flight {
                    let Some(next) = waiting.pop_front() else { break };
                    if let Some(t) = targets.get_mut(&next) {
                        start(&next, t, &mut in_flight, &mut waiting);
                    }
                }
            }
            _ = shutdown.changed() => {
                if *shutdown.borrow() { break; }
            }
        }
    }

    // Shutting down: queued jobs go back to the store, due now, for the next start.
    let queued: Vec<DeliveryId> = targets
        .values_mut()
        .flat_map(|t| t.queue.drain(..).map(|(job, _)| job.id))
        .collect();
    jobs.close();
    let mut late = Vec::new();
    while let Ok(batch) = jobs.try_recv() {
        late.extend(batch.into_iter().map(|j| j.id));
    }
    let handed_back = queued.len() + late.len();
    if handed_back > 0 {
        let ids: Vec<_> = queued.into_iter().chain(late).collect();
        if let Err(e) = inner.store.release(ids, now_ms()).await {
            tracing::warn!(error = %e, "could not hand back queued deliveries; their leases will expire");
        }
        inner.held.fetch_sub(handed_back, Ordering::Relaxed);
    }
    let deadline = tokio::time::sleep(config.shutdown_grace);
    tokio::pin!(deadline);
    while in_flight > 0 {
        tokio::select! {
            Some(_) = done_rx.recv() => in_flight -= 1,
            _ = &mut deadline => {
                tracing::warn!(in_flight, "attempts still under way at shutdown stay pending");
                break;
            }
        }
    }
}

/// Makes one attempt, frees the target's slot as soon as the answer is in, and decides what
/// happens next.
async fn attempt(
    sender: &Sender,
    job: DeliveryJob,
    target: &TargetUrl,
    retry: &RetryPolicy,
    any_2xx: bool,
    done: mpsc::UnboundedSender<String>,
    key: String,
) -> AttemptRecord {
    let mut sent = sender.send(&job, target).await;
    let _ = done.send(key);
    let a = &mut sent.attempt;
    let outcome = match a.status_code {
        Some(code) if is_success(code, any_2xx) => Outcome::Succeeded,
        _ => {
            if let (Some(code), None) = (a.status_code, &a.error) {
                a.error = Some(unsuccessful_status(code, any_2xx));
            }
            let now = a.started_at + a.duration_ms;
            retry.after_failure(job.attempt_no, now, sent.retry_after, rand::random::<f64>())
        }
    };
    metrics::attempt_finished(&job, &sent.attempt, outcome);
    log_attempt(&job, &sent.attempt, outcome);
    AttemptRecord {
        delivery_id: job.id,
        attempt: sent.attempt,
        outcome,
    }
}

/// One structured line per attempt, keyed by the delivery id: successes at debug (a busy relay
/// makes thousands a second), retries at info, a delivery whose retries ran out at warn.
fn log_attempt(job: &DeliveryJob, a: &crate::domain::delivery::Attempt, outcome: Outcome) {
    let outcome_label = metrics::outcome_label(outcome);
    macro_rules! line {
        ($level:ident, $message:literal) => {
            tracing::$level!(
                delivery_id = %job.id,
                license_id = %job.license_id,
                webhook_id = %job.webhook_id,
                event_type = job.event_type.as_str(),
                attempt = job.attempt_no,
                status_code = a.status_code,
                duration_ms = a.duration_ms,
                error = a.error.as_deref(),
                outcome = outcome_label,
                $message
            )
        };
    }
    match outcome {
        Outcome::Succeeded => line!(debug, "delivered"),
        Outcome::RetryAt(_) => line!(info, "attempt failed; retry scheduled"),
        Outcome::Failed => line!(warn, "attempt failed; no retries left, delivery failed"),
    }
}

/// How long to put off a saturated target's overflow the `level`-th time in a row, jittered so
/// the handed-back deliveries do not all return at once.
fn defer_for(level: u32) -> Duration {
    let base = DEFER
        .saturating_mul(1 << level.saturating_sub(1).min(16))
        .min(MAX_DEFER);
    base.mul_f64(0.75 + rand::random::<f64>() / 2.0)
}

/// Gives deliveries back to the store unattempted, due at `due_at`.
fn hand_back(inner: &Arc<Inner>, ids: Vec<DeliveryId>, due_at: Millis) {
    let inner = inner.clone();
    tokio::spawn(async move {
        let n = ids.len();
        if let Err(e) = inner.store.release(ids, due_at).await {
            tracing::warn!(error = %e, "could not hand back deliveries; their leases will expire");
        }
        inner.held.fetch_sub(n, Ordering::Relaxed);
    });
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

    #[test]
    fn a_saturated_targets_overflow_is_put_off_ever_longer_up_to_a_cap() {
        let secs = |level| defer_for(level).as_secs_f64();
        assert!((3.75..=6.25).contains(&secs(1)), "{}", secs(1));
        assert!((7.5..=12.5).contains(&secs(2)), "{}", secs(2));
        assert!((450.0..=750.0).contains(&secs(40)), "{}", secs(40));
    }
}
