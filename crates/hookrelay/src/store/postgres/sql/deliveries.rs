//! Deliveries after ingest: claiming them (`FOR UPDATE SKIP LOCKED` plus a lease, so several
//! nodes never take the same one), recording attempts, handing them back, listing, resending and
//! recovering failed ones in bulk.

use deadpool_postgres::GenericClient;
use tokio_postgres::{Error, Row};

use super::{execute, query, query_opt};
use crate::domain::delivery::{DeliveryFilter, DeliveryId};
use crate::domain::job::{AttemptRecord, Outcome};
use crate::domain::recovery::Recovery;
use crate::domain::Millis;
use crate::store::postgres::rows::{ATTEMPT_COLUMNS, BODY_COLUMNS, DELIVERY_COLUMNS, JOB_COLUMNS};
use crate::store::NextDue;

/// Leases up to `limit` due deliveries of enabled webhooks, earliest first, and returns them as
/// [`JOB_COLUMNS`] rows. Rows another node is claiming right now are skipped, not waited for; a
/// listen session's deliveries are only claimed by the node holding its socket (`node`).
///
/// A leased delivery's `next_attempt_at` is its lease end (as on SQLite): deliveries under way
/// leave the due range, so claims never rescan them, and a dead node's work becomes due again by
/// itself when its lease runs out.
pub async fn claim_due<C: GenericClient>(
    c: &C,
    now: Millis,
    limit: usize,
    lease_until: Millis,
    node: &str,
) -> Result<Vec<Row>, Error> {
    let sql = format!(
        "WITH due AS (
             SELECT d.id FROM deliveries d JOIN webhooks w ON w.id = d.webhook_id
             WHERE d.status = 0 AND NOT d.parked AND d.next_attempt_at <= $1 AND w.enabled
               AND (w.kind = 0 OR w.session_node = $4)
             ORDER BY d.next_attempt_at LIMIT $2
             FOR UPDATE OF d SKIP LOCKED
         )
         UPDATE deliveries d SET lease_until = $3, next_attempt_at = $3
         FROM due, events e, webhooks w, licenses l
         WHERE d.id = due.id AND e.id = d.event_id AND w.id = d.webhook_id
           AND l.license_id = d.license_id
         RETURNING {JOB_COLUMNS}"
    );
    query(c, &sql, &[&now, &(limit as i64), &lease_until, &node]).await
}

/// When the claimer has work next (see [`crate::store::Store::next_due_at`]).
pub async fn next_due_at<C: GenericClient>(c: &C, node: &str) -> Result<NextDue, Error> {
    let delivery = query_opt(
        c,
        "SELECT d.next_attempt_at FROM deliveries d JOIN webhooks w ON w.id = d.webhook_id
         WHERE d.status = 0 AND NOT d.parked AND w.enabled AND (w.kind = 0 OR w.session_node = $1)
         ORDER BY d.next_attempt_at LIMIT 1",
        &[&node],
    )
    .await?;
    let probe = query(
        c,
        "SELECT min(probe_at) FROM targets WHERE silent_since IS NOT NULL",
        &[],
    )
    .await?;
    Ok(NextDue {
        delivery: delivery.map(|r| r.get(0)),
        probe: probe[0].get(0),
    })
}

pub async fn insert_attempts<C: GenericClient>(
    c: &C,
    records: &[AttemptRecord],
) -> Result<u64, Error> {
    let ids: Vec<i64> = records.iter().map(|r| r.delivery_id.0).collect();
    let numbers: Vec<i32> = records
        .iter()
        .map(|r| r.attempt.attempt_no as i32)
        .collect();
    let started: Vec<i64> = records.iter().map(|r| r.attempt.started_at).collect();
    let durations: Vec<i64> = records.iter().map(|r| r.attempt.duration_ms).collect();
    let codes: Vec<Option<i32>> = records
        .iter()
        .map(|r| r.attempt.status_code.map(i32::from))
        .collect();
    let errors: Vec<Option<&str>> = records.iter().map(|r| r.attempt.error.as_deref()).collect();
    let bodies: Vec<Option<&str>> = records
        .iter()
        .map(|r| r.attempt.response_body.as_deref())
        .collect();
    execute(
        c,
        "INSERT INTO attempts (delivery_id, attempt_no, started_at, duration_ms, status_code, error,
                               response_body)
         SELECT * FROM unnest($1::bigint[], $2::int[], $3::bigint[], $4::bigint[], $5::int[],
                              $6::text[], $7::text[])",
        &[&ids, &numbers, &started, &durations, &codes, &errors, &bodies],
    )
    .await
}

