//! The delivery worker: takes queued deliveries from the store's outbox and
//! POSTs them, one in flight per webhook (so each webhook sees its events in
//! order) and many webhooks at once (so a slow target only delays itself).
//!
//! Every attempt is logged; failures are retried with exponential backoff and
//! jitter (longer when the target asks with `Retry-After`); a webhook that has
//! failed for longer than the disable bound is disabled. Because the queue
//! lives in the database, deliveries resume after a restart.

use std::{
    collections::{HashMap, hash_map::Entry},
    error::Error as _,
    sync::{Arc, Mutex},
    time::Duration,
};

use rand::Rng;
use reqwest::{StatusCode, header};
use tokio::{sync::Notify, task::JoinHandle};
use tokio_util::sync::CancellationToken;

use super::{
    Outcome, WebhookSettings,
    guard::{self, GuardedResolver, Refused},
    signing::ServerKey,
};
use crate::{
    model::{WebhookState, now_millis},
    store::{AttemptRecord, JobNext, Store, StoreResult, WebhookJob},
};

/// Most jobs looked at per round.
const ROUND_SIZE: u32 = 256;
/// Longest sleep between rounds when nothing wakes the worker.
const IDLE_POLL: Duration = Duration::from_secs(1);
/// How often expired webhooks are removed.
const CLEANUP_EVERY: Duration = Duration::from_secs(10);
/// How long past its timeout a delivery keeps its job from other nodes (and
/// from this one after a crash).
const LEASE_MARGIN: Duration = Duration::from_secs(5);
/// The longest `Retry-After` honoured.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(3600);

pub struct Worker {
    store: Arc<dyn Store>,
    settings: WebhookSettings,
    client: reqwest::Client,
    key: Arc<ServerKey>,
    wake: Arc<Notify>,
    /// Webhook id → the job being delivered for it (leased by this node).
    in_flight: Mutex<HashMap<String, i64>>,
}

impl Worker {
    /// Starts delivering; `wake` is notified whenever new jobs are queued.
    pub fn start(
        store: Arc<dyn Store>,
        settings: WebhookSettings,
        key: Arc<ServerKey>,
        wake: Arc<Notify>,
        shutdown: CancellationToken,
    ) -> JoinHandle<()> {
        let client = reqwest::Client::builder()
            .dns_resolver(Arc::new(GuardedResolver {
                allow_private: settings.allow_private,
            }))
            // A redirect could lead to an address the guard never saw.
            .redirect(reqwest::redirect::Policy::none())
            // A proxy from HTTP(S)_PROXY would resolve targets itself, past the guard.
            .no_proxy()
            .user_agent(concat!("channelhub/", env!("CARGO_PKG_VERSION")))
            .build()
            .expect("the webhook HTTP client builds");
        let worker = Arc::new(Worker {
            store,
            settings,
            client,
            key,
            wake,
            in_flight: Mutex::new(HashMap::new()),
        });
        tokio::spawn(async move { worker.run(shutdown).await })
    }

    async fn run(self: Arc<Self>, shutdown: CancellationToken) {
        let mut last_cleanup = tokio::time::Instant::now();
        loop {
            let pause = match self.round().await {
                Ok(pause) => pause,
                Err(err) => {
                    tracing::warn!(error = %err, "webhook round failed");
                    IDLE_POLL
                }
            };
            if last_cleanup.elapsed() >= CLEANUP_EVERY {
                last_cleanup = tokio::time::Instant::now();
                match self.store.delete_expired_webhooks(now_millis()).await {
                    Ok(0) => {}
                    Ok(removed) => tracing::info!(removed, "expired webhooks removed"),
                    Err(err) => tracing::warn!(error = %err, "expired webhook cleanup failed"),
                }
            }
            tokio::select! {
                _ = shutdown.cancelled() => {
                    self.release_leases().await;
                    return;
                }
                _ = self.wake.notified() => {}
                _ = tokio::time::sleep(pause) => {}
            }
        }
    }

    /// Gives up this node's leases, so that a restarted node (or another one)
    /// retries those deliveries at once rather than after the lease. They may
    /// be delivered twice; receivers deduplicate with `webhook-id`.
    async fn release_leases(&self) {
        let leased: Vec<i64> = {
            let in_flight = self.in_flight.lock().unwrap_or_else(|e| e.into_inner());
            in_flight.values().copied().collect()
        };
        if let Err(err) = self.store.release_jobs(&leased).await {
            tracing::warn!(error = %err, "could not release webhook leases");
        }
    }

