//! Presence: how many live subscribers a channel has, on this node and,
//! from their periodic reports, on the others.

use crate::model::now_millis;

use super::{Hub, HubResult};

/// How long another node's subscriber report counts.
const PRESENCE_FRESH_MS: i64 = 6_000;

impl Hub {
    /// Live subscribers of a channel: this node's, plus the other nodes' last reports.
    pub(super) async fn subscriber_count(&self, channel_id: &str) -> HubResult<u64> {
        let local = self.rooms.subscriber_count(channel_id);
        if !self.store.clustered() {
            return Ok(local);
        }
        let remote = self
            .store
            .remote_subscribers(channel_id, &self.node_id, now_millis() - PRESENCE_FRESH_MS)
            .await?;
        Ok(local + remote)
    }

    /// Publishes this node's subscriber counts for the other nodes.
    pub async fn report_subscribers(&self) -> HubResult<()> {
        let counts = self.rooms.subscriber_counts();
        Ok(self
            .store
            .report_subscribers(&self.node_id, &counts, now_millis())
            .await?)
    }
}
