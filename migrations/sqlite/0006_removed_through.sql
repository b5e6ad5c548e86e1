-- The newest event id ever removed from the channel (by retention or by
-- deletion). Retention removes a prefix of the channel, so a resume point
-- older than this has missed events that can no longer be read: a gap the
-- consumer is told about.
ALTER TABLE channels ADD COLUMN removed_through TEXT;
