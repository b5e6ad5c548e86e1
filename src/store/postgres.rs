//! PostgreSQL backend: for production and for several nodes on one database.
//!
//! Appends lock the channel row (`FOR UPDATE`) while ids are made, so ids in a
//! channel follow commit order even with publishers on several nodes.

use std::time::Duration;

use sqlx::{
    Postgres, Transaction,
    postgres::{PgPool, PgPoolOptions},
};

use super::{EventIds, sql::impl_sql_store};

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("migrations/postgres");

pub struct PostgresStore {
    pool: PgPool,
    ids: EventIds,
}

impl PostgresStore {
    const BACKEND: &'static str = "postgres";
    const LOCK_CHANNEL_SQL: &'static str =
        "SELECT last_event_id FROM channels WHERE id = $1 FOR UPDATE";

    /// Connects to `url` (`postgres://user@host/db`).
    pub async fn connect(url: &str) -> Result<Self, super::StoreError> {
        let pool = PgPoolOptions::new()
            .max_connections(16)
            .acquire_timeout(Duration::from_secs(10))
            .connect(url)
            .await?;
        MIGRATOR.run(&pool).await?;
        Ok(PostgresStore {
            pool,
            ids: EventIds::default(),
        })
    }

    async fn begin_write(&self) -> Result<Transaction<'static, Postgres>, sqlx::Error> {
        self.pool.begin().await
    }
}

impl_sql_store!(PostgresStore, sqlx::Postgres);
