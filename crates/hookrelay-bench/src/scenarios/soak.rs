//! `soak`: a steady load for minutes with a short retention (10 s), to see the database stop
//! growing once the purge keeps up, and what the purge costs ingest: the same load runs a second
//! time with a retention longer than the run (nothing purged) and both ingest p99s are printed.

use std::time::{Duration, Instant};

use super::latency::Percentiles;
use super::report::{ms, Row};
use super::Bench;
use crate::load::chat_started;
use crate::receiver::Receiver;
use crate::server::Server;

/// One run's database sizes (every 10 s) and ingest latencies.
struct Soak {
    sizes: Vec<(u64, f64)>,
    ingest: Percentiles,
    events: u64,
}

pub async fn run(bench: &mut Bench<'_>) -> anyhow::Result<Vec<Row>> {
    let (secs, rate) = (bench.sizes.soak_secs, bench.sizes.soak_rate);
    let purged = soak(bench, "10s", secs, rate).await?;
    let kept = soak(bench, "100d", secs, rate).await?;
    let mut rows = Vec::new();
    for (at, bytes) in &purged.sizes {
        rows.push(Row::new(
            "soak",
            format!("database size at {at:>3} s (retention 10 s)"),
            format!("{:.1} MiB", bytes / 1_048_576.0),
        ));
    }
    // The size a third of the way in (40 s of the full 2 minutes; at least 20 s, two retentions):
    // by then the purge has been removing for a while, so growth after it is what retention
    // failed to bound.
    let third = (secs / 3 / 10 * 10).max(20);
    let at_third = purged
        .sizes
        .iter()
        .find(|(at, _)| *at >= third)
        .map(|s| s.1);
    let last = purged.sizes.last().map(|s| s.1);
    if let (Some(base), Some(last)) = (at_third, last) {
        let ratio = last / base;
        rows.push(
            Row::new(
                "soak",
                format!("last size / size at {third} s"),
                format!("{ratio:.2}"),
            )
            .goal("≤ 1.2", ratio <= 1.2),
        );
    }
    if let Some((_, kept_last)) = kept.sizes.last() {
        rows.push(Row::new(
            "soak",
            "database size at the end without purge (retention 100 d)",
            format!("{:.1} MiB", kept_last / 1_048_576.0),
        ));
    }
    rows.push(Row::new(
        "soak",
        format!("events in each run ({rate}/s for {secs} s)"),
        format!("{} with purge, {} without", purged.events, kept.events),
    ));
    let ratio = purged.ingest.p99.as_secs_f64() / kept.ingest.p99.as_secs_f64().max(1e-9);
    rows.push(Row::new(
        "soak",
        "ingest p99 with purge / without",
        format!("{} / {}", ms(purged.ingest.p99), ms(kept.ingest.p99)),
    ));
    rows.push(
        Row::new(
            "soak",
            "ingest p99 ratio, purge / no purge",
            format!("{ratio:.2}"),
        )
        .goal("≤ 2", ratio <= 2.0),
    );
    Ok(rows)
}

/// `rate` single events a second for `secs` seconds against a server keeping `retention`.
async fn soak(bench: &Bench<'_>, retention: &str, secs: u64, rate: u64) -> anyhow::Result<Soak> {
    let server = Server::start(bench.db, &[("HOOKRELAY_RETENTION", retention)]).await?;
    let epoch = Instant::now();
    let receiver = Receiver::start(epoch, false, false).await;
    server
        .webhook(&receiver.url, "chat_started", &["chat", "visitor"])
        .await?;
    let body = serde_json::to_vec(&chat_started(None))?;
    // Ticks of 10 ms, each sending a hundredth of the rate.
    let per_tick = (rate / 100).max(1);
    let mut ticker = tokio::time::interval(Duration::from_millis(10));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let mut tasks = Vec::new();
    let mut sizes = Vec::new();
    let start = Instant::now();
    let mut next_size = 10;
    while start.elapsed() < Duration::from_secs(secs) {
        ticker.tick().await;
        for _ in 0..per_tick {
            let request = bench
                .client
                .post(server.events_url())
                .bearer_auth(&server.api_key)
                .header("content-type", "application/json")
                .body(body.clone());
            tasks.push(tokio::spawn(async move {
                let sent = Instant::now();
                let answer = request.send().await.map(|r| r.status().as_u16());
                (answer, sent.elapsed())
            }));
        }
        if start.elapsed() >= Duration::from_secs(next_size) {
            sizes.push((next_size, server.metric("hookrelay_database_bytes").await?));
            next_size += 10;
        }
    }
    let events = tasks.len() as u64;
    let mut latencies = Vec::with_capacity(tasks.len());
    for t in tasks {
        let (answer, took) = t.await?;
        anyhow::ensure!(
            matches!(answer, Ok(202)),
            "an event was refused: {answer:?}"
        );
        latencies.push(took);
    }
    anyhow::ensure!(
        receiver.wait_for(events, Duration::from_secs(60)).await,
        "not every delivery arrived"
    );
    Ok(Soak {
        sizes,
        ingest: Percentiles::of(latencies),
        events,
    })
}
