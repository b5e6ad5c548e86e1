//! The domain core: what channelhub does, independent of how it is asked.
//!
//! Every HTTP handler parses its request, then calls one `Hub` method with the
//! caller's [`Principal`]. The hub decides who may do what, validates input,
//! keeps the store, the auth cache and the live rooms consistent with each
//! other, and answers in domain terms ([`HubError`]); it never sees HTTP types
//! and never writes SQL.

mod access;
mod announced;
mod channels;
mod events;
mod keys;
mod notices;
mod poll;
mod presence;
pub mod profile;
pub mod schema;
mod tokens;
pub mod webhooks;
pub mod writer;

use std::{
    sync::{Arc, PoisonError},
    time::{Duration, Instant as StdInstant},
};

use crate::{
    auth::{Auth, AuthError, Principal},
    live::rooms::Rooms,
    model::{Channel, DEFAULT_PAGE_LIMIT, Invalid, MAX_PAGE_LIMIT, TokenKind},
    store::{Store, StoreError},
};
use schema::TypeRulesCache;
use writer::EventWriter;

pub use events::{Publication, Published};
pub use keys::{MintRequest, RevocationRequest};
pub use poll::Gap;
pub use tokens::TokenRequest;

#[derive(Debug, thiserror::Error)]
pub enum HubError {
    /// No credential, or one that is not valid here.
    #[error("{0}")]
    Unauthorized(String),
    /// A valid credential that does not allow this.
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    TooLarge(String),
    /// The caller holds as much of something as it may.
    #[error("{0}")]
    TooMany(String),
    /// Well-formed, but in conflict with what was asked before (a reused
    /// idempotency key).
    #[error("{0}")]
    Unprocessable(String),
    /// What was asked for is gone for good (a revoked webhook).
    #[error("{0}")]
    Gone(String),
    /// A repeated `Idempotency-Key` whose events were removed since: their
    /// ids, not their data.
    #[error("{detail}")]
    EventsRemoved {
        detail: String,
        event_ids: Vec<String>,
        removed: Vec<String>,
    },
    /// The database failed; nothing was changed.
    #[error("{0}")]
    Unavailable(String),
    /// Too much of this is in progress right now: retry in a moment.
    #[error("{0}")]
    Busy(String),
}

impl From<Invalid> for HubError {
    fn from(err: Invalid) -> Self {
        HubError::Invalid(err.0)
    }
}

impl From<StoreError> for HubError {
    fn from(err: StoreError) -> Self {
        tracing::error!(error = %err, "store error");
        HubError::Unavailable("the database could not complete the request".into())
    }
}

impl From<AuthError> for HubError {
    fn from(err: AuthError) -> Self {
        match err {
            AuthError::Invalid => HubError::Unauthorized("invalid or expired token".into()),
            AuthError::Busy => HubError::Busy(err.to_string()),
            AuthError::Jwt(_) => HubError::Unauthorized(err.to_string()),
            AuthError::Store(err) => err.into(),
        }
    }
}

pub type HubResult<T> = Result<T, HubError>;

fn channel_not_found(id: &str) -> HubError {
    HubError::NotFound(format!("channel {id:?} does not exist"))
}

/// A page of results and where the next one starts.
#[derive(Debug)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub cursor: Option<String>,
    pub has_more: bool,
}

pub struct Hub {
    store: Arc<dyn Store>,
    auth: Auth,
    rooms: Arc<Rooms>,
    writer: EventWriter,
    type_rules: TypeRulesCache,
    allow_private_webhooks: bool,
    /// This process's id among the nodes sharing the database.
    node_id: String,
    /// Channels as publishes see them, kept briefly so that a publish costs
    /// no query; dropped on every change, on every node.
    publish_view: quick_cache::sync::Cache<String, (Arc<Channel>, StdInstant)>,
    /// How long a publish's `Idempotency-Key` is remembered.
    idempotency_window: Duration,
    /// Live anonymous webhooks one client address may hold (0: no bound).
    max_anonymous_webhooks: usize,
    /// Whether a webhook may be registered without a credential that reads
    /// its channel.
    allow_anonymous_webhooks: bool,
    /// JWT deny-list entries at most.
    max_revocations: usize,
    /// The webhook queue's length as last counted, and when: `/metrics` is
    /// public, so the count is taken at most once a second.
    backlog: std::sync::Mutex<Option<(StdInstant, i64)>>,
}

/// Anonymous webhooks one address may hold unless configured.
pub const DEFAULT_MAX_ANONYMOUS_WEBHOOKS: usize = 20;

/// JWT deny-list entries unless configured.
pub const DEFAULT_MAX_REVOCATIONS: usize = 100_000;

/// How long idempotency keys are remembered unless configured.
pub const DEFAULT_IDEMPOTENCY_WINDOW: Duration = Duration::from_secs(24 * 3600);

