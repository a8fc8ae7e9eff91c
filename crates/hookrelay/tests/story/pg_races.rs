//! Two nodes racing on one PostgreSQL database, at the store level where the race is sharpest:
//! idempotency keys, the chat_changed tag rule, claims, and the LISTEN/NOTIFY wake-up.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use hookrelay::domain::delivery::{Attempt, DeliveryId};
use hookrelay::domain::event::NewEvent;
use hookrelay::domain::ingest_plan::Placement;
use hookrelay::domain::job::{AttemptRecord, Outcome};
use hookrelay::domain::license::License;
use hookrelay::domain::now_ms;
use hookrelay::domain::target::TargetUrl;
use hookrelay::domain::webhook::Webhook;
use hookrelay::store::{open, Store};
use livechat_webhooks::{DataTypes, EventType};
use serde_json::{json, Value};
use tokio::time::timeout;

use crate::backend::{postgres_url, prepare};

/// Deliveries due now for any node (none leased), parked for a minute when their target is silent.
fn due_now() -> Placement {
    Placement {
        now: now_ms(),
        lease_until: None,
        window: Duration::from_secs(60),
        confirmed_for: Duration::from_secs(60),
    }
}

/// The record of an attempt to `target_key` that got no answer.
fn unanswered(target_key: &str) -> AttemptRecord {
    AttemptRecord {
        delivery_id: DeliveryId(i64::MAX),
        license_id: String::new(),
        webhook_id: String::new(),
        attempt: Attempt {
            attempt_no: 1,
            started_at: now_ms(),
            duration_ms: 1,
            status_code: None,
            error: Some("could not connect".into()),
            response_body: None,
        },
        outcome: Outcome::RetryAt(now_ms() + 60_000),
        target_key: Some(target_key.into()),
    }
}

struct Nodes {
    _dir: tempfile::TempDir,
    a: Arc<dyn Store>,
    b: Arc<dyn Store>,
    license: License,
}

/// Two stores on one fresh schema, with a license and webhooks for two event types.
async fn two_nodes() -> Nodes {
    let dir = tempfile::tempdir().unwrap();
    let url = postgres_url(dir.path());
    prepare(&url, dir.path()).await;
    let (a, b) = tokio::join!(open(&url), open(&url));
    let (a, b) = (a.unwrap(), b.unwrap());
    let license = License {
        license_id: "1025707".into(),
        login: "racer".into(),
        token: "0123456789abcdef0123456789abcdef".into(),
        api_key_hash: [7; 32],
        created_at: now_ms(),
    };
    a.create_license(license.clone()).await.unwrap();
    for (id, event_type) in [
        ("w1", EventType::ChatChanged),
        ("w2", EventType::VisitorQueued),
    ] {
        a.create_webhook(Webhook {
            id: id.into(),
            license_id: license.license_id.clone(),
            url: TargetUrl::parse("http://127.0.0.1:9/hook").unwrap(),
            event_type,
            data_types: DataTypes::from_bits_for(event_type, 0),
            description: None,
            enabled: true,
            created_at: now_ms(),
            updated_at: now_ms(),
            health: Default::default(),
            signing: None,
            disabled_reason: None,
            disabled_at: None,
            session: None,
        })
        .await
        .unwrap();
    }
    Nodes {
        _dir: dir,
        a,
        b,
        license,
    }
}

fn event(value: Value, key: Option<&str>) -> NewEvent {
    let mut event = NewEvent::parse(value, "").unwrap();
    event.idempotency_key = key.map(String::from);
    event
}

