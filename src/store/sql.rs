//! The SQL both backends share.
//!
//! SQLite accepts PostgreSQL's `$1` placeholders, so one text of each query
//! serves both. sqlx's row and executor traits are awkward to abstract over, so
//! the shared implementation is a macro expanded once per backend; each backend
//! only supplies how to connect, how to start a write transaction, and how to
//! lock a channel row while new event ids are made.

/// Expands to `impl Store for $store`. `$store` must have a `pool: Pool<$db>`
/// field and the inherent items `BACKEND`, `LOCK_SUFFIX` and `begin_write`.
macro_rules! impl_sql_store {
    ($store:ty, $db:ty) => {
        use async_trait::async_trait;
        use sqlx::{QueryBuilder, Row};
        use ulid::Ulid;

        use crate::model::{
            Channel, ChannelConfig, DeliveryAttempt, Event, EventQuery, Millis, NewChannel,
            Retention, TokenKind, TokenRecord, WebhookRecord, WebhookState, format_millis,
        };
        use crate::store::{
            AppendBatch, Appended, AttemptRecord, JobNext, Registration, Store, StoreError,
            StoreResult, WebhookJob,
        };

        type DbRow = <$db as sqlx::Database>::Row;

        const CHANNEL_COLUMNS: &str = "id, name, description, tags, is_public, meta, config, \
             max_age_seconds, max_events, created_at, event_count, last_event_at, last_event_id";
        const EVENT_COLUMNS: &str =
            "id, channel_id, type, data, meta, publisher_id, publisher_name, created_at";
        const TOKEN_COLUMNS: &str =
            "id, channel_id, kind, name, publisher_id, secret_hash, created_at, expires_at";
        const WEBHOOK_COLUMNS: &str = "id, channel_id, url, event_types, secret, created_at, \
             expires_at, state, last_error, failing_since, last_success_at";
        /// Attempts kept per webhook.
        const KEPT_ATTEMPTS: i64 = 100;
        /// Rows per multi-row insert, well under both backends' bind limits.
        const INSERT_CHUNK: usize = 1000;
        /// A channel's last event id and its active webhooks (one row each, or
        /// one row with no webhook); no row if there is no such channel.
        /// `LOCK_SUFFIX` makes it lock the channel row where the backend needs that.
        const LOCK_CHANNEL_WITH_HOOKS: &str = "SELECT c.last_event_id, w.id, w.event_types \
             FROM channels c LEFT JOIN webhooks w ON w.channel_id = c.id \
             AND w.state = 'active' AND w.expires_at > $2 WHERE c.id = $1 ORDER BY w.id";
        /// The oldest queued job of each webhook, with when it can next be
        /// tried: its retry time, or later if a node holds it.
        const HEAD_JOBS: &str = "SELECT j.id, j.webhook_id, j.event_id, j.attempts, \
             CASE WHEN j.leased_until > j.next_attempt_at THEN j.leased_until ELSE j.next_attempt_at END AS ready_at \
             FROM webhook_jobs j JOIN (SELECT webhook_id, MIN(id) AS head FROM webhook_jobs \
             GROUP BY webhook_id) h ON j.id = h.head";

        fn json_column<T: serde::de::DeserializeOwned>(row: &DbRow, column: &str) -> StoreResult<T> {
            let text: String = row.try_get(column)?;
            serde_json::from_str(&text)
                .map_err(|e| StoreError::Malformed(format!("column {column}: {e}")))
        }

        fn channel_from_row(row: &DbRow) -> StoreResult<Channel> {
            Ok(Channel {
                id: row.try_get("id")?,
                name: row.try_get("name")?,
                description: row.try_get("description")?,
                tags: json_column(row, "tags")?,
                is_public: row.try_get("is_public")?,
                meta: json_column(row, "meta")?,
                config: json_column::<ChannelConfig>(row, "config")?,
                retention: Retention {
                    max_age_seconds: row.try_get("max_age_seconds")?,
                    max_events: row.try_get("max_events")?,
                },
                created_at: format_millis(row.try_get("created_at")?),
                event_count: row.try_get("event_count")?,
                last_event_at: row.try_get::<Option<i64>, _>("last_event_at")?.map(format_millis),
                subscribers: 0,
                last_event_id: row.try_get("last_event_id")?,
            })
        }

        fn event_from_row(row: &DbRow) -> StoreResult<Event> {
            Ok(Event {
                id: row.try_get("id")?,
                channel_id: row.try_get("channel_id")?,
                event_type: row.try_get("type")?,
                data: json_column(row, "data")?,
                meta: row.try_get("meta")?,
                publisher_id: row.try_get("publisher_id")?,
                publisher_name: row.try_get("publisher_name")?,
                created_at: format_millis(row.try_get("created_at")?),
            })
        }

        fn token_from_row(row: &DbRow) -> StoreResult<TokenRecord> {
            let kind: String = row.try_get("kind")?;
            Ok(TokenRecord {
                id: row.try_get("id")?,
                channel_id: row.try_get("channel_id")?,
                kind: TokenKind::parse(&kind)
                    .ok_or_else(|| StoreError::Malformed(format!("token kind {kind:?}")))?,
                name: row.try_get("name")?,
                publisher_id: row.try_get("publisher_id")?,
                secret_hash: row.try_get("secret_hash")?,
                created_at: row.try_get("created_at")?,
                expires_at: row.try_get("expires_at")?,
            })
        }

        fn webhook_from_row(row: &DbRow) -> StoreResult<WebhookRecord> {
            let state: String = row.try_get("state")?;
            let event_types: Option<String> = row.try_get("event_types")?;
            Ok(WebhookRecord {
                id: row.try_get("id")?,
                channel_id: row.try_get("channel_id")?,
                url: row.try_get("url")?,
                event_types: match event_types {
                    Some(text) => serde_json::from_str(&text)
                        .map_err(|e| StoreError::Malformed(format!("webhook event_types: {e}")))?,
                    None => Vec::new(),
                },
                secret: row.try_get("secret")?,
                created_at: row.try_get("created_at")?,
                expires_at: row.try_get("expires_at")?,
                state: WebhookState::parse(&state)
                    .ok_or_else(|| StoreError::Malformed(format!("webhook state {state:?}")))?,
                last_error: row.try_get("last_error")?,
                failing_since: row.try_get("failing_since")?,
                last_success_at: row.try_get("last_success_at")?,
            })
        }

        fn event_types_text(types: &[String]) -> Option<String> {
            (!types.is_empty()).then(|| to_json_text(&types))
        }

        fn to_json_text<T: serde::Serialize>(value: &T) -> String {
            serde_json::to_string(value).expect("plain data always serializes")
        }

        /// Maps a unique-key violation to [`StoreError::Conflict`] and a
        /// foreign-key violation to [`StoreError::NotFound`].
        fn classify(err: sqlx::Error) -> StoreError {
            match &err {
                sqlx::Error::Database(db) if db.is_unique_violation() => StoreError::Conflict,
                sqlx::Error::Database(db) if db.is_foreign_key_violation() => StoreError::NotFound,
                _ => StoreError::Database(err),
            }
        }

        #[async_trait]
        impl Store for $store {
            fn backend(&self) -> &'static str {
                Self::BACKEND
            }

            fn clustered(&self) -> bool {
                Self::CLUSTERED
            }

            async fn announce(&self, topic: &str, payload: &str) -> StoreResult<()> {
                self.notify(&self.pool, topic, payload).await
            }

            async fn ping(&self) -> StoreResult<()> {
                sqlx::query("SELECT 1").execute(&self.pool).await?;
                Ok(())
            }

            async fn get_setting(&self, key: &str) -> StoreResult<Option<String>> {
                Ok(sqlx::query_scalar("SELECT value FROM settings WHERE key = $1")
                    .bind(key)
                    .fetch_optional(&self.pool)
                    .await?)
            }

            async fn put_setting_if_absent(&self, key: &str, value: &str) -> StoreResult<String> {
                sqlx::query("INSERT INTO settings (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING")
                    .bind(key)
                    .bind(value)
                    .execute(&self.pool)
                    .await?;
                self.get_setting(key)
                    .await?
                    .ok_or_else(|| StoreError::Malformed(format!("setting {key} vanished")))
            }

            async fn create_channel(&self, channel: &NewChannel, now: Millis) -> StoreResult<Channel> {
                sqlx::query(
                    "INSERT INTO channels (id, name, description, tags, is_public, meta, config, \
                     max_age_seconds, max_events, created_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
                )
                .bind(&channel.id)
                .bind(&channel.name)
                .bind(&channel.description)
                .bind(to_json_text(&channel.tags))
                .bind(channel.is_public)
                .bind(to_json_text(&channel.meta))
                .bind(to_json_text(&channel.config))
                .bind(channel.retention.max_age_seconds)
                .bind(channel.retention.max_events)
                .bind(now)
                .execute(&self.pool)
                .await
                .map_err(classify)?;
                self.get_channel(&channel.id)
                    .await?
                    .ok_or_else(|| StoreError::Malformed("created channel vanished".into()))
            }

            async fn get_channel(&self, id: &str) -> StoreResult<Option<Channel>> {
                let sql = format!("SELECT {CHANNEL_COLUMNS} FROM channels WHERE id = $1");
                sqlx::query(sqlx::AssertSqlSafe(sql))
                    .bind(id)
                    .fetch_optional(&self.pool)
                    .await?
                    .as_ref()
                    .map(channel_from_row)
                    .transpose()
            }

            async fn list_channels(
                &self,
                after: Option<&str>,
                include_private: bool,
                limit: u32,
            ) -> StoreResult<Vec<Channel>> {
                let mut query = QueryBuilder::<$db>::new(format!(
                    "SELECT {CHANNEL_COLUMNS} FROM channels WHERE 1 = 1"
                ));
                if let Some(after) = after {
                    query.push(" AND id > ").push_bind(after.to_owned());
                }
                if !include_private {
                    query.push(" AND is_public = ").push_bind(true);
                }
                query.push(" ORDER BY id LIMIT ").push_bind(i64::from(limit));
                let rows = query.build().fetch_all(&self.pool).await?;
                rows.iter().map(channel_from_row).collect()
            }

            async fn update_channel(&self, channel: &Channel) -> StoreResult<Option<Channel>> {
                let updated = sqlx::query(
                    "UPDATE channels SET name = $2, description = $3, tags = $4, is_public = $5, \
                     meta = $6, config = $7, max_age_seconds = $8, max_events = $9 WHERE id = $1",
                )
                .bind(&channel.id)
                .bind(&channel.name)
                .bind(&channel.description)
                .bind(to_json_text(&channel.tags))
                .bind(channel.is_public)
                .bind(to_json_text(&channel.meta))
                .bind(to_json_text(&channel.config))
                .bind(channel.retention.max_age_seconds)
                .bind(channel.retention.max_events)
                .execute(&self.pool)
                .await?;
                if updated.rows_affected() == 0 {
                    return Ok(None);
                }
                self.get_channel(&channel.id).await
            }

            async fn delete_channel(&self, id: &str) -> StoreResult<bool> {
                let mut tx = self.begin_write().await?;
                // Children first: an explicit delete does not depend on cascades being enabled.
                for sql in [
                    "DELETE FROM events WHERE channel_id = $1",
                    "DELETE FROM tokens WHERE channel_id = $1",
                    "DELETE FROM webhook_jobs WHERE webhook_id IN (SELECT id FROM webhooks WHERE channel_id = $1)",
                    "DELETE FROM webhook_attempts WHERE webhook_id IN (SELECT id FROM webhooks WHERE channel_id = $1)",
                    "DELETE FROM webhooks WHERE channel_id = $1",
                ] {
                    sqlx::query(sql).bind(id).execute(&mut *tx).await?;
                }
                let deleted = sqlx::query("DELETE FROM channels WHERE id = $1")
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                Ok(deleted.rows_affected() > 0)
            }

            async fn create_token(&self, token: &TokenRecord) -> StoreResult<()> {
                let sql = format!(
                    "INSERT INTO tokens ({TOKEN_COLUMNS}) \
                     SELECT $1, $2, $3, $4, $5, $6, $7, $8 WHERE EXISTS (SELECT 1 FROM channels WHERE id = $2)"
                );
                let inserted = sqlx::query(sqlx::AssertSqlSafe(sql))
                    .bind(&token.id)
                    .bind(&token.channel_id)
                    .bind(token.kind.as_str())
                    .bind(&token.name)
                    .bind(&token.publisher_id)
                    .bind(&token.secret_hash)
                    .bind(token.created_at)
                    .bind(token.expires_at)
                    .execute(&self.pool)
                    .await
                    .map_err(classify)?;
                if inserted.rows_affected() == 0 {
                    return Err(StoreError::NotFound);
                }
                Ok(())
            }

            async fn get_token(&self, id: &str) -> StoreResult<Option<TokenRecord>> {
                let sql = format!("SELECT {TOKEN_COLUMNS} FROM tokens WHERE id = $1");
                sqlx::query(sqlx::AssertSqlSafe(sql))
                    .bind(id)
                    .fetch_optional(&self.pool)
                    .await?
                    .as_ref()
                    .map(token_from_row)
                    .transpose()
            }

            async fn list_tokens(&self, channel_id: &str) -> StoreResult<Vec<TokenRecord>> {
                let sql = format!(
                    "SELECT {TOKEN_COLUMNS} FROM tokens WHERE channel_id = $1 ORDER BY created_at, id"
                );
                let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
                    .bind(channel_id)
                    .fetch_all(&self.pool)
                    .await?;
                rows.iter().map(token_from_row).collect()
            }

            async fn delete_token(&self, channel_id: &str, token_id: &str) -> StoreResult<bool> {
                let deleted = sqlx::query("DELETE FROM tokens WHERE id = $1 AND channel_id = $2")
                    .bind(token_id)
                    .bind(channel_id)
                    .execute(&self.pool)
                    .await?;
                Ok(deleted.rows_affected() > 0)
            }

            async fn append_events(&self, batches: &[AppendBatch]) -> StoreResult<Appended> {
                let now = crate::model::now_millis();
                let created_at = format_millis(now);
                // Batches of one channel are appended together: one lock, one
                // insert, one update and one announcement per channel per group.
                let mut channels: Vec<(&str, Vec<usize>)> = Vec::new();
                for (i, batch) in batches.iter().enumerate() {
                    match channels.iter_mut().find(|(id, _)| *id == batch.channel_id) {
                        Some((_, members)) => members.push(i),
                        None => channels.push((&batch.channel_id, vec![i])),
                    }
                }
                // Channel rows are locked in id order, the same on every node: two
                // nodes appending to {a, b} and {b, a} would otherwise deadlock.
                channels.sort_unstable_by(|x, y| x.0.cmp(y.0));
                let mut results: Vec<Option<Vec<Event>>> = vec![None; batches.len()];
                let mut webhook_jobs = 0;
                let mut tx = self.begin_write().await?;
                for (channel_id, members) in channels {
                    // Locks the channel row until commit, so that ids are made in
                    // commit order; the same read finds its active webhooks.
                    let rows: Vec<(Option<String>, Option<String>, Option<String>)> =
                        sqlx::query_as(sqlx::AssertSqlSafe(format!(
                            "{LOCK_CHANNEL_WITH_HOOKS}{}",
                            Self::LOCK_SUFFIX
                        )))
                            .bind(channel_id)
                            .bind(now)
                            .fetch_all(&mut *tx)
                            .await?;
                    let Some((last, _, _)) = rows.first() else {
                        continue;
                    };
                    let last = last.clone();
                    let hooks = rows.into_iter().filter_map(|(_, id, types)| Some((id?, types)));
                    let mut floor = last.as_deref().and_then(|id| id.parse::<Ulid>().ok());
                    for &i in &members {
                        let batch = &batches[i];
                        let events = batch
                            .events
                            .iter()
                            .map(|new| {
                                let id = self.ids.next_after(floor);
                                floor = Some(id);
                                Event {
                                    id: id.to_string(),
                                    channel_id: channel_id.to_owned(),
                                    event_type: new.event_type.clone(),
                                    data: new.data.clone(),
                                    meta: new.meta.clone(),
                                    publisher_id: batch.publisher.id.clone(),
                                    publisher_name: batch.publisher.name.clone(),
                                    created_at: created_at.clone(),
                                }
                            })
                            .collect();
                        results[i] = Some(events);
                    }
                    // Every event of this channel in this group, with its serialized
                    // data and its publish token.
                    let rows: Vec<(&Event, &str, Option<&str>)> = members
                        .iter()
                        .flat_map(|&i| {
                            let batch = &batches[i];
                            let token = batch.token_id.as_deref();
                            results[i]
                                .iter()
                                .flatten()
                                .zip(&batch.events)
                                .map(move |(event, new)| (event, new.data_json.as_str(), token))
                        })
                        .collect();
                    for chunk in rows.chunks(INSERT_CHUNK) {
                        let mut insert = QueryBuilder::<$db>::new(
                            "INSERT INTO events (channel_id, id, type, data, meta, publisher_id, \
                             publisher_name, token_id, created_at) ",
                        );
                        insert.push_values(chunk, |mut row, (event, data_json, token)| {
                            // Borrowed, not copied: the rows outlive the statement.
                            row.push_bind(event.channel_id.as_str())
                                .push_bind(event.id.as_str())
                                .push_bind(event.event_type.as_deref())
                                .push_bind(*data_json)
                                .push_bind(&event.meta)
                                .push_bind(event.publisher_id.as_str())
                                .push_bind(event.publisher_name.as_deref())
                                .push_bind(*token)
                                .push_bind(now);
                        });
                        insert.build().execute(&mut *tx).await?;
                    }
                    sqlx::query(
                        "UPDATE channels SET event_count = event_count + $2, last_event_at = $3, \
                         last_event_id = $4 WHERE id = $1",
                    )
                    .bind(channel_id)
                    .bind(rows.len() as i64)
                    .bind(now)
                    .bind(floor.map(|id| id.to_string()))
                    .execute(&mut *tx)
                    .await?;
                    let events: Vec<&Event> = rows.iter().map(|(event, _, _)| *event).collect();
                    // Other nodes (and this one's fan-out) learn of it at commit, in commit order.
                    self.announce_append(&mut tx, last.as_deref(), &events).await?;

                    // The outbox: deliveries are queued in the events' own transaction.
                    let mut jobs: Vec<(String, &str)> = Vec::new();
                    for (hook_id, types) in hooks {
                        let types: Vec<String> = types
                            .as_deref()
                            .map(serde_json::from_str)
                            .transpose()
                            .map_err(|e| StoreError::Malformed(format!("webhook event_types: {e}")))?
                            .unwrap_or_default();
                        for event in events.iter().filter(|e| e.matches_types(&types)) {
                            jobs.push((hook_id.clone(), &event.id));
                        }
                    }
                    for chunk in jobs.chunks(INSERT_CHUNK) {
                        let mut insert = QueryBuilder::<$db>::new(
                            "INSERT INTO webhook_jobs (webhook_id, event_id, attempts, next_attempt_at) ",
                        );
                        insert.push_values(chunk, |mut row, (hook_id, event_id)| {
                            row.push_bind(hook_id.to_string())
                                .push_bind(event_id.to_string())
                                .push_bind(0_i64)
                                .push_bind(now);
                        });
                        insert.build().execute(&mut *tx).await?;
                    }
                    webhook_jobs += jobs.len();
                }
                tx.commit().await?;
                Ok(Appended {
                    events: results,
                    webhook_jobs,
                })
            }

            async fn get_event(&self, channel_id: &str, event_id: &str) -> StoreResult<Option<Event>> {
                let sql = format!("SELECT {EVENT_COLUMNS} FROM events WHERE channel_id = $1 AND id = $2");
                sqlx::query(sqlx::AssertSqlSafe(sql))
                    .bind(channel_id)
                    .bind(event_id)
                    .fetch_optional(&self.pool)
                    .await?
                    .as_ref()
                    .map(event_from_row)
                    .transpose()
            }

            async fn event_token(
                &self,
                channel_id: &str,
                event_id: &str,
            ) -> StoreResult<Option<Option<String>>> {
                Ok(sqlx::query_scalar("SELECT token_id FROM events WHERE channel_id = $1 AND id = $2")
                    .bind(channel_id)
                    .bind(event_id)
                    .fetch_optional(&self.pool)
                    .await?)
            }

            async fn list_events(&self, channel_id: &str, query: &EventQuery) -> StoreResult<Vec<Event>> {
                let mut sql = QueryBuilder::<$db>::new(format!("SELECT {EVENT_COLUMNS} FROM events WHERE channel_id = "));
                sql.push_bind(channel_id.to_owned());
                if let Some(after) = &query.after {
                    sql.push(" AND id > ").push_bind(after.clone());
                }
                if let Some(until) = &query.until {
                    sql.push(" AND id <= ").push_bind(until.clone());
                }
                if let Some(since) = query.since {
                    sql.push(" AND created_at >= ").push_bind(since);
                }
                if !query.types.is_empty() {
                    sql.push(" AND type IN (");
                    let mut list = sql.separated(", ");
                    for event_type in &query.types {
                        list.push_bind(event_type.clone());
                    }
                    sql.push(")");
                }
                sql.push(" ORDER BY id LIMIT ").push_bind(i64::from(query.limit));
                let rows = sql.build().fetch_all(&self.pool).await?;
                rows.iter().map(event_from_row).collect()
            }

            async fn latest_events(&self, channel_id: &str, limit: u32) -> StoreResult<Vec<Event>> {
                let sql = format!(
                    "SELECT {EVENT_COLUMNS} FROM events WHERE channel_id = $1 ORDER BY id DESC LIMIT $2"
                );
                let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
                    .bind(channel_id)
                    .bind(i64::from(limit))
                    .fetch_all(&self.pool)
                    .await?;
                rows.iter().map(event_from_row).collect()
            }

            async fn delete_event(&self, channel_id: &str, event_id: &str) -> StoreResult<bool> {
                let mut tx = self.begin_write().await?;
                let deleted = sqlx::query("DELETE FROM events WHERE channel_id = $1 AND id = $2")
                    .bind(channel_id)
                    .bind(event_id)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                sqlx::query("UPDATE channels SET event_count = event_count - $2 WHERE id = $1")
                    .bind(channel_id)
                    .bind(deleted as i64)
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                Ok(deleted > 0)
            }

            async fn apply_retention(&self, now: Millis) -> StoreResult<u64> {
                let policies: Vec<(String, Option<i64>, Option<i64>)> = sqlx::query_as(
                    "SELECT id, max_age_seconds, max_events FROM channels \
                     WHERE max_age_seconds IS NOT NULL OR max_events IS NOT NULL",
                )
                .fetch_all(&self.pool)
                .await?;
                let mut total = 0;
                for (channel_id, max_age_seconds, max_events) in policies {
                    let mut tx = self.begin_write().await?;
                    let mut deleted = 0;
                    if let Some(max_age) = max_age_seconds {
                        deleted += sqlx::query("DELETE FROM events WHERE channel_id = $1 AND created_at < $2")
                            .bind(&channel_id)
                            .bind(now.saturating_sub(max_age.saturating_mul(1000)))
                            .execute(&mut *tx)
                            .await?
                            .rows_affected();
                    }
                    if let Some(max_events) = max_events {
                        deleted += sqlx::query(
                            "DELETE FROM events WHERE channel_id = $1 AND id <= (SELECT id FROM events \
                             WHERE channel_id = $1 ORDER BY id DESC LIMIT 1 OFFSET $2)",
                        )
                        .bind(&channel_id)
                        .bind(max_events)
                        .execute(&mut *tx)
                        .await?
                        .rows_affected();
                    }
                    if deleted > 0 {
                        sqlx::query("UPDATE channels SET event_count = event_count - $2 WHERE id = $1")
                            .bind(&channel_id)
                            .bind(deleted as i64)
                            .execute(&mut *tx)
                            .await?;
                    }
                    tx.commit().await?;
                    total += deleted;
                }
                Ok(total)
            }

            async fn register_webhook(
                &self,
                webhook: &WebhookRecord,
                max_per_channel: usize,
            ) -> StoreResult<Registration> {
                let mut tx = self.begin_write().await?;
                let channel_exists: Option<String> = sqlx::query_scalar("SELECT id FROM channels WHERE id = $1")
                    .bind(&webhook.channel_id)
                    .fetch_optional(&mut *tx)
                    .await?;
                if channel_exists.is_none() {
                    return Err(StoreError::NotFound);
                }
                let existing: Option<String> =
                    sqlx::query_scalar("SELECT id FROM webhooks WHERE channel_id = $1 AND url = $2")
                        .bind(&webhook.channel_id)
                        .bind(&webhook.url)
                        .fetch_optional(&mut *tx)
                        .await?;
                let registration = match existing {
                    Some(id) => {
                        sqlx::query(
                            "UPDATE webhooks SET event_types = $2, expires_at = $3, state = 'active', \
                             failing_since = NULL, last_error = NULL WHERE id = $1",
                        )
                        .bind(&id)
                        .bind(event_types_text(&webhook.event_types))
                        .bind(webhook.expires_at)
                        .execute(&mut *tx)
                        .await?;
                        let sql = format!("SELECT {WEBHOOK_COLUMNS} FROM webhooks WHERE id = $1");
                        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
                            .bind(&id)
                            .fetch_one(&mut *tx)
                            .await?;
                        Registration::Refreshed(webhook_from_row(&row)?)
                    }
                    None => {
                        let live: i64 = sqlx::query_scalar(
                            "SELECT COUNT(*) FROM webhooks WHERE channel_id = $1 AND expires_at > $2",
                        )
                        .bind(&webhook.channel_id)
                        .bind(webhook.created_at)
                        .fetch_one(&mut *tx)
                        .await?;
                        if live >= max_per_channel as i64 {
                            return Ok(Registration::LimitReached);
                        }
                        let sql = format!(
                            "INSERT INTO webhooks ({WEBHOOK_COLUMNS}) \
                             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"
                        );
                        sqlx::query(sqlx::AssertSqlSafe(sql))
                            .bind(&webhook.id)
                            .bind(&webhook.channel_id)
                            .bind(&webhook.url)
                            .bind(event_types_text(&webhook.event_types))
                            .bind(&webhook.secret)
                            .bind(webhook.created_at)
                            .bind(webhook.expires_at)
                            .bind(webhook.state.as_str())
                            .bind(&webhook.last_error)
                            .bind(webhook.failing_since)
                            .bind(webhook.last_success_at)
                            .execute(&mut *tx)
                            .await
                            .map_err(classify)?;
                        Registration::Created(webhook.clone())
                    }
                };
                tx.commit().await?;
                Ok(registration)
            }

            async fn list_webhooks(&self, channel_id: &str) -> StoreResult<Vec<WebhookRecord>> {
                let sql = format!(
                    "SELECT {WEBHOOK_COLUMNS} FROM webhooks WHERE channel_id = $1 ORDER BY created_at, id"
                );
                let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
                    .bind(channel_id)
                    .fetch_all(&self.pool)
                    .await?;
                rows.iter().map(webhook_from_row).collect()
            }

            async fn get_webhook(&self, webhook_id: &str) -> StoreResult<Option<WebhookRecord>> {
                let sql = format!("SELECT {WEBHOOK_COLUMNS} FROM webhooks WHERE id = $1");
                sqlx::query(sqlx::AssertSqlSafe(sql))
                    .bind(webhook_id)
                    .fetch_optional(&self.pool)
                    .await?
                    .as_ref()
                    .map(webhook_from_row)
                    .transpose()
            }

            async fn delete_webhook(&self, channel_id: &str, webhook_id: &str) -> StoreResult<bool> {
                let mut tx = self.begin_write().await?;
                let owned: Option<String> =
                    sqlx::query_scalar("SELECT id FROM webhooks WHERE id = $1 AND channel_id = $2")
                        .bind(webhook_id)
                        .bind(channel_id)
                        .fetch_optional(&mut *tx)
                        .await?;
                if owned.is_none() {
                    return Ok(false);
                }
                for sql in [
                    "DELETE FROM webhook_jobs WHERE webhook_id = $1",
                    "DELETE FROM webhook_attempts WHERE webhook_id = $1",
                    "DELETE FROM webhooks WHERE id = $1",
                ] {
                    sqlx::query(sql).bind(webhook_id).execute(&mut *tx).await?;
                }
                tx.commit().await?;
                Ok(true)
            }

            async fn list_attempts(&self, webhook_id: &str, limit: u32) -> StoreResult<Vec<DeliveryAttempt>> {
                let rows = sqlx::query(
                    "SELECT event_id, attempt, at, outcome, status, error, duration_ms \
                     FROM webhook_attempts WHERE webhook_id = $1 ORDER BY id DESC LIMIT $2",
                )
                .bind(webhook_id)
                .bind(i64::from(limit))
                .fetch_all(&self.pool)
                .await?;
                rows.iter()
                    .map(|row| {
                        Ok(DeliveryAttempt {
                            event_id: row.try_get("event_id")?,
                            attempt: row.try_get("attempt")?,
                            at: format_millis(row.try_get("at")?),
                            outcome: row.try_get("outcome")?,
                            status: row.try_get("status")?,
                            error: row.try_get("error")?,
                            duration_ms: row.try_get("duration_ms")?,
                        })
                    })
                    .collect()
            }

            async fn next_job_due(&self) -> StoreResult<Option<Millis>> {
                let sql = format!("SELECT MIN(ready_at) FROM ({HEAD_JOBS}) heads");
                Ok(sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
                    .fetch_one(&self.pool)
                    .await?)
            }

            async fn due_jobs(&self, now: Millis, limit: u32) -> StoreResult<Vec<WebhookJob>> {
                let sql = format!("SELECT * FROM ({HEAD_JOBS}) heads WHERE ready_at <= $1 ORDER BY ready_at LIMIT $2");
                let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
                    .bind(now)
                    .bind(i64::from(limit))
                    .fetch_all(&self.pool)
                    .await?;
                rows.iter()
                    .map(|row| {
                        Ok(WebhookJob {
                            id: row.try_get("id")?,
                            webhook_id: row.try_get("webhook_id")?,
                            event_id: row.try_get("event_id")?,
                            attempts: row.try_get("attempts")?,
                        })
                    })
                    .collect()
            }

            async fn finish_attempt(
                &self,
                job: &WebhookJob,
                attempt: &AttemptRecord,
                next: JobNext,
            ) -> StoreResult<()> {
                let mut tx = self.begin_write().await?;
                sqlx::query(
                    "INSERT INTO webhook_attempts (webhook_id, event_id, attempt, at, outcome, status, error, duration_ms) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                )
                .bind(&job.webhook_id)
                .bind(&job.event_id)
                .bind(job.attempts + 1)
                .bind(attempt.at)
                .bind(attempt.outcome)
                .bind(attempt.status)
                .bind(&attempt.error)
                .bind(attempt.duration_ms)
                .execute(&mut *tx)
                .await?;
                match next {
                    JobNext::Delivered => {
                        sqlx::query("DELETE FROM webhook_jobs WHERE id = $1")
                            .bind(job.id)
                            .execute(&mut *tx)
                            .await?;
                        sqlx::query(
                            "UPDATE webhooks SET last_success_at = $2, failing_since = NULL, \
                             last_error = NULL WHERE id = $1",
                        )
                        .bind(&job.webhook_id)
                        .bind(attempt.at)
                        .execute(&mut *tx)
                        .await?;
                    }
                    JobNext::Retry(at) => {
                        sqlx::query(
                            "UPDATE webhook_jobs SET attempts = attempts + 1, next_attempt_at = $2, \
                             leased_until = NULL WHERE id = $1",
                        )
                            .bind(job.id)
                            .bind(at)
                            .execute(&mut *tx)
                            .await?;
                        sqlx::query(
                            "UPDATE webhooks SET failing_since = COALESCE(failing_since, $2), \
                             last_error = $3 WHERE id = $1",
                        )
                        .bind(&job.webhook_id)
                        .bind(attempt.at)
                        .bind(&attempt.error)
                        .execute(&mut *tx)
                        .await?;
                    }
                    JobNext::Disable => {
                        sqlx::query("DELETE FROM webhook_jobs WHERE webhook_id = $1")
                            .bind(&job.webhook_id)
                            .execute(&mut *tx)
                            .await?;
                        sqlx::query(
                            "UPDATE webhooks SET state = 'disabled', last_error = $3, \
                             failing_since = COALESCE(failing_since, $2) WHERE id = $1",
                        )
                        .bind(&job.webhook_id)
                        .bind(attempt.at)
                        .bind(&attempt.error)
                        .execute(&mut *tx)
                        .await?;
                    }
                }
                sqlx::query(
                    "DELETE FROM webhook_attempts WHERE webhook_id = $1 AND id <= (SELECT id FROM \
                     webhook_attempts WHERE webhook_id = $1 ORDER BY id DESC LIMIT 1 OFFSET $2)",
                )
                .bind(&job.webhook_id)
                .bind(KEPT_ATTEMPTS)
                .execute(&mut *tx)
                .await?;
                tx.commit().await?;
                Ok(())
            }

            async fn claim_job(&self, job_id: i64, now: Millis, until: Millis) -> StoreResult<bool> {
                let claimed = sqlx::query(
                    "UPDATE webhook_jobs SET leased_until = $3 \
                     WHERE id = $1 AND (leased_until IS NULL OR leased_until <= $2)",
                )
                .bind(job_id)
                .bind(now)
                .bind(until)
                .execute(&self.pool)
                .await?;
                Ok(claimed.rows_affected() == 1)
            }

            async fn report_subscribers(
                &self,
                node_id: &str,
                counts: &[(String, u64)],
                now: Millis,
            ) -> StoreResult<()> {
                let mut tx = self.begin_write().await?;
                sqlx::query("DELETE FROM node_subscribers WHERE node_id = $1")
                    .bind(node_id)
                    .execute(&mut *tx)
                    .await?;
                for chunk in counts.chunks(INSERT_CHUNK) {
                    let mut insert = QueryBuilder::<$db>::new(
                        "INSERT INTO node_subscribers (node_id, channel_id, subscribers, updated_at) ",
                    );
                    insert.push_values(chunk, |mut row, (channel_id, count)| {
                        row.push_bind(node_id.to_owned())
                            .push_bind(channel_id.clone())
                            .push_bind(*count as i64)
                            .push_bind(now);
                    });
                    insert.build().execute(&mut *tx).await?;
                }
                tx.commit().await?;
                Ok(())
            }

            async fn remote_subscribers(
                &self,
                channel_id: &str,
                node_id: &str,
                fresh_after: Millis,
            ) -> StoreResult<u64> {
                let total: Option<i64> = sqlx::query_scalar(
                    "SELECT CAST(SUM(subscribers) AS BIGINT) FROM node_subscribers \
                     WHERE channel_id = $1 AND node_id <> $2 AND updated_at > $3",
                )
                .bind(channel_id)
                .bind(node_id)
                .bind(fresh_after)
                .fetch_one(&self.pool)
                .await?;
                Ok(total.unwrap_or(0).max(0) as u64)
            }

            async fn release_jobs(&self, job_ids: &[i64]) -> StoreResult<()> {
                for chunk in job_ids.chunks(INSERT_CHUNK) {
                    let mut update = QueryBuilder::<$db>::new(
                        "UPDATE webhook_jobs SET leased_until = NULL WHERE id IN (",
                    );
                    let mut ids = update.separated(", ");
                    for id in chunk {
                        ids.push_bind(*id);
                    }
                    update.push(")");
                    update.build().execute(&self.pool).await?;
                }
                Ok(())
            }

            async fn drop_job(&self, job_id: i64) -> StoreResult<()> {
                sqlx::query("DELETE FROM webhook_jobs WHERE id = $1")
                    .bind(job_id)
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }

            async fn delete_expired_webhooks(&self, now: Millis) -> StoreResult<u64> {
                let mut tx = self.begin_write().await?;
                for sql in [
                    "DELETE FROM webhook_jobs WHERE webhook_id IN (SELECT id FROM webhooks WHERE expires_at <= $1)",
                    "DELETE FROM webhook_attempts WHERE webhook_id IN (SELECT id FROM webhooks WHERE expires_at <= $1)",
                ] {
                    sqlx::query(sql).bind(now).execute(&mut *tx).await?;
                }
                let removed = sqlx::query("DELETE FROM webhooks WHERE expires_at <= $1")
                    .bind(now)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                tx.commit().await?;
                Ok(removed)
            }
        }
    };
}

pub(crate) use impl_sql_store;
