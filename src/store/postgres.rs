//! PostgreSQL backend: for production and for several nodes on one database.
//!
//! Appends lock the channel row (`FOR UPDATE`) while ids are made, so ids in a
//! channel follow commit order even with publishers on several nodes, and
//! announce themselves with `pg_notify` in the same transaction, so every node
//! hears of them at commit, in commit order.

use std::time::Duration;

use sqlx::{
    Postgres, Transaction,
    postgres::{PgPool, PgPoolOptions},
};

use super::{
    StoreError, StoreResult,
    sql::{Backend, SqlStore},
};
use crate::{
    model::Event,
    notice::{AppendNotice, EVENTS_TOPIC},
};

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("migrations/postgres");

pub struct PostgresBackend {
    pool: PgPool,
}

pub type PostgresStore = SqlStore<PostgresBackend>;

impl PostgresStore {
    /// Connects to `url` (`postgres://user@host/db`).
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        let pool = PgPoolOptions::new()
            .max_connections(16)
            .acquire_timeout(Duration::from_secs(10))
            .connect(url)
            .await?;
        MIGRATOR.run(&pool).await?;
        Ok(SqlStore::new(PostgresBackend { pool }))
    }
}

async fn notify<'e, E: sqlx::PgExecutor<'e>>(
    executor: E,
    topic: &str,
    payload: &str,
) -> StoreResult<()> {
    sqlx::query("SELECT pg_notify($1, $2)")
        .bind(topic)
        .bind(payload)
        .execute(executor)
        .await?;
    Ok(())
}

impl Backend for PostgresBackend {
    type Db = Postgres;
    const NAME: &'static str = "postgres";
    const CLUSTERED: bool = true;
    /// Locks the channel row (not the webhooks) until commit.
    const LOCK_SUFFIX: &'static str = " FOR UPDATE OF c";

    fn pool(&self) -> &PgPool {
        &self.pool
    }

    async fn begin_write(&self) -> sqlx::Result<Transaction<'static, Postgres>> {
        self.pool.begin().await
    }

    async fn notify(&self, topic: &str, payload: &str) -> StoreResult<()> {
        notify(&self.pool, topic, payload).await
    }

    async fn announce_append(
        &self,
        tx: &mut Transaction<'static, Postgres>,
        after_id: Option<&str>,
        events: &[&Event],
    ) -> StoreResult<()> {
        let payload = AppendNotice::encode(after_id, events);
        notify(&mut **tx, EVENTS_TOPIC, &payload).await
    }
}
