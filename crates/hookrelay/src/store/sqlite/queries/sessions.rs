//! Listen sessions: which node holds each (its webhooks' `session_node` and `session_seen_at`).

use rusqlite::{params, Connection};

use super::super::rows::{self, WEBHOOK_COLUMNS, WEBHOOK_FROM};
use super::webhooks::delete_webhook_if;
use crate::domain::listen_session::UNHELD_WAIT;
use crate::domain::target::TargetUrl;
use crate::domain::webhook::Webhook;
use crate::domain::Millis;

/// Holds the session for `node` if nobody holds it (or `take_over`); makes its pending
/// deliveries that are not under way due now. Returns its webhook ids (empty: not taken).
#[allow(clippy::too_many_arguments)]
pub fn hold_session(
    conn: &Connection,
    license_id: &str,
    session_id: &str,
    node: &str,
    now: Millis,
    stale_before: Millis,
    take_over: bool,
) -> rusqlite::Result<Vec<String>> {
    let url = TargetUrl::session(session_id);
    let ids: Vec<String> = conn
        .prepare_cached(
            "UPDATE webhooks SET session_node = ?3, session_seen_at = ?4
             WHERE license_id = ?1 AND url = ?2 AND kind = 1
               AND (?6 OR session_node IS NULL OR session_seen_at < ?5)
             RETURNING id",
        )?
        .query_map(
            params![
                license_id,
                url.as_stored(),
                node,
                now,
                stale_before,
                take_over
            ],
            |r| r.get(0),
        )?
        .collect::<rusqlite::Result<_>>()?;
    let mut due = conn.prepare_cached(
        "UPDATE deliveries SET parked = 0, next_attempt_at = ?2
         WHERE webhook_id = ?1 AND status = 0 AND (lease_until IS NULL OR lease_until <= ?2)",
    )?;
    for id in &ids {
        due.execute(params![id, now])?;
    }
    Ok(ids)
}

/// Refreshes `node`'s hold of these sessions; returns those it still holds.
pub fn touch_sessions(
    conn: &Connection,
    session_ids: &[String],
    node: &str,
    now: Millis,
) -> rusqlite::Result<Vec<String>> {
    let mut touch = conn.prepare_cached(
        "UPDATE webhooks SET session_seen_at = ?3
         WHERE url = ?1 AND kind = 1 AND session_node = ?2",
    )?;
    let mut held = Vec::new();
    for id in session_ids {
        let url = TargetUrl::session(id);
        if touch.execute(params![url.as_stored(), node, now])? > 0 {
            held.push(id.clone());
        }
    }
    Ok(held)
}

/// `node` lets go of the session: nobody holds it from `now`, and its pending deliveries that
/// are not under way wait out of the due range (`UNHELD_WAIT`) for the command to come back.
pub fn release_session(
    conn: &Connection,
    session_id: &str,
    node: &str,
    now: Millis,
) -> rusqlite::Result<()> {
    let url = TargetUrl::session(session_id);
    let ids: Vec<String> = conn
        .prepare_cached(
            "UPDATE webhooks SET session_node = NULL, session_seen_at = ?3
             WHERE url = ?1 AND kind = 1 AND session_node = ?2
             RETURNING id",
        )?
        .query_map(params![url.as_stored(), node, now], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    let away = now + UNHELD_WAIT.as_millis() as Millis;
    let mut wait = conn.prepare_cached(
        "UPDATE deliveries SET next_attempt_at = ?3
         WHERE webhook_id = ?1 AND status = 0 AND parked = 0
           AND (lease_until IS NULL OR lease_until <= ?2)",
    )?;
    for id in &ids {
        wait.execute(params![id, now, away])?;
    }
    Ok(())
}

/// Removes the webhooks of sessions nobody has held since `before`; returns them.
pub fn remove_expired_sessions(
    conn: &Connection,
    before: Millis,
    now: Millis,
) -> rusqlite::Result<Vec<Webhook>> {
    let sql = format!(
        "SELECT {WEBHOOK_COLUMNS} FROM {WEBHOOK_FROM}
         WHERE w.kind = 1 AND w.session_seen_at < ?1 LIMIT 100"
    );
    let expired: Vec<Webhook> = conn
        .prepare_cached(&sql)?
        .query_map([before], rows::webhook)?
        .collect::<rusqlite::Result<_>>()?;
    let mut removed = Vec::with_capacity(expired.len());
    for w in expired {
        if delete_webhook_if(conn, &w.license_id, &w.id, now, Some(before))? {
            removed.push(w);
        }
    }
    Ok(removed)
}
