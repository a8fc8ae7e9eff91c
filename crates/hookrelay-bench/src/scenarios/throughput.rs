//! `single` and `batch`: events posted as fast as the producers go (one per request, or 100 per
//! request) through one or more nodes, all delivered to one receiver; how fast they are accepted
//! and delivered, and the server CPU each costs.

use std::time::{Duration, Instant};

use serde_json::json;

use super::report::{per_sec, with_ratio, Row};
use super::Bench;
use crate::load::{chat_started, post_all};
use crate::receiver::Receiver;
use crate::server::Server;

pub async fn single(bench: &mut Bench<'_>) -> anyhow::Result<Vec<Row>> {
    let (total, producers) = (bench.sizes.single, bench.producers);
    let t = throughput(bench, total, 1, producers).await?;
    Ok(vec![
        Row::new(
            "single",
            format!(
                "events accepted/s ({total} single-event requests, {producers} producers{})",
                on_nodes(bench.nodes)
            ),
            per_sec(t.accepted),
        ),
        Row::new(
            "single",
            "deliveries completed/s",
            with_ratio(t.delivered, bench.baseline),
        ),
        Row::new(
            "single",
            "server CPU per event (ingest + delivery + record)",
            format!("{:.0} µs", t.cpu_us_per_event),
        ),
        Row::new(
            "single",
            "server peak RSS",
            format!("{:.0} MiB", t.peak_rss_mib),
        ),
    ])
}

pub async fn batch(bench: &mut Bench<'_>) -> anyhow::Result<Vec<Row>> {
    let total = bench.sizes.batch_events;
    let t = throughput(bench, total, 100, 16).await?;
    Ok(vec![
        Row::new(
            "batch",
            format!(
                "events accepted/s ({total} events, 100 per request{})",
                on_nodes(bench.nodes)
            ),
            per_sec(t.accepted),
        ),
        Row::new(
            "batch",
            "deliveries completed/s",
            with_ratio(t.delivered, bench.baseline),
        ),
        Row::new(
            "batch",
            "server CPU per event (ingest + delivery + record)",
            format!("{:.0} µs", t.cpu_us_per_event),
        ),
    ])
}

fn on_nodes(nodes: usize) -> String {
    if nodes > 1 {
        format!(", {nodes} nodes")
    } else {
        String::new()
    }
}

/// What a throughput run measured.
struct Throughput {
    accepted: f64,
    delivered: f64,
    peak_rss_mib: f64,
    /// Server CPU time (all nodes) per event, in microseconds.
    cpu_us_per_event: f64,
}

/// `total` events (in requests of `per_request`, 1 = the single-event API) posted by `workers`
/// producers spread over `bench.nodes` servers sharing one database, to one receiving target.
async fn throughput(
    bench: &Bench<'_>,
    total: u64,
    per_request: u64,
    workers: usize,
) -> anyhow::Result<Throughput> {
    let cluster = Server::cluster(bench.db, bench.nodes).await?;
    let epoch = Instant::now();
    let receiver = Receiver::start(epoch, false, false).await;
    cluster[0]
        .webhook(&receiver.url, "chat_started", &["chat", "visitor"])
        .await?;
    let body = if per_request == 1 {
        serde_json::to_vec(&chat_started(None))?
    } else {
        serde_json::to_vec(&json!({"events": vec![chat_started(None); per_request as usize]}))?
    };
    let suffix = if per_request == 1 { "" } else { "/batch" };
    let urls: Vec<String> = cluster
        .iter()
        .map(|s| format!("{}{suffix}", s.events_url()))
        .collect();
    let cpu_before: f64 = cluster.iter().map(Server::cpu_seconds).sum();
    let t0 = epoch.elapsed();
    let (elapsed, failures) = post_all(
        &bench.client,
        &urls,
        Some(&cluster[0].api_key),
        total / per_request,
        workers,
        move |_| body.clone(),
    )
    .await;
    anyhow::ensure!(failures == 0, "{failures} requests were refused");
    anyhow::ensure!(
        receiver.wait_for(total, Duration::from_secs(30)).await,
        "not every delivery arrived"
    );
    let delivering = receiver.last_arrival() - t0;
    let cpu: f64 = cluster.iter().map(Server::cpu_seconds).sum::<f64>() - cpu_before;
    Ok(Throughput {
        accepted: total as f64 / elapsed.as_secs_f64(),
        delivered: total as f64 / delivering.as_secs_f64(),
        peak_rss_mib: cluster.iter().map(Server::peak_rss_mib).fold(0.0, f64::max),
        cpu_us_per_event: cpu * 1e6 / total as f64,
    })
}
