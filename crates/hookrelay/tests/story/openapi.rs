//! `/openapi.json` against the code: the document is valid OpenAPI 3.1, it lists exactly the
//! routes that the routers in `src/api` register (read from their `.route(...)` calls), and every
//! operation it lists is answered by a real route of a running server, not by the fallback.

use std::collections::BTreeSet;
use std::path::Path;

use serde_json::Value;

use crate::harness::TestServer;

const METHODS: [&str; 7] = ["get", "post", "put", "patch", "delete", "head", "options"];

async fn document(server: &TestServer) -> Value {
    let response = reqwest::get(server.url("/openapi.json")).await.unwrap();
    assert_eq!(response.status(), 200);
    assert!(response.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("application/json"));
    response.json().await.unwrap()
}

/// `(method, path)` of every operation in the document.
fn documented(doc: &Value) -> BTreeSet<(String, String)> {
    let mut ops = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            if METHODS.contains(&method.as_str()) {
                ops.insert((method.clone(), path.clone()));
            }
        }
    }
    ops
}

/// `(method, path)` of every `.route("path", get(..).post(..))` call under `src/api`.
fn registered() -> BTreeSet<(String, String)> {
    let mut files = Vec::new();
    collect_rs(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("src/api"),
        &mut files,
    );
    let mut routes = BTreeSet::new();
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        for (path, methods) in route_calls(&text) {
            assert!(
                !methods.is_empty(),
                "{}: no method for {path}",
                file.display()
            );
            for method in methods {
                routes.insert((method, path.clone()));
            }
        }
    }
    routes
}

