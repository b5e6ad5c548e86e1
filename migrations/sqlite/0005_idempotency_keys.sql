-- Idempotent publishing: one row per (channel, Idempotency-Key), written in the
-- same transaction as the events it stored, so that a retry after a crash
-- (or a lost answer) finds it and stores nothing.
CREATE TABLE idempotency_keys (
    channel_id  TEXT NOT NULL,
    key         TEXT NOT NULL,
    -- SHA-256 of the publisher and the request's events: a reuse of the key
    -- for another request is refused.
    fingerprint TEXT NOT NULL,
    -- The stored events as a JSON array: the answer a repeat gets.
    response    TEXT,
    created_at  INTEGER NOT NULL,
    PRIMARY KEY (channel_id, key)
);
CREATE INDEX idempotency_keys_by_age ON idempotency_keys(created_at);
