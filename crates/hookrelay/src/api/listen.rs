//! `GET /v1/listen`: the WebSocket of `hookrelay listen --server`. Authenticated like every route
//! (a license's API key names its license; the admin token names one with `license_id`), it
//! opens a listen session ([`crate::dispatch::listen`]) and then only moves frames: pushes out,
//! acknowledgements in, pings to notice a dead peer, and a close when the server stops or another
//! socket takes the session over.
//!
//! WebSocket rather than Server-Sent Events: the acknowledgements travel back on the same
//! connection, so they reach the node (and the attempt) that pushed, even behind a load balancer
//! spreading requests over several nodes; and it runs on the server's own port.

use std::time::Duration;

use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Query, State};
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use hookrelay_devtools::session_protocol::{ClientMessage, Ready, ServerMessage, SessionWebhook};
use serde::Deserialize;
use tokio::sync::watch;

use super::auth::Caller;
use super::error::{ApiError, ApiResult};
use super::AppState;
use crate::domain::license::License;
use crate::domain::listen_session::{
    pick, sessions, valid_session_id, Pick, Subscription, Timings,
};
use crate::domain::now_ms;
use crate::domain::Invalid;

/// Sockets open at once on one node, at most.
pub const MAX_OPEN: usize = 1_000;
/// Listen sessions one license may have connected at once (each adds a webhook per event type).
pub const MAX_PER_LICENSE: usize = 10;
/// Listen sessions one license may have at all, connected or waiting for their command.
pub const MAX_KEPT: usize = 20;
/// A ping this often; a peer silent for three of them is gone.
const PING_EVERY: Duration = Duration::from_secs(15);
/// Largest frame a command may send (an acknowledgement is small).
const MAX_FRAME: usize = 64 * 1024;

pub fn routes() -> Router<AppState> {
    // The path written out, as every router does (the OpenAPI test reads them from the source).
    Router::new().route("/v1/listen", get(open))
}

#[derive(Debug, Deserialize)]
struct ListenQuery {
    events: Option<String>,
    data_types: Option<String>,
    label: Option<String>,
    session: Option<String>,
    license_id: Option<String>,
}

