//! Signed webhooks (Standard Webhooks): opt-in per webhook, the secret shown once, every attempt
//! signed (retries, resends, the test send), rotation with a grace period, and unsigned webhooks
//! exactly as before.

use hookrelay_story::story;
use std::time::Duration;

use livechat_webhooks::signature::{verify, SignedRequest, SigningSecret, VerifyError};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::harness::{TestLicense, TestServer};
use crate::receiver::{Answer, Hit, Receiver};

const SECS: Duration = Duration::from_secs(10);

/// A signing webhook; returns its id and the secret its creation answered with.
pub async fn signing_webhook(
    server: &TestServer,
    license: &TestLicense,
    url: &str,
) -> (String, String) {
    let (status, body) = server
        .post(
            &format!("/v1/licenses/{}/webhooks", license.id),
            &license.api_key,
            json!({"url": url, "event_type": "chat_started", "data_types": ["chat"], "signing": true}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["signing"], true, "{body}");
    let secret = body["signing_secret"]
        .as_str()
        .expect("the secret is shown")
        .to_string();
    (body["id"].as_str().unwrap().to_string(), secret)
}

/// A server, a license, a receiver answering 200 and a signing webhook to it: the webhook's id and
/// the secret its creation answered with.
pub struct Signed {
    pub server: TestServer,
    pub license: TestLicense,
    pub receiver: Receiver,
    pub id: String,
    pub secret: String,
}

pub async fn signed() -> Signed {
    let server = TestServer::start().await;
    let license = server.license().await;
    let receiver = Receiver::start().await;
    let (id, secret) = signing_webhook(&server, &license, &receiver.url).await;
    Signed {
        server,
        license,
        receiver,
        id,
        secret,
    }
}

fn header<'a>(hit: &'a Hit, name: &str) -> &'a str {
    hit.headers
        .get(name)
        .unwrap_or_else(|| panic!("no {name} header: {:?}", hit.headers))
        .to_str()
        .unwrap()
}