/// Moves each delivery on after its attempt and frees its lease. A delivery that is no longer
/// pending keeps its state: another node (after this one's lease expired) already finished it,
/// and a late outcome must not turn a success back into a retry.
pub async fn apply_outcomes<C: GenericClient>(
    c: &C,
    records: &[AttemptRecord],
) -> Result<u64, Error> {
    let ids: Vec<i64> = records.iter().map(|r| r.delivery_id.0).collect();
    let (statuses, nexts): (Vec<i32>, Vec<Option<i64>>) = records
        .iter()
        .map(|r| match r.outcome {
            Outcome::Succeeded => (1, None),
            Outcome::RetryAt(at) => (0, Some(at)),
            Outcome::Failed => (2, None),
        })
        .unzip();
    let numbers: Vec<i32> = records
        .iter()
        .map(|r| r.attempt.attempt_no as i32)
        .collect();
    let codes: Vec<Option<i32>> = records
        .iter()
        .map(|r| r.attempt.status_code.map(i32::from))
        .collect();
    let errors: Vec<Option<&str>> = records.iter().map(|r| r.attempt.error.as_deref()).collect();
    let ended: Vec<i64> = records
        .iter()
        .map(|r| r.attempt.started_at + r.attempt.duration_ms)
        .collect();
    execute(
        c,
        "UPDATE deliveries d SET status = u.status, attempts = greatest(d.attempts, u.attempt_no),
                next_attempt_at = u.next, lease_until = NULL, parked = false, last_status_code = u.code,
                last_error = u.error, updated_at = u.ended, failure_notice = (u.status = 2)
         FROM unnest($1::bigint[], $2::int[], $3::bigint[], $4::int[], $5::int[], $6::text[],
                     $7::bigint[]) AS u(id, status, next, attempt_no, code, error, ended)
         WHERE d.id = u.id AND d.status = 0",
        &[&ids, &statuses, &nexts, &numbers, &codes, &errors, &ended],
    )
    .await
}

/// Frees leases without an attempt, each if it is still the one given (another node may have
/// taken the delivery over since): parked (until `max(last try, silent_since) + window_ms`) when
/// the target is silent and the delivery never got an answer, due at `due_at` otherwise. A probe
/// handed back makes its target probe again at `due_at` rather than wait for the watchdog.
pub async fn release<C: GenericClient>(
    c: &C,
    ids: &[i64],
    leases: &[i64],
    due_at: Millis,
    window_ms: Millis,
) -> Result<u64, Error> {
    let parked = query(
        c,
        "UPDATE deliveries d SET lease_until = NULL, parked = true,
                next_attempt_at = greatest(d.updated_at, t.silent_since) + $3
         FROM unnest($1::bigint[], $2::bigint[]) AS u(id, lease), webhooks w, targets t
         WHERE d.id = u.id AND d.lease_until = u.lease AND d.status = 0
           AND d.last_status_code IS NULL
           AND w.id = d.webhook_id AND t.key = w.target_key AND t.silent_since IS NOT NULL
         RETURNING d.id",
        &[&ids, &leases, &window_ms],
    )
    .await?;
    let due = query(
        c,
        "UPDATE deliveries d SET lease_until = NULL, next_attempt_at = $3
         FROM unnest($1::bigint[], $2::bigint[]) AS u(id, lease)
         WHERE d.id = u.id AND d.lease_until = u.lease AND d.status = 0
         RETURNING d.id",
        &[&ids, &leases, &due_at],
    )
    .await?;
    let released: Vec<i64> = parked.iter().chain(&due).map(|r| r.get(0)).collect();
    if !released.is_empty() {
        execute(
            c,
            "UPDATE targets SET probing = false, probe_id = NULL, probe_at = $2
             WHERE probing AND probe_id = ANY($1)",
            &[&released, &due_at],
        )
        .await?;
    }
    Ok(released.len() as u64)
}

