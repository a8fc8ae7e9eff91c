//! `single` and `batch`: events posted as fast as the producers go (one per request, or 100 per
//! request) through one or more nodes, all delivered to one receiver; how fast they are accepted
//! and delivered, and the server CPU each costs. `signed`: the single-event load with and without
//! signatures, side by side.

use std::time::{Duration, Instant};

use serde_json::json;

use super::report::{per_sec, with_ratio, Row};
use super::Bench;
use crate::load::{chat_started, post_all};
use crate::receiver::Receiver;
use crate::server::Server;

pub async fn single(bench: &mut Bench<'_>) -> anyhow::Result<Vec<Row>> {
    let (total, producers) = (bench.sizes.single, bench.producers);
    let t = throughput(bench, total, 1, producers, false).await?;
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

/// `signed`: the single-event load, to a webhook that signs its requests and to one that does
/// not, alternately three times each in the same run, so the cost of signing reads as a ratio of
/// server CPU per event (goal: at most 5 % more).
pub async fn signed(bench: &mut Bench<'_>) -> anyhow::Result<Vec<Row>> {
    let (total, producers) = (bench.sizes.single, bench.producers);
    let (mut plain, mut signed) = (Vec::new(), Vec::new());
    for _ in 0..3 {
        plain.push(throughput(bench, total, 1, producers, false).await?);
        signed.push(throughput(bench, total, 1, producers, true).await?);
    }
    let median = |runs: &[Throughput], f: fn(&Throughput) -> f64| {
        let mut v: Vec<f64> = runs.iter().map(f).collect();
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let cpu = |t: &Throughput| t.cpu_us_per_event;
    let ratios: Vec<f64> = signed
        .iter()
        .zip(&plain)
        .map(|(s, p)| s.cpu_us_per_event / p.cpu_us_per_event)
        .collect();
    let mut sorted = ratios.clone();
    sorted.sort_by(f64::total_cmp);
    let ratio = sorted[1];
    Ok(vec![
        Row::new(
            "signed",
            format!("deliveries completed/s, signed ({total} single-event requests, median of 3)"),
            with_ratio(median(&signed, |t| t.delivered), bench.baseline),
        ),
        Row::new(
            "signed",
            "deliveries completed/s, unsigned (same run, median of 3)",
            with_ratio(median(&plain, |t| t.delivered), bench.baseline),
        ),
        Row::new(
            "signed",
            "server CPU per event, signed vs unsigned (median of 3)",
            format!(
                "{:.0} µs vs {:.0} µs",
                median(&signed, cpu),
                median(&plain, cpu)
            ),
        ),
        Row::new(
            "signed",
            "CPU ratio signed / unsigned, pair by pair",
            format!(
                "{ratio:.3} (runs: {})",
                ratios
                    .iter()
                    .map(|r| format!("{r:.3}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        )
        .goal("≤ 1.05", ratio <= 1.05),
    ])
}

pub async fn batch(bench: &mut Bench<'_>) -> anyhow::Result<Vec<Row>> {
    let total = bench.sizes.batch_events;
    let t = throughput(bench, total, 100, 16, false).await?;
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
/// producers spread over `bench.nodes` servers sharing one database, to one receiving target
/// (through a webhook that signs its requests when `signing`).
async fn throughput(
    bench: &Bench<'_>,
    total: u64,
    per_request: u64,
    workers: usize,
    signing: bool,
) -> anyhow::Result<Throughput> {
    let cluster = Server::cluster(bench.db, bench.nodes).await?;
    let epoch = Instant::now();
    let receiver = Receiver::start(epoch, false, false).await;
    let data_types = ["chat", "visitor"];
    if signing {
        cluster[0]
            .signing_webhook(&receiver.url, "chat_started", &data_types)
            .await?;
    } else {
        cluster[0]
            .webhook(&receiver.url, "chat_started", &data_types)
            .await?;
    }
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
