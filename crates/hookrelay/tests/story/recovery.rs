//! Bulk recovery (`POST …/deliveries/recover`): once a target answers again, the deliveries that
//! failed in a window are resent, each once; a dry run counts exactly those and changes nothing;
//! what failed outside the window, other webhooks' and other licenses' deliveries, and deliveries
//! of deleted webhooks are left alone; bad input is refused naming the field.

use hookrelay_story::story;
use std::collections::HashSet;
use std::time::{Duration, SystemTime};

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::harness::{TestLicense, TestServer};
use crate::receiver::{Answer, Receiver};

const SECS: Duration = Duration::from_secs(10);

fn queued(visitor_id: &str) -> Value {
    json!({"event_type": "visitor_queued", "visitor": {"id": visitor_id, "name": "Mary"}})
}

/// The current time as RFC 3339, to the millisecond.
fn now() -> String {
    humantime::format_rfc3339_millis(SystemTime::now()).to_string()
}

async fn recover(server: &TestServer, license: &TestLicense, body: Value) -> (StatusCode, Value) {
    server
        .post(
            &format!("/v1/licenses/{}/deliveries/recover", license.id),
            &license.api_key,
            body,
        )
        .await
}

/// A dry run's count (asserting the 200 it answers).
async fn dry_run(server: &TestServer, license: &TestLicense, mut body: Value) -> u64 {
    body["dry_run"] = json!(true);
    let (status, answer) = recover(server, license, body).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    answer["count"].as_u64().unwrap()
}

/// A recovery's count (asserting the 202 it answers).
async fn recover_now(server: &TestServer, license: &TestLicense, body: Value) -> u64 {
    let (status, answer) = recover(server, license, body).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{answer}");
    answer["count"].as_u64().unwrap()
}

/// Waits until the license has `n` failed deliveries.
async fn wait_failed(server: &TestServer, license: &TestLicense, n: usize) -> Vec<Value> {
    server
        .wait_deliveries(
            license,
            "status=failed&limit=500",
            SECS,
            "deliveries failed",
            |list| list.len() == n,
        )
        .await
}

/// Two receivers answering 500 behind two `visitor_queued` webhooks of the license; returns them
/// and the first one's webhook id.
pub async fn two_failing_webhooks(
    server: &TestServer,
    license: &TestLicense,
) -> (Receiver, Receiver, String) {
    let (a, b) = (Receiver::start().await, Receiver::start().await);
    a.answer(Answer::Status(500));
    b.answer(Answer::Status(500));
    let webhook_a = server
        .webhook(license, &a.url, "visitor_queued", &["visitor"])
        .await;
    server
        .webhook(license, &b.url, "visitor_queued", &["visitor"])
        .await;
    (a, b, webhook_a)
}

/// The visitor ids of the requests a receiver answered with `status`.
pub fn visitors_answered(receiver: &Receiver, status: u16) -> Vec<String> {
    receiver
        .hits()
        .iter()
        .filter(|h| h.answered == Some(status))
        .map(|h| h.body["visitor"]["id"].as_str().unwrap().to_string())
        .collect()
}

