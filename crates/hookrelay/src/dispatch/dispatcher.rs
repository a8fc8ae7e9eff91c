//! The dispatcher: runs attempts with a per-target and a global concurrency limit, so one slow or
//! dead target cannot take every sender, and hands a saturated target's overflow back to the store
//! for later instead of letting it fill memory.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, HashSet, VecDeque};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, watch};

use super::engine::Inner;
use super::retry::{is_success, unsuccessful_status, RetryPolicy};
use super::sender::Sender;
use crate::domain::delivery::DeliveryId;
use crate::domain::target::TargetUrl;
use crate::domain::{now_ms, Millis};
use crate::metrics;
use crate::store::{AttemptRecord, DeliveryJob, Outcome};

/// How far a delivery handed back for a troubled (silent or stuck) target is first pushed into
/// the future; it doubles every [`DEFER_GROWTH`] while the target stays troubled, up to
/// [`MAX_DEFER`], so a long outage's backlog does not cycle through the store and memory. (A
/// first step of 1 s was tried: it sent every delivery of a dead target round the claim loop
/// several times and cost a healthy target half its rate.)
const DEFER: Duration = Duration::from_secs(5);
const DEFER_GROWTH: Duration = Duration::from_secs(5);
const MAX_DEFER: Duration = Duration::from_secs(600);

/// One target's share of the dispatcher.
#[derive(Default)]
struct TargetQueue {
    in_flight: usize,
    queue: VecDeque<(DeliveryJob, Arc<TargetUrl>)>,
    /// Attempts in a row that got no answer at all (refused, timed out, broken off).
    silent_in_row: u32,
    /// How far this unanswering target's overflow is pushed out: it grows while the target
    /// stays silent, so a stalled target's backlog does not cycle through memory.
    defer_level: u32,
    /// When `defer_level` last grew (it grows at most once per [`DEFER_GROWTH`]).
    raised_at: Millis,
    /// When an attempt to this target last finished (or when the target was first seen).
    last_done_at: Millis,
    /// Webhooks of this target whose new deliveries are put off while it does not answer.
    put_off: HashSet<String>,
    /// A silent target is only probed: no attempt starts before this.
    next_probe_at: Millis,
    /// Unanswered probes since the target went silent: the gap between probes doubles with each.
    probe_level: u32,
    /// When the target went silent (its [`SILENT_AFTER`]-th unanswered attempt in a row).
    silent_since: Millis,
    /// Whether a wake-up for its next probe is scheduled.
    probe_scheduled: bool,
    /// Why its last attempt got no answer (while it has none), for deliveries given up on.
    last_error: Option<String>,
}

/// How long an unanswered attempt keeps a silent target's silence current (twice the longest gap
/// between probes).
const CONFIRMED_FOR: Duration = Duration::from_secs(60);

/// Most parsed target URLs kept; the cache starts over when full.
const PARSED_URLS: usize = 4096;

/// Attempts in a row without an answer after which a target counts as unanswering.
const SILENT_AFTER: u32 = 3;
/// Attempts run at once to a silent target: one probe, to notice when it is back.
const SILENT_CONCURRENCY: usize = 1;
/// The pause after a silent target's first unanswered probe; it doubles with every further one,
/// up to [`MAX_PROBE_GAP`]. A refused connection comes back at once, so without it a dead target
/// would be tried as fast as its deliveries fall due.
const PROBE_GAP: Duration = Duration::from_millis(500);
const MAX_PROBE_GAP: Duration = Duration::from_secs(30);

/// How long to wait before probing a target again after `probe_level` unanswered probes.
fn probe_gap(probe_level: u32) -> Duration {
    let doublings = probe_level.min(16);
    PROBE_GAP.saturating_mul(1 << doublings).min(MAX_PROBE_GAP)
}

impl TargetQueue {
    fn silent(&self) -> bool {
        self.silent_in_row >= SILENT_AFTER
    }

    /// Silent, or stuck: every slot taken and nothing finished for [`STUCK_AFTER`] (a stalled
    /// target, before its first timeouts come in).
    fn troubled(&self, now: Millis, per_target: usize) -> bool {
        let stuck = self.in_flight >= self.concurrency(per_target)
            && now - self.last_done_at >= STUCK_AFTER;
        self.silent() || stuck
    }

    /// Whether this target is silent and its next probe is not due yet.
    fn paced(&self, now: Millis) -> bool {
        self.silent() && now < self.next_probe_at
    }