impl Hub {
    pub fn new(
        store: Arc<dyn Store>,
        auth: Auth,
        rooms: Arc<Rooms>,
        writer: EventWriter,
        allow_private_webhooks: bool,
    ) -> Hub {
        Hub {
            store,
            auth,
            rooms,
            writer,
            type_rules: TypeRulesCache::default(),
            allow_private_webhooks,
            node_id: ulid::Ulid::generate().to_string(),
            publish_view: quick_cache::sync::Cache::new(10_000),
            idempotency_window: DEFAULT_IDEMPOTENCY_WINDOW,
            max_anonymous_webhooks: DEFAULT_MAX_ANONYMOUS_WEBHOOKS,
            allow_anonymous_webhooks: true,
            max_revocations: DEFAULT_MAX_REVOCATIONS,
            backlog: std::sync::Mutex::new(None),
        }
    }

    /// Bounds the JWT deny-list.
    pub fn with_max_revocations(mut self, max: usize) -> Hub {
        self.max_revocations = max;
        self
    }

    /// Bounds the live anonymous webhooks one address may hold (0: no bound).
    pub fn with_max_anonymous_webhooks(mut self, max: usize) -> Hub {
        self.max_anonymous_webhooks = max;
        self
    }

    /// Allows or refuses (401) anonymous webhook registrations.
    pub fn with_anonymous_webhooks(mut self, allow: bool) -> Hub {
        self.allow_anonymous_webhooks = allow;
        self
    }

    /// Remembers idempotency keys for `window` instead of the default 24 h.
    pub fn with_idempotency_window(mut self, window: Duration) -> Hub {
        self.idempotency_window = window;
        self
    }

    pub fn rooms(&self) -> &Arc<Rooms> {
        &self.rooms
    }

    pub async fn authenticate(&self, presented: Option<&str>) -> HubResult<Principal> {
        Ok(self.auth.authenticate(presented).await?)
    }

    /// Webhook deliveries waiting on every node (counted at most once a second).
    pub async fn webhook_backlog(&self) -> HubResult<i64> {
        let fresh = |seen: &Option<(StdInstant, i64)>| {
            seen.filter(|(at, _)| at.elapsed() < Duration::from_secs(1))
                .map(|(_, count)| count)
        };
        if let Some(count) = fresh(&self.backlog.lock().unwrap_or_else(PoisonError::into_inner)) {
            return Ok(count);
        }
        let count = self.store.webhook_backlog().await?;
        *self.backlog.lock().unwrap_or_else(PoisonError::into_inner) =
            Some((StdInstant::now(), count));
        Ok(count)
    }

    pub async fn database_ready(&self) -> HubResult<()> {
        Ok(self.store.ping().await?)
    }

    fn require_admin(principal: &Principal) -> HubResult<()> {
        match principal {
            _ if principal.is_admin() => Ok(()),
            Principal::Anonymous => {
                Err(HubError::Unauthorized("this needs the admin token".into()))
            }
            _ => Err(HubError::Forbidden(
                "this needs the admin token (or a JWT with the admin scope)".into(),
            )),
        }
    }

    /// A channel that exists, with its live subscriber count.
    async fn load_channel(&self, id: &str) -> HubResult<Channel> {
        let mut channel = self
            .store
            .get_channel(id)
            .await?
            .ok_or_else(|| channel_not_found(id))?;
        channel.subscribers = self.subscriber_count(id).await?;
        Ok(channel)
    }

    /// Whether `principal` may read `channel`'s events and live stream.
    pub fn can_read(principal: &Principal, channel: &Channel) -> bool {
        channel.is_public
            || match principal {
                Principal::Admin => true,
                Principal::Token(token) => {
                    token.kind == TokenKind::Subscribe && token.channel_id == channel.id
                }
                Principal::Jwt(grant) => grant.can_subscribe(&channel.id),
                Principal::Anonymous => false,
            }
    }

    /// Finds a channel and checks its reader, in that order (404, then 401).
    /// On a public channel an invalid credential is no error.
    pub async fn open_for_reading(
        &self,
        channel_id: &str,
        presented: Option<&str>,
    ) -> HubResult<(Channel, Principal)> {
        let channel = self.load_channel(channel_id).await?;
        if channel.is_public {
            // No credential is needed. One that could keep this reader on the
            // channel should it become private is remembered; others are
            // ignored without being checked.
            let principal = self.auth.identify_reader(presented, channel_id).await;
            return Ok((channel, principal));
        }
        let principal = self.authenticate(presented).await?;
        if !Self::can_read(&principal, &channel) {
            return Err(HubError::Unauthorized(format!(
                "channel {channel_id:?} is private: it needs a subscribe token for this channel \
                 (or a JWT with a sub scope for it)"
            )));
        }
        Ok((channel, principal))
    }
}

fn page_limit(limit: Option<u32>) -> HubResult<u32> {
    match limit {
        None => Ok(DEFAULT_PAGE_LIMIT),
        Some(n) if (1..=MAX_PAGE_LIMIT).contains(&n) => Ok(n),
        Some(n) => Err(HubError::Invalid(format!(
            "limit must be between 1 and {MAX_PAGE_LIMIT}, not {n}"
        ))),
    }
}
