//! The statements of a group-committed ingest. Each works on a whole batch at once (arrays and
//! `unnest`), so a commit of a thousand events costs a handful of round trips, not thousands.

use deadpool_postgres::GenericClient;
use tokio_postgres::{Error, Row};

use super::{execute, query};
use crate::domain::event::NewEvent;
use crate::domain::ingest_plan::PlannedDelivery;
use crate::domain::Millis;
use crate::store::postgres::rows::HEALTH_COLUMNS;

/// Takes `n` event ids from the sequence, so the batch knows each event's id before inserting.
pub async fn reserve_event_ids<C: GenericClient>(c: &C, n: usize) -> Result<Vec<i64>, Error> {
    let rows = query(
        c,
        "SELECT nextval(pg_get_serial_sequence('events', 'id')) FROM generate_series(1, $1::int)",
        &[&(n as i32)],
    )
    .await?;
    Ok(rows.iter().map(|r| r.get(0)).collect())
}

/// One new event to insert.
pub struct EventRow<'a> {
    /// Its id, reserved with [`reserve_event_ids`].
    pub id: i64,
    pub license_id: &'a str,
    pub event: &'a NewEvent,
    pub deliveries: i32,
    pub received_at: Millis,
}

/// Inserts new events. Their idempotency keys were locked ([`lock_idempotency_keys`]) and found
/// unused, so the unique index cannot refuse them unless something is badly wrong; then the
/// whole commit fails rather than store deliveries of an event that is not there.
pub async fn insert_events<C: GenericClient>(c: &C, events: &[EventRow<'_>]) -> Result<u64, Error> {
    let ids: Vec<i64> = events.iter().map(|e| e.id).collect();
    let unique: Vec<&str> = events.iter().map(|e| e.event.unique_id.as_str()).collect();
    let licenses: Vec<&str> = events.iter().map(|e| e.license_id).collect();
    let types: Vec<&str> = events.iter().map(|e| e.event.event_type.as_str()).collect();
    let keys: Vec<Option<&str>> = events
        .iter()
        .map(|e| e.event.idempotency_key.as_deref())
        .collect();
    let section = |pick: fn(&NewEvent) -> &Option<String>| -> Vec<Option<&str>> {
        events.iter().map(|e| pick(e.event).as_deref()).collect()
    };
    let chat = section(|e| &e.sections.chat);
    let visitor = section(|e| &e.sections.visitor);
    let survey = section(|e| &e.sections.pre_chat_survey);
    let ticket = section(|e| &e.sections.ticket);
    let canned = section(|e| &e.sections.canned_response);
    let webhook = section(|e| &e.sections.webhook);
    let delivery = section(|e| &e.sections.delivery);
    let visitor_id: Vec<Option<&str>> = events.iter().map(|e| e.event.find_visitor_id()).collect();
    let chat_id: Vec<Option<&str>> = events.iter().map(|e| e.event.find_chat_id()).collect();
    let deliveries: Vec<i32> = events.iter().map(|e| e.deliveries).collect();
    let received: Vec<i64> = events.iter().map(|e| e.received_at).collect();
    execute(
        c,
        "INSERT INTO events (id, unique_id, license_id, event_type, idempotency_key, chat, visitor,
                             pre_chat_survey, ticket, canned_response, deliveries, received_at,
                             webhook, delivery, chat_id, visitor_id)
         SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[],
                              $6::text[], $7::text[], $8::text[], $9::text[], $10::text[],
                              $11::int[], $12::bigint[], $13::text[], $14::text[], $15::text[],
                              $16::text[])",
        &[
            &ids,
            &unique,
            &licenses,
            &types,
            &keys,
            &chat,
            &visitor,
            &survey,
            &ticket,
            &canned,
            &deliveries,
            &received,
            &webhook,
            &delivery,
            &chat_id,
            &visitor_id,
        ],
    )
    .await
}