    /// Silent, and recently confirmed so: its last attempt ended within [`CONFIRMED_FOR`]. After a
    /// quiet spell with nothing to probe with, a silent target may well be back; then its
    /// deliveries wait a little for the next probe instead of being parked or given up on old news.
    fn confirmed_silent(&self, now: Millis) -> bool {
        self.silent() && now - self.last_done_at <= CONFIRMED_FOR.as_millis() as i64
    }

    /// How many attempts may run at once to this target.
    fn concurrency(&self, per_target: usize) -> usize {
        if self.silent() {
            SILENT_CONCURRENCY.min(per_target)
        } else {
            per_target
        }
    }

    /// The most jobs this target may hold in memory, whatever its fair share.
    fn share_cap(&self, per_target: usize) -> usize {
        if self.silent() {
            self.concurrency(per_target)
        } else {
            usize::MAX
        }
    }
}
/// Decides when a target's overflow comes back (see [`overflow_delay`]) and returns that time.
/// For a target that does not answer, new deliveries of the same webhooks are put off until then
/// too, at ingest, so they are not leased here only to be handed back.
///
/// A silent target's deliveries are parked for the whole retry window: they come back when a probe
/// finds the target answering again (see [`Inner::resume`]), or, if it never does, when they have
/// waited the window and are given up. Bringing them back sooner would only send them round the
/// claim loop: every round costs a claim and a release per delivery, and for a target that has been
/// dead for long those rounds came in waves of everything put off since the last one.
fn put_off(
    inner: &Inner,
    t: &mut TargetQueue,
    webhooks: HashSet<String>,
    now: Millis,
    per_target: usize,
    retry: &RetryPolicy,
) -> Millis {
    let due = if t.confirmed_silent(now) {
        now + retry.window().max(DEFER).as_millis() as i64
    } else {
        now + overflow_delay(t, now, per_target).as_millis() as i64
    };
    if t.troubled(now, per_target) {
        inner.put_off(&webhooks, due);
        t.put_off.extend(webhooks);
    }
    due
}

/// How far a healthy target's overflow is put off: just long enough to drain some of its queue.
const SHORT_DEFER: Duration = Duration::from_secs(1);

/// How many jobs one target may hold in memory: its fair share of `max_held` among the targets
/// that have work, never less than what it may run at once.
fn fair_share(max_held: usize, active_targets: usize, per_target: usize) -> usize {
    (max_held / active_targets.max(1)).max(per_target)
}

/// A target with every slot taken and nothing finished for this long is treated as silent before
/// its first timeouts come in.
const STUCK_AFTER: Millis = 1_000;

/// When to give an overflowing target's jobs back: soon for a target that answers, ever later
/// (up to [`MAX_DEFER`]) for one that stays silent (or is stuck with every slot taken).
fn overflow_delay(t: &mut TargetQueue, now: Millis, per_target: usize) -> Duration {
    if !t.troubled(now, per_target) {
        return SHORT_DEFER;
    }
    if t.defer_level == 0 || now - t.raised_at >= DEFER_GROWTH.as_millis() as i64 {
        t.defer_level = t.defer_level.saturating_add(1);
        t.raised_at = now;
    }
    defer_for(t.defer_level)
}

