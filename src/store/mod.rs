//! Durable state: channels, tokens, events and settings, in SQLite or PostgreSQL.
//!
//! Everything above this module talks to the [`Store`] trait; only this module
//! writes SQL. It knows nothing of HTTP, sockets or authorization: callers
//! decide who may do what, the store only keeps the data consistent.
//!
//! One invariant matters more than the rest: within a channel, event ids are
//! assigned in commit order (the channel row is locked while ids are made, and
//! each new id is larger than any id the channel ever had). That is what lets a
//! poller follow `id > cursor` and see every event exactly once.

mod postgres;
mod sql;
mod sqlite;

use std::sync::Arc;

use async_trait::async_trait;
use ulid::{Generator, Ulid};

use crate::model::{
    Channel, DeliveryAttempt, Event, EventQuery, Millis, NewChannel, NewEvent, Publisher,
    TokenRecord, WebhookRecord,
};

pub use postgres::PostgresStore;
pub use sqlite::SqliteStore;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A row with the same key exists already.
    #[error("already exists")]
    Conflict,
    /// The row this write refers to does not exist.
    #[error("not found")]
    NotFound,
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("database migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// A stored value could not be read back (hand-edited or corrupted row).
    #[error("stored data is malformed: {0}")]
    Malformed(String),
}

pub type StoreResult<T> = Result<T, StoreError>;

/// Events to append to one channel, all stamped with one publisher.
#[derive(Debug, Clone)]
pub struct AppendBatch {
    pub channel_id: String,
    pub publisher: Publisher,
    /// The publish token used, so that it may later delete what it published.
    pub token_id: Option<String>,
    pub events: Vec<NewEvent>,
}

/// What an append stored.
#[derive(Debug)]
pub struct Appended {
    /// Per batch, in order: its stored events, or `None` if its channel is gone.
    pub events: Vec<Option<Vec<Event>>>,
    /// Webhook deliveries queued in the same transaction.
    pub webhook_jobs: usize,
}

/// The result of registering a webhook URL on a channel.
#[derive(Debug)]
pub enum Registration {
    Created(WebhookRecord),
    /// The channel had that URL already: its TTL and filter were updated and
    /// it is active again.
    Refreshed(WebhookRecord),
    /// The channel has as many webhooks as it may.
    LimitReached,
}

/// A queued delivery: the oldest one of its webhook.
#[derive(Debug, Clone)]
pub struct WebhookJob {
    pub id: i64,
    pub webhook_id: String,
    pub event_id: String,
    /// Attempts made so far.
    pub attempts: i64,
}

/// The outcome of one delivery attempt, as logged.
#[derive(Debug, Clone)]
pub struct AttemptRecord {
    pub at: Millis,
    pub outcome: &'static str,
    pub status: Option<i64>,
    pub error: Option<String>,
    pub duration_ms: i64,
}

/// What becomes of a job after an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobNext {
    Delivered,
    /// Try again at this time.
    Retry(Millis),
    /// The webhook failed past its bound: disable it and drop its queue.
    Disable,
}

