//! Prometheus metrics: what is counted and the one place that names it. Labels never carry
//! secrets (webhook ids are not secret; URLs, tokens and keys never appear).

use std::sync::OnceLock;

use metrics::{counter, describe_counter, describe_gauge, describe_histogram, gauge, histogram};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

use crate::domain::delivery::Attempt;
use crate::domain::job::{DeliveryJob, Outcome};
use crate::store::Purged;

static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// How often histogram samples are folded into their buckets.
const UPKEEP_EVERY: std::time::Duration = std::time::Duration::from_secs(5);

/// Installs the process-wide recorder (once; later calls reuse it).
pub fn install() {
    HANDLE.get_or_init(|| {
        let recorder = PrometheusBuilder::new()
            .set_buckets(&[
                0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
            ])
            .ok()?
            .build_recorder();
        let handle = recorder.handle();
        metrics::set_global_recorder(recorder).ok()?;
        describe();
        // Histogram samples pile up in the recorder until upkeep folds them into the buckets:
        // without it, memory would grow with every attempt between two scrapes (or forever,
        // where nobody scrapes).
        let upkeep = handle.clone();
        std::thread::Builder::new()
            .name("metrics-upkeep".into())
            .spawn(move || loop {
                std::thread::sleep(UPKEEP_EVERY);
                upkeep.run_upkeep();
            })
            .ok()?;
        Some(handle)
    });
}

/// Help texts, and zeros for the counters a dashboard reads before anything has happened.
fn describe() {
    describe_counter!(
        "hookrelay_events_accepted_total",
        "Events stored, by event type."
    );
    describe_counter!(
        "hookrelay_deliveries_created_total",
        "Deliveries created by accepted events."
    );
    describe_counter!("hookrelay_attempts_started_total", "HTTP attempts started.");
    describe_counter!(
        "hookrelay_attempts_total",
        "HTTP attempts finished, by outcome (succeeded, retry_scheduled, failed)."
    );
    describe_counter!(
        "hookrelay_retries_scheduled_total",
        "Failed attempts after which a retry was scheduled."
    );
    describe_counter!(
        "hookrelay_deliveries_completed_total",
        "Deliveries that reached a final state, by outcome (succeeded, failed: retries exhausted)."
    );
    describe_counter!(
        "hookrelay_webhook_failures_total",
        "Unsuccessful attempts, by webhook id."
    );
    describe_counter!(
        "hookrelay_deliveries_deferred_total",
        "Deliveries handed back to the store unattempted because their target was saturated or not answering."
    );
    describe_histogram!(
        "hookrelay_attempt_duration_seconds",
        "How long attempts took, answer included."
    );
    describe_gauge!(
        "hookrelay_deliveries_pending",
        "Deliveries waiting for an attempt (read at each scrape)."
    );
    describe_gauge!(
        "hookrelay_deliveries_in_memory",
        "Deliveries held by this node's engine."
    );
    describe_counter!(
        "hookrelay_webhooks_disabled_total",
        "Webhooks hookrelay disabled because their target answered no HTTP 200 for disable_after."
    );
    describe_counter!(
        "hookrelay_purged_total",
        "Rows removed by retention, by kind (deliveries, attempts, events, chat_tags)."
    );
    describe_gauge!(
        "hookrelay_database_bytes",
        "The database's size on disk (SQLite: the file and its WAL; PostgreSQL: pg_database_size), read at each scrape."
    );
    for kind in PURGED_KINDS.into_iter().chain(["delivery_minutes"]) {
        counter!("hookrelay_purged_total", "kind" => kind).absolute(0);
    }
    for outcome in ["succeeded", "failed"] {
        counter!("hookrelay_deliveries_completed_total", "outcome" => outcome).absolute(0);
    }
    counter!("hookrelay_retries_scheduled_total").absolute(0);
    counter!("hookrelay_deliveries_created_total").absolute(0);
    counter!("hookrelay_deliveries_deferred_total").absolute(0);
    counter!("hookrelay_webhooks_disabled_total").absolute(0);
}

/// The metrics in Prometheus text format.
pub fn render() -> String {
    HANDLE
        .get()
        .and_then(|h| h.as_ref())
        .map(|h| h.render())
        .unwrap_or_default()
}

pub fn events_accepted(event_type: &'static str, deliveries: usize) {
    counter!("hookrelay_events_accepted_total", "event_type" => event_type).increment(1);
    counter!("hookrelay_deliveries_created_total").increment(deliveries as u64);
}

/// A delivery failed untried: its target did not answer for the whole retry window.
/// Deliveries failed after waiting their whole retry window for a silent target.
pub fn deliveries_given_up(n: u64) {
    counter!("hookrelay_deliveries_completed_total", "outcome" => "failed").increment(n);
}

pub fn webhook_disabled() {
    counter!("hookrelay_webhooks_disabled_total").increment(1);
}

pub fn deliveries_deferred(n: usize) {
    counter!("hookrelay_deliveries_deferred_total").increment(n as u64);
}

pub fn attempts_started() {
    counter!("hookrelay_attempts_started_total").increment(1);
}

/// Counts one finished attempt: by outcome, its latency, a scheduled retry or the delivery's
/// final outcome, and a failure of its webhook.
pub fn attempt_finished(job: &DeliveryJob, attempt: &Attempt, outcome: Outcome) {
    let label = outcome_label(outcome);
    counter!("hookrelay_attempts_total", "outcome" => label).increment(1);
    histogram!("hookrelay_attempt_duration_seconds").record(attempt.duration_ms as f64 / 1000.0);
    match outcome {
        Outcome::RetryAt(_) => counter!("hookrelay_retries_scheduled_total").increment(1),
        Outcome::Succeeded | Outcome::Failed => {
            counter!("hookrelay_deliveries_completed_total", "outcome" => label).increment(1)
        }
    }
    if outcome != Outcome::Succeeded {
        counter!("hookrelay_webhook_failures_total", "webhook_id" => job.webhook_id.clone())
            .increment(1);
    }
}

/// The `outcome` label of an attempt (and, for the last attempt, of its delivery).
pub fn outcome_label(outcome: Outcome) -> &'static str {
    match outcome {
        Outcome::Succeeded => "succeeded",
        Outcome::RetryAt(_) => "retry_scheduled",
        Outcome::Failed => "failed",
    }
}

pub fn queue_depth(pending: i64, held: usize) {
    gauge!("hookrelay_deliveries_pending").set(pending as f64);
    gauge!("hookrelay_deliveries_in_memory").set(held as f64);
}

const PURGED_KINDS: [&str; 4] = ["deliveries", "attempts", "events", "chat_tags"];

/// Counts what a retention batch removed.
pub fn purged(p: &Purged) {
    let counts = [p.deliveries, p.attempts, p.events, p.chat_tags];
    for (kind, n) in PURGED_KINDS.into_iter().zip(counts) {
        if n > 0 {
            counter!("hookrelay_purged_total", "kind" => kind).increment(n);
        }
    }
}

/// Counts the dashboard counter rows a retention batch removed.
pub fn purged_minutes(n: u64) {
    if n > 0 {
        counter!("hookrelay_purged_total", "kind" => "delivery_minutes").increment(n);
    }
}

/// The database's size on disk, read at each scrape.
pub fn database_bytes(bytes: u64) {
    gauge!("hookrelay_database_bytes").set(bytes as f64);
}
