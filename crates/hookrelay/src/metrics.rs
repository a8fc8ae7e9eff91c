//! Prometheus metrics: what is counted and the one place that names it. Labels never carry
//! secrets (webhook ids are not secret; URLs, tokens and keys never appear).

use std::sync::OnceLock;

use metrics::{counter, gauge, histogram};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

use crate::domain::delivery::Attempt;
use crate::store::{DeliveryJob, Outcome};

static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

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
        Some(handle)
    });
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

pub fn attempts_started() {
    counter!("hookrelay_attempts_started_total").increment(1);
}

pub fn attempt_finished(job: &DeliveryJob, attempt: &Attempt, outcome: Outcome) {
    let outcome_label = match outcome {
        Outcome::Succeeded => "succeeded",
        Outcome::RetryAt(_) => "retry_scheduled",
        Outcome::Failed => "failed",
    };
    counter!("hookrelay_attempts_total", "outcome" => outcome_label).increment(1);
    histogram!("hookrelay_attempt_duration_seconds").record(attempt.duration_ms as f64 / 1000.0);
    if outcome != Outcome::Succeeded {
        counter!("hookrelay_webhook_failures_total", "webhook_id" => job.webhook_id.clone())
            .increment(1);
    }
    if outcome != Outcome::Succeeded && !matches!(outcome, Outcome::RetryAt(_)) {
        counter!("hookrelay_deliveries_failed_total").increment(1);
    }
    if outcome == Outcome::Succeeded {
        counter!("hookrelay_deliveries_succeeded_total").increment(1);
    }
}

pub fn queue_depth(pending: i64, held: usize) {
    gauge!("hookrelay_deliveries_pending").set(pending as f64);
    gauge!("hookrelay_deliveries_in_memory").set(held as f64);
}
