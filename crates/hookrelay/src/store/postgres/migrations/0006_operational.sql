-- Auto-disable and operational events (version 6 is another step's).
--
-- A webhook's failure streak (from its first unsuccessful attempt since its last success), kept
-- by the recorder with the attempts; why and when hookrelay disabled it; and whether its
-- `webhook_disabled` event is still to be produced.
ALTER TABLE webhooks ADD COLUMN failing_since BIGINT;
ALTER TABLE webhooks ADD COLUMN last_failure_at BIGINT;
ALTER TABLE webhooks ADD COLUMN last_failure TEXT;
ALTER TABLE webhooks ADD COLUMN disabled_reason TEXT;
ALTER TABLE webhooks ADD COLUMN disabled_at BIGINT;
ALTER TABLE webhooks ADD COLUMN disable_notice BOOLEAN NOT NULL DEFAULT false;
CREATE INDEX webhooks_disable_notices ON webhooks (disabled_at) WHERE disable_notice;

-- A delivery that failed for good and whose `delivery_failed` event is still to be produced.
ALTER TABLE deliveries ADD COLUMN failure_notice BOOLEAN NOT NULL DEFAULT false;
CREATE INDEX deliveries_failure_notices ON deliveries (id) WHERE failure_notice;

-- The sections of the operational events.
ALTER TABLE events ADD COLUMN webhook TEXT;
ALTER TABLE events ADD COLUMN delivery TEXT;
