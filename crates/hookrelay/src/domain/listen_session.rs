//! Listen sessions (`hookrelay listen --server`): a developer's command holds one WebSocket to the
//! server, and while it does, its license has a **session webhook** for each event type it asked
//! for (`"kind": "cli"`, URL `cli://SESSION_ID`). Deliveries to them are pushed over the socket and
//! the command's answer is the attempt's outcome, so retries and the deliveries log work as for
//! any webhook.
//!
//! The rules, as pure functions:
//! - what a session subscribes to ([`Subscription::parse`]: event types, data types, label);
//! - which earlier session a new connection takes up again ([`pick`]): the one it names (the
//!   command reconnecting after a drop), else one of the license nobody holds with the same
//!   label and subscription (the command killed and started again), else none (a new session:
//!   two commands running at once each get their own, and both get every event);
//! - when a node's hold has lapsed ([`Timings`]).

use std::collections::BTreeMap;
use std::time::Duration;

use livechat_webhooks::{DataType, DataTypes, EventType};

use super::webhook::Webhook;
use super::{Invalid, Millis};

/// Longest accepted label.
const MAX_LABEL: usize = 200;

/// How often a node says it still holds its sessions, and when a hold has lapsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timings {
    /// How long after its socket closed (or its node last said it held it) a session's webhooks
    /// are removed.
    pub grace: Duration,
}

impl Timings {
    /// How often the holding node refreshes its hold.
    pub fn heartbeat(&self) -> Duration {
        (self.grace / 4).clamp(Duration::from_millis(100), Duration::from_secs(5))
    }

    /// A hold not refreshed for three heartbeats belongs to a node that died or lost its
    /// database: another node may take the session.
    pub fn stale_before(&self, now: Millis) -> Millis {
        now - 3 * self.heartbeat().as_millis() as Millis
    }

    /// Sessions nobody has held since then are removed.
    pub fn expired_before(&self, now: Millis) -> Millis {
        now - self.grace.as_millis() as Millis
    }
}

/// How far off the deliveries of a session no node holds are due: out of the range every claim
/// reads (a license could otherwise fill it with rows no node may take), until the command comes
/// back and they are due at once, or the session ends and they fail.
pub const UNHELD_WAIT: Duration = Duration::from_secs(24 * 3600);

/// A new session id: `ses_` and 24 lowercase hex digits.
pub fn new_session_id() -> String {
    format!("ses_{:024x}", rand::random::<u128>() >> 32)
}

/// A node's id, random per process: a listen session is held by the node whose socket it is on.
pub fn new_node_id() -> String {
    format!("{:016x}", rand::random::<u64>())
}

/// Whether `text` looks like a session id (checked before it reaches a query).
pub fn valid_session_id(text: &str) -> bool {
    text.len() == 28
        && text.starts_with("ses_")
        && text[4..]
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// What a session asks for: its event types with the data types of each, and its label.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscription {
    /// In [`EventType::ALL`] order.
    pub events: Vec<(EventType, DataTypes)>,
    /// What its webhooks are described as (the command's host and `--forward-to`).
    pub label: String,
}

