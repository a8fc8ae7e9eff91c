//! Signature verification: the `Verifier` on its own with a fixed clock, and the extractor
//! requiring signatures behind a real axum server on 127.0.0.1:0.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::http::{HeaderMap, HeaderValue};
use axum::routing::post;
use axum::Router;
use hookrelay_receiver::signature::{signature_header, HEADER_ID, HEADER_SIGNATURE};
use hookrelay_receiver::wire::sample;
use hookrelay_receiver::{
    BasicAuth, DataTypes, EventType, Receiver, SigningSecret, Verifier, VerifyError, Webhook,
};

use crate::serve;

/// The Standard Webhooks specification's test vector.
const SECRET: &str = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD";
const ID: &str = "msg_27UH4WbU6Z5A5EzD8u03UvzRbpk";
const TIMESTAMP: i64 = 1_649_367_553;
const BODY: &[u8] = br#"{"email":"test@example.com","username":"test_user"}"#;

fn secret() -> SigningSecret {
    SigningSecret::parse(SECRET).unwrap()
}

fn other_secret() -> SigningSecret {
    SigningSecret::from_bytes(&[7; 32]).unwrap()
}

/// The three headers a sender holding `secrets` puts on `body`.
fn signed_headers(secrets: &[SigningSecret], id: &str, timestamp: i64, body: &[u8]) -> HeaderMap {
    let mut headers = HeaderMap::new();
    let signature = signature_header(secrets, id, timestamp, body);
    for (name, value) in [
        ("webhook-id", id.to_owned()),
        ("webhook-timestamp", timestamp.to_string()),
        ("webhook-signature", signature),
    ] {
        headers.insert(name, HeaderValue::from_str(&value).unwrap());
    }
    headers
}

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

#[test]
fn the_specification_s_test_vector_passes_and_its_signature_is_the_published_one() {
    let headers = signed_headers(&[secret()], ID, TIMESTAMP, BODY);
    assert_eq!(
        headers[HEADER_SIGNATURE],
        "v1,tZ1I4/hDygAJgO5TYxiSd6Sd0kDW6hPenDe+bTa3Kkw="
    );
    let verifier = Verifier::parse(SECRET).unwrap();
    assert_eq!(verifier.verify_at(&headers, BODY, TIMESTAMP + 5), Ok(()));
}

#[test]
fn a_tampered_body_is_refused_as_not_matching() {
    let headers = signed_headers(&[secret()], ID, TIMESTAMP, BODY);
    let tampered = br#"{"email":"test@example.com","username":"test_usex"}"#;
    let verifier = Verifier::new(secret());
    assert_eq!(
        verifier.verify_at(&headers, tampered, TIMESTAMP),
        Err(VerifyError::NoMatch(1))
    );
}

#[test]
fn a_request_signed_with_another_secret_is_refused_as_not_matching() {
    let headers = signed_headers(&[other_secret()], ID, TIMESTAMP, BODY);
    let error = Verifier::new(secret())
        .verify_at(&headers, BODY, TIMESTAMP)
        .unwrap_err();
    assert_eq!(error, VerifyError::NoMatch(1));
    assert!(error.to_string().contains("wrong secret"), "{error}");
}

#[test]
fn a_timestamp_older_than_the_tolerance_is_refused_as_stale() {
    let headers = signed_headers(&[secret()], ID, TIMESTAMP, BODY);
    let verifier = Verifier::new(secret());
    assert_eq!(verifier.verify_at(&headers, BODY, TIMESTAMP + 300), Ok(()));
    let error = verifier
        .verify_at(&headers, BODY, TIMESTAMP + 301)
        .unwrap_err();
    assert_eq!(error, VerifyError::Stale(301, 300));
    assert!(error.to_string().contains("301 s old"), "{error}");
}

