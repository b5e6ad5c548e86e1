//! Events: publishing them (authorization, limits, strict types, then the
//! group-commit writer), reading them one by one or as a feed or replay,
//! deleting them, and retention.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use sha2::{Digest, Sha256};

use crate::{
    auth::Principal,
    model::{
        Channel, Event, MAX_BATCH_EVENTS, MAX_EVENT_DATA_BYTES, MAX_EVENT_META_BYTES, NewEvent,
        Publisher, TokenKind, now_millis,
    },
    store::{AppendBatch, IdempotencyKey, IdempotentResult},
};

use super::{Hub, HubError, HubResult, channel_not_found, writer::AppendError};

/// The longest a publish may act on a cached channel, should a change
/// notice from another node be lost.
pub(super) const PUBLISH_VIEW_TTL: Duration = Duration::from_secs(1);
const MAX_TYPE_CHARS: usize = 128;

/// Longest `Idempotency-Key` accepted.
const MAX_IDEMPOTENCY_KEY_CHARS: usize = 255;

/// A publish request, as the hub needs it.
pub struct Publication {
    pub events: Vec<NewEvent>,
    /// Sent as `{"events": [...]}` rather than one event.
    pub batch: bool,
    /// The request's `Idempotency-Key`.
    pub idempotency_key: Option<String>,
}

/// What a publish answers.
pub struct Published {
    pub events: Vec<Event>,
    /// The answer of an earlier request with the same idempotency key.
    pub replayed: bool,
}

/// A publish holds 1 to `MAX_BATCH_EVENTS` events.
fn check_batch_size(events: &[NewEvent]) -> HubResult<()> {
    if events.is_empty() || events.len() > MAX_BATCH_EVENTS {
        return Err(HubError::Invalid(format!(
            "a batch holds 1 to {MAX_BATCH_EVENTS} events, not {}",
            events.len()
        )));
    }
    Ok(())
}

fn validate_idempotency_key(key: &str) -> HubResult<()> {
    if key.is_empty()
        || key.len() > MAX_IDEMPOTENCY_KEY_CHARS
        || !key.bytes().all(|b| b.is_ascii_graphic())
    {
        return Err(HubError::Invalid(format!(
            "Idempotency-Key is 1 to {MAX_IDEMPOTENCY_KEY_CHARS} visible ASCII characters"
        )));
    }
    Ok(())
}

/// What identifies a publish request, so that a key reused for a different
/// one is caught: its form, its publisher and its events.
fn fingerprint(
    batch: bool,
    publisher: &Publisher,
    token_id: Option<&str>,
    events: &[NewEvent],
) -> String {
    let events: Vec<_> = events
        .iter()
        .map(|e| (&e.event_type, &e.data_json, &e.meta))
        .collect();
    let text = serde_json::to_string(&(batch, &publisher.id, token_id, events))
        .expect("plain data serializes");
    URL_SAFE_NO_PAD.encode(Sha256::digest(text.as_bytes()))
}

/// The answer to a repeat of a key: what the key stored, if the request is the same.
fn replay(first: IdempotentResult, fingerprint: &str) -> HubResult<Published> {
    if first.fingerprint != fingerprint {
        return Err(HubError::Unprocessable(
            "this Idempotency-Key was used for a different request on this channel".into(),
        ));
    }
    if !first.removed.is_empty() {
        return Err(HubError::EventsRemoved {
            detail: format!(
                "this Idempotency-Key's request stored {} event(s), of which {} were removed \
                 since (deletion or retention): their data is gone; event_ids names what it \
                 stored, removed_event_ids what is gone",
                first.events.len(),
                first.removed.len()
            ),
            event_ids: first.events.iter().map(|e| e.id.clone()).collect(),
            removed: first.removed,
        });
    }
    Ok(Published {
        events: first.events,
        replayed: true,
    })
}

