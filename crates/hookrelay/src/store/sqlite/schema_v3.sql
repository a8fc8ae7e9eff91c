-- hookrelay's SQLite schema, version 3 (applied on top of version 2): target health in the store.
--
-- A target is one scheme://host:port; every webhook pointing there shares its health. A row
-- exists only for a target that missed at least once (see domain/health.rs for the fields).
CREATE TABLE targets (
    key          TEXT PRIMARY KEY,
    misses       INTEGER NOT NULL,
    silent_since INTEGER,
    probe_at     INTEGER,
    probing      INTEGER NOT NULL,
    probe_level  INTEGER NOT NULL,
    last_miss_at INTEGER,
    last_error   TEXT
) WITHOUT ROWID;
CREATE INDEX targets_probes ON targets (probe_at) WHERE silent_since IS NOT NULL;

-- The key of each webhook's target (filled from the URL at start for webhooks made before).
ALTER TABLE webhooks ADD COLUMN target_key TEXT NOT NULL DEFAULT '';
CREATE INDEX webhooks_by_target ON webhooks (target_key);

-- A parked delivery (parked = 1) waits for its silent target to answer: claims never see it, and
-- its next_attempt_at is when it is given up if the target stays silent.
ALTER TABLE deliveries ADD COLUMN parked INTEGER NOT NULL DEFAULT 0;
DROP INDEX deliveries_due;
CREATE INDEX deliveries_due ON deliveries (next_attempt_at) WHERE status = 0 AND parked = 0;
CREATE INDEX deliveries_parked ON deliveries (next_attempt_at) WHERE status = 0 AND parked = 1;
DROP INDEX deliveries_by_webhook;
CREATE INDEX deliveries_by_webhook ON deliveries (webhook_id, status, parked, attempts);
