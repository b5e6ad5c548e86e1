//! The domain core: what channelhub does, independent of how it is asked.
//!
//! Every HTTP handler parses its request, then calls one `Hub` method with the
//! caller's [`Principal`]. The hub decides who may do what, validates input,
//! keeps the store, the auth cache and the live rooms consistent with each
//! other, and answers in domain terms ([`HubError`]); it never sees HTTP types
//! and never writes SQL.

pub mod schema;
pub mod webhooks;
pub mod writer;

use std::{
    sync::Arc,
    time::{Duration, Instant as StdInstant},
};

use serde_json::Value;
use tokio::time::Instant;

use crate::{
    auth::{Auth, AuthError, Principal},
    cluster::{AppendNotice, CONTROL_TOPIC, ControlNotice},
    live::rooms::{CloseOrder, Rooms},
    model::{
        Channel, ChannelPatch, DEFAULT_PAGE_LIMIT, Event, EventQuery, Invalid, MAX_BATCH_EVENTS,
        MAX_EVENT_DATA_BYTES, MAX_PAGE_LIMIT, NewChannel, NewEvent, Publisher, TokenInfo,
        TokenKind, TokenRecord, now_millis, validate_channel_id,
    },
    store::{AppendBatch, Store, StoreError},
};
use schema::{TypeRules, TypeRulesCache};
use writer::{AppendError, EventWriter};

/// The longest a long-poll may wait.
pub const MAX_POLL_WAIT: Duration = Duration::from_secs(60);
const MAX_TAGS: usize = 32;
const MAX_TAG_CHARS: usize = 64;
const MAX_NAME_CHARS: usize = 200;
const MAX_DESCRIPTION_CHARS: usize = 2_000;
const MAX_TYPE_CHARS: usize = 128;
const MAX_META_BYTES: usize = 16 * 1024;

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
    /// The database failed; nothing was changed.
    #[error("{0}")]
    Unavailable(String),
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

/// A token as created: its info and the secret, shown this once.
pub struct CreatedToken {
    pub info: TokenInfo,
    pub token: String,
}

/// What a new token should be.
pub struct TokenRequest {
    pub kind: TokenKind,
    pub name: Option<String>,
    pub publisher_id: Option<String>,
    pub expires_in_seconds: Option<i64>,
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
}

/// The longest a publish may act on a cached channel, should a change
/// notice from another node be lost.
const PUBLISH_VIEW_TTL: Duration = Duration::from_secs(1);

