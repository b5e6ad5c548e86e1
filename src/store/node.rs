//! What a node keeps about itself and its peers: the backend's identity and
//! health, server settings (the admin token hash, the signing key), the
//! cross-node announcements, and each node's subscriber counts.

use async_trait::async_trait;
use sqlx::QueryBuilder;

use super::{
    StoreError, StoreResult,
    sql::{INSERT_CHUNK, sql_impl},
};
use crate::model::Millis;

#[async_trait]
pub trait NodeStore: Send + Sync + 'static {
    /// `sqlite` or `postgres`.
    fn backend(&self) -> &'static str;

    /// Whether several nodes may share this database. A clustered store
    /// announces every append (and [`NodeStore::announce`]s) to all nodes,
    /// the appending one included, in commit order.
    fn clustered(&self) -> bool;

    /// Sends `payload` to every node listening on `topic` (no-op unless clustered).
    async fn announce(&self, topic: &str, payload: &str) -> StoreResult<()>;

    /// Succeeds when the database answers a trivial query.
    async fn ping(&self) -> StoreResult<()>;

    async fn get_setting(&self, key: &str) -> StoreResult<Option<String>>;
    /// Stores `value` unless the key has one; returns the value now stored.
    async fn put_setting_if_absent(&self, key: &str, value: &str) -> StoreResult<String>;
    /// Stores `value` under the key, replacing any value it had.
    async fn put_setting(&self, key: &str, value: &str) -> StoreResult<()>;

    /// Every setting whose key starts with `prefix`.
    async fn settings_with_prefix(&self, prefix: &str) -> StoreResult<Vec<(String, String)>>;
    async fn delete_setting(&self, key: &str) -> StoreResult<()>;

    /// Replaces this node's published subscriber counts (clustered stores).
    async fn report_subscribers(
        &self,
        node_id: &str,
        counts: &[(String, u64)],
        now: Millis,
    ) -> StoreResult<()>;
    /// Subscribers of a channel on other nodes, from reports newer than `fresh_after`.
    async fn remote_subscribers(
        &self,
        channel_id: &str,
        node_id: &str,
        fresh_after: Millis,
    ) -> StoreResult<u64>;
}

sql_impl!(NodeStore {
    fn backend(&self) -> &'static str {
        B::NAME
    }

    fn clustered(&self) -> bool {
        B::CLUSTERED
    }

    async fn announce(&self, topic: &str, payload: &str) -> StoreResult<()> {
        self.backend().notify(topic, payload).await
    }

    async fn ping(&self) -> StoreResult<()> {
        sqlx::query("SELECT 1").execute(self.pool()).await?;
        Ok(())
    }

    async fn get_setting(&self, key: &str) -> StoreResult<Option<String>> {
        Ok(sqlx::query_scalar("SELECT value FROM settings WHERE key = $1")
            .bind(key)
            .fetch_optional(self.pool())
            .await?)
    }

    async fn settings_with_prefix(&self, prefix: &str) -> StoreResult<Vec<(String, String)>> {
        Ok(
            sqlx::query_as(
                "SELECT key, value FROM settings WHERE substr(key, 1, length($1)) = $1 ORDER BY key",
            )
            .bind(prefix)
                .fetch_all(self.pool())
                .await?,
        )
    }

    async fn delete_setting(&self, key: &str) -> StoreResult<()> {
        sqlx::query("DELETE FROM settings WHERE key = $1")
            .bind(key)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    async fn put_setting_if_absent(&self, key: &str, value: &str) -> StoreResult<String> {
        sqlx::query(
            "INSERT INTO settings (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING",
        )
        .bind(key)
        .bind(value)
        .execute(self.pool())
        .await?;
        self.get_setting(key)
            .await?
            .ok_or_else(|| StoreError::Malformed(format!("setting {key} vanished")))
    }

    async fn put_setting(&self, key: &str, value: &str) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO settings (key, value) VALUES ($1, $2) \
             ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        )
        .bind(key)
        .bind(value)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    async fn report_subscribers(
        &self,
        node_id: &str,
        counts: &[(String, u64)],
        now: Millis,
    ) -> StoreResult<()> {
        let mut tx = self.backend().begin_write().await?;
        sqlx::query("DELETE FROM node_subscribers WHERE node_id = $1")
            .bind(node_id)
            .execute(&mut *tx)
            .await?;
        for chunk in counts.chunks(INSERT_CHUNK) {
            let mut insert = QueryBuilder::<B::Db>::new(
                "INSERT INTO node_subscribers (node_id, channel_id, subscribers, updated_at) ",
            );
            insert.push_values(chunk, |mut row, (channel_id, count)| {
                row.push_bind(node_id)
                    .push_bind(channel_id.as_str())
                    .push_bind(*count as i64)
                    .push_bind(now);
            });
            insert.build().execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn remote_subscribers(
        &self,
        channel_id: &str,
        node_id: &str,
        fresh_after: Millis,
    ) -> StoreResult<u64> {
        let total: Option<i64> = sqlx::query_scalar(
            "SELECT CAST(SUM(subscribers) AS BIGINT) FROM node_subscribers \
             WHERE channel_id = $1 AND node_id <> $2 AND updated_at > $3",
        )
        .bind(channel_id)
        .bind(node_id)
        .bind(fresh_after)
        .fetch_one(self.pool())
        .await?;
        Ok(total.unwrap_or(0).max(0) as u64)
    }
});
