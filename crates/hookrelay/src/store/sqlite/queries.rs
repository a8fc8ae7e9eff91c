//! Every SQL statement of the SQLite backend, one named function each. Functions that change
//! data run on the writer thread inside a group commit; the rest run on a reader connection.

use bytes::Bytes;
use livechat_webhooks::{compose_body, DataTypes, EventType, Sections};
use rusqlite::{params, Connection, OptionalExtension};

use super::rows;
use crate::dispatch::tags::tags_changed;
use crate::domain::delivery::{Attempt, Delivery, DeliveryFilter, DeliveryId};
use crate::domain::event::NewEvent;
use crate::domain::license::License;
use crate::domain::visitor_details::VisitorDetails;
use crate::domain::webhook::Webhook;
use crate::domain::Millis;
use crate::store::{AttemptRecord, DeliveryJob, Ingested, Outcome, Resend, WebhookChanges};

pub fn setting(conn: &Connection, key: &str) -> rusqlite::Result<Option<String>> {
    conn.query_row("SELECT value FROM settings WHERE key = ?1", [key], |r| {
        r.get(0)
    })
    .optional()
}

pub fn init_setting(conn: &Connection, key: &str, value: &str) -> rusqlite::Result<String> {
    conn.execute(
        "INSERT INTO settings (key, value) VALUES (?1, ?2) ON CONFLICT (key) DO NOTHING",
        [key, value],
    )?;
    conn.query_row("SELECT value FROM settings WHERE key = ?1", [key], |r| {
        r.get(0)
    })
}

pub fn insert_license(conn: &Connection, l: &License) -> rusqlite::Result<()> {
    conn.execute(
        "INSERT INTO licenses (license_id, login, token, api_key_hash, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5)",
        params![
            l.license_id,
            l.login,
            l.token,
            &l.api_key_hash[..],
            l.created_at
        ],
    )
    .map(drop)
}

pub fn license_where(
    conn: &Connection,
    column: &str,
    value: &dyn rusqlite::ToSql,
) -> rusqlite::Result<Option<License>> {
    let sql = format!(
        "SELECT {} FROM licenses WHERE {column} = ?1",
        rows::LICENSE_COLUMNS
    );
    conn.prepare_cached(&sql)?
        .query_row([value], rows::license)
        .optional()
}

pub fn license_count(conn: &Connection) -> rusqlite::Result<i64> {
    conn.query_row("SELECT count(*) FROM licenses", [], |r| r.get(0))
}

/// A page of licenses in `license_id` order, after `after` (see [`crate::store::Store::licenses`]).
pub fn licenses_after(
    conn: &Connection,
    after: Option<&str>,
    limit: usize,
) -> rusqlite::Result<Vec<License>> {
    let sql = format!(
        "SELECT {} FROM licenses WHERE ?1 IS NULL OR license_id > ?1 ORDER BY license_id LIMIT ?2",
        rows::LICENSE_COLUMNS
    );
    conn.prepare_cached(&sql)?
        .query_map(params![after, limit as i64], rows::license)?
        .collect()
}

pub fn insert_webhook(conn: &Connection, w: &Webhook) -> rusqlite::Result<()> {
    conn.execute(
        "INSERT INTO webhooks (id, license_id, url, event_type, data_types, description, enabled,
                               created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        params![
            w.id,
            w.license_id,
            w.url.as_stored(),
            w.event_type.as_str(),
            w.data_types.bits(),
            w.description,
            w.enabled,
            w.created_at,
            w.updated_at
        ],
    )
    .map(drop)
}

