//! Visitor details pushed through the Visitors API.

use deadpool_postgres::GenericClient;
use tokio_postgres::{Error, Row};

use super::{execute, query};
use crate::domain::visitor_details::VisitorDetails;

/// Inserts a set, or replaces the one with the same visitor and set id (keeping its
/// `created_at`). One statement, so nodes pushing the same set at once cannot both insert it.
pub async fn upsert_visitor_details<C: GenericClient>(
    c: &C,
    d: &VisitorDetails,
    fields_json: &str,
) -> Result<(), Error> {
    execute(
        c,
        "INSERT INTO visitor_details
             (license_id, visitor_id, set_id, icon, fields, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7)
         ON CONFLICT (license_id, visitor_id, set_id) DO UPDATE SET
             icon = excluded.icon, fields = excluded.fields, updated_at = excluded.updated_at",
        &[
            &d.license_id,
            &d.visitor_id,
            &d.id,
            &d.icon,
            &fields_json,
            &d.created_at,
            &d.updated_at,
        ],
    )
    .await
    .map(drop)
}

/// Every set of one visitor, oldest first: (set id, icon, fields JSON, created_at, updated_at).
pub async fn visitor_details_of<C: GenericClient>(
    c: &C,
    license_id: &str,
    visitor_id: &str,
) -> Result<Vec<Row>, Error> {
    query(
        c,
        "SELECT set_id, icon, fields, created_at, updated_at FROM visitor_details
         WHERE license_id = $1 AND visitor_id = $2 ORDER BY created_at, set_id",
        &[&license_id, &visitor_id],
    )
    .await
}
