//! PostgreSQL backend: for production and for several nodes on one database.
//!
//! Appends lock the channel row (`FOR UPDATE`) while ids are made, so ids in a
//! channel follow commit order even with publishers on several nodes, and
//! announce themselves with `pg_notify` in the same transaction, so every node
//! hears of them at commit, in commit order.

use std::{str::FromStr, time::Duration};

use sqlx::{
    Postgres, Transaction,
    postgres::{PgConnectOptions, PgPool, PgPoolOptions},
};

use super::{
    StoreError, StoreResult,
    sql::{Backend, ChannelAdvance, EventInsert, LOCKED_CHANNEL_COLUMNS, LockedChannel, SqlStore},
};
use crate::{
    model::Millis,
    notice::{AppendNotice, EVENTS_TOPIC},
};

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("migrations/postgres");

pub struct PostgresBackend {
    pool: PgPool,
    /// Connections for appends only, opened by the first appends that need
    /// them. A connection's socket is served by the runtime that opened it,
    /// and the event writers run on a thread and runtime of their own (see
    /// `hub::writer`): opened there, each round trip of a commit is answered
    /// by that runtime at once instead of waiting for the main runtime's
    /// busy workers to poll their reactor.
    append_pool: PgPool,
}

/// Most connections kept for appends: one per event writer, and spare.
const APPEND_CONNECTIONS: u32 = 4;

pub type PostgresStore = SqlStore<PostgresBackend>;

impl PostgresStore {
    /// Connects to `url` (`postgres://user@host/db`).
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        let options = PgConnectOptions::from_str(url)?;
        let pool = pool_options(16).connect_with(options.clone()).await?;
        let append_pool = pool_options(APPEND_CONNECTIONS).connect_lazy_with(options);
        MIGRATOR.run(&pool).await?;
        Ok(SqlStore::new(PostgresBackend { pool, append_pool }))
    }
}

/// Both pools' settings. sqlx's default test before each acquire is one
/// more round trip per transaction (a quarter of a single-event append's); a
/// connection that did die fails its statement instead, and is not returned
/// to the pool.
fn pool_options(max_connections: u32) -> PgPoolOptions {
    PgPoolOptions::new()
        .max_connections(max_connections)
        .test_before_acquire(false)
        .acquire_timeout(Duration::from_secs(10))
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
    fn pool(&self) -> &PgPool {
        &self.pool
    }

    async fn begin_write(&self) -> sqlx::Result<Transaction<'static, Postgres>> {
        self.pool.begin().await
    }

    async fn begin_append(&self) -> sqlx::Result<Transaction<'static, Postgres>> {
        self.append_pool.begin().await
    }

    async fn notify(&self, topic: &str, payload: &str) -> StoreResult<()> {
        notify(&self.pool, topic, payload).await
    }

    /// One statement for every channel of the group: `FOR UPDATE` takes the
    /// rows in `ORDER BY` order, which is id order on every node.
    async fn lock_channels(
        &self,
        tx: &mut Transaction<'static, Postgres>,
        channel_ids: &[&str],
        now: Millis,
    ) -> StoreResult<Vec<LockedChannel>> {
        let sql = format!(
            "{LOCKED_CHANNEL_COLUMNS} WHERE c.id = ANY($1) ORDER BY c.id, w.id FOR UPDATE OF c"
        );
        Ok(sqlx::query_as::<_, LockedChannel>(sqlx::AssertSqlSafe(sql))
            .bind(channel_ids)
            .bind(now)
            .fetch_all(&mut **tx)
            .await?)
    }

    /// One statement for all of it, whatever the number of events and
    /// channels: data-modifying `WITH` parts insert the events and advance
    /// the channels, and the query itself sends one notification per
    /// channel. The columns travel as arrays, so the statement text (and its
    /// prepared plan) never changes.
    async fn write_append(
        &self,
        tx: &mut Transaction<'static, Postgres>,
        rows: &[EventInsert<'_>],
        advances: &[ChannelAdvance<'_>],
        now: Millis,
    ) -> StoreResult<()> {
        let column = |get: for<'r> fn(&'r EventInsert<'r>) -> Option<&'r str>| {
            rows.iter().map(get).collect::<Vec<_>>()
        };
        let channel_ids: Vec<&str> = advances.iter().map(|a| a.channel_id).collect();
        let added: Vec<i64> = advances.iter().map(|a| a.events.len() as i64).collect();
        let last_ids: Vec<&str> = advances.iter().map(ChannelAdvance::last_id).collect();
        // Other nodes (and this one's fan-out) learn of it at commit, in commit order.
        let notices: Vec<String> = advances
            .iter()
            .map(|append| AppendNotice::encode(append.after_id, &append.events))
            .collect();
        sqlx::query(
            "WITH inserted AS (INSERT INTO events (channel_id, id, type, data, meta, \
             publisher_id, publisher_name, token_id, created_at) \
             SELECT channel_id, id, type, data, meta, publisher_id, publisher_name, token_id, $9 \
             FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], \
             $6::text[], $7::text[], $8::text[]) \
             AS e(channel_id, id, type, data, meta, publisher_id, publisher_name, token_id)), \
             advanced AS (UPDATE channels c SET event_count = c.event_count + a.added, \
             last_event_at = $9, last_event_id = a.last_id \
             FROM UNNEST($10::text[], $11::int8[], $12::text[]) AS a(id, added, last_id) \
             WHERE c.id = a.id) \
             SELECT pg_notify($13, notice) FROM UNNEST($14::text[]) AS notice",
        )
        .bind(column(|r| Some(r.event.channel_id.as_str())))
        .bind(column(|r| Some(r.event.id.as_str())))
        .bind(column(|r| r.event.event_type.as_deref()))
        .bind(column(|r| Some(r.data_json)))
        .bind(column(|r| r.event.meta.as_deref()))
        .bind(column(|r| Some(r.event.publisher_id.as_str())))
        .bind(column(|r| r.event.publisher_name.as_deref()))
        .bind(column(|r| r.token_id))
        .bind(now)
        .bind(channel_ids)
        .bind(added)
        .bind(last_ids)
        .bind(EVENTS_TOPIC)
        .bind(notices)
        .execute(&mut **tx)
        .await?;
        Ok(())
    }
}
