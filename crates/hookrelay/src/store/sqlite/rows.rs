//! Turning SQLite rows into domain values.

use livechat_webhooks::{DataTypes, EventType};
use rusqlite::Row;

use crate::domain::delivery::{Attempt, Delivery, DeliveryId, DeliveryStatus};
use crate::domain::health::Health;
use crate::domain::license::License;
use crate::domain::listen_session::SessionHold;
use crate::domain::signing::SigningKeys;
use crate::domain::target::TargetUrl;
use crate::domain::visitor_details::VisitorDetails;
use crate::domain::webhook::Webhook;

pub const LICENSE_COLUMNS: &str = "license_id, login, token, api_key_hash, created_at";

pub fn license(row: &Row) -> rusqlite::Result<License> {
    let hash: Vec<u8> = row.get(3)?;
    Ok(License {
        license_id: row.get(0)?,
        login: row.get(1)?,
        token: row.get(2)?,
        api_key_hash: hash.try_into().unwrap_or([0; 32]),
        created_at: row.get(4)?,
    })
}

pub use crate::store::columns::{HEALTH_COLUMNS, WEBHOOK_COLUMNS, WEBHOOK_FROM};

/// The health in [`HEALTH_COLUMNS`] starting at `at`; all null (no row) is a target that answers.
pub fn health(row: &Row, at: usize) -> rusqlite::Result<Health> {
    let Some(misses) = row.get::<_, Option<u32>>(at)? else {
        return Ok(Health::default());
    };
    Ok(Health {
        misses,
        silent_since: row.get(at + 1)?,
        probe_at: row.get(at + 2)?,
        probing: row.get(at + 3)?,
        probe_level: row.get(at + 4)?,
        last_miss_at: row.get(at + 5)?,
        last_error: row.get(at + 6)?,
        probe_id: row.get(at + 7)?,
    })
}

pub fn webhook(row: &Row) -> rusqlite::Result<Webhook> {
    let url: String = row.get(2)?;
    let event_type = event_type(row, 3)?;
    Ok(Webhook {
        id: row.get(0)?,
        license_id: row.get(1)?,
        url: TargetUrl::stored(&url).map_err(|e| bad_value(2, e.to_string()))?,
        event_type,
        data_types: DataTypes::from_bits_for(event_type, row.get(4)?),
        description: row.get(5)?,
        enabled: row.get(6)?,
        created_at: row.get(7)?,
        updated_at: row.get(8)?,
        health: health(row, 9)?,
        signing: row
            .get::<_, Option<String>>(17)?
            .map(|text| SigningKeys::read(&text)),
        disabled_reason: row.get(18)?,
        disabled_at: row.get(19)?,
        session: match row.get::<_, i64>(20)? {
            1 => Some(SessionHold {
                node: row.get(21)?,
                seen_at: row.get::<_, Option<i64>>(22)?.unwrap_or(0),
            }),
            _ => None,
        },
    })
}

pub const DELIVERY_COLUMNS: &str = "d.id, e.unique_id, d.webhook_id, d.event_type, d.status, \
     d.attempts, d.next_attempt_at, d.last_status_code, d.last_error, d.created_at, d.updated_at";

pub fn delivery(row: &Row) -> rusqlite::Result<Delivery> {
    Ok(Delivery {
        id: DeliveryId(row.get(0)?),
        event_id: row.get(1)?,
        webhook_id: row.get(2)?,
        event_type: event_type(row, 3)?,
        status: DeliveryStatus::from_code(row.get(4)?),
        attempts: row.get(5)?,
        next_attempt_at: row.get(6)?,
        last_status_code: row.get::<_, Option<i64>>(7)?.map(|c| c as u16),
        last_error: row.get(8)?,
        created_at: row.get(9)?,
        updated_at: row.get(10)?,
    })
}

pub const ATTEMPT_COLUMNS: &str =
    "attempt_no, started_at, duration_ms, status_code, error, response_body";

pub fn attempt(row: &Row) -> rusqlite::Result<Attempt> {
    Ok(Attempt {
        attempt_no: row.get(0)?,
        started_at: row.get(1)?,
        duration_ms: row.get(2)?,
        status_code: row.get::<_, Option<i64>>(3)?.map(|c| c as u16),
        error: row.get(4)?,
        response_body: row.get(5)?,
    })
}

pub const VISITOR_DETAILS_COLUMNS: &str =
    "license_id, visitor_id, set_id, icon, fields, created_at, updated_at";

pub fn visitor_details(row: &Row) -> rusqlite::Result<VisitorDetails> {
    let fields: String = row.get(4)?;
    Ok(VisitorDetails {
        license_id: row.get(0)?,
        visitor_id: row.get(1)?,
        id: row.get(2)?,
        icon: row.get(3)?,
        fields: serde_json::from_str(&fields).map_err(|e| bad_value(4, e.to_string()))?,
        created_at: row.get(5)?,
        updated_at: row.get(6)?,
    })
}

pub fn event_type(row: &Row, idx: usize) -> rusqlite::Result<EventType> {
    let text: String = row.get(idx)?;
    text.parse()
        .map_err(|e: livechat_webhooks::UnknownEventType| bad_value(idx, e.to_string()))
}

fn bad_value(idx: usize, message: String) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(idx, rusqlite::types::Type::Text, message.into())
}