#[test]
fn the_tolerance_can_be_widened_or_narrowed() {
    let headers = signed_headers(&[secret()], ID, TIMESTAMP, BODY);
    let wide = Verifier::new(secret()).tolerance(Duration::from_secs(3600));
    assert_eq!(wide.verify_at(&headers, BODY, TIMESTAMP + 3000), Ok(()));
    let narrow = Verifier::new(secret()).tolerance(Duration::from_secs(10));
    assert_eq!(
        narrow.verify_at(&headers, BODY, TIMESTAMP + 11),
        Err(VerifyError::Stale(11, 10))
    );
    assert_eq!(
        narrow.verify_at(&headers, BODY, TIMESTAMP - 11),
        Err(VerifyError::FromTheFuture(11, 10))
    );
}

#[test]
fn each_missing_header_is_named() {
    let verifier = Verifier::new(secret());
    for name in ["webhook-id", "webhook-timestamp", "webhook-signature"] {
        let mut headers = signed_headers(&[secret()], ID, TIMESTAMP, BODY);
        headers.remove(name);
        let error = verifier.verify_at(&headers, BODY, TIMESTAMP).unwrap_err();
        assert_eq!(error, VerifyError::MissingHeader(name));
        assert!(error.to_string().contains(name), "{error}");
    }
}

#[test]
fn a_changed_webhook_id_breaks_the_signature() {
    let mut headers = signed_headers(&[secret()], ID, TIMESTAMP, BODY);
    headers.insert(HEADER_ID, HeaderValue::from_static("msg_other"));
    assert_eq!(
        Verifier::new(secret()).verify_at(&headers, BODY, TIMESTAMP),
        Err(VerifyError::NoMatch(1))
    );
}

#[test]
fn during_a_rotation_either_secret_verifies_and_both_signatures_are_accepted() {
    let rotating = Verifier::new(secret()).and(other_secret());
    assert_eq!(rotating.secret_count(), 2);
    for signed_with in [
        vec![secret()],
        vec![other_secret()],
        vec![other_secret(), secret()],
    ] {
        let headers = signed_headers(&signed_with, ID, TIMESTAMP, BODY);
        assert_eq!(rotating.verify_at(&headers, BODY, TIMESTAMP), Ok(()));
    }
    let third = SigningSecret::from_bytes(&[9; 32]).unwrap();
    let headers = signed_headers(&[third], ID, TIMESTAMP, BODY);
    assert_eq!(
        rotating.verify_at(&headers, BODY, TIMESTAMP),
        Err(VerifyError::NoMatch(2))
    );
}

#[test]
fn verify_uses_the_system_clock() {
    let verifier = Verifier::new(secret());
    let fresh = signed_headers(&[secret()], ID, unix_now(), BODY);
    assert_eq!(verifier.verify(&fresh, BODY), Ok(()));
    let old = signed_headers(&[secret()], ID, unix_now() - 600, BODY);
    assert!(matches!(
        verifier.verify(&old, BODY),
        Err(VerifyError::Stale(age, 300)) if (600..610).contains(&age)
    ));
}

#[test]
fn a_malformed_secret_is_refused_when_parsed() {
    assert!(Verifier::parse("whsec_not base64!").is_err());
    assert!(Verifier::parse("whsec_AAAA").is_err());
}

/// Answers with the event type, for a receiver that requires signatures with `secret` (and Basic
/// auth too when `basic` is given). Returns its URL.
async fn spawn_signed_receiver(basic: Option<BasicAuth>) -> String {
    async fn echo(webhook: Webhook) -> String {
        webhook.payload.event_type.to_string()
    }
    let receiver = match basic {
        Some(auth) => Receiver::with_basic_auth(auth),
        None => Receiver::open(),
    }
    .require_signature(Verifier::new(secret()));
    let app = Router::new()
        .route("/webhooks", post(echo))
        .with_state(receiver);
    serve(app).await + "/webhooks"
}

/// Posts `body` with `headers`; returns the status and the answer's text.
async fn post_signed(url: &str, headers: HeaderMap, body: Vec<u8>) -> (u16, String) {
    let response = reqwest::Client::new()
        .post(url)
        .headers(headers)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.text().await.unwrap())
}

