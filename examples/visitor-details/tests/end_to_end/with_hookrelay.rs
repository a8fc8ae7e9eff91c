//! The whole loop with a real hookrelay server (in this process, on port 0, SQLite in a temporary
//! directory): hookrelay delivers `chat_started` to the example, the example pushes the details
//! to hookrelay's own Visitors API, and they can be read back through `/v1`.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::Example;

const ADMIN: &str = "visitor-details-test-admin";
const VISITOR: &str = "S126126161.O136OJPO1";

/// A hookrelay server allowed to deliver to loopback (where the example listens).
struct Hookrelay {
    base: String,
    client: reqwest::Client,
    _dir: tempfile::TempDir,
}

impl Hookrelay {
    async fn start() -> Hookrelay {
        let dir = tempfile::tempdir().unwrap();
        let mut config = hookrelay::config::Config::defaults();
        config.database_url = format!("sqlite://{}/hookrelay.db", dir.path().display());
        config.admin_token = Some(ADMIN.into());
        config.allowed_target_networks = vec!["127.0.0.0/8".parse().unwrap()];
        let store = hookrelay::store::open(&config.database_url).await.unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(hookrelay::run(
            listener,
            store,
            config,
            std::future::pending(),
        ));
        Hookrelay {
            base,
            client: reqwest::Client::new(),
            _dir: dir,
        }
    }

    /// GET `path`, or POST it the JSON `body`, with a bearer token; the status and the JSON answer.
    async fn call(&self, path: &str, token: &str, body: Option<Value>) -> (StatusCode, Value) {
        let request = match body {
            Some(body) => self.client.post(format!("{}{path}", self.base)).json(&body),
            None => self.client.get(format!("{}{path}", self.base)),
        };
        let response = request.bearer_auth(token).send().await.unwrap();
        let status = response.status();
        (status, response.json().await.unwrap_or(Value::Null))
    }
}

#[tokio::test]
async fn hookrelay_delivers_chat_started_and_the_details_land_in_its_visitors_api() {
    let server = Hookrelay::start().await;
    let mut example = Example::start(&server.base).await;
    let (status, license) = server.call("/v1/licenses", ADMIN, Some(json!({}))).await;
    assert_eq!(status, StatusCode::CREATED, "{license}");
    let license_id = license["license_id"].as_str().unwrap();
    let api_key = license["api_key"].as_str().unwrap();

    // The webhook URL the example's README tells integration developers to configure.
    let url = example
        .webhook_url
        .replacen("http://", "http://livechat:password@", 1);
    let webhook =
        json!({"url": url, "event_type": "chat_started", "data_types": ["chat", "visitor"]});
    let path = format!("/v1/licenses/{license_id}/webhooks");
    let (status, body) = server.call(&path, api_key, Some(webhook)).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let event = json!({
        "event_type": "chat_started",
        "chat": {"id": "MH022RD0K5", "tags": []},
        "visitor": {"id": VISITOR, "name": "Mary Brown", "email": "mary.brown@email.com"},
    });
    let path = format!("/v1/licenses/{license_id}/events");
    let (status, body) = server.call(&path, api_key, Some(event)).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");

    let line = example.line_containing("mary.brown@email.com").await;
    assert!(line.contains("Visitor details added"), "{line}");
    let path = format!("/v1/licenses/{license_id}/visitors/{VISITOR}/details");
    let (status, stored) = server.call(&path, api_key, None).await;
    assert_eq!(status, StatusCode::OK, "{stored}");
    assert_eq!(stored["details"][0]["id"], "my-integration", "{stored}");
    assert_eq!(
        stored["details"][0]["fields"],
        json!([{"name": "Age", "value": "36"}, {"name": "Position", "value": "Head of Sales"}])
    );
}
