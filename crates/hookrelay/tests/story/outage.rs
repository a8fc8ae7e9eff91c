//! PostgreSQL going away under a running node (cut through a proxy): ingest answers 503 instead
//! of accepting what it cannot store, an attempt that ends meanwhile keeps its outcome in memory
//! until it can be written, and the node recovers by itself when the database is back.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::json;

use crate::pg_proxy::server_behind_a_proxy;
use crate::receiver::{Answer, Receiver};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_postgres_outage_answers_503_keeps_outcomes_and_heals_without_a_restart() {
    let (server, proxy) = server_behind_a_proxy(|config| {
        config.retry_schedule = vec![Duration::from_millis(50); 5];
    })
    .await;
    let license = server.license().await;
    let receiver = Receiver::start().await;
    server
        .webhook(&license, &receiver.url, "visitor_queued", &[])
        .await;
    let events = format!("/v1/licenses/{}/events", license.id);
    let event = |id: &str| json!({"event_type": "visitor_queued", "visitor": {"id": id}});

    // The first attempt stalls until it times out (2 s); the database goes away meanwhile.
    receiver.script([Answer::Stall]);
    let before = server.event(&license, event("before")).await;
    receiver.wait_for(1, Duration::from_secs(5)).await;
    proxy.cut();

    let (status, body) = server
        .post(&events, &license.api_key, event("during"))
        .await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(body["error"]["code"], "unavailable", "{body}");
    let (ready, _) = server.get("/readyz", "").await;
    assert_eq!(ready, StatusCode::SERVICE_UNAVAILABLE);
    // Let the stalled attempt time out while the database is unreachable.
    tokio::time::sleep(Duration::from_secs(3)).await;
    proxy.restore();

    // The node heals on its own: ingest works again within a few seconds.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    let after = loop {
        let (status, body) = server.post(&events, &license.api_key, event("after")).await;
        if status == StatusCode::ACCEPTED {
            break body;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "never healed: {status} {body}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let hits = receiver.wait_for(3, Duration::from_secs(15)).await;
    let arrived: Vec<&str> = hits
        .iter()
        .filter_map(|h| h.body["event_unique_id"].as_str())
        .collect();
    for accepted in [&before, &after] {
        assert!(arrived.contains(&accepted["event_id"].as_str().unwrap()));
    }

    // The timed-out attempt made during the outage was recorded once the database was back.
    let list = server.deliveries(&license, "").await;
    let first = list
        .iter()
        .find(|d| d["event_id"] == before["event_id"])
        .expect("the first event's delivery");
    let id = first["id"].as_str().unwrap();
    let detail = server
        .wait_status(&license, id, "succeeded", Duration::from_secs(10))
        .await;
    let attempts = detail["attempts"].as_array().unwrap();
    assert_eq!(attempts.len(), 2, "{detail:#}");
    assert!(attempts[0]["status_code"].is_null(), "{detail:#}");
    assert_eq!(attempts[1]["status_code"], 200, "{detail:#}");
}