pub(super) async fn dispatcher(
    inner: Arc<Inner>,
    sender: Sender,
    mut jobs: mpsc::UnboundedReceiver<Vec<DeliveryJob>>,
    mut changed: mpsc::UnboundedReceiver<String>,
    records: mpsc::UnboundedSender<AttemptRecord>,
    mut shutdown: watch::Receiver<bool>,
) {
    let config = inner.config.clone();
    // (target key, None when the target answered or why it did not)
    let (done_tx, mut done_rx) = mpsc::unbounded_channel::<(String, Option<String>)>();
    let mut targets: HashMap<String, TargetQueue> = HashMap::new();
    // Targets with queued jobs that wait only for a global slot, in arrival order.
    let mut waiting: VecDeque<String> = VecDeque::new();
    let mut in_flight = 0usize;
    let mut deferred: HashMap<String, Vec<(DeliveryId, String)>> = HashMap::new();
    // Target URLs as parsed (a parse per attempt showed up in profiles), by the stored text.
    let mut parsed_urls: HashMap<String, Arc<TargetUrl>> = HashMap::new();

    // Silent targets holding a job for their next probe, by when it is due.
    let mut probes: BinaryHeap<Reverse<(Millis, String)>> = BinaryHeap::new();

    let start = |key: &str,
                 t: &mut TargetQueue,
                 in_flight: &mut usize,
                 waiting: &mut VecDeque<String>,
                 probes: &mut BinaryHeap<Reverse<(Millis, String)>>| {
        if t.paced(now_ms()) {
            if !t.queue.is_empty() && !t.probe_scheduled {
                probes.push(Reverse((t.next_probe_at, key.to_string())));
                t.probe_scheduled = true;
            }
            return;
        }
        while t.in_flight < t.concurrency(config.per_target_concurrency) {
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
        let next_probe = probes.peek().map(|Reverse((at, _))| *at);
        tokio::select! {
            batch = jobs.recv() => {
                let Some(batch) = batch else { break };
                for job in batch {
                    let target = match parsed_urls.get(&job.url) {
                        Some(t) => Ok(t.clone()),
                        None => TargetUrl::parse(&job.url).map(|t| {
                            if parsed_urls.len() >= PARSED_URLS {
                                parsed_urls.clear();
                            }
                            let t = Arc::new(t);
                            parsed_urls.insert(job.url.clone(), t.clone());
                            t
                        }),
                    };
                    let target = match target {
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
                    let active = targets.len() + usize::from(!targets.contains_key(&key));
                    let share = fair_share(config.max_held, active, config.per_target_concurrency);
                    let t = targets.entry(key.clone()).or_insert_with(|| TargetQueue {
                        last_done_at: now_ms(),
                        ..TargetQueue::default()
                    });
                    let share = share.min(t.share_cap(config.per_target_concurrency));
                    let now = now_ms();
                    if t.queue.len() + t.in_flight >= share {
                        if t.confirmed_silent(now)
                            && waited_out(&job, t.silent_since, now, &config.retry)
                        {
                            let why = t.last_error.as_deref();
                            let _ = records.send(give_up(job, now, &config.retry, why));
                        } else {
                            deferred.entry(key).or_default().push((job.id, job.webhook_id));
                        }
                        continue;
                    }
                    t.queue.push_back((job, target));
                    start(&key, t, &mut in_flight, &mut waiting, &mut probes);
                }
                for (key, jobs) in deferred.drain() {
                    let now = now_ms();
                    let (ids, webhooks): (Vec<DeliveryId>, HashSet<String>) =
                        jobs.into_iter().unzip();
                    let due = match targets.get_mut(&key) {
                        Some(t) => put_off(
                            &inner,
                            t,
                            webhooks,
                            now,
                            config.per_target_concurrency,
                            &config.retry,
                        ),
                        None => now + SHORT_DEFER.as_millis() as i64,
                    };
                    hand_back(&inner, ids, due);
                }
            }
            Some((key, unanswered)) = done_rx.recv() => {
                in_flight -= 1;
                if let Some(t) = targets.get_mut(&key) {
                    t.in_flight -= 1;
                    t.last_done_at = now_ms();
                    let answered = unanswered.is_none();
                    t.last_error = unanswered;
                    if answered {
                        let was_silent = t.silent();
                        t.silent_in_row = 0;
                        t.defer_level = 0;
                        if !t.put_off.is_empty() {
                            let webhooks = std::mem::take(&mut t.put_off);
                            inner.resume(&webhooks);
                            // Only a silent target had deliveries parked for it (a merely busy
                            // one's overflow comes back by itself within seconds).
                            if was_silent {
                                bring_back(&inner, webhooks);
                            }
                        }
                    } else {
                        t.silent_in_row = t.silent_in_row.saturating_add(1);
                        let now = t.last_done_at;
                        if t.silent_in_row == SILENT_AFTER {
                            t.silent_since = now;
                            t.probe_level = 0;
                        } else if t.silent() && now >= t.next_probe_at {
                            // A probe failed (not one of the attempts that were under way when
                            // the target fell silent): wait longer before the next.
                            t.probe_level = t.probe_level.saturating_add(1);
                        }
                        if t.silent() {
                            t.next_probe_at = now + probe_gap(t.probe_level).as_millis() as i64;
                        }
                        if t.silent_in_row == SILENT_AFTER {
                            // It just went silent: what waits for it goes back to the store
                            // instead of holding memory other targets could use, all but one
                            // job kept for the next probe.
                            let probe = t.queue.pop_front();
                            let (ids, webhooks): (Vec<DeliveryId>, HashSet<String>) = t
                                .queue
                                .drain(..)
                                .map(|(job, _)| (job.id, job.webhook_id))
                                .unzip();
                            t.queue.extend(probe);
                            if !ids.is_empty() {
                                let now = now_ms();
                                let due = put_off(
                                    &inner,
                                    t,
                                    webhooks,
                                    now,
                                    config.per_target_concurrency,
                                    &config.retry,
                                );
                                hand_back(&inner, ids, due);
                            }
                        }
                    }
                    start(&key, t, &mut in_flight, &mut waiting, &mut probes);
                    if !answered && t.silent() && t.queue.is_empty() && t.in_flight == 0 {
                        // Nothing left to probe with: one parked delivery comes back for it.
                        supply_probe(&inner, &t.put_off, t.next_probe_at);
                    }
                    if t.queue.is_empty() && t.in_flight == 0 && t.silent_in_row == 0 {
                        targets.remove(&key);
                    }
                }
                while in_flight < config.max_in_flight {
                    let Some(next) = waiting.pop_front() else { break };
                    if let Some(t) = targets.get_mut(&next) {
                        start(&next, t, &mut in_flight, &mut waiting, &mut probes);
                    }
                }
            }
            Some(webhook) = changed.recv() => {
                // Again here: a deferral since the API's call may have put it back.
                inner.resume(&HashSet::from([webhook.clone()]));
                let mut ids = Vec::new();
                for t in targets.values_mut() {
                    t.put_off.remove(&webhook);
                    let (stale, keep): (VecDeque<_>, VecDeque<_>) = t
                        .queue
                        .drain(..)
                        .partition(|(job, _)| job.webhook_id == webhook);
                    t.queue = keep;
                    ids.extend(stale.into_iter().map(|(job, _)| job.id));
                }
                if !ids.is_empty() {
                    hand_back(&inner, ids, now_ms());
                    inner.claimer_wake.notify_one();
                }
            }
            _ = sleep_until(next_probe) => {
                let now = now_ms();
                while let Some(Reverse((at, key))) = probes.peek().cloned() {
                    if at > now {
                        break;
                    }
                    probes.pop();
                    if let Some(t) = targets.get_mut(&key) {
                        t.probe_scheduled = false;
                        start(&key, t, &mut in_flight, &mut waiting, &mut probes);
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
    done: mpsc::UnboundedSender<(String, Option<String>)>,
    key: String,
) -> AttemptRecord {
    let mut sent = sender.send(&job, target).await;
    let unanswered = match sent.attempt.status_code {
        Some(_) => None,
        None => Some(sent.attempt.error.clone().unwrap_or_default()),
    };
    let _ = done.send((key, unanswered));
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

/// Whether a delivery put off now for a target silent since `silent_since` will, by the time it
/// can come back (a put-off lasts at least 3/4 of [`DEFER`], jitter included), have waited untried
/// for the whole retry window while its target did not answer. Only that time counts: waiting in
/// a backlog, behind a disabled webhook or while the relay was down is not the target's fault.
/// The window counts as at least [`DEFER`], so a very short schedule does not fail deliveries the
/// moment their target misses three answers.
fn waited_out(job: &DeliveryJob, silent_since: Millis, now: Millis, retry: &RetryPolicy) -> bool {
    let back_at = now + DEFER.mul_f64(0.75).as_millis() as i64;
    let window = retry.window().max(DEFER).as_millis() as i64;
    back_at - job.idle_since.max(silent_since) >= window
}

/// Fails a delivery whose target has not answered for its whole retry window, without sending
/// it: the record says why, and the delivery stays resendable like any failed one.
fn give_up(
    job: DeliveryJob,
    now: Millis,
    retry: &RetryPolicy,
    last_error: Option<&str>,
) -> AttemptRecord {
    let window = Duration::from_millis(retry.window().as_millis() as u64);
    let mut error = format!(
        "not sent: the target has not answered for the whole retry window ({}); the delivery \
         has failed and can be resent",
        humantime::format_duration(window)
    );
    if let Some(last) = last_error.filter(|e| !e.is_empty()) {
        error.push_str("; the target's last attempt: ");
        error.push_str(last);
    }
    metrics::delivery_given_up();
    tracing::warn!(
        delivery_id = %job.id,
        license_id = %job.license_id,
        webhook_id = %job.webhook_id,
        event_type = job.event_type.as_str(),
        attempt = job.attempt_no,
        outcome = "failed",
        error = error.as_str(),
        "delivery failed: its target did not answer for the whole retry window"
    );
    AttemptRecord {
        delivery_id: job.id,
        attempt: crate::domain::delivery::Attempt {
            attempt_no: job.attempt_no,
            started_at: now,
            duration_ms: 0,
            status_code: None,
            error: Some(error),
            response_body: None,
        },
        outcome: Outcome::Failed,
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

/// Sleeps until `at` (Unix milliseconds); never completes for `None`.
async fn sleep_until(at: Option<Millis>) {
    match at {
        Some(at) => tokio::time::sleep(Duration::from_millis((at - now_ms()).max(0) as u64)).await,
        None => std::future::pending().await,
    }
}

/// Makes the deliveries put off for these webhooks due now: their target answers again.
///
/// A second pass a little later catches deliveries that an ingest running at that moment stored
/// parked from the put-off list as it was before.
fn bring_back(inner: &Arc<Inner>, webhooks: HashSet<String>) {
    let inner = inner.clone();
    tokio::spawn(async move {
        let ids: Vec<String> = webhooks.into_iter().collect();
        for pass in 0..2 {
            if pass > 0 {
                tokio::time::sleep(Duration::from_secs(2)).await;
            }
            match inner.store.bring_forward(ids.clone(), now_ms(), None).await {
                Ok(0) => {}
                Ok(_) => inner.claimer_wake.notify_one(),
                Err(e) => {
                    tracing::warn!(error = %e, "could not bring back parked deliveries; they come back when their wait ends");
                }
            }
        }
    });
}

/// Makes one parked delivery of these webhooks due at `at`, to be the silent target's next probe
/// (a failed probe's own delivery waits for its retry, and everything else is parked).
fn supply_probe(inner: &Arc<Inner>, webhooks: &HashSet<String>, at: Millis) {
    if webhooks.is_empty() {
        return;
    }
    let inner = inner.clone();
    let ids: Vec<String> = webhooks.iter().cloned().collect();
    tokio::spawn(async move {
        match inner.store.bring_forward(ids, at, Some(1)).await {
            // The claimer looks again, so that it sleeps until this new due time, not its poll.
            Ok(n) if n > 0 => inner.claimer_wake.notify_one(),
            Ok(_) => {}
            Err(e) => {
                tracing::warn!(error = %e, "could not pick a delivery to probe a silent target with");
            }
        }
    });
}

/// Gives deliveries back to the store unattempted, due at `due_at`.
fn hand_back(inner: &Arc<Inner>, ids: Vec<DeliveryId>, due_at: Millis) {
    metrics::deliveries_deferred(ids.len());
    let inner = inner.clone();
    tokio::spawn(async move {
        let n = ids.len();
        if let Err(e) = inner.store.release(ids, due_at).await {
            tracing::warn!(error = %e, "could not hand back deliveries; their leases will expire");
        }
        inner.held.fetch_sub(n, Ordering::Relaxed);
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_put_off_delivery_is_given_up_once_it_cannot_come_back_within_its_window() {
        let retry = RetryPolicy {
            schedule: vec![Duration::from_secs(10)],
            jitter: 0.0,
            max_retry_after: Duration::from_secs(60),
        };
        let job = |idle_since| DeliveryJob {
            id: DeliveryId(1),
            attempt_no: 2,
            license_id: "1".into(),
            webhook_id: "w".into(),
            event_type: livechat_webhooks::EventType::VisitorQueued,
            url: "http://example.com/".into(),
            body: Default::default(),
            idle_since,
        };
        // A 10 s window; a put-off comes back 3.75 s later at the earliest.
        let silent_since = 0;
        assert!(!waited_out(&job(100_000), silent_since, 100_000, &retry));
        assert!(!waited_out(&job(100_000), silent_since, 106_000, &retry));
        assert!(waited_out(&job(100_000), silent_since, 106_250, &retry));
        // Only the time the target has been silent counts.
        assert!(!waited_out(&job(0), 103_000, 106_250, &retry));
        assert!(waited_out(&job(0), 103_000, 109_250, &retry));
        // However short the schedule, the window is at least DEFER.
        let no_retries = RetryPolicy {
            schedule: vec![],
            ..retry.clone()
        };
        assert!(!waited_out(&job(0), 0, 1_000, &no_retries));
        assert!(waited_out(&job(0), 0, 1_250, &no_retries));
        let given_up = give_up(job(0), 500_000, &retry, Some("could not connect"));
        assert_eq!(given_up.outcome, Outcome::Failed);
        assert_eq!(given_up.attempt.status_code, None);
        let error = given_up.attempt.error.unwrap();
        assert!(error.contains("retry window (10s)"), "{error}");
        assert!(
            error.ends_with("last attempt: could not connect"),
            "{error}"
        );
    }

    #[test]
    fn each_target_may_hold_its_fair_share_of_memory() {
        assert_eq!(fair_share(2048, 1, 32), 2048);
        assert_eq!(fair_share(2048, 4, 32), 512);
        assert_eq!(fair_share(2048, 1000, 32), 32);
    }

    #[test]
    fn an_answering_targets_overflow_comes_back_soon_and_a_silent_ones_ever_later() {
        let mut t = TargetQueue::default();
        assert_eq!(overflow_delay(&mut t, 0, 32), SHORT_DEFER);
        t.silent_in_row = SILENT_AFTER;
        let first = overflow_delay(&mut t, 0, 32);
        assert!(first >= Duration::from_millis(3750), "{first:?}");
        assert_eq!(t.defer_level, 1);
        overflow_delay(&mut t, 4_000, 32);
        assert_eq!(t.defer_level, 1, "grows at most once per DEFER_GROWTH");
        overflow_delay(&mut t, 6_000, 32);
        assert_eq!(t.defer_level, 2);
    }

    #[test]
    fn a_silent_target_runs_one_probe_at_a_time_and_holds_no_more() {
        let mut t = TargetQueue::default();
        assert_eq!((t.concurrency(32), t.share_cap(32)), (32, usize::MAX));
        t.silent_in_row = SILENT_AFTER;
        assert_eq!((t.concurrency(32), t.share_cap(32)), (1, 1));
        assert_eq!(t.concurrency(1), 1);
    }

    #[test]
    fn a_target_with_every_slot_taken_and_nothing_finishing_counts_as_silent() {
        let mut t = TargetQueue {
            in_flight: 32,
            last_done_at: 0,
            ..TargetQueue::default()
        };
        assert!(!t.troubled(500, 32), "busy, not stuck yet");
        assert_eq!(overflow_delay(&mut t, 500, 32), SHORT_DEFER);
        assert!(t.troubled(1_500, 32));
        overflow_delay(&mut t, 1_500, 32);
        assert_eq!(t.defer_level, 1, "put off like a silent target");
    }

    #[test]
    fn a_saturated_targets_overflow_is_put_off_ever_longer_up_to_a_cap() {
        let secs = |level| defer_for(level).as_secs_f64();
        assert!((3.75..=6.25).contains(&secs(1)), "{}", secs(1));
        assert!((7.5..=12.5).contains(&secs(2)), "{}", secs(2));
        assert!((450.0..=750.0).contains(&secs(40)), "{}", secs(40));
    }

    #[test]
    fn a_silent_target_is_probed_ever_less_often_up_to_a_cap() {
        assert_eq!(probe_gap(0), Duration::from_millis(500));
        assert_eq!(probe_gap(1), Duration::from_secs(1));
        assert_eq!(probe_gap(3), Duration::from_secs(4));
        assert_eq!(probe_gap(1_000), MAX_PROBE_GAP);
    }

    #[test]
    fn silence_is_current_only_while_attempts_keep_confirming_it() {
        let mut t = TargetQueue {
            silent_in_row: SILENT_AFTER,
            last_done_at: 100_000,
            ..TargetQueue::default()
        };
        assert!(t.confirmed_silent(100_000 + CONFIRMED_FOR.as_millis() as i64));
        assert!(!t.confirmed_silent(100_001 + CONFIRMED_FOR.as_millis() as i64));
        t.silent_in_row = 0;
        assert!(
            !t.confirmed_silent(100_000),
            "a target that answers is not silent"
        );
    }

    #[test]
    fn only_a_silent_target_waits_for_its_next_probe() {
        let mut t = TargetQueue {
            next_probe_at: 2_000,
            ..TargetQueue::default()
        };
        assert!(!t.paced(1_000), "a target that answers is never paced");
        t.silent_in_row = SILENT_AFTER;
        assert!(t.paced(1_000));
        assert!(!t.paced(2_000), "its probe is due");
    }
}