/// Checks a received request against `secrets` as a receiver would, now.
pub fn check(hit: &Hit, secrets: &[&str], body: &[u8]) -> Result<(), VerifyError> {
    let secrets: Vec<SigningSecret> = secrets
        .iter()
        .map(|s| SigningSecret::parse(s).unwrap())
        .collect();
    let request = SignedRequest {
        id: header(hit, "webhook-id"),
        timestamp: header(hit, "webhook-timestamp"),
        signature: header(hit, "webhook-signature"),
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    verify(&secrets, &request, body, now, 300)
}

fn chat_started(chat_id: &str) -> Value {
    json!({"event_type": "chat_started", "chat": {"id": chat_id, "tags": []}})
}

#[story]
async fn unsigned_webhooks_carry_no_signature_headers_and_their_bodies_are_unchanged() {
    let server = TestServer::start().await;
    let license = server.license().await;
    let receiver = Receiver::start().await;
    let id = server
        .webhook(&license, &receiver.url, "chat_started", &["chat"])
        .await;
    let (_, shown) = server
        .get(
            &format!("/v1/licenses/{}/webhooks/{id}", license.id),
            &license.api_key,
        )
        .await;
    assert_eq!(shown["signing"], false, "{shown}");
    server.event(&license, chat_started("C1")).await;
    let hit = receiver.wait_for(1, SECS).await.remove(0);
    for name in ["webhook-id", "webhook-timestamp", "webhook-signature"] {
        assert!(
            hit.headers.get(name).is_none(),
            "{name} on an unsigned webhook: {:?}",
            hit.headers
        );
    }
    let delivery = server
        .delivery(&license, &server.only_delivery_id(&license).await)
        .await;
    assert_eq!(
        String::from_utf8(hit.raw.to_vec()).unwrap(),
        delivery["request_body"].to_string(),
        "the body sent is the body shown, byte for byte (compact, in the same key order)"
    );
}

#[story]
async fn a_signing_webhook_shows_its_secret_once_and_signs_every_attempt_retry_and_resend() {
    let Signed {
        server,
        license,
        receiver,
        id,
        secret,
    } = signed().await;
    receiver.script([Answer::Status(500)]);
    assert!(secret.starts_with("whsec_"), "{secret}");
    assert_eq!(SigningSecret::parse(&secret).unwrap().to_whsec(), secret);

    // Shown once: never again, in any listing.
    let path = format!("/v1/licenses/{}/webhooks", license.id);
    for shown in [
        server
            .get(&format!("{path}/{id}"), &license.api_key)
            .await
            .1,
        server.get(&path, &license.api_key).await.1,
    ] {
        assert!(!shown.to_string().contains("whsec_"), "{shown}");
        assert!(shown.to_string().contains("\"signing\":true"), "{shown}");
    }

    let accepted = server.event(&license, chat_started("C1")).await;
    let hits = receiver.wait_for(2, SECS).await;
    server.wait_idle().await;
    let event_id = accepted["event_id"].as_str().unwrap();
    for hit in &hits {
        assert_eq!(check(hit, &[&secret], &hit.raw), Ok(()));
        assert_eq!(
            header(hit, "webhook-id"),
            event_id,
            "the message id is the event's id"
        );
        assert_eq!(hit.body["event_unique_id"], event_id);
        assert_eq!(header(hit, "webhook-signature").split(' ').count(), 1);
        let mut tampered = hit.raw.to_vec();
        tampered[2] ^= 1;
        assert_eq!(
            check(hit, &[&secret], &tampered),
            Err(VerifyError::NoMatch(1))
        );
    }
    let other = SigningSecret::from_bytes(&[9; 32]).unwrap().to_whsec();
    assert!(check(&hits[0], &[&other], &hits[0].raw).is_err());

    // A resend is signed with the same message id, at its own time.
    let delivery = server.only_delivery_id(&license).await;
    let (status, body) = server.resend(&license, &delivery).await;
    assert!(status.is_success(), "{status} {body}");
    let resent = receiver.wait_for(3, SECS).await.remove(2);
    assert_eq!(check(&resent, &[&secret], &resent.raw), Ok(()));
    assert_eq!(header(&resent, "webhook-id"), event_id);

    // So is the test send.
    let (status, test) = server
        .post(&format!("{path}/{id}/test"), &license.api_key, json!({}))
        .await;
    assert_eq!(status, StatusCode::OK, "{test}");
    let tested = receiver.wait_for(4, SECS).await.remove(3);
    assert_eq!(check(&tested, &[&secret], &tested.raw), Ok(()));
    assert_eq!(
        header(&tested, "webhook-id"),
        tested.body["event_unique_id"]
    );

    // No secret in the metrics either.
    let metrics = server
        .client
        .get(server.url("/metrics"))
        .send()
        .await
        .unwrap();
    assert!(!metrics.text().await.unwrap().contains(&secret[6..]));
}

#[story]
async fn turning_signing_on_shows_a_secret_once_and_turning_it_off_drops_it() {
    let server = TestServer::start().await;
    let license = server.license().await;
    let receiver = Receiver::start().await;
    let id = server
        .webhook(&license, &receiver.url, "chat_started", &["chat"])
        .await;
    let path = format!("/v1/licenses/{}/webhooks/{id}", license.id);
    let patch = |body: Value| server.call(Method::PATCH, &path, &license.api_key, Some(body));

    let (status, on) = patch(json!({"signing": true})).await;
    assert_eq!(status, StatusCode::OK, "{on}");
    let secret = on["signing_secret"]
        .as_str()
        .expect("the new secret")
        .to_string();
    let (_, again) = patch(json!({"signing": true})).await;
    assert!(
        again.get("signing_secret").is_none(),
        "shown only when it becomes true: {again}"
    );
    server.event(&license, chat_started("C1")).await;
    let signed = receiver.wait_for(1, SECS).await.remove(0);
    assert_eq!(check(&signed, &[&secret], &signed.raw), Ok(()));

    let (status, off) = patch(json!({"signing": false})).await;
    assert_eq!(status, StatusCode::OK, "{off}");
    assert_eq!(off["signing"], false);
    server.event(&license, chat_started("C2")).await;
    let unsigned = receiver.wait_for(2, SECS).await.remove(1);
    assert!(unsigned.headers.get("webhook-signature").is_none());

    // Turned on again: a new secret, the old one is gone for good.
    let (_, on_again) = patch(json!({"signing": true})).await;
    let renewed = on_again["signing_secret"].as_str().unwrap();
    assert_ne!(renewed, secret);
    server.event(&license, chat_started("C3")).await;
    let last = receiver.wait_for(3, SECS).await.remove(2);
    assert_eq!(check(&last, &[renewed], &last.raw), Ok(()));
    assert!(check(&last, &[&secret], &last.raw).is_err());
}

#[story]
async fn a_rotation_signs_with_both_secrets_until_the_grace_ends_then_with_the_new_one() {
    let Signed {
        server,
        license,
        receiver,
        id,
        secret: old,
    } = signed().await;
    let rotate = format!("/v1/licenses/{}/webhooks/{id}/signing-secret", license.id);
    let (status, rotated) = server
        .post(&rotate, &license.api_key, json!({"grace": "2s"}))
        .await;
    assert_eq!(status, StatusCode::OK, "{rotated}");
    let new = rotated["signing_secret"].as_str().unwrap().to_string();
    assert_ne!(new, old);
    assert_eq!(
        rotated["previous_secrets_valid_until"]
            .as_array()
            .unwrap()
            .len(),
        1
    );

    server.event(&license, chat_started("C1")).await;
    let during = receiver.wait_for(1, SECS).await.remove(0);
    assert_eq!(header(&during, "webhook-signature").split(' ').count(), 2);
    assert_eq!(check(&during, &[&old], &during.raw), Ok(()));
    assert_eq!(check(&during, &[&new], &during.raw), Ok(()));

    tokio::time::sleep(Duration::from_millis(2100)).await;
    server.event(&license, chat_started("C2")).await;
    let after = receiver.wait_for(2, SECS).await.remove(1);
    assert_eq!(header(&after, "webhook-signature").split(' ').count(), 1);
    assert_eq!(check(&after, &[&new], &after.raw), Ok(()));
    assert_eq!(
        check(&after, &[&old], &after.raw),
        Err(VerifyError::NoMatch(1))
    );

    // An empty body takes the default grace of a day.
    let response = server
        .client
        .post(server.url(&rotate))
        .bearer_auth(&license.api_key)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    assert_eq!(
        body["previous_secrets_valid_until"]
            .as_array()
            .unwrap()
            .len(),
        1,
        "{body}"
    );
}

#[story]
async fn rotating_needs_signing_on_and_a_grace_of_at_most_a_week() {
    let server = TestServer::start().await;
    let license = server.license().await;
    let receiver = Receiver::start().await;
    let unsigned = server
        .webhook(&license, &receiver.url, "chat_started", &[])
        .await;
    let path = |id: &str| format!("/v1/licenses/{}/webhooks/{id}/signing-secret", license.id);
    let (status, body) = server
        .post(&path(&unsigned), &license.api_key, json!({}))
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("\"signing\": true"),
        "{body}"
    );

    let (signed, _) = signing_webhook(&server, &license, &receiver.url).await;
    for grace in ["8d", "tomorrow"] {
        let (status, body) = server
            .post(&path(&signed), &license.api_key, json!({"grace": grace}))
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert_eq!(body["error"]["field"], "grace", "{body}");
    }
    let (status, _) = server
        .post(&path("nope"), &license.api_key, json!({}))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let stranger = server.license().await;
    let (status, _) = server
        .post(&path(&signed), &stranger.api_key, json!({}))
        .await;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "another license's key cannot rotate"
    );
}

