//! `/channels`: create, list, get, update, delete.

use std::sync::Arc;

use poem::Request;
use poem_openapi::{
    Object, OpenApi,
    param::{Path, Query},
    payload::Json,
};
use serde::Deserialize;
use serde_json::Value;

use super::{
    ApiTags, Created, Deleted, caller,
    json::{JsonBody, StorableText},
    presented_token,
    problem::ApiError,
};
use crate::{
    hub::Hub,
    model::{
        Channel, ChannelConfig, ChannelPatch, Invalid, NewChannel, Retention, check_storable,
        check_storable_all, check_storable_opt,
    },
};

/// A new channel. Only `id` is required.
#[derive(Debug, Object, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateChannel {
    /// 3–64 characters of `a-z`, `0-9` and `-`, starting and ending with a letter or digit.
    #[oai(validator(custom = "&crate::api::patterns::CHANNEL_ID"))]
    pub id: String,
    /// Display name; defaults to the id.
    #[oai(validator(max_length = 200))]
    pub name: Option<String>,
    #[oai(validator(max_length = 2000))]
    pub description: Option<String>,
    #[oai(validator(max_items = 32, min_length = 1, max_length = 64))]
    pub tags: Option<Vec<String>>,
    /// Public channels can be read without a token. Default: true.
    pub is_public: Option<bool>,
    /// Free-form JSON object, stored and returned untouched.
    pub meta: Option<Value>,
    #[serde(default, deserialize_with = "crate::model::optional_object")]
    pub config: Option<ChannelConfig>,
    #[serde(default, deserialize_with = "crate::model::optional_object")]
    pub retention: Option<Retention>,
}

/// Fields to change; absent fields stay as they are. `null` resets
/// `description` (to ""), `tags` (to []), `meta` (to {}), `config` (to no
/// types, not strict) and `retention` (to none); on `name` and `is_public`
/// it changes nothing.
#[derive(Debug, Object, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdateChannel {
    #[oai(validator(max_length = 200))]
    pub name: Option<String>,
    #[oai(validator(max_length = 2000))]
    #[serde(default, deserialize_with = "crate::model::nullable")]
    pub description: Option<Option<String>>,
    #[oai(validator(max_items = 32, min_length = 1, max_length = 64))]
    #[serde(default, deserialize_with = "crate::model::nullable")]
    pub tags: Option<Option<Vec<String>>>,
    pub is_public: Option<bool>,
    #[serde(default, deserialize_with = "crate::model::nullable")]
    pub meta: Option<Option<Value>>,
    #[serde(default, deserialize_with = "crate::model::nullable_object")]
    pub config: Option<Option<ChannelConfig>>,
    #[serde(default, deserialize_with = "crate::model::nullable_object")]
    pub retention: Option<Option<Retention>>,
}

impl StorableText for CreateChannel {
    fn check_text(&self) -> Result<(), Invalid> {
        check_storable("id", &self.id)?;
        check_storable_opt("name", self.name.as_deref())?;
        check_storable_opt("description", self.description.as_deref())?;
        check_storable_all("tags", self.tags.as_deref())
    }
}

impl StorableText for UpdateChannel {
    fn check_text(&self) -> Result<(), Invalid> {
        check_storable_opt("name", self.name.as_deref())?;
        check_storable_opt("description", self.description.clone().flatten().as_deref())?;
        check_storable_all("tags", self.tags.clone().flatten().as_deref())
    }
}

/// One page of channels.
#[derive(Debug, Object)]
pub struct ChannelPage {
    pub channels: Vec<Channel>,
    /// Pass as `cursor` to get the next page.
    pub cursor: Option<String>,
    pub has_more: bool,
}

pub struct ChannelsApi {
    pub hub: Arc<Hub>,
}

#[OpenApi(tag = "ApiTags::Channels")]
impl ChannelsApi {
    /// Create a channel (admin).
    #[oai(path = "/channels", method = "post")]
    async fn create(
        &self,
        req: &Request,
        body: JsonBody<CreateChannel>,
    ) -> Result<Created<Channel>, ApiError> {
        let principal = caller(&self.hub, req).await?;
        let body = body.0;
        let new = NewChannel {
            name: body.name.unwrap_or_else(|| body.id.clone()),
            id: body.id,
            description: body.description.unwrap_or_default(),
            tags: body.tags.unwrap_or_default(),
            is_public: body.is_public.unwrap_or(true),
            meta: body
                .meta
                .unwrap_or_else(|| Value::Object(Default::default())),
            config: body.config.unwrap_or_default(),
            retention: body.retention.unwrap_or_default(),
        };
        let channel = self.hub.create_channel(&principal, new).await?;
        Ok(Created::Created(Json(channel)))
    }

    /// List channels in id order: public ones, or all with the admin token.
    #[oai(path = "/channels", method = "get")]
    async fn list(
        &self,
        req: &Request,
        /// From a previous page's `cursor`.
        cursor: Query<Option<String>>,
        /// 1–1000, default 100.
        #[oai(validator(minimum(value = "1"), maximum(value = "1000")))]
        limit: Query<Option<u32>>,
    ) -> Result<Json<ChannelPage>, ApiError> {
        let principal = caller(&self.hub, req).await?;
        let page = self
            .hub
            .list_channels(&principal, cursor.0.as_deref(), limit.0)
            .await?;
        Ok(Json(ChannelPage {
            channels: page.items,
            cursor: page.cursor,
            has_more: page.has_more,
        }))
    }

    /// Get a channel: anyone if public; a subscribe token or admin if private.
    #[oai(path = "/channels/:channel_id", method = "get")]
    async fn get(
        &self,
        req: &Request,
        channel_id: Path<String>,
    ) -> Result<Json<Channel>, ApiError> {
        let channel = self
            .hub
            .get_channel(&channel_id, presented_token(req).as_deref())
            .await?;
        Ok(Json(channel))
    }

    /// Update a channel (admin). Making it private closes every live listener
    /// that may not read it (anonymous, publish tokens, other channels' tokens).
    #[oai(path = "/channels/:channel_id", method = "patch")]
    async fn update(
        &self,
        req: &Request,
        channel_id: Path<String>,
        body: JsonBody<UpdateChannel>,
    ) -> Result<Json<Channel>, ApiError> {
        let principal = caller(&self.hub, req).await?;
        let body = body.0;
        // `null` (Some(None)) resets a field to its default.
        let patch = ChannelPatch {
            name: body.name,
            description: body.description.map(Option::unwrap_or_default),
            tags: body.tags.map(Option::unwrap_or_default),
            is_public: body.is_public,
            meta: body
                .meta
                .map(|meta| meta.unwrap_or_else(|| Value::Object(Default::default()))),
            config: body.config.map(Option::unwrap_or_default),
            retention: body.retention.map(Option::unwrap_or_default),
        };
        let channel = self
            .hub
            .update_channel(&principal, &channel_id, patch)
            .await?;
        Ok(Json(channel))
    }

    /// Delete a channel with its events, tokens and webhooks (admin).
    #[oai(path = "/channels/:channel_id", method = "delete")]
    async fn delete(&self, req: &Request, channel_id: Path<String>) -> Result<Deleted, ApiError> {
        let principal = caller(&self.hub, req).await?;
        self.hub.delete_channel(&principal, &channel_id).await?;
        Ok(Deleted::Deleted)
    }
}
