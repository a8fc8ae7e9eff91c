//! Retrying until HTTP 200: what counts as a failure, the schedule, Retry-After, exhaustion and
//! resending.

use hookrelay_story::story;
use std::time::Duration;

use serde_json::json;

use crate::harness::TestServer;
use crate::receiver::{closing_target, refusing_target, Answer, Receiver};

fn queued() -> serde_json::Value {
    json!({"event_type": "visitor_queued", "visitor": {"id": "S1", "name": "Mary"}})
}

#[story]
async fn a_500_response_is_retried_until_a_200_with_the_same_body() {
    let server = TestServer::start().await;
    let license = server.license().await;
    let receiver = Receiver::start().await;
    receiver.script([Answer::Status(500), Answer::Status(503)]);
    server
        .webhook(&license, &receiver.url, "visitor_queued", &["visitor"])
        .await;
    server.event(&license, queued()).await;
    let hits = receiver.wait_for(3, Duration::from_secs(5)).await;
    assert_eq!(
        hits[0].raw, hits[2].raw,
        "every attempt carries the same body"
    );
    let id = server.only_delivery_id(&license).await;
    let d = server
        .wait_status(&license, &id, "succeeded", Duration::from_secs(5))
        .await;
    let attempts = d["attempts"].as_array().unwrap();
    assert_eq!(attempts.len(), 3);
    assert_eq!(attempts[0]["status_code"], 500);
    assert!(attempts[0]["error"]
        .as_str()
        .unwrap()
        .contains("only HTTP 200"));
    assert_eq!(attempts[2]["status_code"], 200);
    // The schedule is 50 ms then 100 ms.
    assert!(hits[1].at - hits[0].at >= Duration::from_millis(45));
    assert!(hits[2].at - hits[1].at >= Duration::from_millis(95));
}

#[story]
async fn only_200_counts_unless_any_2xx_is_allowed() {
    let server = TestServer::start().await;
    let license = server.license().await;
    let receiver = Receiver::start().await;
    receiver.script([Answer::Status(204)]);
    server
        .webhook(&license, &receiver.url, "visitor_queued", &[])
        .await;
    server.event(&license, queued()).await;
    receiver.wait_for(2, Duration::from_secs(5)).await;
    let id = server.only_delivery_id(&license).await;
    let d = server
        .wait_status(&license, &id, "succeeded", Duration::from_secs(5))
        .await;
    assert_eq!(d["attempts"][0]["status_code"], 204);

    let lenient = TestServer::start_with(|c| c.success_any_2xx = true).await;
    let license = lenient.license().await;
    let receiver = Receiver::start().await;
    receiver.answer(Answer::Status(204));
    lenient
        .webhook(&license, &receiver.url, "visitor_queued", &[])
        .await;
    lenient.event(&license, queued()).await;
    let id = {
        receiver.wait_for(1, Duration::from_secs(5)).await;
        lenient.only_delivery_id(&license).await
    };
    let d = lenient
        .wait_status(&license, &id, "succeeded", Duration::from_secs(5))
        .await;
    assert_eq!(d["attempts"].as_array().unwrap().len(), 1);
}

