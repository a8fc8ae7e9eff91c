//! `fanout`: ten webhooks for one event type, all pointing at one host:port (ten paths of one
//! receiver), so every event becomes ten deliveries to the same target. It shows what the engine
//! makes of many webhooks sharing one target's slots (`per_target_concurrency` left at its
//! default): send → arrival latency of every delivery, and deliveries/s.

use std::time::{Duration, Instant};

use super::latency::Percentiles;
use super::report::{ms, with_ratio, Row};
use super::Bench;
use crate::load::{chat_started, post_all};
use crate::receiver::Receiver;
use crate::server::Server;

/// Fixed rather than scaled by `--quick`: the design targets below are stated for this load.
const EVENTS: u64 = 1_000;
const WEBHOOKS: u64 = 10;
/// Single-event requests in flight at a time.
const IN_FLIGHT: usize = 64;

/// Design targets: every delivery within 100 ms at p99, and at least 15,000 deliveries/s.
const P99_GOAL: Duration = Duration::from_millis(100);
const RATE_GOAL: f64 = 15_000.0;

pub async fn run(bench: &mut Bench<'_>) -> anyhow::Result<Vec<Row>> {
    let f = fanout(bench).await?;
    let deliveries = EVENTS * WEBHOOKS;
    Ok(vec![
        Row::new(
            "fanout",
            format!(
                "send→arrival p50 ({EVENTS} events × {WEBHOOKS} webhooks on one host:port, \
                 {IN_FLIGHT} in flight)"
            ),
            ms(f.latency.p50),
        ),
        Row::new("fanout", "send→arrival p99", ms(f.latency.p99))
            .goal("≤ 100 ms", f.latency.p99 <= P99_GOAL),
        Row::new("fanout", "send→arrival max", ms(f.latency.max)),
        Row::new(
            "fanout",
            format!("deliveries completed/s ({deliveries}, first send → last arrival)"),
            with_ratio(f.rate, bench.baseline),
        )
        .goal("≥ 15,000/s", f.rate >= RATE_GOAL),
    ])
}

/// What the fanout run measured.
struct Fanout {
    latency: Percentiles,
    /// Deliveries/s from the first event's send to the last delivery's arrival.
    rate: f64,
}

async fn fanout(bench: &Bench<'_>) -> anyhow::Result<Fanout> {
    let server = Server::start(bench.db, &[]).await?;
    let epoch = Instant::now();
    let receiver = Receiver::start(epoch, true, false).await;
    for i in 0..WEBHOOKS {
        server
            .webhook(
                &format!("{}/{i}", receiver.url),
                "chat_started",
                &["chat", "visitor"],
            )
            .await?;
    }
    let t0 = epoch.elapsed();
    // Each body is made just before its request is sent, so the time it carries is its send time.
    let (_, failures) = post_all(
        &bench.client,
        &[server.events_url()],
        Some(&server.api_key),
        EVENTS,
        IN_FLIGHT,
        move |_| serde_json::to_vec(&chat_started(Some(epoch.elapsed()))).expect("an event"),
    )
    .await;
    anyhow::ensure!(failures == 0, "{failures} events were refused");
    let total = EVENTS * WEBHOOKS;
    anyhow::ensure!(
        receiver.wait_for(total, Duration::from_secs(30)).await,
        "not every delivery arrived"
    );
    let latencies = receiver.shared.latencies.lock().expect("latencies").clone();
    Ok(Fanout {
        latency: Percentiles::of(latencies),
        rate: total as f64 / (receiver.last_arrival() - t0).as_secs_f64(),
    })
}