/// How long another node's subscriber report counts.
const PRESENCE_FRESH_MS: i64 = 6_000;
/// Events read per page when catching a room up.
const CATCH_UP_PAGE: u32 = 500;

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
        }
    }

    /// The channel a publish goes to, from the short-lived cache if possible.
    async fn channel_for_publish(&self, channel_id: &str) -> HubResult<Arc<Channel>> {
        if let Some((channel, at)) = self.publish_view.get(channel_id)
            && at.elapsed() < PUBLISH_VIEW_TTL
        {
            return Ok(channel);
        }
        let channel = Arc::new(
            self.store
                .get_channel(channel_id)
                .await?
                .ok_or_else(|| channel_not_found(channel_id))?,
        );
        self.publish_view
            .insert(channel_id.to_owned(), (channel.clone(), StdInstant::now()));
        Ok(channel)
    }

    /// Live subscribers of a channel: this node's, plus the other nodes' last reports.
    async fn subscriber_count(&self, channel_id: &str) -> HubResult<u64> {
        let local = self.rooms.subscriber_count(channel_id);
        if !self.store.clustered() {
            return Ok(local);
        }
        let remote = self
            .store
            .remote_subscribers(channel_id, &self.node_id, now_millis() - PRESENCE_FRESH_MS)
            .await?;
        Ok(local + remote)
    }

    /// Publishes this node's subscriber counts for the other nodes.
    pub async fn report_subscribers(&self) -> HubResult<()> {
        let counts = self.rooms.subscriber_counts();
        Ok(self
            .store
            .report_subscribers(&self.node_id, &counts, now_millis())
            .await?)
    }

    /// Applies a control notice here and tells the other nodes.
    async fn announce_control(&self, notice: ControlNotice) {
        self.apply_control(&notice);
        let payload = serde_json::to_string(&notice).expect("notices serialize");
        if let Err(err) = self.store.announce(CONTROL_TOPIC, &payload).await {
            tracing::warn!(error = %err, "could not announce a control notice to other nodes");
        }
    }

    /// Closes the sockets and forgets the credentials a notice is about.
    pub fn apply_control(&self, notice: &ControlNotice) {
        match notice {
            ControlNotice::ChannelChanged { channel_id } => {
                self.publish_view.remove(channel_id);
                self.type_rules.forget(channel_id);
            }
            ControlNotice::ChannelDeleted { channel_id } => {
                self.publish_view.remove(channel_id);
                self.type_rules.forget(channel_id);
                self.rooms.close(channel_id, CloseOrder::ChannelDeleted);
            }
            ControlNotice::ChannelMadePrivate { channel_id } => {
                self.rooms.close(channel_id, CloseOrder::ChannelMadePrivate);
            }
            ControlNotice::TokenRevoked {
                channel_id,
                token_id,
            } => {
                self.auth.forget(token_id);
                self.rooms
                    .close(channel_id, CloseOrder::TokenRevoked(token_id.clone()));
            }
        }
    }

    /// Fans out events announced on the cluster bus, reading them back from
    /// the table when they did not fit in the notice.
    pub async fn deliver_announced(&self, notice: AppendNotice) {
        if !notice.events.is_empty() {
            self.rooms.broadcast(&notice.channel_id, &notice.events);
            return;
        }
        let mut after = notice.after_id;
        loop {
            let query = EventQuery {
                after: after.clone(),
                until: Some(notice.last_id.clone()),
                limit: CATCH_UP_PAGE,
                ..EventQuery::default()
            };
            match self.store.list_events(&notice.channel_id, &query).await {
                Ok(events) if events.is_empty() => return,
                Ok(events) => {
                    self.rooms.broadcast(&notice.channel_id, &events);
                    after = events.last().map(|e| e.id.clone());
                }
                Err(err) => {
                    tracing::error!(error = %err, channel = %notice.channel_id, "could not read announced events");
                    return;
                }
            }
        }
    }

    /// After the bus was cut: delivers to every live room what it missed.
    pub async fn catch_up_rooms(&self) {
        for (channel_id, mut after) in self.rooms.catch_up_points() {
            loop {
                let query = EventQuery {
                    after: after.clone(),
                    limit: CATCH_UP_PAGE,
                    ..EventQuery::default()
                };
                match self.store.list_events(&channel_id, &query).await {
                    Ok(events) if events.is_empty() => break,
                    Ok(events) => {
                        self.rooms.broadcast(&channel_id, &events);
                        after = events.last().map(|e| e.id.clone());
                    }
                    Err(err) => {
                        tracing::error!(error = %err, channel = %channel_id, "catch-up failed");
                        break;
                    }
                }
            }
        }
    }

    pub fn rooms(&self) -> &Arc<Rooms> {
        &self.rooms
    }

    pub async fn authenticate(&self, presented: Option<&str>) -> HubResult<Principal> {
        Ok(self.auth.authenticate(presented).await?)
    }

    pub async fn database_ready(&self) -> HubResult<()> {
        Ok(self.store.ping().await?)
    }

    fn require_admin(principal: &Principal) -> HubResult<()> {
        match principal {
            Principal::Admin => Ok(()),
            Principal::Anonymous => {
                Err(HubError::Unauthorized("this needs the admin token".into()))
            }
            Principal::Token(_) => Err(HubError::Forbidden("this needs the admin token".into())),
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
            // No credential is needed; a valid one is still remembered, so the
            // socket keeps access if the channel is later made private.
            let principal = match presented {
                Some(_) => self
                    .authenticate(presented)
                    .await
                    .unwrap_or(Principal::Anonymous),
                None => Principal::Anonymous,
            };
            return Ok((channel, principal));
        }
        let principal = self.authenticate(presented).await?;
        if !Self::can_read(&principal, &channel) {
            return Err(HubError::Unauthorized(format!(
                "channel {channel_id:?} is private: it needs a subscribe token for this channel"
            )));
        }
        Ok((channel, principal))
    }

    // ---- channels ----

    pub async fn create_channel(
        &self,
        principal: &Principal,
        new: NewChannel,
    ) -> HubResult<Channel> {
        Self::require_admin(principal)?;
        validate_channel_id(&new.id)?;
        validate_channel_fields(&new.name, &new.description, &new.tags, &new.meta)?;
        new.retention.validate()?;
        TypeRules::compile(&new.config)?;
        match self.store.create_channel(&new, now_millis()).await {
            Ok(channel) => Ok(channel),
            Err(StoreError::Conflict) => Err(HubError::Conflict(format!(
                "channel {:?} already exists",
                new.id
            ))),
            Err(err) => Err(err.into()),
        }
    }

    /// Channels in id order; anonymous callers see only public ones.
    pub async fn list_channels(
        &self,
        principal: &Principal,
        cursor: Option<&str>,
        limit: Option<u32>,
    ) -> HubResult<Page<Channel>> {
        let limit = page_limit(limit)?;
        let include_private = matches!(principal, Principal::Admin);
        let mut channels = self
            .store
            .list_channels(cursor, include_private, limit + 1)
            .await?;
        let has_more = channels.len() > limit as usize;
        channels.truncate(limit as usize);
        for channel in &mut channels {
            channel.subscribers = self.subscriber_count(&channel.id).await?;
        }
        let cursor = channels
            .last()
            .map(|c| c.id.clone())
            .or_else(|| cursor.map(str::to_owned));
        Ok(Page {
            items: channels,
            cursor,
            has_more,
        })
    }

    pub async fn get_channel(
        &self,
        channel_id: &str,
        presented: Option<&str>,
    ) -> HubResult<Channel> {
        Ok(self.open_for_reading(channel_id, presented).await?.0)
    }

    pub async fn update_channel(
        &self,
        principal: &Principal,
        channel_id: &str,
        patch: ChannelPatch,
    ) -> HubResult<Channel> {
        Self::require_admin(principal)?;
        let mut channel = self.load_channel(channel_id).await?;
        let was_public = channel.is_public;
        let ChannelPatch {
            name,
            description,
            tags,
            is_public,
            meta,
            config,
            retention,
        } = patch;
        channel.name = name.unwrap_or(channel.name);
        channel.description = description.unwrap_or(channel.description);
        channel.tags = tags.unwrap_or(channel.tags);
        channel.is_public = is_public.unwrap_or(channel.is_public);
        channel.meta = meta.unwrap_or(channel.meta);
        channel.config = config.unwrap_or(channel.config);
        channel.retention = retention.unwrap_or(channel.retention);
        validate_channel_fields(
            &channel.name,
            &channel.description,
            &channel.tags,
            &channel.meta,
        )?;
        channel.retention.validate()?;
        TypeRules::compile(&channel.config)?;
        let mut updated = self
            .store
            .update_channel(&channel)
            .await?
            .ok_or_else(|| channel_not_found(channel_id))?;
        self.announce_control(ControlNotice::ChannelChanged {
            channel_id: channel_id.to_owned(),
        })
        .await;
        if was_public && !updated.is_public {
            self.announce_control(ControlNotice::ChannelMadePrivate {
                channel_id: channel_id.to_owned(),
            })
            .await;
        }
        updated.subscribers = self.subscriber_count(channel_id).await?;
        Ok(updated)
    }

    pub async fn delete_channel(&self, principal: &Principal, channel_id: &str) -> HubResult<()> {
        Self::require_admin(principal)?;
        let tokens = self.store.list_tokens(channel_id).await?;
        if !self.store.delete_channel(channel_id).await? {
            return Err(channel_not_found(channel_id));
        }
        for token in tokens {
            self.announce_control(ControlNotice::TokenRevoked {
                channel_id: channel_id.to_owned(),
                token_id: token.id,
            })
            .await;
        }
        self.announce_control(ControlNotice::ChannelDeleted {
            channel_id: channel_id.to_owned(),
        })
        .await;
        Ok(())
    }

    // ---- tokens ----

    pub async fn create_token(
        &self,
        principal: &Principal,
        channel_id: &str,
        request: TokenRequest,
    ) -> HubResult<CreatedToken> {
        Self::require_admin(principal)?;
        validate_optional_text("name", request.name.as_deref(), MAX_NAME_CHARS)?;
        validate_optional_text(
            "publisher_id",
            request.publisher_id.as_deref(),
            MAX_NAME_CHARS,
        )?;
        if request.kind == TokenKind::Subscribe && request.publisher_id.is_some() {
            return Err(HubError::Invalid(
                "publisher_id applies to publish tokens only".into(),
            ));
        }
        let now = now_millis();
        let expires_at = match request.expires_in_seconds {
            None => None,
            Some(seconds) if seconds > 0 => Some(now.saturating_add(seconds.saturating_mul(1000))),
            Some(_) => {
                return Err(HubError::Invalid(
                    "expires_in_seconds must be positive".into(),
                ));
            }
        };
        let minted = self.auth.mint().await;
        let publisher_id = match request.kind {
            TokenKind::Publish => Some(request.publisher_id.unwrap_or_else(|| minted.id.clone())),
            TokenKind::Subscribe => None,
        };
        let record = TokenRecord {
            id: minted.id,
            channel_id: channel_id.to_owned(),
            kind: request.kind,
            name: request.name,
            publisher_id,
            secret_hash: minted.secret_hash,
            created_at: now,
            expires_at,
        };
        match self.store.create_token(&record).await {
            Ok(()) => Ok(CreatedToken {
                info: TokenInfo::from(&record),
                token: minted.token,
            }),
            Err(StoreError::NotFound) => Err(channel_not_found(channel_id)),
            Err(err) => Err(err.into()),
        }
    }

    pub async fn list_tokens(
        &self,
        principal: &Principal,
        channel_id: &str,
    ) -> HubResult<Vec<TokenInfo>> {
        Self::require_admin(principal)?;
        self.load_channel(channel_id).await?;
        let tokens = self.store.list_tokens(channel_id).await?;
        Ok(tokens.iter().map(TokenInfo::from).collect())
    }

    pub async fn revoke_token(
        &self,
        principal: &Principal,
        channel_id: &str,
        token_id: &str,
    ) -> HubResult<()> {
        Self::require_admin(principal)?;
        if !self.store.delete_token(channel_id, token_id).await? {
            return Err(HubError::NotFound(format!(
                "token {token_id:?} does not exist on channel {channel_id:?}"
            )));
        }
        self.announce_control(ControlNotice::TokenRevoked {
            channel_id: channel_id.to_owned(),
            token_id: token_id.to_owned(),
        })
        .await;
        Ok(())
    }

    // ---- events ----

    /// Stores events and broadcasts them; returns them once durable.
    pub async fn publish(
        &self,
        channel_id: &str,
        presented: Option<&str>,
        events: Vec<NewEvent>,
    ) -> HubResult<Vec<Event>> {
        let channel = self.channel_for_publish(channel_id).await?;
        let principal = self.authenticate(presented).await?;
        let (publisher, token_id) = match &principal {
            Principal::Admin => (Publisher::admin(), None),
            Principal::Token(token)
                if token.kind == TokenKind::Publish && token.channel_id == channel_id =>
            {
                (
                    Publisher {
                        id: token
                            .publisher_id
                            .clone()
                            .unwrap_or_else(|| token.id.clone()),
                        name: token.name.clone(),
                    },
                    Some(token.id.clone()),
                )
            }
            Principal::Token(_) => {
                return Err(HubError::Forbidden(format!(
                    "publishing needs a publish token of channel {channel_id:?} or the admin token"
                )));
            }
            Principal::Anonymous => {
                return Err(HubError::Unauthorized(
                    "publishing needs a publish token or the admin token".into(),
                ));
            }
        };
        if events.is_empty() || events.len() > MAX_BATCH_EVENTS {
            return Err(HubError::Invalid(format!(
                "a batch holds 1 to {MAX_BATCH_EVENTS} events, not {}",
                events.len()
            )));
        }
        let rules = self.type_rules.rules_for(channel_id, &channel.config)?;
        for (i, event) in events.iter().enumerate() {
            let at = |msg: String| {
                if events.len() > 1 {
                    format!("events[{i}]: {msg}")
                } else {
                    msg
                }
            };
            let size = event.data_json.len();
            if size > MAX_EVENT_DATA_BYTES {
                return Err(HubError::TooLarge(at(format!(
                    "data is {size} bytes serialized; the limit is {MAX_EVENT_DATA_BYTES}"
                ))));
            }
            if let Some(event_type) = &event.event_type
                && (event_type.is_empty() || event_type.chars().count() > MAX_TYPE_CHARS)
            {
                return Err(HubError::Invalid(at(format!(
                    "type must be 1 to {MAX_TYPE_CHARS} characters"
                ))));
            }
            rules
                .check(event.event_type.as_deref(), &event.data)
                .map_err(|e| HubError::Invalid(at(e.0)))?;
        }
        let batch = AppendBatch {
            channel_id: channel_id.to_owned(),
            publisher,
            token_id,
            events,
        };
        self.writer.append(batch).await.map_err(|err| match err {
            AppendError::ChannelNotFound => channel_not_found(channel_id),
            AppendError::Storage(reason) => {
                HubError::Unavailable(format!("the events were not stored: {reason}"))
            }
        })
    }

    /// A page of events after the cursor; with `wait`, holds the request
    /// until at least one matching event exists or the wait is over.
    pub async fn poll(
        &self,
        channel_id: &str,
        presented: Option<&str>,
        mut query: EventQuery,
        limit: Option<u32>,
        wait: Duration,
    ) -> HubResult<Page<Event>> {
        self.open_for_reading(channel_id, presented).await?;
        let limit = page_limit(limit)?;
        if wait > MAX_POLL_WAIT {
            return Err(HubError::Invalid("wait is at most 60 seconds".into()));
        }
        query.limit = limit + 1;
        // Listen before the first read, so an event committed in between still wakes us.
        let mut listener = (!wait.is_zero()).then(|| self.rooms.watch(channel_id));
        let deadline = Instant::now() + wait;
        let mut events = loop {
            let events = self.store.list_events(channel_id, &query).await?;
            let Some(listener) = listener.as_mut().filter(|_| events.is_empty()) else {
                break events;
            };
            match tokio::time::timeout_at(deadline, listener.receiver.recv()).await {
                Err(_elapsed) => break events,
                Ok(Err(tokio::sync::broadcast::error::RecvError::Closed)) => break events,
                Ok(_) => continue,
            }
        };
        let has_more = events.len() > limit as usize;
        events.truncate(limit as usize);
        let cursor = events.last().map(|e| e.id.clone()).or(query.after);
        Ok(Page {
            items: events,
            cursor,
            has_more,
        })
    }

    pub async fn get_event(
        &self,
        channel_id: &str,
        presented: Option<&str>,
        event_id: &str,
    ) -> HubResult<Event> {
        self.open_for_reading(channel_id, presented).await?;
        self.store
            .get_event(channel_id, event_id)
            .await?
            .ok_or_else(|| HubError::NotFound(format!("event {event_id:?} does not exist")))
    }

    /// A channel and its newest events, newest first, for its feeds.
    pub async fn feed(
        &self,
        channel_id: &str,
        presented: Option<&str>,
        limit: u32,
    ) -> HubResult<(Channel, Vec<Event>)> {
        let (channel, _) = self.open_for_reading(channel_id, presented).await?;
        let events = self.store.latest_events(channel_id, limit).await?;
        Ok((channel, events))
    }

    /// Stored events after `after` (of `types`, if any), oldest first: a page
    /// of a replay. Access was checked when the session was opened.
    pub async fn events_after(
        &self,
        channel_id: &str,
        after: &str,
        types: &[String],
        limit: u32,
    ) -> HubResult<Vec<Event>> {
        let query = EventQuery {
            after: Some(after.to_owned()),
            types: types.to_vec(),
            limit,
            ..EventQuery::default()
        };
        Ok(self.store.list_events(channel_id, &query).await?)
    }

    /// Deletes an event: the admin, or the publish token that published it.
    pub async fn delete_event(
        &self,
        channel_id: &str,
        presented: Option<&str>,
        event_id: &str,
    ) -> HubResult<()> {
        self.load_channel(channel_id).await?;
        let principal = self.authenticate(presented).await?;
        let not_found = || HubError::NotFound(format!("event {event_id:?} does not exist"));
        let published_with = self
            .store
            .event_token(channel_id, event_id)
            .await?
            .ok_or_else(not_found)?;
        match &principal {
            Principal::Admin => {}
            Principal::Token(token) if published_with.as_deref() == Some(token.id.as_str()) => {}
            Principal::Token(_) => {
                return Err(HubError::Forbidden(
                    "only the admin or the publish token that published an event may delete it"
                        .into(),
                ));
            }
            Principal::Anonymous => {
                return Err(HubError::Unauthorized(
                    "deleting an event needs a token".into(),
                ));
            }
        }
        if !self.store.delete_event(channel_id, event_id).await? {
            return Err(not_found());
        }
        Ok(())
    }

    /// Applies retention policies once; returns how many events were removed.
    pub async fn apply_retention(&self) -> HubResult<u64> {
        Ok(self.store.apply_retention(now_millis()).await?)
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

fn validate_optional_text(
    field: &str,
    value: Option<&str>,
    max_chars: usize,
) -> Result<(), Invalid> {
    match value {
        Some(text) if text.chars().count() > max_chars => Err(Invalid(format!(
            "{field} is at most {max_chars} characters"
        ))),
        _ => Ok(()),
    }
}

fn validate_channel_fields(
    name: &str,
    description: &str,
    tags: &[String],
    meta: &Value,
) -> Result<(), Invalid> {
    validate_optional_text("name", Some(name), MAX_NAME_CHARS)?;
    validate_optional_text("description", Some(description), MAX_DESCRIPTION_CHARS)?;
    if tags.len() > MAX_TAGS {
        return Err(Invalid(format!("at most {MAX_TAGS} tags")));
    }
    if let Some(tag) = tags
        .iter()
        .find(|t| t.is_empty() || t.chars().count() > MAX_TAG_CHARS)
    {
        return Err(Invalid(format!(
            "tag {tag:?} must be 1 to {MAX_TAG_CHARS} characters"
        )));
    }
    if !meta.is_object() {
        return Err(Invalid("meta must be a JSON object".into()));
    }
    if meta.to_string().len() > MAX_META_BYTES {
        return Err(Invalid(format!("meta is at most {MAX_META_BYTES} bytes")));
    }
    Ok(())
}
