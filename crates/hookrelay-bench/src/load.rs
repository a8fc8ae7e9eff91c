//! Producers: many concurrent HTTP posters, counted.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

/// A realistic event: a started chat with its visitor (about 700 bytes once delivered).
pub fn chat_started(sent: Option<Duration>) -> Value {
    let mut visitor = livechat_webhooks::sample::visitor();
    if let Some(t) = sent {
        visitor["id"] = json!(format!("t{}", t.as_nanos()));
    }
    json!({
        "event_type": "chat_started",
        "chat": livechat_webhooks::sample::chat(livechat_webhooks::EventType::ChatStarted),
        "visitor": visitor,
    })
}

/// Posts `total` bodies made by `make(i)` to `url` from `workers` tasks. Returns the time until
/// the last answer and how many were not answered with a 2xx.
pub async fn post_all(
    client: &reqwest::Client,
    urls: &[String],
    token: Option<&str>,
    total: u64,
    workers: usize,
    make: impl Fn(u64) -> Vec<u8> + Send + Sync + 'static,
) -> (Duration, u64) {
    let next = Arc::new(AtomicU64::new(0));
    let failures = Arc::new(AtomicU64::new(0));
    let make = Arc::new(make);
    let start = Instant::now();
    let mut tasks = Vec::new();
    for w in 0..workers {
        let url = &urls[w % urls.len()];
        let (client, url, next, failures, make) = (
            client.clone(),
            url.to_string(),
            next.clone(),
            failures.clone(),
            make.clone(),
        );
        let token = token.map(String::from);
        tasks.push(tokio::spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= total {
                    return;
                }
                let mut request = client
                    .post(&url)
                    .header("content-type", "application/json")
                    .body(make(i));
                if let Some(t) = &token {
                    request = request.bearer_auth(t);
                }
                match request.send().await {
                    Ok(r) if r.status().is_success() => {
                        let _ = r.bytes().await;
                    }
                    _ => {
                        failures.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
        }));
    }
    for t in tasks {
        let _ = t.await;
    }
    (start.elapsed(), failures.load(Ordering::Relaxed))
}
