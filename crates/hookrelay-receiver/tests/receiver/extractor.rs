//! The `Webhook` extractor behind a real axum server on 127.0.0.1:0.

use axum::routing::post;
use axum::Router;
use hookrelay_receiver::wire::sample;
use hookrelay_receiver::{BasicAuth, DataTypes, EventType, Htpasswd, Receiver, Webhook};
use serde_json::json;

use crate::serve;

/// Answers with what it understood: the event type, the user and the visitor's e-mail.
async fn echo(webhook: Webhook) -> String {
    let email = webhook
        .payload
        .visitor
        .and_then(|v| v.email)
        .unwrap_or_default();
    format!(
        "{} {} {}",
        webhook.payload.event_type,
        webhook.user.unwrap_or_default(),
        email
    )
}

/// Starts a receiver protected by the seed's `.htpasswd`; returns its webhook URL.
async fn spawn_receiver() -> String {
    let users = Htpasswd::parse("livechat:$apr1$G9iXatUK$gPJLrKQsoWWkFCY/SXO/H.\n");
    let receiver = Receiver::with_basic_auth(BasicAuth::Htpasswd(users)).realm("My Protected Area");
    let app = Router::new()
        .route("/webhooks", post(echo))
        .with_state(receiver);
    serve(app).await + "/webhooks"
}

/// Posts `body` with the seed's credentials.
async fn post_as_livechat(
    client: &reqwest::Client,
    url: &str,
    body: &serde_json::Value,
) -> reqwest::Response {
    let request = client.post(url).basic_auth("livechat", Some("password"));
    request.json(body).send().await.unwrap()
}

#[tokio::test]
async fn every_sample_payload_is_accepted_with_a_200() {
    let url = spawn_receiver().await;
    let client = reqwest::Client::new();
    for event_type in EventType::ALL {
        for wanted in [DataTypes::all_for(event_type), DataTypes::EMPTY] {
            let body = sample::payload(event_type, wanted, sample::LICENSE_ID, sample::TOKEN);
            let response = post_as_livechat(&client, &url, &body).await;
            assert_eq!(response.status(), 200, "{event_type} {wanted:?}");
            let text = response.text().await.unwrap();
            assert!(
                text.starts_with(&format!("{event_type} livechat")),
                "{text}"
            );
        }
    }
}

#[tokio::test]
async fn fields_only_real_payloads_carry_are_accepted() {
    let url = spawn_receiver().await;
    let body = json!({
        "event_type": "chat_started", "token": sample::TOKEN, "license_id": 1025707,
        "event_unique_id": "0123456789abcdef0123456789abcdef", "lc_version": "2",
        "chat": {"id": "MH022RD0K5", "started_timestamp": 1358937653, "url": "https://example.com",
                 "agents": [{"name": "John", "login": "john@example.com"}], "groups": [0],
                 "messages": [], "tags": []},
        "visitor": {"id": "S1", "email": "bob@example.com", "country": "Poland", "timezone": "+1",
                    "custom_variables": [{"key": "n", "value": 5}]},
        "pre_chat_survey": [{"id": "1", "type": "phone", "label": "Phone", "answer": "123"}]
    });
    let response = post_as_livechat(&reqwest::Client::new(), &url, &body).await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.text().await.unwrap(),
        "chat_started livechat bob@example.com"
    );
}

#[tokio::test]
async fn missing_or_wrong_credentials_get_a_401_naming_the_realm() {
    let url = spawn_receiver().await;
    let body = sample::payload(EventType::ChatStarted, DataTypes::EMPTY, "1", "t");
    let client = reqwest::Client::new();
    for auth in [
        None,
        Some(("livechat", "wrong")),
        Some(("other", "password")),
    ] {
        let mut request = client.post(&url).json(&body);
        if let Some((user, password)) = auth {
            request = request.basic_auth(user, Some(password));
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), 401, "{auth:?}");
        assert_eq!(
            response.headers()["www-authenticate"],
            "Basic realm=\"My Protected Area\""
        );
    }
}

#[tokio::test]
async fn a_bad_body_gets_a_400_that_names_the_problem() {
    let url = spawn_receiver().await;
    let client = reqwest::Client::new();
    let cases = [
        ("not json", "not valid JSON"),
        (
            r#"{"token":"t","license_id":"1"}"#,
            "missing field `event_type`",
        ),
        (
            r#"{"event_type":"chat_closed","token":"t","license_id":"1"}"#,
            "chat_closed",
        ),
        (
            r#"{"event_type":"chat_started","token":"t","license_id":"1","visitor":{"name":"x"}}"#,
            "visitor",
        ),
    ];
    for (body, reason) in cases {
        let response = client
            .post(&url)
            .basic_auth("livechat", Some("password"))
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 400, "{body}");
        let text = response.text().await.unwrap();
        assert!(text.contains(reason), "{body}: {text}");
    }
}

#[tokio::test]
async fn an_open_receiver_takes_webhooks_without_credentials() {
    let app = Router::new()
        .route("/", post(echo))
        .with_state(Receiver::open());
    let url = serve(app).await + "/";
    let body = sample::payload(EventType::VisitorQueued, DataTypes::EMPTY, "1", "t");
    let response = reqwest::Client::new()
        .post(&url)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let fixed = Receiver::with_basic_auth(BasicAuth::credentials("a", "b"));
    assert!(fixed.authorize(&Default::default()).is_err());
}
