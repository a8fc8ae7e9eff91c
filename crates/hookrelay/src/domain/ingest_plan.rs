//! The ingest rule as one pure function: given a request's events and what the store looked up
//! for them, decide everything that is written in its commit.
//!
//! - An event whose `Idempotency-Key` was used before (stored, or earlier in the same batch) is a
//!   duplicate: nothing is stored and the first event's id is answered.
//! - The `chat_changed` tag rule runs in batch order: a `chat_changed` whose tags equal the last
//!   ones seen for its chat is stored but produces no delivery; every chat event records its tags.
//! - Each other event fans out to every enabled webhook of its type. A delivery is **parked** when
//!   its target is silent (a current silence: see [`Health::confirmed_silent`]), **leased** to the
//!   ingesting node when it has room (its body composed here, so it goes out with no claim round
//!   trip) and, for a listen session's webhook, holds the session's socket, or left **due** now
//!   for a claimer.
//!
//! Each backend only looks the inputs up, calls [`plan`], and writes what it returns.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use livechat_webhooks::{compose_body, DataTypes, EventType};

use super::delivery::DeliveryId;
use super::event::NewEvent;
use super::health::{parked_until, Health};
use super::job::{DeliveryJob, JobSigning};
use super::license::License;
use super::listen_session::UNHELD_WAIT;
use super::signing::SigningKeys;
use super::tags::tags_changed;
use super::Millis;

/// An enabled webhook an event may go to, with its target's stored health.
#[derive(Debug, Clone)]
pub struct Subscriber {
    pub webhook_id: String,
    /// As stored, credentials included.
    pub url: String,
    pub data_types: u8,
    pub health: Health,
    /// Its signing keys (`None`: it does not sign).
    pub signing: Option<Arc<SigningKeys>>,
    /// A listen session's webhook whose socket is not on this node (held by another node, or by
    /// none): its deliveries are left due for the node that holds it, never leased here.
    pub held_elsewhere: bool,
    /// A listen session's webhook that no node holds (its command is away): its deliveries wait
    /// [`UNHELD_WAIT`] (out of the due range every claim reads) until the command comes back,
    /// which makes them due at once.
    pub unheld: bool,
}

/// An event stored earlier under an idempotency key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Earlier {
    pub event_id: String,
    pub deliveries: usize,
}

/// What the store looked up for one request's events.
#[derive(Debug, Clone, Default)]
pub struct Lookups {
    /// Idempotency keys of the request that the license used before.
    pub earlier: HashMap<String, Earlier>,
    /// The last tag list seen for each chat of the request (chats never seen are absent).
    pub tags: HashMap<String, Vec<String>>,
    /// The enabled webhooks of each event type of the request, in creation order.
    pub subscribers: HashMap<EventType, Vec<Subscriber>>,
}

/// Where new deliveries go, decided by the engine for this request.
#[derive(Debug, Clone, Copy)]
pub struct Placement {
    pub now: Millis,
    /// Lease new deliveries to this node until then; `None` (no room in memory) leaves them due
    /// for any node's claimer.
    pub lease_until: Option<Millis>,
    /// The retry window: a parked delivery is given up after waiting this long for its target.
    pub window: Duration,
    /// How long a silence stays current ([`super::health::Timings::confirmed_for`]).
    pub confirmed_for: Duration,
}

/// Everything one request's commit writes.
#[derive(Debug, Clone, PartialEq)]
pub struct IngestPlan {
    /// One entry per event, in request order.
    pub events: Vec<PlannedEvent>,
    /// The latest tag list of each chat the new events mention, by chat id (sorted, so that
    /// backends lock and write them in one order).
    pub tags: BTreeMap<String, Vec<String>>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum PlannedEvent {
    /// Its idempotency key was used before: nothing is stored.
    Duplicate(Earlier),
    /// Stored, with these deliveries (none for a `chat_changed` with unchanged tags).
    New(Vec<PlannedDelivery>),
}

/// One delivery to insert.
#[derive(Debug, Clone, PartialEq)]
pub struct PlannedDelivery {
    pub webhook_id: String,
    pub url: String,
    pub data_types: u8,
    pub next_attempt_at: Millis,
    pub lease_until: Option<Millis>,
    pub parked: bool,
    /// The body, for a delivery leased to this node (it is sent straight from memory).
    pub body: Option<Bytes>,
    /// How to sign it, for a delivery leased to this node whose webhook signs.
    pub signing: Option<JobSigning>,
}

impl PlannedDelivery {
    /// Whether it is left due for any node's claimer (neither leased here nor parked).
    pub fn left_due(&self) -> bool {
        self.lease_until.is_none() && !self.parked
    }

