//! The receiving end: counts arrivals, and optionally reads each body's send time for latency.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::http::StatusCode;
use axum::Router;

#[derive(Clone)]
pub struct Receiver {
    pub url: String,
    pub shared: Arc<Shared>,
}

pub struct Shared {
    pub count: AtomicU64,
    /// Nanoseconds after `epoch` of the latest arrival.
    pub last_ns: AtomicU64,
    pub epoch: Instant,
    /// Latencies (send → arrival) when bodies carry a send time.
    pub latencies: Mutex<Vec<Duration>>,
    pub measure_latency: bool,
    pub stall: bool,
}

impl Receiver {
    pub async fn start(epoch: Instant, measure_latency: bool, stall: bool) -> Receiver {
        let shared = Arc::new(Shared {
            count: AtomicU64::new(0),
            last_ns: AtomicU64::new(0),
            epoch,
            latencies: Mutex::new(Vec::new()),
            measure_latency,
            stall,
        });
        let s = shared.clone();
        let app = Router::new().fallback(move |body: Bytes| {
            let s = s.clone();
            async move { arrive(s, body).await }
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let url = format!("http://{}/hook", listener.local_addr().expect("addr"));
        tokio::spawn(async move { axum::serve(listener, app).await });
        Receiver { url, shared }
    }

    pub fn count(&self) -> u64 {
        self.shared.count.load(Ordering::Relaxed)
    }

    pub fn last_arrival(&self) -> Duration {
        Duration::from_nanos(self.shared.last_ns.load(Ordering::Relaxed))
    }

    /// Waits until `n` arrived, or until nothing arrived for `stall` (then says how many did).
    pub async fn wait_for(&self, n: u64, stall: Duration) -> bool {
        let mut last = (self.count(), Instant::now());
        while self.count() < n {
            let now = self.count();
            if now != last.0 {
                last = (now, Instant::now());
            } else if last.1.elapsed() > stall {
                eprintln!("only {now} of {n} deliveries arrived; none for {stall:?}");
                return false;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        true
    }
}

async fn arrive(s: Arc<Shared>, body: Bytes) -> StatusCode {
    if s.stall {
        tokio::time::sleep(Duration::from_secs(3600)).await;
    }
    let now = s.epoch.elapsed();
    if s.measure_latency {
        if let Some(sent) = sent_at(&body) {
            s.latencies
                .lock()
                .expect("latencies")
                .push(now.saturating_sub(sent));
        }
    }
    s.count.fetch_add(1, Ordering::Relaxed);
    s.last_ns
        .fetch_max(now.as_nanos() as u64, Ordering::Relaxed);
    StatusCode::OK
}

/// The send time the producer wrote into `visitor.id` as `t<nanoseconds>`.
fn sent_at(body: &[u8]) -> Option<Duration> {
    let value: serde_json::Value = serde_json::from_slice(body).ok()?;
    let id = value["visitor"]["id"].as_str()?;
    id.strip_prefix('t')?.parse().ok().map(Duration::from_nanos)
}

/// A port where nothing listens: connections are refused.
pub fn dead_url() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    drop(listener);
    format!("http://127.0.0.1:{port}/hook")
}
