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

mod calls;
mod tools;

use std::{net::IpAddr, sync::Arc, time::Duration};

use http_body_util::BodyExt;
use poem::{Endpoint, EndpointExt, IntoResponse, Request, Response, http::StatusCode};
use rmcp::transport::streamable_http_server::{
    StreamableHttpServerConfig, StreamableHttpService, session::never::NeverSessionManager,
};
use tokio_util::sync::CancellationToken;

use calls::InFlight;
use poem::error::ReadBodyError;

use crate::{
    api::{bearer_token, problem::ApiError},
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
    /// How long a request body may take to arrive (`--body-timeout`).
    pub body_timeout: Duration,
    /// Browser origins allowed to call (`--mcp-allowed-origins`); others are refused.
    pub allowed_origins: Vec<String>,
    /// Cancelled at shutdown: waiting tools answer at once.
    pub shutdown: CancellationToken,
}

/// The `/mcp` endpoint.
pub fn endpoint(hub: Arc<Hub>, limits: Arc<Limits>, settings: McpSettings) -> impl Endpoint {
    // rmcp gets no shutdown token of its own: it would end waits with an
    // empty 500 where the tools answer an empty page at shutdown.
    let config = StreamableHttpServerConfig::default()
        .with_legacy_session_mode(false)
        .with_json_response(true)
        .with_sse_keep_alive(Some(Duration::from_secs(15)))
        .with_max_request_body_bytes(settings.max_body_bytes)
        // channelhub is a network server with its own credentials: REST
        // has no Host check, and MCP reaches exactly what REST reaches.
        // Origins are checked at the door.
        .disable_allowed_hosts();
    let shutdown = settings.shutdown;
    let in_flight = Arc::new(InFlight::default());
    // Made once; each request gets a clone (handles to the same state).
    let tools = ChannelhubMcp::new(hub.clone(), limits.clone(), in_flight.clone(), shutdown);
    let for_service = tools.clone();
    let service = StreamableHttpService::new(
        move || Ok(for_service.clone()),
        Arc::new(NeverSessionManager::default()),
        config,
    );
    let endpoint = McpEndpoint {
        service,
        tools,
        in_flight,
        max_body_bytes: settings.max_body_bytes,
        body_timeout: settings.body_timeout,
    };
    let origins = Arc::new(settings.allowed_origins);
    endpoint.around(move |next, req| door(hub.clone(), limits.clone(), origins.clone(), next, req))
}

/// rmcp's service called from poem: the body read within its bounds, a
/// cancellation delivered to the call it names, the response converted.
struct McpEndpoint {
    service: StreamableHttpService<ChannelhubMcp, NeverSessionManager>,
    /// The tools, for a wait run before rmcp (`tools::prewait`).
    tools: ChannelhubMcp,
    in_flight: Arc<InFlight>,
    max_body_bytes: usize,
    body_timeout: Duration,
}

impl Endpoint for McpEndpoint {
    type Output = Response;

    async fn call(&self, mut req: Request) -> poem::Result<Response> {
        let limit = self.max_body_bytes;
        let read = tokio::time::timeout(self.body_timeout, req.take_body().into_bytes_limit(limit));
        let body = match read.await {
            Err(_elapsed) => {
                return Err(ApiError::new(
                    StatusCode::REQUEST_TIMEOUT,
                    format!(
                        "the request body did not arrive within {} s",
                        self.body_timeout.as_secs_f64()
                    ),
                )
                .into());
            }
            Ok(Err(ReadBodyError::PayloadTooLarge)) => {
                return Err(ApiError::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    format!("the request body is over the {limit} byte limit"),
                )
                .into());
            }
            Ok(Err(err)) => {
                return Err(ApiError::bad_request(format!(
                    "could not read the request body: {err}"
                ))
                .into());
            }
            Ok(Ok(body)) => body,
        };
        let message = serde_json::from_slice::<serde_json::Value>(&body).ok();
        let caller = req.extensions().get::<McpCaller>().cloned();
        // Stateless, a cancellation arrives as a request of its own.
        if let (Some(message), Some(caller)) = (&message, &caller)
            && message["method"] == "notifications/cancelled"
        {
            self.in_flight
                .cancel(caller, &message["params"]["requestId"]);
            return Ok(Response::builder().status(StatusCode::ACCEPTED).finish());
        }
        // A plain wait parks here, before rmcp builds its per-request
        // service; rmcp then answers the call with what it found.
        drop(message);
        let picked = tools::prewait(req.method(), req.headers(), &body);
        if let (Some((args, id)), Some(caller)) = (picked, caller) {
            let answer = self.tools.wait_before(args, &caller, &id).await;
            req.extensions_mut().insert(tools::Answered::new(answer));
        }
        req.set_body(body);
        let response = self.service.handle(http::Request::from(req)).await;
        let (parts, body) = response.into_parts();
        let body = body
            .map_err(|never: std::convert::Infallible| -> std::io::Error { match never {} })
            .boxed();
        Ok(http::Response::from_parts(parts, body).into())
    }
}

/// The door: no credential in the URL, an `Authorization` header only as
/// `Bearer <token>` with a valid token (401 otherwise, with no OAuth
/// metadata: hosts would then ignore the static header), no browser origin
/// but the allowed ones, and the caller goes into the request for the tools.
async fn door<E: Endpoint>(
    hub: Arc<Hub>,
    limits: Arc<Limits>,
    origins: Arc<Vec<String>>,
    next: E,
    mut req: Request,
) -> poem::Result<Response> {
    match req.params::<Vec<(String, String)>>() {
        Ok(pairs) if pairs.iter().any(|(name, _)| name == "token") => {
            return Err(ApiError::bad_request(
                "/mcp takes the token only in the Authorization header (Bearer); \
                 a token in the URL would end up in logs",
            )
            .into());
        }
        Ok(_) => {}
        Err(_) => return Err(ApiError::bad_request("the query string cannot be read").into()),
    }
    if let Some(origin) = req.headers().get(poem::http::header::ORIGIN) {
        let allowed = origin
            .to_str()
            .is_ok_and(|origin| origins.iter().any(|o| o == origin));
        if !allowed {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "browser origins may not call /mcp unless --mcp-allowed-origins lists them",
            )
            .into());
        }
    }
    let token = match req.headers().get(poem::http::header::AUTHORIZATION) {
        None => None,
        Some(_) => match bearer_token(&req).filter(|t| !t.is_empty()) {
            Some(token) => Some(token),
            None => {
                return Err(ApiError::new(
                    StatusCode::UNAUTHORIZED,
                    "the Authorization header must be `Bearer <token>`",
                )
                .with_header(
                    poem::http::header::WWW_AUTHENTICATE,
                    "Bearer error=\"invalid_request\"",
                )
                .into());
            }
        },
    };
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
