//! The crash test: the real binary is SIGKILLed while it takes and delivers a few thousand events,
//! then restarted. Every event that was answered 202 must arrive at least once. On PostgreSQL the
//! restarted node finds the killed one's leases still held and takes that work once they expire
//! (a short lease here), as another node would.

use std::collections::HashSet;

use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hookrelay_story::story;
use serde_json::json;

use crate::harness::ADMIN;
use crate::receiver::Receiver;

pub struct Process {
    pub child: Child,
    pub base: String,
}

/// A test that fails half-way must not leave its server running.
impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts the real binary on `database_url`, listening on `port` (0: any), with `env` added.
pub fn spawn(
    dir: &std::path::Path,
    database_url: &str,
    port: u16,
    env: &[(&str, &str)],
) -> Process {
    let mut child = Command::new(env!("CARGO_BIN_EXE_hookrelay"))
        .arg("serve")
        .envs(env.iter().copied())
        .current_dir(dir)
        .env("HOOKRELAY_DATABASE_URL", database_url)
        .env("HOOKRELAY_ATTEMPT_TIMEOUT", "2s")
        .env("HOOKRELAY_DELIVERY_LEASE", "5s")
        .env("HOOKRELAY_LISTEN", format!("127.0.0.1:{port}"))
        .env("HOOKRELAY_ADMIN_TOKEN", ADMIN)
        .env("HOOKRELAY_ALLOWED_TARGET_NETWORKS", "127.0.0.0/8")
        .env("HOOKRELAY_RETRY_SCHEDULE", "100ms,200ms,300ms,500ms,1s")
        .env("HOOKRELAY_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("starting the hookrelay binary");
    let base = crate::harness::read_address(child.stdout.take().unwrap());
    Process { child, base }
}

#[story(flavor = "multi_thread", worker_threads = 2)]
async fn a_sigkill_under_load_loses_no_accepted_event() {
    let dir = tempfile::tempdir().unwrap();
    let database_url = crate::backend::database_url(dir.path());
    crate::backend::prepare(&database_url, dir.path()).await;
    let first = spawn(dir.path(), &database_url, 0, &[]);
    let port: u16 = first.base.rsplit(':').next().unwrap().parse().unwrap();
    let client = reqwest::Client::new();
    let (id, key) = create_license(&client, &first.base).await;
    let receiver = Receiver::start().await;
    let (status, _) = post(
        &client,
        &first.base,
        &format!("/v1/licenses/{id}/webhooks"),
        &key,
        json!({"url": receiver.url, "event_type": "visitor_queued", "data_types": ["visitor"]}),
    )
    .await
    .unwrap();
    assert_eq!(status, 201);

    // 16 producers post events until the process dies; each remembers what was answered 202.
    let accepted = Arc::new(Mutex::new(HashSet::new()));
    let mut producers = Vec::new();
    for p in 0..16 {
        let (client, base, id, key, accepted) = (
            client.clone(),
            first.base.clone(),
            id.clone(),
            key.clone(),
            accepted.clone(),
        );
        producers.push(tokio::spawn(async move {
            for i in 0..1000 {
                let event =
                    json!({"event_type": "visitor_queued", "visitor": {"id": format!("P{p}-{i}")}});
                match post(
                    &client,
                    &base,
                    &format!("/v1/licenses/{id}/events"),
                    &key,
                    event,
                )
                .await
                {
                    Ok((202, body)) => {
                        accepted
                            .lock()
                            .unwrap()
                            .insert(body["event_id"].as_str().unwrap().to_string());
                    }
                    _ => return,
                }
            }
        }));
    }
    // Kill it once a good share was accepted and deliveries are flowing.
    loop {
        tokio::time::sleep(Duration::from_millis(20)).await;
        if accepted.lock().unwrap().len() >= 1500 && receiver.hits().len() > 100 {
            break;
        }
    }
    let mut first = first;
    first.child.kill().unwrap(); // SIGKILL
    first.child.wait().unwrap();
    for p in producers {
        let _ = p.await;
    }
    let accepted = accepted.lock().unwrap().clone();
    assert!(accepted.len() >= 1500);

    let mut second = spawn(dir.path(), &database_url, port, &[]);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let arrived: HashSet<String> = receiver
            .hits()
            .iter()
            .filter_map(|h| h.body["event_unique_id"].as_str().map(String::from))
            .collect();
        let missing = accepted.difference(&arrived).count();
        if missing == 0 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{missing} accepted events never arrived"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    second.child.kill().unwrap();
    second.child.wait().unwrap();
}

/// Creates a license on a running node; returns its id and API key.
pub async fn create_license(client: &reqwest::Client, base: &str) -> (String, String) {
    let (_, license) = post(client, base, "/v1/licenses", ADMIN, json!({}))
        .await
        .unwrap();
    (
        license["license_id"].as_str().unwrap().to_string(),
        license["api_key"].as_str().unwrap().to_string(),
    )
}

pub async fn post(
    client: &reqwest::Client,
    base: &str,
    path: &str,
    token: &str,
    body: serde_json::Value,
) -> Result<(u16, serde_json::Value), reqwest::Error> {
    let response = client
        .post(format!("{base}{path}"))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await?;
    let status = response.status().as_u16();
    let body = response.json().await.unwrap_or(serde_json::Value::Null);
    Ok((status, body))
}
