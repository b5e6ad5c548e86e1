//! The HTTP API: poem-openapi handlers, one file per resource.
//!
//! Handlers are thin: parse the request, find the caller's credential, call
//! one `Hub` method, map its error to a problem document. No SQL and no
//! business rules here.

pub mod channels;
pub mod contract;
pub mod events;
pub mod feeds;
pub mod json;
pub mod keys;
pub mod methods;
pub mod mux;
pub mod patterns;
pub mod problem;
pub mod stream;
pub mod system;
pub mod tokens;
pub mod webhooks;
pub mod ws;
pub mod zooid;

use std::sync::Arc;

use poem::Request;
use poem_openapi::{
    ApiResponse, OpenApiService, Tags,
    payload::Json,
    types::{ToJSON, Type},
};
use serde::Deserialize;

use crate::{
    auth::Principal,
    hub::Hub,
    live::{
        rooms::{Access, Listener},
        ws::Sessions,
    },
    webhooks::signing::ServerKey,
};

#[derive(Tags)]
pub enum ApiTags {
    /// Create, list, update and delete channels.
    Channels,
    /// Subscribe and publish tokens of a channel.
    Tokens,
    /// Publish, poll, fetch and delete events.
    Events,
    /// Live delivery over WebSocket.
    Live,
    /// Signed HTTP deliveries of a channel's events.
    Webhooks,
    /// The newest events as JSON Feed and RSS, for feed readers.
    Feeds,
    /// Trusted JWT keys, the JWT deny-list, and what a credential grants.
    Keys,
    /// Routes Zooid's SDK and CLI call: this server, a credential's claims,
    /// tokens minted with the HS256 secret.
    Zooid,
}

/// `201 Created` with a JSON body.
#[derive(ApiResponse)]
pub enum Created<T: ToJSON + Type> {
    #[oai(status = 201)]
    Created(Json<T>),
}

/// `204 No Content`.
#[derive(ApiResponse)]
pub enum Deleted {
    #[oai(status = 204)]
    Deleted,
}

#[derive(Deserialize)]
struct TokenParam {
    token: Option<String>,
}

/// The credential a request presents: `Authorization: Bearer …`, else `?token=`.
pub fn presented_token(req: &Request) -> Option<String> {
    bearer_token(req).or_else(|| query_token(req))
}

