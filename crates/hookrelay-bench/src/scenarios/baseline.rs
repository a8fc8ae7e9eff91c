//! `baseline`: the hardware's bare HTTP rate, the same client posting the delivered body straight
//! to the receiver. The server's rows are read as a ratio of it, since the machine's speed drifts
//! between runs.

use std::time::Instant;

use livechat_webhooks::{compose_body, DataTypes, EventType};

use super::report::{per_sec, Row};
use super::Bench;
use crate::load::post_all;
use crate::receiver::Receiver;

pub async fn run(bench: &mut Bench<'_>) -> anyhow::Result<Vec<Row>> {
    let total = bench.sizes.baseline;
    let rate = bare_http(&bench.client, total, bench.producers).await;
    bench.baseline = Some(rate);
    Ok(vec![Row::new(
        "baseline",
        format!(
            "bare HTTP POSTs/s ({total} × ~700 B, {} workers)",
            bench.producers
        ),
        per_sec(rate),
    )])
}

/// The body the server delivers for a started chat with its visitor, so the baseline moves the
/// same bytes as a delivery.
fn delivered_body() -> Vec<u8> {
    let sections = livechat_webhooks::sample::sections(EventType::ChatStarted);
    let wanted = DataTypes::parse_for(EventType::ChatStarted, ["chat", "visitor"]).expect("valid");
    compose_body(
        EventType::ChatStarted,
        "27f41c8da685c81a890f9e5f8ce48387",
        "1025707",
        "8f2b1e4c9a7d4f0e8b3c6a5d2e1f0a9b",
        &sections,
        wanted,
    )
    .into_bytes()
}

async fn bare_http(client: &reqwest::Client, total: u64, workers: usize) -> f64 {
    let receiver = Receiver::start(Instant::now(), false, false).await;
    let body = delivered_body();
    let (elapsed, failures) = post_all(
        client,
        std::slice::from_ref(&receiver.url),
        None,
        total,
        workers,
        move |_| body.clone(),
    )
    .await;
    assert_eq!(failures, 0, "the baseline receiver refused requests");
    total as f64 / elapsed.as_secs_f64()
}