/// A page of the license's deliveries as `f` filters them: newest first, or oldest first above
/// `f.after` (the live tail). A filter by event (`event_unique_id`, chat, visitor) is written
/// into the statement only when set, so the planner always sees the equality its index serves.
pub async fn deliveries<C: GenericClient>(
    c: &C,
    license_id: &str,
    f: &DeliveryFilter,
) -> Result<Vec<Row>, Error> {
    // An unset event filter stays as `$N IS NULL`, so the parameters are the same every time.
    let by = |value: &Option<String>, column: &str, n: u8| match value {
        Some(_) => format!("e.license_id = $1 AND e.{column} = ${n}"),
        None => format!("${n}::text IS NULL"),
    };
    // The tail's `after` is written plainly too, so that its read starts at that id in the
    // `(license_id, id)` index.
    let (after, order) = match f.after {
        Some(_) => ("d.id > $6", "ASC"),
        None => ("$6::bigint IS NULL", "DESC"),
    };
    let sql = format!(
        "SELECT {DELIVERY_COLUMNS} FROM deliveries d JOIN events e ON e.id = d.event_id
         WHERE d.license_id = $1 AND ($2::int IS NULL OR d.status = $2)
           AND ($3::text IS NULL OR d.webhook_id = $3) AND ($4::text IS NULL OR d.event_type = $4)
           AND ($5::bigint IS NULL OR d.id < $5) AND {after}
           AND {} AND {} AND {}
         ORDER BY d.id {order} LIMIT $7",
        by(&f.event_unique_id, "unique_id", 8),
        by(&f.chat_id, "chat_id", 9),
        by(&f.visitor_id, "visitor_id", 10),
    );
    query(
        c,
        &sql,
        &[
            &license_id,
            &f.status.map(|s| s.code() as i32),
            &f.webhook_id,
            &f.event_type.map(|t| t.as_str()),
            &f.before.map(|b| b.0),
            &f.after.map(|a| a.0),
            &(f.limit as i64),
            &f.event_unique_id,
            &f.chat_id,
            &f.visitor_id,
        ],
    )
    .await
}

/// One delivery as [`DELIVERY_COLUMNS`] followed by [`BODY_COLUMNS`].
pub async fn delivery<C: GenericClient>(
    c: &C,
    license_id: &str,
    id: DeliveryId,
) -> Result<Option<Row>, Error> {
    let sql = format!(
        "SELECT {DELIVERY_COLUMNS}, {BODY_COLUMNS} FROM deliveries d
         JOIN events e ON e.id = d.event_id JOIN licenses l ON l.license_id = d.license_id
         WHERE d.license_id = $1 AND d.id = $2"
    );
    query_opt(c, &sql, &[&license_id, &id.0]).await
}

pub async fn attempts<C: GenericClient>(c: &C, id: DeliveryId) -> Result<Vec<Row>, Error> {
    let sql = format!("SELECT {ATTEMPT_COLUMNS} FROM attempts WHERE delivery_id = $1 ORDER BY id");
    query(c, &sql, &[&id.0]).await
}

/// Locks one delivery for a resend decision: (status, lease_until, whether its webhook exists).
/// A second node resending the same delivery waits here and then sees the first one's lease.
pub async fn lock_for_resend<C: GenericClient>(
    c: &C,
    license_id: &str,
    id: DeliveryId,
) -> Result<Option<(i32, Option<i64>, bool)>, Error> {
    let row = query_opt(
        c,
        "SELECT status, lease_until, EXISTS (SELECT 1 FROM webhooks w WHERE w.id = d.webhook_id)
         FROM deliveries d WHERE license_id = $1 AND id = $2 FOR UPDATE",
        &[&license_id, &id.0],
    )
    .await?;
    Ok(row.map(|r| (r.get(0), r.get(1), r.get(2))))
}