#[story]
async fn signing_changes_racing_each_other_never_hand_out_a_secret_that_is_not_kept() {
    let Signed {
        server,
        license,
        receiver,
        id,
        secret: first,
    } = signed().await;
    let webhook = format!("/v1/licenses/{}/webhooks/{id}", license.id);
    let rotate = format!("{webhook}/signing-secret");

    // Three rotations at once: each either hands out a secret that signs from then on, or is
    // refused with 409 (it lost the race and changed nothing).
    let answers = futures::future::join_all(
        (0..3).map(|_| server.post(&rotate, &license.api_key, json!({"grace": "1h"}))),
    )
    .await;
    let mut handed_out = vec![first];
    for (status, body) in &answers {
        match *status {
            StatusCode::OK => handed_out.push(body["signing_secret"].as_str().unwrap().into()),
            StatusCode::CONFLICT => assert!(body.to_string().contains("try again"), "{body}"),
            other => panic!("{other}: {body}"),
        }
    }
    assert!(
        handed_out.len() >= 2,
        "at least one rotation wins: {answers:?}"
    );
    server.event(&license, chat_started("C1")).await;
    let hit = receiver.wait_for(1, SECS).await.remove(0);
    for secret in &handed_out {
        assert_eq!(
            check(&hit, &[secret], &hit.raw),
            Ok(()),
            "a secret handed out is not kept"
        );
    }

    // Turning signing off while a rotation runs: once off has answered, signing stays off.
    for _ in 0..3 {
        let (off, rotated) = tokio::join!(
            server.call(
                Method::PATCH,
                &webhook,
                &license.api_key,
                Some(json!({"signing": false}))
            ),
            server.post(&rotate, &license.api_key, json!({})),
        );
        assert_eq!(off.0, StatusCode::OK, "{}", off.1);
        assert!(
            matches!(rotated.0, StatusCode::OK | StatusCode::CONFLICT),
            "{rotated:?}"
        );
        // A rotation that read the keys before off committed finds them gone when it writes.
        let (_, now) = server.get(&webhook, &license.api_key).await;
        assert_eq!(
            now["signing"], false,
            "off was undone by a racing rotation: {now}"
        );
        // Back on for the next round (a new secret).
        let (status, on) = server
            .call(
                Method::PATCH,
                &webhook,
                &license.api_key,
                Some(json!({"signing": true})),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{on}");
    }
}
