//! The engine's handle: what the API asks of the delivery engine, and the tasks it starts.
//!
//! The store is the source of truth, targets' health included; memory only holds a bounded
//! window of it (`max_held` jobs), so a million pending deliveries cost disk, not RAM. New
//! deliveries are leased to this node at ingest and handed straight to the dispatcher (no
//! polling delay on the happy path); everything else (retries, probes, a backlog, work another
//! node or a crash left) comes through the claimer.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::{mpsc, watch, Notify};
use tokio::task::JoinHandle;

use super::attempt::Attempter;
use super::dispatcher::{Command, Dispatcher};
use super::retry::{is_success, RetryPolicy};
use super::sender::{Sender, Sent};
use crate::domain::delivery::DeliveryId;
use crate::domain::event::NewEvent;
use crate::domain::health::Timings;
use crate::domain::ingest_plan::Placement;
use crate::domain::job::{DeliveryJob, JobSigning};
use crate::domain::license::License;
use crate::domain::recovery::Recovery;
use crate::domain::target::TargetUrl;
use crate::domain::{now_ms, Millis};
use crate::store::{Ingested, News, Resend, Store, StoreResult};

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
    /// How long one attempt may take.
    pub attempt_timeout: Duration,
}

impl EngineConfig {
    /// The health timings that follow from the attempt timeout.
    pub fn timings(&self) -> Timings {
        Timings::for_attempts(self.attempt_timeout)
    }

    /// Jobs held in memory above which ingest leaves new deliveries to the claimer (which
    /// claims only once a quarter of memory is free): one threshold for both, so neither starves
    /// the other.
    pub(super) fn lease_limit(&self) -> usize {
        self.max_held - (self.max_held / 4).clamp(1, 1024)
    }
}

/// What the engine's tasks share.
pub(super) struct Shared {
    pub(super) store: Arc<dyn Store>,
    pub(super) config: EngineConfig,
    /// Jobs in memory: queued, under way, or waiting to be recorded.
    pub(super) held: AtomicUsize,
    pub(super) claimer_wake: Notify,
    pub(super) dispatcher: mpsc::UnboundedSender<Command>,
    /// Whether deliveries were left due in the store for want of room: until the claimer has
    /// caught up, ingest leaves new ones there too, so that they go out in order.
    pub(super) backlog: AtomicBool,
}

impl Shared {
    /// The lease end for deliveries taken at `now`.
    pub(super) fn lease_until(&self, now: Millis) -> Millis {
        now + self.config.lease.as_millis() as Millis
    }

    /// Hands jobs leased to this node to the dispatcher.
    pub(super) fn submit(&self, jobs: Vec<DeliveryJob>) {
        if jobs.is_empty() {
            return;
        }
        self.held.fetch_add(jobs.len(), Ordering::Relaxed);
        if let Err(lost) = self.dispatcher.send(Command::Jobs(jobs)) {
            // Shutting down: the leases expire or are released at the next start.
            if let Command::Jobs(jobs) = lost.0 {
                self.held.fetch_sub(jobs.len(), Ordering::Relaxed);
            }
        }
    }
}

