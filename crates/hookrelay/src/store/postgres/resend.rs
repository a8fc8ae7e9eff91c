//! Deliveries as shown (a filtered page of the list; one with its exact body and every attempt),
//! and resending one: the lock, the checks and the new lease in one transaction.

use deadpool_postgres::Object;

use super::sql::deliveries;
use super::{error, internal, rows};
use crate::domain::delivery::{Delivery, DeliveryFilter, DeliveryId};
use crate::domain::Millis;
use crate::store::{DeliveryDetail, Resend, StoreResult};

/// A page of the license's deliveries (see [`crate::store::Store::deliveries`]).
pub async fn list(c: &Object, license_id: &str, f: &DeliveryFilter) -> StoreResult<Vec<Delivery>> {
    let found = deliveries::deliveries(c, license_id, f)
        .await
        .map_err(error::db)?;
    found
        .iter()
        .map(rows::delivery)
        .collect::<Result<_, _>>()
        .map_err(internal)
}

/// The delivery with its body and attempts (see [`crate::store::Store::delivery`]).
pub async fn detail(
    c: &Object,
    license_id: &str,
    id: DeliveryId,
) -> StoreResult<Option<DeliveryDetail>> {
    let Some(row) = deliveries::delivery(c, license_id, id)
        .await
        .map_err(error::db)?
    else {
        return Ok(None);
    };
    let delivery = rows::delivery(&row).map_err(internal)?;
    let body = rows::delivery_body(&row, 11, &delivery, license_id);
    let attempts = deliveries::attempts(c, id).await.map_err(error::db)?;
    Ok(Some(DeliveryDetail {
        delivery,
        license_id: license_id.to_string(),
        body,
        attempts: attempts.iter().map(rows::attempt).collect(),
    }))
}

/// Makes a delivery pending, due now and leased (see [`crate::store::Store::resend`]).
pub async fn resend(
    c: &mut Object,
    license_id: &str,
    id: DeliveryId,
    now: Millis,
    lease_until: Millis,
) -> StoreResult<Resend> {
    let tx = c.transaction().await.map_err(error::db)?;
    let current = deliveries::lock_for_resend(&tx, license_id, id)
        .await
        .map_err(error::db)?;
    match current {
        None => return Ok(Resend::NotFound),
        Some((_, _, false)) => return Ok(Resend::WebhookDeleted),
        Some((0, Some(lease), _)) if lease > now => return Ok(Resend::InFlight),
        Some(_) => {}
    }
    let row = deliveries::lease_now(&tx, id, now, lease_until)
        .await
        .map_err(error::db)?;
    let job = rows::job(&row, 0).map_err(internal)?;
    tx.commit().await.map_err(error::db)?;
    Ok(Resend::Job(job))
}
