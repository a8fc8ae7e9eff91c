-- hookrelay's SQLite schema, version 6 (applied on top of version 5):
-- auto-disable and operational events.
--
-- A webhook's failure streak (from its first unsuccessful attempt since its last success), kept
-- by the recorder with the attempts; why and when hookrelay disabled it; and whether its
-- `webhook_disabled` event is still to be produced.
ALTER TABLE webhooks ADD COLUMN failing_since INTEGER;
ALTER TABLE webhooks ADD COLUMN last_failure_at INTEGER;
ALTER TABLE webhooks ADD COLUMN last_failure TEXT;
ALTER TABLE webhooks ADD COLUMN disabled_reason TEXT;
ALTER TABLE webhooks ADD COLUMN disabled_at INTEGER;
ALTER TABLE webhooks ADD COLUMN disable_notice INTEGER NOT NULL DEFAULT 0;
CREATE INDEX webhooks_disable_notices ON webhooks (disabled_at) WHERE disable_notice = 1;

-- A delivery that failed for good and whose `delivery_failed` event is still to be produced.
ALTER TABLE deliveries ADD COLUMN failure_notice INTEGER NOT NULL DEFAULT 0;
CREATE INDEX deliveries_failure_notices ON deliveries (id) WHERE failure_notice = 1;

-- The sections of the operational events.
ALTER TABLE events ADD COLUMN webhook TEXT;
ALTER TABLE events ADD COLUMN delivery TEXT;
