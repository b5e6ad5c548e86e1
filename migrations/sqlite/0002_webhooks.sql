-- Webhooks, their delivery outbox, and a log of recent attempts.
CREATE TABLE webhooks (
    id              TEXT PRIMARY KEY,
    channel_id      TEXT NOT NULL REFERENCES channels(id) ON DELETE CASCADE,
    url             TEXT NOT NULL,
    event_types     TEXT,
    secret          TEXT NOT NULL,
    created_at      INTEGER NOT NULL,
    expires_at      INTEGER NOT NULL,
    state           TEXT NOT NULL,
    last_error      TEXT,
    failing_since   INTEGER,
    last_success_at INTEGER,
    UNIQUE (channel_id, url)
);

-- One row per (webhook, event) still to deliver, written in the event's own
-- transaction. Delivered in id order per webhook.
CREATE TABLE webhook_jobs (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    webhook_id      TEXT NOT NULL REFERENCES webhooks(id) ON DELETE CASCADE,
    event_id        TEXT NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL
);
CREATE INDEX webhook_jobs_by_webhook ON webhook_jobs(webhook_id, id);
CREATE INDEX webhook_jobs_due ON webhook_jobs(next_attempt_at);

CREATE TABLE webhook_attempts (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    webhook_id  TEXT NOT NULL REFERENCES webhooks(id) ON DELETE CASCADE,
    event_id    TEXT NOT NULL,
    attempt     INTEGER NOT NULL,
    at          INTEGER NOT NULL,
    outcome     TEXT NOT NULL,
    status      INTEGER,
    error       TEXT,
    duration_ms INTEGER NOT NULL
);
CREATE INDEX webhook_attempts_by_webhook ON webhook_attempts(webhook_id, id);
