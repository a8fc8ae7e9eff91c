//! The scenarios and the report. Each scenario starts its own server on a fresh database so peak
//! memory is per scenario.

use std::time::{Duration, Instant};

use livechat_webhooks::{compose_body, DataTypes, EventType};
use serde_json::json;

use crate::load::{chat_started, post_all};
use crate::receiver::{dead_url, Receiver};
use crate::server::Server;
use crate::Args;

struct Sizes {
    baseline: u64,
    single: u64,
    batch_events: u64,
    latency_secs: u64,
    isolation: u64,
    backlog: u64,
}

/// One printed figure.
struct Row {
    scenario: &'static str,
    figure: String,
    value: String,
}

pub async fn run_all(args: Args) -> anyhow::Result<()> {
    let sizes = if args.quick {
        Sizes {
            baseline: 20_000,
            single: 20_000,
            batch_events: 50_000,
            latency_secs: 5,
            isolation: 20_000,
            backlog: 200_000,
        }
    } else {
        Sizes {
            baseline: 100_000,
            single: 100_000,
            batch_events: 200_000,
            latency_secs: 10,
            isolation: 100_000,
            backlog: 1_000_000,
        }
    };
    let wanted: Vec<&str> = args.scenarios.split(',').map(str::trim).collect();
    let db = args.database_url.as_deref();
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(1024)
        .build()?;
    let mut rows = Vec::new();
    let mut baseline = None;
    let mut single = None;
    println!(
        "hookrelay-bench: {} cores, database {}",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        db.unwrap_or("SQLite (fresh file per scenario)")
    );

    if wanted.contains(&"baseline") {
        let rate = bare_http(&client, sizes.baseline, args.producers).await;
        rows.push(Row {
            scenario: "baseline",
            figure: format!(
                "bare HTTP POSTs/s ({} × ~700 B, {} workers)",
                sizes.baseline, args.producers
            ),
            value: per_sec(rate),
        });
        baseline = Some(rate);
    }
    let nodes = args.nodes;
    let on = if nodes > 1 {
        format!(", {nodes} nodes")
    } else {
        String::new()
    };
    if wanted.contains(&"single") {
        let t = throughput(&client, db, nodes, sizes.single, 1, args.producers).await?;
        rows.push(Row {
            scenario: "single",
            figure: format!(
                "events accepted/s ({} single-event requests, {} producers{on})",
                sizes.single, args.producers
            ),
            value: per_sec(t.accepted),
        });
        rows.push(Row {
            scenario: "single",
            figure: "deliveries completed/s".into(),
            value: with_ratio(t.delivered, baseline),
        });
        rows.push(Row {
            scenario: "single",
            figure: "server CPU per event (ingest + delivery + record)".into(),
            value: format!("{:.0} µs", t.cpu_us_per_event),
        });
        rows.push(Row {
            scenario: "single",
            figure: "server peak RSS".into(),
            value: format!("{:.0} MiB", t.peak_rss_mib),
        });
        single = Some(t.delivered);
    }
    if wanted.contains(&"batch") {
        let t = throughput(&client, db, nodes, sizes.batch_events, 100, 16).await?;
        rows.push(Row {
            scenario: "batch",
            figure: format!(
                "events accepted/s ({} events, 100 per request{on})",
                sizes.batch_events
            ),
            value: per_sec(t.accepted),
        });
        rows.push(Row {
            scenario: "batch",
            figure: "deliveries completed/s".into(),
            value: with_ratio(t.delivered, baseline),
        });
        rows.push(Row {
            scenario: "batch",
            figure: "server CPU per event (ingest + delivery + record)".into(),
            value: format!("{:.0} µs", t.cpu_us_per_event),
        });
    }
    if wanted.contains(&"latency") {
        let (p50, p99, max) = latency(&client, db, sizes.latency_secs).await?;
        rows.push(Row {
            scenario: "latency",
            figure: format!(
                "ingest→arrival p50 at 1,000 events/s for {} s",
                sizes.latency_secs
            ),
            value: format!("{:.1} ms", ms(p50)),
        });
        rows.push(Row {
            scenario: "latency",
            figure: "ingest→arrival p99".into(),
            value: format!("{:.1} ms", ms(p99)),
        });
        rows.push(Row {
            scenario: "latency",
            figure: "ingest→arrival max".into(),
            value: format!("{:.1} ms", ms(max)),
        });
    }
    if wanted.contains(&"isolation") {
        let control = isolation(&client, db, sizes.isolation, args.producers, false).await?;
        let troubled = isolation(&client, db, sizes.isolation, args.producers, true).await?;
        rows.push(Row {
            scenario: "isolation",
            figure: format!(
                "target A deliveries/s, A + two healthy targets on the same events ({} events)",
                sizes.isolation
            ),
            value: per_sec(control.rate),
        });
        rows.push(Row {
            scenario: "isolation",
            figure: "target A deliveries/s, A + a dead (refusing) and a stalled (silent) target"
                .into(),
            value: format!(
                "{} ({:.2} × the control)",
                per_sec(troubled.rate),
                troubled.rate / control.rate
            ),
        });
        rows.push(Row {
            scenario: "isolation",
            figure: "attempts made to the dead and stalled targets meanwhile (deliveries put off)"
                .into(),
            value: format!("{:.0} ({:.0})", troubled.extra_attempts, troubled.deferred),
        });
        let _ = single;
    }
    if wanted.contains(&"backlog") {
        let (rss, rate) = backlog(&client, db, sizes.backlog).await?;
        rows.push(Row {
            scenario: "backlog",
            figure: format!(
                "events accepted/s into a backlog of {} behind a dead target",
                sizes.backlog
            ),
            value: per_sec(rate),
        });
        rows.push(Row {
            scenario: "backlog",
            figure: "server peak RSS with that backlog pending".into(),
            value: format!("{rss:.0} MiB"),
        });
    }

    println!();
    println!("{:<10} {:<80} value", "scenario", "figure");
    for r in rows {
        println!("{:<10} {:<80} {}", r.scenario, r.figure, r.value);
    }
    Ok(())
}

