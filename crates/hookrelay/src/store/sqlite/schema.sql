-- hookrelay's SQLite schema, version 1. Times are Unix milliseconds.

CREATE TABLE settings (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) WITHOUT ROWID;

CREATE TABLE licenses (
    license_id   TEXT PRIMARY KEY,
    login        TEXT NOT NULL UNIQUE,
    token        TEXT NOT NULL,
    api_key_hash BLOB NOT NULL UNIQUE,
    created_at   INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE webhooks (
    id          TEXT PRIMARY KEY,
    license_id  TEXT NOT NULL,
    url         TEXT NOT NULL,
    event_type  TEXT NOT NULL,
    data_types  INTEGER NOT NULL,
    description TEXT,
    enabled     INTEGER NOT NULL,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX webhooks_by_event ON webhooks (license_id, event_type);

-- One row per accepted event; the data-type sections are kept once here and every delivery's
-- body is composed from them (and the delivery's data types), so a body is never stored twice.
CREATE TABLE events (
    id              INTEGER PRIMARY KEY,
    unique_id       TEXT NOT NULL,
    license_id      TEXT NOT NULL,
    event_type      TEXT NOT NULL,
    idempotency_key TEXT,
    chat            TEXT,
    visitor         TEXT,
    pre_chat_survey TEXT,
    ticket          TEXT,
    canned_response TEXT,
    deliveries      INTEGER NOT NULL,
    received_at     INTEGER NOT NULL
);
CREATE UNIQUE INDEX events_by_idempotency_key ON events (license_id, idempotency_key)
    WHERE idempotency_key IS NOT NULL;

-- status: 0 pending, 1 succeeded, 2 failed. A pending delivery is claimable once next_attempt_at
-- has passed. Claiming (or leasing at ingest) sets lease_until and moves next_attempt_at to the
-- same time, so deliveries under way stay out of the due range of the index, and one whose sender
-- died becomes due again by itself when its lease ends.
CREATE TABLE deliveries (
    id               INTEGER PRIMARY KEY,
    event_id         INTEGER NOT NULL,
    license_id       TEXT NOT NULL,
    webhook_id       TEXT NOT NULL,
    event_type       TEXT NOT NULL,
    data_types       INTEGER NOT NULL,
    status           INTEGER NOT NULL,
    attempts         INTEGER NOT NULL,
    next_attempt_at  INTEGER,
    lease_until      INTEGER,
    last_status_code INTEGER,
    last_error       TEXT,
    created_at       INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL
);
CREATE INDEX deliveries_due ON deliveries (next_attempt_at) WHERE status = 0;
CREATE INDEX deliveries_by_license ON deliveries (license_id, id);
CREATE INDEX deliveries_by_license_status ON deliveries (license_id, status, id);
CREATE INDEX deliveries_by_webhook ON deliveries (webhook_id, status);

CREATE TABLE attempts (
    id            INTEGER PRIMARY KEY,
    delivery_id   INTEGER NOT NULL,
    attempt_no    INTEGER NOT NULL,
    started_at    INTEGER NOT NULL,
    duration_ms   INTEGER NOT NULL,
    status_code   INTEGER,
    error         TEXT,
    response_body TEXT
);
CREATE INDEX attempts_by_delivery ON attempts (delivery_id);

-- The last tag list seen per chat, for the chat_changed rule. Tags are a sorted JSON array.
CREATE TABLE chat_tags (
    license_id TEXT NOT NULL,
    chat_id    TEXT NOT NULL,
    tags       TEXT NOT NULL,
    PRIMARY KEY (license_id, chat_id)
) WITHOUT ROWID;
