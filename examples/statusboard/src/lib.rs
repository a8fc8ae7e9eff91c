//! The seed's "internal statusboard" integration, in Rust.
//!
//! LiveChat (or hookrelay) posts a `visitor_queued` webhook to `/webhooks`; the visitor goes on
//! the [`Board`] and out to every open page over server-sent events (`/events`). The page (`/`,
//! static HTML embedded in the binary) lists the visitors and beeps through the Web Audio API.
//!
//! Every route is behind the same Basic auth (an `.htpasswd` file): the webhook because the seed
//! says so, the page and the stream because they show visitors' names and e-mails. A browser
//! that logged in for `/` sends the same credentials for `/events`.
//!
//! `main.rs` parses the command line and calls [`router`]; the tests start the real binary.

pub mod board;

use std::convert::Infallible;
use std::sync::Arc;

use axum::extract::{FromRef, Request, State};
use axum::middleware::{self, Next};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use futures::stream::{self, Stream, StreamExt as _};
use hookrelay_receiver::{EventType, Receiver, Webhook};
use tokio::sync::broadcast::error::RecvError;

/// `println!` that cannot panic: a closed standard output (a pipe into `head`, a test that
/// stopped reading) must not take webhook handling down with it.
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout(), $($arg)*);
    }};
}

pub use board::{Board, QueuedVisitor};

/// The page, embedded so the binary is all there is to deploy.
const PAGE: &str = include_str!("board.html");

/// Everything a request needs. Cheap to clone.
#[derive(Clone)]
pub struct App {
    /// Who may post webhooks and open the board (the `.htpasswd` users).
    pub receiver: Receiver,
    pub board: Arc<Board>,
}

impl FromRef<App> for Receiver {
    fn from_ref(app: &App) -> Receiver {
        app.receiver.clone()
    }
}

/// `POST /webhooks`, `GET /` (the page) and `GET /events` (the stream).
pub fn router(app: App) -> Router {
    let board = Router::new()
        .route("/", get(|| async { Html(PAGE) }))
        .route("/events", get(events))
        .route_layer(middleware::from_fn_with_state(app.clone(), require_login));
    Router::new()
        .route("/webhooks", post(on_webhook))
        .merge(board)
        .with_state(app)
}

/// Puts a queued visitor on the board; answers 200 to every authenticated webhook, so LiveChat
/// does not retry events the board does not show.
async fn on_webhook(State(app): State<App>, webhook: Webhook) {
    let payload = webhook.payload;
    if payload.event_type != EventType::VisitorQueued {
        say!("{}: ignored", payload.event_type);
        return;
    }
    let visitor = QueuedVisitor::from_webhook(&payload);
    say!(
        "visitor_queued: {} <{}> is waiting",
        visitor.name.as_deref().unwrap_or("a visitor"),
        visitor.email.as_deref().unwrap_or("no e-mail")
    );
    app.board.add(visitor);
}

/// The board's stream: first the recent visitors as `recent` events (shown without a sound),
/// then each new one as a `queued` event (shown with a beep).
async fn events(State(app): State<App>) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let (recent, live) = app.board.watch();
    let recent = stream::iter(recent).map(|visitor| Ok(sse_event("recent", &visitor)));
    let live = stream::unfold(live, |mut live| async move {
        loop {
            match live.recv().await {
                Ok(visitor) => return Some((Ok(sse_event("queued", &visitor)), live)),
                // A page too slow to keep up skips what it missed rather than closing.
                Err(RecvError::Lagged(_)) => continue,
                Err(RecvError::Closed) => return None,
            }
        }
    });
    // The keep-alive comments stop proxies from closing a quiet stream.
    Sse::new(recent.chain(live)).keep_alive(KeepAlive::default())
}

fn sse_event(name: &str, visitor: &QueuedVisitor) -> Event {
    let data = serde_json::to_string(visitor).expect("a QueuedVisitor is always valid JSON");
    Event::default().event(name).data(data)
}

/// The page and the stream need the same credentials as the webhook.
async fn require_login(State(app): State<App>, request: Request, next: Next) -> Response {
    match app.receiver.authorize(request.headers()) {
        Ok(_) => next.run(request).await,
        Err(rejection) => rejection.into_response(),
    }
}
