//! The dashboard and finding deliveries, over the API on both backends: the numbers a license's
//! dashboard shows are those of what was really sent (succeeded, retried, failed, per minute and
//! per webhook); a delivery is found by its event's `event_unique_id`, its chat or its visitor;
//! the dashboard's counters are purged after the retention but kept at least two days.

use std::time::Duration;

use hookrelay::domain::dashboard::MINUTE;
use hookrelay::domain::delivery::{Attempt, DeliveryId};
use hookrelay::domain::job::{AttemptRecord, Outcome};
use hookrelay::domain::now_ms;
use hookrelay_story::story;
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::harness::{TestLicense, TestServer, ADMIN};
use crate::receiver::{Answer, Receiver};

const LIMIT: Duration = Duration::from_secs(10);

async fn dashboard(server: &TestServer, license: &TestLicense, window: &str) -> Value {
    let path = format!("/v1/licenses/{}/dashboard?window={window}", license.id);
    let (status, body) = server.get(&path, &license.api_key).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

fn of<'a>(dashboard: &'a Value, webhook: &str) -> &'a Value {
    dashboard["webhooks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|w| w["webhook_id"] == webhook)
        .unwrap_or_else(|| panic!("no webhook {webhook} in {dashboard:#}"))
}

fn sum(points: &Value, key: &str) -> i64 {
    points
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p[key].as_i64().unwrap())
        .sum()
}

#[story]
async fn the_dashboard_counts_what_was_sent_per_minute_and_per_webhook() {
    let server = TestServer::start().await;
    let license = server.license().await;
    let ok = Receiver::start().await;
    let flaky = Receiver::start().await;
    flaky.script([Answer::Status(500)]);
    let broken = Receiver::start().await;
    broken.answer(Answer::Status(503));
    let steady = server.webhook(&license, &ok.url, "chat_started", &[]).await;
    let once = server
        .webhook(&license, &flaky.url, "ticket_created", &[])
        .await;
    let never = server
        .webhook(&license, &broken.url, "visitor_queued", &[])
        .await;
    let chat = |n: usize| json!({"event_type": "chat_started", "chat": {"id": format!("C{n}"), "tags": []}});
    for n in 0..3 {
        server.event(&license, chat(n)).await;
    }
    server
        .event(
            &license,
            json!({"event_type": "ticket_created", "ticket": {"id": "T1"}}),
        )
        .await;
    server
        .event(
            &license,
            json!({"event_type": "visitor_queued", "visitor": {"id": "S1"}}),
        )
        .await;
    server
        .wait_deliveries(&license, "", LIMIT, "not every delivery finished", |list| {
            list.len() == 5 && list.iter().all(|d| d["status"] != "pending")
        })
        .await;

    // 3 + 1 succeeded; the flaky target's first attempt and three of the broken one's retried;
    // the broken one's fourth failed for good (the test schedule has 3 retries).
    let hour = dashboard(&server, &license, "1h").await;
    assert_eq!(hour["window"], "1h");
    assert_eq!(hour["step_seconds"], 60);
    assert_eq!(hour["points"].as_array().unwrap().len(), 60);
    assert_eq!(
        hour["totals"],
        json!({"succeeded": 4, "retried": 4, "failed": 1})
    );
    for key in ["succeeded", "retried", "failed"] {
        assert_eq!(
            sum(&hour["points"], key),
            hour["totals"][key].as_i64().unwrap(),
            "{key}"
        );
    }
    let recent: i64 = (57..60)
        .map(|i| hour["points"][i]["succeeded"].as_i64().unwrap())
        .sum();
    assert_eq!(recent, 4, "the attempts are in the last minutes: {hour:#}");

    let s = of(&hour, &steady);
    assert_eq!(
        (
            s["succeeded"].as_i64(),
            s["retried"].as_i64(),
            s["failed"].as_i64()
        ),
        (Some(3), Some(0), Some(0))
    );
    assert_eq!(s["success_rate"], 1.0);
    assert!(s["p50_ms"].as_i64().unwrap() >= 1, "{s}");
    assert!(
        s["p99_ms"].as_i64().unwrap() >= s["p50_ms"].as_i64().unwrap(),
        "{s}"
    );
    assert!(s["last_attempt_at"].is_string(), "{s}");
    assert_eq!(s["target_health"]["state"], "answering");
    assert_eq!(s["event_type"], "chat_started");
    let o = of(&hour, &once);
    assert_eq!(
        (o["succeeded"].as_i64(), o["retried"].as_i64()),
        (Some(1), Some(1))
    );
    assert_eq!(o["success_rate"], 0.5);
    let n = of(&hour, &never);
    assert_eq!(
        (
            n["succeeded"].as_i64(),
            n["retried"].as_i64(),
            n["failed"].as_i64()
        ),
        (Some(0), Some(3), Some(1))
    );
    assert_eq!(n["success_rate"], 0.0);

    let day = dashboard(&server, &license, "24h").await;
    assert_eq!(day["step_seconds"], 900);
    assert_eq!(day["points"].as_array().unwrap().len(), 96);
    assert_eq!(day["totals"], hour["totals"]);

    // A webhook without attempts is listed with nulls; other licenses see nothing of this one.
    let quiet = server.webhook(&license, &ok.url, "chat_ended", &[]).await;
    let q = of(&dashboard(&server, &license, "1h").await, &quiet).clone();
    assert_eq!(
        (
            q["success_rate"].clone(),
            q["p50_ms"].clone(),
            q["last_attempt_at"].clone()
        ),
        (Value::Null, Value::Null, Value::Null)
    );
    let other = server.license().await;
    assert_eq!(
        dashboard(&server, &other, "1h").await["totals"],
        json!({"succeeded": 0, "retried": 0, "failed": 0})
    );
    let path = format!("/v1/licenses/{}/dashboard", license.id);
    let (status, _) = server.get(&path, &other.api_key).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, body) = server.get(&format!("{path}?window=7d"), ADMIN).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["error"]["field"], "window");
}

