//! `recovery` (PostgreSQL only): two nodes on one database, one webhook whose target refuses
//! connections while events arrive through both nodes for about 10 s, then answers while more
//! events arrive. How soon the held-back deliveries arrive once it answers, whether every event
//! arrives, and how many attempts the refusing target cost meanwhile.

use std::ops::Range;
use std::time::{Duration, Instant};

use serde_json::Value;

use super::report::{secs, Row};
use super::Bench;
use crate::load::chat_started;
use crate::receiver::Receiver;
use crate::server::Server;

const NODES: usize = 2;
const REFUSED_EVENTS: u64 = 500;
const ANSWERED_EVENTS: u64 = 200;
/// 50 events/s, so the refused phase lasts about 10 s: long enough for both nodes to give up
/// trying the target and start probing it, which is the state recovery starts from.
const PACE: Duration = Duration::from_millis(20);
/// How long after the last event is posted every event must have arrived.
const WAIT: Duration = Duration::from_secs(60);
/// How long after the arrivals the deliveries may stay pending in the API: a node records an
/// attempt after its answer, so the last records land shortly after the last arrival.
const SETTLE: Duration = Duration::from_secs(10);

pub async fn run(bench: &mut Bench<'_>) -> anyhow::Result<Vec<Row>> {
    let Some(db) = bench.db.filter(|u| u.starts_with("postgres")) else {
        println!(
            "recovery: skipped; it runs {NODES} nodes on one database, which needs PostgreSQL \
             (--database-url postgres://…)"
        );
        return Ok(vec![Row::new(
            "recovery",
            "skipped: needs --database-url postgres://…",
            "—",
        )]);
    };
    let r = recovery(&bench.client, db).await?;
    Ok(rows(&r))
}

/// What the recovery run measured; times are after the run's epoch.
struct Recovery {
    /// How long the target refused (the first event's send until it answered).
    refused_for: Duration,
    answered_at: Duration,
    first: Option<Duration>,
    /// The arrival of the last event sent while the target refused, if all of them arrived.
    held_back_done: Option<Duration>,
    last: Duration,
    /// Distinct events arrived, and arrivals beyond one per event.
    arrived: u64,
    repeated: u64,
    /// `hookrelay_attempts_total` of each node when the target started answering.
    attempts_refused: Vec<f64>,
    /// From the API once done: the attempts recorded on the deliveries, how many succeeded and
    /// how many were still pending.
    recorded_attempts: u64,
    succeeded: u64,
    pending: u64,
}

fn rows(r: &Recovery) -> Vec<Row> {
    let total = REFUSED_EVENTS + ANSWERED_EVENTS;
    let since_first = |t: Option<Duration>| match (r.first, t) {
        (Some(first), Some(t)) => secs(t.saturating_sub(first)),
        _ => "— (not all arrived)".into(),
    };
    let refused: f64 = r.attempts_refused.iter().sum();
    let per_node: Vec<String> = r
        .attempts_refused
        .iter()
        .map(|a| format!("{a:.0}"))
        .collect();
    vec![
        Row::new(
            "recovery",
            format!(
                "events arrived ({REFUSED_EVENTS} via {NODES} nodes while the target refused \
                 {:.1} s, {ANSWERED_EVENTS} after)",
                r.refused_for.as_secs_f64()
            ),
            arrived(r),
        ),
        Row::new(
            "recovery",
            "target answering → first arrival",
            match r.first {
                Some(first) => secs(first.saturating_sub(r.answered_at)),
                None => "— (none arrived)".into(),
            },
        ),
        Row::new(
            "recovery",
            format!("first arrival → last of the {REFUSED_EVENTS} held-back events arrived"),
            since_first(r.held_back_done),
        ),
        Row::new(
            "recovery",
            format!(
                "first arrival → last of all {total} events arrived (last sent {:.0} s after \
                 answering)",
                (PACE * ANSWERED_EVENTS as u32).as_secs_f64()
            ),
            since_first((r.arrived == total).then_some(r.last)),
        ),
        Row::new(
            "recovery",
            "attempts to the target while it refused (hookrelay_attempts_total, per node)",
            format!("{refused:.0} ({})", per_node.join(" + ")),
        ),
        Row::new(
            "recovery",
            format!("attempts recorded on the {total} deliveries (API attempt_count)"),
            recorded(r),
        ),
    ]
}

