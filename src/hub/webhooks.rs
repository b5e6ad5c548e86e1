//! Registering and managing a channel's webhooks.

use std::time::Duration;

use super::{Hub, HubError, HubResult, channel_not_found};
use crate::{
    auth::Principal,
    model::{
        DeliveryAttempt, JwtRegistrant, Webhook, WebhookRecord, WebhookState, limit_key,
        now_millis, short_hex,
    },
    store::{Registration, StoreError},
    telemetry::{LimitKind, count_refusal},
    webhooks::{guard, signing},
};

/// Webhooks a channel may have.
pub const MAX_WEBHOOKS_PER_CHANNEL: usize = 100;
pub const DEFAULT_WEBHOOK_TTL: Duration = Duration::from_secs(3 * 24 * 3600);
const MAX_WEBHOOK_TTL: Duration = Duration::from_secs(365 * 24 * 3600);
const MAX_URL_CHARS: usize = 2048;
const MAX_FILTER_TYPES: usize = 64;
/// Attempts listed by the deliveries endpoint.
const LISTED_ATTEMPTS: u32 = 100;

/// What a client asks to be sent.
pub struct WebhookRequest {
    pub url: String,
    pub event_types: Vec<String>,
    pub ttl: Option<Duration>,
}

/// A registration's answer: the webhook, and its secret when it is new.
pub struct Registered {
    pub webhook: Webhook,
    /// Shown once, when the webhook is created; `None` when it existed.
    pub secret: Option<String>,
    pub created: bool,
}

impl Hub {
    /// Registers a URL on a channel, or refreshes the channel's webhook for it.
    /// Anyone may on a public channel (unless anonymous registration is off);
    /// a subscribe token or admin on a private one. The registrant is what
    /// would let the webhook read the channel were it private: the admin, a
    /// subscribe token of this channel, or else (a publish token, another
    /// channel's token, none) the caller's address, as an anonymous one.
    /// Only the registrant (or the admin) may refresh a webhook.
    pub async fn register_webhook(
        &self,
        channel_id: &str,
        presented: Option<&str>,
        client_address: &str,
        request: WebhookRequest,
    ) -> HubResult<Registered> {
        let (channel, mut principal) = self.open_for_reading(channel_id, presented).await?;
        if matches!(principal, Principal::Anonymous) && presented.is_some() {
            // A public channel looks only at credentials cheap to check; a
            // registrant is worth the full check (registration is rate-limited).
            principal = match self.authenticate(presented).await {
                Ok(principal) => principal,
                // Busy or unavailable is no verdict on the credential.
                Err(err @ (HubError::Busy(_) | HubError::Unavailable(_))) => return Err(err),
                Err(_) => Principal::Anonymous,
            };
        }
        // The same rule that keeps a listener on a channel that goes private.
        let access = Self::listener_access(&principal, &channel);
        let registered_by = match (&access.token_id, &access.jwt, access.anonymous) {
            (_, _, true) => format!("anonymous:{}", registrant_address(client_address)),
            (Some(token_id), _, false) => format!("token:{token_id}"),
            // A webhook registered with a JWT belongs to its key and subject.
            (None, Some(grant), false) => grant.identity().ok_or_else(|| {
                HubError::Forbidden(
                    "a JWT without sub cannot register webhooks: a webhook belongs to \
                     the subject that registered it"
                        .into(),
                )
            })?,
            (None, None, false) => "admin".to_owned(),
        };
        if access.anonymous && !self.allow_anonymous_webhooks {
            count_refusal(LimitKind::AnonymousWebhooks);
            return Err(HubError::Unauthorized(
                "anonymous webhook registration is turned off on this server: present \
                 a subscribe token of the channel or the admin token"
                    .into(),
            ));
        }
        if request.url.chars().count() > MAX_URL_CHARS {
            return Err(HubError::Invalid(format!(
                "url is at most {MAX_URL_CHARS} characters"
            )));
        }
        if request.event_types.len() > MAX_FILTER_TYPES
            || request.event_types.iter().any(|t| t.is_empty())
        {
            return Err(HubError::Invalid(format!(
                "event_types holds 1 to {MAX_FILTER_TYPES} non-empty types"
            )));
        }
        let ttl = request.ttl.unwrap_or(DEFAULT_WEBHOOK_TTL);
        if ttl.is_zero() || ttl > MAX_WEBHOOK_TTL {
            return Err(HubError::Invalid(
                "ttl_seconds must be between 1 and 31536000".into(),
            ));
        }
        let url = guard::check_target(&request.url, self.allow_private_webhooks)
            .await
            .map_err(|refused| HubError::Invalid(refused.0))?;
        // The bound holds for the form stored (percent-encoded, normalized),
        // which can be longer than what was sent.
        if url.as_str().chars().count() > MAX_URL_CHARS {
            return Err(HubError::Invalid(format!(
                "url is at most {MAX_URL_CHARS} characters once normalized \
                 (non-ASCII characters percent-encoded), as it is stored"
            )));
        }
        let now = now_millis();
        // It lives no longer than the JWT that registers it is accepted.
        let mut expires_at = now.saturating_add(ttl.as_millis() as i64);
        if let Some(until) = access.jwt.as_ref().and_then(|grant| grant.expires_at) {
            expires_at = expires_at.min(until);
        }
        let record = WebhookRecord {
            id: ulid::Ulid::generate().to_string(),
            channel_id: channel_id.to_owned(),
            url: url.to_string(),
            event_types: request.event_types,
            secret: signing::new_secret(),
            created_at: now,
            expires_at,
            state: WebhookState::Active,
            last_error: None,
            failing_since: None,
            last_success_at: None,
            registered_by,
            jwt: access.jwt.as_ref().map(|grant| JwtRegistrant {
                kid: grant.kid.clone(),
                key: grant.key_fingerprint.as_ref().map(short_hex),
                sub: grant.sub.clone().unwrap_or_default(),
                issuer: grant.issuer.clone(),
                jti: grant.jti.clone(),
                // Less the leeway, as subject revocations match (a minting
                // clock ahead must not carry the webhook past one).
                iat: grant.iat.map(|iat| {
                    iat.saturating_sub(self.auth.jwt().settings().leeway.as_millis() as i64)
                }),
            }),
        };
        // Anonymous registrants are bounded per address: each webhook makes
        // this server POST to a URL of a stranger's choosing.
        let per_registrant = (access.anonymous && self.max_anonymous_webhooks > 0)
            .then_some(self.max_anonymous_webhooks);
        match self
            .store
            .register_webhook(&record, MAX_WEBHOOKS_PER_CHANNEL, per_registrant)
            .await
        {
            Ok(Registration::Created(created)) => Ok(Registered {
                webhook: Webhook::from(&created),
                secret: Some(created.secret),
                created: true,
            }),
            Ok(Registration::Refreshed(existing)) => Ok(Registered {
                webhook: Webhook::from(&existing),
                secret: None,
                created: false,
            }),
            Ok(Registration::RegistrantLimitReached) => {
                count_refusal(LimitKind::AnonymousWebhooksPerIp);
                Err(HubError::TooMany(format!(
                    "this address holds {} anonymous webhooks, the most it may; \
                     let some expire or register with a token",
                    self.max_anonymous_webhooks
                )))
            }
            Ok(Registration::Revoked(revoked)) => Err(HubError::Gone(format!(
                "webhook {:?} for this URL was revoked ({}) and is not revived by \
                 registering again: a new registration is needed. The admin may delete \
                 it (DELETE /channels/{channel_id}/webhooks/{}) and register the URL \
                 anew; otherwise it is removed when its TTL ends",
                revoked.id,
                revoked.last_error.as_deref().unwrap_or("access ended"),
                revoked.id,
            ))),
            Ok(Registration::Taken) => Err(HubError::Conflict(format!(
                "channel {channel_id:?} has a webhook for this URL registered by someone else"
            ))),
            Ok(Registration::LimitReached) => Err(HubError::Conflict(format!(
                "channel {channel_id:?} has {MAX_WEBHOOKS_PER_CHANNEL} webhooks, the most it may have"
            ))),
            Err(StoreError::NotFound) => Err(channel_not_found(channel_id)),
            Err(err) => Err(err.into()),
        }
    }