/// Takes a transaction-scoped lock on each (license, idempotency key), in the given (sorted)
/// order, so that nodes racing on one key take turns: the second sees the first's event.
pub async fn lock_idempotency_keys<C: GenericClient>(
    c: &C,
    keys: &[(&str, &str)],
) -> Result<u64, Error> {
    let joined: Vec<String> = keys.iter().map(|(l, k)| format!("{l}:{k}")).collect();
    execute(
        c,
        "SELECT pg_advisory_xact_lock(hashtextextended('hookrelay.idempotency:' || u.k, 0))
         FROM unnest($1::text[]) WITH ORDINALITY AS u(k, n) ORDER BY u.n",
        &[&joined],
    )
    .await
}

/// Makes sure a tag row exists for each (license, chat) (a chat never seen has no tags), so
/// that [`lock_chat_tags`] has a row to lock even for a chat two nodes see first at once.
/// `keys` must be sorted: every transaction then takes these locks in the same order.
pub async fn ensure_chat_tags<C: GenericClient>(
    c: &C,
    keys: &[(&str, &str)],
) -> Result<u64, Error> {
    let (licenses, chats): (Vec<&str>, Vec<&str>) = keys.iter().copied().unzip();
    execute(
        c,
        "INSERT INTO chat_tags (license_id, chat_id, tags)
         SELECT u.license_id, u.chat_id, '[]' FROM unnest($1::text[], $2::text[])
              WITH ORDINALITY AS u(license_id, chat_id, n)
         ORDER BY u.n
         ON CONFLICT (license_id, chat_id) DO NOTHING",
        &[&licenses, &chats],
    )
    .await
}

/// Locks the tag rows of `keys` until the commit and returns (license, chat, tags JSON).
pub async fn lock_chat_tags<C: GenericClient>(
    c: &C,
    keys: &[(&str, &str)],
) -> Result<Vec<(String, String, String)>, Error> {
    let (licenses, chats): (Vec<&str>, Vec<&str>) = keys.iter().copied().unzip();
    let rows = query(
        c,
        "SELECT t.license_id, t.chat_id, t.tags FROM chat_tags t
         JOIN unnest($1::text[], $2::text[]) AS u(license_id, chat_id)
           ON t.license_id = u.license_id AND t.chat_id = u.chat_id
         ORDER BY t.license_id, t.chat_id
         FOR UPDATE OF t",
        &[&licenses, &chats],
    )
    .await?;
    Ok(rows
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect())
}

/// Stores the latest tag list (JSON) per (license, chat), and that the chat was seen now (for
/// retention).
pub async fn update_chat_tags<C: GenericClient>(
    c: &C,
    rows: &[(&str, &str, String)],
) -> Result<u64, Error> {
    let licenses: Vec<&str> = rows.iter().map(|r| r.0).collect();
    let chats: Vec<&str> = rows.iter().map(|r| r.1).collect();
    let tags: Vec<&str> = rows.iter().map(|r| r.2.as_str()).collect();
    execute(
        c,
        "UPDATE chat_tags t
         SET tags = u.tags, seen_at = (extract(epoch FROM clock_timestamp()) * 1000)::bigint
         FROM unnest($1::text[], $2::text[], $3::text[]) AS u(license_id, chat_id, tags)
         WHERE t.license_id = u.license_id AND t.chat_id = u.chat_id",
        &[&licenses, &chats, &tags],
    )
    .await
}