/// Makes a delivery pending, due now and leased; returns it as a [`JOB_COLUMNS`] row.
pub async fn lease_now<C: GenericClient>(
    c: &C,
    id: DeliveryId,
    now: Millis,
    lease_until: Millis,
) -> Result<Row, Error> {
    let sql = format!(
        "UPDATE deliveries d SET status = 0, parked = false, next_attempt_at = $3, lease_until = $3,
                updated_at = $2, failure_notice = false
         FROM events e, webhooks w, licenses l
         WHERE d.id = $1 AND e.id = d.event_id AND w.id = d.webhook_id
           AND l.license_id = d.license_id
         RETURNING {JOB_COLUMNS}"
    );
    let statement = c.prepare_cached(&sql).await?;
    c.query_one(&statement, &[&id.0, &now, &lease_until]).await
}

/// The next `limit` failed deliveries of the license after id `after`, in id order (index
/// `deliveries_by_license_status`), each with whether `which` selects it: failed inside the
/// window, of the webhook asked for (if any), whose webhook still exists. Rows: `(id, selected)`.
pub async fn failed_after<C: GenericClient>(
    c: &C,
    which: &Recovery,
    after: i64,
    limit: usize,
) -> Result<Vec<Row>, Error> {
    query(
        c,
        "SELECT d.id, (d.updated_at BETWEEN $3 AND $4 AND ($2::text IS NULL OR d.webhook_id = $2)
                       AND EXISTS (SELECT 1 FROM webhooks w WHERE w.id = d.webhook_id))
         FROM deliveries d WHERE d.license_id = $1 AND d.status = 2 AND d.id > $5
         ORDER BY d.id LIMIT $6",
        &[
            &which.license_id,
            &which.webhook_id,
            &which.window.since,
            &which.window.until,
            &after,
            &(limit as i64),
        ],
    )
    .await
}

/// Makes the failed deliveries `ids` pending and due at `now`, keeping their attempts; returns
/// how many. Their webhooks are locked `FOR SHARE` first, so a webhook being deleted right now
/// either goes first (its deliveries are then left failed) or waits and then fails them again:
/// nothing is left pending for a webhook that is gone. A delivery resent meanwhile (no longer
/// failed) is left alone.
pub async fn make_failed_due<C: GenericClient>(
    c: &C,
    ids: &[i64],
    now: Millis,
) -> Result<u64, Error> {
    execute(
        c,
        "WITH live AS (
             SELECT w.id FROM webhooks w
             WHERE w.id IN (SELECT webhook_id FROM deliveries WHERE id = ANY($1))
             FOR SHARE
         )
         UPDATE deliveries d SET status = 0, parked = false, next_attempt_at = $2,
                lease_until = NULL, updated_at = $2
         FROM live WHERE d.id = ANY($1) AND d.status = 2 AND d.webhook_id = live.id",
        &[&ids, &now],
    )
    .await
}

pub async fn pending_count<C: GenericClient>(c: &C) -> Result<i64, Error> {
    let rows = query(c, "SELECT count(*) FROM deliveries WHERE status = 0", &[]).await?;
    Ok(rows[0].get(0))
}

/// Wakes the nodes listening on `channel` when this transaction commits: there is work.
pub async fn notify<C: GenericClient>(c: &C, channel: &str) -> Result<(), Error> {
    notify_with(c, channel, "").await
}

/// Sends `payload` to the nodes listening on `channel` when this transaction commits.
pub async fn notify_with<C: GenericClient>(
    c: &C,
    channel: &str,
    payload: &str,
) -> Result<(), Error> {
    execute(c, "SELECT pg_notify($1, $2)", &[&channel, &payload])
        .await
        .map(drop)
}

/// Frees every lease. Only safe when no node can be attempting anything.
pub async fn release_all<C: GenericClient>(c: &C, now: Millis) -> Result<u64, Error> {
    execute(
        c,
        "UPDATE deliveries SET lease_until = NULL, next_attempt_at = least(next_attempt_at, $1)
         WHERE status = 0 AND lease_until IS NOT NULL",
        &[&now],
    )
    .await
}
