//! Webhooks: registrations, the delivery outbox (jobs leased per node), and
//! the log of attempts.

use async_trait::async_trait;
use sqlx::{QueryBuilder, Row};

use super::{
    StoreError, StoreResult,
    sql::{INSERT_CHUNK, RowsAffected, classify, from_json_text, sql_impl, to_json_text},
};
use crate::model::{
    DeliveryAttempt, JwtRegistrant, Millis, WebhookRecord, WebhookState, format_millis,
};

const WEBHOOK_COLUMNS: &str = "id, channel_id, url, event_types, secret, created_at, \
     expires_at, state, last_error, failing_since, last_success_at, registered_by, \
     jwt_kid, jwt_key, jwt_sub, jwt_issuer, jwt_jti, jwt_iat";
/// Who may read a webhook's channel, as SQL over a `webhooks` row ($1 = now,
/// $2 = false, $3 = the HS secrets accepted now, [`crate::model::AcceptedSecrets::at`]):
/// true when its registrant has lost access. The one rule of
/// delivery, the same as [`crate::hub::Hub::can_read`]: a token registrant
/// whose token is gone (revoked) or expired has none; a JWT registrant whose
/// key was removed or replaced (its fingerprint differs), whose HS secret is
/// no longer accepted (rotated), or whose token was revoked by `jti` or
/// subject, has none (its expiry is the webhook's own); on a private channel only the admin, a
/// subscribe token of that channel or a JWT whose scopes read it (checked
/// when it registered; a token's scopes never change) has any. The sweep
/// revokes by it and the worker checks it before every delivery.
const LOST_ACCESS: &str = "(registered_by LIKE 'token:%' AND NOT EXISTS (SELECT 1 FROM tokens t \
       WHERE 'token:' || t.id = webhooks.registered_by \
       AND (t.expires_at IS NULL OR t.expires_at > $1))) \
     OR (registered_by LIKE 'jwt:%' AND (\
       (jwt_kid IS NOT NULL AND NOT EXISTS (SELECT 1 FROM trusted_keys k WHERE k.kid = webhooks.jwt_kid \
         AND k.fingerprint = webhooks.jwt_key)) \
       OR (jwt_kid IS NULL AND $3 NOT LIKE '%,' || COALESCE(webhooks.jwt_key, '-') || ',%') \
       OR EXISTS (SELECT 1 FROM jwt_revocations r WHERE r.kind = 'jti' AND r.value = webhooks.jwt_jti) \
       OR EXISTS (SELECT 1 FROM jwt_revocations r WHERE r.kind = 'subject' AND r.value = webhooks.jwt_sub \
         AND COALESCE(r.issuer, '') = COALESCE(webhooks.jwt_issuer, '') \
         AND (r.issued_before IS NULL OR webhooks.jwt_iat IS NULL OR webhooks.jwt_iat < r.issued_before)))) \
     OR (registered_by <> 'admin' AND registered_by NOT LIKE 'jwt:%' AND EXISTS (SELECT 1 FROM channels c \
       WHERE c.id = webhooks.channel_id AND c.is_public = $2) \
       AND NOT EXISTS (SELECT 1 FROM tokens t WHERE 'token:' || t.id = webhooks.registered_by \
       AND t.kind = 'subscribe' AND t.channel_id = webhooks.channel_id))";
/// Why a webhook that lost access was revoked.
const LOST_ACCESS_REASON: &str = "CASE WHEN registered_by LIKE 'token:%' AND NOT EXISTS \
     (SELECT 1 FROM tokens t WHERE 'token:' || t.id = webhooks.registered_by \
     AND (t.expires_at IS NULL OR t.expires_at > $1)) \
     THEN 'access ended: the registering token was revoked or expired' \
     WHEN registered_by LIKE 'jwt:%' \
     THEN 'access ended: the registering JWT was revoked or its key removed' \
     ELSE 'access ended: the channel was made private and its registrant may not read it' END";