async fn open(
    State(state): State<AppState>,
    caller: Caller,
    query: Result<Query<ListenQuery>, axum::extract::rejection::QueryRejection>,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> ApiResult<Response> {
    let q = super::paging::query(query)?;
    let subscription = Subscription::parse(
        q.events.as_deref(),
        q.data_types.as_deref(),
        q.label.as_deref(),
    )?;
    let named = match q.session {
        Some(id) if valid_session_id(&id) => Some(id),
        Some(_) => {
            return Err(Invalid::new(
                "session",
                "must be a session id like ses_0123456789abcdef01234567",
            )
            .into())
        }
        None => None,
    };
    let license = license_of(&state, &caller, q.license_id.as_deref()).await?;
    let upgrade = upgrade.map_err(|_| ApiError::UpgradeRequired(
        "this route opens a WebSocket (Connection: Upgrade, Upgrade: websocket); use `hookrelay listen --server`",
    ))?;
    if state.sender.sessions().held().len() >= MAX_OPEN {
        return Err(ApiError::Busy(
            "this node has the most listen sessions it takes; try again later",
        ));
    }
    let timings = Timings {
        grace: state.config.cli_session_grace,
    };
    let webhooks = state.store.webhooks(&license.license_id).await?;
    let found = sessions(&webhooks, timings, now_ms());
    let held = found
        .iter()
        .filter(|s| s.held && named.as_deref() != Some(s.session_id.as_str()))
        .count();
    if held >= MAX_PER_LICENSE {
        return Err(ApiError::Conflict(format!(
            "this license has {held} listen sessions connected, the most it may have; stop one first"
        )));
    }
    if pick(&found, named.as_deref(), &subscription) == Pick::New && found.len() >= MAX_KEPT {
        return Err(ApiError::Conflict(format!(
            "this license has {} listen sessions (connected, or waiting {} for their command), the \
             most it may have; stop one, or wait for a stopped one to end",
            found.len(),
            humantime::format_duration(timings.grace)
        )));
    }
    Ok(upgrade
        .max_message_size(MAX_FRAME)
        .max_frame_size(MAX_FRAME)
        .on_upgrade(move |socket| run(state, socket, license, subscription, named)))
}

/// The license a caller listens to: a key's own (`license_id`, if given, must be it), or the
/// one the admin names.
async fn license_of(
    state: &AppState,
    caller: &Caller,
    license_id: Option<&str>,
) -> ApiResult<License> {
    match (caller, license_id) {
        (Caller::License(l), None) => Ok((**l).clone()),
        (Caller::License(l), Some(id)) => {
            caller.may_access(id)?;
            Ok((**l).clone())
        }
        (Caller::Admin, Some(id)) => state
            .store
            .license(id)
            .await?
            .ok_or(ApiError::NotFound("license")),
        (Caller::Admin, None) => Err(Invalid::new(
            "license_id",
            "is required with the admin token (a license's API key names its own)",
        )
        .into()),
    }
}

/// The socket's life: open the session, say ready, then move frames until either side ends.
async fn run(
    state: AppState,
    mut socket: WebSocket,
    license: License,
    subscription: Subscription,
    named: Option<String>,
) {
    let timings = Timings {
        grace: state.config.cli_session_grace,
    };
    let engine = &state.engine;
    let session = match engine
        .open_session(&license, &subscription, named.as_deref(), timings)
        .await
    {
        Ok(s) => s,
        Err(e) => {
            tracing::warn!(license_id = %license.license_id, error = %e, "could not open a listen session");
            close(
                &mut socket,
                1011,
                "the server could not open the session; try again",
            )
            .await;
            return;
        }
    };
    let ready = ServerMessage::Ready(Ready {
        session_id: session.session_id.clone(),
        license_id: license.license_id.clone(),
        started_at: session.started_at,
        resumed: session.resumed,
        webhooks: session
            .webhooks
            .iter()
            .map(|(id, t)| SessionWebhook {
                id: id.clone(),
                event_type: t.as_str().to_string(),
            })
            .collect(),
        signing_secret: session.signing_secret.clone(),
    });
    tracing::info!(
        license_id = %license.license_id,
        session_id = %session.session_id,
        resumed = session.resumed,
        "listen session connected"
    );
    let session_id = session.session_id.clone();
    let webhook_ids: Vec<String> = session.webhooks.iter().map(|(id, _)| id.clone()).collect();
    let mut attached = session.attached;
    if send(&mut socket, &ready).await {
        forward(&mut socket, &mut attached, state.stopping.clone()).await;
    }
    // Taken over (by the command reconnecting here, or by another node): the session is the new
    // socket's, so it is not let go of here.
    let replaced = *attached.replaced.borrow();
    drop(attached);
    engine
        .close_session(&session_id, &webhook_ids, replaced)
        .await;
    tracing::info!(license_id = %license.license_id, %session_id, "listen session disconnected");
}

/// Moves frames until the peer leaves, stops answering pings, the server stops, or another
/// socket takes the session over.
async fn forward(
    socket: &mut WebSocket,
    attached: &mut crate::dispatch::sessions::Attached,
    mut stop: watch::Receiver<bool>,
) {
    let mut ping = tokio::time::interval(PING_EVERY);
    ping.tick().await;
    let mut silent_pings = 0;
    loop {
        tokio::select! {
            push = attached.pushes.recv() => {
                let Some(push) = push else { return };
                if !send(socket, &ServerMessage::Delivery(push)).await {
                    return;
                }
            }
            frame = socket.recv() => match frame {
                Some(Ok(Message::Text(text))) => {
                    silent_pings = 0;
                    match serde_json::from_str::<ClientMessage>(&text) {
                        Ok(ClientMessage::Ack(ack)) => attached.link.acknowledge(ack),
                        Err(e) => {
                            close(socket, 1003, &format!("not a listen message: {e}")).await;
                            return;
                        }
                    }
                }
                Some(Ok(Message::Pong(_) | Message::Ping(_))) => silent_pings = 0,
                Some(Ok(Message::Binary(_))) => {
                    close(socket, 1003, "send JSON text frames").await;
                    return;
                }
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return,
            },
            _ = ping.tick() => {
                silent_pings += 1;
                // Bounded, so a peer that stops reading cannot hold this task.
                let pinged = tokio::time::timeout(PING_EVERY, socket.send(Message::Ping(Vec::new().into()))).await;
                if silent_pings > 3 || !matches!(pinged, Ok(Ok(()))) {
                    return;
                }
            }
            _ = attached.replaced.changed() => {
                close(socket, 4000, "another connection took this session over").await;
                return;
            }
            () = stopping(&mut stop) => {
                close(socket, 1001, "the server is stopping; reconnect").await;
                return;
            }
        }
    }
}

async fn stopping(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|s| *s).await;
}

async fn send(socket: &mut WebSocket, message: &ServerMessage) -> bool {
    let text = serde_json::to_string(message).expect("messages serialize");
    let sent = tokio::time::timeout(PING_EVERY, socket.send(Message::Text(text.into()))).await;
    matches!(sent, Ok(Ok(())))
}

/// The longest start of `text` within `max` bytes (a close frame's reason must fit in 123).
fn within_bytes(text: &str, max: usize) -> String {
    let mut end = text.len().min(max);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text[..end].to_string()
}

async fn close(socket: &mut WebSocket, code: u16, reason: &str) {
    let frame = CloseFrame {
        code,
        reason: within_bytes(reason, 120).into(),
    };
    let _ = tokio::time::timeout(
        Duration::from_secs(1),
        socket.send(Message::Close(Some(frame))),
    )
    .await;
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_route_is_where_the_command_connects() {
        assert_eq!(hookrelay_devtools::session_protocol::PATH, "/v1/listen");
    }
}
