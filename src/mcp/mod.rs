//! The MCP endpoint (`/mcp`): agents use channels as tools.
//!
//! A second façade over the same [`Hub`] as `api`: each tool parses its
//! arguments, calls the one hub operation its REST route calls, with the
//! same presented credential, and maps the error to the REST problem's
//! words. It has no access rules of its own. rmcp (the official Rust SDK)
//! serves the protocol, stateless (any node answers any request; no
//! sessions), over Streamable HTTP on the server's own listener.
//!
//! This module owns the door: credentials only from `Authorization:
//! Bearer` (a `?token=` is refused: URLs end up in logs), an invalid one is
//! a 401 before rmcp sees the request, browser `Origin`s are refused unless
//! allowed, and the client address the limits key on. `tools` owns the
//! tools. Neither touches storage or access decisions.

mod tools;

use std::{net::IpAddr, sync::Arc, time::Duration};

use http_body_util::BodyExt;
use poem::{Endpoint, EndpointExt, IntoResponse, Request, Response, http::StatusCode};
use rmcp::transport::streamable_http_server::{
    StreamableHttpServerConfig, StreamableHttpService, session::never::NeverSessionManager,
};
use tokio_util::sync::CancellationToken;

use crate::{
    api::{bearer_token, problem::ApiError, query_token},
    hub::{Hub, HubError},
    limits::{Limits, http::ConnectionClosed},
};

pub use tools::ChannelhubMcp;

/// Who called, as the door found them; tools read it from the request.
#[derive(Debug, Clone)]
pub struct McpCaller {
    /// The bearer token as presented (already verified when present).
    pub token: Option<String>,
    /// The client address the limits key on.
    pub client: IpAddr,
    /// Cancelled when the request's connection closes: a wait stops then.
    pub closed: CancellationToken,
}

/// How `/mcp` is served.
pub struct McpSettings {
    /// Largest request body (`--max-body-bytes`).
    pub max_body_bytes: usize,
    /// Browser origins allowed to call (`--mcp-allowed-origins`); others are refused.
    pub allowed_origins: Vec<String>,
    /// Cancelled at shutdown: waiting tools answer at once.
    pub shutdown: CancellationToken,
}

/// The `/mcp` endpoint.
pub fn endpoint(hub: Arc<Hub>, limits: Arc<Limits>, settings: McpSettings) -> impl Endpoint {
    let config = StreamableHttpServerConfig::default()
        .with_legacy_session_mode(false)
        .with_json_response(true)
        .with_sse_keep_alive(Some(Duration::from_secs(15)))
        .with_max_request_body_bytes(settings.max_body_bytes)
        .with_cancellation_token(settings.shutdown.child_token())
        // channelhub is a network server with its own credentials: REST
        // has no Host check, and MCP reaches exactly what REST reaches.
        .disable_allowed_hosts()
        .with_allowed_origins(settings.allowed_origins)
        .enforce_origin_validation();
    let shutdown = settings.shutdown;
    let tool_limits = limits.clone();
    let tool_hub = hub.clone();
    let service = StreamableHttpService::new(
        move || {
            Ok(ChannelhubMcp::new(
                tool_hub.clone(),
                tool_limits.clone(),
                shutdown.clone(),
            ))
        },
        Arc::new(NeverSessionManager::default()),
        config,
    );
    McpEndpoint(service).around(move |next, req| door(hub.clone(), limits.clone(), next, req))
}

/// rmcp's service called from poem: the request and response converted.
struct McpEndpoint(StreamableHttpService<ChannelhubMcp, NeverSessionManager>);

impl Endpoint for McpEndpoint {
    type Output = Response;

    async fn call(&self, req: Request) -> poem::Result<Response> {
        let response = self.0.handle(http::Request::from(req)).await;
        let (parts, body) = response.into_parts();
        let body = body
            .map_err(|never: std::convert::Infallible| -> std::io::Error { match never {} })
            .boxed();
        Ok(http::Response::from_parts(parts, body).into())
    }
}

/// The door: no token in the URL, a presented token must be valid (401
/// otherwise, with no OAuth metadata: hosts would then ignore the static
/// header), and the caller goes into the request for the tools.
async fn door<E: Endpoint>(
    hub: Arc<Hub>,
    limits: Arc<Limits>,
    next: E,
    mut req: Request,
) -> poem::Result<Response> {
    if query_token(&req).is_some() {
        return Err(ApiError::bad_request(
            "/mcp takes the token only in the Authorization header (Bearer); \
             a token in the URL would end up in logs",
        )
        .into());
    }
    let token = bearer_token(&req).filter(|t| !t.is_empty());
    if let Some(token) = token.as_deref() {
        match hub.authenticate(Some(token)).await {
            Ok(_) => {}
            Err(HubError::Unauthorized(detail)) => {
                return Err(ApiError::new(StatusCode::UNAUTHORIZED, detail)
                    .with_header(
                        poem::http::header::WWW_AUTHENTICATE,
                        "Bearer error=\"invalid_token\"",
                    )
                    .into());
            }
            Err(other) => return Err(ApiError::from(other).into()),
        }
    }
    let client = limits.client_address(&req);
    let closed = req
        .extensions()
        .get::<ConnectionClosed>()
        .map(|closed| closed.0.clone())
        .unwrap_or_default();
    req.extensions_mut().insert(McpCaller {
        token,
        client,
        closed,
    });
    let response = next.call(req).await?.into_response();
    Ok(response)
}