    /// Starts every due delivery whose webhook is idle; returns how long to
    /// wait before the next round if nothing wakes the worker sooner.
    async fn round(self: &Arc<Self>) -> StoreResult<Duration> {
        let now = now_millis();
        let jobs = self.store.due_jobs(now, ROUND_SIZE).await?;
        let full_round = jobs.len() == ROUND_SIZE as usize;
        let lease_until = now + (self.settings.timeout + LEASE_MARGIN).as_millis() as i64;
        for job in jobs {
            let idle = {
                let mut in_flight = self.in_flight.lock().unwrap_or_else(|e| e.into_inner());
                match in_flight.entry(job.webhook_id.clone()) {
                    Entry::Occupied(_) => false,
                    Entry::Vacant(slot) => {
                        slot.insert(job.id);
                        true
                    }
                }
            };
            if !idle {
                continue;
            }
            // Another node may be delivering it: the lease decides.
            if !self.store.claim_job(job.id, now, lease_until).await? {
                let mut in_flight = self.in_flight.lock().unwrap_or_else(|e| e.into_inner());
                in_flight.remove(&job.webhook_id);
                continue;
            }
            let worker = self.clone();
            tokio::spawn(async move { worker.deliver_and_release(job).await });
        }
        if full_round {
            return Ok(Duration::ZERO);
        }
        // Due jobs of busy webhooks wait for their delivery to finish, which wakes us.
        Ok(match self.store.next_job_due().await? {
            Some(at) if at > now => Duration::from_millis((at - now) as u64).min(IDLE_POLL),
            _ => IDLE_POLL,
        })
    }

    async fn deliver_and_release(self: Arc<Self>, job: WebhookJob) {
        if let Err(err) = self.deliver(&job).await {
            tracing::warn!(error = %err, webhook = %job.webhook_id, "webhook delivery bookkeeping failed");
        }
        let mut in_flight = self.in_flight.lock().unwrap_or_else(|e| e.into_inner());
        in_flight.remove(&job.webhook_id);
        drop(in_flight);
        // The webhook's next job, if any, can go now.
        self.wake.notify_one();
    }

    async fn deliver(&self, job: &WebhookJob) -> StoreResult<()> {
        let Some(webhook) = self.store.get_webhook(&job.webhook_id).await? else {
            return Ok(());
        };
        let now = now_millis();
        if webhook.state != WebhookState::Active || webhook.expires_at <= now {
            return Ok(());
        }
        // Its registrant must be able to read the channel now (an access
        // change the sweep has not reached yet, or one from another node).
        let accepted = self.settings.jwt_secrets.at(now);
        if self
            .store
            .registrant_lost_access(&webhook.id, now, &accepted)
            .await?
        {
            self.store
                .revoke_unauthorized_webhooks(now, &accepted)
                .await?;
            return Ok(());
        }
        let Some(event) = self
            .store
            .get_event(&webhook.channel_id, &job.event_id)
            .await?
        else {
            // Deleted or past retention: nothing left to deliver.
            return self.store.drop_job(job.id).await;
        };
        let body = event.to_json_string();
        let now = chrono::Utc::now();
        let timestamp = now.timestamp();
        let signature = self
            .key
            .signature(&webhook.secret, &event.id, timestamp, &body);
        let zooid_timestamp = now.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        let headers = Signed {
            event_id: &event.id,
            channel_id: &webhook.channel_id,
            timestamp,
            signature: &signature,
            zooid_signature: self.key.zooid_signature(&zooid_timestamp, &body),
            zooid_timestamp,
        };

        let started = tokio::time::Instant::now();
        let at = now_millis();
        let result = self.post(&webhook.url, &headers, body).await;
        let duration_ms = started.elapsed().as_millis() as i64;
        let (outcome, status, error, retry_after) = match result {
            Ok(()) => (Outcome::Success, None, None, None),
            Err(failure) => (
                failure.outcome,
                failure.status,
                Some(failure.error),
                failure.retry_after,
            ),
        };
        metrics::counter!(crate::telemetry::WEBHOOK_ATTEMPTS, "outcome" => outcome.as_str())
            .increment(1);
        let status = status.map(|s| i64::from(s.as_u16()));
        let next = if outcome == Outcome::Success {
            JobNext::Delivered
        } else {
            let failing_for = webhook.failing_since.map_or(0, |since| at - since);
            if failing_for >= self.settings.disable_after.as_millis() as i64 {
                tracing::warn!(webhook = %webhook.id, url = %webhook.url, "webhook disabled after failing too long");
                JobNext::Disable
            } else {
                let delay = retry_delay(job.attempts + 1, &self.settings, retry_after);
                JobNext::Retry(at + delay.as_millis() as i64)
            }
        };
        let attempt = AttemptRecord {
            at,
            outcome: outcome.as_str(),
            status,
            error,
            duration_ms,
        };
        self.store.finish_attempt(job, &attempt, next).await
    }

