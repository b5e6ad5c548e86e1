//! Events: appending them (ids in commit order, the webhook outbox and the
//! cluster announcement in the same transaction), reading them back, and
//! retention.

use async_trait::async_trait;
use sqlx::QueryBuilder;
use ulid::Ulid;

use super::{
    StoreError, StoreResult,
    sql::{
        ChannelAdvance, EventInsert, INSERT_CHUNK, RowsAffected, from_json_text, sql_impl,
        to_json_text,
    },
};
use crate::model::{Event, EventQuery, Millis, NewEvent, Publisher, format_millis};

const EVENT_COLUMNS: &str =
    "id, channel_id, type, data, meta, publisher_id, publisher_name, created_at";
/// Counts `$2` events removed from channel `$1` by retention and remembers
/// that events up to `$3` are gone (the newest removed id only grows).
const NOTE_REMOVED: &str = "UPDATE channels SET event_count = event_count - $2, \
     removed_through = CASE WHEN removed_through IS NULL OR removed_through < $3 \
     THEN $3 ELSE removed_through END WHERE id = $1";

/// Events to append to one channel, all stamped with one publisher.
#[derive(Debug, Clone)]
pub struct AppendBatch {
    pub channel_id: String,
    pub publisher: Publisher,
    /// The publish token used, so that it may later delete what it published.
    pub token_id: Option<String>,
    pub events: Vec<NewEvent>,
    /// Store the batch only if this key is new on its channel.
    pub idempotency: Option<IdempotencyKey>,
}

/// A publish request's `Idempotency-Key`, and what identifies the request.
#[derive(Debug, Clone)]
pub struct IdempotencyKey {
    pub key: String,
    /// A digest of the publisher and the events; a reuse of the key for a
    /// different request is told apart by it.
    pub fingerprint: String,
    /// Keys older than this (ms) are forgotten: the key may be used afresh.
    pub expired_before: Millis,
}

/// What became of one batch of an append.
#[derive(Debug, Clone)]
pub enum BatchOutcome {
    Stored(Vec<Event>),
    /// Its channel does not exist.
    ChannelGone,
    /// Its idempotency key was used already: nothing was stored. The first
    /// use is what [`EventStore::idempotent_result`] finds with `fresh_after`:
    /// the bound this append judged the key by.
    KeyUsed {
        fresh_after: Millis,
    },
}

/// What an append stored.
#[derive(Debug)]
pub struct Appended {
    /// Per batch, in order.
    pub outcomes: Vec<BatchOutcome>,
    /// Webhook deliveries queued in the same transaction.
    pub webhook_jobs: usize,
}

/// What a used idempotency key recorded.
#[derive(Debug, Clone)]
pub struct IdempotentResult {
    pub fingerprint: String,
    /// The events stored the first time.
    pub events: Vec<Event>,
    /// Those of them removed since (deletion, retention), by id.
    pub removed: Vec<String>,
}

#[async_trait]
pub trait EventStore: Send + Sync + 'static {
    /// Appends every batch in one transaction and returns the stored events, in
    /// order, per batch, and queues a delivery for each active webhook whose
    /// filter matches. When this returns `Ok`, all of it is durable.
    async fn append_events(&self, batches: &[AppendBatch]) -> StoreResult<Appended>;
    async fn get_event(&self, channel_id: &str, event_id: &str) -> StoreResult<Option<Event>>;
    /// The publish token an event was published with, if any.
    async fn event_token(
        &self,
        channel_id: &str,
        event_id: &str,
    ) -> StoreResult<Option<Option<String>>>;
    /// Events matching `query`, oldest first, at most `query.limit`.
    async fn list_events(&self, channel_id: &str, query: &EventQuery) -> StoreResult<Vec<Event>>;
    /// The newest `limit` events, newest first.
    /// The newest events (of these types; empty: all), newest first.
    async fn latest_events(
        &self,
        channel_id: &str,
        types: &[String],
        limit: u32,
    ) -> StoreResult<Vec<Event>>;
    async fn delete_event(&self, channel_id: &str, event_id: &str) -> StoreResult<bool>;
    /// Applies every channel's retention policy; returns how many events went.
    async fn apply_retention(&self, now: Millis) -> StoreResult<u64>;
    /// What a publish with this key stored, if the key was used since `fresh_after`.
    async fn idempotent_result(
        &self,
        channel_id: &str,
        key: &str,
        fresh_after: Millis,
    ) -> StoreResult<Option<IdempotentResult>>;
    /// Forgets idempotency keys recorded before `before`; returns how many.
    async fn delete_idempotency_keys(&self, before: Millis) -> StoreResult<u64>;
    /// What the channel knows of a resume point (an event id a consumer last
    /// saw); `None` when the channel does not exist.
    async fn resume_point(&self, channel_id: &str, after: &str)
    -> StoreResult<Option<ResumePoint>>;
}

