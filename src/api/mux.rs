//! The multiplexed socket's gate: who may subscribe to what on
//! `GET /api/v1/ws`, decided by the same hub checks as the per-channel
//! routes (`admit_with`, `replay_after`), so the socket adds no access rules
//! of its own. `live::ws::mux` runs the session and asks this gate.

use std::sync::Arc;

use futures_util::future::BoxFuture;
use serde_json::json;

use super::{CredentialMeter, admit_with, problem::ApiError, replay_after};
use crate::{
    auth::Principal,
    hub::Hub,
    live::{
        rooms::Access,
        ws::{
            Admission, Credential, Gate,
            protocol::{NIL_POSITION, Refusal, Subscribe},
        },
    },
    model::{Millis, format_millis},
};

/// The hub as the multiplexed socket's gate, one per socket (it charges the
/// socket's address for the credentials its frames present). Its checks run
/// on the runtime that owns the store's connections, not on the live runtime.
pub struct HubGate {
    hub: Arc<Hub>,
    runtime: tokio::runtime::Handle,
    meter: Option<CredentialMeter>,
}

impl HubGate {
    /// Must be built on the runtime that serves HTTP.
    pub fn new(hub: Arc<Hub>, meter: Option<CredentialMeter>) -> HubGate {
        HubGate {
            hub,
            runtime: tokio::runtime::Handle::current(),
            meter,
        }
    }

    /// Charges a credential a frame presents (see [`CredentialMeter`]).
    fn charge(&self, token: Option<&str>) -> Result<(), Refusal> {
        match (&self.meter, token) {
            (Some(meter), Some(token)) => (meter.0)(token).map_err(|err| refusal(&err)),
            _ => Ok(()),
        }
    }

    fn run<T: Send + 'static>(
        &self,
        check: impl Future<Output = Result<T, ApiError>> + Send + 'static,
    ) -> BoxFuture<'static, Result<T, Refusal>> {
        let task = self.runtime.spawn(check);
        Box::pin(async move {
            match task.await {
                Ok(result) => result.map_err(|err| refusal(&err)),
                Err(err) => Err(Refusal::new(500, format!("the check failed: {err}"))),
            }
        })
    }
}

fn refusal(err: &ApiError) -> Refusal {
    let mut refusal = Refusal::new(err.status().as_u16(), err.detail());
    refusal.retry_after = err.retry_after();
    refusal
}

impl Gate for HubGate {
    fn admit(
        &self,
        subscribe: &Subscribe,
        token: Option<String>,
    ) -> BoxFuture<'static, Result<Admission, Refusal>> {
        if let Err(refusal) = self.charge(token.as_deref()) {
            return Box::pin(std::future::ready(Err(refusal)));
        }
        let hub = self.hub.clone();
        let channel_id = subscribe.channel.clone();
        // Already trimmed by `protocol::parse`, as live delivery reads them.
        let types = subscribe.types.clone();
        let after = subscribe.after.clone();
        self.run(async move {
            // Joined before the access check, as every live listener is.
            let joined = hub.rooms().subscribe(&channel_id);
            let admitted = admit_with(&hub, token.as_deref(), &channel_id, joined).await?;
            let replay = replay_after(&hub, &channel_id, after, &types, &admitted.access).await?;
            let position = match &replay {
                Some(replay) => replay.position().to_owned(),
                None => admitted
                    .last_event_id
                    .unwrap_or_else(|| NIL_POSITION.to_owned()),
            };
            Ok(Admission {
                expires_at: expiry(&admitted.principal, &admitted.access).map(format_millis),
                listener: admitted.listener,
                access: admitted.access,
                position,
                replay,
            })
        })
    }

    fn recheck(&self, channel: &str, token: String) -> BoxFuture<'static, Result<Access, Refusal>> {
        // The token was read (and charged) by `credential` just before.
        let (hub, channel_id) = (self.hub.clone(), channel.to_owned());
        self.run(async move {
            let (channel, principal) = hub.open_for_reading(&channel_id, Some(&token)).await?;
            Ok(Hub::listener_access(&principal, &channel))
        })
    }

    fn credential(&self, token: String) -> BoxFuture<'static, Result<Credential, Refusal>> {
        if let Err(refusal) = self.charge(Some(&token)) {
            return Box::pin(std::future::ready(Err(refusal)));
        }
        let hub = self.hub.clone();
        self.run(async move { credential(&hub, token).await })
    }
}

/// Reads a connection credential (401 when it is not a valid one).
pub async fn credential(hub: &Hub, token: String) -> Result<Credential, ApiError> {
    let principal = hub.authenticate(Some(&token)).await?;
    let (kind, identity, sub, expires_at) = match &principal {
        Principal::Anonymous => {
            return Err(ApiError::new(
                poem::http::StatusCode::UNAUTHORIZED,
                "invalid or expired token",
            ));
        }
        Principal::Admin => ("admin", "admin".to_owned(), None, None),
        Principal::Token(record) => (
            "token",
            format!("token:{}", record.id),
            Some(record.id.clone()),
            record.expires_at,
        ),
        Principal::Jwt(grant) => (
            "jwt",
            grant.identity().unwrap_or_else(|| grant.rate_key(&token)),
            grant.sub.clone(),
            grant.expires_at,
        ),
    };
    Ok(Credential {
        token,
        identity,
        summary: json!({
            "kind": kind, "sub": sub, "expires_at": expires_at.map(format_millis),
        }),
    })
}

/// When what keeps a subscription on its channel stops being accepted.
fn expiry(principal: &Principal, access: &Access) -> Option<Millis> {
    match principal {
        Principal::Token(record) if access.token_id.is_some() => record.expires_at,
        Principal::Jwt(grant) if access.jwt.is_some() => grant.expires_at,
        _ => None,
    }
}