/// Removes one webhook ($1) with its queue and its log.
const DELETE_ONE_WEBHOOK: [&str; 3] = [
    "DELETE FROM webhook_jobs WHERE webhook_id = $1",
    "DELETE FROM webhook_attempts WHERE webhook_id = $1",
    "DELETE FROM webhooks WHERE id = $1",
];
/// Attempts kept per webhook.
const KEPT_ATTEMPTS: i64 = 100;
/// The oldest queued job of each webhook, with when it can next be
/// tried: its retry time, or later if a node holds it.
const HEAD_JOBS: &str = "SELECT j.id, j.webhook_id, j.event_id, j.attempts, \
     CASE WHEN j.leased_until > j.next_attempt_at THEN j.leased_until ELSE j.next_attempt_at END AS ready_at \
     FROM webhook_jobs j JOIN (SELECT webhook_id, MIN(id) AS head FROM webhook_jobs \
     GROUP BY webhook_id) h ON j.id = h.head";

/// The result of registering a webhook URL on a channel.
#[derive(Debug)]
pub enum Registration {
    Created(WebhookRecord),
    /// The channel had that URL already: its TTL and filter were updated and
    /// it is active again.
    Refreshed(WebhookRecord),
    /// The channel has as many webhooks as it may.
    LimitReached,
    /// The channel has this URL from another registrant.
    Taken,
    /// The registrant has as many live webhooks (on all channels) as it may.
    RegistrantLimitReached,
    /// The registrant's (or the admin's) webhook for this URL was revoked for
    /// lost access: a refresh does not revive it. Nothing was changed.
    Revoked(WebhookRecord),
}

/// A queued delivery: the oldest one of its webhook.
#[derive(Debug, Clone)]
pub struct WebhookJob {
    pub id: i64,
    pub webhook_id: String,
    pub event_id: String,
    /// Attempts made so far.
    pub attempts: i64,
}

/// The outcome of one delivery attempt, as logged.
#[derive(Debug, Clone)]
pub struct AttemptRecord {
    pub at: Millis,
    pub outcome: &'static str,
    pub status: Option<i64>,
    pub error: Option<String>,
    pub duration_ms: i64,
}

/// What becomes of a job after an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobNext {
    Delivered,
    /// Try again at this time.
    Retry(Millis),
    /// The webhook failed past its bound: disable it and drop its queue.
    Disable,
}