    pub async fn list_webhooks(
        &self,
        principal: &Principal,
        channel_id: &str,
    ) -> HubResult<Vec<Webhook>> {
        Self::require_admin(principal)?;
        self.load_channel(channel_id).await?;
        let webhooks = self.store.list_webhooks(channel_id).await?;
        Ok(webhooks.iter().map(Webhook::from).collect())
    }

    pub async fn webhook_deliveries(
        &self,
        principal: &Principal,
        channel_id: &str,
        webhook_id: &str,
    ) -> HubResult<Vec<DeliveryAttempt>> {
        Self::require_admin(principal)?;
        match self.store.get_webhook(webhook_id).await? {
            Some(webhook) if webhook.channel_id == channel_id => Ok(self
                .store
                .list_attempts(webhook_id, LISTED_ATTEMPTS)
                .await?),
            _ => Err(webhook_not_found(webhook_id)),
        }
    }

    pub async fn delete_webhook(
        &self,
        principal: &Principal,
        channel_id: &str,
        webhook_id: &str,
    ) -> HubResult<()> {
        Self::require_admin(principal)?;
        if self.store.delete_webhook(channel_id, webhook_id).await? {
            Ok(())
        } else {
            Err(webhook_not_found(webhook_id))
        }
    }
}

impl Hub {
    /// Stops the webhooks whose registrant lost access (see
    /// [`crate::store::WebhookStore::revoke_unauthorized_webhooks`]); run after
    /// every access change and periodically, for tokens that expire.
    pub async fn revoke_unauthorized_webhooks(&self) -> HubResult<u64> {
        let now = now_millis();
        let accepted = self.auth.jwt().settings().accepted_secrets().at(now);
        Ok(self
            .store
            .revoke_unauthorized_webhooks(now, &accepted)
            .await?)
    }
}

/// How an anonymous registrant is known: its address, or for IPv6 its /64
/// (one subscriber usually holds a whole /64, so single addresses are free to
/// rotate through), as the per-address limits key it.
fn registrant_address(client_address: &str) -> String {
    match client_address.parse::<std::net::IpAddr>().map(limit_key) {
        Ok(std::net::IpAddr::V6(net)) => format!("{net}/64"),
        Ok(v4) => v4.to_string(),
        Err(_) => client_address.to_owned(),
    }
}

fn webhook_not_found(webhook_id: &str) -> HubError {
    HubError::NotFound(format!(
        "webhook {webhook_id:?} does not exist on this channel"
    ))
}

#[cfg(test)]
mod tests {
    use super::registrant_address;

    #[test]
    fn anonymous_ipv6_registrants_are_their_64() {
        let a = registrant_address("2001:db8:1:2:aaaa::1");
        assert_eq!(a, "2001:db8:1:2::/64");
        assert_eq!(registrant_address("2001:db8:1:2:ffff:1:2:3"), a);
        assert_ne!(registrant_address("2001:db8:1:3::1"), a);
        assert_eq!(registrant_address("192.0.2.7"), "192.0.2.7");
        assert_eq!(registrant_address("::ffff:192.0.2.7"), "192.0.2.7");
    }
}
