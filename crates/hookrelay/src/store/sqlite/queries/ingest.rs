//! Storing a request's events and their deliveries: look up what the ingest plan needs, plan
//! ([`crate::domain::ingest_plan::plan`]), write what it decided.

use crate::domain::signing::SigningKeys;
use livechat_webhooks::EventType;
use rusqlite::{params, Connection, OptionalExtension};
use std::sync::Arc;

use super::super::rows;
use crate::domain::delivery::DeliveryId;
use crate::domain::event::NewEvent;
use crate::domain::ingest_plan::{plan, Earlier, Lookups, Placement, PlannedEvent, Subscriber};
use crate::domain::license::License;
use crate::store::Ingested;

/// Stores one request's events and their deliveries (see [`crate::store::Store::ingest`]).
pub fn ingest_events(
    conn: &Connection,
    license: &License,
    events: &[NewEvent],
    placement: Placement,
    node: &str,
) -> rusqlite::Result<Vec<Ingested>> {
    let lookups = look_up(conn, &license.license_id, events, node)?;
    let plan = plan(license, events, &lookups, placement);
    let mut results = Vec::with_capacity(events.len());
    for (event, planned) in events.iter().zip(plan.events) {
        let deliveries = match planned {
            PlannedEvent::Duplicate(earlier) => {
                results.push(Ingested {
                    event_id: earlier.event_id,
                    deliveries: earlier.deliveries,
                    duplicate: true,
                    jobs: Vec::new(),
                    left_due: 0,
                });
                continue;
            }
            PlannedEvent::New(deliveries) => deliveries,
        };
        let event_row = insert_event(conn, license, event, deliveries.len(), placement.now)?;
        let mut insert = conn.prepare_cached(
            "INSERT INTO deliveries (event_id, license_id, webhook_id, event_type, data_types,
                                     status, attempts, next_attempt_at, lease_until, parked,
                                     created_at, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, 0, 0, ?6, ?7, ?8, ?9, ?9)",
        )?;
        let mut jobs = Vec::new();
        for d in &deliveries {
            insert.execute(params![
                event_row,
                license.license_id,
                d.webhook_id,
                event.event_type.as_str(),
                d.data_types,
                d.next_attempt_at,
                d.lease_until,
                d.parked,
                placement.now
            ])?;
            let id = DeliveryId(conn.last_insert_rowid());
            jobs.extend(d.job(id, &license.license_id, event.event_type));
        }
        results.push(Ingested {
            event_id: event.unique_id.clone(),
            deliveries: deliveries.len(),
            duplicate: false,
            jobs,
            left_due: deliveries.iter().filter(|d| d.left_due()).count(),
        });
    }
    for (chat_id, tags) in &plan.tags {
        let tags = serde_json::to_string(tags).unwrap_or_else(|_| "[]".into());
        conn.prepare_cached(
            "INSERT INTO chat_tags (license_id, chat_id, tags, seen_at) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (license_id, chat_id)
             DO UPDATE SET tags = excluded.tags, seen_at = excluded.seen_at",
        )?
        .execute(params![license.license_id, chat_id, tags, placement.now])?;
    }
    Ok(results)
}

/// What the plan needs: earlier uses of the request's idempotency keys, its chats' last tags,
/// and the enabled webhooks of its event types with their targets' health (and, for a listen
/// session's, whether its socket is on another node than `node`).
fn look_up(
    conn: &Connection,
    license_id: &str,
    events: &[NewEvent],
    node: &str,
) -> rusqlite::Result<Lookups> {
    let mut l = Lookups::default();
    for event in events {
        if let Some(key) = &event.idempotency_key {
            if let Some(earlier) = earlier_event(conn, license_id, key)? {
                l.earlier.insert(key.clone(), earlier);
            }
        }
        if let Some(chat) = event
            .chat_tags
            .as_ref()
            .filter(|_| event.event_type == EventType::ChatChanged)
        {
            if let Some(tags) = chat_tags(conn, license_id, &chat.chat_id)? {
                l.tags.insert(chat.chat_id.clone(), tags);
            }
        }
        if let std::collections::hash_map::Entry::Vacant(slot) =
            l.subscribers.entry(event.event_type)
        {
            slot.insert(subscribers(conn, license_id, event.event_type, node)?);
        }
    }
    Ok(l)
}

fn earlier_event(
    conn: &Connection,
    license_id: &str,
    key: &str,
) -> rusqlite::Result<Option<Earlier>> {
    conn.prepare_cached(
        "SELECT unique_id, deliveries FROM events WHERE license_id = ?1 AND idempotency_key = ?2",
    )?
    .query_row([license_id, key], |r| {
        Ok(Earlier {
            event_id: r.get(0)?,
            deliveries: r.get::<_, i64>(1)? as usize,
        })
    })
    .optional()
}

fn chat_tags(
    conn: &Connection,
    license_id: &str,
    chat_id: &str,
) -> rusqlite::Result<Option<Vec<String>>> {
    let json: Option<String> = conn
        .prepare_cached("SELECT tags FROM chat_tags WHERE license_id = ?1 AND chat_id = ?2")?
        .query_row([license_id, chat_id], |r| r.get(0))
        .optional()?;
    Ok(json.map(|j| serde_json::from_str(&j).unwrap_or_default()))
}

fn subscribers(
    conn: &Connection,
    license_id: &str,
    event_type: EventType,
    node: &str,
) -> rusqlite::Result<Vec<Subscriber>> {
    let sql = format!(
        "SELECT w.id, w.url, w.data_types, w.signing, {},
                w.kind = 1 AND w.session_node IS NOT ?3, w.kind = 1 AND w.session_node IS NULL
         FROM webhooks w
         LEFT JOIN targets t ON t.key = w.target_key
         WHERE w.license_id = ?1 AND w.event_type = ?2 AND w.enabled = 1
         ORDER BY w.created_at, w.id",
        rows::HEALTH_COLUMNS
    );
    let found = conn
        .prepare_cached(&sql)?
        .query_map([license_id, event_type.as_str(), node], |r| {
            Ok(Subscriber {
                webhook_id: r.get(0)?,
                url: r.get(1)?,
                data_types: r.get(2)?,
                signing: r
                    .get::<_, Option<String>>(3)?
                    .map(|text| Arc::new(SigningKeys::read(&text))),
                health: rows::health(r, 4)?,
                held_elsewhere: r.get(12)?,
                unheld: r.get(13)?,
            })
        })?
        .collect();
    found
}

fn insert_event(
    conn: &Connection,
    license: &License,
    event: &NewEvent,
    deliveries: usize,
    now: i64,
) -> rusqlite::Result<i64> {
    let s = &event.sections;
    conn.prepare_cached(
        "INSERT INTO events (unique_id, license_id, event_type, idempotency_key, chat, visitor,
                             pre_chat_survey, ticket, canned_response, deliveries, received_at,
                             webhook, delivery, chat_id, visitor_id)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)",
    )?
    .execute(params![
        event.unique_id,
        license.license_id,
        event.event_type.as_str(),
        event.idempotency_key,
        s.chat,
        s.visitor,
        s.pre_chat_survey,
        s.ticket,
        s.canned_response,
        deliveries as i64,
        now,
        s.webhook,
        s.delivery,
        event.find_chat_id(),
        event.find_visitor_id()
    ])?;
    Ok(conn.last_insert_rowid())
}
