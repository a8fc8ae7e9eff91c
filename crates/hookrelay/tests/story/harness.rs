//! Starts a real hookrelay server on port 0, on the story's store backend (a real SQLite file or a
//! fresh PostgreSQL schema, see [`crate::backend`]), and talks to it over HTTP.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use hookrelay::dispatch::Engine;

use hookrelay::config::Config;
use reqwest::StatusCode;
use serde_json::{json, Value};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub const ADMIN: &str = "test-admin-token-for-the-story-suite";

pub struct TestServer {
    pub base: String,
    pub client: reqwest::Client,
    pub dir: tempfile::TempDir,
    stop: Option<oneshot::Sender<()>>,
    handle: Option<JoinHandle<anyhow::Result<()>>>,
    engine: Arc<OnceLock<Engine>>,
}

/// A license created through the admin API.
#[derive(Debug, Clone)]
pub struct TestLicense {
    pub id: String,
    pub api_key: String,
    pub token: String,
}

/// The configuration tests run with: a fast retry schedule without jitter, loopback allowed.
pub fn test_config(dir: &std::path::Path) -> Config {
    let mut config = Config::defaults();
    config.database_url = crate::backend::database_url(dir);
    config.admin_token = Some(ADMIN.into());
    config.allowed_target_networks = vec!["127.0.0.0/8".parse().unwrap()];
    config.retry_schedule = [50, 100, 150].map(Duration::from_millis).to_vec();
    config.retry_jitter = 0.0;
    config.attempt_timeout = Duration::from_secs(2);
    config
}

impl TestServer {
    pub async fn start() -> TestServer {
        TestServer::start_with(|_| {}).await
    }

    pub async fn start_with(tweak: impl FnOnce(&mut Config)) -> TestServer {
        let dir = tempfile::tempdir().unwrap();
        let mut config = test_config(dir.path());
        tweak(&mut config);
        TestServer::start_in(dir, config).await
    }

    pub async fn start_in(dir: tempfile::TempDir, config: Config) -> TestServer {
        crate::backend::prepare(&config.database_url, dir.path()).await;
        let store = hookrelay::store::open(&config.database_url).await.unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let (stop, stopped) = oneshot::channel::<()>();
        let engine = Arc::new(OnceLock::new());
        let keep = engine.clone();
        let shutdown = async move {
            let _ = stopped.await;
        };
        let handle = tokio::spawn(hookrelay::run_and_report(
            listener,
            store,
            config,
            shutdown,
            move |e| drop(keep.set(e.clone())),
        ));
        TestServer {
            base,
            client: reqwest::Client::new(),
            dir,
            stop: Some(stop),
            handle: Some(handle),
            engine,
        }
    }

    /// Waits until the server's engine holds nothing in memory and nothing is due (what is
    /// scheduled for later does not count); panics after 10 s. After it, nothing more arrives
    /// unless something new happens.
    pub async fn wait_idle(&self) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        let engine = loop {
            if let Some(engine) = self.engine.get() {
                break engine;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "the server never started"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        };
        let idle = engine
            .run_until_idle(Duration::ZERO, Duration::from_secs(10))
            .await;
        assert!(idle, "the engine still had work after 10 s");
    }