impl Subscription {
    /// Parses the query of a session request. `events`: comma-separated event types (none: all).
    /// `data_types`: comma-separated data types, each event type taking those it carries (none:
    /// all it carries); an event type that would carry none of them is refused, naming what it
    /// carries.
    pub fn parse(
        events: Option<&str>,
        data_types: Option<&str>,
        label: Option<&str>,
    ) -> Result<Subscription, Invalid> {
        let mut wanted = Vec::new();
        for name in list(events) {
            let t: EventType = name
                .parse()
                .map_err(|e: livechat_webhooks::UnknownEventType| {
                    Invalid::new("events", e.to_string())
                })?;
            wanted.push(t);
        }
        let types: Vec<EventType> = if wanted.is_empty() {
            EventType::ALL.to_vec()
        } else {
            EventType::ALL
                .into_iter()
                .filter(|t| wanted.contains(t))
                .collect()
        };
        let mut kinds = Vec::new();
        for name in list(data_types) {
            let d: DataType = name
                .parse()
                .map_err(|e: livechat_webhooks::DataTypeError| {
                    Invalid::new("data_types", e.to_string())
                })?;
            kinds.push(d);
        }
        let mut events = Vec::with_capacity(types.len());
        for t in types {
            let carried = if kinds.is_empty() {
                DataTypes::all_for(t)
            } else {
                let names: Vec<&str> = kinds
                    .iter()
                    .filter(|d| t.supports(**d))
                    .map(|d| d.as_str())
                    .collect();
                if names.is_empty() {
                    let supported: Vec<&str> = t
                        .supported_data_types()
                        .iter()
                        .map(|d| d.as_str())
                        .collect();
                    return Err(Invalid::new(
                        "data_types",
                        format!(
                            "{t} carries none of them; it carries: {}",
                            supported.join(", ")
                        ),
                    ));
                }
                DataTypes::parse_for(t, &names)
                    .map_err(|e| Invalid::new("data_types", e.to_string()))?
            };
            events.push((t, carried));
        }
        let label: String = label
            .unwrap_or("")
            .chars()
            .filter(|c| !c.is_control())
            .collect::<String>()
            .trim()
            .to_string();
        if label.chars().count() > MAX_LABEL {
            return Err(Invalid::new(
                "label",
                format!("must be at most {MAX_LABEL} characters"),
            ));
        }
        let label = if label.is_empty() {
            "hookrelay listen".to_string()
        } else {
            label
        };
        Ok(Subscription { events, label })
    }
}

fn list(text: Option<&str>) -> impl Iterator<Item = &str> {
    text.unwrap_or("")
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
}

/// A session as its webhooks show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionSummary {
    pub session_id: String,
    pub subscription: Subscription,
    pub started_at: Millis,
    /// Held by a live node right now.
    pub held: bool,
}

/// The sessions of a license, from its webhooks (HTTP webhooks are skipped), with whether a
/// node holds each at `now`.
pub fn sessions(webhooks: &[Webhook], timings: Timings, now: Millis) -> Vec<SessionSummary> {
    let stale_before = timings.stale_before(now);
    let mut by_id: BTreeMap<&str, SessionSummary> = BTreeMap::new();
    for w in webhooks {
        let (Some(id), Some(hold)) = (w.url.session_id(), &w.session) else {
            continue;
        };
        let s = by_id.entry(id).or_insert_with(|| SessionSummary {
            session_id: id.to_string(),
            subscription: Subscription {
                events: Vec::new(),
                label: w.description.clone().unwrap_or_default(),
            },
            started_at: w.created_at,
            held: false,
        });
        s.subscription.events.push((w.event_type, w.data_types));
        s.started_at = s.started_at.min(w.created_at);
        s.held |= hold.node.is_some() && hold.seen_at >= stale_before;
    }
    by_id
        .into_values()
        .map(|mut s| {
            s.subscription.events.sort_by_key(|(t, _)| order(*t));
            s
        })
        .collect()
}

fn order(t: EventType) -> usize {
    EventType::ALL
        .iter()
        .position(|x| *x == t)
        .unwrap_or(usize::MAX)
}

/// Which session a connection opens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pick {
    /// Take up this earlier session (its webhooks and their pending deliveries).
    Resume(String),
    /// A new session with new webhooks.
    New,
}

/// The session a connection asking for `subscription` (and naming `named`, when reconnecting)
/// opens, among the license's `sessions`.
pub fn pick(sessions: &[SessionSummary], named: Option<&str>, subscription: &Subscription) -> Pick {
    if let Some(id) = named {
        if sessions.iter().any(|s| s.session_id == id) {
            return Pick::Resume(id.to_string());
        }
    }
    sessions
        .iter()
        .filter(|s| !s.held && s.subscription == *subscription)
        .min_by_key(|s| s.started_at)
        .map_or(Pick::New, |s| Pick::Resume(s.session_id.clone()))
}

/// The node holding a session webhook, and when it last said so (`node` is `None` once its
/// socket closed: the grace runs from `seen_at`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionHold {
    pub node: Option<String>,
    pub seen_at: Millis,
}

#[cfg(test)]
#[path = "listen_session_tests.rs"]
mod tests;
