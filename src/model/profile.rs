//! What a server says about itself, in Zooid's shape (`GET /api/v1/server`).

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
