//! Storing an event and its deliveries in one go (idempotency key, chat_changed tag rule).

use std::collections::hash_map::Entry;
use std::collections::HashMap;

use bytes::Bytes;
use livechat_webhooks::{compose_body, DataTypes, EventType};
use rusqlite::{params, Connection, OptionalExtension};

use crate::dispatch::tags::tags_changed;
use crate::domain::delivery::DeliveryId;
use crate::domain::event::NewEvent;
use crate::domain::license::License;
use crate::domain::Millis;
use crate::store::{DeliveryJob, Ingested, Placement};

/// An enabled webhook an event goes to: (id, url, data-type bits).
type Target = (String, String, u8);

/// Stores one request's events and their deliveries (see [`crate::store::Store::ingest`]).
pub fn ingest_events(
    conn: &Connection,
    license: &License,
    events: &[NewEvent],
    now: Millis,
    placement: &Placement,
) -> rusqlite::Result<Vec<Ingested>> {
    // The webhooks of each event type, looked up once per request (a batch is mostly one type).
    let mut targets: HashMap<EventType, Vec<Target>> = HashMap::new();
    events
        .iter()
        .map(|e| ingest_event(conn, license, e, now, placement, &mut targets))
        .collect()
}

fn ingest_event(
    conn: &Connection,
    license: &License,
    event: &NewEvent,
    now: Millis,
    placement: &Placement,
    known_targets: &mut HashMap<EventType, Vec<Target>>,
) -> rusqlite::Result<Ingested> {
    if let Some(key) = &event.idempotency_key {
        let earlier = conn
            .prepare_cached(
                "SELECT unique_id, deliveries FROM events
                 WHERE license_id = ?1 AND idempotency_key = ?2",
            )?
            .query_row([&license.license_id, key], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?))
            })
            .optional()?;
        if let Some((event_id, deliveries)) = earlier {
            return Ok(Ingested {
                event_id,
                deliveries: deliveries as usize,
                duplicate: true,
                jobs: Vec::new(),
            });
        }
    }
    let deliver = match &event.chat_tags {
        Some(chat) => {
            // Only chat_changed compares with the tags seen before; every chat event records its
            // own for the next comparison.
            let changed = event.event_type != EventType::ChatChanged || {
                let previous: Option<String> = conn
                    .prepare_cached(
                        "SELECT tags FROM chat_tags WHERE license_id = ?1 AND chat_id = ?2",
                    )?
                    .query_row([&license.license_id, &chat.chat_id], |r| r.get(0))
                    .optional()?;
                let previous: Vec<String> = previous
                    .and_then(|p| serde_json::from_str(&p).ok())
                    .unwrap_or_default();
                tags_changed(&previous, &chat.tags)
            };
            let tags = serde_json::to_string(&chat.tags).unwrap_or_else(|_| "[]".into());
            conn.prepare_cached(
                "INSERT INTO chat_tags (license_id, chat_id, tags) VALUES (?1, ?2, ?3)
                 ON CONFLICT (license_id, chat_id) DO UPDATE SET tags = excluded.tags",
            )?
            .execute([&license.license_id, &chat.chat_id, &tags])?;
            changed
        }
        None => true,
    };
    let targets: &[Target] = if deliver {
        match known_targets.entry(event.event_type) {
            Entry::Occupied(known) => known.into_mut(),
            Entry::Vacant(slot) => slot.insert(
                conn.prepare_cached(
                    "SELECT id, url, data_types FROM webhooks
                     WHERE license_id = ?1 AND event_type = ?2 AND enabled = 1",
                )?
                .query_map([&license.license_id, event.event_type.as_str()], |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?))
                })?
                .collect::<rusqlite::Result<_>>()?,
            ),
        }
    } else {
        &[]
    };
    let s = &event.sections;
    conn.prepare_cached(
        "INSERT INTO events (unique_id, license_id, event_type, idempotency_key, chat, visitor,
                             pre_chat_survey, ticket, canned_response, deliveries, received_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
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
        targets.len() as i64,
        now
    ])?;
    let event_row = conn.last_insert_rowid();
    let mut insert = conn.prepare_cached(
        "INSERT INTO deliveries (event_id, license_id, webhook_id, event_type, data_types, status,
                                 attempts, next_attempt_at, lease_until, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, 0, 0, ?7, ?8, ?6, ?6)",
    )?;
    let mut jobs = Vec::new();
    for (webhook_id, url, bits) in targets {
        let (due, lease_until) = placement.place(webhook_id, now);
        insert.execute(params![
            event_row,
            license.license_id,
            webhook_id,
            event.event_type.as_str(),
            bits,
            now,
            due,
            lease_until
        ])?;
        if lease_until.is_some() {
            let wanted = DataTypes::from_bits_for(event.event_type, *bits);
            jobs.push(DeliveryJob {
                id: DeliveryId(conn.last_insert_rowid()),
                attempt_no: 1,
                license_id: license.license_id.clone(),
                webhook_id: webhook_id.clone(),
                event_type: event.event_type,
                url: url.clone(),
                body: Bytes::from(compose_body(
                    event.event_type,
                    &license.token,
                    &license.license_id,
                    &event.unique_id,
                    s,
                    wanted,
                )),
                idle_since: now,
            });
        }
    }
    Ok(Ingested {
        event_id: event.unique_id.clone(),
        deliveries: targets.len(),
        duplicate: false,
        jobs,
    })
}
