-- Channels, their tokens and events, and server settings.
-- Times are milliseconds since the Unix epoch; JSON is stored as text, untouched.
CREATE TABLE settings (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE channels (
    id              TEXT PRIMARY KEY,
    name            TEXT NOT NULL,
    description     TEXT NOT NULL,
    tags            TEXT NOT NULL,
    is_public       BOOLEAN NOT NULL,
    meta            TEXT NOT NULL,
    config          TEXT NOT NULL,
    max_age_seconds INTEGER,
    max_events      INTEGER,
    created_at      INTEGER NOT NULL,
    event_count     INTEGER NOT NULL DEFAULT 0,
    last_event_at   INTEGER,
    -- Highest id ever appended: new ids are made larger than it, so ids follow commit order.
    last_event_id   TEXT
);

CREATE TABLE tokens (
    id           TEXT PRIMARY KEY,
    channel_id   TEXT NOT NULL REFERENCES channels(id) ON DELETE CASCADE,
    kind         TEXT NOT NULL,
    name         TEXT,
    publisher_id TEXT,
    secret_hash  TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    expires_at   INTEGER
);
CREATE INDEX tokens_by_channel ON tokens(channel_id);

CREATE TABLE events (
    channel_id     TEXT NOT NULL REFERENCES channels(id) ON DELETE CASCADE,
    id             TEXT NOT NULL,
    type           TEXT,
    data           TEXT NOT NULL,
    meta           TEXT,
    publisher_id   TEXT NOT NULL,
    publisher_name TEXT,
    token_id       TEXT,
    created_at     INTEGER NOT NULL,
    PRIMARY KEY (channel_id, id)
) WITHOUT ROWID;
CREATE INDEX events_by_time ON events(channel_id, created_at);
