-- Who registered each webhook: `admin`, `token:<token id>` or
-- `anonymous:<client address>`. Only that registrant (or the admin) may
-- change it, and it stops (state `revoked`) when that access ends. Webhooks
-- from before this column was kept are treated as anonymous.
ALTER TABLE webhooks ADD COLUMN registered_by TEXT NOT NULL DEFAULT 'anonymous:';
