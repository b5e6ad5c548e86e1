//! `GET /channels/{id}/stream`: the channel's events as Server-Sent Events.

use std::sync::Arc;

use poem::{IntoResponse, Request, Response};
use poem_openapi::{
    ApiResponse, OpenApi,
    param::{Header, Path, Query},
    registry::{MetaMediaType, MetaResponse, MetaResponses, Registry},
    types::Type,
};

use super::{ApiTags, admit_listener, problem::ApiError, replay_after};
use crate::{
    hub::Hub,
    live::{sse::SseSubscription, ws::Sessions},
    model::{Event, parse_type_list},
};

/// A `text/event-stream` of events.
pub struct EventStream(Response);

impl IntoResponse for EventStream {
    fn into_response(self) -> Response {
        self.0
    }
}

impl ApiResponse for EventStream {
    fn meta() -> MetaResponses {
        MetaResponses {
            responses: vec![MetaResponse {
                description: "One SSE message per event: `id:` the event id, `event:` its \\
                              type, `data:` the event JSON",
                status: Some(200),
                status_range: None,
                content: vec![MetaMediaType {
                    content_type: "text/event-stream",
                    schema: Event::schema_ref(),
                }],
                headers: vec![],
            }],
        }
    }

    fn register(registry: &mut Registry) {
        Event::register(registry);
    }
}

pub struct StreamApi {
    pub hub: Arc<Hub>,
    pub sessions: Arc<Sessions>,
}

#[OpenApi(tag = "ApiTags::Live")]
impl StreamApi {
    /// Subscribe to a channel with Server-Sent Events (`EventSource`). A
    /// reconnecting client sends `Last-Event-ID` and first gets every event it
    /// missed, then live ones, without gaps or duplicates. Same auth and
    /// `types` filter as the WebSocket route.
    #[oai(path = "/channels/:channel_id/stream", method = "get")]
    async fn stream(
        &self,
        req: &Request,
        channel_id: Path<String>,
        /// Comma-separated event types; only those are delivered.
        types: Query<Option<String>>,
        /// A subscribe token for a private channel.
        #[oai(name = "token")]
        _token: Query<Option<String>>,
        /// Sent by a reconnecting `EventSource`: the last event it received.
        #[oai(name = "Last-Event-ID")]
        last_event_id: Header<Option<String>>,
        /// Like `Last-Event-ID`, for clients that cannot set headers.
        after: Query<Option<String>>,
    ) -> Result<EventStream, ApiError> {
        // Joined before the access check (see the WebSocket route).
        let joined = self.hub.rooms().stream(&channel_id);
        let (listener, access) = admit_listener(&self.hub, req, &channel_id, joined).await?;
        let types = parse_type_list(types.0.as_deref());
        let resume_from = last_event_id.0.or(after.0).filter(|id| !id.is_empty());
        let replay = replay_after(&self.hub, &channel_id, resume_from, &types, &access).await?;
        let subscription = SseSubscription {
            listener,
            types,
            access,
            replay,
        };
        Ok(EventStream(crate::live::sse::respond(
            subscription,
            &self.sessions,
        )))
    }
}
