//! The Visitors API client against a real server that records what it was sent.

use std::sync::{Arc, Mutex};

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::Router;
use hookrelay_receiver::wire::sample;
use hookrelay_receiver::{
    DataTypes, DetailField, EventType, VisitorDetails, VisitorsClient, VisitorsError,
    WebhookPayload,
};

#[derive(Debug, Clone, Default)]
struct Seen {
    visitor_id: String,
    api_version: String,
    content_type: String,
    body: String,
}

async fn spawn_api(status: StatusCode) -> (String, Arc<Mutex<Seen>>) {
    let seen = Arc::new(Mutex::new(Seen::default()));
    let app = Router::new()
        .route(
            "/visitors/{visitor_id}/details",
            post(
                move |State(seen): State<Arc<Mutex<Seen>>>,
                      Path(id): Path<String>,
                      headers: HeaderMap,
                      body: String| async move {
                    let header = |name: &str| {
                        headers
                            .get(name)
                            .map(|v| v.to_str().unwrap().to_owned())
                            .unwrap_or_default()
                    };
                    *seen.lock().unwrap() = Seen {
                        visitor_id: id,
                        api_version: header("x-api-version"),
                        content_type: header("content-type"),
                        body,
                    };
                    (status, r#"{"result":"Visitor details added"}"#)
                },
            ),
        )
        .with_state(seen.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (base, seen)
}

fn details() -> VisitorDetails {
    VisitorDetails {
        id: "my-integration".into(),
        icon: Some("example.com/ico-64.png".into()),
        fields: vec![
            DetailField::new("Age", "36"),
            DetailField::new("Position", "CTO"),
        ],
    }
}

#[tokio::test]
async fn details_are_posted_for_the_webhook_s_visitor_like_the_php_example() {
    let (base, seen) = spawn_api(StatusCode::OK).await;
    let body = sample::payload(
        EventType::ChatStarted,
        DataTypes::all_for(EventType::ChatStarted),
        "1025707",
        sample::TOKEN,
    );
    let webhook: WebhookPayload = serde_json::from_value(body).unwrap();
    let client = VisitorsClient::new(&base).unwrap();
    let result = client.push_for(&webhook, &details()).await.unwrap();
    assert_eq!(result, "Visitor details added");
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.visitor_id, "S126126161.O136OJPO1");
    assert_eq!(seen.api_version, "2");
    assert_eq!(seen.content_type, "application/x-www-form-urlencoded");
    let decoded: Vec<(String, String)> = url::form_urlencoded::parse(seen.body.as_bytes())
        .into_owned()
        .collect();
    let pairs: Vec<(&str, &str)> = decoded
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    assert_eq!(
        pairs,
        [
            ("license_id", "1025707"),
            ("token", sample::TOKEN),
            ("id", "my-integration"),
            ("icon", "example.com/ico-64.png"),
            ("fields[0][name]", "Age"),
            ("fields[0][value]", "36"),
            ("fields[1][name]", "Position"),
            ("fields[1][value]", "CTO"),
        ]
    );
}

#[tokio::test]
async fn a_refusal_is_an_error_carrying_status_and_body() {
    let (base, _) = spawn_api(StatusCode::UNAUTHORIZED).await;
    let client = VisitorsClient::new(&base).unwrap();
    match client.push_details("1", "bad", "S1", &details()).await {
        Err(VisitorsError::Status { status, body }) => {
            assert_eq!(status, 401);
            assert!(body.contains("result"));
        }
        other => panic!("expected a status error, got {other:?}"),
    }
}

#[tokio::test]
async fn a_webhook_without_a_visitor_cannot_be_answered() {
    let body = sample::payload(
        EventType::TicketCreated,
        DataTypes::all_for(EventType::TicketCreated),
        "1",
        "t",
    );
    let webhook: WebhookPayload = serde_json::from_value(body).unwrap();
    let client = VisitorsClient::new("http://127.0.0.1:9").unwrap();
    assert!(matches!(
        client.push_for(&webhook, &details()).await,
        Err(VisitorsError::NoVisitor)
    ));
    assert!(VisitorsClient::new("not a url").is_err());
}