#[async_trait]
pub trait WebhookStore: Send + Sync + 'static {
    /// Adds `webhook` unless its channel has its URL already (then refreshes
    /// that one, if `webhook.registered_by` registered it or is the admin) or
    /// has `max_per_channel` webhooks. [`StoreError::NotFound`] when the
    /// channel does not exist.
    /// `max_per_registrant`, when given, bounds the live (unexpired, not
    /// revoked) webhooks `webhook.registered_by` may hold across all channels.
    async fn register_webhook(
        &self,
        webhook: &WebhookRecord,
        max_per_channel: usize,
        max_per_registrant: Option<usize>,
    ) -> StoreResult<Registration>;
    async fn list_webhooks(&self, channel_id: &str) -> StoreResult<Vec<WebhookRecord>>;
    async fn get_webhook(&self, webhook_id: &str) -> StoreResult<Option<WebhookRecord>>;
    async fn delete_webhook(&self, channel_id: &str, webhook_id: &str) -> StoreResult<bool>;
    /// The most recent attempts, newest first.
    async fn list_attempts(
        &self,
        webhook_id: &str,
        limit: u32,
    ) -> StoreResult<Vec<DeliveryAttempt>>;
    /// When the earliest queued delivery is due, if any is queued.
    async fn next_job_due(&self) -> StoreResult<Option<Millis>>;
    /// Deliveries waiting to be made, on every node (the shared queue's length).
    async fn webhook_backlog(&self) -> StoreResult<i64>;
    /// The oldest queued delivery of each webhook, where it is due by `now`.
    async fn due_jobs(&self, now: Millis, limit: u32) -> StoreResult<Vec<WebhookJob>>;
    /// Logs an attempt and moves the job (and its webhook's state) on.
    async fn finish_attempt(
        &self,
        job: &WebhookJob,
        attempt: &AttemptRecord,
        next: JobNext,
    ) -> StoreResult<()>;
    /// Takes a due job for this node until `until`; false when another node has it.
    async fn claim_job(&self, job_id: i64, now: Millis, until: Millis) -> StoreResult<bool>;
    /// Gives up this node's leases on these jobs.
    async fn release_jobs(&self, job_ids: &[i64]) -> StoreResult<()>;
    /// Forgets a job whose event no longer exists.
    async fn drop_job(&self, job_id: i64) -> StoreResult<()>;
    /// Removes webhooks whose TTL has passed; returns how many.
    async fn delete_expired_webhooks(&self, now: Millis) -> StoreResult<u64>;
    /// Stops (state `revoked`, queue dropped) every webhook whose registrant
    /// lost access: its token was revoked or expired, or it registered
    /// anonymously and the channel is private now. Returns how many.
    /// `accepted_secrets`: [`crate::model::AcceptedSecrets::at`] now.
    async fn revoke_unauthorized_webhooks(
        &self,
        now: Millis,
        accepted_secrets: &str,
    ) -> StoreResult<u64>;
    /// Whether a webhook's registrant lost access to its channel by the rule
    /// [`WebhookStore::revoke_unauthorized_webhooks`] revokes by (checked
    /// before each delivery, so that no event goes out between an access
    /// change and the sweep).
    async fn registrant_lost_access(
        &self,
        webhook_id: &str,
        now: Millis,
        accepted_secrets: &str,
    ) -> StoreResult<bool>;
}

#[derive(sqlx::FromRow)]
struct WebhookRow {
    id: String,
    channel_id: String,
    url: String,
    event_types: Option<String>,
    secret: String,
    created_at: i64,
    expires_at: i64,
    state: String,
    last_error: Option<String>,
    failing_since: Option<i64>,
    last_success_at: Option<i64>,
    registered_by: String,
    jwt_kid: Option<String>,
    jwt_key: Option<String>,
    jwt_sub: Option<String>,
    jwt_issuer: Option<String>,
    jwt_jti: Option<String>,
    jwt_iat: Option<i64>,
}

impl TryFrom<WebhookRow> for WebhookRecord {
    type Error = StoreError;

    fn try_from(row: WebhookRow) -> StoreResult<WebhookRecord> {
        Ok(WebhookRecord {
            event_types: match row.event_types {
                Some(text) => from_json_text(&text, "event_types")?,
                None => Vec::new(),
            },
            state: WebhookState::parse(&row.state)
                .ok_or_else(|| StoreError::Malformed(format!("webhook state {:?}", row.state)))?,
            id: row.id,
            channel_id: row.channel_id,
            url: row.url,
            secret: row.secret,
            created_at: row.created_at,
            expires_at: row.expires_at,
            last_error: row.last_error,
            failing_since: row.failing_since,
            last_success_at: row.last_success_at,
            registered_by: row.registered_by,
            jwt: row.jwt_sub.map(|sub| JwtRegistrant {
                kid: row.jwt_kid,
                key: row.jwt_key,
                sub,
                issuer: row.jwt_issuer,
                jti: row.jwt_jti,
                iat: row.jwt_iat,
            }),
        })
    }
}

fn event_types_text(types: &[String]) -> Option<String> {
    (!types.is_empty()).then(|| to_json_text(&types))
}

