//! Access at delivery: what keeps a listener on a channel, and whether it
//! still holds now.
//!
//! Access is checked at the door (`Hub::open_for_reading`) and again
//! wherever an event is handed out later: live frames follow the room's
//! close orders (a socket joins its room *before* its access is checked, so
//! no change can fall between the two); every replay page and every
//! long-poll answer that waited re-reads the channel and the token from the
//! store first ([`Hub::access_lost`]), so a change this node has not heard
//! of yet still stops them. Webhooks are registered by the same kind of
//! registrant (`hub::webhooks`) and check it before each delivery
//! (`webhooks::worker`, by the store's rule that mirrors [`Hub::can_read`]).

use std::sync::Arc;

use crate::{
    auth::{JwtRevoked, Principal},
    live::{
        ReplayPage, ReplayStop,
        rooms::{Access, CloseOrder},
    },
    model::{Channel, EventQuery, TokenKind, now_millis},
};

use super::{Hub, HubError, HubResult};

impl Hub {
    /// The caller as far as the rate limits are concerned: a credential this
    /// node has already verified, without a store read or hashing.
    pub fn verified_principal(&self, presented: Option<&str>) -> Option<Principal> {
        self.auth.verified(presented)
    }

    /// What keeps a listener that connected as `principal` on `channel`:
    /// only what would let it read the channel were it private (the admin,
    /// or a subscribe token of this channel). Anyone else (a publish token,
    /// another channel's token) is anonymous here, and leaves when the
    /// channel becomes private.
    pub fn listener_access(principal: &Principal, channel: &Channel) -> Access {
        let until = |at: Option<i64>| {
            at.map(|at| {
                let left = at.saturating_sub(now_millis()).max(0);
                tokio::time::Instant::now() + std::time::Duration::from_millis(left as u64)
            })
        };
        match principal {
            Principal::Admin => Access::default(),
            Principal::Token(token)
                if token.kind == TokenKind::Subscribe && token.channel_id == channel.id =>
            {
                Access {
                    token_id: Some(token.id.clone()),
                    expires_at: until(token.expires_at),
                    ..Access::default()
                }
            }
            // A JWT that reads the channel (an admin one included) keeps its
            // holder here until it expires, its key goes or it is revoked.
            Principal::Jwt(grant) if grant.can_subscribe(&channel.id) => Access {
                jwt: Some(grant.clone()),
                expires_at: until(grant.expires_at),
                ..Access::default()
            },
            _ => Access {
                anonymous: true,
                ..Access::default()
            },
        }
    }

    /// Whether a listener with `access` may still read `channel_id`, as the
    /// database has it now: `None` if so, else why not, as the close order
    /// a live listener would get.
    pub async fn access_lost(
        &self,
        channel_id: &str,
        access: &Access,
    ) -> HubResult<Option<CloseOrder>> {
        let Some(channel) = self.store.get_channel(channel_id).await? else {
            return Ok(Some(CloseOrder::ChannelDeleted));
        };
        if let Some(token_id) = &access.token_id {
            let valid = self
                .store
                .get_token(token_id)
                .await?
                .is_some_and(|token| !token.is_expired(now_millis()));
            if !valid {
                return Ok(Some(CloseOrder::TokenRevoked(token_id.clone())));
            }
        }
        if let Some(grant) = &access.jwt {
            // The key as the database has it (another node may have removed
            // it); the deny-list as this node has it (re-read on every notice
            // and access recheck).
            // A kid registered again with other key material counts as gone.
            let key_gone = match &grant.kid {
                Some(kid) => self
                    .store
                    .get_key(kid)
                    .await?
                    .is_none_or(|key| Some(key.fingerprint()) != grant.key_fingerprint),
                None => false,
            };
            if key_gone || !self.auth.jwt().holds(grant, now_millis()) {
                return Ok(Some(CloseOrder::JwtRevoked(Arc::new(JwtRevoked::Lapsed))));
            }
        }
        if !channel.is_public && access.anonymous {
            return Ok(Some(CloseOrder::ChannelMadePrivate));
        }
        Ok(None)
    }

    /// One page of a WebSocket or SSE replay: the stored events after
    /// `after`, then (read after them, so nothing published or removed in
    /// between escapes) the listener's access and the channel's removals.
    /// A page is handed out only under access that holds now; events after
    /// `after` that retention or deletion removed meanwhile come back as a
    /// gap, announced before the page.
    pub async fn replay_page(
        &self,
        channel_id: &str,
        access: &Access,
        after: &str,
        types: &[String],
        limit: u32,
    ) -> Result<ReplayPage, ReplayStop> {
        let failed = |err: HubError| ReplayStop::Failed(err.to_string());
        let query = EventQuery {
            after: Some(after.to_owned()),
            types: types.to_vec(),
            limit,
            ..EventQuery::default()
        };
        let mut events = self
            .store
            .list_events(channel_id, &query)
            .await
            .map_err(|err| failed(err.into()))?;
        // What a session holds while a slow client reads is bounded like a
        // poll page; the replay goes on from the last event kept.
        events.truncate(super::poll::events_within(
            &events,
            super::poll::MAX_PAGE_BYTES,
        ));
        if let Some(order) = self.access_lost(channel_id, access).await.map_err(failed)? {
            return Err(ReplayStop::Lost(order));
        }
        let gap = self
            .check_resume(channel_id, after)
            .await
            .map_err(failed)?
            .map(|gap| gap.removed_through);
        Ok(ReplayPage { events, gap })
    }
}
