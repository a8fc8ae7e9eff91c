//! The LiveChat v2-compatible management API, driven the way v2 clients drive it: `curl -u
//! login:key -H X-API-Version:2 -d ...` and PHP's `http_build_query`, answers compared field by
//! field with the v2 documentation's samples.

use hookrelay_story::story;
use std::time::Duration;

use reqwest::{Method, RequestBuilder, StatusCode};
use serde_json::{json, Value};

use crate::harness::{TestLicense, TestServer, ADMIN};
use crate::receiver::Receiver;

const LOGIN: &str = "john.doe@mycompany.com";
const FORM: &str = "application/x-www-form-urlencoded";

/// A license with a v2 login, created through the admin API.
pub async fn v2_license(server: &TestServer, login: &str) -> TestLicense {
    let (status, body) = server
        .post("/v1/licenses", ADMIN, json!({"login": login}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    TestLicense {
        id: body["license_id"].as_str().unwrap().into(),
        api_key: body["api_key"].as_str().unwrap().into(),
        token: body["token"].as_str().unwrap().into(),
    }
}

/// A request as v2 clients send it: Basic `login:api_key` and `X-API-Version: 2`.
fn v2(server: &TestServer, method: Method, path: &str, login: &str, key: &str) -> RequestBuilder {
    server
        .client
        .request(method, server.url(path))
        .basic_auth(login, Some(key))
        .header("X-API-Version", "2")
}

/// `POST /webhooks` with a form body, as `curl -d` and PHP send it.
fn post_form(
    server: &TestServer,
    license: &TestLicense,
    body: impl Into<String>,
) -> RequestBuilder {
    v2(server, Method::POST, "/webhooks", LOGIN, &license.api_key)
        .header("Content-Type", FORM)
        .body(body.into())
}

async fn answer(request: RequestBuilder) -> (StatusCode, reqwest::header::HeaderMap, Value) {
    let response = request.send().await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let text = response.text().await.unwrap();
    let body = serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON: {text:?}"));
    (status, headers, body)
}

/// Checks one webhook of a v2 answer against the documented shape, key order included.
fn assert_v2_webhook(shown: &Value, license: &TestLicense, event: &str, types: &[&str], url: &str) {
    let keys: Vec<&str> = shown
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        [
            "licence",
            "event_type",
            "data_types",
            "url",
            "verified",
            "token",
            "id"
        ]
    );
    assert_eq!(shown["licence"], json!(license.id.parse::<u64>().unwrap()));
    assert!(shown["licence"].is_number());
    assert_eq!(shown["event_type"], event);
    assert_eq!(shown["data_types"], json!(types));
    assert_eq!(shown["url"], url);
    assert_eq!(shown["verified"], true);
    assert_eq!(shown["token"], license.token.as_str());
    let id = shown["id"].as_str().unwrap();
    assert!(
        id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit()),
        "{id}"
    );
}

#[story]
async fn the_documented_curl_request_creates_a_webhook_and_answers_in_the_v2_shape() {
    let server = TestServer::start().await;
    let license = v2_license(&server, LOGIN).await;
    // Exactly what the v2 docs' `curl -d` sends: brackets not encoded.
    let body = "event_type=chat_started&data_types[]=chat&data_types[]=visitor\
                &url=https://my-company.com/parse_webhook.php";
    let (status, _, created) = answer(post_form(&server, &license, body)).await;
    assert_eq!(status, StatusCode::OK, "{created}");
    assert_eq!(created.as_object().unwrap().len(), 1);
    let events = created["events"].as_array().unwrap();
    assert_eq!(events.len(), 1);
    let url = "https://my-company.com/parse_webhook.php";
    assert_v2_webhook(
        &events[0],
        &license,
        "chat_started",
        &["chat", "visitor"],
        url,
    );
    let (_, listed) = server
        .get(
            &format!("/v1/licenses/{}/webhooks", license.id),
            &license.api_key,
        )
        .await;
    assert_eq!(listed["webhooks"][0]["id"], events[0]["id"]);
    assert_eq!(listed["webhooks"][0]["enabled"], true);
}

#[story]
async fn a_php_http_build_query_body_is_read_and_the_password_is_redacted_in_the_answer() {
    let server = TestServer::start().await;
    let license = v2_license(&server, LOGIN).await;
    // PHP: http_build_query(['event_type' => 'chat_ended',
    //   'data_types' => ['chat', 'pre_chat_survey'],
    //   'url' => 'https://livechat:password@www.my-website.com/hook.php'])
    let body = "event_type=chat_ended&data_types%5B0%5D=chat&data_types%5B1%5D=pre_chat_survey\
                &url=https%3A%2F%2Flivechat%3Apassword%40www.my-website.com%2Fhook.php";
    let (status, _, created) = answer(post_form(&server, &license, body)).await;
    assert_eq!(status, StatusCode::OK, "{created}");
    let url = "https://livechat:***@www.my-website.com/hook.php";
    assert_v2_webhook(
        &created["events"][0],
        &license,
        "chat_ended",
        &["chat", "pre_chat_survey"],
        url,
    );
    assert!(!created.to_string().contains("password"));
}

