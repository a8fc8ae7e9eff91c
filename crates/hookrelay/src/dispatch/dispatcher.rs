//! The dispatcher: runs attempts with a per-target and a global concurrency limit, so one slow or
//! dead target cannot take every sender. It owns the in-memory queues only; what a target's
//! answers mean (its health) is decided and kept by the store, and reaches the dispatcher as
//! commands: hand back what is held for a target whose deliveries were parked, or for a webhook
//! that changed.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::Ordering;
use std::sync::Arc;

use tokio::sync::{mpsc, watch};

use super::attempt::{not_sent, Attempter};
use super::engine::Shared;
use super::target_queue::{fair_share, TargetQueue};
use crate::domain::delivery::DeliveryId;
use crate::domain::job::{AttemptRecord, DeliveryJob};
use crate::domain::target::TargetUrl;
use crate::domain::{now_ms, Millis};
use crate::metrics;

/// How long a job for a listen session not held here waits before it is due again.
const SESSION_ELSEWHERE_MS: Millis = 1_000;
/// Most parsed target URLs kept; the cache starts over when full.
const PARSED_URLS: usize = 4096;

/// What the rest of the engine tells the dispatcher.
pub(super) enum Command {
    /// Jobs leased to this node, to attempt.
    Jobs(Vec<DeliveryJob>),
    /// These targets are silent and their deliveries parked: the jobs queued for them go back to
    /// the store (to be parked too) instead of being tried one after another.
    Parked(Vec<String>),
    /// This webhook changed: its queued jobs (with the old URL or state) go back, due now.
    WebhookChanged(String),
}

/// An attempt to the target with this key has ended, after `duration_ms`.
struct Finished {
    target_key: Arc<str>,
    duration_ms: i64,
}

pub(super) struct Dispatcher {
    shared: Arc<Shared>,
    attempter: Attempter,
    records: mpsc::UnboundedSender<AttemptRecord>,
    finished_tx: mpsc::UnboundedSender<Finished>,
    finished_rx: mpsc::UnboundedReceiver<Finished>,
    targets: HashMap<String, TargetQueue>,
    /// Targets with queued jobs that wait only for a global slot, in arrival order.
    waiting: VecDeque<String>,
    in_flight: usize,
    /// Target URLs as parsed, with their keys (a parse per attempt showed up in profiles), by
    /// the stored text.
    parsed_urls: HashMap<String, (Arc<TargetUrl>, Arc<str>)>,
}

impl Dispatcher {
    pub(super) fn new(
        shared: Arc<Shared>,
        attempter: Attempter,
        records: mpsc::UnboundedSender<AttemptRecord>,
    ) -> Dispatcher {
        let (finished_tx, finished_rx) = mpsc::unbounded_channel();
        Dispatcher {
            shared,
            attempter,
            records,
            finished_tx,
            finished_rx,
            targets: HashMap::new(),
            waiting: VecDeque::new(),
            in_flight: 0,
            parsed_urls: HashMap::new(),
        }
    }

    pub(super) async fn run(
        mut self,
        mut commands: mpsc::UnboundedReceiver<Command>,
        mut shutdown: watch::Receiver<bool>,
    ) {
        loop {
            tokio::select! {
                command = commands.recv() => match command {
                    Some(Command::Jobs(jobs)) => self.on_jobs(jobs),
                    Some(Command::Parked(keys)) => self.on_parked(&keys),
                    Some(Command::WebhookChanged(id)) => self.on_webhook_changed(&id),
                    None => break,
                },
                Some(done) = self.finished_rx.recv() => self.on_finished(&done),
                _ = shutdown.changed() => if *shutdown.borrow() { break },
            }
        }
        self.shut_down(commands).await;
    }