#[story]
async fn recovery_resends_once_exactly_the_failed_deliveries_of_the_window_the_dry_run_counted() {
    let server = TestServer::start().await;
    let license = server.license().await;
    let (a, b, webhook_a) = two_failing_webhooks(&server, &license).await;

    // Two events fail early, three later: 1 attempt + 3 retries each, on both webhooks.
    let start = now();
    for v in ["E1", "E2"] {
        server.event(&license, queued(v)).await;
    }
    wait_failed(&server, &license, 4).await;
    tokio::time::sleep(Duration::from_millis(5)).await;
    let since = now();
    for v in ["L1", "L2", "L3"] {
        server.event(&license, queued(v)).await;
    }
    wait_failed(&server, &license, 10).await;
    server.wait_idle().await;
    assert_eq!(a.hits().len(), 20);

    // Dry runs count what failed in the window, of the webhook asked for, and change nothing.
    let late_a = json!({"webhook_id": webhook_a, "since": since});
    assert_eq!(dry_run(&server, &license, late_a.clone()).await, 3);
    assert_eq!(dry_run(&server, &license, json!({"since": since})).await, 6);
    assert_eq!(
        dry_run(
            &server,
            &license,
            json!({"webhook_id": webhook_a, "since": start, "until": since})
        )
        .await,
        2,
        "the early ones only"
    );
    assert_eq!(dry_run(&server, &license, json!({"since": now()})).await, 0);
    server.wait_idle().await;
    wait_failed(&server, &license, 10).await;
    assert_eq!(a.hits().len(), 20, "a dry run sends nothing");

    // The target answers again: the recovery resends the three that failed late, each once.
    a.answer(Answer::Status(200));
    assert_eq!(recover_now(&server, &license, late_a.clone()).await, 3);
    a.wait_for(23, SECS).await;
    server
        .wait_deliveries(
            &license,
            &format!("webhook_id={webhook_a}&status=succeeded"),
            SECS,
            "the recovered deliveries succeed",
            |list| list.len() == 3,
        )
        .await;
    server.wait_idle().await;
    let mut arrived = visitors_answered(&a, 200);
    arrived.sort();
    assert_eq!(arrived, ["L1", "L2", "L3"], "each arrived once");
    assert_eq!(a.hits().len(), 23);

    // Each kept its history: four failed attempts, then the one that succeeded.
    let recovered = server
        .deliveries(
            &license,
            &format!("webhook_id={webhook_a}&status=succeeded"),
        )
        .await;
    for d in &recovered {
        let detail = server.delivery(&license, d["id"].as_str().unwrap()).await;
        let attempts = detail["attempts"].as_array().unwrap();
        assert_eq!(attempts.len(), 5, "{detail:#}");
        assert_eq!(attempts[3]["status_code"], 500);
        assert_eq!(attempts[4]["status_code"], 200);
        assert_eq!(detail["attempt_count"], 5);
    }

    // Outside the window and on the other webhook, nothing moved.
    let failed_a = server
        .deliveries(&license, &format!("webhook_id={webhook_a}&status=failed"))
        .await;
    assert_eq!(failed_a.len(), 2);
    assert_eq!(wait_failed(&server, &license, 7).await.len(), 7);
    assert_eq!(b.hits().len(), 20, "the other webhook's target got nothing");
    assert_eq!(
        dry_run(&server, &license, late_a).await,
        0,
        "nothing failed is left in the window"
    );
}

