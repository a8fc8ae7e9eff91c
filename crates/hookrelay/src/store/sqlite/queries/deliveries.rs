//! Deliveries: claiming due ones, recording attempts, leases, listing, resending, recovering
//! failed ones in bulk.

use crate::domain::signing::SigningKeys;
use bytes::Bytes;
use livechat_webhooks::{compose_body, DataTypes, EventType, Sections};
use rusqlite::{params, Connection, OptionalExtension};
use std::sync::Arc;

use super::super::rows;
use crate::domain::delivery::{Attempt, Delivery, DeliveryFilter, DeliveryId};
use crate::domain::job::{AttemptRecord, DeliveryJob, JobSigning, Outcome};
use crate::domain::recovery::Recovery;
use crate::domain::Millis;
use crate::store::{NextDue, RecoveryStep, Resend};

/// The columns [`job`] reads, from deliveries `d`, events `e`, webhooks `w`, licenses `l`.
const JOB_COLUMNS: &str = "d.id, d.attempts, d.license_id, d.webhook_id, d.event_type, \
     d.data_types, w.url, l.token, e.unique_id, e.chat, e.visitor, e.pre_chat_survey, e.ticket, \
     e.canned_response, e.webhook, e.delivery, d.lease_until, w.signing";
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
        webhook: row.get(14)?,
        delivery: row.get(15)?,
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
        lease_until: row.get::<_, Option<i64>>(16)?.unwrap_or(0),
        signing: row.get::<_, Option<String>>(17)?.map(|text| JobSigning {
            keys: Arc::new(SigningKeys::read(&text)),
            message_id: unique_id.clone(),
        }),
    })
}

pub fn claim_due(
    conn: &Connection,
    now: Millis,
    limit: usize,
    lease_until: Millis,
    node: &str,
) -> rusqlite::Result<Vec<DeliveryJob>> {
    let sql = format!(
        "SELECT {JOB_COLUMNS} {JOB_JOINS}
         WHERE d.status = 0 AND d.parked = 0 AND d.next_attempt_at <= ?1 AND w.enabled = 1
           AND (w.kind = 0 OR w.session_node = ?3)
         ORDER BY d.next_attempt_at LIMIT ?2"
    );
    let mut jobs: Vec<DeliveryJob> = conn
        .prepare_cached(&sql)?
        .query_map(params![now, limit as i64, node], job)?
        .collect::<rusqlite::Result<_>>()?;
    let mut lease = conn.prepare_cached(
        "UPDATE deliveries SET lease_until = ?2, next_attempt_at = ?2 WHERE id = ?1",
    )?;
    for j in &mut jobs {
        lease.execute(params![j.id.0, lease_until])?;
        j.lease_until = lease_until;
    }
    Ok(jobs)
}