#[story]
async fn a_delivery_is_found_by_its_event_unique_id_its_chat_or_its_visitor() {
    let server = TestServer::start().await;
    let license = server.license().await;
    let receiver = Receiver::start().await;
    server
        .webhook(
            &license,
            &receiver.url,
            "chat_started",
            &["chat", "visitor"],
        )
        .await;
    server
        .webhook(&license, &receiver.url, "visitor_queued", &["visitor"])
        .await;
    let unique = |n: u8| format!("{n:032x}");
    let mut ids = Vec::new();
    for (n, chat, visitor) in [(1, "C-1", "S-1"), (2, "C-2", "S-1"), (3, "C-3", "S-2")] {
        server
            .event(
                &license,
                json!({"event_type": "chat_started", "event_unique_id": unique(n),
                                     "chat": {"id": chat, "tags": []}, "visitor": {"id": visitor}}),
            )
            .await;
        ids.push(server.deliveries(&license, "limit=1").await[0]["id"].clone());
    }
    server
        .event(&license, json!({"event_type": "visitor_queued", "event_unique_id": unique(4), "visitor": {"id": "S-2"}}))
        .await;
    let queued = server.deliveries(&license, "limit=1").await[0]["id"].clone();
    let found = |query: &'static str| {
        let server = &server;
        let license = &license;
        async move {
            let list = server.deliveries(license, query).await;
            list.iter().map(|d| d["id"].clone()).collect::<Vec<_>>()
        }
    };
    assert_eq!(
        found("event_unique_id=00000000000000000000000000000002").await,
        [ids[1].clone()]
    );
    assert_eq!(found("chat_id=C-3").await, [ids[2].clone()]);
    assert_eq!(
        found("visitor_id=S-1").await,
        [ids[1].clone(), ids[0].clone()],
        "newest first"
    );
    assert_eq!(
        found("visitor_id=S-2").await,
        [queued.clone(), ids[2].clone()]
    );
    assert_eq!(
        found("visitor_id=S-2&event_type=visitor_queued").await,
        [queued]
    );
    assert_eq!(
        found("chat_id=C-1&visitor_id=S-2").await,
        Vec::<Value>::new(),
        "filters combine"
    );
    assert_eq!(
        found("chat_id=c-1").await,
        Vec::<Value>::new(),
        "ids match exactly"
    );
    assert_eq!(
        found("event_unique_id=0000000000000000000000000000000f").await,
        Vec::<Value>::new()
    );
    let found = server.deliveries(&license, "chat_id=C-2").await;
    assert_eq!(
        found[0]["event_id"],
        unique(2),
        "the delivery as the list shows it"
    );

    let path = format!("/v1/licenses/{}/deliveries", license.id);
    for (query, field) in [
        ("event_unique_id=ABC", "event_unique_id"),
        ("chat_id=", "chat_id"),
        ("visitor_id=%01", "visitor_id"),
    ] {
        let (status, body) = server
            .get(&format!("{path}?{query}"), &license.api_key)
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{query}: {body}");
        assert_eq!(body["error"]["field"], field, "{query}");
    }
}

