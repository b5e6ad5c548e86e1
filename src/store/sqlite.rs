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

use super::{EventIds, sql::impl_sql_store};

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("migrations/sqlite");

pub struct SqliteStore {
    pool: SqlitePool,
    ids: EventIds,
}

impl SqliteStore {
    const BACKEND: &'static str = "sqlite";
    /// One process owns a SQLite database: nothing to announce.
    const CLUSTERED: bool = false;
    /// SQLite has one writer at a time, so the write transaction is the lock.
    const LOCK_SUFFIX: &'static str = "";

    /// Opens (creating if needed) the database at `url`, e.g. `sqlite://channelhub.db`.
    pub async fn connect(url: &str) -> Result<Self, super::StoreError> {
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
        Ok(SqliteStore {
            pool,
            ids: EventIds::default(),
        })
    }

    async fn begin_write(&self) -> Result<Transaction<'static, Sqlite>, sqlx::Error> {
        self.pool.begin_with("BEGIN IMMEDIATE").await
    }

    async fn notify(
        &self,
        _pool: &SqlitePool,
        _topic: &str,
        _payload: &str,
    ) -> Result<(), super::StoreError> {
        Ok(())
    }

    async fn announce_append(
        &self,
        _tx: &mut Transaction<'static, Sqlite>,
        _after_id: Option<&str>,
        _events: &[&crate::model::Event],
    ) -> Result<(), super::StoreError> {
        Ok(())
    }
}

impl_sql_store!(SqliteStore, sqlx::Sqlite);
