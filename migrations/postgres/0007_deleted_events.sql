-- Events deleted one by one. A single deleted event is no gap (the channel's
-- removed_through does not move for it), but a consumer may still resume
-- from its id: this is how the channel knows the id was one of its events.
-- Rows at or below removed_through are dropped by retention (that bound
-- already covers them), and with their channel.
CREATE TABLE deleted_events (
    channel_id TEXT COLLATE "C" NOT NULL REFERENCES channels(id) ON DELETE CASCADE,
    id         TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (channel_id, id)
);