fn collect_rs(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            collect_rs(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// Finds `.route(` calls: the path literal and the method functions in the rest of the call
/// (up to its closing parenthesis, skipping string literals).
fn route_calls(text: &str) -> Vec<(String, Vec<String>)> {
    let mut found = Vec::new();
    let mut rest = text;
    while let Some(at) = rest.find(".route(") {
        rest = &rest[at + ".route(".len()..];
        let Some(quoted) = rest.trim_start().strip_prefix('"') else {
            continue;
        };
        let path_end = quoted.find('"').unwrap();
        let path = quoted[..path_end].to_string();
        let mut depth = 1;
        let mut in_string = false;
        let mut call = String::new();
        for c in quoted[path_end + 1..].chars() {
            match c {
                '"' => in_string = !in_string,
                '(' if !in_string => depth += 1,
                ')' if !in_string => depth -= 1,
                _ => {}
            }
            if depth == 0 {
                break;
            }
            if !in_string {
                call.push(c);
            }
        }
        let methods = METHODS
            .iter()
            .filter(|m| {
                call.match_indices(&format!("{m}(")).any(|(i, _)| {
                    i == 0
                        || !call[..i]
                            .chars()
                            .next_back()
                            .is_some_and(|p| p.is_alphanumeric() || p == '_')
                })
            })
            .map(|m| m.to_string())
            .collect();
        found.push((path, methods));
    }
    found
}

#[test]
fn the_route_scanner_reads_paths_and_methods_from_route_calls() {
    let text = r#"Router::new()
        .route("/a/{id}", get(show).patch(change).delete(remove))
        .route(
            "/b",
            post(|| async { Redirect::to("/x(") }),
        )
        .route("/c", get(forget_me))"#;
    let calls = route_calls(text);
    assert_eq!(
        calls,
        vec![
            (
                "/a/{id}".into(),
                vec!["get".into(), "patch".into(), "delete".into()]
            ),
            ("/b".into(), vec!["post".into()]),
            ("/c".into(), vec!["get".into()]),
        ]
    );
}

#[tokio::test]
async fn every_route_the_routers_register_is_documented_and_nothing_else_is() {
    let server = TestServer::start().await;
    let doc = document(&server).await;
    let documented = documented(&doc);
    let registered = registered();
    assert!(
        registered.len() >= 25,
        "the scan found the routes: {registered:?}"
    );
    let undocumented: Vec<_> = registered.difference(&documented).collect();
    let unrouted: Vec<_> = documented.difference(&registered).collect();
    assert!(
        undocumented.is_empty(),
        "routes missing from /openapi.json (add them to api/openapi/operations.rs): {undocumented:?}"
    );
    assert!(
        unrouted.is_empty(),
        "documented operations no router registers: {unrouted:?}"
    );
}

#[tokio::test]
async fn every_documented_operation_is_answered_by_its_route_and_not_by_the_fallback() {
    let server = TestServer::start().await;
    let doc = document(&server).await;
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    for (method, path) in documented(&doc) {
        let concrete = path
            .replace("{license_id}", "1025707")
            .replace("{id}", "dlv_1")
            .replace("{visitor_id}", "S1354547427.0c151b0e1b")
            .replace("{asset}", "app.js");
        let response = client
            .request(
                method.to_uppercase().parse().unwrap(),
                server.url(&concrete),
            )
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        let body: Value = response.json().await.unwrap_or(Value::Null);
        let message = body["error"]["message"].as_str().unwrap_or_default();
        assert!(
            !(status == 404 && message == "route not found"),
            "{method} {path}: no route answers it"
        );
        assert!(
            !message.contains("this method is not allowed"),
            "{method} {path}: the path exists but not with this method"
        );
    }
}

#[tokio::test]
async fn the_openapi_document_is_valid_openapi_3_1_with_answers_for_every_operation() {
    let server = TestServer::start().await;
    let doc = document(&server).await;
    assert_eq!(doc["openapi"], "3.1.0");
    assert_eq!(doc["info"]["version"], env!("CARGO_PKG_VERSION"));

    // The typed OpenAPI 3.1 model accepts it.
    let spec = oas3::from_json(doc.to_string()).expect("a valid OpenAPI 3.1 document");
    spec.validate_version().expect("a supported version");
    assert_eq!(spec.operations().count(), documented(&doc).len());

    let mut ids = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let name = format!("{method} {path}");
            let id = op["operationId"]
                .as_str()
                .unwrap_or_else(|| panic!("{name}: no operationId"));
            assert!(ids.insert(id.to_string()), "{name}: operationId {id} twice");
            assert!(
                op["summary"].as_str().is_some_and(|s| !s.is_empty()),
                "{name}: no summary"
            );
            let responses = op["responses"].as_object().unwrap();
            assert!(!responses.is_empty(), "{name}: no responses");
            assert!(
                responses
                    .keys()
                    // 101: a WebSocket's success is the switch of protocols.
                    .any(|s| s.starts_with('2') || s.starts_with('3') || s == "101"),
                "{name}: no success answer"
            );
            // Every {parameter} of the path is declared, and nothing else in the path.
            let in_path: BTreeSet<&str> = path
                .split('/')
                .filter_map(|s| s.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
                .collect();
            let declared: BTreeSet<&str> = op["parameters"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|p| p["in"] == "path")
                .map(|p| p["name"].as_str().unwrap())
                .collect();
            assert_eq!(in_path, declared, "{name}: path parameters");
            assert!(
                op.get("security").is_some(),
                "{name}: says nothing about credentials"
            );
        }
    }

    // Every $ref points at something the document defines.
    let mut refs = Vec::new();
    collect_refs(&doc, &mut refs);
    assert!(refs.len() > 50, "{}", refs.len());
    for r in refs {
        let pointer = r
            .strip_prefix('#')
            .unwrap_or_else(|| panic!("external $ref {r}"));
        assert!(doc.pointer(pointer).is_some(), "dangling $ref {r}");
    }
    // Event types are the ones the server accepts.
    let enum_values = &doc["components"]["schemas"]["EventType"]["enum"];
    assert_eq!(
        enum_values.as_array().unwrap().len(),
        livechat_webhooks::EventType::ALL.len()
    );
}

fn collect_refs(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                match (k.as_str(), v) {
                    ("$ref", Value::String(r)) => out.push(r.clone()),
                    _ => collect_refs(v, out),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|v| collect_refs(v, out)),
        _ => {}
    }
}
