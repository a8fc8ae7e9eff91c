//! The Visitors API (`POST /visitors/{visitor_id}/details`) as the seed's PHP script calls it,
//! and reading the details back through `/v1`; ends with the seed's whole integration: a
//! receiver built with `hookrelay-receiver` that pushes details back when a chat starts.

use hookrelay_story::story;
use std::time::Duration;

use axum::extract::{FromRef, State};
use axum::routing::post;
use hookrelay_receiver::{
    BasicAuth, DetailField, EventType, Htpasswd, VisitorDetails, VisitorsClient, Webhook,
};
use reqwest::StatusCode;
use serde_json::{json, Value};
use tokio::sync::mpsc;

use crate::harness::{TestLicense, TestServer, ADMIN};

const FORM: &str = "application/x-www-form-urlencoded";
const VISITOR: &str = "S126126161.O136OJPO1";

/// What the seed's script sends, byte for byte as PHP's `http_build_query` writes it for
/// `['license_id' => …, 'token' => …, 'id' => 'my-integration', 'icon' => 'example.com/ico-64.png',
/// 'fields' => [(object)['name' => 'Age', 'value' => '36'],
///              (object)['name' => 'Position', 'value' => 'Head of Sales']]]`.
fn seed_form(license: &TestLicense) -> String {
    format!(
        "license_id={}&token={}&id=my-integration&icon=example.com%2Fico-64.png\
         &fields%5B0%5D%5Bname%5D=Age&fields%5B0%5D%5Bvalue%5D=36\
         &fields%5B1%5D%5Bname%5D=Position&fields%5B1%5D%5Bvalue%5D=Head+of+Sales",
        license.id, license.token
    )
}

/// Posts details the way the seed's curl call does (`X-API-Version: 2`, a form body).
async fn push(
    server: &TestServer,
    visitor: &str,
    content_type: &str,
    body: String,
) -> (StatusCode, Value) {
    let response = server
        .client
        .post(server.url(&format!("/visitors/{visitor}/details")))
        .header("X-API-Version", "2")
        .header("Content-Type", content_type)
        .body(body)
        .send()
        .await
        .unwrap();
    let status = response.status();
    let text = response.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON: {text:?}")),
    )
}

async fn stored(server: &TestServer, license: &TestLicense, visitor: &str) -> Vec<Value> {
    let path = format!("/v1/licenses/{}/visitors/{visitor}/details", license.id);
    let (status, body) = server.get(&path, &license.api_key).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["visitor_id"], visitor);
    body["details"].as_array().unwrap().clone()
}

#[story]
async fn the_seed_scripts_form_body_is_accepted_and_can_be_read_back() {
    let server = TestServer::start().await;
    let license = server.license().await;
    let (status, answer) = push(&server, VISITOR, FORM, seed_form(&license)).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer, json!({"result": "Visitor details added"}));
    let sets = stored(&server, &license, VISITOR).await;
    assert_eq!(sets.len(), 1);
    assert_eq!(sets[0]["id"], "my-integration");
    assert_eq!(sets[0]["icon"], "example.com/ico-64.png");
    assert_eq!(
        sets[0]["fields"],
        json!([{"name": "Age", "value": "36"}, {"name": "Position", "value": "Head of Sales"}])
    );
    assert!(sets[0]["created_at"].as_str().unwrap().ends_with('Z'));
}

#[story]
async fn unencoded_brackets_and_a_json_body_with_links_work_as_well() {
    let server = TestServer::start().await;
    let license = server.license().await;
    let raw = format!(
        "license_id={}&token={}&id=crm&fields[0][name]=Plan&fields[0][value]=Gold",
        license.id, license.token
    );
    let (status, answer) = push(&server, "S1", FORM, raw).await;
    assert_eq!(
        (status, answer["result"].clone()),
        (StatusCode::OK, json!("Visitor details added"))
    );
    let body = json!({"license_id": license.id, "token": license.token, "id": "shop",
        "fields": [{"name": "Orders", "value": 3, "url": "https://shop.example.com/c/42"}]});
    let (status, answer) = push(&server, "S1", "application/json", body.to_string()).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let sets = stored(&server, &license, "S1").await;
    assert_eq!(sets.len(), 2);
    assert_eq!(
        sets[0]["fields"],
        json!([{"name": "Plan", "value": "Gold"}])
    );
    assert_eq!(sets[0]["icon"], Value::Null);
    assert_eq!(
        sets[1]["fields"],
        json!([{"name": "Orders", "value": "3", "url": "https://shop.example.com/c/42"}])
    );
}

