//! `latency`: events at a steady 1,000/s, each carrying its send time, to one receiver; the
//! send → arrival percentiles. Also the percentile picking the `fanout` scenario shares.

use std::time::{Duration, Instant};

use super::report::{ms, Row};
use super::Bench;
use crate::load::chat_started;
use crate::receiver::Receiver;
use crate::server::Server;

/// p50, p99 and max of a set of latencies.
pub struct Percentiles {
    pub p50: Duration,
    pub p99: Duration,
    pub max: Duration,
}

impl Percentiles {
    pub fn of(mut latencies: Vec<Duration>) -> Percentiles {
        latencies.sort();
        let pick = |q: f64| {
            latencies
                .get(((latencies.len() as f64 * q) as usize).min(latencies.len().saturating_sub(1)))
                .copied()
                .unwrap_or_default()
        };
        Percentiles {
            p50: pick(0.50),
            p99: pick(0.99),
            max: latencies.last().copied().unwrap_or_default(),
        }
    }
}

pub async fn run(bench: &mut Bench<'_>) -> anyhow::Result<Vec<Row>> {
    let secs = bench.sizes.latency_secs;
    let p = latency(&bench.client, bench.db, secs).await?;
    Ok(vec![
        Row::new(
            "latency",
            format!("ingest→arrival p50 at 1,000 events/s for {secs} s"),
            ms(p.p50),
        ),
        Row::new("latency", "ingest→arrival p99", ms(p.p99)),
        Row::new("latency", "ingest→arrival max", ms(p.max)),
    ])
}

/// Sends `total` chat_started events to `server`, one every `every`, each carrying its send
/// time since `epoch`; fails if one is refused.
pub async fn send_steady(
    client: &reqwest::Client,
    server: &Server,
    epoch: Instant,
    total: u64,
    every: Duration,
) -> anyhow::Result<()> {
    let mut ticker = tokio::time::interval(every);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let mut tasks = Vec::with_capacity(total as usize);
    for _ in 0..total {
        ticker.tick().await;
        let body = serde_json::to_vec(&chat_started(Some(epoch.elapsed())))?;
        let request = client
            .post(server.events_url())
            .bearer_auth(&server.api_key)
            .header("content-type", "application/json")
            .body(body);
        tasks.push(tokio::spawn(async move {
            request.send().await.map(|r| r.status().as_u16())
        }));
    }
    for t in tasks {
        anyhow::ensure!(matches!(t.await?, Ok(202)), "an event was refused");
    }
    Ok(())
}

async fn latency(
    client: &reqwest::Client,
    db: Option<&str>,
    secs: u64,
) -> anyhow::Result<Percentiles> {
    let server = Server::start(db, &[]).await?;
    let epoch = Instant::now();
    let receiver = Receiver::start(epoch, true, false).await;
    server
        .webhook(&receiver.url, "chat_started", &["chat", "visitor"])
        .await?;
    let total = secs * 1000;
    send_steady(client, &server, epoch, total, Duration::from_millis(1)).await?;
    anyhow::ensure!(
        receiver.wait_for(total, Duration::from_secs(60)).await,
        "not every delivery arrived"
    );
    let latencies = receiver.shared.latencies.lock().expect("latencies").clone();
    Ok(Percentiles::of(latencies))
}
