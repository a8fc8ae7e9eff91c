//! Visitor detail sets pushed through the Visitors API.

use rusqlite::{params, Connection};

use super::super::rows;
use crate::domain::visitor_details::VisitorDetails;

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