impl Hub {
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
            .insert(channel_id.to_owned(), (channel.clone(), Instant::now()));
        Ok(channel)
    }

    /// Stores events and broadcasts them; returns them once durable. A
    /// repeat of an idempotency key answers what the key stored, storing nothing.
    pub async fn publish(
        &self,
        channel_id: &str,
        presented: Option<&str>,
        publication: Publication,
    ) -> HubResult<Published> {
        let Publication {
            events,
            batch,
            idempotency_key,
        } = publication;
        let channel = self.channel_for_publish(channel_id).await?;
        let (publisher, token_id) = self.publisher_for(channel_id, presented).await?;
        check_batch_size(&events)?;
        let idempotency = match idempotency_key {
            None => None,
            Some(key) => {
                validate_idempotency_key(&key)?;
                let fingerprint = fingerprint(batch, &publisher, token_id.as_deref(), &events);
                // No read first: the append itself claims the key, and a repeat
                // (rare) is answered from what the first use recorded.
                let expired_before = now_millis() - self.idempotency_window.as_millis() as i64;
                Some(IdempotencyKey {
                    key,
                    fingerprint,
                    expired_before,
                })
            }
        };
        if let Err(refused) = self.check_events(channel_id, &channel, &events) {
            // A repeat answers the first result even if the channel's rules
            // (strict types) changed since: the key is looked up before the
            // refusal stands.
            if let Some(key) = &idempotency
                && let Some(first) = self
                    .store
                    .idempotent_result(channel_id, &key.key, key.expired_before)
                    .await?
            {
                return replay(first, &key.fingerprint);
            }
            return Err(refused);
        }
        let append = AppendBatch {
            channel_id: channel_id.to_owned(),
            publisher,
            token_id,
            events,
            idempotency,
        };
        let idempotency = append.idempotency.clone();
        match self.writer.append(append).await {
            Ok(events) => Ok(Published {
                events,
                replayed: false,
            }),
            Err(AppendError::ChannelNotFound) => Err(channel_not_found(channel_id)),
            Err(AppendError::Storage(reason)) => Err(HubError::Unavailable(format!(
                "the events were not stored: {reason}"
            ))),
            Err(AppendError::Refused(reason)) => Err(HubError::Invalid(format!(
                "the events were not stored: {reason}"
            ))),
            // Another request with this key committed first (on any node).
            Err(AppendError::KeyUsed { fresh_after }) => {
                let key = idempotency.expect("only keyed batches are refused as repeats");
                let first = self
                    .store
                    .idempotent_result(channel_id, &key.key, fresh_after)
                    .await?
                    .ok_or_else(|| {
                        HubError::Unavailable("the first use of this key vanished".into())
                    })?;
                replay(first, &key.fingerprint)
            }
        }
    }

    /// Who publishes, for a credential that may publish on this channel:
    /// the publisher stamped on events and the credential's id.
    async fn publisher_for(
        &self,
        channel_id: &str,
        presented: Option<&str>,
    ) -> HubResult<(Publisher, Option<String>)> {
        let principal = self.authenticate(presented).await?;
        Ok(match &principal {
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
            Principal::Jwt(grant) if grant.can_publish(channel_id) => (
                Publisher {
                    id: grant.publisher_id(),
                    name: grant.name.clone(),
                },
                grant.identity(),
            ),
            Principal::Token(_) | Principal::Jwt(_) => {
                return Err(HubError::Forbidden(format!(
                    "publishing needs a publish token of channel {channel_id:?}, a JWT with \
                     a pub scope for it, or the admin token"
                )));
            }
            Principal::Anonymous => {
                return Err(HubError::Unauthorized(
                    "publishing needs a publish token or the admin token".into(),
                ));
            }
        })
    }

    /// Checks a publish without storing it: the same credential, batch and
    /// event checks (strict types included) as [`Hub::publish`]; answers how
    /// many events would be stored.
    pub async fn validate(
        &self,
        channel_id: &str,
        presented: Option<&str>,
        events: &[NewEvent],
    ) -> HubResult<usize> {
        let channel = self.channel_for_publish(channel_id).await?;
        self.publisher_for(channel_id, presented).await?;
        check_batch_size(events)?;
        self.check_events(channel_id, &channel, events)?;
        Ok(events.len())
    }

    /// Checks each event of a publish: its size, type, `meta` and, on a
    /// channel with strict types, its type and data against the channel's rules.
    fn check_events(
        &self,
        channel_id: &str,
        channel: &Channel,
        events: &[NewEvent],
    ) -> HubResult<()> {
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
            if let Some(meta) = &event.meta
                && meta.len() > MAX_EVENT_META_BYTES
            {
                return Err(HubError::Invalid(at(format!(
                    "meta is {} bytes; the limit is {MAX_EVENT_META_BYTES} (16 KiB)",
                    meta.len()
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
        Ok(())
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
        let events = self.store.latest_events(channel_id, &[], limit).await?;
        Ok((channel, events))
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
        // Authority first, so that a caller who may delete nothing here learns
        // nothing of which events exist.
        let identity;
        let own_token = match &principal {
            Principal::Admin => None,
            Principal::Jwt(grant) if grant.is_admin() => None,
            Principal::Token(token)
                if token.kind == TokenKind::Publish && token.channel_id == channel_id =>
            {
                Some(token.id.as_str())
            }
            // A JWT deletes what the same key and subject published.
            Principal::Jwt(grant) if grant.can_publish(channel_id) && grant.sub.is_some() => {
                identity = grant.identity();
                identity.as_deref()
            }
            Principal::Token(_) | Principal::Jwt(_) => {
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
        };
        let published_with = self
            .store
            .event_token(channel_id, event_id)
            .await?
            .ok_or_else(not_found)?;
        if own_token.is_some() && published_with.as_deref() != own_token {
            return Err(HubError::Forbidden(
                "only the admin or the publish token that published an event may delete it".into(),
            ));
        }
        if !self.store.delete_event(channel_id, event_id).await? {
            return Err(not_found());
        }
        Ok(())
    }

    /// Applies retention policies once, and forgets idempotency keys past
    /// their window; returns how many events were removed.
    pub async fn apply_retention(&self) -> HubResult<u64> {
        let now = now_millis();
        self.store
            .delete_idempotency_keys(now - self.idempotency_window.as_millis() as i64)
            .await?;
        Ok(self.store.apply_retention(now).await?)
    }
}
