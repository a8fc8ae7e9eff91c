//! Auto-disable and operational events: a webhook whose target answers no HTTP 200 for
//! `disable_after` while its deliveries keep failing is disabled, with the reason, its deliveries
//! held until it is enabled again; `webhook_disabled` and `delivery_failed` events go to the
//! webhooks subscribed to them, never about an operational webhook itself; producers may not post
//! them.

use hookrelay_story::story;
use std::time::Duration;

use hookrelay::domain::delivery::{Attempt, DeliveryId};
use hookrelay::domain::job::{AttemptRecord, Outcome};
use hookrelay::domain::license::License;
use hookrelay::domain::now_ms;
use hookrelay::domain::target::TargetUrl;
use hookrelay::domain::webhook::Webhook;
use hookrelay::store::{AutoDisabled, WebhookChanges};
use livechat_webhooks::{DataTypes, EventType};
use serde_json::{json, Value};

use crate::harness::{TestLicense, TestServer};
use crate::receiver::{Answer, Receiver};

const LIMIT: Duration = Duration::from_secs(10);

fn queued(visitor: &str) -> Value {
    json!({"event_type": "visitor_queued", "visitor": {"id": visitor}})
}

async fn webhook_view(server: &TestServer, license: &TestLicense, id: &str) -> Value {
    server.wait_webhook(license, id, "", |_| true).await
}

/// Waits until hookrelay has disabled the webhook, and returns it.
async fn wait_disabled(server: &TestServer, license: &TestLicense, id: &str) -> Value {
    server
        .wait_webhook(license, id, "never disabled", |w| w["enabled"] == false)
        .await
}

/// Lets the background tasks run a few more rounds (the notices are looked for every 250 ms),
/// after the engine went idle, so that anything still to arrive would have arrived.
async fn settle(server: &TestServer) {
    server.wait_idle().await;
    tokio::time::sleep(Duration::from_millis(800)).await;
    server.wait_idle().await;
}

/// A server that disables after `disable_after`, retrying every 200 ms `retries` times; a target
/// answering 500; a receiver for the operational events.
struct Failing {
    server: TestServer,
    license: TestLicense,
    target: Receiver,
    ops: Receiver,
}

async fn failing(disable_after: Duration, retries: usize) -> Failing {
    let server = TestServer::start_with(|c| {
        c.disable_after = disable_after;
        c.retry_schedule = vec![Duration::from_millis(200); retries];
    })
    .await;
    let license = server.license().await;
    let target = Receiver::start().await;
    target.answer(Answer::Status(500));
    let ops = Receiver::start().await;
    Failing {
        server,
        license,
        target,
        ops,
    }
}

#[story]
async fn a_webhook_failing_for_disable_after_is_disabled_announced_and_delivers_what_it_held_once_enabled(
) {
    // Retries every 200 ms for 4 s: the one delivery keeps failing past `disable_after`.
    let Failing {
        server,
        license,
        target,
        ops,
    } = failing(Duration::from_secs(1), 20).await;
    let failing_url = target.url.replace("http://", "http://ops:s3cret@") + "/hook";
    let id = server
        .webhook(&license, &failing_url, "visitor_queued", &["visitor"])
        .await;
    server
        .webhook(&license, &ops.url, "webhook_disabled", &["webhook"])
        .await;
    let started = std::time::Instant::now();
    server.event(&license, queued("S1")).await;

    let webhook = wait_disabled(&server, &license, &id).await;
    assert!(started.elapsed() >= Duration::from_secs(1));
    let reason = webhook["disabled_reason"].as_str().unwrap();
    assert!(reason.contains("no HTTP 200"), "{reason}");
    assert!(reason.contains("HTTP 500"), "{reason}");
    assert!(webhook["disabled_at"].is_string(), "{webhook:#}");
    let metrics = server.metrics().await;
    let disabled: f64 = metrics
        .lines()
        .find_map(|l| l.strip_prefix("hookrelay_webhooks_disabled_total "))
        .unwrap_or_else(|| panic!("no disabled counter in {metrics}"))
        .parse()
        .unwrap();
    assert!(disabled >= 1.0, "{disabled}");

    // The announcement, in the usual envelope, once.
    let hit = ops.wait_for(1, LIMIT).await.remove(0);
    let keys: Vec<&String> = hit.body.as_object().unwrap().keys().collect();
    assert_eq!(
        keys,
        [
            "event_type",
            "token",
            "license_id",
            "event_unique_id",
            "webhook"
        ]
    );
    assert_eq!(hit.body["event_type"], "webhook_disabled");
    assert_eq!(hit.body["token"], license.token.as_str());
    assert_eq!(hit.body["license_id"], license.id.as_str());
    assert_eq!(
        hit.body["webhook"],
        json!({"id": id, "url": webhook["url"], "event_type": "visitor_queued",
               "disabled_reason": reason, "disabled_at": webhook["disabled_at"]})
    );
    assert!(!hit.raw.windows(6).any(|w| w == b"s3cret"));

    // Its delivery is held while it is disabled.
    settle(&server).await;
    let held = target.hits().len();
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(target.hits().len(), held, "a disabled webhook sent nothing");
    let list = server
        .deliveries(&license, &format!("webhook_id={id}"))
        .await;
    assert_eq!(list.len(), 1, "{list:#?}");
    let delivery = list[0]["id"].as_str().unwrap().to_string();
    assert_eq!(
        server.delivery(&license, &delivery).await["status"],
        "pending"
    );

    // Enabling clears the reason and sends what was held.
    target.answer(Answer::Status(200));
    let (status, enabled) = server
        .call(
            reqwest::Method::PATCH,
            &format!("/v1/licenses/{}/webhooks/{id}", license.id),
            &license.api_key,
            Some(json!({"enabled": true})),
        )
        .await;
    assert_eq!(status, 200, "{enabled}");
    assert_eq!(enabled["disabled_reason"], Value::Null);
    assert_eq!(enabled["disabled_at"], Value::Null);
    server
        .wait_status(&license, &delivery, "succeeded", LIMIT)
        .await;
    settle(&server).await;
    assert_eq!(ops.hits().len(), 1, "one webhook_disabled event");
    assert_eq!(webhook_view(&server, &license, &id).await["enabled"], true);
}

