//! Credential checks do the same work whatever is wrong, so that timing tells an attacker nothing
//! (which logins exist, which licenses exist, how long a token is). The work is made visible by
//! taking the database away (PostgreSQL through a proxy that is cut): a check that looks something
//! up answers 503 then, one that skips the lookup answers at once.

use serde_json::{json, Value};

use crate::edge::answer;
use crate::harness::{TestLicense, TestServer};
use crate::pg_proxy::server_behind_a_proxy;

async fn login_of(server: &TestServer, license: &TestLicense) -> String {
    let (_, shown) = server
        .get(&format!("/v1/licenses/{}", license.id), &license.api_key)
        .await;
    shown["login"].as_str().unwrap().to_string()
}

async fn list_v2(server: &TestServer, login: &str, key: &str) -> (u16, Value) {
    let request = server
        .client
        .get(server.url("/webhooks"))
        .header("x-api-version", "2")
        .basic_auth(login, Some(key));
    answer(request).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v2_basic_auth_finds_the_license_by_its_key_and_never_looks_the_login_up() {
    let (server, proxy) = server_behind_a_proxy(|_| {}).await;
    let license = server.license().await;
    let other = server.license().await;
    let login = login_of(&server, &license).await;
    let key = license.api_key.as_str();
    assert_eq!(list_v2(&server, &login, key).await.0, 200);
    // Every wrong pair gets the same answer.
    let wrong = [
        ("no-such-login", key),
        ("no-such-login", "hrk_wrong"),
        (login.as_str(), "hrk_wrong"),
        (login.as_str(), other.api_key.as_str()),
    ];
    let mut answers = Vec::new();
    for (login, key) in wrong {
        answers.push(list_v2(&server, login, key).await);
    }
    assert_eq!(answers[0].0, 401, "{:?}", answers[0]);
    assert!(answers.iter().all(|a| *a == answers[0]), "{answers:#?}");
    // Without the database, a known key with an unknown login is still refused: the login was not
    // looked up, only compared with the key's license's.
    proxy.cut();
    let (status, body) = list_v2(&server, "no-such-login", key).await;
    proxy.restore();
    assert_eq!(status, 401, "{body}");
}

async fn push_details(server: &TestServer, license_id: &str, token: &str) -> (u16, Value) {
    let request = server
        .client
        .post(server.url("/visitors/S1/details"))
        .header("x-api-version", "2")
        .json(&json!({"license_id": license_id, "token": token, "id": "a",
                      "fields": [{"name": "Age", "value": "36"}]}));
    answer(request).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_visitors_api_looks_the_license_up_whatever_is_wrong_with_the_credentials() {
    let (server, proxy) = server_behind_a_proxy(|_| {}).await;
    let license = server.license().await;
    let token = license.token.as_str();
    assert_eq!(push_details(&server, &license.id, token).await.0, 200);
    let wrong = [
        ("not-a-license", token),
        ("99999999999", token),
        (license.id.as_str(), &token[..31]),
        (license.id.as_str(), "0123456789abcdef0123456789abcdef"),
        (license.id.as_str(), ""),
    ];
    let mut answers = Vec::new();
    for (license_id, token) in wrong {
        answers.push(push_details(&server, license_id, token).await);
    }
    assert_eq!(answers[0].0, 401, "{:?}", answers[0]);
    assert!(answers.iter().all(|a| *a == answers[0]), "{answers:#?}");
    // Without the database, a malformed license_id costs the same lookup as a well-formed one.
    proxy.cut();
    let malformed = push_details(&server, "not-a-license", token).await;
    let unknown = push_details(&server, "99999999999", token).await;
    proxy.restore();
    assert_eq!(malformed.0, 503, "{malformed:?}");
    assert_eq!(malformed, unknown);
}
