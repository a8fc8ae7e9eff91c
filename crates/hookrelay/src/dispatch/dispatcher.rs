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
use super::target_queue::{fair_share, waited_out, TargetQueue, SHORT_DEFER};
use crate::domain::delivery::DeliveryId;
use crate::domain::target::TargetUrl;
use crate::domain::{now_ms, Millis};
use crate::metrics;
use crate::store::{AttemptRecord, DeliveryJob, Outcome};

/// Most parsed target URLs kept; the cache starts over when full.
const PARSED_URLS: usize = 4096;

/// Decides when a target's overflow comes back ([`TargetQueue::overflow_due`]) and returns that
/// time. For a target that does not answer, new deliveries of the same webhooks are put off until
/// then too, at ingest, so they are not leased here only to be handed back.
fn put_off(
    inner: &Inner,
    t: &mut TargetQueue,
    webhooks: HashSet<String>,
    now: Millis,
    per_target: usize,
    retry: &RetryPolicy,
) -> Millis {
    let due = t.overflow_due(now, per_target, retry);
    if t.troubled(now, per_target) {
        inner.put_off(&webhooks, due);
        t.put_off.extend(webhooks);
    }
    due
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
                            let error = format!("stored target URL is invalid: {e}");
                            let _ = records.send(not_sent(&job, now_ms(), error));
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
                    let answered = unanswered.is_none();
                    match unanswered {
                        None => {
                            let (webhooks, bring) = t.answered(now_ms());
                            if !webhooks.is_empty() {
                                inner.resume(&webhooks);
                                if bring {
                                    bring_back(&inner, webhooks);
                                }
                            }
                        }
                        Some(error) => {
                            if t.unanswered(now_ms(), error) {
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
    not_sent(&job, now, error)
}

/// The record of a delivery failed without sending anything, and why.
fn not_sent(job: &DeliveryJob, now: Millis, error: String) -> AttemptRecord {
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
    use super::super::target_queue::fixtures::{job, retry_after};
    use super::*;

    #[test]
    fn a_given_up_delivery_is_failed_unsent_naming_the_window_and_the_last_error() {
        let given_up = give_up(job(0), 500_000, &retry_after(10), Some("could not connect"));
        assert_eq!(given_up.outcome, Outcome::Failed);
        assert_eq!(given_up.attempt.status_code, None);
        assert_eq!(given_up.attempt.duration_ms, 0);
        let error = given_up.attempt.error.unwrap();
        assert!(error.contains("retry window (10s)"), "{error}");
        assert!(
            error.ends_with("last attempt: could not connect"),
            "{error}"
        );
    }
}