/// An attempt of webhook `w1` of license `1` that ended at `ended` (no delivery is stored: only
/// the counters are of interest).
fn attempt(ended: i64) -> AttemptRecord {
    AttemptRecord {
        delivery_id: DeliveryId(i64::MAX),
        license_id: "1".into(),
        webhook_id: "w1".into(),
        attempt: Attempt {
            attempt_no: 1,
            started_at: ended - 5,
            duration_ms: 5,
            status_code: Some(200),
            error: None,
            response_body: None,
        },
        outcome: Outcome::Succeeded,
        target_key: Some("http://127.0.0.1:9".into()),
    }
}

#[story]
async fn the_dashboard_counters_are_purged_after_the_retention_but_kept_two_days() {
    let dir = tempfile::tempdir().unwrap();
    let url = crate::backend::database_url(dir.path());
    crate::backend::prepare(&url, dir.path()).await;
    let store = hookrelay::store::open(&url).await.unwrap();
    let now = now_ms();
    let day = 24 * 60 * MINUTE;
    let ages = [3 * day, 2 * day + 10 * MINUTE, day, 5 * MINUTE];
    let records: Vec<_> = ages.iter().map(|age| attempt(now - age)).collect();
    store
        .record_attempts(records.into(), now, Duration::from_secs(60))
        .await
        .unwrap();
    assert_eq!(store.delivery_minutes("1", 0).await.unwrap().len(), 4);

    // A one-hour retention still keeps two days of counters.
    let (_, shutdown) = tokio::sync::watch::channel(false);
    hookrelay::upkeep::retention::purge_all(&*store, Duration::from_secs(3600), &shutdown).await;
    let mut kept: Vec<i64> = store
        .delivery_minutes("1", 0)
        .await
        .unwrap()
        .iter()
        .map(|m| (now - m.last_at) / MINUTE)
        .collect();
    kept.sort_unstable_by(|a, b| b.cmp(a));
    assert_eq!(
        kept,
        [24 * 60, 5],
        "the rows 3 days and 2 days 10 minutes old went"
    );
    assert_eq!(
        store
            .last_attempts("1", vec!["w1".into(), "w2".into()])
            .await
            .unwrap(),
        [Some(now - 5 * MINUTE), None]
    );
    store.close().await;
}

#[story]
async fn an_event_with_a_visitor_id_longer_than_a_find_takes_is_stored_and_delivered_all_the_same()
{
    // An index entry has a size limit on PostgreSQL; ids past what a find takes (200 characters)
    // are not indexed, so such an event is accepted like any other (never a 500).
    let server = TestServer::start().await;
    let license = server.license().await;
    let receiver = Receiver::start().await;
    server
        .webhook(&license, &receiver.url, "visitor_queued", &["visitor"])
        .await;
    // Letters and digits with no pattern, so that compression cannot make them fit.
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let long: String = (0..6000)
        .map(|_| {
            x = x
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            char::from(ALPHABET[((x >> 33) % 62) as usize])
        })
        .collect();
    server
        .event(
            &license,
            json!({"event_type": "visitor_queued", "visitor": {"id": long}}),
        )
        .await;
    receiver
        .wait_for_visitor(&long, Duration::from_secs(10))
        .await;
    let short: String = long.chars().take(200).collect();
    let found = server
        .deliveries(&license, &format!("visitor_id={short}"))
        .await;
    assert!(found.is_empty(), "{found:#?}");
}
