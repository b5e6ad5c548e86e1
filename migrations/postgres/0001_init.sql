-- Channels, their tokens and events, and server settings.
-- Ids use the C collation so that ULIDs and cursors compare byte-wise, as on SQLite.
-- Times are milliseconds since the Unix epoch; JSON is stored as text, untouched.
CREATE TABLE settings (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE channels (
    id              TEXT COLLATE "C" PRIMARY KEY,
    name            TEXT NOT NULL,
    description     TEXT NOT NULL,
    tags            TEXT NOT NULL,
    is_public       BOOLEAN NOT NULL,
    meta            TEXT NOT NULL,
    config          TEXT NOT NULL,
    max_age_seconds BIGINT,
    max_events      BIGINT,
    created_at      BIGINT NOT NULL,
    event_count     BIGINT NOT NULL DEFAULT 0,
    last_event_at   BIGINT,
    -- Highest id ever appended: new ids are made larger than it, so ids follow commit order.
    last_event_id   TEXT COLLATE "C"
);

CREATE TABLE tokens (
    id           TEXT PRIMARY KEY,
    channel_id   TEXT COLLATE "C" NOT NULL REFERENCES channels(id) ON DELETE CASCADE,
    kind         TEXT NOT NULL,
    name         TEXT,
    publisher_id TEXT,
    secret_hash  TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    expires_at   BIGINT
);
CREATE INDEX tokens_by_channel ON tokens(channel_id);

CREATE TABLE events (
    channel_id     TEXT COLLATE "C" NOT NULL REFERENCES channels(id) ON DELETE CASCADE,
    id             TEXT COLLATE "C" NOT NULL,
    type           TEXT,
    data           TEXT NOT NULL,
    meta           TEXT,
    publisher_id   TEXT NOT NULL,
    publisher_name TEXT,
    token_id       TEXT,
    created_at     BIGINT NOT NULL,
    PRIMARY KEY (channel_id, id)
);
CREATE INDEX events_by_time ON events(channel_id, created_at);