    async fn post(&self, url: &str, signed: &Signed<'_>, body: String) -> Result<(), Failure> {
        let url = reqwest::Url::parse(url).map_err(|e| Failure::refused(e.to_string()))?;
        guard::check_literal(&url, self.settings.allow_private)
            .map_err(|e| Failure::refused(e.0))?;
        let response = self
            .client
            .post(url)
            .header(header::CONTENT_TYPE, "application/json")
            .header("webhook-id", signed.event_id)
            .header("webhook-timestamp", signed.timestamp.to_string())
            .header("webhook-signature", signed.signature)
            // Zooid's, so that its verifyWebhook checks deliveries unchanged.
            .header("x-zooid-event-id", signed.event_id)
            .header("x-zooid-channel", signed.channel_id)
            .header("x-zooid-timestamp", &signed.zooid_timestamp)
            .header("x-zooid-signature", &signed.zooid_signature)
            .body(body)
            .timeout(self.settings.timeout)
            .send()
            .await
            .map_err(Failure::from_request)?;
        let status = response.status();
        if status.is_success() {
            return Ok(());
        }
        let retry_after = matches!(
            status,
            StatusCode::TOO_MANY_REQUESTS | StatusCode::SERVICE_UNAVAILABLE
        )
        .then(|| response.headers().get(header::RETRY_AFTER))
        .flatten()
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(|secs| Duration::from_secs(secs).min(MAX_RETRY_AFTER));
        Err(Failure {
            outcome: Outcome::HttpError,
            status: Some(status),
            error: format!("HTTP {status}"),
            retry_after,
        })
    }
}

/// A failed attempt.
struct Failure {
    outcome: Outcome,
    status: Option<StatusCode>,
    error: String,
    retry_after: Option<Duration>,
}

impl Failure {
    fn refused(error: String) -> Failure {
        Failure {
            outcome: Outcome::Refused,
            status: None,
            error,
            retry_after: None,
        }
    }

    fn from_request(err: reqwest::Error) -> Failure {
        let mut source = err.source();
        while let Some(cause) = source {
            if let Some(refused) = cause.downcast_ref::<Refused>() {
                return Failure::refused(refused.0.clone());
            }
            source = cause.source();
        }
        let outcome = if err.is_timeout() {
            Outcome::Timeout
        } else {
            Outcome::NetworkError
        };
        let mut error = err.to_string();
        let mut source = err.source();
        while let Some(cause) = source {
            error.push_str(": ");
            error.push_str(&cause.to_string());
            source = cause.source();
        }
        Failure {
            outcome,
            status: None,
            error,
            retry_after: None,
        }
    }
}

/// Exponential backoff from `retry_base`, capped at `retry_max`, with ±50%
/// jitter so that many failing deliveries do not retry in lockstep; never
/// sooner than the target's `Retry-After`.
fn retry_delay(
    attempts: i64,
    settings: &WebhookSettings,
    retry_after: Option<Duration>,
) -> Duration {
    let exponent = attempts.clamp(1, 30) as u32 - 1;
    let backoff = settings
        .retry_base
        .saturating_mul(2u32.saturating_pow(exponent))
        .min(settings.retry_max);
    let jittered = backoff.mul_f64(rand::rng().random_range(0.5..1.5));
    retry_after.map_or(jittered, |asked| jittered.max(asked))
}

/// A delivery's identifying and signature headers.
struct Signed<'a> {
    event_id: &'a str,
    channel_id: &'a str,
    /// Standard Webhooks: seconds since the epoch.
    timestamp: i64,
    signature: &'a str,
    /// Zooid: RFC 3339 with milliseconds.
    zooid_timestamp: String,
    zooid_signature: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> WebhookSettings {
        WebhookSettings {
            allow_private: false,
            timeout: Duration::from_secs(10),
            disable_after: Duration::from_secs(86_400),
            retry_base: Duration::from_secs(1),
            retry_max: Duration::from_secs(3600),
            jwt_secrets: Default::default(),
        }
    }

    #[test]
    fn backoff_grows_with_jitter_and_a_cap() {
        let s = settings();
        for _ in 0..100 {
            let first = retry_delay(1, &s, None);
            assert!(first >= Duration::from_millis(500) && first < Duration::from_millis(1500));
            let fifth = retry_delay(5, &s, None);
            assert!(fifth >= Duration::from_secs(8) && fifth < Duration::from_secs(24));
            assert!(retry_delay(40, &s, None) < Duration::from_secs(5400));
            assert!(retry_delay(1, &s, Some(Duration::from_secs(30))) >= Duration::from_secs(30));
        }
    }
}
