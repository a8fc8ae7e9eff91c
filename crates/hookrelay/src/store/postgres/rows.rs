//! Turning PostgreSQL rows into domain values, and the column lists that go with each.

use bytes::Bytes;
use livechat_webhooks::{compose_body, DataTypes, EventType, Sections};
use std::sync::Arc;
use tokio_postgres::Row;

use crate::domain::delivery::{Attempt, Delivery, DeliveryId, DeliveryStatus};
use crate::domain::health::Health;
use crate::domain::job::{DeliveryJob, JobSigning};
use crate::domain::license::License;
use crate::domain::listen_session::SessionHold;
use crate::domain::signing::SigningKeys;
use crate::domain::target::TargetUrl;
use crate::domain::visitor_details::VisitorDetails;
use crate::domain::webhook::Webhook;

/// A stored value that the domain refuses (only possible if the database was edited by hand).
#[derive(Debug, thiserror::Error)]
#[error("column {column}: {message}")]
pub struct BadValue {
    column: &'static str,
    message: String,
}

pub type RowResult<T> = Result<T, BadValue>;

pub const LICENSE_COLUMNS: &str = "license_id, login, token, api_key_hash, created_at";

/// A stored value that does not read back (only possible if the database was edited by hand).
pub fn internal(e: BadValue) -> crate::store::StoreError {
    crate::store::StoreError::Internal(e.into())
}

pub fn license(row: &Row) -> License {
    let hash: Vec<u8> = row.get(3);
    License {
        license_id: row.get(0),
        login: row.get(1),
        token: row.get(2),
        api_key_hash: hash.try_into().unwrap_or([0; 32]),
        created_at: row.get(4),
    }
}

pub use crate::store::columns::{HEALTH_COLUMNS, WEBHOOK_COLUMNS, WEBHOOK_FROM};

/// The health in [`HEALTH_COLUMNS`] starting at `at`; all null (no row) is a target that answers.
pub fn health(row: &Row, at: usize) -> Health {
    let Some(misses) = row.get::<_, Option<i32>>(at) else {
        return Health::default();
    };
    Health {
        misses: misses.max(0) as u32,
        silent_since: row.get(at + 1),
        probe_at: row.get(at + 2),
        probing: row.get(at + 3),
        probe_level: row.get::<_, i32>(at + 4).max(0) as u32,
        last_miss_at: row.get(at + 5),
        last_error: row.get(at + 6),
        probe_id: row.get(at + 7),
    }
}

pub fn webhook(row: &Row) -> RowResult<Webhook> {
    let url: String = row.get(2);
    let event_type = event_type(row, 3)?;
    Ok(Webhook {
        id: row.get(0),
        license_id: row.get(1),
        url: TargetUrl::stored(&url).map_err(|e| bad("url", e))?,
        event_type,
        data_types: DataTypes::from_bits_for(event_type, bits(row, 4)),
        description: row.get(5),
        enabled: row.get(6),
        created_at: row.get(7),
        updated_at: row.get(8),
        health: health(row, 9),
        signing: row
            .get::<_, Option<String>>(17)
            .map(|text| SigningKeys::read(&text)),
        disabled_reason: row.get(18),
        disabled_at: row.get(19),
        session: (row.get::<_, i16>(20) == 1).then(|| SessionHold {
            node: row.get(21),
            seen_at: row.get::<_, Option<i64>>(22).unwrap_or(0),
        }),
    })
}

pub const DELIVERY_COLUMNS: &str = "d.id, e.unique_id, d.webhook_id, d.event_type, d.status, \
     d.attempts, d.next_attempt_at, d.last_status_code, d.last_error, d.created_at, d.updated_at";

pub fn delivery(row: &Row) -> RowResult<Delivery> {
    Ok(Delivery {
        id: DeliveryId(row.get(0)),
        event_id: row.get(1),
        webhook_id: row.get(2),
        event_type: event_type(row, 3)?,
        status: DeliveryStatus::from_code(row.get::<_, i32>(4).into()),
        attempts: row.get::<_, i32>(5).into(),
        next_attempt_at: row.get(6),
        last_status_code: row.get::<_, Option<i32>>(7).map(|c| c as u16),
        last_error: row.get(8),
        created_at: row.get(9),
        updated_at: row.get(10),
    })
}

pub const ATTEMPT_COLUMNS: &str =
    "attempt_no, started_at, duration_ms, status_code, error, response_body";

