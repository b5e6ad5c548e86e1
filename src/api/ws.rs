//! `GET /channels/{id}/ws`: the live WebSocket route.
//!
//! Runs the contract's checks in order (404, 401, then 426), then hands the
//! connection to `live::ws`. Declared here so that it appears in the OpenAPI
//! document with its parameters and error responses.

use std::sync::Arc;

use poem::{
    IntoResponse, Request, Response,
    http::{StatusCode, header},
};
use poem_openapi::{
    ApiResponse, OpenApi,
    param::{Path, Query},
    registry::{MetaResponse, MetaResponses, Registry},
};

use super::{
    ApiTags, CredentialMeter, admit_listener, mux, presented_token, problem::ApiError, replay_after,
};
use crate::{
    hub::Hub,
    live::ws::{HandshakeError, MuxStart, Sessions, Subscription, wants_upgrade},
    model::parse_type_list,
};

/// The `101 Switching Protocols` answer; the session runs on after it.
pub struct Upgraded(Response);

impl IntoResponse for Upgraded {
    fn into_response(self) -> Response {
        self.0
    }
}

impl ApiResponse for Upgraded {
    fn meta() -> MetaResponses {
        MetaResponses {
            responses: vec![
                MetaResponse {
                    description: "Switching to the WebSocket protocol: each event published \
                                  afterwards arrives as one text frame holding the event JSON",
                    status: Some(101),
                    status_range: None,
                    content: vec![],
                    headers: vec![],
                },
                MetaResponse {
                    description: "The request is not a WebSocket upgrade",
                    status: Some(426),
                    status_range: None,
                    content: vec![],
                    headers: vec![],
                },
            ],
        }
    }

    fn register(_registry: &mut Registry) {}
}

impl From<HandshakeError> for ApiError {
    fn from(err: HandshakeError) -> Self {
        match err {
            HandshakeError::NotUpgrade => {
                ApiError::new(StatusCode::UPGRADE_REQUIRED, err.to_string())
                    .with_header(header::UPGRADE, "websocket")
            }
            HandshakeError::Invalid(_) => ApiError::bad_request(err.to_string()),
            HandshakeError::TooManyConnections(_) => {
                ApiError::new(StatusCode::SERVICE_UNAVAILABLE, err.to_string())
                    .with_header(header::RETRY_AFTER, "5")
            }
        }
    }
}

/// Which close codes a WebSocket subscriber wants.
#[derive(Debug, Clone, Copy, PartialEq, Eq, poem_openapi::Enum)]
#[oai(rename_all = "lowercase")]
pub enum CloseCodes {
    /// The seed's: 1000, 1001, 1008 (with a reason), 1009, 1011.
    Seed,
    /// Application codes that tell endings apart (4000–4011).
    App,
}

pub struct LiveApi {
    pub hub: Arc<Hub>,
    pub sessions: Arc<Sessions>,
}

#[OpenApi(tag = "ApiTags::Live")]
impl LiveApi {
    /// Subscribe to a channel over WebSocket. Every event published afterwards
    /// is pushed as one text frame, in publish order. Private channels need a
    /// subscribe token (`?token=` or `Authorization: Bearer`). With `after`,
    /// the stored events after that id come first, then live ones, without
    /// gaps or duplicates.
    #[oai(path = "/channels/:channel_id/ws", method = "get")]
    async fn subscribe(
        &self,
        req: &Request,
        channel_id: Path<String>,
        /// Comma-separated event types; only those are delivered.
        types: Query<Option<String>>,
        /// A subscribe token for a private channel.
        #[oai(name = "token")]
        _token: Query<Option<String>>,
        /// An event id: replay the stored events after it before live ones.
        after: Query<Option<String>>,
        /// `app`: close with application codes that tell endings apart
        /// (4000 slow consumer, 4001 token revoked, 4002 channel made private,
        /// 4003 token expired, 4004 channel deleted, 4011 replay failed)
        /// instead of 1008/1000/1011.
        close_codes: Query<Option<CloseCodes>>,
    ) -> Result<Upgraded, ApiError> {
        // Joined before the access check: a change after the check reaches
        // this listener as a close order.
        let joined = self.hub.rooms().subscribe(&channel_id);
        let (listener, access) = admit_listener(&self.hub, req, &channel_id, joined).await?;
        if !wants_upgrade(req) {
            return Err(HandshakeError::NotUpgrade.into());
        }
        let app_close_codes = close_codes.0 == Some(CloseCodes::App);
        let types = parse_type_list(types.0.as_deref());
        let replay = replay_after(&self.hub, &channel_id, after.0, &types, &access).await?;
        let subscription = Subscription {
            taken: listener.room.published(),
            listener,
            types,
            access,
            replay: replay.map(Box::new),
            replayed_through: None,
            app_close_codes,
        };
        Ok(Upgraded(self.sessions.accept(req, subscription)?))
    }

    /// Subscribe to many channels over one WebSocket. After the `hello`
    /// frame the client sends `subscribe`, `unsubscribe` and `refresh`
    /// frames; each subscription gets `subscribed`, its replay (with
    /// `after`), `caught_up`, then live events (the event JSON, as on the
    /// per-channel route), and ends alone with `unsubscribed`. The frame
    /// protocol is in the README ("One socket, many channels"). An optional
    /// connection credential (`Authorization: Bearer` or `?token=`) stands
    /// for every subscription that brings no token of its own; an invalid
    /// one is refused (401).
    #[oai(path = "/ws", method = "get")]
    async fn multiplexed(
        &self,
        req: &Request,
        /// A connection credential: a channel token, a JWT or the admin token.
        #[oai(name = "token")]
        _token: Query<Option<String>>,
    ) -> Result<Upgraded, ApiError> {
        let credential = match presented_token(req) {
            Some(token) => Some(mux::credential(&self.hub, token).await?),
            None => None,
        };
        if !wants_upgrade(req) {
            return Err(HandshakeError::NotUpgrade.into());
        }
        let meter = req.extensions().get::<CredentialMeter>().cloned();
        let start = MuxStart {
            gate: Arc::new(mux::HubGate::new(self.hub.clone(), meter)),
            credential,
        };
        Ok(Upgraded(self.sessions.accept_mux(req, start)?))
    }
}
