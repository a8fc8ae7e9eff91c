//! Target health lives in the store, so every node acts on the same facts and a restart forgets
//! nothing: a silent target's recovery seen by one node is seen by all, a URL fixed through one
//! node is used at once by the others, and a restarted node does not learn a silence again.

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::backend::postgres_url;
use crate::harness::{test_config, TestLicense, TestServer};
use crate::receiver::{refusing_target, Receiver};
use hookrelay::config::Config;
use hookrelay_story::story;

fn visitor(id: &str) -> Value {
    json!({"event_type": "visitor_queued", "visitor": {"id": id}})
}

/// A retry schedule far longer than any of these stories: nothing is given up, and no retry
/// after an unanswered attempt comes back by itself while a story runs.
fn long_retries(c: &mut Config) {
    c.retry_schedule = vec![Duration::from_secs(600); 3];
}

/// Two servers sharing one fresh PostgreSQL schema, the second started once the first is up.
async fn two_nodes(tweak: impl Fn(&mut Config)) -> (TestServer, TestServer) {
    let dir_a = tempfile::tempdir().unwrap();
    let mut config = test_config(dir_a.path());
    config.database_url = postgres_url(dir_a.path());
    tweak(&mut config);
    let a = TestServer::start_in(dir_a, config.clone()).await;
    let (status, _) = a.get("/readyz", "").await;
    assert_eq!(status, 200, "node A is up");
    let b = TestServer::start_in(tempfile::tempdir().unwrap(), config).await;
    (a, b)
}

/// Every delivery of a webhook, however many pages.
async fn all_deliveries(server: &TestServer, license: &TestLicense, webhook: &str) -> Vec<Value> {
    server
        .deliveries(license, &format!("webhook_id={webhook}&limit=500"))
        .await
}

fn attempts(deliveries: &[Value]) -> i64 {
    deliveries
        .iter()
        .map(|d| d["attempt_count"].as_i64().unwrap())
        .sum()
}

async fn target_health(server: &TestServer, license: &TestLicense, webhook: &str) -> Value {
    let path = format!("/v1/licenses/{}/webhooks/{webhook}", license.id);
    let (status, body) = server.get(&path, &license.api_key).await;
    assert_eq!(status, 200, "{body}");
    body["target_health"].clone()
}