fn webhook_body() -> Vec<u8> {
    let payload = sample::payload(EventType::ChatStarted, DataTypes::EMPTY, "1", "t");
    serde_json::to_vec(&payload).unwrap()
}

#[tokio::test]
async fn the_extractor_lets_a_validly_signed_webhook_through() {
    let url = spawn_signed_receiver(None).await;
    let body = webhook_body();
    let headers = signed_headers(&[secret()], "evt_1", unix_now(), &body);
    assert_eq!(
        post_signed(&url, headers, body).await,
        (200, "chat_started".to_owned())
    );
}

#[tokio::test]
async fn the_extractor_answers_401_with_the_reason_to_every_bad_signature() {
    let url = spawn_signed_receiver(None).await;
    let body = webhook_body();
    let now = unix_now();
    let mut tampered = body.clone();
    tampered.extend_from_slice(b" ");
    let mut unsigned = signed_headers(&[secret()], "evt_1", now, &body);
    unsigned.remove(HEADER_SIGNATURE);
    let cases = [
        (
            signed_headers(&[secret()], "evt_1", now, &body),
            tampered,
            "no signature matches",
        ),
        (
            signed_headers(&[other_secret()], "evt_1", now, &body),
            body.clone(),
            "no signature matches",
        ),
        (
            signed_headers(&[secret()], "evt_1", now - 3600, &body),
            body.clone(),
            "s old",
        ),
        (unsigned, body.clone(), "missing header `webhook-signature`"),
    ];
    for (headers, body, reason) in cases {
        let (status, text) = post_signed(&url, headers, body).await;
        assert_eq!(status, 401, "{reason}: {text}");
        assert!(text.starts_with("invalid webhook signature: "), "{text}");
        assert!(text.contains(reason), "{reason}: {text}");
    }
}

#[tokio::test]
async fn a_forged_body_that_is_not_even_json_is_refused_for_its_signature_not_its_syntax() {
    let url = spawn_signed_receiver(None).await;
    let headers = signed_headers(&[secret()], "evt_1", unix_now(), &webhook_body());
    let (status, text) = post_signed(&url, headers, b"not json".to_vec()).await;
    assert_eq!(status, 401, "{text}");
    assert!(text.contains("no signature matches"), "{text}");
}

#[tokio::test]
async fn with_basic_auth_as_well_both_the_credentials_and_the_signature_must_pass() {
    let url = spawn_signed_receiver(Some(BasicAuth::credentials("livechat", "password"))).await;
    let body = webhook_body();
    let headers = || signed_headers(&[secret()], "evt_1", unix_now(), &body);
    let client = reqwest::Client::new();
    let send = |user: &str, password: &str, headers: HeaderMap| {
        client
            .post(&url)
            .basic_auth(user, Some(password))
            .headers(headers)
            .body(body.clone())
            .send()
    };
    let good = send("livechat", "password", headers()).await.unwrap();
    assert_eq!(good.status(), 200);
    let wrong_password = send("livechat", "nope", headers()).await.unwrap();
    assert_eq!(wrong_password.status(), 401);
    assert!(wrong_password.headers().contains_key("www-authenticate"));
    let unsigned = send("livechat", "password", HeaderMap::new())
        .await
        .unwrap();
    assert_eq!(unsigned.status(), 401);
    assert!(unsigned
        .text()
        .await
        .unwrap()
        .contains("missing header `webhook-id`"));
}

#[test]
fn a_receiver_that_does_not_require_signatures_ignores_them() {
    let receiver = Receiver::open();
    let bogus = signed_headers(&[other_secret()], "evt_1", 0, b"other");
    assert_eq!(receiver.verify_signature(&bogus, b"body"), Ok(()));
    let strict = Receiver::open().require_signature(Verifier::new(secret()));
    assert!(strict.verify_signature(&bogus, b"body").is_err());
}
