//! Health endpoints outside `/api/v1`: `/healthz` (the process answers) and
//! `/readyz` (the database answers too).

use std::sync::Arc;

use poem::{
    IntoResponse, handler,
    http::StatusCode,
    web::{Data, Json},
};
use serde_json::json;

use crate::hub::Hub;

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
