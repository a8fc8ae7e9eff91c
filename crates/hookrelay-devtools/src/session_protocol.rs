//! The wire protocol of `hookrelay listen --server`: JSON text frames over one WebSocket on the
//! server's own port, shared by the server (which pushes deliveries) and the command (which
//! answers them).
//!
//! ```text
//! GET /v1/listen?events=chat_started,chat_ended&label=…   Authorization: Bearer <api key>
//! ← {"type":"ready", "session_id":…, "webhooks":[…], "signing_secret":"whsec_…", …}
//! ← {"type":"delivery", "push_id":1, "delivery_id":"dlv_7", "headers":[…], "body":"{…}", …}
//! → {"type":"ack", "push_id":1, "status":200, "body":"ok"}
//! ```
//!
//! One socket carries both directions, so an answer reaches the very node (and the very attempt)
//! that pushed the delivery, also behind a load balancer in front of several nodes.

use serde::{Deserialize, Serialize};

/// The route that opens a session.
pub const PATH: &str = "/v1/listen";

/// Query parameters of [`PATH`].
pub mod query {
    /// Comma-separated event types (default: all).
    pub const EVENTS: &str = "events";
    /// Comma-separated data types (default: all each event type carries).
    pub const DATA_TYPES: &str = "data_types";
    /// What the session's webhooks are described as (the command sends its host and
    /// `--forward-to`).
    pub const LABEL: &str = "label";
    /// The session to take up again after a reconnection.
    pub const SESSION: &str = "session";
    /// The license, when the token is the admin token.
    pub const LICENSE_ID: &str = "license_id";
}

/// What the server sends.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerMessage {
    /// The session is open: its webhooks exist and deliveries follow.
    Ready(Ready),
    /// A delivery to answer with an [`Ack`].
    Delivery(Push),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ready {
    pub session_id: String,
    pub license_id: String,
    /// When the session began (ms since the epoch); a resumed session keeps its start.
    pub started_at: i64,
    /// True when an earlier session was taken up again (its undelivered deliveries follow).
    pub resumed: bool,
    pub webhooks: Vec<SessionWebhook>,
    /// The secret the session's deliveries are signed with (Standard Webhooks, `whsec_…`).
    pub signing_secret: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionWebhook {
    pub id: String,
    pub event_type: String,
}

/// One attempt of a delivery, exactly as it would be POSTed to a webhook's URL.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Push {
    /// Names this push in its [`Ack`] (unique within the socket).
    pub push_id: u64,
    pub delivery_id: String,
    pub webhook_id: String,
    pub event_type: String,
    /// The attempt's number (1 for the first).
    pub attempt: i64,
    /// The request's headers (`Content-Type`, `User-Agent`, the `webhook-*` signature headers).
    pub headers: Vec<(String, String)>,
    /// The request's body: the exact JSON a webhook carries.
    pub body: String,
}

/// What the command sends.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ClientMessage {
    Ack(Ack),
}

/// The local answer to a [`Push`]: the HTTP status, or why there was none.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ack {
    pub push_id: u64,
    /// The local app's HTTP status; `None` when it gave no answer.
    pub status: Option<u16>,
    /// The start of its answer's body.
    #[serde(default)]
    pub body: Option<String>,
    /// Why there was no answer (could not connect, timed out).
    #[serde(default)]
    pub error: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_tagged_json() {
        let ack = ClientMessage::Ack(Ack {
            push_id: 3,
            status: Some(200),
            body: None,
            error: None,
        });
        let text = serde_json::to_string(&ack).unwrap();
        assert_eq!(
            text,
            r#"{"type":"ack","push_id":3,"status":200,"body":null,"error":null}"#
        );
        let back: ClientMessage =
            serde_json::from_str(r#"{"type":"ack","push_id":3,"status":null}"#).unwrap();
        assert_eq!(
            back,
            ClientMessage::Ack(Ack {
                push_id: 3,
                status: None,
                body: None,
                error: None
            })
        );
    }
}
