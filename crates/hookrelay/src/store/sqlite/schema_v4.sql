-- hookrelay's SQLite schema, version 4 (applied on top of version 3): signed webhooks.
--
-- A signing webhook's keys (domain/signing.rs: the current secret and the rotated-out ones still
-- in their grace period, as JSON); NULL for a webhook that does not sign.
ALTER TABLE webhooks ADD COLUMN signing TEXT;
