//! `--signing-secret` on both commands: `trigger` signs, `listen` checks, and requests forged by
//! hand with reqwest are refused with the reason.

use std::time::{SystemTime, UNIX_EPOCH};

use axum::http::StatusCode;
use hookrelay_devtools::{trigger_with_output, ListenArgs, Output, TriggerArgs};
use hookrelay_receiver::signature::{signature_header, SigningSecret};
use hookrelay_receiver::Verifier;
use livechat_webhooks::{sample, DataTypes, EventType};

use crate::helpers::{spawn_app, Listener};

const SECRET: &str = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD";
const OTHER_SECRET: &str = "whsec_BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc=";

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

fn checking(secrets: &[&str]) -> ListenArgs {
    ListenArgs {
        signing_secrets: secrets.iter().map(|s| s.to_string()).collect(),
        ..ListenArgs::on_port(0)
    }
}

fn signing(event_type: EventType, url: &str, secrets: &[&str]) -> TriggerArgs {
    TriggerArgs {
        signing_secrets: secrets.iter().map(|s| s.to_string()).collect(),
        ..TriggerArgs::new(event_type, url)
    }
}

/// Sends one `event_type` signed with `secrets`; whether it got a 200.
async fn trigger_signed(event_type: EventType, url: &str, secrets: &[&str]) -> bool {
    let args = signing(event_type, url, secrets);
    let report = trigger_with_output(args, &Output::capture()).await.unwrap();
    report.all_succeeded()
}

/// Posts `body` signed at `timestamp` with `secret`, but sends `sent` (a tampered body when it
/// differs).
async fn post_signed(url: &str, secret: &str, timestamp: i64, body: &str, sent: &str) -> u16 {
    let secret = SigningSecret::parse(secret).unwrap();
    let signature = signature_header(&[secret], "evt_by_hand", timestamp, body.as_bytes());
    reqwest::Client::new()
        .post(url)
        .header("content-type", "application/json")
        .header("webhook-id", "evt_by_hand")
        .header("webhook-timestamp", timestamp.to_string())
        .header("webhook-signature", signature)
        .body(sent.to_owned())
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

fn webhook_body() -> String {
    sample::payload(EventType::ChatStarted, DataTypes::EMPTY, "1", "t").to_string()
}

#[tokio::test]
async fn trigger_signing_into_listen_with_the_same_secret_prints_signature_ok_and_gets_200() {
    let listener = Listener::start(checking(&[SECRET])).await;
    let out = Output::capture();
    let report = trigger_with_output(
        signing(EventType::ChatStarted, &listener.url, &[SECRET]),
        &out,
    )
    .await
    .unwrap();
    assert!(report.all_succeeded(), "{}", out.contents());
    let sent = out.contents();
    assert!(sent.contains("    webhook-signature: v1,"), "{sent}");
    assert!(sent.contains("    webhook-timestamp: "), "{sent}");

    let (summary, printed) = listener.stop().await;
    assert!(
        printed.contains("checking signatures with 1 secret(s)"),
        "{printed}"
    );
    let line = printed.lines().nth(1).unwrap();
    assert!(line.contains("chat_started"), "{line}");
    assert!(line.contains("  signature ok  <-- [200]"), "{line}");
    assert_eq!(summary.unauthorized, 0);
}

#[tokio::test]
async fn listen_accepts_any_of_several_secrets_as_during_a_rotation() {
    let listener = Listener::start(checking(&[OTHER_SECRET, SECRET])).await;
    for secret in [SECRET, OTHER_SECRET] {
        assert!(
            trigger_signed(EventType::VisitorQueued, &listener.url, &[secret]).await,
            "{secret}"
        );
    }
    let (_, printed) = listener.stop().await;
    assert_eq!(printed.matches("signature ok  <-- [200]").count(), 2);
}

#[tokio::test]
async fn listen_answers_401_to_a_tampered_body_a_wrong_secret_and_a_stale_timestamp_and_says_why() {
    // --fail-first counts only webhooks that got past the signature check.
    let listener = Listener::start(ListenArgs {
        fail_first: 1,
        ..checking(&[SECRET])
    })
    .await;
    let body = webhook_body();
    let tampered = body.replace("\"token\":\"t\"", "\"token\":\"u\"");
    assert_ne!(body, tampered);
    let now = unix_now();
    let url = &listener.url;
    assert_eq!(post_signed(url, SECRET, now, &body, &tampered).await, 401);
    assert_eq!(post_signed(url, OTHER_SECRET, now, &body, &body).await, 401);
    assert_eq!(post_signed(url, SECRET, now - 600, &body, &body).await, 401);
    assert_eq!(post_signed(url, SECRET, now, &body, &body).await, 500);

    let (summary, printed) = listener.stop().await;
    let lines: Vec<&str> = printed.lines().skip(1).collect();
    let invalid = "signature INVALID (no signature matches any of the 1 secret(s)";
    assert!(lines[0].contains(invalid), "{printed}");
    assert!(lines[1].contains(invalid), "{printed}");
    assert!(
        lines[2].contains("signature INVALID (timestamp is 6") && lines[2].contains("s old"),
        "{printed}"
    );
    for line in &lines[..3] {
        assert!(line.contains("chat_started"), "{line}");
        assert!(line.ends_with(")  <-- [401]"), "{line}");
    }
    assert!(
        lines[3].contains("signature ok  <-- [500]  (failing on purpose, 1 of 1)"),
        "{printed}"
    );
    assert_eq!((summary.requests, summary.unauthorized), (4, 3));
}

#[tokio::test]
async fn an_unsigned_request_is_refused_with_the_missing_header_named() {
    let listener = Listener::start(checking(&[SECRET])).await;
    let response = reqwest::Client::new()
        .post(&listener.url)
        .body("not even json")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    let text = response.text().await.unwrap();
    assert!(text.contains("missing header `webhook-id`"), "{text}");
    let (_, printed) = listener.stop().await;
    assert!(
        printed
            .contains("POST /webhooks  signature INVALID (missing header `webhook-id`)  <-- [401]"),
        "{printed}"
    );
}

#[tokio::test]
async fn without_a_secret_listen_does_not_look_at_signatures() {
    let listener = Listener::start(ListenArgs::on_port(0)).await;
    assert!(trigger_signed(EventType::ChatStarted, &listener.url, &[SECRET]).await);
    let body = webhook_body();
    assert_eq!(
        post_signed(&listener.url, OTHER_SECRET, 0, &body, &body).await,
        200
    );
    let (_, printed) = listener.stop().await;
    assert!(!printed.contains("signature"), "{printed}");
}

#[tokio::test]
async fn trigger_signs_the_exact_bytes_it_sends_with_every_secret_under_the_event_id() {
    let (base, seen) = spawn_app(StatusCode::OK, "ok").await;
    let args = TriggerArgs {
        repeat: 2,
        ..signing(
            EventType::ChatEnded,
            &format!("{base}/hook"),
            &[SECRET, OTHER_SECRET],
        )
    };
    trigger_with_output(args, &Output::capture()).await.unwrap();
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 2);
    for request in &seen {
        let headers = &request.headers;
        assert_eq!(
            headers["webhook-id"],
            request.body["event_unique_id"].as_str().unwrap()
        );
        let timestamp: i64 = headers["webhook-timestamp"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!((unix_now() - timestamp).abs() < 60, "{timestamp}");
        let signature = headers["webhook-signature"].to_str().unwrap();
        assert_eq!(signature.split(' ').count(), 2, "{signature}");
        for secret in [SECRET, OTHER_SECRET] {
            let verifier = Verifier::parse(secret).unwrap();
            assert_eq!(verifier.verify(headers, &request.raw), Ok(()), "{secret}");
        }
    }
    assert_ne!(seen[0].headers["webhook-id"], seen[1].headers["webhook-id"]);
}

#[tokio::test]
async fn a_body_with_an_empty_event_id_is_signed_under_a_random_32_hex_id() {
    let (base, seen) = spawn_app(StatusCode::OK, "ok").await;
    let args = TriggerArgs {
        // The only way to send a body without an id: trigger gives every event a fresh one.
        overrides: vec!["event_unique_id=".into()],
        ..signing(EventType::ChatStarted, &format!("{base}/hook"), &[SECRET])
    };
    trigger_with_output(args, &Output::capture()).await.unwrap();
    let request = seen.lock().unwrap()[0].clone();
    assert_eq!(request.body["event_unique_id"], "");
    let id = request.headers["webhook-id"].to_str().unwrap();
    assert!(
        id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit()),
        "{id}"
    );
    let verifier = Verifier::parse(SECRET).unwrap();
    assert_eq!(verifier.verify(&request.headers, &request.raw), Ok(()));
}

