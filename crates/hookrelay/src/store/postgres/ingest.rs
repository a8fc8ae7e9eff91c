//! One group commit's worth of ingest: every request of the batch, looked up, planned with the
//! one ingest rule ([`crate::domain::ingest_plan::plan`]) and written with a fixed handful of
//! statements inside the caller's transaction.
//!
//! Nodes may race, so nothing is read and then written without a lock in between: the batch's
//! idempotency keys are locked first (advisory locks, sorted), then its chats' tag rows
//! (`FOR UPDATE`, sorted), then its targets' health (`FOR KEY SHARE`). Every transaction takes these
//! in that order, so they cannot deadlock; the loser of a race waits and then sees the winner's
//! commit. Requests of one license in one batch are planned in order, each seeing the previous.

use crate::domain::signing::SigningKeys;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use deadpool_postgres::GenericClient;
use tokio_postgres::Error;

use super::rows;
use super::sql::{deliveries::notify, ingest as q};
use crate::domain::delivery::DeliveryId;
use crate::domain::event::NewEvent;
use crate::domain::ingest_plan::{
    plan, Earlier, IngestPlan, Lookups, Placement, PlannedEvent, Subscriber,
};
use crate::domain::license::License;
use crate::store::Ingested;

/// One caller's ingest, waiting for a group commit.
pub struct IngestRequest {
    pub license: License,
    pub events: Vec<NewEvent>,
    pub placement: Placement,
}

impl IngestRequest {
    fn license_id(&self) -> &str {
        &self.license.license_id
    }
}

/// Stores every request's events; returns each request's results, in order. Notifies `channel`
/// when some new deliveries were left due for any node, so that idle nodes take them.
pub async fn ingest_batch<C: GenericClient>(
    c: &C,
    requests: &[IngestRequest],
    channel: &str,
    node: &str,
) -> Result<Vec<Vec<Ingested>>, Error> {
    let keys: BTreeSet<(&str, &str)> = requests
        .iter()
        .flat_map(|r| {
            r.events
                .iter()
                .filter_map(move |e| Some((r.license_id(), e.idempotency_key.as_deref()?)))
        })
        .collect();
    let keys: Vec<(&str, &str)> = keys.into_iter().collect();
    if !keys.is_empty() {
        q::lock_idempotency_keys(c, &keys).await?;
    }
    let mut lookups = look_up(c, requests, &keys, node).await?;
    let plans: Vec<IngestPlan> = requests
        .iter()
        .map(|r| {
            let known = lookups.entry(r.license_id().to_string()).or_default();
            let p = plan(&r.license, &r.events, known, r.placement);
            known.absorb(&r.events, &p);
            p
        })
        .collect();
    write(c, requests, &plans, channel).await
}

/// What the plans need, per license: earlier uses of the keys, the chats' last tags (locked),
/// the enabled webhooks of the event types with their targets' health (share-locked).
async fn look_up<C: GenericClient>(
    c: &C,
    requests: &[IngestRequest],
    keys: &[(&str, &str)],
    node: &str,
) -> Result<HashMap<String, Lookups>, Error> {
    let mut by_license: HashMap<String, Lookups> = HashMap::new();
    if !keys.is_empty() {
        for (license, key, event_id, n) in q::earlier_events(c, keys).await? {
            let earlier = Earlier {
                event_id,
                deliveries: n as usize,
            };
            by_license
                .entry(license)
                .or_default()
                .earlier
                .insert(key, earlier);
        }
    }
    let events = || {
        requests
            .iter()
            .flat_map(|r| r.events.iter().map(move |e| (r.license_id(), e)))
    };
    let chats: BTreeSet<(&str, &str)> = events()
        .filter_map(|(l, e)| Some((l, e.chat_tags.as_ref()?.chat_id.as_str())))
        .collect();
    let chats: Vec<_> = chats.into_iter().collect();
    let types: BTreeSet<(&str, &str)> = events().map(|(l, e)| (l, e.event_type.as_str())).collect();
    let types: Vec<_> = types.into_iter().collect();
    // In this order, one after the other: the locks are taken in the order every transaction
    // takes them. (Sending them together would not keep it: a statement not yet prepared on this
    // connection is sent after one that is.)
    let mut tags = Vec::new();
    if !chats.is_empty() {
        q::ensure_chat_tags(c, &chats).await?;
        tags = q::lock_chat_tags(c, &chats).await?;
    }
    let webhooks = q::webhook_targets(c, &types, node).await?;
    for (license, chat, json) in tags {
        let tags = serde_json::from_str(&json).unwrap_or_default();
        let known = by_license.entry(license).or_default();
        known.tags.insert(chat, tags);
    }
    for w in &webhooks {
        let Ok(event_type) = rows::event_type(w, 1) else {
            continue;
        };
        let subscriber = Subscriber {
            webhook_id: w.get(2),
            url: w.get(3),
            data_types: w.get::<_, i32>(4) as u8,
            health: rows::health(w, 6),
            signing: w
                .get::<_, Option<String>>(14)
                .map(|text| Arc::new(SigningKeys::read(&text))),
            held_elsewhere: w.get(15),
            unheld: w.get(16),
        };
        let license: String = w.get(0);
        let known = by_license.entry(license).or_default();
        known
            .subscribers
            .entry(event_type)
            .or_default()
            .push(subscriber);
    }
    Ok(by_license)
}