sql_impl!(WebhookStore {
    async fn register_webhook(
        &self,
        webhook: &WebhookRecord,
        max_per_channel: usize,
        max_per_registrant: Option<usize>,
    ) -> StoreResult<Registration> {
        let jwt = webhook.jwt.as_ref();
        let mut tx = self.backend().begin_write().await?;
        let channel_exists: Option<String> = sqlx::query_scalar("SELECT id FROM channels WHERE id = $1")
            .bind(webhook.channel_id.as_str())
            .fetch_optional(&mut *tx)
            .await?;
        if channel_exists.is_none() {
            return Err(StoreError::NotFound);
        }
        let existing: Option<(String, String, i64, String)> = sqlx::query_as(
            "SELECT id, registered_by, expires_at, state FROM webhooks \
             WHERE channel_id = $1 AND url = $2",
        )
        .bind(webhook.channel_id.as_str())
        .bind(webhook.url.as_str())
        .fetch_optional(&mut *tx)
        .await?;
        let revoked = |state: &str| state == WebhookState::Revoked.as_str();
        let existing = match existing {
            // Revoked for lost access: never revived; a new registration is needed.
            Some((id, owner, expires_at, state))
                if revoked(&state)
                    && expires_at > webhook.created_at
                    && (owner == webhook.registered_by || webhook.registered_by == "admin") =>
            {
                let sql = format!("SELECT {WEBHOOK_COLUMNS} FROM webhooks WHERE id = $1");
                let row = sqlx::query_as::<_, WebhookRow>(sqlx::AssertSqlSafe(sql))
                    .bind(id.as_str())
                    .fetch_one(&mut *tx)
                    .await?;
                return Ok(Registration::Revoked(row.try_into()?));
            }
            Some((id, owner, _, _)) if owner == webhook.registered_by || webhook.registered_by == "admin" => {
                // The admin refreshing a webhook a JWT registered takes it
                // over: it no longer ends with that JWT (whose expiry only
                // the webhook's own bounded), it is the admin's now.
                if owner != webhook.registered_by && owner.starts_with("jwt:") {
                    sqlx::query(
                        "UPDATE webhooks SET registered_by = 'admin', jwt_kid = NULL, jwt_key = NULL, jwt_sub = NULL, \
                         jwt_issuer = NULL, jwt_jti = NULL, jwt_iat = NULL WHERE id = $1",
                    )
                    .bind(id.as_str())
                    .execute(&mut *tx)
                    .await?;
                }
                Some(id)
            }
            // Another registrant's webhook: theirs to change, unless its TTL is
            // over or it was revoked (it can never deliver again).
            Some((_, _, expires_at, state)) if expires_at > webhook.created_at && !revoked(&state) => {
                return Ok(Registration::Taken);
            }
            Some((id, _, _, _)) => {
                for sql in DELETE_ONE_WEBHOOK {
                    sqlx::query(sql).bind(id.as_str()).execute(&mut *tx).await?;
                }
                None
            }
            None => None,
        };
        let registration = match existing {
            Some(id) => {
                sqlx::query(
                    "UPDATE webhooks SET event_types = $2, expires_at = $3, state = 'active', \
                     failing_since = NULL, last_error = NULL, jwt_kid = $4, jwt_sub = $5, \
                     jwt_issuer = $6, jwt_jti = $7, jwt_iat = $8, jwt_key = $9 WHERE id = $1",
                )
                .bind(id.as_str())
                .bind(event_types_text(&webhook.event_types))
                .bind(webhook.expires_at)
                .bind(jwt.and_then(|j| j.kid.as_deref()))
                .bind(jwt.map(|j| j.sub.as_str()))
                .bind(jwt.and_then(|j| j.issuer.as_deref()))
                .bind(jwt.and_then(|j| j.jti.as_deref()))
                .bind(jwt.and_then(|j| j.iat))
                .bind(jwt.and_then(|j| j.key.as_deref()))
                .execute(&mut *tx)
                .await?;
                let sql = format!("SELECT {WEBHOOK_COLUMNS} FROM webhooks WHERE id = $1");
                let row = sqlx::query_as::<_, WebhookRow>(sqlx::AssertSqlSafe(sql))
                    .bind(id.as_str())
                    .fetch_one(&mut *tx)
                    .await?;
                Registration::Refreshed(row.try_into()?)
            }
            None => {
                let live: i64 = sqlx::query_scalar(
                    "SELECT COUNT(*) FROM webhooks WHERE channel_id = $1 AND expires_at > $2",
                )
                .bind(webhook.channel_id.as_str())
                .bind(webhook.created_at)
                .fetch_one(&mut *tx)
                .await?;
                if live >= max_per_channel as i64 {
                    return Ok(Registration::LimitReached);
                }
                if let Some(max) = max_per_registrant {
                    let held: i64 = sqlx::query_scalar(
                        "SELECT COUNT(*) FROM webhooks WHERE registered_by = $1 AND expires_at > $2 \
                         AND state <> 'revoked'",
                    )
                    .bind(webhook.registered_by.as_str())
                    .bind(webhook.created_at)
                    .fetch_one(&mut *tx)
                    .await?;
                    if held >= max as i64 {
                        return Ok(Registration::RegistrantLimitReached);
                    }
                }
                let sql = format!(
                    "INSERT INTO webhooks ({WEBHOOK_COLUMNS}) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)"
                );
                sqlx::query(sqlx::AssertSqlSafe(sql))
                    .bind(webhook.id.as_str())
                    .bind(webhook.channel_id.as_str())
                    .bind(webhook.url.as_str())
                    .bind(event_types_text(&webhook.event_types))
                    .bind(webhook.secret.as_str())
                    .bind(webhook.created_at)
                    .bind(webhook.expires_at)
                    .bind(webhook.state.as_str())
                    .bind(webhook.last_error.as_deref())
                    .bind(webhook.failing_since)
                    .bind(webhook.last_success_at)
                    .bind(webhook.registered_by.as_str())
                    .bind(jwt.and_then(|j| j.kid.as_deref()))
                    .bind(jwt.and_then(|j| j.key.as_deref()))
                    .bind(jwt.map(|j| j.sub.as_str()))
                    .bind(jwt.and_then(|j| j.issuer.as_deref()))
                    .bind(jwt.and_then(|j| j.jti.as_deref()))
                    .bind(jwt.and_then(|j| j.iat))
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
        let rows = sqlx::query_as::<_, WebhookRow>(sqlx::AssertSqlSafe(sql))
            .bind(channel_id)
            .fetch_all(self.pool())
            .await?;
        rows.into_iter().map(WebhookRecord::try_from).collect()
    }

    async fn get_webhook(&self, webhook_id: &str) -> StoreResult<Option<WebhookRecord>> {
        let sql = format!("SELECT {WEBHOOK_COLUMNS} FROM webhooks WHERE id = $1");
        sqlx::query_as::<_, WebhookRow>(sqlx::AssertSqlSafe(sql))
            .bind(webhook_id)
            .fetch_optional(self.pool())
            .await?
            .map(WebhookRecord::try_from)
            .transpose()
    }

    async fn delete_webhook(&self, channel_id: &str, webhook_id: &str) -> StoreResult<bool> {
        let mut tx = self.backend().begin_write().await?;
        let owned: Option<String> =
            sqlx::query_scalar("SELECT id FROM webhooks WHERE id = $1 AND channel_id = $2")
                .bind(webhook_id)
                .bind(channel_id)
                .fetch_optional(&mut *tx)
                .await?;
        if owned.is_none() {
            return Ok(false);
        }
        for sql in DELETE_ONE_WEBHOOK {
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
        .fetch_all(self.pool())
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

    async fn webhook_backlog(&self) -> StoreResult<i64> {
        Ok(sqlx::query_scalar("SELECT COUNT(*) FROM webhook_jobs")
            .fetch_one(self.pool())
            .await?)
    }

    async fn next_job_due(&self) -> StoreResult<Option<Millis>> {
        let sql = format!("SELECT MIN(ready_at) FROM ({HEAD_JOBS}) heads");
        Ok(sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
            .fetch_one(self.pool())
            .await?)
    }

    async fn due_jobs(&self, now: Millis, limit: u32) -> StoreResult<Vec<WebhookJob>> {
        let sql = format!("SELECT * FROM ({HEAD_JOBS}) heads WHERE ready_at <= $1 ORDER BY ready_at LIMIT $2");
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(now)
            .bind(i64::from(limit))
            .fetch_all(self.pool())
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
        let mut tx = self.backend().begin_write().await?;
        sqlx::query(
            "INSERT INTO webhook_attempts (webhook_id, event_id, attempt, at, outcome, status, error, duration_ms) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(job.webhook_id.as_str())
        .bind(job.event_id.as_str())
        .bind(job.attempts + 1)
        .bind(attempt.at)
        .bind(attempt.outcome)
        .bind(attempt.status)
        .bind(attempt.error.as_deref())
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
                .bind(job.webhook_id.as_str())
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
                .bind(job.webhook_id.as_str())
                .bind(attempt.at)
                .bind(attempt.error.as_deref())
                .execute(&mut *tx)
                .await?;
            }
            JobNext::Disable => {
                sqlx::query("DELETE FROM webhook_jobs WHERE webhook_id = $1")
                    .bind(job.webhook_id.as_str())
                    .execute(&mut *tx)
                    .await?;
                sqlx::query(
                    "UPDATE webhooks SET state = 'disabled', last_error = $3, \
                     failing_since = COALESCE(failing_since, $2) WHERE id = $1",
                )
                .bind(job.webhook_id.as_str())
                .bind(attempt.at)
                .bind(attempt.error.as_deref())
                .execute(&mut *tx)
                .await?;
            }
        }
        sqlx::query(
            "DELETE FROM webhook_attempts WHERE webhook_id = $1 AND id <= (SELECT id FROM \
             webhook_attempts WHERE webhook_id = $1 ORDER BY id DESC LIMIT 1 OFFSET $2)",
        )
        .bind(job.webhook_id.as_str())
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
        .execute(self.pool())
        .await?;
        Ok(claimed.rows_affected() == 1)
    }

    async fn release_jobs(&self, job_ids: &[i64]) -> StoreResult<()> {
        for chunk in job_ids.chunks(INSERT_CHUNK) {
            let mut update = QueryBuilder::<B::Db>::new(
                "UPDATE webhook_jobs SET leased_until = NULL WHERE id IN (",
            );
            let mut ids = update.separated(", ");
            for id in chunk {
                ids.push_bind(*id);
            }
            update.push(")");
            update.build().execute(self.pool()).await?;
        }
        Ok(())
    }

    async fn drop_job(&self, job_id: i64) -> StoreResult<()> {
        sqlx::query("DELETE FROM webhook_jobs WHERE id = $1")
            .bind(job_id)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    async fn delete_expired_webhooks(&self, now: Millis) -> StoreResult<u64> {
        let mut tx = self.backend().begin_write().await?;
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

    async fn revoke_unauthorized_webhooks(
        &self,
        now: Millis,
        accepted_secrets: &str,
    ) -> StoreResult<u64> {
        let mut tx = self.backend().begin_write().await?;
        let sql = format!(
            "UPDATE webhooks SET state = 'revoked', last_error = {LOST_ACCESS_REASON} \
             WHERE state <> 'revoked' AND ({LOST_ACCESS})"
        );
        let revoked = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(now)
            .bind(false)
            .bind(accepted_secrets)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if revoked > 0 {
            sqlx::query(
                "DELETE FROM webhook_jobs WHERE webhook_id IN \
                 (SELECT id FROM webhooks WHERE state = 'revoked')",
            )
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(revoked)
    }

    async fn registrant_lost_access(
        &self,
        webhook_id: &str,
        now: Millis,
        accepted_secrets: &str,
    ) -> StoreResult<bool> {
        let sql = format!("SELECT COUNT(*) FROM webhooks WHERE id = $4 AND ({LOST_ACCESS})");
        let lost: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
            .bind(now)
            .bind(false)
            .bind(accepted_secrets)
            .bind(webhook_id)
            .fetch_one(self.pool())
            .await?;
        Ok(lost > 0)
    }
});