#[tokio::test]
async fn trigger_without_a_secret_sends_no_webhook_headers() {
    let (base, seen) = spawn_app(StatusCode::OK, "ok").await;
    let out = Output::capture();
    trigger_with_output(
        TriggerArgs::new(EventType::ChatStarted, format!("{base}/hook")),
        &out,
    )
    .await
    .unwrap();
    let request = seen.lock().unwrap()[0].clone();
    let names: Vec<&str> = request.headers.keys().map(|n| n.as_str()).collect();
    assert!(names.contains(&"content-type"), "{names:?}");
    assert!(
        !names.iter().any(|n| n.starts_with("webhook-")),
        "{names:?}"
    );
    assert!(!out.contents().contains("webhook-"), "{}", out.contents());
}

#[tokio::test]
async fn forwarding_passes_the_signature_on_so_the_app_can_verify_it() {
    let (app, seen) = spawn_app(StatusCode::OK, "ok").await;
    let listener = Listener::start(ListenArgs {
        forward_to: Some(format!("{app}/hook")),
        ..checking(&[SECRET])
    })
    .await;
    assert!(trigger_signed(EventType::ChatStarted, &listener.url, &[SECRET]).await);
    let request = seen.lock().unwrap()[0].clone();
    let verifier = Verifier::parse(SECRET).unwrap();
    assert_eq!(verifier.verify(&request.headers, &request.raw), Ok(()));
    listener.stop().await;
}

#[tokio::test]
async fn a_malformed_secret_stops_both_commands_before_anything_happens() {
    let (base, seen) = spawn_app(StatusCode::OK, "ok").await;
    let bad = signing(
        EventType::ChatStarted,
        &format!("{base}/hook"),
        &["whsec_!!"],
    );
    let error = trigger_with_output(bad, &Output::capture())
        .await
        .unwrap_err();
    assert!(
        format!("{error:#}").contains("--signing-secret #1"),
        "{error:#}"
    );
    assert!(seen.lock().unwrap().is_empty());

    let error = hookrelay_devtools::listen(checking(&[SECRET, "whsec_AAAA"]), async {})
        .await
        .unwrap_err();
    assert!(
        format!("{error:#}").contains("--signing-secret #2"),
        "{error:#}"
    );
}