/// Writes what the plans decided; returns each request's results.
async fn write<C: GenericClient>(
    c: &C,
    requests: &[IngestRequest],
    plans: &[IngestPlan],
    channel: &str,
) -> Result<Vec<Vec<Ingested>>, Error> {
    let planned = || {
        requests.iter().zip(plans).flat_map(|(r, p)| {
            r.events
                .iter()
                .zip(&p.events)
                .map(move |(e, planned)| (r, e, planned))
        })
    };
    let new = planned()
        .filter(|(_, _, p)| matches!(p, PlannedEvent::New(_)))
        .count();
    let mut ids = q::reserve_event_ids(c, new).await?.into_iter();
    let mut event_rows = Vec::with_capacity(new);
    let mut delivery_rows = Vec::new();
    for (r, event, p) in planned() {
        let PlannedEvent::New(deliveries) = p else {
            continue;
        };
        let id = ids.next().unwrap_or_default();
        event_rows.push(q::EventRow {
            id,
            license_id: r.license_id(),
            event,
            deliveries: deliveries.len() as i32,
            received_at: r.placement.now,
        });
        delivery_rows.extend(deliveries.iter().map(|planned| q::DeliveryRow {
            event_id: id,
            license_id: r.license_id(),
            event_type: event.event_type.as_str(),
            planned,
            now: r.placement.now,
        }));
    }
    if !event_rows.is_empty() {
        q::insert_events(c, &event_rows).await?;
    }
    let mut delivery_ids: HashMap<(i64, String), i64> = HashMap::new();
    if !delivery_rows.is_empty() {
        for row in q::insert_deliveries(c, &delivery_rows).await? {
            delivery_ids.insert((row.get(1), row.get(2)), row.get(0));
        }
        if delivery_rows
            .iter()
            .any(|d| d.planned.lease_until.is_none() && !d.planned.parked)
        {
            notify(c, channel).await?;
        }
    }
    let mut tags: BTreeMap<(&str, &str), &Vec<String>> = BTreeMap::new();
    for (r, p) in requests.iter().zip(plans) {
        tags.extend(
            p.tags
                .iter()
                .map(|(chat, t)| ((r.license_id(), chat.as_str()), t)),
        );
    }
    if !tags.is_empty() {
        let latest: Vec<(&str, &str, String)> = tags
            .iter()
            .map(|((l, chat), t)| {
                (
                    *l,
                    *chat,
                    serde_json::to_string(t).unwrap_or_else(|_| "[]".into()),
                )
            })
            .collect();
        q::update_chat_tags(c, &latest).await?;
    }
    Ok(results(requests, plans, &event_rows, &delivery_ids))
}

/// Each request's results, from its plan and the ids the rows got.
fn results(
    requests: &[IngestRequest],
    plans: &[IngestPlan],
    event_rows: &[q::EventRow<'_>],
    delivery_ids: &HashMap<(i64, String), i64>,
) -> Vec<Vec<Ingested>> {
    let mut event_ids = event_rows.iter().map(|e| e.id);
    requests
        .iter()
        .zip(plans)
        .map(|(r, p)| {
            r.events
                .iter()
                .zip(&p.events)
                .map(|(event, planned)| match planned {
                    PlannedEvent::Duplicate(earlier) => Ingested {
                        event_id: earlier.event_id.clone(),
                        deliveries: earlier.deliveries,
                        duplicate: true,
                        jobs: Vec::new(),
                        left_due: 0,
                    },
                    PlannedEvent::New(deliveries) => {
                        let id = event_ids.next().unwrap_or_default();
                        let jobs = deliveries
                            .iter()
                            .filter_map(|d| {
                                let row = delivery_ids.get(&(id, d.webhook_id.clone()))?;
                                d.job(DeliveryId(*row), r.license_id(), event.event_type)
                            })
                            .collect();
                        Ingested {
                            event_id: event.unique_id.clone(),
                            deliveries: deliveries.len(),
                            duplicate: false,
                            jobs,
                            left_due: deliveries.iter().filter(|d| d.left_due()).count(),
                        }
                    }
                })
                .collect()
        })
        .collect()
}