#[story]
async fn refused_closed_redirected_and_timed_out_attempts_all_fail_and_exhaust() {
    let server = TestServer::start_with(|c| c.attempt_timeout = Duration::from_millis(300)).await;
    let license = server.license().await;
    let redirecting = Receiver::start().await;
    redirecting.answer(Answer::Redirect);
    let stalling = Receiver::start().await;
    stalling.answer(Answer::Stall);
    let cases = [
        (refusing_target().await, "could not connect"),
        (closing_target().await, ""),
        (redirecting.url.clone(), "redirects are not followed"),
        (stalling.url.clone(), "timed out"),
    ];
    for (url, _) in &cases {
        server.webhook(&license, url, "visitor_queued", &[]).await;
    }
    server.event(&license, queued()).await;
    let list = server.deliveries(&license, "").await;
    assert_eq!(list.len(), 4);
    for d in list {
        let id = d["id"].as_str().unwrap();
        let done = server
            .wait_status(&license, id, "failed", Duration::from_secs(10))
            .await;
        let attempts = done["attempts"].as_array().unwrap();
        assert_eq!(attempts.len(), 4, "1 attempt + 3 retries: {done:#}");
        assert_eq!(done["next_attempt_at"], serde_json::Value::Null);
        let error = attempts[0]["error"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        assert!(!error.is_empty(), "{done:#}");
    }
    for (url, expected) in cases {
        let list = server.deliveries(&license, "status=failed").await;
        let errors: Vec<String> = list
            .iter()
            .map(|d| d["last_error"].as_str().unwrap_or_default().to_string())
            .collect();
        assert!(
            errors.iter().any(|e| e.contains(expected)),
            "{url}: {errors:?}"
        );
    }
    assert_eq!(redirecting.hits().len(), 4, "a redirect is never followed");
}

#[story]
async fn retry_after_postpones_the_next_attempt() {
    let server = TestServer::start().await;
    let license = server.license().await;
    let receiver = Receiver::start().await;
    receiver.script([Answer::RetryAfter(503, 1)]);
    server
        .webhook(&license, &receiver.url, "visitor_queued", &[])
        .await;
    server.event(&license, queued()).await;
    let hits = receiver.wait_for(2, Duration::from_secs(5)).await;
    let gap = hits[1].at - hits[0].at;
    assert!(
        gap >= Duration::from_millis(950),
        "waited only {gap:?} (schedule says 50 ms)"
    );
}

#[story]
async fn an_exhausted_delivery_is_failed_and_a_resend_delivers_it() {
    let server = TestServer::start().await;
    let license = server.license().await;
    let receiver = Receiver::start().await;
    receiver.answer(Answer::Status(500));
    server
        .webhook(&license, &receiver.url, "visitor_queued", &["visitor"])
        .await;
    server.event(&license, queued()).await;
    let id = server.only_delivery_id(&license).await;
    server
        .wait_status(&license, &id, "failed", Duration::from_secs(5))
        .await;
    assert_eq!(server.deliveries(&license, "status=failed").await.len(), 1);
    assert_eq!(
        server.deliveries(&license, "status=succeeded").await.len(),
        0
    );

    receiver.answer(Answer::Status(200));
    let path = format!("/v1/licenses/{}/deliveries/{id}/resend", license.id);
    let (status, _) = server.post(&path, &license.api_key, json!({})).await;
    assert_eq!(status, 202);
    let d = server
        .wait_status(&license, &id, "succeeded", Duration::from_secs(5))
        .await;
    let attempts = d["attempts"].as_array().unwrap();
    assert_eq!(attempts.len(), 5);
    assert_eq!(attempts[4]["status_code"], 200);
    let hits = receiver.hits();
    assert_eq!(
        hits[0].body["event_unique_id"],
        hits[4].body["event_unique_id"]
    );

    let (status, body) = server
        .post(
            &format!("/v1/licenses/{}/deliveries/dlv_999/resend", license.id),
            &license.api_key,
            json!({}),
        )
        .await;
    assert_eq!(status, 404, "{body}");
}

#[story]
async fn a_stalled_and_a_refusing_target_do_not_hold_up_one_that_answers() {
    // Few slots per target, and stalls that outlast the test: if the healthy target's deliveries
    // waited behind the stalled ones, they could not all arrive before the first timeout.
    let server = TestServer::start_with(|c| {
        c.per_target_concurrency = 4;
        c.attempt_timeout = Duration::from_secs(60);
        // A retry window far longer than the test: nothing is given up.
        c.retry_schedule = vec![Duration::from_secs(60); 3];
    })
    .await;
    let license = server.license().await;
    let healthy = Receiver::start().await;
    let stalled = Receiver::start().await;
    stalled.answer(Answer::Stall);
    server
        .webhook(&license, &healthy.url, "visitor_queued", &[])
        .await;
    let stalled_webhook = server
        .webhook(&license, &stalled.url, "visitor_queued", &[])
        .await;
    let refusing_webhook = server
        .webhook(&license, &refusing_target().await, "visitor_queued", &[])
        .await;
    for _ in 0..200 {
        server.event(&license, queued()).await;
    }
    healthy.wait_for(200, Duration::from_secs(45)).await;
    let stalled_hits = stalled.hits().len();
    assert!(
        stalled_hits <= 4,
        "a stalled target gets only its slots: {stalled_hits}"
    );
    // What the stalled target could not take is put off, not lost; the refusing one is probed,
    // not tried once per event (only deliveries that were tried can have run out of retries).
    let pending = server
        .deliveries(
            &license,
            &format!("webhook_id={stalled_webhook}&status=pending&limit=500"),
        )
        .await;
    assert_eq!(
        pending.len(),
        200,
        "pending deliveries to the stalled target"
    );
    let refused = server
        .deliveries(
            &license,
            &format!("webhook_id={refusing_webhook}&limit=500"),
        )
        .await;
    assert_eq!(refused.len(), 200);
    let attempts: i64 = refused
        .iter()
        .map(|d| d["attempt_count"].as_i64().unwrap())
        .sum();
    assert!(
        attempts < 50,
        "a refusing target is probed, not tried for every event: {attempts} attempts"
    );
    let untried_pending = refused
        .iter()
        .filter(|d| d["attempt_count"] == 0 && d["status"] == "pending")
        .count();
    assert!(
        untried_pending > 150,
        "{untried_pending} untried and pending"
    );
}

#[story]
async fn deliveries_to_a_target_that_never_answers_fail_after_the_retry_window() {
    // The test schedule (50, 100, 150 ms, no jitter) makes a 300 ms retry window, counted as
    // 5 s (the shortest put-off). A refusing target is soon only probed, so most deliveries are
    // put off untried; once their target has been silent for the window they fail instead of
    // waiting for it forever. (The few chosen as probes use up their retries the ordinary way.)
    let server = TestServer::start().await;
    let license = server.license().await;
    let webhook = server
        .webhook(&license, &refusing_target().await, "visitor_queued", &[])
        .await;
    for _ in 0..20 {
        server.event(&license, queued()).await;
    }
    let query = format!("webhook_id={webhook}&status=failed&limit=100");
    let given_up = |list: &[serde_json::Value]| -> Vec<serde_json::Value> {
        list.iter()
            .filter(|d| {
                d["last_error"]
                    .as_str()
                    .is_some_and(|e| e.starts_with("not sent") && e.contains("retry window"))
            })
            .cloned()
            .collect()
    };
    let failed = server
        .wait_deliveries(
            &license,
            &query,
            Duration::from_secs(30),
            "deliveries still waiting long after their retry window",
            |failed| given_up(failed).len() >= 10,
        )
        .await;
    let all = server
        .deliveries(&license, &format!("webhook_id={webhook}&limit=100"))
        .await;
    assert_eq!(all.len(), 20, "none lost");
    let given_up = given_up(&failed);
    let id = given_up[0]["id"].as_str().unwrap();
    let detail = server.delivery(&license, id).await;
    let last = detail["attempts"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .clone();
    assert_eq!(last["status_code"], serde_json::Value::Null, "{detail:#}");
    assert_eq!(last["duration_ms"], 0, "nothing was sent: {detail:#}");
    assert!(
        last["error"]
            .as_str()
            .unwrap()
            .contains("could not connect"),
        "the target's last error is given: {detail:#}"
    );
}

#[story]
async fn fixing_the_url_of_a_silent_webhook_delivers_new_events_at_once() {
    // A long retry window: nothing is given up while the webhook points nowhere.
    let server =
        TestServer::start_with(|c| c.retry_schedule = vec![Duration::from_secs(60); 3]).await;
    let license = server.license().await;
    let webhook = server
        .webhook(
            &license,
            &refusing_target().await,
            "visitor_queued",
            &["visitor"],
        )
        .await;
    // Enough events for the target to go silent and its new deliveries to be put off (by 5 s).
    for _ in 0..10 {
        server.event(&license, queued()).await;
    }
    let receiver = Receiver::start().await;
    let (status, body) = server
        .call(
            reqwest::Method::PATCH,
            &format!("/v1/licenses/{}/webhooks/{webhook}", license.id),
            &license.api_key,
            Some(json!({"url": receiver.url})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let sent = std::time::Instant::now();
    server
        .event(
            &license,
            json!({"event_type": "visitor_queued", "visitor": {"id": "FIXED"}}),
        )
        .await;
    receiver
        .wait_for_visitor("FIXED", Duration::from_secs(10))
        .await;
    assert!(
        sent.elapsed() < Duration::from_secs(3),
        "the new event waited {:?}, as if the old URL's put-off still held",
        sent.elapsed()
    );
    // The deliveries parked while the old URL was silent go to the new one now too.
    server
        .wait_deliveries(
            &license,
            "status=pending",
            Duration::from_secs(10),
            "deliveries parked for the old URL still wait",
            <[_]>::is_empty,
        )
        .await;
    assert_eq!(
        server.deliveries(&license, "status=succeeded").await.len(),
        11
    );
}

#[story]
async fn a_target_that_answers_again_gets_new_deliveries_at_once() {
    let server = TestServer::start_with(|c| {
        c.attempt_timeout = Duration::from_millis(300);
        c.retry_schedule = vec![Duration::from_secs(60); 3];
    })
    .await;
    let license = server.license().await;
    let receiver = Receiver::start().await;
    receiver.answer(Answer::Stall);
    server
        .webhook(&license, &receiver.url, "visitor_queued", &["visitor"])
        .await;
    let event = |id: &str| json!({"event_type": "visitor_queued", "visitor": {"id": id}});
    // Three timeouts in a row: the target is silent.
    for i in 0..3 {
        server.event(&license, event(&format!("EARLY{i}"))).await;
    }
    server
        .wait_deliveries(
            &license,
            "",
            Duration::from_secs(10),
            "no timeouts recorded",
            |list| list.iter().all(|d| d["attempt_count"] != 0),
        )
        .await;
    // What comes in now is put off, not sent.
    for i in 0..5 {
        server.event(&license, event(&format!("LATER{i}"))).await;
    }
    receiver.answer(Answer::Status(200));
    // A probe among the put-off deliveries finds it answering again.
    server
        .wait_deliveries(
            &license,
            "status=succeeded",
            Duration::from_secs(20),
            "the target was never probed again",
            |list| !list.is_empty(),
        )
        .await;
    let sent = std::time::Instant::now();
    server.event(&license, event("BACK")).await;
    receiver
        .wait_for_visitor("BACK", Duration::from_secs(20))
        .await;
    assert!(
        sent.elapsed() < Duration::from_secs(2),
        "a new event waited {:?} after its target answered again",
        sent.elapsed()
    );
    // And what was put off while it was silent (parked for the 3-minute window, or waiting for
    // a retry a minute away) comes back now, not then.
    server
        .wait_deliveries(
            &license,
            "status=pending",
            Duration::from_secs(10),
            "still waiting after the target answered again",
            <[_]>::is_empty,
        )
        .await;
    assert_eq!(
        server.deliveries(&license, "status=succeeded").await.len(),
        9
    );
}

#[story]
async fn a_silent_target_keeps_being_probed_with_its_parked_deliveries() {
    // Retries a minute apart: any attempt within the next seconds is a probe.
    let server =
        TestServer::start_with(|c| c.retry_schedule = vec![Duration::from_secs(60); 3]).await;
    let license = server.license().await;
    let webhook = server
        .webhook(&license, &refusing_target().await, "visitor_queued", &[])
        .await;
    for _ in 0..10 {
        server.event(&license, queued()).await;
    }
    let attempts = || async {
        server
            .deliveries(&license, &format!("webhook_id={webhook}&limit=100"))
            .await
            .iter()
            .map(|d| d["attempt_count"].as_i64().unwrap())
            .sum::<i64>()
    };
    tokio::time::sleep(Duration::from_secs(1)).await;
    let before = attempts().await;
    tokio::time::sleep(Duration::from_secs(4)).await;
    let probes = attempts().await - before;
    // Probes 0.5 s, 1 s, 2 s, 4 s … apart: at least two in four seconds, and far fewer than
    // the deliveries waiting.
    assert!(
        (2..=6).contains(&probes),
        "{probes} probes in 4 s (before: {before} attempts)"
    );
}