async fn wait_until_silent(server: &TestServer, license: &TestLicense, webhook: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let health = target_health(server, license, webhook).await;
        if health["state"] == "silent" {
            return health;
        }
        assert!(
            Instant::now() < deadline,
            "the target never went silent: {health}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A webhook (made through `made_on`) to a refusing target, and ten events for it (visitors
/// `{prefix}0`…`{prefix}9`, through `posted_on`): three of them make the target silent, the others
/// are parked. Returns the webhook's id and its target's health.
async fn silent_webhook(
    made_on: &TestServer,
    posted_on: &TestServer,
    license: &TestLicense,
    prefix: &str,
) -> (String, Value) {
    let target = refusing_target().await;
    let webhook = made_on
        .webhook(license, &target, "visitor_queued", &["visitor"])
        .await;
    for i in 0..10 {
        posted_on
            .event(license, visitor(&format!("{prefix}{i}")))
            .await;
    }
    let health = wait_until_silent(posted_on, license, &webhook).await;
    (webhook, health)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_probe_a_refusing_target_one_at_a_time_and_both_deliver_at_once_when_it_answers()
{
    let (a, b) = two_nodes(long_retries).await;
    let license = a.license().await;
    let target = refusing_target().await;
    let webhook = a
        .webhook(&license, &target, "visitor_queued", &["visitor"])
        .await;
    let nodes = [&a, &b];
    let started = Instant::now();
    let mut sent = 0;
    // 45 s of refused connections, with events coming in through both nodes all along.
    while started.elapsed() < Duration::from_secs(45) {
        for node in nodes {
            node.event(&license, visitor(&format!("BEFORE{sent}")))
                .await;
            sent += 1;
        }
        tokio::time::sleep(Duration::from_millis(1_500)).await;
    }
    let refused = all_deliveries(&a, &license, &webhook).await;
    let while_refused = attempts(&refused);
    let last_30s = rfc3339_ago(30);
    let mut late = 0;
    for d in &refused {
        let detail = b.delivery(&license, d["id"].as_str().unwrap()).await;
        late += detail["attempts"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|at| at["started_at"].as_str().unwrap() > last_30s.as_str())
            .count();
    }
    println!("{sent} events over 45 s; {while_refused} attempts to the refusing target across both nodes");
    assert!(
        while_refused <= 30,
        "a refusing target is probed one attempt at a time, not by each node for each event: \
         {while_refused} attempts for {sent} deliveries"
    );
    // Probes 8, 16, 30 s apart by then: two or three in the last 30 s, whichever node sends them.
    assert!(
        late <= 3,
        "{late} attempts in the last 30 s: more than one probe at a time"
    );
    assert_eq!(
        target_health(&b, &license, &webhook).await["state"],
        "silent"
    );

    let receiver =
        Receiver::start_on(target.trim_start_matches("http://").trim_end_matches('/')).await;
    for node in nodes {
        node.event(&license, visitor(&format!("AFTER{sent}"))).await;
        sent += 1;
    }
    let hits = receiver.wait_for(sent, Duration::from_secs(60)).await;
    let first = hits.iter().map(|h| h.at).min().unwrap();
    let last = hits.iter().map(|h| h.at).max().unwrap();
    println!(
        "all {sent} arrived within {:?} of the first success",
        last - first
    );
    assert!(
        last - first <= Duration::from_secs(3),
        "the last delivery arrived {:?} after the first success",
        last - first
    );
    let health = target_health(&a, &license, &webhook).await;
    assert_eq!(
        health,
        json!({"state": "answering", "silent_since": null, "next_probe_at": null, "last_error": null})
    );
    b.stop().await;
    a.stop().await;
}

/// RFC 3339 text for `secs` ago (the API's time format, which sorts as text).
fn rfc3339_ago(secs: u64) -> String {
    let t = std::time::SystemTime::now() - Duration::from_secs(secs);
    humantime::format_rfc3339_millis(t).to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_url_fixed_through_one_node_is_used_at_once_by_the_other() {
    let (a, b) = two_nodes(long_retries).await;
    let license = a.license().await;
    let (webhook, _) = silent_webhook(&a, &b, &license, "PARKED").await;
    let receiver = Receiver::start().await;
    let (status, body) = a
        .call(
            reqwest::Method::PATCH,
            &format!("/v1/licenses/{}/webhooks/{webhook}", license.id),
            &license.api_key,
            Some(json!({"url": receiver.url})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let fixed = Instant::now();
    for i in 0..30 {
        b.event(&license, visitor(&format!("NEW{i}"))).await;
    }
    for i in 0..30 {
        receiver
            .wait_for_visitor(&format!("NEW{i}"), Duration::from_secs(10))
            .await;
    }
    assert!(
        fixed.elapsed() <= Duration::from_secs(3),
        "events through node B reached the fixed URL {:?} after the fix",
        fixed.elapsed()
    );
    for i in 0..10 {
        receiver
            .wait_for_visitor(&format!("PARKED{i}"), Duration::from_secs(5))
            .await;
    }
    b.stop().await;
    a.stop().await;
}

#[story]
async fn a_restarted_node_parks_new_deliveries_for_a_silent_target_at_once() {
    let server = TestServer::start_with(long_retries).await;
    let license = server.license().await;
    let (webhook, health) = silent_webhook(&server, &server, &license, "OLD").await;
    assert!(health["silent_since"].is_string(), "{health}");
    assert!(
        health["last_error"]
            .as_str()
            .unwrap()
            .contains("could not connect"),
        "{health}"
    );
    let dir = server.stop().await;
    let mut config = test_config(dir.path());
    long_retries(&mut config);
    let server = TestServer::start_in(dir, config).await;
    let before = attempts(&all_deliveries(&server, &license, &webhook).await);
    for i in 0..10 {
        server.event(&license, visitor(&format!("NEW{i}"))).await;
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    let all = all_deliveries(&server, &license, &webhook).await;
    let after = attempts(&all) - before;
    assert!(
        after <= 1,
        "the restarted node tried a target it knew to be silent {after} times in a second"
    );
    let new: Vec<&Value> = all
        .iter()
        .filter(|d| d["status"] == "pending" && d["attempt_count"] == 0)
        .collect();
    assert!(
        new.len() >= 15,
        "parked, untried and pending: {}",
        new.len()
    );
    assert_eq!(
        target_health(&server, &license, &webhook).await["state"],
        "silent"
    );
    server.stop().await;
}

#[story]
async fn a_target_that_times_out_is_probed_one_attempt_at_a_time() {
    // Attempts that time out end one by one, well after the target has fallen silent: only the
    // probe's own outcome may arm the next probe, so probes never overlap.
    let timeout = Duration::from_secs(1);
    let server = TestServer::start_with(|c| {
        long_retries(c);
        c.attempt_timeout = timeout;
    })
    .await;
    let license = server.license().await;
    let receiver = Receiver::start().await;
    receiver.answer(crate::receiver::Answer::Stall);
    server
        .webhook(&license, &receiver.url, "visitor_queued", &["visitor"])
        .await;
    for i in 0..12 {
        server.event(&license, visitor(&format!("E{i}"))).await;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let first = receiver.wait_for(12, Duration::from_secs(5)).await;
    assert_eq!(
        first.len(),
        12,
        "every event was tried once before the silence: {first:#?}"
    );
    tokio::time::sleep(Duration::from_secs(8)).await;
    let mut probes: Vec<Instant> = receiver.hits().iter().skip(12).map(|h| h.at).collect();
    probes.sort();
    println!("{} probes in 8 s", probes.len());
    assert!(!probes.is_empty(), "a silent target is probed");
    assert!(probes.len() <= 4, "{} probes in 8 s", probes.len());
    for pair in probes.windows(2) {
        assert!(
            pair[1] - pair[0] >= timeout - Duration::from_millis(100),
            "two probes overlapped: {:?} apart",
            pair[1] - pair[0]
        );
    }
    server.stop().await;
}