/// A resume point as the channel sees it.
#[derive(Debug, Clone)]
pub struct ResumePoint {
    /// The event is still stored, or was deleted by itself (a single
    /// deletion is no gap: the point stays a known one).
    pub held: bool,
    /// The newest event id ever removed from the channel (since removals
    /// were tracked).
    pub removed_through: Option<String>,
    /// The newest event id the channel ever had.
    pub last_event_id: Option<String>,
}

/// ` AND type IN (…)` when only some types are wanted.
fn push_types<DB: sqlx::Database>(sql: &mut QueryBuilder<DB>, types: &[String])
where
    for<'t> String: sqlx::Encode<'t, DB> + sqlx::Type<DB>,
{
    if types.is_empty() {
        return;
    }
    sql.push(" AND type IN (");
    let mut list = sql.separated(", ");
    for event_type in types {
        list.push_bind(event_type.clone());
    }
    sql.push(")");
}

#[derive(sqlx::FromRow)]
struct EventRow {
    id: String,
    channel_id: String,
    #[sqlx(rename = "type")]
    event_type: Option<String>,
    data: String,
    meta: Option<String>,
    publisher_id: String,
    publisher_name: Option<String>,
    created_at: i64,
}

impl TryFrom<EventRow> for Event {
    type Error = StoreError;

    fn try_from(row: EventRow) -> StoreResult<Event> {
        Ok(Event {
            data: from_json_text(&row.data, "data")?,
            id: row.id,
            channel_id: row.channel_id,
            event_type: row.event_type,
            meta: row.meta,
            publisher_id: row.publisher_id,
            publisher_name: row.publisher_name,
            created_at: format_millis(row.created_at),
        })
    }
}

