//! Visitor details (the Visitors API's sets) on PostgreSQL: storing one set, reading a visitor's.

use deadpool_postgres::Object;

use super::sql::visitors;
use super::{error, internal, rows};
use crate::domain::visitor_details::VisitorDetails;
use crate::store::{StoreError, StoreResult};

/// See [`crate::store::Store::put_visitor_details`].
pub async fn put(c: &Object, details: &VisitorDetails) -> StoreResult<()> {
    let fields =
        serde_json::to_string(&details.fields).map_err(|e| StoreError::Internal(e.into()))?;
    visitors::upsert_visitor_details(c, details, &fields)
        .await
        .map_err(error::db)
}

/// See [`crate::store::Store::visitor_details`].
pub async fn of(
    c: &Object,
    license_id: &str,
    visitor_id: &str,
) -> StoreResult<Vec<VisitorDetails>> {
    let found = visitors::visitor_details_of(c, license_id, visitor_id)
        .await
        .map_err(error::db)?;
    found
        .iter()
        .map(|r| rows::visitor_details(r, license_id, visitor_id))
        .collect::<Result<_, _>>()
        .map_err(internal)
}
