//! SQLite backend: the zero-configuration default.
//!
//! WAL mode with `synchronous = FULL`, so that a committed event survives a
//! crash or a power cut. Write transactions start with `BEGIN IMMEDIATE` so
//! that two writers queue on the busy timeout instead of failing on upgrade.

use std::{str::FromStr, time::Duration};

use sqlx::{
    QueryBuilder, Sqlite, Transaction,
    sqlite::{
        SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
    },
};

use super::{
    StoreError, StoreResult,
    sql::{
        Backend, ChannelAdvance, EventInsert, INSERT_CHUNK, LOCKED_CHANNEL_COLUMNS, LockedChannel,
        SqlStore, to_json_text,
    },
};
use crate::model::Millis;

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
            // An in-process database does not go away: the test would only
            // cost a hop to sqlx's SQLite thread per transaction.
            .test_before_acquire(false)
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
    fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    async fn begin_write(&self) -> sqlx::Result<Transaction<'static, Sqlite>> {
        self.pool.begin_with("BEGIN IMMEDIATE").await
    }

    /// sqlx's SQLite connections talk to their threads over channels, which
    /// serve any runtime: appends share the pool.
    async fn begin_append(&self) -> sqlx::Result<Transaction<'static, Sqlite>> {
        self.begin_write().await
    }

    async fn notify(&self, _topic: &str, _payload: &str) -> StoreResult<()> {
        Ok(())
    }

    /// One statement for every channel of the group (the ids travel as a
    /// JSON array): each statement is a hop to sqlx's SQLite thread. The
    /// write transaction (`BEGIN IMMEDIATE`) is the lock.
    async fn lock_channels(
        &self,
        tx: &mut Transaction<'static, Sqlite>,
        channel_ids: &[&str],
        now: Millis,
    ) -> StoreResult<Vec<LockedChannel>> {
        let sql = format!(
            "{LOCKED_CHANNEL_COLUMNS} WHERE c.id IN (SELECT value FROM json_each($1)) \
             ORDER BY c.id, w.id"
        );
        Ok(sqlx::query_as::<_, LockedChannel>(sqlx::AssertSqlSafe(sql))
            .bind(to_json_text(&channel_ids))
            .bind(now)
            .fetch_all(&mut **tx)
            .await?)
    }

    /// A statement per step (events, channels), none to announce: one
    /// process owns the database.
    async fn write_append(
        &self,
        tx: &mut Transaction<'static, Sqlite>,
        rows: &[EventInsert<'_>],
        advances: &[ChannelAdvance<'_>],
        now: Millis,
    ) -> StoreResult<()> {
        for chunk in rows.chunks(INSERT_CHUNK) {
            let mut insert = QueryBuilder::<Sqlite>::new(
                "INSERT INTO events (channel_id, id, type, data, meta, publisher_id, \
                 publisher_name, token_id, created_at) ",
            );
            insert.push_values(chunk, |mut row, new| {
                let event = new.event;
                // Borrowed, not copied: the rows outlive the statement.
                row.push_bind(event.channel_id.as_str())
                    .push_bind(event.id.as_str())
                    .push_bind(event.event_type.as_deref())
                    .push_bind(new.data_json)
                    .push_bind(event.meta.as_deref())
                    .push_bind(event.publisher_id.as_str())
                    .push_bind(event.publisher_name.as_deref())
                    .push_bind(new.token_id)
                    .push_bind(now);
            });
            insert.build().execute(&mut **tx).await?;
        }
        let counts: Vec<(&str, usize, &str)> = advances
            .iter()
            .map(|a| (a.channel_id, a.events.len(), a.last_id()))
            .collect();
        sqlx::query(
            "UPDATE channels SET event_count = event_count + a.added, last_event_at = $2, \
             last_event_id = a.last_id FROM (SELECT value ->> 0 AS id, value ->> 1 AS added, \
             value ->> 2 AS last_id FROM json_each($1)) AS a WHERE channels.id = a.id",
        )
        .bind(to_json_text(&counts))
        .bind(now)
        .execute(&mut **tx)
        .await?;
        Ok(())
    }
}