sql_impl!(EventStore {
    async fn append_events(&self, batches: &[AppendBatch]) -> StoreResult<Appended> {
        let now = crate::model::now_millis();
        let created_at = format_millis(now);
        // Batches of one channel are appended together: one set of ids after
        // its last one, one announcement and one counter update per group.
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
        let channel_ids: Vec<&str> = channels.iter().map(|(id, _)| *id).collect();
        let mut results: Vec<Option<Vec<Event>>> = vec![None; batches.len()];
        let mut tx = self.backend().begin_append().await?;
        let locked = self.backend().lock_channels(&mut tx, &channel_ids, now).await?;
        // The rows come in channel id order, a channel's webhooks together.
        let mut found: Vec<FoundChannel<'_>> = Vec::new();
        for row in locked {
            let Some((channel_id, members)) =
                channels.iter().find(|(id, _)| *id == row.channel_id)
            else {
                continue;
            };
            if found.last().is_none_or(|f| f.channel_id != *channel_id) {
                found.push(FoundChannel {
                    channel_id,
                    members,
                    last_event_id: row.last_event_id,
                    hooks: Vec::new(),
                });
            }
            if let (Some(hook_id), Some(channel)) = (row.hook_id, found.last_mut()) {
                channel.hooks.push((hook_id, row.hook_event_types));
            }
        }
        for channel in &found {
            let channel_id = channel.channel_id;
            let mut floor = channel
                .last_event_id
                .as_deref()
                .and_then(|id| id.parse::<Ulid>().ok());
            for &i in channel.members {
                let batch = &batches[i];
                let events: Vec<Event> = batch
                    .events
                    .iter()
                    .map(|new| {
                        let id = self.ids().next_after(floor);
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
        }
        // Keyed batches store only if their key is new: one statement claims
        // the group's keys. A repeat's ids are left unused (ids need only
        // grow, not be consecutive).
        let key_used = claim_keys(&mut tx, batches, &results, now).await?;
        for (result, taken) in results.iter_mut().zip(&key_used) {
            if taken.is_some() {
                *result = None;
            }
        }
        // Every stored event, per channel, with its serialized data and token.
        let mut inserts: Vec<EventInsert<'_>> = Vec::new();
        let mut advances: Vec<ChannelAdvance<'_>> = Vec::new();
        for channel in &found {
            let first = inserts.len();
            for &i in channel.members {
                let batch = &batches[i];
                for (event, new) in results[i].iter().flatten().zip(&batch.events) {
                    inserts.push(EventInsert {
                        event,
                        data_json: &new.data_json,
                        token_id: batch.token_id.as_deref(),
                    });
                }
            }
            if inserts.len() > first {
                advances.push(ChannelAdvance {
                    channel_id: channel.channel_id,
                    after_id: channel.last_event_id.as_deref(),
                    events: inserts[first..].iter().map(|row| row.event).collect(),
                });
            }
        }
        let mut webhook_jobs = 0;
        if !inserts.is_empty() {
            self.backend().write_append(&mut tx, &inserts, &advances, now).await?;
            // The outbox: deliveries are queued in the events' own transaction.
            let jobs = webhook_jobs_for(&found, &advances)?;
            for chunk in jobs.chunks(INSERT_CHUNK) {
                let mut insert = QueryBuilder::<B::Db>::new(
                    "INSERT INTO webhook_jobs (webhook_id, event_id, attempts, next_attempt_at) ",
                );
                insert.push_values(chunk, |mut row, (hook_id, event_id)| {
                    row.push_bind(*hook_id)
                        .push_bind(*event_id)
                        .push_bind(0_i64)
                        .push_bind(now);
                });
                insert.build().execute(&mut *tx).await?;
            }
            webhook_jobs = jobs.len();
        }
        tx.commit().await?;
        let outcomes = results
            .into_iter()
            .zip(key_used)
            .map(|(stored, key_used)| match (stored, key_used) {
                (Some(events), _) => BatchOutcome::Stored(events),
                (None, Some(fresh_after)) => BatchOutcome::KeyUsed { fresh_after },
                (None, None) => BatchOutcome::ChannelGone,
            })
            .collect();
        Ok(Appended {
            outcomes,
            webhook_jobs,
        })
    }

    async fn get_event(&self, channel_id: &str, event_id: &str) -> StoreResult<Option<Event>> {
        let sql = format!("SELECT {EVENT_COLUMNS} FROM events WHERE channel_id = $1 AND id = $2");
        sqlx::query_as::<_, EventRow>(sqlx::AssertSqlSafe(sql))
            .bind(channel_id)
            .bind(event_id)
            .fetch_optional(self.pool())
            .await?
            .map(Event::try_from)
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
            .fetch_optional(self.pool())
            .await?)
    }

    async fn list_events(&self, channel_id: &str, query: &EventQuery) -> StoreResult<Vec<Event>> {
        let mut sql = QueryBuilder::<B::Db>::new(format!("SELECT {EVENT_COLUMNS} FROM events WHERE channel_id = "));
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
        push_types(&mut sql, &query.types);
        sql.push(" ORDER BY id LIMIT ").push_bind(i64::from(query.limit));
        let rows = sql
            .build_query_as::<EventRow>()
            .fetch_all(self.pool())
            .await?;
        rows.into_iter().map(Event::try_from).collect()
    }

    async fn latest_events(
        &self,
        channel_id: &str,
        types: &[String],
        limit: u32,
    ) -> StoreResult<Vec<Event>> {
        let mut sql = QueryBuilder::<B::Db>::new(format!("SELECT {EVENT_COLUMNS} FROM events WHERE channel_id = "));
        sql.push_bind(channel_id.to_owned());
        push_types(&mut sql, types);
        sql.push(" ORDER BY id DESC LIMIT ").push_bind(i64::from(limit));
        let rows = sql
            .build_query_as::<EventRow>()
            .fetch_all(self.pool())
            .await?;
        rows.into_iter().map(Event::try_from).collect()
    }

    async fn delete_event(&self, channel_id: &str, event_id: &str) -> StoreResult<bool> {
        let mut tx = self.backend().begin_write().await?;
        let deleted = sqlx::query("DELETE FROM events WHERE channel_id = $1 AND id = $2")
            .bind(channel_id)
            .bind(event_id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if deleted > 0 {
            // One deleted event is no gap: removed_through stays; the id is
            // remembered so that a resume from it is still a known point.
            sqlx::query("UPDATE channels SET event_count = event_count - 1 WHERE id = $1")
                .bind(channel_id)
                .execute(&mut *tx)
                .await?;
            sqlx::query("INSERT INTO deleted_events (channel_id, id) VALUES ($1, $2)")
                .bind(channel_id)
                .bind(event_id)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(deleted > 0)
    }

    async fn apply_retention(&self, now: Millis) -> StoreResult<u64> {
        let policies: Vec<(String, Option<i64>, Option<i64>)> = sqlx::query_as(
            "SELECT id, max_age_seconds, max_events FROM channels \
             WHERE max_age_seconds IS NOT NULL OR max_events IS NOT NULL",
        )
        .fetch_all(self.pool())
        .await?;
        let mut total = 0;
        for (channel_id, max_age_seconds, max_events) in policies {
            let mut tx = self.backend().begin_write().await?;
            // Retention removes a prefix: everything up to the newest event
            // either rule removes, so that "removed through" is exact.
            let mut cut: Option<String> = None;
            if let Some(max_age) = max_age_seconds {
                cut = sqlx::query_scalar(
                    "SELECT MAX(id) FROM events WHERE channel_id = $1 AND created_at < $2",
                )
                .bind(channel_id.as_str())
                .bind(now.saturating_sub(max_age.saturating_mul(1000)))
                .fetch_one(&mut *tx)
                .await?;
            }
            if let Some(max_events) = max_events {
                let by_count: Option<String> = sqlx::query_scalar(
                    "SELECT id FROM events WHERE channel_id = $1 ORDER BY id DESC LIMIT 1 OFFSET $2",
                )
                .bind(channel_id.as_str())
                .bind(max_events)
                .fetch_optional(&mut *tx)
                .await?;
                cut = cut.max(by_count);
            }
            let Some(cut) = cut else {
                tx.rollback().await?;
                continue;
            };
            let deleted = sqlx::query("DELETE FROM events WHERE channel_id = $1 AND id <= $2")
                .bind(channel_id.as_str())
                .bind(cut.as_str())
                .execute(&mut *tx)
                .await?
                .rows_affected();
            sqlx::query(NOTE_REMOVED)
                .bind(channel_id.as_str())
                .bind(deleted as i64)
                .bind(cut.as_str())
                .execute(&mut *tx)
                .await?;
            sqlx::query("DELETE FROM deleted_events WHERE channel_id = $1 AND id <= $2")
                .bind(channel_id.as_str())
                .bind(cut.as_str())
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            total += deleted;
        }
        Ok(total)
    }

    async fn resume_point(&self, channel_id: &str, after: &str) -> StoreResult<Option<ResumePoint>> {
        let row: Option<(Option<String>, Option<String>, bool)> = sqlx::query_as(
            "SELECT c.removed_through, c.last_event_id, EXISTS (SELECT 1 FROM events e \
             WHERE e.channel_id = c.id AND e.id = $2) OR EXISTS (SELECT 1 FROM deleted_events d \
             WHERE d.channel_id = c.id AND d.id = $2) FROM channels c WHERE c.id = $1",
        )
        .bind(channel_id)
        .bind(after)
        .fetch_optional(self.pool())
        .await?;
        Ok(row.map(|(removed_through, last_event_id, held)| ResumePoint {
            held,
            removed_through,
            last_event_id,
        }))
    }

    async fn idempotent_result(
        &self,
        channel_id: &str,
        key: &str,
        fresh_after: Millis,
    ) -> StoreResult<Option<IdempotentResult>> {
        let row: Option<(String, Option<String>)> = sqlx::query_as(
            "SELECT fingerprint, response FROM idempotency_keys \
             WHERE channel_id = $1 AND key = $2 AND created_at >= $3",
        )
        .bind(channel_id)
        .bind(key)
        .bind(fresh_after)
        .fetch_optional(self.pool())
        .await?;
        let Some((fingerprint, response)) = row else {
            return Ok(None);
        };
        let response = response.ok_or_else(|| {
            StoreError::Malformed(format!("idempotency key {key:?} has no result"))
        })?;
        let events: Vec<Event> = from_json_text(&response, "response")?;
        // One request's events have consecutive ids on their channel.
        let held: Vec<String> = match (events.first(), events.last()) {
            (Some(first), Some(last)) => sqlx::query_scalar(
                "SELECT id FROM events WHERE channel_id = $1 AND id >= $2 AND id <= $3",
            )
            .bind(channel_id)
            .bind(first.id.as_str())
            .bind(last.id.as_str())
            .fetch_all(self.pool())
            .await?,
            _ => Vec::new(),
        };
        let removed = events.iter().filter(|e| !held.contains(&e.id)).map(|e| e.id.clone()).collect();
        Ok(Some(IdempotentResult { fingerprint, events, removed }))
    }

    async fn delete_idempotency_keys(&self, before: Millis) -> StoreResult<u64> {
        Ok(sqlx::query("DELETE FROM idempotency_keys WHERE created_at < $1")
            .bind(before)
            .execute(self.pool())
            .await?
            .rows_affected())
    }
});

/// Records the keys of a group's keyed batches, each with the events it
/// would store as the answer for repeats, in the appending transaction: one
/// statement per chunk. Per batch whose key was taken: the bound it was
/// judged by (a row newer than that holds the key). A key is taken when an
/// earlier request used it (or another node's transaction does, which this
/// one then waits for), or an earlier batch of the group; a row of the key
/// older than its window is replaced.
async fn claim_keys<DB>(
    tx: &mut sqlx::Transaction<'static, DB>,
    batches: &[AppendBatch],
    results: &[Option<Vec<Event>>],
    now: Millis,
) -> StoreResult<Vec<Option<Millis>>>
where
    DB: sqlx::Database<Arguments: sqlx::IntoArguments<DB>>,
    for<'c> &'c mut DB::Connection: sqlx::Executor<'c, Database = DB>,
    for<'q> &'q str: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> String: sqlx::Encode<'q, DB> + sqlx::Decode<'q, DB> + sqlx::Type<DB>,
    for<'q> i64: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    usize: sqlx::ColumnIndex<DB::Row>,
{
    let mut taken: Vec<Option<Millis>> = vec![None; batches.len()];
    // The first batch of each (channel, key); a later one is a repeat of it.
    let mut keyed: Vec<(usize, &IdempotencyKey, String)> = Vec::new();
    for (i, batch) in batches.iter().enumerate() {
        let (Some(idempotency), Some(events)) = (&batch.idempotency, &results[i]) else {
            continue;
        };
        let repeat = keyed.iter().any(|(j, other, _)| {
            batches[*j].channel_id == batch.channel_id && other.key == idempotency.key
        });
        if repeat {
            // Its first use commits with this transaction: any bound finds it.
            taken[i] = Some(idempotency.expired_before);
        } else {
            keyed.push((i, idempotency, to_json_text(events)));
        }
    }
    for chunk in keyed.chunks(INSERT_CHUNK) {
        // Keys recorded before this are expired. One bound serves the chunk
        // (the earliest: a key is never judged expired sooner than its own
        // request would), and a taken key is looked up by the same bound.
        let expired_before = chunk
            .iter()
            .map(|(_, key, _)| key.expired_before)
            .min()
            .unwrap_or(now);
        let mut insert = QueryBuilder::<DB>::new(
            "INSERT INTO idempotency_keys (channel_id, key, fingerprint, response, created_at) ",
        );
        insert.push_values(chunk, |mut row, (i, key, response)| {
            row.push_bind(batches[*i].channel_id.as_str())
                .push_bind(key.key.as_str())
                .push_bind(key.fingerprint.as_str())
                .push_bind(response.as_str())
                .push_bind(now);
        });
        insert
            .push(
                " ON CONFLICT (channel_id, key) DO UPDATE SET \
                 fingerprint = excluded.fingerprint, response = excluded.response, \
                 created_at = excluded.created_at WHERE idempotency_keys.created_at < ",
            )
            .push_bind(expired_before)
            .push(" RETURNING channel_id, key");
        let rows: Vec<(String, String)> = insert.build_query_as().fetch_all(&mut **tx).await?;
        for (i, key, _) in chunk {
            let claimed = rows
                .iter()
                .any(|(channel, k)| *channel == batches[*i].channel_id && *k == key.key);
            if !claimed {
                taken[*i] = Some(expired_before);
            }
        }
    }
    Ok(taken)
}

/// A channel an append found and locked.
struct FoundChannel<'a> {
    channel_id: &'a str,
    /// The group's batches for it (indexes).
    members: &'a [usize],
    /// Its newest id before the append.
    last_event_id: Option<String>,
    /// Its active webhooks: id and type filter (a JSON array).
    hooks: Vec<(String, Option<String>)>,
}

/// The webhook deliveries an append queues: one per active webhook of a
/// channel and appended event its type filter lets through.
fn webhook_jobs_for<'a>(
    found: &'a [FoundChannel<'_>],
    advances: &[ChannelAdvance<'a>],
) -> StoreResult<Vec<(&'a str, &'a str)>> {
    let mut jobs = Vec::new();
    for advance in advances {
        let Some(channel) = found.iter().find(|f| f.channel_id == advance.channel_id) else {
            continue;
        };
        for (hook_id, types) in &channel.hooks {
            let types: Vec<String> = types
                .as_deref()
                .map(serde_json::from_str)
                .transpose()
                .map_err(|e| StoreError::Malformed(format!("webhook event_types: {e}")))?
                .unwrap_or_default();
            for event in advance.events.iter().filter(|e| e.matches_types(&types)) {
                jobs.push((hook_id.as_str(), event.id.as_str()));
            }
        }
    }
    Ok(jobs)
}

#[cfg(test)]
#[path = "events_tests.rs"]
mod tests;
