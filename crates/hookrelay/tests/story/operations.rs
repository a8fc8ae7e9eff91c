//! Operating hookrelay: the real binary (its own process, so its Prometheus counters start at
//! zero) is put under a known load; then `/metrics` must count exactly that load, and the JSON
//! log lines of the engine must name every failed attempt's delivery id. Also `/healthz` and
//! `/readyz`.

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{json, Value};

use crate::harness::{TestServer, ADMIN};
use crate::receiver::{Answer, Receiver};

struct Served {
    child: Child,
    base: String,
    /// Every line the process wrote to stderr (its logs).
    logs: Arc<Mutex<Vec<String>>>,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `hookrelay serve` on SQLite in `dir`, logging JSON at debug for hookrelay itself.
fn serve(dir: &std::path::Path) -> Served {
    let mut child = Command::new(env!("CARGO_BIN_EXE_hookrelay"))
        .arg("serve")
        .current_dir(dir)
        .env(
            "HOOKRELAY_DATABASE_URL",
            format!("sqlite://{}/ops.db", dir.display()),
        )
        .env("HOOKRELAY_LISTEN", "127.0.0.1:0")
        .env("HOOKRELAY_ADMIN_TOKEN", ADMIN)
        .env("HOOKRELAY_ALLOWED_TARGET_NETWORKS", "127.0.0.0/8")
        .env("HOOKRELAY_RETRY_SCHEDULE", "50ms,50ms")
        .env("HOOKRELAY_LOG_FORMAT", "json")
        .env("HOOKRELAY_LOG", "warn,hookrelay=debug")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starting the hookrelay binary");
    let logs = Arc::new(Mutex::new(Vec::new()));
    let sink = logs.clone();
    let stderr = BufReader::new(child.stderr.take().unwrap());
    std::thread::spawn(move || {
        for line in stderr.lines().map_while(Result::ok) {
            sink.lock().unwrap().push(line);
        }
    });
    let base = crate::harness::read_address(child.stdout.take().unwrap());
    Served { child, base, logs }
}

/// Prometheus text → `name{labels}` → value (labels as written, e.g. `{outcome="failed"}`).
fn parse_prometheus(text: &str) -> HashMap<String, f64> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| {
            let (series, value) = l.rsplit_once(' ').unwrap();
            (series.to_string(), value.parse::<f64>().unwrap())
        })
        .collect()
}