/// The `Authorization: Bearer …` credential.
pub fn bearer_token(req: &Request) -> Option<String> {
    req.headers()
        .get(poem::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(|v| v.trim().to_owned())
}

/// The `?token=` credential.
fn query_token(req: &Request) -> Option<String> {
    req.params::<TokenParam>().ok().and_then(|p| p.token)
}

/// The client's address as the limits judged it (behind `--trusted-proxies`,
/// the forwarded one), left in the request for handlers that record who asked.
#[derive(Debug, Clone, Copy)]
pub struct ClientAddress(pub std::net::IpAddr);

/// What the limits charge for a credential presented on an open socket (a
/// multiplexed subscription's `token`, a `refresh`): one the node has not
/// verified yet costs its presenter's address a connect, as at the
/// handshake, so that guessing secrets (argon2 per guess) stays bounded by
/// the address's connect rate. Left in the request by the limits; absent
/// for exempt clients.
#[derive(Clone)]
pub struct CredentialMeter(pub Arc<ChargeCredential>);

/// Charges one presented credential; the 429 when the address has no room.
pub type ChargeCredential = dyn Fn(&str) -> Result<(), problem::ApiError> + Send + Sync;

/// The address a request came from: as the limits resolved it (trusted
/// proxies' forwarded address), else the TCP peer (no port).
pub fn client_address(req: &Request) -> String {
    if let Some(ClientAddress(ip)) = req.extensions().get() {
        return ip.to_string();
    }
    match req.remote_addr().as_socket_addr() {
        Some(addr) => addr.ip().to_string(),
        None => req.remote_addr().to_string(),
    }
}

/// Stored events after `after` for a session to replay first: a bad id is a
/// 400, an id that was never an event of the channel a 404. Each page is
/// read under the listener's access as it holds then, and announces events
/// removed before the client read them (`Hub::replay_page`).
pub async fn replay_after(
    hub: &Arc<Hub>,
    channel_id: &str,
    after: Option<String>,
    types: &[String],
    access: &Access,
) -> Result<Option<crate::live::Replay>, problem::ApiError> {
    const PAGE: u32 = 500;
    let Some(after) = after else {
        return Ok(None);
    };
    // Ids compare as text: the canonical (upper-case) form.
    let after = after
        .parse::<ulid::Ulid>()
        .map_err(|_| {
            problem::ApiError::bad_request(format!("after must be an event id, not {after:?}"))
        })?
        .to_string();
    hub.check_resume(channel_id, &after).await?;
    let (hub, channel_id, types, replay_access) = (
        hub.clone(),
        channel_id.to_owned(),
        types.to_vec(),
        access.clone(),
    );
    // Sessions run on the live runtime; store reads stay on this one, which
    // owns the database connections.
    let runtime = tokio::runtime::Handle::current();
    let fetch: crate::live::FetchAfter = Arc::new(move |after: String, access: Access| {
        let (hub, channel_id, types) = (hub.clone(), channel_id.clone(), types.clone());
        let page = runtime.spawn(async move {
            hub.replay_page(&channel_id, &access, &after, &types, PAGE)
                .await
        });
        Box::pin(async move {
            page.await
                .map_err(|e| crate::live::ReplayStop::Failed(e.to_string()))?
        })
    });
    Ok(Some(crate::live::Replay {
        after,
        fetch,
        access: replay_access,
    }))
}

/// Admits a live listener (WebSocket or SSE) that has already joined its
/// room: checks its access only now, so a change after the check reaches it
/// as a close order; tells the room where the channel was at the check; and
/// returns what keeps the listener there.
pub async fn admit_listener(
    hub: &Hub,
    req: &Request,
    channel_id: &str,
    listener: Listener,
) -> Result<(Listener, Access), problem::ApiError> {
    let admitted = admit_with(hub, presented_token(req).as_deref(), channel_id, listener).await?;
    Ok((admitted.listener, admitted.access))
}

/// A listener let in, and what it was let in with.
pub struct Admitted {
    pub listener: Listener,
    pub access: Access,
    pub principal: Principal,
    /// The channel's newest event at the check.
    pub last_event_id: Option<String>,
}

/// [`admit_listener`] with the credential given rather than read from a
/// request (a multiplexed socket's subscription presents its own).
pub async fn admit_with(
    hub: &Hub,
    presented: Option<&str>,
    channel_id: &str,
    listener: Listener,
) -> Result<Admitted, problem::ApiError> {
    let (channel, principal) = hub.open_for_reading(channel_id, presented).await?;
    listener.checked_at(channel.last_event_id.clone());
    debug_pause_after_access_check().await;
    Ok(Admitted {
        listener,
        access: Hub::listener_access(&principal, &channel),
        principal,
        last_event_id: channel.last_event_id,
    })
}

/// Debug builds only: `CHANNELHUB_DEBUG_PAUSE_AFTER_ACCESS_CHECK_MS=N`
/// holds a WebSocket or SSE connect for N ms between its access check and
/// its session, so tests can change access inside that window on every run
/// (tests/adversarial_access.rs). Release builds contain no hook.
async fn debug_pause_after_access_check() {
    #[cfg(debug_assertions)]
    if let Some(ms) = std::env::var("CHANNELHUB_DEBUG_PAUSE_AFTER_ACCESS_CHECK_MS")
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
    {
        tokio::time::sleep(std::time::Duration::from_millis(ms)).await;
    }
}

/// Who is calling, from the credential the request presents.
/// The server's origin as the client reached it (`http://` and its `Host`).
pub fn request_origin(req: &Request) -> String {
    let host = req
        .headers()
        .get(poem::http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("localhost");
    format!("http://{host}")
}

pub async fn caller(hub: &Hub, req: &Request) -> Result<Principal, problem::ApiError> {
    Ok(hub.authenticate(presented_token(req).as_deref()).await?)
}

/// Every resource's operations, documented together.
pub type Apis = (
    channels::ChannelsApi,
    tokens::TokensApi,
    events::EventsApi,
    ws::LiveApi,
    stream::StreamApi,
    feeds::FeedsApi,
    webhooks::WebhooksApi,
    keys::KeysApi,
    zooid::ZooidApi,
);

/// Every API under `/api/v1`, documented together.
pub fn service(
    hub: Arc<Hub>,
    sessions: Arc<Sessions>,
    key: Arc<ServerKey>,
    public_url: Option<String>,
) -> OpenApiService<Apis, ()> {
    OpenApiService::new(
        (
            channels::ChannelsApi { hub: hub.clone() },
            tokens::TokensApi { hub: hub.clone() },
            events::EventsApi { hub: hub.clone() },
            ws::LiveApi {
                hub: hub.clone(),
                sessions: sessions.clone(),
            },
            stream::StreamApi {
                hub: hub.clone(),
                sessions,
            },
            feeds::FeedsApi { hub: hub.clone() },
            webhooks::WebhooksApi { hub: hub.clone() },
            keys::KeysApi { hub: hub.clone() },
            zooid::ZooidApi {
                hub,
                key,
                public_url,
            },
        ),
        "channelhub",
        env!("CARGO_PKG_VERSION"),
    )
    .description(
        "Real-time event channels: publish JSON events, receive them live over WebSocket, \
         by polling with a cursor, or as signed webhooks. Authenticate with \
         `Authorization: Bearer <token>` (or `?token=`): the admin token, a channel's \
         subscribe or publish token, or a JWT signed by the server's HS256 secret or a \
         trusted key (`/keys`), granting Zooid-style scopes (`admin`, `pub:<channel>`, \
         `sub:<channel>`, with `*` and prefix `*`).",
    )
    .server("/api/v1")
}
