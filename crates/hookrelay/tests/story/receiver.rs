//! A real webhook receiver on port 0 that records what arrives and can be told to misbehave.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Router;
use serde_json::Value;
use tokio::sync::Notify;

/// How the receiver answers.
#[derive(Debug, Clone)]
pub enum Answer {
    Status(u16),
    /// Never answers (until the sender gives up).
    Stall,
    /// 302 to another URL.
    Redirect,
    /// The status with `Retry-After: secs`.
    RetryAfter(u16, u64),
}

#[derive(Debug, Clone)]
#[allow(dead_code)] // `answered` helps when a failing test prints its hits
pub struct Hit {
    pub uri: String,
    pub headers: HeaderMap,
    pub raw: Bytes,
    pub body: Value,
    pub at: Instant,
    pub answered: Option<u16>,
}

#[derive(Default)]
struct Shared {
    hits: Mutex<Vec<Hit>>,
    /// Answers to use first, one per request, before `default`.
    script: Mutex<VecDeque<Answer>>,
    default: Mutex<Option<Answer>>,
    arrived: Notify,
}

#[derive(Clone)]
pub struct Receiver {
    pub url: String,
    shared: Arc<Shared>,
}

impl Receiver {
    /// Starts a receiver answering 200.
    pub async fn start() -> Receiver {
        Receiver::start_on("127.0.0.1:0").await
    }

    /// Starts a receiver answering 200 on `address` (e.g. the port of a target that refused
    /// connections until now).
    pub async fn start_on(address: &str) -> Receiver {
        let shared = Arc::new(Shared::default());
        *shared.default.lock().unwrap() = Some(Answer::Status(200));
        let s = shared.clone();
        let app = Router::new().fallback(move |uri: Uri, headers: HeaderMap, body: Bytes| {
            let s = s.clone();
            async move { handle(s, uri, headers, body).await }
        });
        let listener = match take_reserved(address) {
            Some(socket) => socket.listen(1024).unwrap(),
            None => tokio::net::TcpListener::bind(address).await.unwrap(),
        };
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Receiver { url, shared }
    }

    /// Answers `answer` from now on.
    pub fn answer(&self, answer: Answer) {
        *self.shared.default.lock().unwrap() = Some(answer);
    }

    /// Answers these first, in order, then the default.
    pub fn script(&self, answers: impl IntoIterator<Item = Answer>) {
        self.shared.script.lock().unwrap().extend(answers);
    }

    pub fn hits(&self) -> Vec<Hit> {
        self.shared.hits.lock().unwrap().clone()
    }

    /// Waits until at least `n` requests arrived.
    pub async fn wait_for(&self, n: usize, limit: Duration) -> Vec<Hit> {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            let notified = self.shared.arrived.notified();
            let hits = self.hits();
            if hits.len() >= n {
                return hits;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                panic!("expected {n} requests, got {}: {:#?}", hits.len(), hits);
            }
        }
    }

    /// Waits until a request whose body has `visitor.id == visitor_id` arrived.
    pub async fn wait_for_visitor(&self, visitor_id: &str, limit: Duration) -> Hit {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            let notified = self.shared.arrived.notified();
            let hits = self.hits();
            if let Some(hit) = hits.iter().find(|h| h.body["visitor"]["id"] == visitor_id) {
                return hit.clone();
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                panic!("no request for visitor {visitor_id}: {hits:#?}");
            }
        }
    }
}

async fn handle(s: Arc<Shared>, uri: Uri, headers: HeaderMap, raw: Bytes) -> Response {
    let answer = s
        .script
        .lock()
        .unwrap()
        .pop_front()
        .or_else(|| s.default.lock().unwrap().clone())
        .unwrap_or(Answer::Status(200));
    let status = match &answer {
        Answer::Status(c) | Answer::RetryAfter(c, _) => Some(*c),
        Answer::Redirect => Some(302),
        Answer::Stall => None,
    };
    s.hits.lock().unwrap().push(Hit {
        uri: uri.to_string(),
        headers,
        body: serde_json::from_slice(&raw).unwrap_or(Value::Null),
        raw,
        at: Instant::now(),
        answered: status,
    });
    s.arrived.notify_waiters();
    match answer {
        Answer::Status(c) => (
            StatusCode::from_u16(c).unwrap(),
            "answer from the test receiver",
        )
            .into_response(),
        Answer::RetryAfter(c, secs) => (
            StatusCode::from_u16(c).unwrap(),
            [("retry-after", secs.to_string())],
            "slow down",
        )
            .into_response(),
        Answer::Redirect => (
            StatusCode::FOUND,
            [("location", "http://127.0.0.1:9/elsewhere")],
            "",
        )
            .into_response(),
        Answer::Stall => {
            tokio::time::sleep(Duration::from_secs(3600)).await;
            StatusCode::OK.into_response()
        }
    }
}

/// A target that accepts a connection, reads a little and closes it without answering.
pub async fn closing_target() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/", listener.local_addr().unwrap());
    tokio::spawn(async move {
        loop {
            let Ok((mut socket, _)) = listener.accept().await else {
                return;
            };
            tokio::spawn(async move {
                use tokio::io::AsyncReadExt;
                let mut buf = [0u8; 1024];
                let _ = socket.read(&mut buf).await;
                drop(socket);
            });
        }
    });
    url
}

/// Ports of refusing targets, each held by a socket bound to it but not listening: connections
/// to it are refused, and no other test's receiver can be given the port meanwhile (a port that
/// was only picked and let go could be, and would then answer for this one).
static RESERVED: Mutex<Vec<(String, tokio::net::TcpSocket)>> = Mutex::new(Vec::new());

/// A URL on loopback where nothing listens (connections are refused), kept so for the test
/// process unless [`Receiver::start_on`] starts answering there.
pub async fn refusing_target() -> String {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let address = socket.local_addr().unwrap().to_string();
    RESERVED.lock().unwrap().push((address.clone(), socket));
    format!("http://{address}/")
}

/// The socket holding a refusing target's `address`, if it is one.
fn take_reserved(address: &str) -> Option<tokio::net::TcpSocket> {
    let mut reserved = RESERVED.lock().unwrap();
    let at = reserved.iter().position(|(a, _)| a == address)?;
    Some(reserved.swap_remove(at).1)
}
