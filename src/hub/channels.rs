//! Channels: creating, listing, reading, changing and deleting them, and the
//! bounds on their text fields.

use serde_json::Value;

use crate::{
    auth::Principal,
    model::{
        Channel, ChannelPatch, Invalid, NewChannel, Retention, now_millis, validate_channel_id,
    },
    notice::ControlNotice,
    store::StoreError,
};

use super::{Hub, HubError, HubResult, Page, channel_not_found, page_limit, schema::TypeRules};

const MAX_TAGS: usize = 32;
const MAX_TAG_CHARS: usize = 64;
pub(super) const MAX_NAME_CHARS: usize = 200;
const MAX_DESCRIPTION_CHARS: usize = 2_000;
const MAX_META_BYTES: usize = 16 * 1024;

impl Hub {
    pub async fn create_channel(
        &self,
        principal: &Principal,
        new: NewChannel,
    ) -> HubResult<Channel> {
        Self::require_admin(principal)?;
        validate_channel_id(&new.id)?;
        validate_channel_fields(&new.name, &new.description, &new.tags, &new.meta)?;
        let new = NewChannel {
            retention: new.config.retention_from_storage(new.retention)?,
            ..new
        };
        new.retention.validate()?;
        TypeRules::compile(&new.config)?;
        match self.store.create_channel(&new, now_millis()).await {
            Ok(channel) => Ok(channel),
            Err(StoreError::Conflict) => Err(HubError::Conflict(format!(
                "channel {:?} already exists",
                new.id
            ))),
            Err(err) => Err(err.into()),
        }
    }

    /// Channels in id order; anonymous callers see only public ones.
    pub async fn list_channels(
        &self,
        principal: &Principal,
        cursor: Option<&str>,
        limit: Option<u32>,
    ) -> HubResult<Page<Channel>> {
        let limit = page_limit(limit)?;
        let include_private = principal.is_admin();
        let mut channels = self
            .store
            .list_channels(cursor, include_private, limit + 1)
            .await?;
        let has_more = channels.len() > limit as usize;
        channels.truncate(limit as usize);
        for channel in &mut channels {
            channel.subscribers = self.subscriber_count(&channel.id).await?;
        }
        let cursor = channels
            .last()
            .map(|c| c.id.clone())
            .or_else(|| cursor.map(str::to_owned));
        Ok(Page {
            items: channels,
            cursor,
            has_more,
        })
    }

    pub async fn get_channel(
        &self,
        channel_id: &str,
        presented: Option<&str>,
    ) -> HubResult<Channel> {
        Ok(self.open_for_reading(channel_id, presented).await?.0)
    }

    pub async fn update_channel(
        &self,
        principal: &Principal,
        channel_id: &str,
        patch: ChannelPatch,
    ) -> HubResult<Channel> {
        Self::require_admin(principal)?;
        let mut channel = self.load_channel(channel_id).await?;
        let was_public = channel.is_public;
        let ChannelPatch {
            name,
            description,
            tags,
            is_public,
            meta,
            config,
            retention,
        } = patch;
        channel.name = name.unwrap_or(channel.name);
        channel.description = description.unwrap_or(channel.description);
        channel.tags = tags.unwrap_or(channel.tags);
        channel.is_public = is_public.unwrap_or(channel.is_public);
        channel.meta = meta.unwrap_or(channel.meta);
        // Zooid's storage.retention_days, when this update sets the config.
        let retention = match &config {
            Some(config)
                if config
                    .storage
                    .as_ref()
                    .is_some_and(|s| s.retention_days.is_some()) =>
            {
                Some(
                    config.retention_from_storage(retention.unwrap_or(Retention {
                        max_age_seconds: None,
                        ..channel.retention
                    }))?,
                )
            }
            _ => retention,
        };
        channel.config = config.unwrap_or(channel.config);
        channel.retention = retention.unwrap_or(channel.retention);
        validate_channel_fields(
            &channel.name,
            &channel.description,
            &channel.tags,
            &channel.meta,
        )?;
        channel.retention.validate()?;
        TypeRules::compile(&channel.config)?;
        let mut updated = self
            .store
            .update_channel(&channel)
            .await?
            .ok_or_else(|| channel_not_found(channel_id))?;
        self.announce_control(ControlNotice::ChannelChanged {
            channel_id: channel_id.to_owned(),
        })
        .await;
        if was_public && !updated.is_public {
            self.announce_control(ControlNotice::ChannelMadePrivate {
                channel_id: channel_id.to_owned(),
            })
            .await;
            self.revoke_unauthorized_webhooks().await?;
        }
        updated.subscribers = self.subscriber_count(channel_id).await?;
        Ok(updated)
    }

    pub async fn delete_channel(&self, principal: &Principal, channel_id: &str) -> HubResult<()> {
        Self::require_admin(principal)?;
        let tokens = self.store.list_tokens(channel_id).await?;
        if !self.store.delete_channel(channel_id).await? {
            return Err(channel_not_found(channel_id));
        }
        for token in tokens {
            self.announce_control(ControlNotice::TokenRevoked {
                channel_id: channel_id.to_owned(),
                token_id: token.id,
            })
            .await;
        }
        self.announce_control(ControlNotice::ChannelDeleted {
            channel_id: channel_id.to_owned(),
        })
        .await;
        Ok(())
    }
}

pub(super) fn validate_optional_text(
    field: &str,
    value: Option<&str>,
    max_chars: usize,
) -> Result<(), Invalid> {
    match value {
        Some(text) if text.chars().count() > max_chars => Err(Invalid(format!(
            "{field} is at most {max_chars} characters"
        ))),
        _ => Ok(()),
    }
}

fn validate_channel_fields(
    name: &str,
    description: &str,
    tags: &[String],
    meta: &Value,
) -> Result<(), Invalid> {
    validate_optional_text("name", Some(name), MAX_NAME_CHARS)?;
    validate_optional_text("description", Some(description), MAX_DESCRIPTION_CHARS)?;
    if tags.len() > MAX_TAGS {
        return Err(Invalid(format!("at most {MAX_TAGS} tags")));
    }
    if let Some(tag) = tags
        .iter()
        .find(|t| t.is_empty() || t.chars().count() > MAX_TAG_CHARS)
    {
        return Err(Invalid(format!(
            "tag {tag:?} must be 1 to {MAX_TAG_CHARS} characters"
        )));
    }
    if !meta.is_object() {
        return Err(Invalid("meta must be a JSON object".into()));
    }
    if meta.to_string().len() > MAX_META_BYTES {
        return Err(Invalid(format!("meta is at most {MAX_META_BYTES} bytes")));
    }
    Ok(())
}