fn per_sec(rate: f64) -> String {
    format!("{rate:.0}/s")
}

fn with_ratio(rate: f64, baseline: Option<f64>) -> String {
    match baseline {
        Some(b) => format!("{rate:.0}/s ({:.2} × baseline)", rate / b),
        None => per_sec(rate),
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

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

/// The hardware baseline: the same client posting the delivered body straight to the receiver.
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

/// What a throughput run measured.
struct Throughput {
    accepted: f64,
    delivered: f64,
    peak_rss_mib: f64,
    /// Server CPU time (all nodes) per event, in microseconds.
    cpu_us_per_event: f64,
}

/// `total` events (in requests of `per_request`, 1 = the single-event API) posted by `workers`
/// producers spread over `nodes` servers sharing one database, to one receiving target.
async fn throughput(
    client: &reqwest::Client,
    db: Option<&str>,
    nodes: usize,
    total: u64,
    per_request: u64,
    workers: usize,
) -> anyhow::Result<Throughput> {
    let first = Server::start(db, &[]).await?;
    let mut cluster = vec![];
    for _ in 1..nodes {
        cluster.push(first.join()?);
    }
    cluster.insert(0, first);
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
        client,
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

async fn latency(
    client: &reqwest::Client,
    db: Option<&str>,
    secs: u64,
) -> anyhow::Result<(Duration, Duration, Duration)> {
    let server = Server::start(db, &[]).await?;
    let epoch = Instant::now();
    let receiver = Receiver::start(epoch, true, false).await;
    server
        .webhook(&receiver.url, "chat_started", &["chat", "visitor"])
        .await?;
    let total = secs * 1000;
    let mut ticker = tokio::time::interval(Duration::from_millis(1));
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
    anyhow::ensure!(
        receiver.wait_for(total, Duration::from_secs(60)).await,
        "not every delivery arrived"
    );
    let mut latencies = receiver.shared.latencies.lock().expect("latencies").clone();
    latencies.sort();
    let pick = |q: f64| latencies[((latencies.len() as f64 * q) as usize).min(latencies.len() - 1)];
    Ok((
        pick(0.50),
        pick(0.99),
        *latencies.last().unwrap_or(&Duration::ZERO),
    ))
}

/// Target A's delivery rate while every event also goes to two other targets: healthy ones in the
/// control run, a refusing and a silent one in the troubled run. Same deliveries per event in both,
/// so the ratio shows what the bad targets take from A, not the cost of more deliveries.
async fn isolation(
    client: &reqwest::Client,
    db: Option<&str>,
    total: u64,
    workers: usize,
    troubled: bool,
) -> anyhow::Result<Isolation> {
    let server = Server::start(db, &[]).await?;
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
        client,
        &[server.events_url()],
        Some(&server.api_key),
        total,
        workers,
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

/// What one isolation run measured.
struct Isolation {
    /// Target A's deliveries/s.
    rate: f64,
    /// Attempts to the other targets while A received its deliveries.
    extra_attempts: f64,
    /// Deliveries put off because their target was saturated or silent.
    deferred: f64,
}

async fn backlog(
    client: &reqwest::Client,
    db: Option<&str>,
    total: u64,
) -> anyhow::Result<(f64, f64)> {
    let server = Server::start(db, &[]).await?;
    server
        .webhook(&dead_url(), "visitor_queued", &["visitor"])
        .await?;
    let event =
        json!({"event_type": "visitor_queued", "visitor": livechat_webhooks::sample::visitor()});
    let batch = serde_json::to_vec(&json!({"events": vec![event; 1000]}))?;
    let url = format!("{}/batch", server.events_url());
    let (elapsed, failures) = post_all(
        client,
        &[url],
        Some(&server.api_key),
        total / 1000,
        8,
        move |_| batch.clone(),
    )
    .await;
    anyhow::ensure!(failures == 0, "{failures} batches were refused");
    // Let the engine work through first attempts (all refused) and schedule retries.
    tokio::time::sleep(Duration::from_secs(10)).await;
    println!("backlog: RSS now {:.0} MiB", server.rss_mib());
    Ok((server.peak_rss_mib(), total as f64 / elapsed.as_secs_f64()))
}