#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// `sqlite` or `postgres`.
    fn backend(&self) -> &'static str;

    /// Whether several nodes may share this database. A clustered store
    /// announces every append (and [`Store::announce`]s) to all nodes,
    /// the appending one included, in commit order.
    fn clustered(&self) -> bool;

    /// Sends `payload` to every node listening on `topic` (no-op unless clustered).
    async fn announce(&self, topic: &str, payload: &str) -> StoreResult<()>;

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

    /// Succeeds when the database answers a trivial query.
    async fn ping(&self) -> StoreResult<()>;

    async fn get_setting(&self, key: &str) -> StoreResult<Option<String>>;
    /// Stores `value` unless the key has one; returns the value now stored.
    async fn put_setting_if_absent(&self, key: &str, value: &str) -> StoreResult<String>;

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
    /// Deletes the channel with its tokens and events; false when it did not exist.
    async fn delete_channel(&self, id: &str) -> StoreResult<bool>;

    /// Fails with [`StoreError::NotFound`] when the channel does not exist.
    async fn create_token(&self, token: &TokenRecord) -> StoreResult<()>;
    async fn get_token(&self, id: &str) -> StoreResult<Option<TokenRecord>>;
    async fn list_tokens(&self, channel_id: &str) -> StoreResult<Vec<TokenRecord>>;
    async fn delete_token(&self, channel_id: &str, token_id: &str) -> StoreResult<bool>;

    /// Appends every batch in one transaction and returns the stored events, in
    /// order, per batch, and queues a delivery for each active webhook whose
    /// filter matches. When this returns `Ok`, all of it is durable.
    async fn append_events(&self, batches: &[AppendBatch]) -> StoreResult<Appended>;
    async fn get_event(&self, channel_id: &str, event_id: &str) -> StoreResult<Option<Event>>;
    /// The publish token an event was published with, if any.
    async fn event_token(
        &self,
        channel_id: &str,
        event_id: &str,
    ) -> StoreResult<Option<Option<String>>>;
    /// Events matching `query`, oldest first, at most `query.limit`.
    async fn list_events(&self, channel_id: &str, query: &EventQuery) -> StoreResult<Vec<Event>>;
    /// The newest `limit` events, newest first.
    async fn latest_events(&self, channel_id: &str, limit: u32) -> StoreResult<Vec<Event>>;
    async fn delete_event(&self, channel_id: &str, event_id: &str) -> StoreResult<bool>;
    /// Applies every channel's retention policy; returns how many events went.
    async fn apply_retention(&self, now: Millis) -> StoreResult<u64>;

    /// Adds `webhook` unless its channel has its URL already (then refreshes
    /// that one) or has `max_per_channel` webhooks. [`StoreError::NotFound`]
    /// when the channel does not exist.
    async fn register_webhook(
        &self,
        webhook: &WebhookRecord,
        max_per_channel: usize,
    ) -> StoreResult<Registration>;
    async fn list_webhooks(&self, channel_id: &str) -> StoreResult<Vec<WebhookRecord>>;
    async fn get_webhook(&self, webhook_id: &str) -> StoreResult<Option<WebhookRecord>>;
    async fn delete_webhook(&self, channel_id: &str, webhook_id: &str) -> StoreResult<bool>;
    /// The most recent attempts, newest first.
    async fn list_attempts(
        &self,
        webhook_id: &str,
        limit: u32,
    ) -> StoreResult<Vec<DeliveryAttempt>>;
    /// When the earliest queued delivery is due, if any is queued.
    async fn next_job_due(&self) -> StoreResult<Option<Millis>>;
    /// The oldest queued delivery of each webhook, where it is due by `now`.
    async fn due_jobs(&self, now: Millis, limit: u32) -> StoreResult<Vec<WebhookJob>>;
    /// Logs an attempt and moves the job (and its webhook's state) on.
    async fn finish_attempt(
        &self,
        job: &WebhookJob,
        attempt: &AttemptRecord,
        next: JobNext,
    ) -> StoreResult<()>;
    /// Takes a due job for this node until `until`; false when another node has it.
    async fn claim_job(&self, job_id: i64, now: Millis, until: Millis) -> StoreResult<bool>;
    /// Gives up this node's leases on these jobs.
    async fn release_jobs(&self, job_ids: &[i64]) -> StoreResult<()>;
    /// Forgets a job whose event no longer exists.
    async fn drop_job(&self, job_id: i64) -> StoreResult<()>;
    /// Removes webhooks whose TTL has passed; returns how many.
    async fn delete_expired_webhooks(&self, now: Millis) -> StoreResult<u64>;
}

/// Opens the store a database URL names and brings its schema up to date.
pub async fn open(database_url: &str) -> StoreResult<Arc<dyn Store>> {
    if database_url.starts_with("postgres://") || database_url.starts_with("postgresql://") {
        Ok(Arc::new(PostgresStore::connect(database_url).await?))
    } else {
        Ok(Arc::new(SqliteStore::connect(database_url).await?))
    }
}

/// Makes event ids: increasing within this process and, per channel, larger
/// than `floor` (the channel's last id, which may come from another node's clock).
#[derive(Default)]
pub(crate) struct EventIds(std::sync::Mutex<Generator>);

impl EventIds {
    pub(crate) fn next_after(&self, floor: Option<Ulid>) -> Ulid {
        let mut generator = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let id = generator
            .generate()
            .unwrap_or_else(|overflow| overflow.commit_overflow_increment());
        match floor {
            Some(floor) if id <= floor => floor.increment().unwrap_or_else(|next| next),
            _ => id,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_increase_and_clear_the_floor() {
        let ids = EventIds::default();
        let mut last = ids.next_after(None);
        for _ in 0..100_000 {
            let next = ids.next_after(None);
            assert!(next > last);
            last = next;
        }
        // A floor from a clock an hour ahead still yields a larger id.
        let ahead = Ulid::from_parts(last.timestamp_ms() + 3_600_000, 5);
        let bumped = ids.next_after(Some(ahead));
        assert!(bumped > ahead);
    }
}
