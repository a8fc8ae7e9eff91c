//! Settings and licenses.

use rusqlite::{params, Connection, OptionalExtension};

use super::super::rows;
use crate::domain::license::License;

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