/// The enabled webhooks for each (license, event type) in `keys`, in creation order, each with
/// its target's health, key-share-locked until the commit (a concurrent transition, which locks
/// `FOR UPDATE`, waits for this commit, or this read waits for the transition's; arming a probe,
/// which only takes `FOR NO KEY UPDATE`, does not): `(license, event type, webhook id, url, data types,
/// target key, health columns…, signing, held elsewhere)` rows; "held elsewhere" is a listen
/// session's webhook whose socket is not on `node`.
pub async fn webhook_targets<C: GenericClient>(
    c: &C,
    keys: &[(&str, &str)],
    node: &str,
) -> Result<Vec<Row>, Error> {
    let (licenses, types): (Vec<&str>, Vec<&str>) = keys.iter().copied().unzip();
    let sql = format!(
        "WITH w AS (
             SELECT w.license_id, w.event_type, w.id, w.url, w.data_types, w.target_key,
                    w.created_at, w.signing,
                    w.kind = 1 AND w.session_node IS DISTINCT FROM $3 AS held_elsewhere,
                    w.kind = 1 AND w.session_node IS NULL AS unheld
             FROM webhooks w
             JOIN unnest($1::text[], $2::text[]) AS u(license_id, event_type)
               ON w.license_id = u.license_id AND w.event_type = u.event_type
             WHERE w.enabled),
         t AS (
             SELECT * FROM targets WHERE key IN (SELECT target_key FROM w)
             ORDER BY key FOR KEY SHARE)
         SELECT w.license_id, w.event_type, w.id, w.url, w.data_types, w.target_key,
                {HEALTH_COLUMNS}, w.signing, w.held_elsewhere, w.unheld
         FROM w LEFT JOIN t ON t.key = w.target_key
         ORDER BY w.created_at, w.id"
    );
    query(c, &sql, &[&licenses, &types, &node]).await
}

/// One new delivery to insert.
pub struct DeliveryRow<'a> {
    pub event_id: i64,
    pub license_id: &'a str,
    pub event_type: &'a str,
    pub planned: &'a PlannedDelivery,
    pub now: Millis,
}

/// Inserts pending deliveries; returns `(delivery id, event id, webhook id)` rows.
pub async fn insert_deliveries<C: GenericClient>(
    c: &C,
    rows: &[DeliveryRow<'_>],
) -> Result<Vec<Row>, Error> {
    let events: Vec<i64> = rows.iter().map(|r| r.event_id).collect();
    let licenses: Vec<&str> = rows.iter().map(|r| r.license_id).collect();
    let webhooks: Vec<&str> = rows.iter().map(|r| r.planned.webhook_id.as_str()).collect();
    let types: Vec<&str> = rows.iter().map(|r| r.event_type).collect();
    let bits: Vec<i32> = rows
        .iter()
        .map(|r| i32::from(r.planned.data_types))
        .collect();
    let now: Vec<i64> = rows.iter().map(|r| r.now).collect();
    let due: Vec<i64> = rows.iter().map(|r| r.planned.next_attempt_at).collect();
    let leases: Vec<Option<i64>> = rows.iter().map(|r| r.planned.lease_until).collect();
    let parked: Vec<bool> = rows.iter().map(|r| r.planned.parked).collect();
    query(
        c,
        "INSERT INTO deliveries (event_id, license_id, webhook_id, event_type, data_types, status,
                                 attempts, next_attempt_at, lease_until, parked, created_at,
                                 updated_at)
         SELECT u.event_id, u.license_id, u.webhook_id, u.event_type, u.data_types, 0, 0,
                u.due, u.lease_until, u.parked, u.now, u.now
         FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::int[], $6::bigint[],
                     $7::bigint[], $8::bigint[], $9::bool[])
              AS u(event_id, license_id, webhook_id, event_type, data_types, now, due, lease_until,
                   parked)
         RETURNING id, event_id, webhook_id",
        &[
            &events, &licenses, &webhooks, &types, &bits, &now, &due, &leases, &parked,
        ],
    )
    .await
}

/// The events that already used these (license, idempotency key) pairs:
/// (license, key, unique id, deliveries).
pub async fn earlier_events<C: GenericClient>(
    c: &C,
    keys: &[(&str, &str)],
) -> Result<Vec<(String, String, String, i32)>, Error> {
    let (licenses, idempotency): (Vec<&str>, Vec<&str>) = keys.iter().copied().unzip();
    let rows = query(
        c,
        "SELECT e.license_id, e.idempotency_key, e.unique_id, e.deliveries FROM events e
         JOIN unnest($1::text[], $2::text[]) AS u(license_id, idempotency_key)
           ON e.license_id = u.license_id AND e.idempotency_key = u.idempotency_key",
        &[&licenses, &idempotency],
    )
    .await?;
    Ok(rows
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3)))
        .collect())
}