    fn on_jobs(&mut self, jobs: Vec<DeliveryJob>) {
        let mut overflow: HashMap<String, Vec<(DeliveryId, Millis)>> = HashMap::new();
        let config = &self.shared.config;
        let (max_held, per_target) = (config.max_held, config.per_target_concurrency);
        for job in jobs {
            let (target, key) = match self.parse(&job.url) {
                Ok(parsed) => parsed,
                Err(e) => {
                    let error = format!("stored target URL is invalid: {e}");
                    let _ = self.records.send(not_sent(&job, now_ms(), error));
                    continue;
                }
            };
            let now = now_ms();
            let active = self.targets.len() + usize::from(!self.targets.contains_key(&*key));
            let share = fair_share(max_held, active, per_target);
            let share = match self.targets.get(&*key) {
                Some(t) => t.time_cap(share, per_target),
                None => share,
            };
            let t = self
                .targets
                .entry(key.to_string())
                .or_insert_with(|| TargetQueue::new(now));
            if t.overflows(share) {
                overflow
                    .entry(key.to_string())
                    .or_default()
                    .push((job.id, job.lease_until));
                continue;
            }
            t.queue.push_back((job, target, key.clone()));
            self.start(&key);
        }
        for (key, ids) in overflow {
            let due = match self.targets.get_mut(&key) {
                Some(t) => t.overflow_due(now_ms(), per_target, rand::random()),
                None => now_ms(),
            };
            self.hand_back(ids, due);
        }
    }

    /// An attempt ended: its slot goes to the targets waiting for a global slot first, in turn,
    /// then back to the target that finished (which queues behind them if it must wait), so that
    /// busy targets cannot keep every global slot to themselves.
    fn on_finished(&mut self, done: &Finished) {
        self.in_flight -= 1;
        let key: &str = &done.target_key;
        let Some(t) = self.targets.get_mut(key) else {
            return;
        };
        t.finished(now_ms(), done.duration_ms);
        let has_more = !t.queue.is_empty();
        if has_more && !self.waiting.is_empty() && !self.waiting.iter().any(|k| k == key) {
            self.waiting.push_back(key.to_string());
        }
        while self.in_flight < self.shared.config.max_in_flight {
            let Some(next) = self.waiting.pop_front() else {
                break;
            };
            self.start(&next);
            self.forget_if_idle(&next);
        }
        self.start(key);
        self.forget_if_idle(key);
    }

    fn forget_idle_targets(&mut self) {
        let idle: Vec<String> = self
            .targets
            .iter()
            .filter(|(_, t)| t.idle())
            .map(|(k, _)| k.clone())
            .collect();
        for key in idle {
            self.forget_if_idle(&key);
        }
    }

    fn forget_if_idle(&mut self, key: &str) {
        if self.targets.get(key).is_some_and(TargetQueue::idle) {
            self.targets.remove(key);
        }
    }

    fn on_parked(&mut self, keys: &[String]) {
        let mut ids = Vec::new();
        for key in keys {
            if let Some(t) = self.targets.get_mut(key) {
                ids.extend(t.queue.drain(..).map(|(job, ..)| (job.id, job.lease_until)));
            }
        }
        self.hand_back(ids, now_ms());
        self.forget_idle_targets();
    }

    fn on_webhook_changed(&mut self, webhook_id: &str) {
        let mut ids = Vec::new();
        for t in self.targets.values_mut() {
            let (stale, keep): (VecDeque<_>, VecDeque<_>) = t
                .queue
                .drain(..)
                .partition(|(job, ..)| job.webhook_id == webhook_id);
            t.queue = keep;
            ids.extend(stale.into_iter().map(|(job, ..)| (job.id, job.lease_until)));
        }
        self.hand_back(ids, now_ms());
        self.forget_idle_targets();
    }

