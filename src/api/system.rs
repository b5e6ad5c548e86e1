//! Endpoints outside `/api/v1`: the live console page at `/`, `/healthz` (the
//! process answers), `/readyz` (the database answers too), `/metrics`, and
//! `/.well-known/channelhub.json` (who this server is and the key its webhook
//! deliveries are signed with), and `/.well-known/zooid.json` (the same, the
//! way Zooid's clients read it).

use std::sync::Arc;

use poem::{
    IntoResponse, handler,
    http::StatusCode,
    web::{Data, Json},
};
use serde_json::json;

use crate::hub::Hub;

/// What `/.well-known/channelhub.json` says.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ServerIdentity {
    pub server_id: String,
    pub version: &'static str,
    /// Ed25519 public key, `whpk_<base64>`: verifies the `v1a,` webhook signatures.
    pub webhook_public_key: String,
    /// The same key as SPKI DER in base64url, as `/.well-known/zooid.json`
    /// publishes it (Zooid's `verifyWebhook` imports it).
    #[serde(skip)]
    pub webhook_public_key_spki: String,
    /// Whether `/mcp` is served (`mcp_url` in the document).
    #[serde(skip)]
    pub mcp: bool,
}

/// Who this server is, and which JWTs it accepts: the algorithms (the
/// HS256 family with `--jwt-secret`, and each trusted key's), the audiences,
/// whether `aud` is required, and the leeway.
#[handler]
pub fn well_known(
    identity: Data<&Arc<ServerIdentity>>,
    hub: Data<&Arc<Hub>>,
) -> Json<serde_json::Value> {
    let mut document = serde_json::to_value(identity.as_ref()).expect("serializes");
    document["jwt"] = hub.jwt_summary();
    if identity.mcp {
        document["mcp_url"] = json!("/mcp");
    }
    Json(document)
}

/// `/.well-known/zooid.json`: this server described the way Zooid's
/// discovery (its SDK's `getMetadata`, its CLI's `status`) reads a server,
/// with the key that verifies the `X-Zooid-Signature` of webhook deliveries.
/// Its name and description are the server profile's (`PUT /api/v1/server`).
#[handler]
pub async fn zooid_well_known(
    identity: Data<&Arc<ServerIdentity>>,
    hub: Data<&Arc<Hub>>,
) -> poem::Response {
    let profile = match hub.server_profile().await {
        Ok(profile) => profile,
        Err(err) => return super::problem::ApiError::from(err).into_response(),
    };
    Json(json!({
        "version": "0.1",
        "public_key": identity.webhook_public_key_spki,
        "public_key_format": "spki",
        "algorithm": "Ed25519",
        "server_id": identity.server_id,
        "server_name": profile.name,
        "server_description": profile.description,
        "poll_interval": 30,
        "delivery": ["poll", "webhook", "websocket", "rss", "sse"],
    }))
    .into_response()
}

/// Prometheus text exposition of every metric in `telemetry`.
#[handler]
pub async fn prometheus_metrics(
    handle: Data<&metrics_exporter_prometheus::PrometheusHandle>,
    hub: Data<&Arc<Hub>>,
) -> poem::Response {
    let (channels, subscribers) = hub.rooms().totals();
    metrics::gauge!(crate::telemetry::LIVE_CHANNELS).set(channels as f64);
    metrics::gauge!(crate::telemetry::SUBSCRIBERS).set(subscribers as f64);
    // A database that does not answer leaves the last count standing.
    if let Ok(backlog) = hub.webhook_backlog().await {
        metrics::gauge!(crate::telemetry::WEBHOOK_BACKLOG).set(backlog as f64);
    }
    poem::Response::builder()
        .content_type("text/plain; version=0.0.4")
        .body(handle.render())
}

/// The console: a static page, its script and its style, embedded in the
/// binary (no build step, no third-party code), using the public API.
#[handler]
pub fn console() -> poem::Response {
    poem::Response::builder()
        .content_type("text/html; charset=utf-8")
        .body(include_str!("console/index.html"))
}

#[handler]
pub fn console_script() -> poem::Response {
    poem::Response::builder()
        .content_type("text/javascript; charset=utf-8")
        .body(include_str!("console/app.js"))
}

#[handler]
pub fn console_style() -> poem::Response {
    poem::Response::builder()
        .content_type("text/css; charset=utf-8")
        .body(include_str!("console/style.css"))
}

#[handler]
pub fn healthz() -> Json<serde_json::Value> {
    Json(json!({"status": "ok"}))
}

#[handler]
pub async fn readyz(hub: Data<&Arc<Hub>>) -> poem::Response {
    match hub.database_ready().await {
        Ok(()) => Json(json!({"status": "ready"})).into_response(),
        Err(err) => super::problem::ApiError::new(StatusCode::SERVICE_UNAVAILABLE, err.to_string())
            .into_response(),
    }
}