pub fn attempt(row: &Row) -> Attempt {
    Attempt {
        attempt_no: row.get::<_, i32>(0).into(),
        started_at: row.get(1),
        duration_ms: row.get(2),
        status_code: row.get::<_, Option<i32>>(3).map(|c| c as u16),
        error: row.get(4),
        response_body: row.get(5),
    }
}

/// The columns [`job`] reads, from deliveries `d`, events `e`, webhooks `w`, licenses `l`.
pub const JOB_COLUMNS: &str = "d.id, d.attempts, d.license_id, d.webhook_id, d.event_type, \
     d.data_types, w.url, l.token, e.unique_id, e.chat, e.visitor, e.pre_chat_survey, e.ticket, \
     e.canned_response, e.webhook, e.delivery, d.lease_until, w.signing";

/// A delivery ready to attempt, its body composed from the event's sections. `offset` is where
/// [`JOB_COLUMNS`] start in the row.
pub fn job(row: &Row, offset: usize) -> RowResult<DeliveryJob> {
    let event_type = event_type(row, offset + 4)?;
    let license_id: String = row.get(offset + 2);
    let token: String = row.get(offset + 7);
    let unique_id: String = row.get(offset + 8);
    let sections = sections(row, offset + 9);
    let wanted = DataTypes::from_bits_for(event_type, bits(row, offset + 5));
    let body = compose_body(
        event_type,
        &token,
        &license_id,
        &unique_id,
        &sections,
        wanted,
    );
    Ok(DeliveryJob {
        id: DeliveryId(row.get(offset)),
        attempt_no: i64::from(row.get::<_, i32>(offset + 1)) + 1,
        license_id,
        webhook_id: row.get(offset + 3),
        event_type,
        url: row.get(offset + 6),
        body: Bytes::from(body),
        lease_until: row.get::<_, Option<i64>>(offset + 16).unwrap_or(0),
        signing: row
            .get::<_, Option<String>>(offset + 17)
            .map(|text| JobSigning {
                keys: Arc::new(SigningKeys::read(&text)),
                message_id: unique_id.clone(),
            }),
    })
}

/// What [`delivery_body`] reads (after [`DELIVERY_COLUMNS`]), from deliveries `d`, events `e`,
/// licenses `l`: the webhook itself may be gone, its body can still be shown.
pub const BODY_COLUMNS: &str =
    "d.data_types, l.token, e.chat, e.visitor, e.pre_chat_survey, e.ticket, e.canned_response, \
     e.webhook, e.delivery";

/// The exact body of a delivery: [`BODY_COLUMNS`] starting at `offset`.
pub fn delivery_body(row: &Row, offset: usize, delivery: &Delivery, license_id: &str) -> String {
    let sections = sections(row, offset + 2);
    let wanted = DataTypes::from_bits_for(delivery.event_type, bits(row, offset));
    let token: String = row.get(offset + 1);
    compose_body(
        delivery.event_type,
        &token,
        license_id,
        &delivery.event_id,
        &sections,
        wanted,
    )
}

/// One visitor-details set from (set id, icon, fields JSON, created_at, updated_at).
pub fn visitor_details(row: &Row, license_id: &str, visitor_id: &str) -> RowResult<VisitorDetails> {
    let fields: &str = row.get(2);
    Ok(VisitorDetails {
        license_id: license_id.to_string(),
        visitor_id: visitor_id.to_string(),
        id: row.get(0),
        icon: row.get(1),
        fields: serde_json::from_str(fields).map_err(|e| bad("fields", e))?,
        created_at: row.get(3),
        updated_at: row.get(4),
    })
}

pub fn event_type(row: &Row, idx: usize) -> RowResult<EventType> {
    let text: &str = row.get(idx);
    text.parse().map_err(|e| bad("event_type", e))
}

/// The event's seven data-type sections, in column order from `at`.
fn sections(row: &Row, at: usize) -> Sections {
    Sections {
        chat: row.get(at),
        visitor: row.get(at + 1),
        pre_chat_survey: row.get(at + 2),
        ticket: row.get(at + 3),
        canned_response: row.get(at + 4),
        webhook: row.get(at + 5),
        delivery: row.get(at + 6),
    }
}

fn bits(row: &Row, idx: usize) -> u8 {
    row.get::<_, i32>(idx) as u8
}

fn bad(column: &'static str, e: impl std::fmt::Display) -> BadValue {
    BadValue {
        column,
        message: e.to_string(),
    }
}