#[story]
async fn delivery_failed_is_delivered_once_per_failed_delivery() {
    let server = TestServer::start().await;
    let license = server.license().await;
    let target = Receiver::start().await;
    target.answer(Answer::Status(500));
    let ops = Receiver::start().await;
    let id = server
        .webhook(&license, &target.url, "visitor_queued", &["visitor"])
        .await;
    let ops_id = server
        .webhook(&license, &ops.url, "delivery_failed", &["delivery"])
        .await;
    let mut unique_ids = Vec::new();
    for visitor in ["S1", "S2", "S3"] {
        let accepted = server.event(&license, queued(visitor)).await;
        unique_ids.push(accepted["event_id"].as_str().unwrap().to_string());
    }
    ops.wait_for(3, LIMIT).await;
    settle(&server).await;
    let hits = ops.hits();
    assert_eq!(hits.len(), 3, "{hits:#?}");
    let failed = server
        .deliveries(&license, &format!("webhook_id={id}&status=failed"))
        .await;
    assert_eq!(failed.len(), 3);
    for delivery in &failed {
        let about: Vec<&Value> = hits
            .iter()
            .map(|h| &h.body["delivery"])
            .filter(|d| d["id"] == delivery["id"])
            .collect();
        assert_eq!(about.len(), 1, "one event for {delivery:#}");
        let section = about[0];
        assert_eq!(section["webhook_id"], id.as_str());
        assert_eq!(section["event_type"], "visitor_queued");
        assert_eq!(section["attempts"], 4);
        assert_eq!(section["last_status_code"], 500);
        assert!(section["last_error"].as_str().unwrap().contains("HTTP 500"));
        assert!(unique_ids.contains(&section["event_unique_id"].as_str().unwrap().to_string()));
    }
    for hit in &hits {
        assert_eq!(hit.body["event_type"], "delivery_failed");
        assert_eq!(hit.body["license_id"], license.id.as_str());
    }
    // Delivered through the ordinary machinery: listed like any delivery.
    let announced = server
        .deliveries(&license, &format!("webhook_id={ops_id}&status=succeeded"))
        .await;
    assert_eq!(announced.len(), 3);
}