async fn call(client: &reqwest::Client, base: &str, path: &str, token: &str, body: Value) -> Value {
    let response = client
        .post(format!("{base}{path}"))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert!(
        response.status().is_success(),
        "{path}: {}",
        response.status()
    );
    response.json().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_count_a_known_load_exactly_and_logs_name_each_failed_delivery() {
    let dir = tempfile::tempdir().unwrap();
    let served = serve(dir.path());
    let (base, client) = (served.base.clone(), reqwest::Client::new());
    let license = call(&client, &base, "/v1/licenses", ADMIN, json!({})).await;
    let (id, key) = (
        license["license_id"].as_str().unwrap().to_string(),
        license["api_key"].as_str().unwrap().to_string(),
    );
    let good = Receiver::start().await;
    let bad = Receiver::start().await;
    bad.answer(Answer::Status(500));
    let hooks = format!("/v1/licenses/{id}/webhooks");
    let good_hook = call(
        &client,
        &base,
        &hooks,
        &key,
        json!({"url": good.url, "event_type": "visitor_queued", "data_types": ["visitor"]}),
    )
    .await;
    let bad_hook = call(&client, &base, &hooks, &key,
        json!({"url": format!("http://user:hunter2@{}", &bad.url[7..]), "event_type": "chat_started"})).await;

    // The load: 5 events delivered at once, 2 that fail 3 times (1 try + 2 retries), 1 with no
    // webhook at all.
    let events = format!("/v1/licenses/{id}/events");
    for i in 0..5 {
        call(
            &client,
            &base,
            &events,
            &key,
            json!({"event_type": "visitor_queued", "visitor": {"id": format!("S{i}")}}),
        )
        .await;
    }
    for i in 0..2 {
        call(
            &client,
            &base,
            &events,
            &key,
            json!({"event_type": "chat_started", "chat": {"id": format!("C{i}")}}),
        )
        .await;
    }
    call(
        &client,
        &base,
        &events,
        &key,
        json!({"event_type": "ticket_created", "ticket": {"id": "T1"}}),
    )
    .await;
    good.wait_for(5, Duration::from_secs(10)).await;
    bad.wait_for(6, Duration::from_secs(10)).await;

    // Wait until nothing is pending, then scrape.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let metrics = loop {
        let text = client
            .get(format!("{base}/metrics"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let m = parse_prometheus(&text);
        let done = m.get("hookrelay_deliveries_completed_total{outcome=\"failed\"}") == Some(&2.0)
            && m.get("hookrelay_deliveries_pending") == Some(&0.0);
        if done || tokio::time::Instant::now() > deadline {
            assert!(
                !text.contains(&key) && !text.contains("hunter2"),
                "no secret in metrics"
            );
            assert!(text.contains("# HELP hookrelay_attempts_total"), "{text}");
            break m;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let get = |series: &str| {
        *metrics
            .get(series)
            .unwrap_or_else(|| panic!("no {series} in {metrics:#?}"))
    };
    assert_eq!(
        get("hookrelay_events_accepted_total{event_type=\"visitor_queued\"}"),
        5.0
    );
    assert_eq!(
        get("hookrelay_events_accepted_total{event_type=\"chat_started\"}"),
        2.0
    );
    assert_eq!(
        get("hookrelay_events_accepted_total{event_type=\"ticket_created\"}"),
        1.0
    );
    assert_eq!(get("hookrelay_deliveries_created_total"), 7.0);
    assert_eq!(
        get("hookrelay_deliveries_completed_total{outcome=\"succeeded\"}"),
        5.0
    );
    assert_eq!(
        get("hookrelay_deliveries_completed_total{outcome=\"failed\"}"),
        2.0
    );
    assert_eq!(get("hookrelay_attempts_total{outcome=\"succeeded\"}"), 5.0);
    assert_eq!(
        get("hookrelay_attempts_total{outcome=\"retry_scheduled\"}"),
        4.0
    );
    assert_eq!(get("hookrelay_attempts_total{outcome=\"failed\"}"), 2.0);
    assert_eq!(get("hookrelay_retries_scheduled_total"), 4.0);
    assert_eq!(get("hookrelay_attempts_started_total"), 11.0);
    assert_eq!(get("hookrelay_attempt_duration_seconds_count"), 11.0);
    assert!(get("hookrelay_attempt_duration_seconds_bucket{le=\"+Inf\"}") == 11.0);
    let bad_id = bad_hook["id"].as_str().unwrap();
    let good_id = good_hook["id"].as_str().unwrap();
    assert_eq!(
        get(&format!(
            "hookrelay_webhook_failures_total{{webhook_id=\"{bad_id}\"}}"
        )),
        6.0
    );
    assert!(
        !metrics.keys().any(|k| k.contains(good_id)),
        "a webhook without failures has no series"
    );
    assert_eq!(get("hookrelay_deliveries_pending"), 0.0);

    // Each attempt of the failing webhook is one JSON log line with its delivery id.
    let logs = served.logs.lock().unwrap().clone();
    let attempts: Vec<Value> = logs
        .iter()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|l| l["fields"]["webhook_id"] == bad_id)
        .collect();
    assert_eq!(attempts.len(), 6, "{logs:#?}");
    let mut per_delivery: HashMap<String, Vec<i64>> = HashMap::new();
    for line in &attempts {
        let f = &line["fields"];
        assert!(
            f["delivery_id"].as_str().unwrap().starts_with("dlv_"),
            "{line}"
        );
        assert_eq!(f["status_code"], 500);
        assert_eq!(f["license_id"], id.as_str());
        per_delivery
            .entry(f["delivery_id"].as_str().unwrap().to_string())
            .or_default()
            .push(f["attempt"].as_i64().unwrap());
        let last = f["attempt"] == 3;
        assert_eq!(line["level"], if last { "WARN" } else { "INFO" }, "{line}");
    }
    assert_eq!(per_delivery.len(), 2);
    for attempts in per_delivery.values_mut() {
        attempts.sort();
        assert_eq!(attempts, &vec![1, 2, 3]);
    }
    let successes = logs
        .iter()
        .filter(|l| l.contains(good_id) && l.contains("\"delivered\""))
        .count();
    assert_eq!(successes, 5, "successes are logged at debug");
    assert!(
        !logs
            .iter()
            .any(|l| l.contains("hunter2") || l.contains(&key)),
        "no secret in logs"
    );
}

#[tokio::test]
async fn health_answers_while_the_process_runs_and_readiness_while_the_store_answers() {
    let server = TestServer::start().await;
    let health = reqwest::get(server.url("/healthz")).await.unwrap();
    assert_eq!(health.status(), 200);
    assert_eq!(health.json::<Value>().await.unwrap()["status"], "ok");
    let ready = reqwest::get(server.url("/readyz")).await.unwrap();
    assert_eq!(ready.status(), 200);
    assert_eq!(ready.json::<Value>().await.unwrap()["status"], "ready");
}
