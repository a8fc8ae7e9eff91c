//! The example against a Visitors API the test stands up on port 0, which records every request:
//! what is pushed, byte for byte, and when nothing is.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::{Json, Router};
use livechat_webhooks::{sample, DataTypes, EventType};
use serde_json::json;
use tokio::sync::mpsc;

use crate::{chat_started, Example, WAIT};

/// One request the Visitors API received.
#[derive(Debug)]
struct DetailsRequest {
    visitor_id: String,
    api_version: Option<String>,
    content_type: Option<String>,
    form: String,
}

/// A Visitors API on port 0 that answers like LiveChat's and hands every request to the test.
async fn visitors_api() -> (String, mpsc::UnboundedReceiver<DetailsRequest>) {
    let (sent, received) = mpsc::unbounded_channel();
    let app = Router::new()
        .route(
            "/visitors/{id}/details",
            post(
                |State(sent): State<mpsc::UnboundedSender<DetailsRequest>>,
                 Path(visitor_id): Path<String>,
                 headers: HeaderMap,
                 body: Bytes| async move {
                    let header = |name: &str| {
                        headers
                            .get(name)
                            .and_then(|v| v.to_str().ok())
                            .map(str::to_owned)
                    };
                    let _ = sent.send(DetailsRequest {
                        visitor_id,
                        api_version: header("x-api-version"),
                        content_type: header("content-type"),
                        form: String::from_utf8_lossy(&body).into_owned(),
                    });
                    Json(json!({"result": "Visitor details added"}))
                },
            ),
        )
        .with_state(sent);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (base, received)
}

async fn next_request(api: &mut mpsc::UnboundedReceiver<DetailsRequest>) -> DetailsRequest {
    tokio::time::timeout(WAIT, api.recv())
        .await
        .expect("no request reached the Visitors API within 10 s")
        .unwrap()
}

#[tokio::test]
async fn a_chat_started_webhook_pushes_the_customers_age_and_position_to_the_visitors_api() {
    let (api_base, mut api) = visitors_api().await;
    let mut example = Example::start(&api_base).await;

    let response = example.post("livechat", "password", &chat_started()).await;
    assert_eq!(response.status(), StatusCode::OK);

    let request = next_request(&mut api).await;
    assert_eq!(request.visitor_id, "S126126161.O136OJPO1");
    assert_eq!(request.api_version.as_deref(), Some("2"));
    assert_eq!(
        request.content_type.as_deref(),
        Some("application/x-www-form-urlencoded")
    );
    assert_eq!(
        request.form,
        "license_id=1025707&token=27f41c8da685c81a890f9e5f8ce48387&id=my-integration\
         &fields%5B0%5D%5Bname%5D=Age&fields%5B0%5D%5Bvalue%5D=36\
         &fields%5B1%5D%5Bname%5D=Position&fields%5B1%5D%5Bvalue%5D=Head+of+Sales"
    );
    let line = example.line_containing("mary.brown@email.com").await;
    assert!(line.contains("Visitor details added"), "{line}");
}

#[tokio::test]
async fn a_visitor_who_is_not_a_customer_gets_no_details() {
    let (api_base, mut api) = visitors_api().await;
    let mut example = Example::start(&api_base).await;
    let mut webhook = chat_started();
    webhook["visitor"]["email"] = json!("stranger@example.org");

    let response = example.post("livechat", "password", &webhook).await;
    assert_eq!(response.status(), StatusCode::OK);

    let line = example.line_containing("stranger@example.org").await;
    assert!(line.contains("not a customer, nothing pushed"), "{line}");
    // The line is printed where the push would have started, so nothing can follow it.
    assert!(
        api.try_recv().is_err(),
        "details were pushed for a stranger"
    );
}

#[tokio::test]
async fn wrong_credentials_are_refused_with_401_and_push_nothing() {
    let (api_base, mut api) = visitors_api().await;
    let example = Example::start(&api_base).await;
    let mut refused = chat_started();
    refused["license_id"] = json!("111");
    let mut accepted = chat_started();
    accepted["license_id"] = json!("222");

    let response = example.post("livechat", "wrong", &refused).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        response.headers()["www-authenticate"],
        "Basic realm=\"My Protected Area\""
    );
    let response = example.post("livechat", "password", &accepted).await;
    assert_eq!(response.status(), StatusCode::OK);

    // The first push the API sees is the accepted webhook's: the refused one made none.
    let request = next_request(&mut api).await;
    assert!(
        request.form.starts_with("license_id=222&"),
        "{}",
        request.form
    );
}

#[tokio::test]
async fn other_events_are_answered_200_and_ignored() {
    let (api_base, mut api) = visitors_api().await;
    let mut example = Example::start(&api_base).await;
    let queued = sample::payload(
        EventType::VisitorQueued,
        DataTypes::all_for(EventType::VisitorQueued),
        sample::LICENSE_ID,
        sample::TOKEN,
    );

    let response = example.post("livechat", "password", &queued).await;
    assert_eq!(response.status(), StatusCode::OK);

    example.line_containing("visitor_queued: ignored").await;
    assert!(api.try_recv().is_err(), "an ignored event pushed details");
}

#[tokio::test]
async fn an_unreachable_visitors_api_is_reported_with_its_address() {
    // Nothing listens on the API's address any more: the push fails and says where it went.
    let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let api_base = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let mut example = Example::start(&api_base).await;

    example.post("livechat", "password", &chat_started()).await;

    let line = example.line_containing("mary.brown@email.com").await;
    assert!(line.contains("details not pushed to"), "{line}");
    assert!(line.contains(&api_base), "{line}");
}