    /// Stops the server gracefully and waits for it.
    pub async fn stop(mut self) -> tempfile::TempDir {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(handle) = self.handle.take() {
            handle.await.unwrap().unwrap();
        }
        std::mem::replace(&mut self.dir, tempfile::tempdir().unwrap())
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// Sends a request with a bearer token; returns status and JSON body (Null if none).
    pub async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        token: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut request = self
            .client
            .request(method, self.url(path))
            .bearer_auth(token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        let status = response.status();
        let text = response.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    pub async fn post(&self, path: &str, token: &str, body: Value) -> (StatusCode, Value) {
        self.call(reqwest::Method::POST, path, token, Some(body))
            .await
    }

    pub async fn get(&self, path: &str, token: &str) -> (StatusCode, Value) {
        self.call(reqwest::Method::GET, path, token, None).await
    }

    pub async fn license(&self) -> TestLicense {
        let (status, body) = self.post("/v1/licenses", ADMIN, json!({})).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        TestLicense {
            id: body["license_id"].as_str().unwrap().into(),
            api_key: body["api_key"].as_str().unwrap().into(),
            token: body["token"].as_str().unwrap().into(),
        }
    }

    /// Creates a webhook and returns its id.
    pub async fn webhook(
        &self,
        license: &TestLicense,
        url: &str,
        event_type: &str,
        data_types: &[&str],
    ) -> String {
        let (status, body) = self
            .post(
                &format!("/v1/licenses/{}/webhooks", license.id),
                &license.api_key,
                json!({"url": url, "event_type": event_type, "data_types": data_types}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        body["id"].as_str().unwrap().to_string()
    }

    /// Posts one event and returns the 202 body.
    pub async fn event(&self, license: &TestLicense, event: Value) -> Value {
        let (status, body) = self
            .post(
                &format!("/v1/licenses/{}/events", license.id),
                &license.api_key,
                event,
            )
            .await;
        assert_eq!(status, StatusCode::ACCEPTED, "{body}");
        body
    }

    pub async fn deliveries(&self, license: &TestLicense, query: &str) -> Vec<Value> {
        let (status, body) = self
            .get(
                &format!("/v1/licenses/{}/deliveries?{query}", license.id),
                &license.api_key,
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body["deliveries"].as_array().unwrap().clone()
    }

    pub async fn delivery(&self, license: &TestLicense, id: &str) -> Value {
        let (status, body) = self
            .get(
                &format!("/v1/licenses/{}/deliveries/{id}", license.id),
                &license.api_key,
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body
    }

    /// Polls the deliveries `query` lists until `done` holds for them and returns them; panics
    /// after `limit`, saying `what` did not happen and showing the last list.
    pub async fn wait_deliveries(
        &self,
        license: &TestLicense,
        query: &str,
        limit: Duration,
        what: &str,
        done: impl Fn(&[Value]) -> bool,
    ) -> Vec<Value> {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            let list = self.deliveries(license, query).await;
            if done(&list) {
                return list;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "{what} (after {limit:?}): {list:#?}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Waits until delivery `id` has `status`, returning it (panics after `limit`).
    pub async fn wait_status(
        &self,
        license: &TestLicense,
        id: &str,
        status: &str,
        limit: Duration,
    ) -> Value {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            let d = self.delivery(license, id).await;
            if d["status"] == status {
                return d;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "delivery {id} never became {status}: {d:#}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// The Prometheus text of `/metrics`.
    pub async fn metrics(&self) -> String {
        let response = self.client.get(self.url("/metrics")).send().await.unwrap();
        response.text().await.unwrap()
    }

    /// Polls webhook `id` until `done` holds for it and returns it; panics after 10 s, saying
    /// `what` did not happen.
    pub async fn wait_webhook(
        &self,
        license: &TestLicense,
        id: &str,
        what: &str,
        done: impl Fn(&Value) -> bool,
    ) -> Value {
        let path = format!("/v1/licenses/{}/webhooks/{id}", license.id);
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            let (status, webhook) = self.get(&path, &license.api_key).await;
            assert_eq!(status, StatusCode::OK, "{webhook}");
            if done(&webhook) {
                return webhook;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "{what}: {webhook:#}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// `POST …/deliveries/{id}/resend`: its status and JSON answer.
    pub async fn resend(&self, license: &TestLicense, id: &str) -> (StatusCode, Value) {
        let path = format!("/v1/licenses/{}/deliveries/{id}/resend", license.id);
        self.post(&path, &license.api_key, json!({})).await
    }

    /// The only delivery of the license (after one event to one webhook).
    pub async fn only_delivery_id(&self, license: &TestLicense) -> String {
        let list = self.deliveries(license, "").await;
        assert_eq!(list.len(), 1, "{list:#?}");
        list[0]["id"].as_str().unwrap().to_string()
    }
}

/// Reads a `hookrelay serve` process's stdout up to its "listening on http://…" line and returns
/// that base URL; the rest of the output is drained in the background so the process never blocks.
pub fn read_address(stdout: std::process::ChildStdout) -> String {
    use std::io::{BufRead, BufReader};
    let mut lines = BufReader::new(stdout).lines();
    let base = loop {
        let line = lines
            .next()
            .expect("the server printed its address")
            .unwrap();
        if let Some(rest) = line.split("listening on ").nth(1) {
            break rest.trim().to_string();
        }
    };
    std::thread::spawn(move || for _ in lines {});
    base
}
