-- Several nodes on one database: who is delivering which webhook job, and how
-- many live subscribers each node holds per channel.
ALTER TABLE webhook_jobs ADD COLUMN leased_until BIGINT;

CREATE TABLE node_subscribers (
    node_id     TEXT NOT NULL,
    channel_id  TEXT NOT NULL,
    subscribers BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL,
    PRIMARY KEY (node_id, channel_id)
);
CREATE INDEX node_subscribers_by_channel ON node_subscribers(channel_id, updated_at);
