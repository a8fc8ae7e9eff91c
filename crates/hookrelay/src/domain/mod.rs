//! Domain types, parsed and validated at the edge so that the rest of the server never checks them
//! again: licenses, webhooks and their target URLs, incoming events, deliveries, secrets; and the
//! pure rules over them: the ingest plan, the `chat_changed` tag rule, a target's health, when a
//! failing webhook is disabled, and the operational events hookrelay produces.

pub mod auto_disable;
pub mod dashboard;
pub mod delivery;
pub mod event;
pub mod health;
pub mod ingest_plan;
pub mod job;
pub mod license;
pub mod listen_session;
pub mod operational;
pub mod recovery;
pub mod secret;
pub mod signing;
pub mod tags;
pub mod tail;
pub mod target;
pub mod visitor_details;
pub mod webhook;

/// A rule a piece of input broke: which field, and what the rule is. Becomes a 4xx answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct Invalid {
    pub field: String,
    pub message: String,
    /// Not a value that breaks a rule but one that may never be sent here at all (an
    /// operational event type, produced by hookrelay only): a 400 rather than a 422.
    pub refused: bool,
}

impl Invalid {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Invalid {
        Invalid {
            field: field.into(),
            message: message.into(),
            refused: false,
        }
    }

    /// An [`Invalid`] for a value that may never be sent here (see [`Invalid::refused`]).
    pub fn refused(field: impl Into<String>, message: impl Into<String>) -> Invalid {
        Invalid {
            refused: true,
            ..Invalid::new(field, message)
        }
    }
}

/// Milliseconds since the Unix epoch: the one time unit stored and passed around.
pub type Millis = i64;

/// The wall clock, in [`Millis`]. Policies take `now` as an argument instead of calling this.
pub fn now_ms() -> Millis {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// RFC 3339 text for API output.
pub fn rfc3339(ms: Millis) -> String {
    let t = std::time::UNIX_EPOCH + std::time::Duration::from_millis(ms.max(0) as u64);
    humantime::format_rfc3339_millis(t).to_string()
}
