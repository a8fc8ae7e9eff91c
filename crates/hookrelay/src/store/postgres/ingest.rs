//! One group commit's worth of ingest: every event of every request in the batch, stored with a
//! fixed handful of statements inside the caller's transaction.
//!
//! Order matters for correctness when nodes race: events are inserted first (the idempotency
//! index decides which are new), then only the new ones take part in the `chat_changed` tag rule
//! under row locks, then their deliveries are inserted. Nothing is read and then written without
//! a lock or a unique index in between.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use bytes::Bytes;
use deadpool_postgres::GenericClient;
use livechat_webhooks::{compose_body, DataTypes, EventType};
use tokio_postgres::Error;

use super::sql::{deliveries::notify, ingest as q};
use crate::dispatch::tags::tags_changed;
use crate::domain::delivery::DeliveryId;
use crate::domain::event::NewEvent;
use crate::domain::license::License;
use crate::domain::Millis;
use crate::store::{DeliveryJob, Ingested, Placement};

/// One caller's ingest, waiting for a group commit.
pub struct IngestRequest {
    pub license: License,
    pub events: Vec<NewEvent>,
    pub now: Millis,
    pub placement: Placement,
}

/// One event of the batch, with the request it came from.
struct Entry<'a> {
    request: &'a IngestRequest,
    event: &'a NewEvent,
    id: i64,
}

impl Entry<'_> {
    fn license_id(&self) -> &str {
        &self.request.license.license_id
    }
}

/// Stores every request's events; returns each request's results, in order. Notifies `channel`
/// when some new deliveries were left unleased, so that idle nodes take them.
pub async fn ingest_batch<C: GenericClient>(
    c: &C,
    requests: &[IngestRequest],
    channel: &str,
) -> Result<Vec<Vec<Ingested>>, Error> {
    let count = requests.iter().map(|r| r.events.len()).sum();
    let ids = q::reserve_event_ids(c, count).await?;
    let entries: Vec<Entry> = requests
        .iter()
        .flat_map(|request| request.events.iter().map(move |event| (request, event)))
        .zip(ids)
        .map(|((request, event), id)| Entry { request, event, id })
        .collect();
    let rows: Vec<q::EventRow> = entries
        .iter()
        .map(|e| (e.id, e.license_id(), e.event, e.request.now))
        .collect();
    let inserted: HashSet<i64> = q::insert_events(c, &rows).await?.into_iter().collect();
    let new: Vec<&Entry> = entries
        .iter()
        .filter(|e| inserted.contains(&e.id))
        .collect();

    let deliver = apply_tag_rule(c, &new).await?;
    let delivering: Vec<&Entry> = new
        .iter()
        .zip(&deliver)
        .filter_map(|(e, d)| d.then_some(*e))
        .collect();
    let target_keys: BTreeSet<(&str, &str)> = delivering
        .iter()
        .map(|e| (e.license_id(), e.event.event_type.as_str()))
        .collect();
    let target_keys: Vec<_> = target_keys.into_iter().collect();
    let mut targets: HashMap<(String, String), Vec<q::Target>> = HashMap::new();
    if !target_keys.is_empty() {
        for t in q::webhook_targets(c, &target_keys).await? {
            targets
                .entry((t.0.clone(), t.1.clone()))
                .or_default()
                .push(t);
        }
    }
    let targets_of = |e: &Entry| -> &[q::Target] {
        let key = (
            e.license_id().to_string(),
            e.event.event_type.as_str().to_string(),
        );
        targets.get(&key).map_or(&[], Vec::as_slice)
    };

    let delivery_rows: Vec<q::DeliveryRow> = delivering
        .iter()
        .flat_map(|e| {
            targets_of(e).iter().map(move |t| {
                let r = e.request;
                let (due, lease_until) = r.placement.place(&t.2, r.now);
                (
                    e.id,
                    e.license_id(),
                    t.2.as_str(),
                    t.1.as_str(),
                    t.4,
                    r.now,
                    due,
                    lease_until,
                )
            })
        })
        .collect();
    let mut delivery_ids: HashMap<(i64, String), i64> = HashMap::new();
    if !delivery_rows.is_empty() {
        for (id, event, webhook) in q::insert_deliveries(c, &delivery_rows).await? {
            delivery_ids.insert((event, webhook), id);
        }
        let counts: Vec<(i64, i32)> = delivering
            .iter()
            .map(|e| (e.id, targets_of(e).len() as i32))
            .filter(|c| c.1 > 0)
            .collect();
        q::set_delivery_counts(c, &counts).await?;
        // Idle nodes are told of deliveries due now that nobody leased.
        if delivery_rows.iter().any(|d| d.7.is_none() && d.6 <= d.5) {
            notify(c, channel).await?;
        }
    }

    let duplicate_keys: BTreeSet<(&str, &str)> = entries
        .iter()
        .filter(|e| !inserted.contains(&e.id))
        .filter_map(|e| Some((e.license_id(), e.event.idempotency_key.as_deref()?)))
        .collect();
    let duplicate_keys: Vec<_> = duplicate_keys.into_iter().collect();
    let mut earlier: HashMap<(String, String), (String, i32)> = HashMap::new();
    if !duplicate_keys.is_empty() {
        for (license, key, unique_id, n) in q::earlier_events(c, &duplicate_keys).await? {
            earlier.insert((license, key), (unique_id, n));
        }
    }

    let delivering: HashSet<i64> = delivering.iter().map(|e| e.id).collect();
    let mut results: Vec<Vec<Ingested>> = requests.iter().map(|_| Vec::new()).collect();
    let mut request_index = requests
        .iter()
        .enumerate()
        .flat_map(|(i, r)| r.events.iter().map(move |_| i));
    for e in &entries {
        let i = request_index.next().unwrap_or(0);
        let result = if !inserted.contains(&e.id) {
            let key = (
                e.license_id().to_string(),
                e.event.idempotency_key.clone().unwrap_or_default(),
            );
            let (event_id, n) = earlier.get(&key).cloned().unwrap_or_default();
            Ingested {
                event_id,
                deliveries: n as usize,
                duplicate: true,
                jobs: Vec::new(),
            }
        } else {
            let targets = if delivering.contains(&e.id) {
                targets_of(e)
            } else {
                &[]
            };
            let placement = &e.request.placement;
            let jobs = targets
                .iter()
                .filter(|t| placement.place(&t.2, e.request.now).1.is_some())
                .filter_map(|t| {
                    let id = delivery_ids.get(&(e.id, t.2.clone()))?;
                    Some(job(e, *id, t))
                })
                .collect();
            Ingested {
                event_id: e.event.unique_id.clone(),
                deliveries: targets.len(),
                duplicate: false,
                jobs,
            }
        };
        results[i].push(result);
    }
    Ok(results)
}

