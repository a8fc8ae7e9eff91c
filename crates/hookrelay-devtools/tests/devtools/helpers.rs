//! Starting a listener or a recording app on port 0.

use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::Router;
use hookrelay_devtools::{listen_on, ListenArgs, ListenSummary, Output};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// A running `listen`.
pub struct Listener {
    /// `http://127.0.0.1:PORT/webhooks`
    pub url: String,
    pub out: Output,
    stop: oneshot::Sender<()>,
    task: JoinHandle<anyhow::Result<ListenSummary>>,
}

impl Listener {
    pub async fn start(args: ListenArgs) -> Listener {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/webhooks", listener.local_addr().unwrap());
        let out = Output::capture();
        let (stop, stopped) = oneshot::channel::<()>();
        let shutdown = async move {
            let _ = stopped.await;
        };
        let task = tokio::spawn(listen_on(listener, args, out.clone(), shutdown));
        Listener {
            url,
            out,
            stop,
            task,
        }
    }

    /// The URL with `user:password@` in it.
    pub fn url_with(&self, user_pass: &str) -> String {
        self.url
            .replacen("http://", &format!("http://{user_pass}@"), 1)
    }

    /// Stops it as Ctrl-C would; returns the summary and everything it printed.
    pub async fn stop(self) -> (ListenSummary, String) {
        self.stop.send(()).unwrap();
        let summary = self.task.await.unwrap().unwrap();
        (summary, self.out.contents())
    }
}

/// One request as an app saw it.
#[derive(Debug, Clone)]
pub struct Seen {
    pub headers: HeaderMap,
    pub body: serde_json::Value,
    /// The body's bytes exactly as they arrived (what a signature covers).
    pub raw: Bytes,
}

/// An app that records every request and answers `status` with `answer`.
pub async fn spawn_app(
    status: StatusCode,
    answer: &'static str,
) -> (String, Arc<Mutex<Vec<Seen>>>) {
    let seen: Arc<Mutex<Vec<Seen>>> = Arc::default();
    let record = move |State(seen): State<Arc<Mutex<Vec<Seen>>>>,
                       headers: HeaderMap,
                       body: Bytes| async move {
        let raw = body;
        let body = serde_json::from_slice(&raw).unwrap_or(serde_json::Value::Null);
        seen.lock().unwrap().push(Seen { headers, body, raw });
        (status, answer)
    };
    let app = Router::new()
        .route("/hook", post(record))
        .route(
            "/moved",
            post(|| async { (StatusCode::FOUND, [("location", "/hook")]) }),
        )
        .with_state(seen.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (base, seen)
}

/// A URL where nothing listens (a port that was just free).
pub async fn dead_url() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    drop(listener);
    format!("http://{address}/hook")
}
