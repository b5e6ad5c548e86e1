//! Presence: how many live subscribers a channel has, on this node and,
//! from their periodic reports, on the others; and each node's state.

use crate::model::{ClusterStatus, NodeStatus, format_millis, now_millis, parse_rfc3339};

use super::{Hub, HubResult};

/// Where each node's last report is kept (a setting per node).
const NODE_REPORT_PREFIX: &str = "node-status:";
/// A node that has not reported for this long is shown as `stale`.
const NODE_FRESH_MS: i64 = 10_000;
/// A node silent for this long is forgotten (its report removed). A node
/// that stops in order removes its own at once.
const NODE_FORGOTTEN_MS: i64 = 3600 * 1000;

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

    /// This node's state now.
    fn node_status(&self) -> NodeStatus {
        let (live_channels, subscribers) = self.rooms.totals();
        let started = self
            .node_id
            .parse::<ulid::Ulid>()
            .map_or(0, |id| id.timestamp_ms() as i64);
        let now = format_millis(now_millis());
        NodeStatus {
            node_id: self.node_id.clone(),
            this_node: true,
            version: env!("CARGO_PKG_VERSION").to_owned(),
            started_at: format_millis(started),
            reported_at: now,
            state: "up".to_owned(),
            subscribers,
            live_channels,
        }
    }

    /// Publishes this node's state for the others (clustered stores), and
    /// forgets nodes silent for a day.
    pub async fn report_node(&self) -> HubResult<()> {
        let status = serde_json::to_string(&self.node_status()).unwrap_or_default();
        let key = format!("{NODE_REPORT_PREFIX}{}", self.node_id);
        self.store.put_setting(&key, &status).await?;
        let forgotten = now_millis() - NODE_FORGOTTEN_MS;
        for (key, node) in self.store.settings_with_prefix(NODE_REPORT_PREFIX).await? {
            // A report this version cannot read (another version's, in a
            // rolling upgrade) is left to its own node.
            if reported_millis(&node).is_some_and(|at| at < forgotten) {
                self.store.delete_setting(&key).await?;
            }
        }
        Ok(())
    }

    /// Removes this node's report (it is stopping in order).
    pub async fn forget_node(&self) -> HubResult<()> {
        let key = format!("{NODE_REPORT_PREFIX}{}", self.node_id);
        Ok(self.store.delete_setting(&key).await?)
    }

    /// Every node sharing the database: this one as it is now, the others
    /// as they last reported (admin only).
    pub async fn cluster_status(&self, presented: Option<&str>) -> HubResult<ClusterStatus> {
        Self::require_admin(&self.authenticate(presented).await?)?;
        let mut nodes = vec![self.node_status()];
        let database_ready = self.store.ping().await.is_ok();
        if database_ready && self.store.clustered() {
            let fresh = now_millis() - NODE_FRESH_MS;
            for (_, report) in self.store.settings_with_prefix(NODE_REPORT_PREFIX).await? {
                let Ok(mut node) = serde_json::from_str::<NodeStatus>(&report) else {
                    continue;
                };
                if node.node_id == self.node_id {
                    continue;
                }
                node.this_node = false;
                let up = parse_rfc3339(&node.reported_at).is_some_and(|at| at >= fresh);
                node.state = if up { "up" } else { "stale" }.to_owned();
                nodes.push(node);
            }
        }
        let webhook_backlog = if database_ready {
            self.webhook_backlog().await.unwrap_or(0)
        } else {
            0
        };
        Ok(ClusterStatus {
            nodes,
            database_ready,
            webhook_backlog,
        })
    }
}

/// When a stored node report was made.
fn reported_millis(report: &str) -> Option<i64> {
    let node = serde_json::from_str::<NodeStatus>(report).ok()?;
    parse_rfc3339(&node.reported_at)
}