/// A handle to the running engine.
#[derive(Clone)]
pub struct Engine {
    shared: Arc<Shared>,
    attempter: Attempter,
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
        let (commands_tx, commands_rx) = mpsc::unbounded_channel();
        let (records_tx, records_rx) = mpsc::unbounded_channel();
        let attempter = Attempter {
            sender,
            retry: config.retry.clone(),
            success_any_2xx: config.success_any_2xx,
        };
        let shared = Arc::new(Shared {
            store,
            config,
            held: AtomicUsize::new(0),
            claimer_wake: Notify::new(),
            dispatcher: commands_tx,
            backlog: AtomicBool::new(false),
        });
        let dispatcher = Dispatcher::new(shared.clone(), attempter.clone(), records_tx);
        let shutdown_news = shutdown.clone();
        let handles = vec![
            tokio::spawn(super::claimer::run(shared.clone(), shutdown.clone())),
            tokio::spawn(dispatcher.run(commands_rx, shutdown)),
            tokio::spawn(super::recorder::run(shared.clone(), records_rx)),
            tokio::spawn(follow_news(shared.clone(), shutdown_news)),
        ];
        (Engine { shared, attempter }, EngineTasks { handles })
    }

    /// Stores events in one durable commit and sends their deliveries: those leased to this node
    /// go to the dispatcher at once; the others are left for a claimer, which is woken.
    pub async fn ingest(
        &self,
        license: &License,
        events: Vec<NewEvent>,
    ) -> StoreResult<Vec<Ingested>> {
        let s = &self.shared;
        let now = now_ms();
        let room = s.held.load(Ordering::Relaxed) < s.config.lease_limit()
            && !s.backlog.load(Ordering::Relaxed);
        let placement = Placement {
            now,
            lease_until: room.then(|| s.lease_until(now)),
            window: s.config.retry.window(),
            confirmed_for: s.config.timings().confirmed_for,
        };
        let types: Vec<&'static str> = events.iter().map(|e| e.event_type.as_str()).collect();
        let mut ingested = s.store.ingest(license, events, placement).await?;
        let mut left_due = false;
        for (event, event_type) in ingested.iter_mut().zip(types) {
            if !event.duplicate {
                crate::metrics::events_accepted(event_type, event.deliveries);
                left_due |= event.left_due > 0;
            }
            s.submit(std::mem::take(&mut event.jobs));
        }
        if left_due {
            s.backlog.store(true, Ordering::Relaxed);
            s.claimer_wake.notify_one();
        }
        Ok(ingested)
    }

    /// Attempts a delivery again now, whatever its state (unless an attempt is under way).
    pub async fn resend(&self, license_id: &str, id: DeliveryId) -> StoreResult<Resend> {
        let now = now_ms();
        let lease_until = self.shared.lease_until(now);
        let answer = self
            .shared
            .store
            .resend(license_id, id, now, lease_until)
            .await?;
        if let Resend::Job(job) = &answer {
            self.shared.submit(vec![job.clone()]);
        }
        Ok(answer)
    }

    /// Bulk recovery: makes the failed deliveries `which` selects due now, to be sent paced by
    /// the per-target limits like any due delivery (see [`Store::recover_failed`]), or only
    /// counts them when `dry_run`. `None` when the webhook asked for is not the license's. The
    /// claimer is woken here; on PostgreSQL the store's `NOTIFY` wakes every node's.
    pub async fn recover(&self, which: &Recovery, dry_run: bool) -> StoreResult<Option<u64>> {
        let store = &self.shared.store;
        if let Some(webhook_id) = &which.webhook_id {
            if store
                .webhook(&which.license_id, webhook_id)
                .await?
                .is_none()
            {
                return Ok(None);
            }
        }
        let count = store.recover_failed(which, dry_run, now_ms()).await?;
        if count > 0 && !dry_run {
            self.shared.claimer_wake.notify_one();
        }
        Ok(Some(count))
    }

    /// A webhook's URL or state changed (the store has already made its parked deliveries due):
    /// the jobs held for it in memory, with the old URL, go back to the store to be claimed as it
    /// is now.
    pub fn webhook_changed(&self, webhook_id: &str) {
        let _ = self
            .shared
            .dispatcher
            .send(Command::WebhookChanged(webhook_id.to_string()));
        self.shared.claimer_wake.notify_one();
    }

    /// Sends `body` to `target` once, as a test, storing nothing, signed as `signing` says;
    /// returns what happened and whether it counts as delivered.
    pub async fn send_test(
        &self,
        target: &TargetUrl,
        body: Bytes,
        signing: Option<&JobSigning>,
    ) -> (Sent, bool) {
        let sent = self
            .attempter
            .sender
            .send(target, body, 1, signing, None)
            .await;
        let any_2xx = self.attempter.success_any_2xx;
        let delivered = sent
            .attempt
            .status_code
            .is_some_and(|c| is_success(c, any_2xx));
        (sent, delivered)
    }

    /// The store the engine works on.
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.shared.store
    }

    /// The listen sessions whose sockets are on this node.
    pub fn sessions(&self) -> &Arc<super::sessions::Sessions> {
        self.attempter.sender.sessions()
    }

    /// Jobs currently in memory.
    pub fn held(&self) -> usize {
        self.shared.held.load(Ordering::Relaxed)
    }

    /// Waits until nothing is in memory and nothing is due (retries and probes later than
    /// `horizon` from now do not count), or `limit` passes; true when idle. For tests and tools
    /// that want to wait for the engine rather than poll with a deadline.
    pub async fn run_until_idle(&self, horizon: Duration, limit: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            let horizon = now_ms() + horizon.as_millis() as Millis;
            let due_soon = match self.shared.store.next_due_at().await {
                Ok(next) => [next.delivery, next.probe]
                    .into_iter()
                    .flatten()
                    .any(|at| at <= horizon),
                Err(_) => true,
            };
            if self.held() == 0 && !due_soon {
                return true;
            }
            if tokio::time::Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

/// Passes on what other nodes changed (a webhook, a target that fell silent) to this node's
/// dispatcher, so that it does not go on sending jobs it holds with stale facts.
async fn follow_news(shared: Arc<Shared>, mut shutdown: watch::Receiver<bool>) {
    loop {
        tokio::select! {
            news = shared.store.next_news() => {
                let command = match news {
                    News::WebhookChanged(id) => Command::WebhookChanged(id),
                    News::TargetParked(key) => Command::Parked(vec![key]),
                };
                let _ = shared.dispatcher.send(command);
            }
            _ = shutdown.changed() => if *shutdown.borrow() { return },
        }
    }
}