/// Applies the `chat_changed` rule to the new events, in batch order, under row locks; returns
/// for each whether it produces deliveries, and stores each chat's latest tag list.
async fn apply_tag_rule<C: GenericClient>(c: &C, new: &[&Entry<'_>]) -> Result<Vec<bool>, Error> {
    let keys: BTreeSet<(&str, &str)> = new
        .iter()
        .filter_map(|e| Some((e.license_id(), e.event.chat_tags.as_ref()?.chat_id.as_str())))
        .collect();
    if keys.is_empty() {
        return Ok(vec![true; new.len()]);
    }
    let keys: Vec<_> = keys.into_iter().collect();
    q::ensure_chat_tags(c, &keys).await?;
    let mut tags: BTreeMap<(String, String), Vec<String>> = q::lock_chat_tags(c, &keys)
        .await?
        .into_iter()
        .map(|(l, chat, json)| ((l, chat), serde_json::from_str(&json).unwrap_or_default()))
        .collect();
    let deliver = new
        .iter()
        .map(|e| match &e.event.chat_tags {
            Some(chat) => {
                let key = (e.license_id().to_string(), chat.chat_id.clone());
                let previous = tags.entry(key).or_default();
                let changed = tags_changed(previous, &chat.tags);
                *previous = chat.tags.clone();
                e.event.event_type != EventType::ChatChanged || changed
            }
            None => true,
        })
        .collect();
    let latest: Vec<(&str, &str, String)> = tags
        .iter()
        .map(|((l, chat), t)| {
            let json = serde_json::to_string(t).unwrap_or_else(|_| "[]".into());
            (l.as_str(), chat.as_str(), json)
        })
        .collect();
    q::update_chat_tags(c, &latest).await?;
    Ok(deliver)
}

/// The job for a delivery just leased to the ingesting node.
fn job(e: &Entry, id: i64, t: &q::Target) -> DeliveryJob {
    let license = &e.request.license;
    let wanted = DataTypes::from_bits_for(e.event.event_type, t.4 as u8);
    DeliveryJob {
        id: DeliveryId(id),
        attempt_no: 1,
        license_id: license.license_id.clone(),
        webhook_id: t.2.clone(),
        event_type: e.event.event_type,
        url: t.3.clone(),
        body: Bytes::from(compose_body(
            e.event.event_type,
            &license.token,
            &license.license_id,
            &e.event.unique_id,
            &e.event.sections,
            wanted,
        )),
        idle_since: e.request.now,
    }
}