#[story]
async fn a_failing_operational_webhook_produces_no_operational_events_about_itself() {
    let server = TestServer::start_with(|c| c.disable_after = Duration::from_secs(1)).await;
    let license = server.license().await;
    // A regular webhook whose every other delivery fails for good: its streak never lasts long
    // enough to disable it, but each failure feeds the operational webhook below.
    let target = Receiver::start().await;
    let regular = server
        .webhook(&license, &target.url, "visitor_queued", &["visitor"])
        .await;
    // The delivery_failed subscriber is broken: every one of its deliveries fails too.
    let broken = Receiver::start().await;
    broken.answer(Answer::Status(500));
    let ops = server
        .webhook(&license, &broken.url, "delivery_failed", &["delivery"])
        .await;
    let announcements = Receiver::start().await;
    server
        .webhook(
            &license,
            &announcements.url,
            "webhook_disabled",
            &["webhook"],
        )
        .await;

    let deadline = tokio::time::Instant::now() + LIMIT;
    let mut failures = 0;
    let mut round = 0;
    while webhook_view(&server, &license, &ops).await["enabled"] == true {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the broken operational webhook was never disabled"
        );
        round += 1;
        target.script(vec![Answer::Status(500); 4]);
        server.event(&license, queued(&format!("F{round}"))).await;
        server
            .wait_deliveries(
                &license,
                &format!("webhook_id={regular}&status=failed"),
                LIMIT,
                "the regular delivery failed",
                |list| list.len() > failures,
            )
            .await;
        failures += 1;
        server.event(&license, queued(&format!("OK{round}"))).await;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let disabled = webhook_view(&server, &license, &ops).await;
    assert!(disabled["disabled_reason"].is_string(), "{disabled:#}");
    assert_eq!(
        webhook_view(&server, &license, &regular).await["enabled"],
        true
    );
    settle(&server).await;

    // No webhook_disabled about the operational webhook.
    assert!(
        announcements.hits().is_empty(),
        "{:#?}",
        announcements.hits()
    );
    // Every delivery_failed is about one of the regular webhook's failures (at most one each:
    // those after the operational webhook was disabled reach nobody), none about the
    // operational webhook's own failed deliveries, which it received while it was enabled.
    let operational = server
        .deliveries(&license, "event_type=delivery_failed")
        .await;
    assert!(
        (2..=failures).contains(&operational.len()),
        "{failures} failures: {operational:#?}"
    );
    assert!(operational.iter().all(|d| d["webhook_id"] == ops.as_str()));
    assert!(
        operational.iter().any(|d| d["status"] == "failed"),
        "the operational webhook's deliveries did fail"
    );
    let mut about = std::collections::HashSet::new();
    for hit in broken.hits() {
        assert_eq!(hit.body["delivery"]["webhook_id"], regular.as_str());
        about.insert(hit.body["delivery"]["id"].as_str().unwrap().to_string());
    }
    // (One created just as the webhook was disabled may be held before its first attempt.)
    assert!(
        about.len() <= operational.len() && about.len() + 1 >= operational.len(),
        "{about:?}"
    );
}

#[story]
async fn producers_cannot_post_operational_events() {
    let server = TestServer::start().await;
    let license = server.license().await;
    let path = format!("/v1/licenses/{}/events", license.id);
    let section = json!({"id": "x", "webhook_id": "w", "event_type": "chat_ended",
                         "event_unique_id": "e", "attempts": 1});
    for (event_type, data_type) in [
        ("delivery_failed", "delivery"),
        ("webhook_disabled", "webhook"),
    ] {
        let event = json!({"event_type": event_type, data_type: section});
        let (status, answer) = server.post(&path, &license.api_key, event.clone()).await;
        assert_eq!(status, 400, "{answer}");
        assert_eq!(answer["error"]["field"], "event_type");
        let message = answer["error"]["message"].as_str().unwrap();
        assert!(message.contains("produced by hookrelay only"), "{message}");

        let batch = json!({"events": [queued("S1"), event]});
        let (status, answer) = server
            .post(&format!("{path}/batch"), &license.api_key, batch)
            .await;
        assert_eq!(status, 400, "{answer}");
        assert_eq!(answer["error"]["field"], "events[1].event_type");
    }
    assert!(server.deliveries(&license, "").await.is_empty());
}

/// The record of one attempt of a delivery of `webhook_id` (none stored: only the webhook's
/// failure streak is of interest), ending at `at`.
fn attempt(webhook_id: &str, at: i64, status: u16) -> AttemptRecord {
    let outcome = match status {
        200 => Outcome::Succeeded,
        _ => Outcome::RetryAt(at + 60_000),
    };
    AttemptRecord {
        delivery_id: DeliveryId(i64::MAX),
        license_id: String::new(),
        webhook_id: webhook_id.into(),
        attempt: Attempt {
            attempt_no: 1,
            started_at: at,
            duration_ms: 0,
            status_code: Some(status),
            error: (status != 200).then(|| format!("HTTP {status}")),
            response_body: None,
        },
        outcome,
        target_key: None,
    }
}