#[story]
async fn a_license_wide_recovery_skips_deleted_webhooks_and_other_licenses() {
    let server = TestServer::start().await;
    let license = server.license().await;
    let other = server.license().await;
    let receivers = [
        Receiver::start().await,
        Receiver::start().await,
        Receiver::start().await,
        Receiver::start().await,
    ];
    for r in &receivers {
        r.answer(Answer::Status(500));
    }
    let [a, b, gone, elsewhere] = &receivers;
    for r in [a, b] {
        server
            .webhook(&license, &r.url, "visitor_queued", &["visitor"])
            .await;
    }
    let deleted = server
        .webhook(&license, &gone.url, "visitor_queued", &["visitor"])
        .await;
    server
        .webhook(&other, &elsewhere.url, "visitor_queued", &["visitor"])
        .await;
    let since = now();
    server.event(&license, queued("S1")).await;
    server.event(&other, queued("S2")).await;
    wait_failed(&server, &license, 3).await;
    wait_failed(&server, &other, 1).await;
    let (status, _) = server
        .call(
            reqwest::Method::DELETE,
            &format!("/v1/licenses/{}/webhooks/{deleted}", license.id),
            &license.api_key,
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    server.wait_idle().await;

    for r in &receivers {
        r.answer(Answer::Status(200));
    }
    let window = json!({"since": since});
    assert_eq!(dry_run(&server, &license, window.clone()).await, 2);
    assert_eq!(recover_now(&server, &license, window).await, 2);
    a.wait_for(5, SECS).await;
    b.wait_for(5, SECS).await;
    server
        .wait_deliveries(
            &license,
            "status=succeeded",
            SECS,
            "both recovered deliveries succeed",
            |list| list.len() == 2,
        )
        .await;
    server.wait_idle().await;
    assert_eq!(visitors_answered(a, 200), ["S1"]);
    assert_eq!(visitors_answered(b, 200), ["S1"]);
    assert_eq!(
        gone.hits().len(),
        4,
        "a deleted webhook's delivery stays failed"
    );
    assert_eq!(wait_failed(&server, &license, 1).await.len(), 1);
    assert_eq!(
        elsewhere.hits().len(),
        4,
        "another license's delivery stays failed"
    );
    assert_eq!(wait_failed(&server, &other, 1).await.len(), 1);
}

#[story]
async fn a_recovery_bigger_than_a_batch_resends_every_failed_delivery_once() {
    // No retries: each delivery fails at its first attempt. 1,250 failed deliveries take two
    // recovery steps of 1,000.
    let server = TestServer::start_with(|c| c.retry_schedule = Vec::new()).await;
    let license = server.license().await;
    let receiver = Receiver::start().await;
    receiver.answer(Answer::Status(500));
    server
        .webhook(&license, &receiver.url, "visitor_queued", &["visitor"])
        .await;
    let since = now();
    for (first, n) in [(0, 1000), (1000, 250)] {
        let events: Vec<Value> = (first..first + n)
            .map(|i| queued(&format!("V{i}")))
            .collect();
        let (status, body) = server
            .post(
                &format!("/v1/licenses/{}/events/batch", license.id),
                &license.api_key,
                json!({ "events": events }),
            )
            .await;
        assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    }
    receiver.wait_for(1250, Duration::from_secs(60)).await;
    server.wait_idle().await;

    let window = json!({"since": since});
    assert_eq!(dry_run(&server, &license, window.clone()).await, 1250);
    receiver.answer(Answer::Status(200));
    assert_eq!(recover_now(&server, &license, window.clone()).await, 1250);
    receiver.wait_for(2500, Duration::from_secs(60)).await;
    server.wait_idle().await;
    let arrived = visitors_answered(&receiver, 200);
    assert_eq!(arrived.len(), 1250, "no delivery was sent twice");
    let distinct: HashSet<&String> = arrived.iter().collect();
    assert_eq!(distinct.len(), 1250, "every delivery arrived");
    assert_eq!(dry_run(&server, &license, window).await, 0);
}

#[story]
async fn bad_recovery_requests_are_refused_naming_the_field() {
    let server = TestServer::start().await;
    let license = server.license().await;
    let other = server.license().await;
    let receiver = Receiver::start().await;
    let foreign = server
        .webhook(&other, &receiver.url, "visitor_queued", &[])
        .await;
    let cases = [
        (json!({}), "since", "is required"),
        (json!({"since": "yesterday"}), "since", "RFC 3339"),
        (
            json!({"since": "2026-12-03T10:00:00"}),
            "since",
            "with a zone",
        ),
        (
            json!({"since": "2026-12-03T10:00:00Z", "until": "soon"}),
            "until",
            "RFC 3339",
        ),
        (
            json!({"since": "2026-12-03T10:00:00Z", "until": "2026-12-03T09:00:00Z"}),
            "since",
            "must not be later than `until`",
        ),
        (
            json!({"since": "2999-01-01T00:00:00Z"}),
            "since",
            "must not be later than `until`",
        ),
        (
            json!({"since": "2026-12-03T10:00:00Z", "dry_run": "yes"}),
            "dry_run",
            "expected a boolean",
        ),
        (json!({"since": 7}), "since", "expected a string"),
    ];
    for (body, field, rule) in cases {
        let (status, answer) = recover(&server, &license, body.clone()).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}: {answer}");
        assert_eq!(answer["error"]["code"], "invalid_field", "{answer}");
        assert_eq!(answer["error"]["field"], field, "{body}: {answer}");
        let message = answer["error"]["message"].as_str().unwrap();
        assert!(message.contains(rule), "{body}: {message}");
    }

    let since = "2026-12-03T10:00:00Z";
    for webhook_id in ["0123456789abcdef0123456789abcdef", foreign.as_str()] {
        let (status, answer) = recover(
            &server,
            &license,
            json!({"webhook_id": webhook_id, "since": since, "dry_run": true}),
        )
        .await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{answer}");
        assert_eq!(answer["error"]["message"], "webhook not found");
    }
    let (status, answer) = server
        .post(
            &format!("/v1/licenses/{}/deliveries/recover", other.id),
            &license.api_key,
            json!({"since": since}),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{answer}");
    let response = server
        .client
        .post(server.url(&format!("/v1/licenses/{}/deliveries/recover", license.id)))
        .bearer_auth(&license.api_key)
        .header("content-type", "application/json")
        .body("{\"since\": ")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        dry_run(&server, &license, json!({"since": since})).await,
        0,
        "a license with nothing failed"
    );
}
