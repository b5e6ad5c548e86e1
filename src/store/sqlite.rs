//! SQLite backend: the zero-configuration default.
//!
//! WAL mode with `synchronous = FULL`, so that a committed event survives a
//! crash or a power cut. Write transactions start with `BEGIN IMMEDIATE` so
//! that two writers queue on the busy timeout instead of failing on upgrade.

use std::{str::FromStr, time::Duration};

use sqlx::{
    Sqlite, Transaction,
    sqlite::{
        SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
    },
};

use super::{
    StoreError, StoreResult,
    sql::{Backend, SqlStore},
};
use crate::model::Event;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("migrations/sqlite");

pub struct SqliteBackend {
    pool: SqlitePool,
}

pub type SqliteStore = SqlStore<SqliteBackend>;

impl SqliteStore {
    /// Opens (creating if needed) the database at `url`, e.g. `sqlite://channelhub.db`.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        let options = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10));
        let pool = SqlitePoolOptions::new()
            .max_connections(8)
            .connect_with(options)
            .await?;
        MIGRATOR.run(&pool).await?;
        Ok(SqlStore::new(SqliteBackend { pool }))
    }
}

impl Backend for SqliteBackend {
    type Db = Sqlite;
    const NAME: &'static str = "sqlite";
    /// One process owns a SQLite database: nothing to announce.
    const CLUSTERED: bool = false;
    /// SQLite has one writer at a time, so the write transaction is the lock.
    const LOCK_SUFFIX: &'static str = "";

    fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    async fn begin_write(&self) -> sqlx::Result<Transaction<'static, Sqlite>> {
        self.pool.begin_with("BEGIN IMMEDIATE").await
    }

    async fn notify(&self, _topic: &str, _payload: &str) -> StoreResult<()> {
        Ok(())
    }

    async fn announce_append(
        &self,
        _tx: &mut Transaction<'static, Sqlite>,
        _after_id: Option<&str>,
        _events: &[&Event],
    ) -> StoreResult<()> {
        Ok(())
    }
}