    /// The job for this delivery once stored as `id`, if it was leased to this node.
    pub fn job(
        &self,
        id: DeliveryId,
        license_id: &str,
        event_type: EventType,
    ) -> Option<DeliveryJob> {
        Some(DeliveryJob {
            id,
            attempt_no: 1,
            license_id: license_id.to_string(),
            webhook_id: self.webhook_id.clone(),
            event_type,
            url: self.url.clone(),
            body: self.body.clone()?,
            lease_until: self.lease_until?,
            signing: self.signing.clone(),
        })
    }
}

impl Lookups {
    /// What the store knows once `plan` (for `events`) is committed: the keys it used and the
    /// tags it stored. A backend planning several requests of one license in one transaction
    /// absorbs each plan before planning the next.
    pub fn absorb(&mut self, events: &[NewEvent], plan: &IngestPlan) {
        for (event, planned) in events.iter().zip(&plan.events) {
            if let (Some(key), PlannedEvent::New(deliveries)) = (&event.idempotency_key, planned) {
                let earlier = Earlier {
                    event_id: event.unique_id.clone(),
                    deliveries: deliveries.len(),
                };
                self.earlier.insert(key.clone(), earlier);
            }
        }
        self.tags.extend(plan.tags.clone());
    }
}

/// Plans the commit of `events` for `license`.
pub fn plan(
    license: &License,
    events: &[NewEvent],
    lookups: &Lookups,
    placement: Placement,
) -> IngestPlan {
    let mut keys: HashMap<&str, Earlier> = HashMap::new();
    let mut tags: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut planned = Vec::with_capacity(events.len());
    for event in events {
        if let Some(key) = event.idempotency_key.as_deref() {
            if let Some(earlier) = keys.get(key).or_else(|| lookups.earlier.get(key)) {
                planned.push(PlannedEvent::Duplicate(earlier.clone()));
                continue;
            }
        }
        let mut deliver = true;
        if let Some(chat) = &event.chat_tags {
            let previous = tags
                .get(&chat.chat_id)
                .or_else(|| lookups.tags.get(&chat.chat_id))
                .map_or(&[][..], Vec::as_slice);
            deliver =
                event.event_type != EventType::ChatChanged || tags_changed(previous, &chat.tags);
            tags.insert(chat.chat_id.clone(), chat.tags.clone());
        }
        let subscribers = match lookups.subscribers.get(&event.event_type) {
            Some(s) if deliver => s.as_slice(),
            _ => &[],
        };
        let deliveries: Vec<PlannedDelivery> = subscribers
            .iter()
            .map(|s| place(license, event, s, placement))
            .collect();
        if let Some(key) = event.idempotency_key.as_deref() {
            let earlier = Earlier {
                event_id: event.unique_id.clone(),
                deliveries: deliveries.len(),
            };
            keys.insert(key, earlier);
        }
        planned.push(PlannedEvent::New(deliveries));
    }
    IngestPlan {
        events: planned,
        tags,
    }
}

/// One new delivery of `event` to `s`: parked, leased or due.
fn place(license: &License, event: &NewEvent, s: &Subscriber, p: Placement) -> PlannedDelivery {
    let mut d = PlannedDelivery {
        webhook_id: s.webhook_id.clone(),
        url: s.url.clone(),
        data_types: s.data_types,
        next_attempt_at: p.now,
        lease_until: None,
        parked: false,
        body: None,
        signing: None,
    };
    if let Some(since) = s
        .health
        .silent_since
        .filter(|_| s.health.confirmed_silent(p.now, p.confirmed_for))
    {
        d.parked = true;
        d.next_attempt_at = parked_until(p.now, since, p.window);
    } else if s.unheld {
        d.next_attempt_at = p.now + UNHELD_WAIT.as_millis() as Millis;
    } else if let Some(until) = p.lease_until.filter(|_| !s.held_elsewhere) {
        d.next_attempt_at = until;
        d.lease_until = Some(until);
        let wanted = DataTypes::from_bits_for(event.event_type, s.data_types);
        d.body = Some(Bytes::from(compose_body(
            event.event_type,
            &license.token,
            &license.license_id,
            &event.unique_id,
            &event.sections,
            wanted,
        )));
        d.signing = s.signing.as_ref().map(|keys| JobSigning {
            keys: keys.clone(),
            message_id: event.unique_id.clone(),
        });
    }
    d
}

#[cfg(test)]
#[path = "ingest_plan_tests.rs"]
mod tests;