    /// Starts what the target's slots and the global limit allow. A job whose lease would end
    /// before its attempt could goes back to the store instead (another node may have it then),
    /// and so does a job for a listen session whose socket is not (or no longer) on this node:
    /// unattempted, so it keeps its retries, and due a second later for the node that holds it.
    fn start(&mut self, key: &str) {
        let config = &self.shared.config;
        let margin = config.attempt_timeout.as_millis() as Millis;
        let mut expiring = Vec::new();
        let mut elsewhere = Vec::new();
        let sessions = self.attempter.sender.sessions().clone();
        let Some(t) = self.targets.get_mut(key) else {
            return;
        };
        while t.in_flight < config.per_target_concurrency {
            if self.in_flight >= config.max_in_flight {
                if !t.queue.is_empty() && !self.waiting.iter().any(|k| k == key) {
                    self.waiting.push_back(key.to_string());
                }
                break;
            }
            let Some((job, target, target_key)) = t.queue.pop_front() else {
                break;
            };
            if job.lease_until - now_ms() < margin {
                expiring.push((job.id, job.lease_until));
                continue;
            }
            if target.session_id().is_some_and(|id| !sessions.is_here(id)) {
                elsewhere.push((job.id, job.lease_until));
                continue;
            }
            t.in_flight += 1;
            self.in_flight += 1;
            metrics::attempts_started();
            let attempter = self.attempter.clone();
            let finished = self.finished_tx.clone();
            let records = self.records.clone();
            tokio::spawn(async move {
                let key = target_key.clone();
                let done = |duration_ms| {
                    drop(finished.send(Finished {
                        target_key,
                        duration_ms,
                    }))
                };
                let record = attempter.run(job, &target, key, done).await;
                let _ = records.send(record);
            });
        }
        self.hand_back(expiring, now_ms());
        self.hand_back(elsewhere, now_ms() + SESSION_ELSEWHERE_MS);
    }

    fn parse(&mut self, url: &str) -> Result<(Arc<TargetUrl>, Arc<str>), crate::domain::Invalid> {
        if let Some(parsed) = self.parsed_urls.get(url) {
            return Ok(parsed.clone());
        }
        let t = Arc::new(TargetUrl::stored(url)?);
        let parsed = (t.clone(), Arc::from(t.key()));
        if self.parsed_urls.len() >= PARSED_URLS {
            self.parsed_urls.clear();
        }
        self.parsed_urls.insert(url.to_string(), parsed.clone());
        Ok(parsed)
    }

    /// Gives deliveries back to the store unattempted: parked if their target is silent, due at
    /// `due_at` otherwise.
    fn hand_back(&self, ids: Vec<(DeliveryId, Millis)>, due_at: Millis) {
        if ids.is_empty() {
            return;
        }
        metrics::deliveries_deferred(ids.len());
        let shared = self.shared.clone();
        tokio::spawn(async move {
            let n = ids.len();
            let window = shared.config.retry.window();
            if let Err(e) = shared.store.release(ids, due_at, window).await {
                tracing::warn!(error = %e, "could not hand back deliveries; their leases will expire");
            }
            shared.held.fetch_sub(n, Ordering::Relaxed);
            shared.claimer_wake.notify_one();
        });
    }

    /// Queued jobs go back to the store, due now, for the next start; attempts under way get the
    /// grace period to finish.
    async fn shut_down(mut self, mut commands: mpsc::UnboundedReceiver<Command>) {
        let mut ids: Vec<(DeliveryId, Millis)> = self
            .targets
            .values_mut()
            .flat_map(|t| t.queue.drain(..).map(|(job, ..)| (job.id, job.lease_until)))
            .collect();
        commands.close();
        while let Ok(command) = commands.try_recv() {
            if let Command::Jobs(jobs) = command {
                ids.extend(jobs.into_iter().map(|j| (j.id, j.lease_until)));
            }
        }
        if !ids.is_empty() {
            let n = ids.len();
            let window = self.shared.config.retry.window();
            if let Err(e) = self.shared.store.release(ids, now_ms(), window).await {
                tracing::warn!(error = %e, "could not hand back queued deliveries; their leases will expire");
            }
            self.shared.held.fetch_sub(n, Ordering::Relaxed);
        }
        let deadline = tokio::time::sleep(self.shared.config.shutdown_grace);
        tokio::pin!(deadline);
        while self.in_flight > 0 {
            tokio::select! {
                Some(_) = self.finished_rx.recv() => self.in_flight -= 1,
                _ = &mut deadline => {
                    tracing::warn!(in_flight = self.in_flight, "attempts still under way at shutdown stay pending");
                    break;
                }
            }
        }
    }
}
