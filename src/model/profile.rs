//! What a server says about itself: in Zooid's shape (`GET /api/v1/server`),
//! and each node's state (`GET /api/v1/status`).

use poem_openapi::Object;
use serde::{Deserialize, Serialize};

/// This server, as Zooid's `GET /api/v1/server` describes one.
#[derive(Debug, Clone, PartialEq, Object, Serialize, Deserialize)]
#[oai(rename = "ServerMeta")]
pub struct ServerProfile {
    pub name: String,
    pub description: Option<String>,
    pub tags: Vec<String>,
    pub owner: Option<String>,
    pub company: Option<String>,
    pub email: Option<String>,
    /// When the admin last changed it (RFC 3339; now, if never).
    pub updated_at: String,
}

/// One node of the cluster (one process), as it last reported itself.
#[derive(Debug, Clone, PartialEq, Object, Serialize, Deserialize)]
pub struct NodeStatus {
    /// The node's id (a ULID made when it started).
    pub node_id: String,
    /// The node that answered this request.
    pub this_node: bool,
    pub version: String,
    /// When the node started (RFC 3339).
    pub started_at: String,
    /// When the node last reported (RFC 3339; now, for this node).
    pub reported_at: String,
    /// `up` (reported within the last 10 s) or `stale` (stopped, or cut off from the database).
    pub state: String,
    /// Live subscribers it holds (WebSocket, SSE and multiplexed subscriptions).
    pub subscribers: u64,
    /// Channels with a live subscriber on it.
    pub live_channels: u64,
}

/// The nodes sharing this server's database (`GET /api/v1/status`).
#[derive(Debug, Clone, Object)]
pub struct ClusterStatus {
    /// This node first, then the others by id.
    pub nodes: Vec<NodeStatus>,
    /// Whether the database answered this request.
    pub database_ready: bool,
    /// Webhook deliveries waiting, on every node.
    pub webhook_backlog: i64,
}
