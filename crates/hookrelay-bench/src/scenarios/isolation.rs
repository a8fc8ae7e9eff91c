//! `isolation`: what a refusing and a silent target take from a healthy one delivered the same
//! events, against a control run where all three targets are healthy.

use std::time::{Duration, Instant};

use super::report::{per_sec, Row};
use super::Bench;
use crate::load::{chat_started, post_all};
use crate::receiver::{dead_url, Receiver};
use crate::server::Server;

pub async fn run(bench: &mut Bench<'_>) -> anyhow::Result<Vec<Row>> {
    let total = bench.sizes.isolation;
    let control = isolation(bench, total, false).await?;
    let troubled = isolation(bench, total, true).await?;
    Ok(vec![
        Row::new(
            "isolation",
            format!(
                "target A deliveries/s, A + two healthy targets on the same events ({total} events)"
            ),
            per_sec(control.rate),
        ),
        Row::new(
            "isolation",
            "target A deliveries/s, A + a dead (refusing) and a stalled (silent) target",
            format!(
                "{} ({:.2} × the control)",
                per_sec(troubled.rate),
                troubled.rate / control.rate
            ),
        ),
        Row::new(
            "isolation",
            "attempts made to the dead and stalled targets meanwhile (deliveries put off)",
            format!("{:.0} ({:.0})", troubled.extra_attempts, troubled.deferred),
        ),
    ])
}

/// What one isolation run measured.
struct Isolation {
    /// Target A's deliveries/s.
    rate: f64,
    /// Attempts to the other targets while A received its deliveries.
    extra_attempts: f64,
    /// Deliveries put off because their target was saturated or silent.
    deferred: f64,
}

/// Target A's delivery rate while every event also goes to two other targets: healthy ones in the
/// control run, a refusing and a silent one in the troubled run. Same deliveries per event in both,
/// so the ratio shows what the bad targets take from A, not the cost of more deliveries.
async fn isolation(bench: &Bench<'_>, total: u64, troubled: bool) -> anyhow::Result<Isolation> {
    let server = Server::start(bench.db, &[]).await?;
    let epoch = Instant::now();
    let target_a = Receiver::start(epoch, false, false).await;
    let others = if troubled {
        let stalled = Receiver::start(epoch, false, true).await;
        vec![dead_url(), stalled.url.clone()]
    } else {
        let b = Receiver::start(epoch, false, false).await;
        let c = Receiver::start(epoch, false, false).await;
        vec![b.url.clone(), c.url.clone()]
    };
    for url in std::iter::once(&target_a.url).chain(&others) {
        server
            .webhook(url, "chat_started", &["chat", "visitor"])
            .await?;
    }
    let body = serde_json::to_vec(&chat_started(None))?;
    let t0 = epoch.elapsed();
    let (_, failures) = post_all(
        &bench.client,
        &[server.events_url()],
        Some(&server.api_key),
        total,
        bench.producers,
        move |_| body.clone(),
    )
    .await;
    anyhow::ensure!(failures == 0, "{failures} events were refused");
    anyhow::ensure!(
        target_a.wait_for(total, Duration::from_secs(30)).await,
        "not every delivery to target A arrived"
    );
    let rate = total as f64 / (target_a.last_arrival() - t0).as_secs_f64();
    let attempts = server.metric("hookrelay_attempts_total").await?;
    let deferred = server.metric("hookrelay_deliveries_deferred_total").await?;
    Ok(Isolation {
        rate,
        extra_attempts: attempts - total as f64,
        deferred,
    })
}
