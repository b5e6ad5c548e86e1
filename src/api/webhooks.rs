//! `/channels/{id}/webhooks`: register, list, inspect deliveries, delete.

use std::{sync::Arc, time::Duration};

use poem::Request;
use poem_openapi::{ApiResponse, Object, OpenApi, param::Path, payload::Json};
use serde::Deserialize;

use super::{
    ApiTags, Deleted, caller, client_address,
    json::{JsonBody, StorableText},
    presented_token,
    problem::ApiError,
};
use crate::{
    hub::{
        Hub,
        webhooks::{Registered, WebhookRequest},
    },
    model::{DeliveryAttempt, Invalid, Webhook, check_storable, check_storable_all},
};

/// A URL to receive the channel's events.
#[derive(Debug, Object, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegisterWebhook {
    /// http(s) URL each matching event is POSTed to. It must be a URL the
    /// WHATWG URL standard accepts and, unless the server allows private
    /// targets, its host must resolve to public addresses only, and its
    /// normalized form (non-ASCII percent-encoded), which is what is stored,
    /// must be at most 2048 characters too; otherwise 400 (rules this
    /// document cannot state in its schema language).
    #[oai(validator(max_length = 2048, custom = "&crate::api::patterns::WEBHOOK_URL"))]
    pub url: String,
    /// Only these event types; omit for every event.
    #[oai(validator(max_items = 64, min_length = 1))]
    pub event_types: Option<Vec<String>>,
    /// Lifetime in seconds (default 3 days); re-register to extend it.
    #[oai(validator(minimum(value = "1"), maximum(value = "31536000")))]
    pub ttl_seconds: Option<u64>,
}

impl StorableText for RegisterWebhook {
    fn check_text(&self) -> Result<(), Invalid> {
        check_storable("url", &self.url)?;
        check_storable_all("event_types", self.event_types.as_deref())
    }
}

/// A webhook with its signing secret (`whsec_…`), shown this once.
#[derive(Debug, Object)]
pub struct CreatedWebhook {
    #[oai(flatten)]
    pub webhook: Webhook,
    pub secret: String,
}

#[derive(ApiResponse)]
pub enum Registration {
    /// A new webhook, with its secret.
    #[oai(status = 201)]
    Created(Json<CreatedWebhook>),
    /// The channel had this URL already: same id, TTL and filter updated,
    /// active again. The secret is not shown again.
    #[oai(status = 200)]
    Refreshed(Json<Webhook>),
}

pub struct WebhooksApi {
    pub hub: Arc<Hub>,
}

#[OpenApi(tag = "ApiTags::Webhooks")]
impl WebhooksApi {
    /// Register a webhook: anyone on a public channel, a subscribe token or
    /// admin on a private one. Registering a URL the channel has already
    /// returns that webhook (200), so agents can register on every start.
    #[oai(path = "/channels/:channel_id/webhooks", method = "post")]
    async fn register(
        &self,
        req: &Request,
        channel_id: Path<String>,
        body: JsonBody<RegisterWebhook>,
    ) -> Result<Registration, ApiError> {
        let body = body.0;
        let request = WebhookRequest {
            url: body.url,
            event_types: body.event_types.unwrap_or_default(),
            ttl: body.ttl_seconds.map(Duration::from_secs),
        };
        let Registered {
            webhook,
            secret,
            created,
        } = self
            .hub
            .register_webhook(
                &channel_id,
                presented_token(req).as_deref(),
                &client_address(req),
                request,
            )
            .await?;
        Ok(match (created, secret) {
            (true, Some(secret)) => Registration::Created(Json(CreatedWebhook { webhook, secret })),
            _ => Registration::Refreshed(Json(webhook)),
        })
    }

    /// List a channel's webhooks with their state (admin).
    #[oai(path = "/channels/:channel_id/webhooks", method = "get")]
    async fn list(
        &self,
        req: &Request,
        channel_id: Path<String>,
    ) -> Result<Json<Vec<Webhook>>, ApiError> {
        let principal = caller(&self.hub, req).await?;
        Ok(Json(self.hub.list_webhooks(&principal, &channel_id).await?))
    }

    /// Recent delivery attempts of a webhook, newest first (admin).
    #[oai(
        path = "/channels/:channel_id/webhooks/:webhook_id/deliveries",
        method = "get"
    )]
    async fn deliveries(
        &self,
        req: &Request,
        channel_id: Path<String>,
        webhook_id: Path<String>,
    ) -> Result<Json<Vec<DeliveryAttempt>>, ApiError> {
        let principal = caller(&self.hub, req).await?;
        let attempts = self
            .hub
            .webhook_deliveries(&principal, &channel_id, &webhook_id)
            .await?;
        Ok(Json(attempts))
    }

    /// Delete a webhook and its queued deliveries (admin).
    #[oai(path = "/channels/:channel_id/webhooks/:webhook_id", method = "delete")]
    async fn delete(
        &self,
        req: &Request,
        channel_id: Path<String>,
        webhook_id: Path<String>,
    ) -> Result<Deleted, ApiError> {
        let principal = caller(&self.hub, req).await?;
        self.hub
            .delete_webhook(&principal, &channel_id, &webhook_id)
            .await?;
        Ok(Deleted::Deleted)
    }
}
