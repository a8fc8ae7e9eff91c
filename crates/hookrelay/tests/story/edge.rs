//! The HTTP edge as an attacker or a careless client meets it: bodies with something after the
//! JSON, license ids a v2 client could not send back, misnamed query fields.

use hookrelay_story::story;
use serde_json::{json, Value};

use crate::harness::{TestServer, ADMIN};

/// Sends `body` as-is with `method` to `path`; returns status and JSON body (Null if none).
async fn send_raw(
    server: &TestServer,
    method: reqwest::Method,
    path: &str,
    token: &str,
    body: &'static str,
) -> (u16, Value) {
    let request = server
        .client
        .request(method, server.url(path))
        .bearer_auth(token)
        .header("content-type", "application/json")
        .body(body);
    answer(request).await
}

/// Sends `request`; returns status and JSON body (Null if none).
pub async fn answer(request: reqwest::RequestBuilder) -> (u16, Value) {
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

#[story]
async fn anything_after_a_json_body_is_refused_on_every_json_route() {
    use reqwest::Method;
    let server = TestServer::start().await;
    let license = server.license().await;
    let key = license.api_key.as_str();
    let hooks = format!("/v1/licenses/{}/webhooks", license.id);
    let hook = server
        .webhook(&license, "https://example.com/", "chat_started", &[])
        .await;
    let one_hook = format!("{hooks}/{hook}");
    let events = format!("/v1/licenses/{}/events", license.id);
    let batch = format!("{events}/batch");
    let routes: [(Method, &str, &str, &'static str); 10] = [
        (
            Method::POST,
            "/v1/licenses",
            ADMIN,
            r#"{"login": "a"} garbage"#,
        ),
        (
            Method::POST,
            "/v1/licenses",
            ADMIN,
            r#"{"login": "a"}{"login": "b"}"#,
        ),
        (
            Method::POST,
            &hooks,
            key,
            r#"{"url": "https://example.com/", "event_type": "chat_started"} x"#,
        ),
        (
            Method::POST,
            &hooks,
            key,
            r#"{"url": "https://example.com/", "event_type": "chat_started"}{}"#,
        ),
        (
            Method::PATCH,
            &one_hook,
            key,
            r#"{"enabled": false} garbage"#,
        ),
        (
            Method::PATCH,
            &one_hook,
            key,
            r#"{"enabled": false}{"enabled": true}"#,
        ),
        (
            Method::POST,
            &events,
            key,
            r#"{"event_type": "visitor_queued", "visitor": {"id": "S1"}} ]"#,
        ),
        (
            Method::POST,
            &batch,
            key,
            r#"{"events": [{"event_type": "visitor_queued", "visitor": {"id": "S1"}}]} 1"#,
        ),
        (
            Method::POST,
            "/webhooks",
            key,
            r#"{"url": "https://example.com/", "event_type": "chat_started"} garbage"#,
        ),
        (
            Method::POST,
            "/visitors/S1/details",
            key,
            r#"{"license_id": "1", "token": "x", "id": "a", "fields": []} garbage"#,
        ),
    ];
    for (method, path, token, body) in routes {
        let (status, answer) = if path.starts_with("/v1") {
            send_raw(&server, method.clone(), path, token, body).await
        } else {
            send_v2(&server, &license, path, body).await
        };
        assert_eq!(status, 400, "{method} {path} {body} → {answer}");
        assert_eq!(error_code(&answer), "malformed_request", "{answer}");
    }
    // Nothing of the refused requests happened (the first start's license and ours only).
    let (_, list) = server.get("/v1/licenses", ADMIN).await;
    assert_eq!(list["licenses"].as_array().unwrap().len(), 2, "{list}");
    let (_, shown) = server.get(&one_hook, key).await;
    assert_eq!(shown["enabled"], true, "{shown}");
    assert_eq!(
        server.get(&hooks, key).await.1["webhooks"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert!(server.deliveries(&license, "").await.is_empty());
    // A top-level array is not an object, even one that would fill the fields in order.
    let (status, answer) =
        send_raw(&server, Method::POST, "/v1/licenses", ADMIN, "[null, null]").await;
    assert_eq!(status, 422, "{answer}");
    assert_eq!(answer["error"]["field"], "body", "{answer}");
}

/// A v2 request (`X-API-Version: 2`, Basic `login:api_key`) with a JSON body.
async fn send_v2(
    server: &TestServer,
    license: &crate::harness::TestLicense,
    path: &str,
    body: &'static str,
) -> (u16, Value) {
    let (_, shown) = server
        .get(&format!("/v1/licenses/{}", license.id), &license.api_key)
        .await;
    let login = shown["login"].as_str().unwrap().to_string();
    let request = server
        .client
        .post(server.url(path))
        .basic_auth(login, Some(&license.api_key))
        .header("x-api-version", "2")
        .header("content-type", "application/json")
        .body(body);
    answer(request).await
}

/// The error code of a /v1 answer (`{"error": {"code"}}`) or a v2 one (`{"error", "code"}`).
fn error_code(answer: &Value) -> &str {
    answer["error"]["code"]
        .as_str()
        .or(answer["code"].as_str())
        .unwrap_or("")
}

#[story]
async fn license_ids_with_leading_zeros_are_refused_at_creation() {
    let server = TestServer::start().await;
    for id in ["007", "0", "0123456"] {
        let (status, body) = server
            .post("/v1/licenses", ADMIN, json!({ "license_id": id }))
            .await;
        assert_eq!(status, 422, "{id} → {body}");
        assert_eq!(body["error"]["field"], "license_id", "{body}");
        let message = body["error"]["message"].as_str().unwrap();
        assert!(message.contains("leading zeros"), "{message}");
    }
    let (status, body) = server
        .post(
            "/v1/licenses",
            ADMIN,
            json!({"license_id": "7", "login": "seven"}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["license_id"], "7");
}

#[story]
async fn a_bad_license_cursor_is_named_cursor() {
    let server = TestServer::start().await;
    let (status, body) = server.get("/v1/licenses?cursor=abc", ADMIN).await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["error"]["field"], "cursor", "{body}");
    let (status, _) = server.get("/v1/licenses?cursor=1", ADMIN).await;
    assert_eq!(status, 200);
}

/// SQLite only: the files hold target passwords and license tokens.
#[tokio::test]
async fn the_sqlite_files_are_readable_by_their_owner_only() {
    use std::os::unix::fs::PermissionsExt;
    // The usual umask, which leaves new files world-readable unless created otherwise.
    // SAFETY: umask(2) cannot fail; other tests only gain from files being 0644 → 0600 here.
    unsafe { libc::umask(0o022) };
    let server = TestServer::start().await;
    let license = server.license().await;
    server
        .webhook(
            &license,
            "https://user:secret@example.com/",
            "visitor_queued",
            &[],
        )
        .await;
    let db = server.dir.path().join("hookrelay.db");
    for suffix in ["", "-wal", "-shm", ".lock"] {
        let path = format!("{}{suffix}", db.display());
        let mode = std::fs::metadata(&path)
            .unwrap_or_else(|e| panic!("{path}: {e}"))
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "{path} has mode {:o}", mode & 0o777);
    }
    server.stop().await;
}

/// The real binary with every proxy variable pointing at a local listener: deliveries must go
/// straight to the target, through the SSRF guard, and the proxy must see nothing.
#[story]
async fn deliveries_ignore_proxy_variables_so_the_target_guard_always_runs() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let proxy = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let proxy_url = format!("http://{}", proxy.local_addr().unwrap());
    let seen = std::sync::Arc::new(AtomicUsize::new(0));
    let count = seen.clone();
    tokio::spawn(async move {
        while let Ok((connection, _)) = proxy.accept().await {
            count.fetch_add(1, Ordering::SeqCst);
            drop(connection);
        }
    });
    let dir = tempfile::tempdir().unwrap();
    let database_url = crate::backend::database_url(dir.path());
    crate::backend::prepare(&database_url, dir.path()).await;
    let proxies = ["HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"]
        .into_iter()
        .flat_map(|name| [name.to_string(), name.to_lowercase()])
        .map(|name| (name, proxy_url.clone()))
        .chain(["NO_PROXY", "no_proxy"].map(|n| (n.to_string(), String::new())))
        .collect::<Vec<_>>();
    let env: Vec<(&str, &str)> = proxies
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let process = crate::crash::spawn(dir.path(), &database_url, 0, &env);
    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    let (id, key) = crate::crash::create_license(&client, &process.base).await;
    let receiver = crate::receiver::Receiver::start().await;
    // By name, so that a proxy (were it used) would be the one to resolve it.
    let by_name = receiver.url.replace("127.0.0.1", "localhost");
    for (path, body) in [
        (
            format!("/v1/licenses/{id}/webhooks"),
            json!({"url": by_name, "event_type": "visitor_queued"}),
        ),
        (
            format!("/v1/licenses/{id}/events"),
            json!({"event_type": "visitor_queued", "visitor": {"id": "S1"}}),
        ),
    ] {
        let (status, answer) = crate::crash::post(&client, &process.base, &path, &key, body)
            .await
            .unwrap();
        assert!(status == 201 || status == 202, "{status} {answer}");
    }
    let hits = receiver
        .wait_for(1, std::time::Duration::from_secs(10))
        .await;
    assert_eq!(hits.len(), 1);
    assert_eq!(seen.load(Ordering::SeqCst), 0, "the proxy was used");
}

/// Sends a request head declaring `declared` body bytes, then `sent` bytes, and returns what the
/// server answered, within a second.
async fn declare_a_huge_body(server: &TestServer, head: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(server.base.trim_start_matches("http://"))
        .await
        .unwrap();
    let request = format!(
        "{head}Host: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n\
         {{\"license_id\": \"1\", \"id\": 1}}",
        10u64 << 30
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut answer = vec![0u8; 4096];
    let n = tokio::time::timeout(std::time::Duration::from_secs(1), stream.read(&mut answer))
        .await
        .expect("no answer within a second")
        .unwrap();
    String::from_utf8_lossy(&answer[..n]).into_owned()
}

#[story]
async fn a_body_declared_larger_than_the_limit_is_refused_at_once() {
    let server = TestServer::start().await;
    let license = server.license().await;
    let v1 = format!(
        "POST /v1/licenses/{}/events HTTP/1.1\r\nAuthorization: Bearer {}\r\n",
        license.id, license.api_key
    );
    let answer = declare_a_huge_body(&server, &v1).await;
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(answer.contains(r#""code":"payload_too_large""#), "{answer}");
    // The unauthenticated Visitors API reads at most 256 KiB, whatever max_body_bytes says.
    let v2 = "POST /visitors/S1/details HTTP/1.1\r\nX-API-Version: 2\r\n";
    let answer = declare_a_huge_body(&server, v2).await;
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(answer.contains("262144"), "{answer}");
    let fields: Vec<Value> = (0..50)
        .map(|i| json!({"name": format!("f{i}"), "value": "v".repeat(2000)}))
        .collect();
    let (status, _) =
        answer_v2_visitors(&server, &license, json!({"id": "a", "fields": fields})).await;
    assert_eq!(status, 200, "a set of the largest allowed size is read");
    let big = json!({"id": "a", "fields": [{"name": "f", "value": "v".repeat(300_000)}]});
    let (status, body) = answer_v2_visitors(&server, &license, big).await;
    assert_eq!(status, 413, "{body}");
}

async fn answer_v2_visitors(
    server: &TestServer,
    license: &crate::harness::TestLicense,
    mut body: Value,
) -> (u16, Value) {
    body["license_id"] = json!(license.id);
    body["token"] = json!(license.token);
    let request = server
        .client
        .post(server.url("/visitors/S1/details"))
        .header("x-api-version", "2")
        .json(&body);
    answer(request).await
}

#[story]
async fn every_refusal_under_the_apis_is_their_json_error() {
    use reqwest::Method;
    let server = TestServer::start().await;
    let license = server.license().await;
    let key = license.api_key.as_str();
    let hook = server
        .webhook(&license, "https://example.com/", "chat_started", &[])
        .await;
    let (_, shown) = server
        .get(&format!("/v1/licenses/{}", license.id), key)
        .await;
    let login = shown["login"].as_str().unwrap().to_string();
    let v1 = |method: Method, path: String| {
        server
            .client
            .request(method, server.url(&path))
            .bearer_auth(key)
    };
    let v2 = |method: Method, path: &str| {
        server
            .client
            .request(method, server.url(path))
            .header("x-api-version", "2")
            .basic_auth(&login, Some(key))
    };
    let id = &license.id;
    // (request, status, the Allow header it must carry, v2's shape)
    let cases = [
        (
            v1(Method::GET, format!("/v1/licenses/{id}/webhooks/%FF")),
            400,
            None,
            false,
        ),
        (
            v1(Method::GET, "/v1/licenses/%C3%28".into()),
            400,
            None,
            false,
        ),
        (
            v1(Method::GET, format!("/v1/licenses/{id}/deliveries/%FF%FE")),
            400,
            None,
            false,
        ),
        (v2(Method::DELETE, "/webhooks/%FF"), 400, None, true),
        (v2(Method::POST, "/visitors/%FF/details"), 400, None, true),
        (
            v1(Method::TRACE, "/v1/licenses".into()),
            405,
            Some("GET,HEAD,POST"),
            false,
        ),
        (
            v1(Method::PUT, format!("/v1/licenses/{id}/webhooks/{hook}")),
            405,
            Some("GET,HEAD,DELETE,PATCH"),
            false,
        ),
        (
            v1(Method::DELETE, format!("/v1/licenses/{id}/events")),
            405,
            Some("POST"),
            false,
        ),
        (
            v2(Method::PUT, "/webhooks"),
            405,
            Some("GET,HEAD,POST"),
            true,
        ),
        (
            v2(Method::TRACE, "/visitors/S1/details"),
            405,
            Some("POST"),
            true,
        ),
        (v2(Method::GET, "/webhooks/a/b"), 404, None, true),
    ];
    for (request, status, allow, v2_shape) in cases {
        let request = request.build().unwrap();
        let what = format!("{} {}", request.method(), request.url());
        let response = server.client.execute(request).await.unwrap();
        assert_eq!(response.status().as_u16(), status, "{what}");
        let content_type = response.headers()["content-type"]
            .to_str()
            .unwrap()
            .to_string();
        assert_eq!(content_type, "application/json", "{what}");
        let allowed = response
            .headers()
            .get("allow")
            .map(|v| sorted(v.to_str().unwrap()));
        assert_eq!(allowed, allow.map(sorted), "{what}");
        let body: Value = response.json().await.unwrap();
        let message = if v2_shape {
            body["error"].as_str()
        } else {
            body["error"]["message"].as_str()
        };
        assert!(message.is_some_and(|m| !m.is_empty()), "{what}: {body}");
        assert!(!error_code(&body).is_empty(), "{what}: {body}");
    }
}

/// An `Allow` list in a fixed order.
fn sorted(list: &str) -> String {
    let mut methods: Vec<&str> = list.split(',').map(str::trim).collect();
    methods.sort_unstable();
    methods.join(",")
}