#[story]
async fn a_json_body_creates_a_webhook_too() {
    let server = TestServer::start().await;
    let license = v2_license(&server, LOGIN).await;
    let (status, _, created) = answer(
        v2(&server, Method::POST, "/webhooks", LOGIN, &license.api_key).json(&json!({
            "event_type": "ticket_created", "data_types": ["ticket"],
            "url": "https://my-company.com/tickets"})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{created}");
    let url = "https://my-company.com/tickets";
    assert_v2_webhook(
        &created["events"][0],
        &license,
        "ticket_created",
        &["ticket"],
        url,
    );
}

#[story]
async fn operational_event_types_can_be_subscribed_to_with_their_data_types() {
    let server = TestServer::start().await;
    let license = v2_license(&server, LOGIN).await;
    for (event, data_type) in [
        ("webhook_disabled", "webhook"),
        ("delivery_failed", "delivery"),
    ] {
        let url = format!("https://ops.example.com/{event}");
        let (status, _, created) = answer(post_form(
            &server,
            &license,
            format!("event_type={event}&data_types[]={data_type}&url={url}"),
        ))
        .await;
        assert_eq!(status, StatusCode::OK, "{created}");
        assert_v2_webhook(&created["events"][0], &license, event, &[data_type], &url);
    }
    let (status, _, refused) = answer(post_form(
        &server,
        &license,
        "event_type=delivery_failed&data_types[]=chat&url=https://ops.example.com/x",
    ))
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{refused}");
    assert!(
        refused["error"].as_str().unwrap().contains("delivery"),
        "{refused}"
    );
}

#[story]
async fn listing_shows_every_webhook_of_the_license_and_no_other() {
    let server = TestServer::start().await;
    let license = v2_license(&server, LOGIN).await;
    let other = v2_license(&server, "someone@else.com").await;
    server
        .webhook(
            &license,
            "https://a.example.com/1",
            "chat_started",
            &["chat", "visitor"],
        )
        .await;
    server
        .webhook(&license, "https://a.example.com/2", "visitor_queued", &[])
        .await;
    server
        .webhook(&other, "https://b.example.com/", "chat_ended", &[])
        .await;
    let (status, _, listed) = list_v2(&server, &license).await;
    assert_eq!(status, StatusCode::OK, "{listed}");
    let events = listed["events"].as_array().unwrap();
    assert_eq!(events.len(), 2, "{listed}");
    // Listed oldest first; two webhooks made in the same millisecond may come in either order.
    let by_url = |url: &str| {
        events
            .iter()
            .find(|e| e["url"] == url)
            .unwrap_or_else(|| panic!("{url} is not listed: {listed}"))
    };
    let url = "https://a.example.com/1";
    assert_v2_webhook(
        by_url(url),
        &license,
        "chat_started",
        &["chat", "visitor"],
        url,
    );
    let url = "https://a.example.com/2";
    assert_v2_webhook(by_url(url), &license, "visitor_queued", &[], url);
}

#[story]
async fn deleting_answers_the_documented_result_and_the_webhook_is_gone() {
    let server = TestServer::start().await;
    let license = v2_license(&server, LOGIN).await;
    let id = server
        .webhook(
            &license,
            "https://a.example.com/1",
            "chat_started",
            &["chat"],
        )
        .await;
    let path = format!("/webhooks/{id}");
    let (status, _, removed) =
        answer(v2(&server, Method::DELETE, &path, LOGIN, &license.api_key)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        removed,
        json!({"result": "Push notification removed successfully"})
    );
    let (_, _, listed) = list_v2(&server, &license).await;
    assert_eq!(listed, json!({"events": []}));
    let (status, _, again) =
        answer(v2(&server, Method::DELETE, &path, LOGIN, &license.api_key)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(again["error"], "webhook not found");
}

#[story]
async fn another_licenses_webhook_cannot_be_deleted() {
    let server = TestServer::start().await;
    let license = v2_license(&server, LOGIN).await;
    let other = v2_license(&server, "someone@else.com").await;
    let id = server
        .webhook(&other, "https://b.example.com/", "chat_ended", &[])
        .await;
    let path = format!("/webhooks/{id}");
    let (status, _, _) = answer(v2(&server, Method::DELETE, &path, LOGIN, &license.api_key)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (_, shown) = server
        .get(&format!("/v1/licenses/{}/webhooks/{id}", other.id), ADMIN)
        .await;
    assert_eq!(shown["id"], id.as_str());
}

#[story]
async fn a_missing_or_wrong_api_version_gets_a_clear_400_before_credentials_are_checked() {
    let server = TestServer::start().await;
    let license = v2_license(&server, LOGIN).await;
    let request = || {
        server
            .client
            .get(server.url("/webhooks"))
            .basic_auth(LOGIN, Some(&license.api_key))
    };
    let (status, _, missing) = answer(request()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        missing["error"]
            .as_str()
            .unwrap()
            .contains("X-API-Version: 2"),
        "{missing}"
    );
    let (status, _, wrong) = answer(request().header("X-API-Version", "3")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        wrong["error"]
            .as_str()
            .unwrap()
            .contains("`3` is not supported"),
        "{wrong}"
    );
    let (status, _, _) = answer(server.client.get(server.url("/webhooks"))).await;
    assert_eq!(
        status,
        StatusCode::BAD_REQUEST,
        "the version is checked first"
    );
    let (status, _, _) = answer(request().header("x-api-version", "2")).await;
    assert_eq!(status, StatusCode::OK);
}

#[story]
async fn wrong_credentials_get_a_401_json_error_with_a_basic_challenge() {
    let server = TestServer::start().await;
    let license = v2_license(&server, LOGIN).await;
    let url = server.url("/webhooks");
    let attempts = [
        server.client.get(&url),
        server.client.get(&url).basic_auth(LOGIN, Some("hrk_wrong")),
        server
            .client
            .get(&url)
            .basic_auth("nobody@x.com", Some(&license.api_key)),
        server.client.get(&url).bearer_auth(&license.api_key),
        server.client.get(&url).basic_auth(LOGIN, Some(ADMIN)),
    ];
    for (i, request) in attempts.into_iter().enumerate() {
        let (status, headers, body) = answer(request.header("X-API-Version", "2")).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "attempt {i}");
        assert_eq!(headers["www-authenticate"], "Basic realm=\"hookrelay\"");
        assert!(body["error"].is_string(), "attempt {i}: {body}");
        assert!(!body.to_string().contains(&license.token));
    }
}

#[story]
async fn bad_parameters_get_a_400_that_names_them() {
    let server = TestServer::start().await;
    let license = v2_license(&server, LOGIN).await;
    let cases = [
        (
            "event_type=chat_started&data_types[]=chat",
            "url",
            "is required",
        ),
        (
            "url=https%3A%2F%2Fa.example.com%2F",
            "event_type",
            "is required",
        ),
        (
            "event_type=chat_begun&url=https%3A%2F%2Fa.example.com%2F",
            "event_type",
            "chat_started",
        ),
        (
            "event_type=visitor_queued&data_types%5B0%5D=chat&url=https%3A%2F%2Fa.example.com%2F",
            "data_types",
            "visitor",
        ),
        (
            "event_type=chat_started&url=ftp%3A%2F%2Fa.example.com%2F",
            "url",
            "https://",
        ),
        (
            "event_type=chat_started&url=http%3A%2F%2F10.0.0.7%2Fhook",
            "url",
            "10.0.0.7",
        ),
    ];
    for (body, field, hint) in cases {
        let (status, _, error) = answer(post_form(&server, &license, body)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}: {error}");
        assert_eq!(error["field"], field, "{body}: {error}");
        let message = error["error"].as_str().unwrap();
        assert!(message.contains(hint), "{body}: {message}");
    }
    let (_, _, listed) = list_v2(&server, &license).await;
    assert_eq!(listed, json!({"events": []}), "nothing was created");
}

#[story]
async fn a_body_in_another_encoding_is_refused_clearly() {
    let server = TestServer::start().await;
    let license = v2_license(&server, LOGIN).await;
    let (status, _, error) = answer(
        v2(&server, Method::POST, "/webhooks", LOGIN, &license.api_key)
            .header("Content-Type", "text/plain")
            .body("event_type=chat_started"),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        error["error"]
            .as_str()
            .unwrap()
            .contains("http_build_query"),
        "{error}"
    );
}

#[story]
async fn a_webhook_created_through_the_v2_api_receives_its_events() {
    let server = TestServer::start().await;
    let license = v2_license(&server, LOGIN).await;
    let receiver = Receiver::start().await;
    let body = format!(
        "event_type=visitor_queued&data_types%5B0%5D=visitor&url={}",
        receiver.url.replace(':', "%3A").replace('/', "%2F")
    );
    let (status, _, created) = answer(post_form(&server, &license, body)).await;
    assert_eq!(status, StatusCode::OK, "{created}");
    let visitor = json!({"id": "S1354547427.0c151b0e1b", "name": "John"});
    server
        .event(
            &license,
            json!({"event_type": "visitor_queued", "visitor": visitor}),
        )
        .await;
    let hit = &receiver.wait_for(1, Duration::from_secs(5)).await[0];
    assert_eq!(hit.body["event_type"], "visitor_queued");
    assert_eq!(hit.body["license_id"], license.id.as_str());
    assert_eq!(hit.body["token"], created["events"][0]["token"]);
    assert_eq!(hit.body["visitor"], visitor);
}

/// `GET /webhooks` the way a v2 client calls it: status, headers, body.
async fn list_v2(
    server: &TestServer,
    license: &crate::harness::TestLicense,
) -> (StatusCode, reqwest::header::HeaderMap, serde_json::Value) {
    answer(v2(
        server,
        Method::GET,
        "/webhooks",
        LOGIN,
        &license.api_key,
    ))
    .await
}
