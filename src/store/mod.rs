//! Durable state: channels, tokens, events, webhooks, trusted keys and settings, in SQLite or PostgreSQL.
//!
//! Everything above this module talks to the [`Store`] trait; only this module
//! writes SQL. It knows nothing of HTTP, sockets or authorization: callers
//! decide who may do what, the store only keeps the data consistent.
//!
//! One invariant matters more than the rest: within a channel, event ids are
//! assigned in commit order (the channel row is locked while ids are made, and
//! each new id is larger than any id the channel ever had). That is what lets a
//! poller follow `id > cursor` and see every event exactly once.

mod channels;
mod events;
mod keys;
mod node;
mod postgres;
mod sql;
mod sqlite;
mod tokens;
mod webhooks;

use std::sync::Arc;

use ulid::{Generator, Ulid};

pub use channels::ChannelStore;
pub use events::{
    AppendBatch, Appended, BatchOutcome, EventStore, IdempotencyKey, IdempotentResult,
};
pub use keys::{Adding, KeyStore};
pub use node::NodeStore;
pub use postgres::PostgresStore;
pub use sqlite::SqliteStore;
pub use tokens::TokenStore;
pub use webhooks::{AttemptRecord, JobNext, Registration, WebhookJob, WebhookStore};

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

/// Everything the server keeps, one part per resource; each part's SQL is in
/// the file of the same name. Implemented for [`SqliteStore`] and
/// [`PostgresStore`].
pub trait Store:
    NodeStore + ChannelStore + TokenStore + EventStore + WebhookStore + KeyStore
{
}

impl<T: NodeStore + ChannelStore + TokenStore + EventStore + WebhookStore + KeyStore> Store for T {}

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