/// How many events arrived, and how many are missing or came more than once.
fn arrived(r: &Recovery) -> String {
    let total = REFUSED_EVENTS + ANSWERED_EVENTS;
    let mut arrived = format!("{} of {total}", r.arrived);
    if r.arrived < total {
        arrived.push_str(&format!(
            " ({} MISSING {} s after the last post)",
            total - r.arrived,
            WAIT.as_secs()
        ));
    }
    if r.repeated > 0 {
        arrived.push_str(&format!(" (+{} repeated)", r.repeated));
    }
    arrived
}

/// The attempts the API recorded, split into succeeded and failed.
fn recorded(r: &Recovery) -> String {
    // A succeeded delivery's last attempt is its only successful one: the rest failed.
    let mut recorded = format!(
        "{} ({} succeeded + {} failed)",
        r.recorded_attempts,
        r.succeeded,
        r.recorded_attempts.saturating_sub(r.succeeded)
    );
    if r.pending > 0 {
        recorded.push_str(&format!(
            "; {} deliveries still pending after {} s",
            r.pending,
            SETTLE.as_secs()
        ));
    }
    recorded
}

async fn recovery(client: &reqwest::Client, db: &str) -> anyhow::Result<Recovery> {
    let cluster = Server::cluster(Some(db), NODES).await?;
    let epoch = Instant::now();
    let target = Receiver::refusing(epoch, true, false);
    let webhook_id = cluster[0]
        .webhook(&target.url, "chat_started", &["chat", "visitor"])
        .await?;
    let started = epoch.elapsed();
    post_paced(client, &cluster, 0..REFUSED_EVENTS, epoch).await?;
    // Read before the target answers, so these are attempts that met a refusal.
    let mut attempts_refused = Vec::new();
    for node in &cluster {
        attempts_refused.push(node.metric("hookrelay_attempts_total").await?);
    }
    let answered_at = epoch.elapsed();
    let receiver = target.answer();
    let total = REFUSED_EVENTS + ANSWERED_EVENTS;
    post_paced(client, &cluster, REFUSED_EVENTS..total, epoch).await?;
    let arrived = receiver.wait_distinct(total, Instant::now() + WAIT).await;
    let held_back: Vec<Duration> = receiver
        .shared
        .seen
        .lock()
        .expect("seen")
        .iter()
        .filter(|((_, sent), _)| *sent < answered_at)
        .map(|(_, arrival)| *arrival)
        .collect();
    let deliveries = settled(&cluster[0], &webhook_id, total).await?;
    Ok(Recovery {
        refused_for: answered_at - started,
        answered_at,
        first: receiver.first_arrival(),
        held_back_done: (held_back.len() as u64 == REFUSED_EVENTS)
            .then(|| held_back.iter().max().copied())
            .flatten(),
        last: receiver.last_arrival(),
        arrived,
        repeated: receiver.count().saturating_sub(arrived),
        attempts_refused,
        recorded_attempts: deliveries
            .iter()
            .filter_map(|d| d["attempt_count"].as_u64())
            .sum(),
        succeeded: deliveries
            .iter()
            .filter(|d| d["status"] == "succeeded")
            .count() as u64,
        pending: deliveries
            .iter()
            .filter(|d| d["status"] == "pending")
            .count() as u64,
    })
}

/// The webhook's deliveries once all `total` are listed and none is pending, or as they are
/// after `SETTLE`.
async fn settled(node: &Server, webhook_id: &str, total: u64) -> anyhow::Result<Vec<Value>> {
    let deadline = Instant::now() + SETTLE;
    loop {
        let deliveries = node.deliveries(webhook_id).await?;
        let pending = deliveries.iter().any(|d| d["status"] == "pending");
        if (deliveries.len() as u64 >= total && !pending) || Instant::now() >= deadline {
            return Ok(deliveries);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Posts the events of `range`, one every `PACE`, event `i` through node `i % nodes`, each
/// carrying its send time (which also tells the receiver one event from another); waits for
/// every answer.
async fn post_paced(
    client: &reqwest::Client,
    cluster: &[Server],
    range: Range<u64>,
    epoch: Instant,
) -> anyhow::Result<()> {
    let mut ticker = tokio::time::interval(PACE);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let mut tasks = Vec::new();
    for i in range {
        ticker.tick().await;
        let node = &cluster[i as usize % cluster.len()];
        let body = serde_json::to_vec(&chat_started(Some(epoch.elapsed())))?;
        let request = client
            .post(node.events_url())
            .bearer_auth(&node.api_key)
            .header("content-type", "application/json")
            .body(body);
        tasks.push(tokio::spawn(async move {
            request.send().await.map(|r| r.status().as_u16())
        }));
    }
    for t in tasks {
        let status = t.await?;
        anyhow::ensure!(
            matches!(status, Ok(202)),
            "an event was refused: {status:?}"
        );
    }
    Ok(())
}
