//! `GET /v1/licenses/{license_id}/deliveries/tail`: a live tail of a license's deliveries as
//! Server-Sent Events: `ready` once it is watching, one `delivery` event (the delivery as the
//! list shows it) when a delivery is created and again whenever an attempt moves it on, comment
//! heartbeats while nothing happens, and `end` when it closes (its `seconds` are up, or the
//! server is stopping).
//!
//! It polls the store every [`POLL`] by cursor ([`TailCursor`]) rather than listening to this
//! node's engine: deliveries ingested or attempted by any node of a PostgreSQL cluster show up,
//! and nothing has to be kept in step in memory. Each poll is one indexed read of at most
//! [`tail::POLL_LIMIT`] rows. At most [`super::tail_slots::MAX_TAILS`] tails are open on a node, 8 per license (more: 429), and
//! every tail ends when the server starts stopping, so a stop never waits on one.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::time::Duration;

use axum::extract::{Query, State};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use futures::Stream;
use serde::Deserialize;
use serde_json::json;
use tokio::sync::watch;
use tokio::time::Instant;

use super::deliveries::view;
use super::path::PathParams;
use super::webhooks::license_for;
use super::{paging, ApiResult, AppState, Caller};
use crate::domain::delivery::{Delivery, DeliveryFilter, DeliveryId};
use crate::domain::tail::{self, TailCursor};
use crate::domain::Invalid;
use crate::store::Store;

use super::tail_slots::TailSlot;
/// How often a tail looks at the store.
pub const POLL: Duration = Duration::from_millis(500);
/// How long a quiet tail waits before sending a comment, so proxies keep it open.
const HEARTBEAT: Duration = Duration::from_secs(15);
/// How long a tail stays open when `seconds` is not given, and the longest allowed.
const DEFAULT_SECONDS: u64 = 600;
const MAX_SECONDS: u64 = 3_600;

pub fn routes() -> Router<AppState> {
    Router::new().route("/v1/licenses/{license_id}/deliveries/tail", get(open))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TailQuery {
    seconds: Option<String>,
}

/// `seconds`: how long the tail stays open, 1 to [`MAX_SECONDS`].
fn parse_seconds(raw: Option<String>) -> Result<Duration, Invalid> {
    let Some(text) = raw else {
        return Ok(Duration::from_secs(DEFAULT_SECONDS));
    };
    text.parse::<u64>()
        .ok()
        .filter(|s| (1..=MAX_SECONDS).contains(s))
        .map(Duration::from_secs)
        .ok_or_else(|| Invalid::new("seconds", format!("must be 1 to {MAX_SECONDS}")))
}

async fn open(
    State(state): State<AppState>,
    caller: Caller,
    PathParams(license_id): PathParams<String>,
    query: Result<Query<TailQuery>, axum::extract::rejection::QueryRejection>,
    headers: axum::http::HeaderMap,
) -> ApiResult<Response> {
    let license = license_for(&state, &caller, &license_id).await?;
    // SSE's reconnection header: the id of the last event the client got (a delivery id). One
    // that does not parse is ignored, as the specification lets a server do.
    let last_seen: Option<DeliveryId> = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse().ok());
    let seconds = parse_seconds(paging::query(query)?.seconds)?;
    let permit = state.tails.take(&license.license_id)?;
    let newest = state
        .store
        .deliveries(&license.license_id, &page(None, 1))
        .await?;
    let tail = Tail {
        store: state.store.clone(),
        license_id: license.license_id,
        cursor: match last_seen {
            Some(last) => TailCursor::resumed(last, newest.first().map(|d| d.id)),
            None => TailCursor::after(newest.first().map(|d| d.id)),
        },
        queue: VecDeque::new(),
        until: Instant::now() + seconds,
        stopping: state.stopping.clone(),
        phase: Phase::Starting,
        _permit: permit,
    };
    let events = futures::stream::unfold(tail, |mut tail| async move {
        tail.next()
            .await
            .map(|event| (Ok::<_, Infallible>(event), tail))
    });
    Ok(sse(events))
}

fn sse(events: impl Stream<Item = Result<Event, Infallible>> + Send + 'static) -> Response {
    let mut response = Sse::new(events)
        .keep_alive(KeepAlive::new().interval(HEARTBEAT).text("heartbeat"))
        .into_response();
    // Proxies must not buffer or cache a live stream.
    let headers = response.headers_mut();
    headers.insert(
        axum::http::header::CACHE_CONTROL,
        axum::http::HeaderValue::from_static("no-store"),
    );
    headers.insert(
        "x-accel-buffering",
        axum::http::HeaderValue::from_static("no"),
    );
    response
}

fn page(after: Option<crate::domain::delivery::DeliveryId>, limit: usize) -> DeliveryFilter {
    DeliveryFilter {
        after,
        limit,
        ..DeliveryFilter::default()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Starting,
    Watching,
    Ended,
}

/// One open tail: its cursor, what it still has to send, and when it ends.
struct Tail {
    store: std::sync::Arc<dyn Store>,
    license_id: String,
    cursor: TailCursor,
    queue: VecDeque<Delivery>,
    until: Instant,
    stopping: watch::Receiver<bool>,
    phase: Phase,
    /// Held while the tail is open: one of the node's and the license's.
    _permit: TailSlot,
}

impl Tail {
    /// The next event to send; `None` once the tail has ended.
    async fn next(&mut self) -> Option<Event> {
        loop {
            match self.phase {
                Phase::Ended => return None,
                Phase::Starting => {
                    self.phase = Phase::Watching;
                    let after = self.cursor.floor().to_string();
                    return Some(named("ready", json!({ "after": after })));
                }
                Phase::Watching => {}
            }
            if let Some(d) = self.queue.pop_front() {
                return Some(named("delivery", view(&d)).id(d.id.to_string()));
            }
            let reason = tokio::select! {
                () = tokio::time::sleep(POLL) => None,
                () = tokio::time::sleep_until(self.until) => Some("time_limit"),
                _ = self.stopping.wait_for(|stopping| *stopping) => Some("server_stopping"),
            };
            if let Some(reason) = reason {
                self.phase = Phase::Ended;
                return Some(named("end", json!({ "reason": reason })));
            }
            let filter = page(Some(self.cursor.floor()), tail::POLL_LIMIT);
            match self.store.deliveries(&self.license_id, &filter).await {
                Ok(rows) => self.queue.extend(self.cursor.news(rows)),
                Err(e) => tracing::warn!(error = %e, "live tail: reading deliveries failed"),
            }
        }
    }
}

fn named(name: &str, data: serde_json::Value) -> Event {
    Event::default().event(name).data(data.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tail_stays_open_600_seconds_unless_asked_for_1_to_3600() {
        assert_eq!(parse_seconds(None).unwrap(), Duration::from_secs(600));
        assert_eq!(
            parse_seconds(Some("1".into())).unwrap(),
            Duration::from_secs(1)
        );
        assert_eq!(
            parse_seconds(Some("3600".into())).unwrap(),
            Duration::from_secs(3600)
        );
        for bad in ["0", "3601", "-1", "1.5", "ten", ""] {
            assert_eq!(
                parse_seconds(Some(bad.into())).unwrap_err().field,
                "seconds"
            );
        }
    }
}
