//! What the two backends share: the [`Backend`] seam, the [`SqlStore`] that
//! runs the shared SQL over either, and small helpers for that SQL.
//!
//! SQLite accepts PostgreSQL's `$1` placeholders, so one text of each query
//! serves both databases. The SQL itself lives with its resource
//! (`channels.rs`, `tokens.rs`, `events.rs`, `webhooks.rs`, `node.rs`); a
//! backend (`sqlite.rs`, `postgres.rs`) only says how to connect, how to start
//! a write transaction, and how to do an append's steps: lock the channel
//! rows while ids are made, insert the events, advance the channels, and
//! (whether) announce it to other nodes. Those steps differ because with
//! PostgreSQL each statement is a network round trip: there an append is two
//! statements over arrays for all channels of a group, while SQLite, in
//! process, runs a simpler statement per step.

use std::future::Future;

use sqlx::{Database, IntoArguments, Pool, Transaction};

use super::{EventIds, StoreError, StoreResult};
use crate::model::{Event, Millis};

/// One database's side of the store: everything in which SQLite and
/// PostgreSQL differ. The bounds on [`Backend::Db`] are the ones Rust can
/// carry to every user of a backend; the rest are on [`sql_impl!`].
pub(crate) trait Backend: Send + Sync + 'static {
    type Db: Database<Arguments: IntoArguments<Self::Db>, QueryResult: RowsAffected>;

    /// `sqlite` or `postgres`.
    const NAME: &'static str;
    /// Whether several nodes may share the database (see [`super::NodeStore::clustered`]).
    const CLUSTERED: bool;
    fn pool(&self) -> &Pool<Self::Db>;

    /// Starts a transaction that will write.
    fn begin_write(
        &self,
    ) -> impl Future<Output = sqlx::Result<Transaction<'static, Self::Db>>> + Send;

    /// Starts an append's transaction: [`Self::begin_write`], on connections
    /// kept for appends where the backend keeps some.
    fn begin_append(
        &self,
    ) -> impl Future<Output = sqlx::Result<Transaction<'static, Self::Db>>> + Send;

    /// Sends `payload` to every node listening on `topic` (no-op unless clustered).
    fn notify(&self, topic: &str, payload: &str) -> impl Future<Output = StoreResult<()>> + Send;

    /// Locks the rows of `channel_ids` (sorted, distinct) until commit, so
    /// that ids are made in commit order, and reads each one's last event id
    /// and active webhooks: one row per webhook, or one with none; no row
    /// for a channel that does not exist.
    fn lock_channels(
        &self,
        tx: &mut Transaction<'static, Self::Db>,
        channel_ids: &[&str],
        now: Millis,
    ) -> impl Future<Output = StoreResult<Vec<LockedChannel>>> + Send;

    /// Stores an append inside its transaction: inserts the events (of
    /// any number of channels), moves each channel's counters and last event
    /// id past its events, and, when clustered, announces them to every node.
    fn write_append(
        &self,
        tx: &mut Transaction<'static, Self::Db>,
        rows: &[EventInsert<'_>],
        advances: &[ChannelAdvance<'_>],
        now: Millis,
    ) -> impl Future<Output = StoreResult<()>> + Send;
}

/// A channel row locked for an append, with one of its active webhooks.
#[derive(sqlx::FromRow)]
pub(crate) struct LockedChannel {
    pub channel_id: String,
    pub last_event_id: Option<String>,
    pub hook_id: Option<String>,
    /// The webhook's type filter, as a JSON array.
    pub hook_event_types: Option<String>,
}

/// One event to insert, with its serialized data and its publish token.
pub(crate) struct EventInsert<'a> {
    pub event: &'a Event,
    pub data_json: &'a str,
    pub token_id: Option<&'a str>,
}

/// What one append did to one channel.
pub(crate) struct ChannelAdvance<'a> {
    pub channel_id: &'a str,
    /// The channel's newest id before these events.
    pub after_id: Option<&'a str>,
    /// Its appended events, in id order (at least one).
    pub events: Vec<&'a Event>,
}

impl ChannelAdvance<'_> {
    pub fn last_id(&self) -> &str {
        self.events.last().map_or("", |event| event.id.as_str())
    }
}

/// The lock query's selection, shared by the backends.
pub(crate) const LOCKED_CHANNEL_COLUMNS: &str = "SELECT c.id AS channel_id, c.last_event_id, \
     w.id AS hook_id, w.event_types AS hook_event_types FROM channels c LEFT JOIN webhooks w \
     ON w.channel_id = c.id AND w.state = 'active' AND w.expires_at > $2";

