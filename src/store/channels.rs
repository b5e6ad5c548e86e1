//! Channels: their rows and the SQL that keeps them. Deleting a channel
//! removes everything that belongs to it in one transaction.

use async_trait::async_trait;
use sqlx::QueryBuilder;

use super::{
    StoreError, StoreResult,
    sql::{RowsAffected, classify, from_json_text, sql_impl, to_json_text},
};
use crate::model::{Channel, Millis, NewChannel, Retention, format_millis};

const CHANNEL_COLUMNS: &str = "id, name, description, tags, is_public, meta, config, \
     max_age_seconds, max_events, created_at, event_count, last_event_at, last_event_id";

#[async_trait]
pub trait ChannelStore: Send + Sync + 'static {
    /// Fails with [`StoreError::Conflict`] when the id is taken.
    async fn create_channel(&self, channel: &NewChannel, now: Millis) -> StoreResult<Channel>;
    async fn get_channel(&self, id: &str) -> StoreResult<Option<Channel>>;
    /// Channels with ids after `after`, in id order.
    async fn list_channels(
        &self,
        after: Option<&str>,
        include_private: bool,
        limit: u32,
    ) -> StoreResult<Vec<Channel>>;
    /// Writes every mutable field of `channel`; `None` when it no longer exists.
    async fn update_channel(&self, channel: &Channel) -> StoreResult<Option<Channel>>;
    /// Deletes the channel with its tokens, events and webhooks; false when it did not exist.
    async fn delete_channel(&self, id: &str) -> StoreResult<bool>;
}

/// A `channels` row as stored: JSON fields are TEXT, times are milliseconds.
#[derive(sqlx::FromRow)]
pub(crate) struct ChannelRow {
    id: String,
    name: String,
    description: String,
    tags: String,
    is_public: bool,
    meta: String,
    config: String,
    max_age_seconds: Option<i64>,
    max_events: Option<i64>,
    created_at: i64,
    event_count: i64,
    last_event_at: Option<i64>,
    last_event_id: Option<String>,
}

impl TryFrom<ChannelRow> for Channel {
    type Error = StoreError;

    fn try_from(row: ChannelRow) -> StoreResult<Channel> {
        Ok(Channel {
            id: row.id,
            name: row.name,
            description: row.description,
            tags: from_json_text(&row.tags, "tags")?,
            is_public: row.is_public,
            meta: from_json_text(&row.meta, "meta")?,
            config: from_json_text(&row.config, "config")?,
            retention: Retention {
                max_age_seconds: row.max_age_seconds,
                max_events: row.max_events,
            },
            created_at: format_millis(row.created_at),
            event_count: row.event_count,
            last_event_at: row.last_event_at.map(format_millis),
            subscribers: 0,
            last_event_id: row.last_event_id,
        })
    }
}

sql_impl!(ChannelStore {
    async fn create_channel(&self, channel: &NewChannel, now: Millis) -> StoreResult<Channel> {
        sqlx::query(
            "INSERT INTO channels (id, name, description, tags, is_public, meta, config, \
             max_age_seconds, max_events, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .bind(channel.id.as_str())
        .bind(channel.name.as_str())
        .bind(channel.description.as_str())
        .bind(to_json_text(&channel.tags))
        .bind(channel.is_public)
        .bind(to_json_text(&channel.meta))
        .bind(to_json_text(&channel.config))
        .bind(channel.retention.max_age_seconds)
        .bind(channel.retention.max_events)
        .bind(now)
        .execute(self.pool())
        .await
        .map_err(classify)?;
        self.get_channel(&channel.id)
            .await?
            .ok_or_else(|| StoreError::Malformed("created channel vanished".into()))
    }

    async fn get_channel(&self, id: &str) -> StoreResult<Option<Channel>> {
        let sql = format!("SELECT {CHANNEL_COLUMNS} FROM channels WHERE id = $1");
        sqlx::query_as::<_, ChannelRow>(sqlx::AssertSqlSafe(sql))
            .bind(id)
            .fetch_optional(self.pool())
            .await?
            .map(Channel::try_from)
            .transpose()
    }

    async fn list_channels(
        &self,
        after: Option<&str>,
        include_private: bool,
        limit: u32,
    ) -> StoreResult<Vec<Channel>> {
        let mut query = QueryBuilder::<B::Db>::new(format!(
            "SELECT {CHANNEL_COLUMNS} FROM channels WHERE 1 = 1"
        ));
        if let Some(after) = after {
            query.push(" AND id > ").push_bind(after.to_owned());
        }
        if !include_private {
            query.push(" AND is_public = ").push_bind(true);
        }
        query.push(" ORDER BY id LIMIT ").push_bind(i64::from(limit));
        let rows = query
            .build_query_as::<ChannelRow>()
            .fetch_all(self.pool())
            .await?;
        rows.into_iter().map(Channel::try_from).collect()
    }

    async fn update_channel(&self, channel: &Channel) -> StoreResult<Option<Channel>> {
        let updated = sqlx::query(
            "UPDATE channels SET name = $2, description = $3, tags = $4, is_public = $5, \
             meta = $6, config = $7, max_age_seconds = $8, max_events = $9 WHERE id = $1",
        )
        .bind(channel.id.as_str())
        .bind(channel.name.as_str())
        .bind(channel.description.as_str())
        .bind(to_json_text(&channel.tags))
        .bind(channel.is_public)
        .bind(to_json_text(&channel.meta))
        .bind(to_json_text(&channel.config))
        .bind(channel.retention.max_age_seconds)
        .bind(channel.retention.max_events)
        .execute(self.pool())
        .await?;
        if updated.rows_affected() == 0 {
            return Ok(None);
        }
        self.get_channel(&channel.id).await
    }

    async fn delete_channel(&self, id: &str) -> StoreResult<bool> {
        let mut tx = self.backend().begin_write().await?;
        // The channel row first, as appends take it: an append holding it
        // would otherwise wait for our child rows while we wait for it.
        self.backend()
            .lock_channels(&mut tx, &[id], crate::model::now_millis())
            .await?;
        // Children first: an explicit delete does not depend on cascades being enabled.
        for sql in [
            "DELETE FROM events WHERE channel_id = $1",
            "DELETE FROM tokens WHERE channel_id = $1",
            "DELETE FROM webhook_jobs WHERE webhook_id IN (SELECT id FROM webhooks WHERE channel_id = $1)",
            "DELETE FROM webhook_attempts WHERE webhook_id IN (SELECT id FROM webhooks WHERE channel_id = $1)",
            "DELETE FROM webhooks WHERE channel_id = $1",
            "DELETE FROM idempotency_keys WHERE channel_id = $1",
            "DELETE FROM deleted_events WHERE channel_id = $1",
        ] {
            sqlx::query(sql).bind(id).execute(&mut *tx).await?;
        }
        let deleted = sqlx::query("DELETE FROM channels WHERE id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(deleted.rows_affected() > 0)
    }
});
