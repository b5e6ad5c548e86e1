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

use super::{EventIds, sql::impl_sql_store};

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("migrations/postgres");

pub struct PostgresStore {
    pool: PgPool,
    ids: EventIds,
}

impl PostgresStore {
    const BACKEND: &'static str = "postgres";
    const CLUSTERED: bool = true;
    /// Locks the channel row (not the webhooks) until commit.
    const LOCK_SUFFIX: &'static str = " FOR UPDATE OF c";

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

    async fn notify<'e, E: sqlx::PgExecutor<'e>>(
        &self,
        executor: E,
        topic: &str,
        payload: &str,
    ) -> Result<(), super::StoreError> {
        sqlx::query("SELECT pg_notify($1, $2)")
            .bind(topic)
            .bind(payload)
            .execute(executor)
            .await?;
        Ok(())
    }

    async fn announce_append(
        &self,
        tx: &mut Transaction<'static, Postgres>,
        after_id: Option<&str>,
        events: &[&crate::model::Event],
    ) -> Result<(), super::StoreError> {
        let payload = crate::cluster::AppendNotice::encode(after_id, events);
        self.notify(&mut **tx, crate::cluster::EVENTS_TOPIC, &payload)
            .await
    }
}

impl_sql_store!(PostgresStore, sqlx::Postgres);