#[story]
async fn the_same_id_replaces_its_set_and_other_ids_sit_beside_it() {
    let server = TestServer::start().await;
    let license = server.license().await;
    let form = |id: &str, value: &str| {
        format!(
            "license_id={}&token={}&id={id}&fields%5B0%5D%5Bname%5D=Age&fields%5B0%5D%5Bvalue%5D={value}",
            license.id, license.token
        )
    };
    for (id, value) in [("crm", "30"), ("billing", "unpaid"), ("crm", "31")] {
        // Apart in time, so that a replaced set's updated_at differs from its created_at.
        tokio::time::sleep(Duration::from_millis(5)).await;
        let (status, answer) = push(&server, VISITOR, FORM, form(id, value)).await;
        assert_eq!(status, StatusCode::OK, "{answer}");
    }
    let (status, _) = push(&server, "S-other", FORM, form("crm", "50")).await;
    assert_eq!(status, StatusCode::OK);
    let sets = stored(&server, &license, VISITOR).await;
    let summary: Vec<(&str, &str)> = sets
        .iter()
        .map(|s| {
            (
                s["id"].as_str().unwrap(),
                s["fields"][0]["value"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(summary, [("crm", "31"), ("billing", "unpaid")]);
    assert_ne!(
        sets[0]["created_at"], sets[0]["updated_at"],
        "replaced later"
    );
    assert_eq!(stored(&server, &license, "S-other").await.len(), 1);
    assert!(stored(&server, &license, "S-nobody").await.is_empty());
}

#[story]
async fn a_wrong_token_or_license_is_refused_with_401_and_nothing_is_stored() {
    let server = TestServer::start().await;
    let license = server.license().await;
    let other = server.license().await;
    let fields = "id=x&fields%5B0%5D%5Bname%5D=Age&fields%5B0%5D%5Bvalue%5D=36";
    let bodies = [
        format!(
            "license_id={}&token={}&{fields}",
            license.id,
            "0".repeat(32)
        ),
        format!("license_id={}&token={}&{fields}", license.id, other.token),
        format!(
            "license_id={}&token={}&{fields}",
            "999999999", license.token
        ),
        format!("license_id=abc&token={}&{fields}", license.token),
        format!("token={}&{fields}", license.token),
        format!("license_id={}&{fields}", license.id),
    ];
    for body in bodies {
        let (status, answer) = push(&server, VISITOR, FORM, body.clone()).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
        assert!(
            answer["error"].as_str().unwrap().contains("token"),
            "{answer}"
        );
    }
    assert!(stored(&server, &license, VISITOR).await.is_empty());
}

#[story]
async fn bad_details_get_a_400_naming_the_field_and_nothing_is_stored() {
    let server = TestServer::start().await;
    let license = server.license().await;
    let creds = format!("license_id={}&token={}", license.id, license.token);
    let age = "fields%5B0%5D%5Bname%5D=Age&fields%5B0%5D%5Bvalue%5D=36";
    let cases = [
        (format!("{creds}&{age}"), "id", "is required"),
        (
            format!("{creds}&id=x&icon=http%3A%2F%2Fexample.com%2Fi.png&{age}"),
            "icon",
            "scheme",
        ),
        (
            format!("{creds}&id=x&icon=https%3A%2F%2Fexample.com%2Fi.png&{age}"),
            "icon",
            "scheme",
        ),
        (
            format!("{creds}&id=x&icon=not+a+url&{age}"),
            "icon",
            "without scheme",
        ),
        (format!("{creds}&id=x"), "fields", "is required"),
        (format!("{creds}&id=x&fields=Age"), "fields", "list"),
        (
            format!("{creds}&id=x&fields%5B0%5D%5Bname%5D=Age"),
            "fields[0].value",
            "is required",
        ),
        (
            format!("{creds}&id=x&{age}&fields%5B1%5D%5Bvalue%5D=CTO"),
            "fields[1].name",
            "is required",
        ),
        (
            format!("{creds}&id=x&{age}&fields%5B0%5D%5Burl%5D=javascript%3Aalert(1)"),
            "fields[0].url",
            "http",
        ),
    ];
    for (body, field, hint) in cases {
        let (status, answer) = push(&server, VISITOR, FORM, body.clone()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}: {answer}");
        assert_eq!(answer["field"], field, "{body}: {answer}");
        assert!(
            answer["error"].as_str().unwrap().contains(hint),
            "{body}: {answer}"
        );
    }
    assert!(stored(&server, &license, VISITOR).await.is_empty());
}

#[story]
async fn the_visitors_api_needs_x_api_version_2_too() {
    let server = TestServer::start().await;
    let license = server.license().await;
    let response = server
        .client
        .post(server.url(&format!("/visitors/{VISITOR}/details")))
        .header("Content-Type", FORM)
        .body(seed_form(&license))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let body: Value = response.json().await.unwrap();
    assert!(
        body["error"].as_str().unwrap().contains("X-API-Version"),
        "{body}"
    );
    assert!(stored(&server, &license, VISITOR).await.is_empty());
}

#[story]
async fn one_licenses_visitor_details_are_hidden_from_another() {
    let server = TestServer::start().await;
    let license = server.license().await;
    let other = server.license().await;
    push(&server, VISITOR, FORM, seed_form(&license)).await;
    let path = format!("/v1/licenses/{}/visitors/{VISITOR}/details", license.id);
    let (status, _) = server.get(&path, &other.api_key).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = server.get(&path, "not-a-token").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, body) = server.get(&path, ADMIN).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["details"].as_array().unwrap().len(), 1);
    assert!(stored(&server, &other, VISITOR).await.is_empty());
}

/// The seed's integration, written with `hookrelay-receiver`: Basic auth from the seed's
/// `.htpasswd` line, and on `chat_started` a push of the customer's age and position.
#[derive(Clone)]
struct Integration {
    receiver: hookrelay_receiver::Receiver,
    visitors: VisitorsClient,
    pushed: mpsc::UnboundedSender<Result<String, String>>,
}

impl FromRef<Integration> for hookrelay_receiver::Receiver {
    fn from_ref(app: &Integration) -> hookrelay_receiver::Receiver {
        app.receiver.clone()
    }
}

async fn on_webhook(State(app): State<Integration>, webhook: Webhook) {
    let payload = webhook.payload;
    if payload.event_type != EventType::ChatStarted {
        return;
    }
    let email = payload.visitor.as_ref().and_then(|v| v.email.clone());
    // The "internal database" of the seed's script.
    let (age, position) = match email.as_deref() {
        Some("mary.brown@email.com") => ("36", "Head of Sales"),
        _ => return,
    };
    let details = VisitorDetails {
        id: "my-integration".into(),
        icon: Some("example.com/ico-64.png".into()),
        fields: vec![
            DetailField::new("Age", age),
            DetailField::new("Position", position),
        ],
    };
    tokio::spawn(async move {
        let result = app.visitors.push_for(&payload, &details).await;
        let _ = app.pushed.send(result.map_err(|e| e.to_string()));
    });
}

#[story]
async fn the_seed_integration_pushes_visitor_details_back_when_a_chat_starts() {
    let server = TestServer::start().await;
    let license = server.license().await;
    let (pushed, mut results) = mpsc::unbounded_channel();
    let users = Htpasswd::parse("livechat:$apr1$G9iXatUK$gPJLrKQsoWWkFCY/SXO/H.\n");
    let app = Integration {
        receiver: hookrelay_receiver::Receiver::with_basic_auth(BasicAuth::Htpasswd(users)),
        visitors: VisitorsClient::new(&server.base).unwrap(),
        pushed,
    };
    let router = axum::Router::new()
        .route("/webhooks", post(on_webhook))
        .with_state(app);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });

    // The seed's recommended URL shape, with the .htpasswd user's password.
    let url = format!("http://livechat:password@{address}/webhooks");
    server
        .webhook(&license, &url, "chat_started", &["chat", "visitor"])
        .await;
    let visitor = json!({"id": VISITOR, "name": "Mary Brown", "email": "mary.brown@email.com"});
    server
        .event(
            &license,
            json!({"event_type": "chat_started", "chat": {"id": "MH022RD0K5", "tags": []},
                   "visitor": visitor}),
        )
        .await;
    let result = tokio::time::timeout(Duration::from_secs(10), results.recv())
        .await
        .expect("the integration never pushed")
        .unwrap();
    assert_eq!(result, Ok("Visitor details added".to_string()));
    let sets = stored(&server, &license, VISITOR).await;
    assert_eq!(sets.len(), 1, "{sets:#?}");
    assert_eq!(sets[0]["id"], "my-integration");
    assert_eq!(sets[0]["icon"], "example.com/ico-64.png");
    assert_eq!(
        sets[0]["fields"],
        json!([{"name": "Age", "value": "36"}, {"name": "Position", "value": "Head of Sales"}])
    );
    let id = server.only_delivery_id(&license).await;
    server
        .wait_status(&license, &id, "succeeded", Duration::from_secs(5))
        .await;
}
