//! `backlog`: a large backlog behind a refusing target; how fast it is accepted and the server's
//! peak memory while it is pending (memory must not grow with the backlog).

use std::time::Duration;

use serde_json::json;

use super::report::{per_sec, Row};
use super::Bench;
use crate::load::post_all;
use crate::receiver::dead_url;
use crate::server::Server;

pub async fn run(bench: &mut Bench<'_>) -> anyhow::Result<Vec<Row>> {
    let total = bench.sizes.backlog;
    let (rss, rate) = backlog(&bench.client, bench.db, total).await?;
    Ok(vec![
        Row::new(
            "backlog",
            format!("events accepted/s into a backlog of {total} behind a dead target"),
            per_sec(rate),
        ),
        Row::new(
            "backlog",
            "server peak RSS with that backlog pending",
            format!("{rss:.0} MiB"),
        ),
    ])
}

/// Returns the server's peak RSS (MiB) and the events accepted/s.
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