#[story]
async fn a_disable_decided_on_a_streak_a_success_has_ended_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let url = crate::backend::database_url(dir.path());
    crate::backend::prepare(&url, dir.path()).await;
    let store = hookrelay::store::open(&url).await.unwrap();
    let license = License {
        license_id: "1025707".into(),
        login: "ops".into(),
        token: "0123456789abcdef0123456789abcdef".into(),
        api_key_hash: [7; 32],
        created_at: 0,
    };
    store.create_license(license.clone()).await.unwrap();
    store
        .create_webhook(Webhook {
            id: "w1".into(),
            license_id: license.license_id.clone(),
            url: TargetUrl::parse("http://127.0.0.1:9/hook").unwrap(),
            event_type: EventType::VisitorQueued,
            data_types: DataTypes::EMPTY,
            description: None,
            enabled: true,
            created_at: 0,
            updated_at: 0,
            health: Default::default(),
            signing: None,
            disabled_reason: None,
            disabled_at: None,
            session: None,
        })
        .await
        .unwrap();
    let record = |records: Vec<AttemptRecord>| {
        let store = store.clone();
        async move {
            store
                .record_attempts(records.into(), now_ms(), Duration::from_secs(60))
                .await
                .unwrap()
        }
    };
    let disable = |since: i64| WebhookChanges {
        enabled: Some(false),
        auto_disabled: Some(AutoDisabled {
            reason: "failing".into(),
            at: 5_000,
            failing_since: since,
            announce: true,
        }),
        ..WebhookChanges::default()
    };

    // Failing since 1000, then failing on: one streak, as the store keeps it.
    record(vec![attempt("w1", 1_000, 500), attempt("w1", 1_500, 503)]).await;
    record(vec![attempt("w1", 2_000, 502)]).await;
    let failing = store.failing_webhooks(now_ms()).await.unwrap();
    assert_eq!(failing.len(), 1);
    let (webhook, streak) = &failing[0];
    assert_eq!(webhook.id, "w1");
    assert_eq!((streak.since, streak.last_at), (1_000, 2_000));
    assert_eq!(streak.last, "HTTP 502");
    assert!(store.failing_webhooks(999).await.unwrap().is_empty());

    // A success ends it: a disable decided on it changes nothing.
    record(vec![attempt("w1", 2_500, 200)]).await;
    assert!(store.failing_webhooks(now_ms()).await.unwrap().is_empty());
    let kept = store
        .update_webhook(&license.license_id, "w1", disable(1_000), 5_000)
        .await
        .unwrap()
        .unwrap();
    assert!(kept.enabled);
    assert_eq!(kept.disabled_reason, None);
    assert!(store.notices(10).await.unwrap().disabled.is_empty());

    // A new streak, and a disable decided on it, goes through with its notice.
    record(vec![attempt("w1", 3_000, 500)]).await;
    let disabled = store
        .update_webhook(&license.license_id, "w1", disable(3_000), 5_000)
        .await
        .unwrap()
        .unwrap();
    assert!(!disabled.enabled);
    assert_eq!(disabled.disabled_reason.as_deref(), Some("failing"));
    assert_eq!(disabled.disabled_at, Some(5_000));
    let notices = store.notices(10).await.unwrap();
    assert_eq!(notices.disabled.len(), 1);
    store
        .clear_notices(vec![("w1".into(), 5_000)], vec![])
        .await
        .unwrap();
    assert!(store.notices(10).await.unwrap().disabled.is_empty());
    store.close().await;
}

#[story]
async fn saving_a_failing_webhook_with_enabled_true_does_not_restart_its_clock() {
    // The console's edit form sends `enabled` with every save: a webhook already enabled must keep
    // its failure streak, or a failing webhook edited now and then would never be disabled.
    let Failing {
        server,
        license,
        target,
        ops,
    } = failing(Duration::from_secs(2), 30).await;
    let id = server
        .webhook(&license, &target.url, "visitor_queued", &["visitor"])
        .await;
    server
        .webhook(&license, &ops.url, "webhook_disabled", &["webhook"])
        .await;
    server.event(&license, queued("S1")).await;
    let path = format!("/v1/licenses/{}/webhooks/{id}", license.id);
    let started = std::time::Instant::now();
    // Saves keep coming until hookrelay disables the webhook. The proof is the webhook seen
    // disabled just before a save (a save enables it again, as it should, and enabling it before
    // its webhook_disabled event was produced drops that event, so the announcement alone would
    // race the notices task), or the announcement.
    loop {
        let seen = webhook_view(&server, &license, &id).await;
        if seen["enabled"] == false {
            let reason = seen["disabled_reason"].as_str().unwrap_or_default();
            assert!(reason.contains("HTTP 500"), "{seen:#}");
            break;
        }
        if ops
            .hits()
            .iter()
            .any(|h| h.body["webhook"]["id"] == id.as_str())
        {
            break;
        }
        let (status, webhook) = server
            .call(
                reqwest::Method::PATCH,
                &path,
                &license.api_key,
                Some(json!({"enabled": true, "description": "edited"})),
            )
            .await;
        assert!(status.is_success(), "{status} {webhook}");
        assert!(
            started.elapsed() < LIMIT,
            "saves with enabled: true kept a failing webhook from being disabled: {webhook:#}"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    assert!(started.elapsed() >= Duration::from_secs(1));
}
