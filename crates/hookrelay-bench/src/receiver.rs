//! The receiving end: counts arrivals, and optionally reads each body's send time for latency and
//! for telling distinct deliveries from repeated ones.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::http::{StatusCode, Uri};
use axum::Router;
use tokio::net::TcpSocket;

#[derive(Clone)]
pub struct Receiver {
    pub url: String,
    pub shared: Arc<Shared>,
}

pub struct Shared {
    pub count: AtomicU64,
    /// Nanoseconds after `epoch` of the earliest and the latest arrival (`u64::MAX` and 0 before
    /// the first).
    pub first_ns: AtomicU64,
    pub last_ns: AtomicU64,
    pub epoch: Instant,
    /// Latencies (send → arrival) when bodies carry a send time.
    pub latencies: Mutex<Vec<Duration>>,
    /// The first arrival (after `epoch`) of each distinct delivery that carried a send time,
    /// keyed by (path, send time): a delivery sent twice counts once.
    pub seen: Mutex<HashMap<(String, Duration), Duration>>,
    pub measure_latency: bool,
    pub stall: bool,
}

/// A receiver whose port is held but not listened on, so connections to its URL are refused
/// until [`Refusing::answer`]. Holding the port (rather than closing it and binding it again
/// later) means nothing else can take it in between.
pub struct Refusing {
    pub url: String,
    socket: TcpSocket,
    shared: Arc<Shared>,
}

impl Receiver {
    pub async fn start(epoch: Instant, measure_latency: bool, stall: bool) -> Receiver {
        Receiver::refusing(epoch, measure_latency, stall).answer()
    }

    /// A receiver that refuses connections until it is told to answer.
    pub fn refusing(epoch: Instant, measure_latency: bool, stall: bool) -> Refusing {
        let shared = Arc::new(Shared {
            count: AtomicU64::new(0),
            first_ns: AtomicU64::new(u64::MAX),
            last_ns: AtomicU64::new(0),
            epoch,
            latencies: Mutex::new(Vec::new()),
            seen: Mutex::new(HashMap::new()),
            measure_latency,
            stall,
        });
        let socket = TcpSocket::new_v4().expect("socket");
        socket.set_reuseaddr(true).expect("SO_REUSEADDR");
        socket
            .bind("127.0.0.1:0".parse().expect("address"))
            .expect("bind");
        let url = format!("http://{}/hook", socket.local_addr().expect("addr"));
        Refusing {
            url,
            socket,
            shared,
        }
    }

    pub fn count(&self) -> u64 {
        self.shared.count.load(Ordering::Relaxed)
    }

    /// Distinct deliveries that arrived (only counted when bodies carry a send time).
    pub fn distinct(&self) -> u64 {
        self.shared.seen.lock().expect("seen").len() as u64
    }

    pub fn first_arrival(&self) -> Option<Duration> {
        match self.shared.first_ns.load(Ordering::Relaxed) {
            u64::MAX => None,
            ns => Some(Duration::from_nanos(ns)),
        }
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

    /// Waits until `n` distinct deliveries arrived or `deadline` passed; returns how many did.
    pub async fn wait_distinct(&self, n: u64, deadline: Instant) -> u64 {
        loop {
            let got = self.distinct();
            if got >= n || Instant::now() >= deadline {
                return got;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
}

impl Refusing {
    /// Starts listening on the held port: from now on the same URL answers 200.
    pub fn answer(self) -> Receiver {
        let listener = self.socket.listen(1024).expect("listen");
        let s = self.shared.clone();
        let app = Router::new().fallback(move |uri: Uri, body: Bytes| {
            let s = s.clone();
            async move { arrive(s, uri, body).await }
        });
        tokio::spawn(async move { axum::serve(listener, app).await });
        Receiver {
            url: self.url,
            shared: self.shared,
        }
    }
}

async fn arrive(s: Arc<Shared>, uri: Uri, body: Bytes) -> StatusCode {
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
            s.seen
                .lock()
                .expect("seen")
                .entry((uri.path().to_string(), sent))
                .or_insert(now);
        }
    }
    s.count.fetch_add(1, Ordering::Relaxed);
    let ns = now.as_nanos() as u64;
    s.first_ns.fetch_min(ns, Ordering::Relaxed);
    s.last_ns.fetch_max(ns, Ordering::Relaxed);
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