/// `rows_affected` of a statement's result, which sqlx has per backend only.
pub(crate) trait RowsAffected {
    fn rows_affected(&self) -> u64;
}

impl RowsAffected for sqlx::sqlite::SqliteQueryResult {
    fn rows_affected(&self) -> u64 {
        self.rows_affected()
    }
}

impl RowsAffected for sqlx::postgres::PgQueryResult {
    fn rows_affected(&self) -> u64 {
        self.rows_affected()
    }
}

/// The store over one backend. Its [`super::Store`] parts are implemented,
/// one resource per file, with [`sql_impl!`].
pub struct SqlStore<B> {
    backend: B,
    ids: EventIds,
}

impl<B: Backend> SqlStore<B> {
    pub(crate) fn new(backend: B) -> Self {
        SqlStore {
            backend,
            ids: EventIds::default(),
        }
    }

    pub(crate) fn backend(&self) -> &B {
        &self.backend
    }

    pub(crate) fn pool(&self) -> &Pool<B::Db> {
        self.backend.pool()
    }

    pub(crate) fn ids(&self) -> &EventIds {
        &self.ids
    }
}

/// Writes `#[async_trait] impl<B: Backend> $trait for SqlStore<B>` with the
/// database capabilities the shared SQL uses. Rust does not carry bounds on
/// other types (`String: Decode<B::Db>`) from a trait to its users, so every
/// generic impl would repeat this list; this macro keeps it in one place. The
/// body is ordinary code at the call site: editors and compiler errors see it
/// where it is written.
macro_rules! sql_impl {
    ($trait:path { $($body:tt)* }) => {
        #[async_trait::async_trait]
        impl<B: $crate::store::sql::Backend> $trait for $crate::store::sql::SqlStore<B>
        where
            for<'c> &'c mut <B::Db as sqlx::Database>::Connection:
                sqlx::Executor<'c, Database = B::Db>,
            usize: sqlx::ColumnIndex<<B::Db as sqlx::Database>::Row>,
            for<'a> &'a str: sqlx::ColumnIndex<<B::Db as sqlx::Database>::Row>,
            for<'q> &'q str: sqlx::Encode<'q, B::Db> + sqlx::Type<B::Db>,
            for<'q> String: sqlx::Encode<'q, B::Db> + sqlx::Decode<'q, B::Db> + sqlx::Type<B::Db>,
            for<'q> Option<String>:
                sqlx::Encode<'q, B::Db> + sqlx::Decode<'q, B::Db> + sqlx::Type<B::Db>,
            for<'q> Option<&'q str>: sqlx::Encode<'q, B::Db> + sqlx::Type<B::Db>,
            for<'q> i64: sqlx::Encode<'q, B::Db> + sqlx::Decode<'q, B::Db> + sqlx::Type<B::Db>,
            for<'q> Option<i64>:
                sqlx::Encode<'q, B::Db> + sqlx::Decode<'q, B::Db> + sqlx::Type<B::Db>,
            for<'q> bool: sqlx::Encode<'q, B::Db> + sqlx::Decode<'q, B::Db> + sqlx::Type<B::Db>,
        {
            $($body)*
        }
    };
}
pub(crate) use sql_impl;

/// Rows per multi-row statement, well under both backends' bind limits.
pub(crate) const INSERT_CHUNK: usize = 1000;

/// A JSON value stored in a TEXT column, read back.
pub(crate) fn from_json_text<T: serde::de::DeserializeOwned>(
    text: &str,
    column: &str,
) -> StoreResult<T> {
    serde_json::from_str(text).map_err(|e| StoreError::Malformed(format!("column {column}: {e}")))
}

/// A value as stored in a TEXT column.
pub(crate) fn to_json_text<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string(value).expect("plain data always serializes")
}

/// Maps a unique-key violation to [`StoreError::Conflict`] and a foreign-key
/// violation to [`StoreError::NotFound`].
pub(crate) fn classify(err: sqlx::Error) -> StoreError {
    match &err {
        sqlx::Error::Database(db) if db.is_unique_violation() => StoreError::Conflict,
        sqlx::Error::Database(db) if db.is_foreign_key_violation() => StoreError::NotFound,
        _ => StoreError::Database(err),
    }
}