pub fn webhooks_of(conn: &Connection, license_id: &str) -> rusqlite::Result<Vec<Webhook>> {
    let sql = format!(
        "SELECT {} FROM webhooks WHERE license_id = ?1 ORDER BY created_at, id",
        rows::WEBHOOK_COLUMNS
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = stmt.query_map([license_id], rows::webhook)?;
    rows.collect()
}

pub fn webhook(conn: &Connection, license_id: &str, id: &str) -> rusqlite::Result<Option<Webhook>> {
    let sql = format!(
        "SELECT {} FROM webhooks WHERE license_id = ?1 AND id = ?2",
        rows::WEBHOOK_COLUMNS
    );
    conn.prepare_cached(&sql)?
        .query_row([license_id, id], rows::webhook)
        .optional()
}

pub fn update_webhook(
    conn: &Connection,
    license_id: &str,
    id: &str,
    c: &WebhookChanges,
    now: Millis,
) -> rusqlite::Result<Option<Webhook>> {
    let changed = conn.execute(
        "UPDATE webhooks SET
            url = coalesce(?3, url),
            data_types = coalesce(?4, data_types),
            description = CASE WHEN ?5 THEN ?6 ELSE description END,
            enabled = coalesce(?7, enabled),
            updated_at = ?8
         WHERE license_id = ?1 AND id = ?2",
        params![
            license_id,
            id,
            c.url,
            c.data_types,
            c.description.is_some(),
            c.description.clone().flatten(),
            c.enabled,
            now
        ],
    )?;
    if changed == 0 {
        return Ok(None);
    }
    webhook(conn, license_id, id)
}

/// Deletes a webhook and fails its pending deliveries (nobody could ever send them).
pub fn delete_webhook(
    conn: &Connection,
    license_id: &str,
    id: &str,
    now: Millis,
) -> rusqlite::Result<bool> {
    let deleted = conn.execute(
        "DELETE FROM webhooks WHERE license_id = ?1 AND id = ?2",
        [license_id, id],
    )?;
    if deleted > 0 {
        conn.execute(
            "UPDATE deliveries SET status = 2, next_attempt_at = NULL, lease_until = NULL,
                    last_error = 'the webhook was deleted', updated_at = ?2
             WHERE webhook_id = ?1 AND status = 0",
            params![id, now],
        )?;
    }
    Ok(deleted > 0)
}

/// Stores one event and its deliveries (see [`crate::store::Store::ingest`]).
pub fn ingest_event(
    conn: &Connection,
    license: &License,
    event: &NewEvent,
    now: Millis,
    lease_until: Option<Millis>,
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
            let previous: Option<String> = conn
                .prepare_cached(
                    "SELECT tags FROM chat_tags WHERE license_id = ?1 AND chat_id = ?2",
                )?
                .query_row([&license.license_id, &chat.chat_id], |r| r.get(0))
                .optional()?;
            let previous: Vec<String> = previous
                .and_then(|p| serde_json::from_str(&p).ok())
                .unwrap_or_default();
            let tags = serde_json::to_string(&chat.tags).unwrap_or_else(|_| "[]".into());
            conn.prepare_cached(
                "INSERT INTO chat_tags (license_id, chat_id, tags) VALUES (?1, ?2, ?3)
                 ON CONFLICT (license_id, chat_id) DO UPDATE SET tags = excluded.tags",
            )?
            .execute([&license.license_id, &chat.chat_id, &tags])?;
            event.event_type != EventType::ChatChanged || tags_changed(&previous, &chat.tags)
        }
        None => true,
    };
    let targets: Vec<(String, String, u8)> = if deliver {
        conn.prepare_cached(
            "SELECT id, url, data_types FROM webhooks
             WHERE license_id = ?1 AND event_type = ?2 AND enabled = 1",
        )?
        .query_map([&license.license_id, event.event_type.as_str()], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })?
        .collect::<rusqlite::Result<_>>()?
    } else {
        Vec::new()
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
         VALUES (?1, ?2, ?3, ?4, ?5, 0, 0, coalesce(?7, ?6), ?7, ?6, ?6)",
    )?;
    let mut jobs = Vec::new();
    for (webhook_id, url, bits) in &targets {
        insert.execute(params![
            event_row,
            license.license_id,
            webhook_id,
            event.event_type.as_str(),
            bits,
            now,
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

/// The columns [`job`] reads, from deliveries `d`, events `e`, webhooks `w`, licenses `l`.
const JOB_COLUMNS: &str = "d.id, d.attempts, d.license_id, d.webhook_id, d.event_type, \
     d.data_types, w.url, l.token, e.unique_id, e.chat, e.visitor, e.pre_chat_survey, e.ticket, \
     e.canned_response";
const JOB_JOINS: &str = "FROM deliveries d JOIN events e ON e.id = d.event_id \
     JOIN webhooks w ON w.id = d.webhook_id JOIN licenses l ON l.license_id = d.license_id";

fn job(row: &rusqlite::Row) -> rusqlite::Result<DeliveryJob> {
    let event_type = rows::event_type(row, 4)?;
    let license_id: String = row.get(2)?;
    let token: String = row.get(7)?;
    let unique_id: String = row.get(8)?;
    let sections = Sections {
        chat: row.get(9)?,
        visitor: row.get(10)?,
        pre_chat_survey: row.get(11)?,
        ticket: row.get(12)?,
        canned_response: row.get(13)?,
    };
    let wanted = DataTypes::from_bits_for(event_type, row.get(5)?);
    let body = compose_body(
        event_type,
        &token,
        &license_id,
        &unique_id,
        &sections,
        wanted,
    );
    Ok(DeliveryJob {
        id: DeliveryId(row.get(0)?),
        attempt_no: row.get::<_, i64>(1)? + 1,
        license_id,
        webhook_id: row.get(3)?,
        event_type,
        url: row.get(6)?,
        body: Bytes::from(body),
    })
}

pub fn claim_due(
    conn: &Connection,
    now: Millis,
    limit: usize,
    lease_until: Millis,
) -> rusqlite::Result<Vec<DeliveryJob>> {
    let sql = format!(
        "SELECT {JOB_COLUMNS} {JOB_JOINS}
         WHERE d.status = 0 AND d.next_attempt_at <= ?1 AND w.enabled = 1
         ORDER BY d.next_attempt_at LIMIT ?2"
    );
    let jobs: Vec<DeliveryJob> = conn
        .prepare_cached(&sql)?
        .query_map(params![now, limit as i64], job)?
        .collect::<rusqlite::Result<_>>()?;
    let mut lease = conn.prepare_cached(
        "UPDATE deliveries SET lease_until = ?2, next_attempt_at = ?2 WHERE id = ?1",
    )?;
    for j in &jobs {
        lease.execute(params![j.id.0, lease_until])?;
    }
    Ok(jobs)
}

pub fn next_due_at(conn: &Connection) -> rusqlite::Result<Option<Millis>> {
    conn.query_row(
        "SELECT min(d.next_attempt_at) FROM deliveries d JOIN webhooks w ON w.id = d.webhook_id
         WHERE d.status = 0 AND w.enabled = 1",
        [],
        |r| r.get(0),
    )
}

pub fn record_attempt(conn: &Connection, r: &AttemptRecord) -> rusqlite::Result<()> {
    let a = &r.attempt;
    conn.prepare_cached(
        "INSERT INTO attempts (delivery_id, attempt_no, started_at, duration_ms, status_code,
                               error, response_body)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?
    .execute(params![
        r.delivery_id.0,
        a.attempt_no,
        a.started_at,
        a.duration_ms,
        a.status_code,
        a.error,
        a.response_body
    ])?;
    let (status, next) = match r.outcome {
        Outcome::Succeeded => (1, None),
        Outcome::RetryAt(at) => (0, Some(at)),
        Outcome::Failed => (2, None),
    };
    conn.prepare_cached(
        "UPDATE deliveries SET status = ?2, attempts = max(attempts, ?3), next_attempt_at = ?4,
                lease_until = NULL, last_status_code = ?5, last_error = ?6, updated_at = ?7
         WHERE id = ?1",
    )?
    .execute(params![
        r.delivery_id.0,
        status,
        a.attempt_no,
        next,
        a.status_code,
        a.error,
        a.started_at + a.duration_ms
    ])?;
    Ok(())
}

pub fn release(conn: &Connection, id: DeliveryId, due_at: Millis) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "UPDATE deliveries SET lease_until = NULL, next_attempt_at = ?2 WHERE id = ?1 AND status = 0",
    )?
    .execute(params![id.0, due_at])
    .map(drop)
}

pub fn release_all_leases(conn: &Connection, now: Millis) -> rusqlite::Result<u64> {
    conn.execute(
        "UPDATE deliveries SET lease_until = NULL, next_attempt_at = min(next_attempt_at, ?1)
         WHERE status = 0 AND lease_until IS NOT NULL",
        [now],
    )
    .map(|n| n as u64)
}

pub fn deliveries(
    conn: &Connection,
    license_id: &str,
    f: &DeliveryFilter,
) -> rusqlite::Result<Vec<Delivery>> {
    let sql = format!(
        "SELECT {} FROM deliveries d JOIN events e ON e.id = d.event_id
         WHERE d.license_id = ?1 AND (?2 IS NULL OR d.status = ?2)
           AND (?3 IS NULL OR d.webhook_id = ?3) AND (?4 IS NULL OR d.event_type = ?4)
           AND (?5 IS NULL OR d.id < ?5)
         ORDER BY d.id DESC LIMIT ?6",
        rows::DELIVERY_COLUMNS
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = stmt.query_map(
        params![
            license_id,
            f.status.map(|s| s.code()),
            f.webhook_id,
            f.event_type.map(EventType::as_str),
            f.before.map(|b| b.0),
            f.limit as i64
        ],
        rows::delivery,
    )?;
    rows.collect()
}

pub fn delivery(
    conn: &Connection,
    license_id: &str,
    id: DeliveryId,
) -> rusqlite::Result<Option<(Delivery, String)>> {
    let sql = format!(
        "SELECT {}, {JOB_COLUMNS} FROM deliveries d JOIN events e ON e.id = d.event_id
         JOIN licenses l ON l.license_id = d.license_id
         LEFT JOIN (SELECT id, url FROM webhooks) w ON w.id = d.webhook_id
         WHERE d.license_id = ?1 AND d.id = ?2",
        rows::DELIVERY_COLUMNS
    );
    conn.prepare_cached(&sql)?
        .query_row(params![license_id, id.0], |row| {
            let delivery = rows::delivery(row)?;
            let offset = 11;
            let event_type = delivery.event_type;
            let sections = Sections {
                chat: row.get(offset + 9)?,
                visitor: row.get(offset + 10)?,
                pre_chat_survey: row.get(offset + 11)?,
                ticket: row.get(offset + 12)?,
                canned_response: row.get(offset + 13)?,
            };
            let wanted = DataTypes::from_bits_for(event_type, row.get(offset + 5)?);
            let token: String = row.get(offset + 7)?;
            let body = compose_body(
                event_type,
                &token,
                license_id,
                &delivery.event_id,
                &sections,
                wanted,
            );
            Ok((delivery, body))
        })
        .optional()
}

pub fn attempts(conn: &Connection, id: DeliveryId) -> rusqlite::Result<Vec<Attempt>> {
    let sql = format!(
        "SELECT {} FROM attempts WHERE delivery_id = ?1 ORDER BY id",
        rows::ATTEMPT_COLUMNS
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = stmt.query_map([id.0], rows::attempt)?;
    rows.collect()
}

/// Leases one delivery for a resend.
pub fn lease_for_resend(
    conn: &Connection,
    license_id: &str,
    id: DeliveryId,
    now: Millis,
    lease_until: Millis,
) -> rusqlite::Result<Resend> {
    let current: Option<(i64, Option<i64>, bool)> = conn
        .query_row(
            "SELECT status, lease_until,
                    EXISTS (SELECT 1 FROM webhooks w WHERE w.id = d.webhook_id)
             FROM deliveries d WHERE license_id = ?1 AND id = ?2",
            params![license_id, id.0],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .optional()?;
    match current {
        None => return Ok(Resend::NotFound),
        Some((_, _, false)) => return Ok(Resend::WebhookDeleted),
        Some((0, Some(lease), _)) if lease > now => return Ok(Resend::InFlight),
        Some(_) => {}
    }
    conn.execute(
        "UPDATE deliveries SET status = 0, next_attempt_at = ?3, lease_until = ?3, updated_at = ?2
         WHERE id = ?1",
        params![id.0, now, lease_until],
    )?;
    let sql = format!("SELECT {JOB_COLUMNS} {JOB_JOINS} WHERE d.id = ?1");
    conn.query_row(&sql, [id.0], job).map(Resend::Job)
}

pub fn pending_count(conn: &Connection) -> rusqlite::Result<i64> {
    conn.query_row(
        "SELECT count(*) FROM deliveries WHERE status = 0",
        [],
        |r| r.get(0),
    )
}

/// Inserts a visitor-details set, or replaces the one with the same visitor and set id (keeping
/// its `created_at`).
pub fn upsert_visitor_details(conn: &Connection, d: &VisitorDetails) -> rusqlite::Result<()> {
    let fields = serde_json::to_string(&d.fields)
        .map_err(|e| rusqlite::Error::ToSqlConversionFailure(e.into()))?;
    conn.prepare_cached(
        "INSERT INTO visitor_details
             (license_id, visitor_id, set_id, icon, fields, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
         ON CONFLICT (license_id, visitor_id, set_id) DO UPDATE SET
             icon = excluded.icon, fields = excluded.fields, updated_at = excluded.updated_at",
    )?
    .execute(params![
        d.license_id,
        d.visitor_id,
        d.id,
        d.icon,
        fields,
        d.created_at,
        d.updated_at
    ])
    .map(drop)
}

/// Every details set of one visitor, oldest first.
pub fn visitor_details_of(
    conn: &Connection,
    license_id: &str,
    visitor_id: &str,
) -> rusqlite::Result<Vec<VisitorDetails>> {
    let sql = format!(
        "SELECT {} FROM visitor_details WHERE license_id = ?1 AND visitor_id = ?2
         ORDER BY created_at, set_id",
        rows::VISITOR_DETAILS_COLUMNS
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = stmt.query_map([license_id, visitor_id], rows::visitor_details)?;
    rows.collect()
}