/// Ingests `events` one request each, half through each node, all at once.
async fn race(n: &Nodes, events: Vec<NewEvent>) -> Vec<hookrelay::store::Ingested> {
    let calls = events.into_iter().enumerate().map(|(i, e)| {
        let store = if i % 2 == 0 { n.a.clone() } else { n.b.clone() };
        let license = n.license.clone();
        tokio::spawn(async move { store.ingest(&license, vec![e], due_now()).await })
    });
    let mut out = Vec::new();
    for call in calls.collect::<Vec<_>>() {
        out.extend(call.await.unwrap().unwrap());
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodes_racing_on_one_idempotency_key_store_the_event_once() {
    let n = two_nodes().await;
    let events = (0..20)
        .map(|i| {
            let visitor =
                json!({"event_type": "visitor_queued", "visitor": {"id": format!("V{i}")}});
            event(visitor, Some("retry-1"))
        })
        .collect();
    let results = race(&n, events).await;
    assert_eq!(results.iter().filter(|r| !r.duplicate).count(), 1);
    let ids: HashSet<&str> = results.iter().map(|r| r.event_id.as_str()).collect();
    assert_eq!(
        ids.len(),
        1,
        "every retry answers with the first event's id"
    );
    assert!(results.iter().all(|r| r.deliveries == 1));
    assert_eq!(n.a.pending_count().await.unwrap(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodes_racing_on_one_chat_deliver_a_tag_change_once() {
    let n = two_nodes().await;
    // Twenty copies of the same change to a chat never seen before: only the first one that
    // commits changes the tag list; a read-then-write race would let several see "no tags".
    let events = (0..20)
        .map(|_| {
            event(
                json!({"event_type": "chat_changed", "chat": {"id": "C1", "tags": ["vip"]}}),
                None,
            )
        })
        .collect();
    let results = race(&n, events).await;
    let delivered: usize = results.iter().map(|r| r.deliveries).sum();
    assert_eq!(delivered, 1, "{results:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodes_claiming_at_once_never_take_the_same_delivery() {
    let n = two_nodes().await;
    let events = (0..200)
        .map(|i| {
            event(
                json!({"event_type": "visitor_queued", "visitor": {"id": format!("V{i}")}}),
                None,
            )
        })
        .collect();
    n.a.ingest(&n.license, events, due_now()).await.unwrap();
    let now = now_ms();
    let (a, b) = tokio::join!(
        n.a.claim_due(now, 150, now + 60_000),
        n.b.claim_due(now, 150, now + 60_000)
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_eq!(a.len() + b.len(), 200);
    let a_ids: HashSet<i64> = a.iter().map(|j| j.id.0).collect();
    assert!(
        b.iter().all(|j| !a_ids.contains(&j.id.0)),
        "a delivery was claimed twice"
    );
    // Leased: nobody gets them again until the lease has run out; then anybody does.
    assert!(n
        .b
        .claim_due(now + 1_000, 500, now + 2_000)
        .await
        .unwrap()
        .is_empty());
    let expired =
        n.b.claim_due(now + 61_000, 500, now + 120_000)
            .await
            .unwrap();
    assert_eq!(expired.len(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_node_is_woken_when_another_stores_work_it_did_not_take() {
    let n = two_nodes().await;
    let wait = Duration::from_secs(5);
    // The listener wakes once when it connects (it may have missed something): take that.
    timeout(wait, n.b.wait_for_new_work()).await.unwrap();
    let quiet = Duration::from_millis(300);
    assert!(timeout(quiet, n.b.wait_for_new_work()).await.is_err());

    // Work the ingesting node leased to itself is no news for the others.
    let visitor = |id: &str| {
        event(
            json!({"event_type": "visitor_queued", "visitor": {"id": id}}),
            None,
        )
    };
    let leased = Placement {
        lease_until: Some(now_ms() + 60_000),
        ..due_now()
    };
    let ingested =
        n.a.ingest(&n.license, vec![visitor("V1")], leased)
            .await
            .unwrap();
    assert_eq!(ingested[0].jobs.len(), 1, "leased work comes back as a job");
    assert!(timeout(quiet, n.b.wait_for_new_work()).await.is_err());

    // Neither is work put off for later because its target does not answer (three attempts in
    // a row got none: it is silent).
    let misses: Vec<AttemptRecord> = (0..3).map(|_| unanswered("http://127.0.0.1:9")).collect();
    n.b.record_attempts(misses.into(), now_ms(), Duration::from_secs(60))
        .await
        .unwrap();
    timeout(wait, n.b.wait_for_new_work()).await.ok();
    let put_off = Placement {
        lease_until: Some(now_ms() + 60_000),
        ..due_now()
    };
    let ingested =
        n.a.ingest(&n.license, vec![visitor("V3")], put_off)
            .await
            .unwrap();
    assert_eq!(ingested[0].deliveries, 1);
    assert!(ingested[0].jobs.is_empty(), "put-off work is not leased");
    assert!(timeout(quiet, n.b.wait_for_new_work()).await.is_err());
    let due =
        n.b.claim_due(now_ms(), 10, now_ms() + 60_000)
            .await
            .unwrap();
    assert!(due.is_empty(), "put-off work is not due yet: {due:?}");

    // The target answers again: what was parked for it is due, and every node hears of it.
    let mut answer = unanswered("http://127.0.0.1:9");
    answer.attempt.status_code = Some(200);
    answer.attempt.error = None;
    n.b.record_attempts(vec![answer].into(), now_ms(), Duration::from_secs(60))
        .await
        .unwrap();
    timeout(wait, n.b.wait_for_new_work())
        .await
        .expect("node b was not told that parked work is due again");
    assert!(timeout(quiet, n.b.wait_for_new_work()).await.is_err());

    n.a.ingest(&n.license, vec![visitor("V2")], due_now())
        .await
        .unwrap();
    timeout(wait, n.b.wait_for_new_work())
        .await
        .expect("node b was not notified of unleased work");
}