/// When the claimer has work next (see [`crate::store::Store::next_due_at`]).
pub fn next_due_at(conn: &Connection, node: &str) -> rusqlite::Result<NextDue> {
    let delivery = conn
        .prepare_cached(
            "SELECT d.next_attempt_at FROM deliveries d JOIN webhooks w ON w.id = d.webhook_id
             WHERE d.status = 0 AND d.parked = 0 AND w.enabled = 1
               AND (w.kind = 0 OR w.session_node = ?1)
             ORDER BY d.next_attempt_at LIMIT 1",
        )?
        .query_row([node], |r| r.get(0))
        .optional()?;
    let probe = conn
        .prepare_cached("SELECT min(probe_at) FROM targets WHERE silent_since IS NOT NULL")?
        .query_row([], |r| r.get(0))?;
    Ok(NextDue { delivery, probe })
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
                lease_until = NULL, parked = 0, last_status_code = ?5, last_error = ?6,
                updated_at = ?7, failure_notice = (?2 = 2)
         WHERE id = ?1 AND status = 0",
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

/// Frees one lease without an attempt, if it is still `lease` (another node may have taken the
/// delivery over since): parked (until `max(last try, silent_since) + window_ms`) when its target
/// is silent and it never got an answer, due at `due_at` otherwise. A probe handed back makes its
/// target probe again at `due_at` rather than wait for the watchdog.
pub fn release(
    conn: &Connection,
    id: DeliveryId,
    lease: Millis,
    due_at: Millis,
    window_ms: Millis,
) -> rusqlite::Result<()> {
    let parked = conn
        .prepare_cached(
            "UPDATE deliveries SET lease_until = NULL, parked = 1,
                    next_attempt_at = max(updated_at, (
                        SELECT t.silent_since FROM webhooks w JOIN targets t ON t.key = w.target_key
                        WHERE w.id = deliveries.webhook_id)) + ?3
             WHERE id = ?1 AND lease_until = ?2 AND status = 0 AND last_status_code IS NULL
               AND EXISTS (SELECT 1 FROM webhooks w JOIN targets t ON t.key = w.target_key
                           WHERE w.id = deliveries.webhook_id AND t.silent_since IS NOT NULL)",
        )?
        .execute(params![id.0, lease, window_ms])?;
    let released = parked
        + conn
            .prepare_cached(
                "UPDATE deliveries SET lease_until = NULL, next_attempt_at = ?3
                 WHERE id = ?1 AND lease_until = ?2 AND status = 0",
            )?
            .execute(params![id.0, lease, due_at])?;
    if released > 0 {
        conn.prepare_cached(
            "UPDATE targets SET probing = 0, probe_id = NULL, probe_at = ?2
             WHERE probing = 1 AND probe_id = ?1",
        )?
        .execute(params![id.0, due_at])?;
    }
    Ok(())
}

pub fn release_all_leases(conn: &Connection, now: Millis) -> rusqlite::Result<u64> {
    conn.execute(
        "UPDATE deliveries SET lease_until = NULL, next_attempt_at = min(next_attempt_at, ?1)
         WHERE status = 0 AND lease_until IS NOT NULL",
        [now],
    )
    .map(|n| n as u64)
}

/// A page of the license's deliveries as `f` filters them: newest first, or oldest first
/// above `f.after` (the live tail). A filter by event (`event_unique_id`, chat, visitor) starts
/// from that event index and reads only the matching events' deliveries (`CROSS JOIN` keeps
/// SQLite to that order); the others walk `(license_id, id)`.
pub fn deliveries(
    conn: &Connection,
    license_id: &str,
    f: &DeliveryFilter,
) -> rusqlite::Result<Vec<Delivery>> {
    let from = match f.by_event() {
        true => "events e CROSS JOIN deliveries d ON d.event_id = e.id",
        false => "deliveries d JOIN events e ON e.id = d.event_id",
    };
    // An unset event filter stays as `?N IS NULL`, so the parameters are the same every time.
    let by = |value: &Option<String>, column: &str, n: u8| match value {
        // The event_unique_id index is on its first 8 digits (schema_v8.sql). The `+` keeps
        // SQLite from putting ?N in place of the column in the indexed expression (which would
        // leave it nothing to match the index with).
        Some(_) if column == "unique_id" => format!(
            "substr(e.unique_id, 1, 8) = substr(?{n}, 1, 8) AND +e.unique_id = ?{n} \
             AND e.license_id = ?1"
        ),
        Some(_) => format!("e.license_id = ?1 AND e.{column} = ?{n}"),
        None => format!("?{n} IS NULL"),
    };
    // The tail's `after` is written plainly too, so that its read starts at that id in the
    // `(license_id, id)` index instead of at the license's first delivery.
    let (after, order) = match f.after {
        Some(_) => ("d.id > ?6", "ASC"),
        None => ("?6 IS NULL", "DESC"),
    };
    let sql = format!(
        "SELECT {} FROM {from}
         WHERE d.license_id = ?1 AND (?2 IS NULL OR d.status = ?2)
           AND (?3 IS NULL OR d.webhook_id = ?3) AND (?4 IS NULL OR d.event_type = ?4)
           AND (?5 IS NULL OR d.id < ?5) AND {after}
           AND {} AND {} AND {}
         ORDER BY d.id {order} LIMIT ?7",
        rows::DELIVERY_COLUMNS,
        by(&f.event_unique_id, "unique_id", 8),
        by(&f.chat_id, "chat_id", 9),
        by(&f.visitor_id, "visitor_id", 10),
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = stmt.query_map(
        params![
            license_id,
            f.status.map(|s| s.code()),
            f.webhook_id,
            f.event_type.map(EventType::as_str),
            f.before.map(|b| b.0),
            f.after.map(|a| a.0),
            f.limit as i64,
            f.event_unique_id,
            f.chat_id,
            f.visitor_id,
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
         LEFT JOIN (SELECT id, url, signing FROM webhooks) w ON w.id = d.webhook_id
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
                webhook: row.get(offset + 14)?,
                delivery: row.get(offset + 15)?,
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
        "UPDATE deliveries SET status = 0, parked = 0, next_attempt_at = ?3, lease_until = ?3,
                updated_at = ?2, failure_notice = 0
         WHERE id = ?1",
        params![id.0, now, lease_until],
    )?;
    let sql = format!("SELECT {JOB_COLUMNS} {JOB_JOINS} WHERE d.id = ?1");
    conn.query_row(&sql, [id.0], job).map(Resend::Job)
}

/// One step of a bulk recovery (see [`crate::store::Store::recover_failed`]): looks at the next
/// `limit` failed deliveries of the license after id `after`, in id order, and makes those that
/// `which` selects pending and due at `now` (only counts them when `dry_run`). One step is one
/// write in the writer's group commit, so a big recovery never holds the writer for long.
pub fn recover_failed_step(
    conn: &Connection,
    which: &Recovery,
    after: i64,
    limit: usize,
    dry_run: bool,
    now: Millis,
) -> rusqlite::Result<RecoveryStep> {
    let looked: Vec<(i64, bool)> = conn
        .prepare_cached(
            "SELECT d.id, d.updated_at BETWEEN ?3 AND ?4 AND (?2 IS NULL OR d.webhook_id = ?2)
                    AND EXISTS (SELECT 1 FROM webhooks w WHERE w.id = d.webhook_id)
             FROM deliveries d WHERE d.license_id = ?1 AND d.status = 2 AND d.id > ?5
             ORDER BY d.id LIMIT ?6",
        )?
        .query_map(
            params![
                which.license_id,
                which.webhook_id,
                which.window.since,
                which.window.until,
                after,
                limit as i64
            ],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?
        .collect::<rusqlite::Result<_>>()?;
    let selected = looked.iter().filter(|(_, selected)| *selected);
    let recovered = if dry_run {
        selected.count() as u64
    } else {
        let mut due = conn.prepare_cached(
            "UPDATE deliveries SET status = 0, parked = 0, next_attempt_at = ?2,
                    lease_until = NULL, updated_at = ?2
             WHERE id = ?1 AND status = 2",
        )?;
        let mut n = 0;
        for (id, _) in selected {
            n += due.execute(params![id, now])? as u64;
        }
        n
    };
    let last = looked.last().map(|(id, _)| *id);
    Ok(RecoveryStep::new(last, looked.len(), limit, recovered))
}

pub fn pending_count(conn: &Connection) -> rusqlite::Result<i64> {
    conn.query_row(
        "SELECT count(*) FROM deliveries WHERE status = 0",
        [],
        |r| r.get(0),
    )
}
