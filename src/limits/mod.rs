//! Per-client limits at the edge of the HTTP API: what one client may make
//! the server spend.
//!
//! Owns: the client address (with `--trusted-proxies`), text in the URI that
//! the databases cannot store (`%00`, refused with 400), rate limits per
//! credential or address (`governor` token buckets), the cap on concurrent
//! WebSocket, SSE and long-poll connections per address, the WebSocket
//! handshake deadline, the refusal responses (429 problem+json with
//! `Retry-After` and the IETF `RateLimit` / `RateLimit-Policy` headers) and
//! their metrics; and, in [`http`], the connection loop with the header and
//! idle deadlines.
//!
//! Must not: decide who may read or write a channel (the hub does; a
//! credential is only looked at to find the key it is counted against and
//! whether it is the admin's), touch the store, or own sockets beyond the
//! HTTP connection itself (`live` owns sessions).

pub mod client;
pub mod http;
pub mod rates;

use std::{
    collections::HashMap,
    net::IpAddr,
    sync::{Arc, Mutex, PoisonError},
    time::Duration,
};

use futures_util::StreamExt;
use poem::{
    Body, Endpoint, IntoResponse, Request, Response,
    http::{HeaderValue, Method, StatusCode, header},
};

use self::{
    client::{TrustedProxies, limit_key},
    http::ConnectionClosed,
    rates::{Bucket, Rate, RateKey, Verdict, seconds_up},
};
use crate::{
    api::{presented_token, problem::ApiError},
    auth::Principal,
    hub::Hub,
    model::check_storable_uri,
};

/// Refusals are counted by kind in `telemetry`, where the hub counts its own.
pub use crate::telemetry::{LimitKind, count_refusal};

/// Every limit's setting (from `ServeConfig`).
#[derive(Debug, Clone)]
pub struct LimitSettings {
    pub trusted_proxies: TrustedProxies,
    /// Exempt loopback clients from per-client limits (`--exempt-loopback`).
    pub exempt_loopback: bool,
    /// Apply rate limits to the admin token too.
    pub limit_admin: bool,
    /// Concurrent WebSocket, SSE and long-poll connections per address (0: no cap).
    pub max_connections_per_ip: usize,
    pub publish: Rate,
    pub connect: Rate,
    pub long_poll: Rate,
    pub webhook: Rate,
    pub handshake_timeout: Duration,
}

/// The requests that limits apply to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Route {
    Publish,
    WebSocket,
    Stream,
    LongPoll,
    RegisterWebhook,
}

/// Finds the route from the path under `/api/v1`: `/channels/{id}/{leaf}`.
/// The query is decoded as the handlers decode it (`w%61it=30` is `wait`),
/// and any `wait` that is not 0 makes a long-poll, whichever one a handler
/// would take.
fn route_of(req: &Request) -> Option<Route> {
    let path = req.uri().path();
    // The multiplexed socket is a WebSocket connect like any other (the
    // guard sees paths within `/api/v1`, as tests name them in full).
    if path == "/api/v1/ws" || path == "/ws" {
        return matches!(*req.method(), Method::GET | Method::HEAD).then_some(Route::WebSocket);
    }
    let rest = path
        .strip_prefix("/api/v1/channels/")
        .or_else(|| path.strip_prefix("/channels/"))?;
    let (_, leaf) = rest.split_once('/')?;
    let long_poll = || match req.params::<Vec<(String, String)>>() {
        Ok(pairs) => pairs
            .iter()
            .filter(|(name, _)| name == "wait")
            .any(|(_, wait)| !wait.trim().parse::<f64>().is_ok_and(|w| w == 0.0)),
        // A query the handlers cannot read either: counted as the dearer kind.
        Err(_) => true,
    };
    // The router answers HEAD with the GET handler: limits do the same.
    let get = matches!(*req.method(), Method::GET | Method::HEAD);
    match (req.method(), leaf) {
        // A validate-only publish runs the same checks: it costs as much.
        (&Method::POST, "events" | "events/validate") => Some(Route::Publish),
        (_, "events") if get && long_poll() => Some(Route::LongPoll),
        (_, "ws") if get => Some(Route::WebSocket),
        (_, "stream") if get => Some(Route::Stream),
        (&Method::POST, "webhooks") => Some(Route::RegisterWebhook),
        _ => None,
    }
}

/// What an MCP tool call counts against: its HTTP request (a POST to
/// `/mcp`) does not say which tool it calls, so the tool asks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ToolCost {
    /// `publish_events`: the publish bucket, as `POST …/events`.
    Publish,
    /// `wait_for_events` with a timeout: the long-poll bucket and a
    /// per-address slot, as `GET …/events?wait=N`.
    LongPoll,
}

/// The limits, shared by every request.
pub struct Limits {
    settings: LimitSettings,
    hub: Arc<Hub>,
    publish: Bucket,
    connect: Bucket,
    long_poll: Bucket,
    webhook: Bucket,
    /// Open WebSocket, SSE and long-poll connections per address key.
    open: Mutex<HashMap<IpAddr, usize>>,
}

/// How often buckets of clients that went quiet are forgotten.
const FORGET_IDLE_EVERY: Duration = Duration::from_secs(60);

impl Limits {
    pub fn new(settings: LimitSettings, hub: Arc<Hub>) -> Arc<Limits> {
        let limits = Arc::new(Limits {
            publish: Bucket::new("publish", settings.publish),
            connect: Bucket::new("connect", settings.connect),
            long_poll: Bucket::new("long-poll", settings.long_poll),
            webhook: Bucket::new("webhook", settings.webhook),
            settings,
            hub,
            open: Mutex::new(HashMap::new()),
        });
        let weak = Arc::downgrade(&limits);
        tokio::spawn(async move {
            let mut ticks = tokio::time::interval(FORGET_IDLE_EVERY);
            loop {
                ticks.tick().await;
                let Some(limits) = weak.upgrade() else { return };
                for bucket in limits.buckets() {
                    bucket.forget_idle();
                }
            }
        });
        limits
    }

    fn buckets(&self) -> [&Bucket; 4] {
        [&self.publish, &self.connect, &self.long_poll, &self.webhook]
    }

    /// The middleware: wraps the `/api/v1` endpoint.
    pub async fn guard<E: Endpoint>(
        self: Arc<Self>,
        next: E,
        mut req: Request,
    ) -> poem::Result<Response> {
        if let Some(uri) = req.uri().path_and_query() {
            check_storable_uri(uri.as_str()).map_err(|err| ApiError::bad_request(err.0))?;
        }
        let Some(route) = route_of(&req) else {
            return next.call(req).await.map(IntoResponse::into_response);
        };
        let client = self.client_address(&req);
        // Handlers that record who asked (webhook registrants) see the same address.
        req.extensions_mut()
            .insert(crate::api::ClientAddress(client));
        let exempt_address = client.is_loopback() && self.settings.exempt_loopback;
        let token = presented_token(&req);

        let rate_state = if exempt_address {
            None
        } else {
            self.check_rate(route, client, token.as_deref()).await?
        };

        let slot = if exempt_address || route == Route::Publish || route == Route::RegisterWebhook {
            None
        } else {
            Some(self.take_slot(client)?)
        };

        if route == Route::WebSocket && !exempt_address {
            let limits = self.clone();
            let meter = move |token: &str| limits.charge_unverified(client, token);
            req.extensions_mut()
                .insert(crate::api::CredentialMeter(Arc::new(meter)));
        }
        let mut response = if route == Route::WebSocket {
            let closed = req.extensions().get::<ConnectionClosed>().cloned();
            let response = self.handshake(next, req).await?;
            if let (Some(slot), Some(closed)) = (slot, closed) {
                slot.hold_until_closed(&response, closed);
            }
            response
        } else {
            let mut response = next.call(req).await?.into_response();
            if let (Some(slot), Route::Stream) = (slot, route) {
                slot.hold_while_streaming(&mut response);
            }
            response
        };
        if let Some((bucket, remaining)) = rate_state {
            bucket_headers(bucket, remaining, &mut response);
        }
        Ok(response)
    }

    /// The client's address as the limits see it: the peer, or what a
    /// trusted proxy says.
    pub fn client_address(&self, req: &Request) -> IpAddr {
        let peer = req
            .remote_addr()
            .as_socket_addr()
            .map(|addr| addr.ip())
            .unwrap_or(IpAddr::from([0, 0, 0, 0]));
        self.settings.trusted_proxies.client(peer, req.headers())
    }

    /// Admits an MCP tool call as REST admits the route it mirrors: the same
    /// buckets, keys and exemptions; a long-poll's slot is held until the
    /// returned guard is dropped.
    pub async fn admit_tool(
        self: &Arc<Self>,
        cost: ToolCost,
        client: IpAddr,
        token: Option<&str>,
    ) -> Result<Option<ConnectionSlot>, ApiError> {
        if client.is_loopback() && self.settings.exempt_loopback {
            return Ok(None);
        }
        let route = match cost {
            ToolCost::Publish => Route::Publish,
            ToolCost::LongPoll => Route::LongPoll,
        };
        self.check_rate(route, client, token).await?;
        match cost {
            ToolCost::Publish => Ok(None),
            ToolCost::LongPoll => self.take_slot(client).map(Some),
        }
    }

    /// A credential presented on an open socket: one this node has not
    /// verified yet costs the presenter's address one connect (see
    /// [`crate::api::CredentialMeter`]); a verified one costs nothing here.
    fn charge_unverified(&self, client: IpAddr, token: &str) -> Result<(), ApiError> {
        if token.is_empty() || self.hub.verified_principal(Some(token)).is_some() {
            return Ok(());
        }
        let address = RateKey::Address(limit_key(client));
        self.count(&self.connect, LimitKind::ConnectRate, &address)
            .map(|_| ())
    }

    /// Runs a WebSocket upgrade request within `--handshake-timeout`.
    async fn handshake<E: Endpoint>(&self, next: E, req: Request) -> poem::Result<Response> {
        let deadline = self.settings.handshake_timeout;
        match tokio::time::timeout(deadline, next.call(req)).await {
            Ok(response) => Ok(response?.into_response()),
            Err(_) => {
                count_refusal(LimitKind::HandshakeTimeout);
                Err(ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    format!(
                        "the WebSocket handshake did not complete within {} s",
                        deadline.as_secs_f64()
                    ),
                )
                .with_header(header::RETRY_AFTER, "5")
                .into())
            }
        }
    }

    /// Counts the request against its bucket: by token id for a channel
    /// token, by address otherwise; the admin is exempt unless
    /// `--rate-limit-admin`. A credential is a key only once verified: one
    /// this node has not verified yet is first counted against its
    /// presenter's address (so whatever id it names, guessing costs the
    /// guesser's own bucket and hashing is bounded by the address's rate),
    /// then verified, and then, if valid, counted against its token too.
    async fn check_rate(
        &self,
        route: Route,
        client: IpAddr,
        token: Option<&str>,
    ) -> Result<Option<(&Bucket, u32)>, ApiError> {
        let (bucket, kind) = match route {
            Route::Publish => (&self.publish, LimitKind::PublishRate),
            Route::WebSocket | Route::Stream => (&self.connect, LimitKind::ConnectRate),
            Route::LongPoll => (&self.long_poll, LimitKind::LongPollRate),
            Route::RegisterWebhook => (&self.webhook, LimitKind::WebhookRate),
        };
        let address = RateKey::Address(limit_key(client));
        let principal = match self.hub.verified_principal(token) {
            Some(principal) => Some(principal),
            None if token.is_some_and(|t| !t.is_empty()) => {
                let by_address = self.count(bucket, kind, &address)?;
                match self.hub.authenticate(token).await {
                    Ok(principal) if principal.is_admin() && !self.settings.limit_admin => {
                        return Ok(None);
                    }
                    Ok(principal @ (Principal::Token(_) | Principal::Jwt(_))) => Some(principal),
                    // Invalid (the handler says so), or the admin counted by
                    // address: the address paid.
                    _ => return Ok(by_address),
                }
            }
            None => None,
        };
        let key = match principal {
            Some(principal) if principal.is_admin() && !self.settings.limit_admin => {
                return Ok(None);
            }
            Some(Principal::Token(record)) => RateKey::Token(record.id.clone()),
            // A JWT by its key and subject: verified, so it spends only its own bucket.
            Some(Principal::Jwt(grant)) => {
                RateKey::Token(grant.rate_key(token.unwrap_or_default()))
            }
            _ => address,
        };
        self.count(bucket, kind, &key)
    }

    /// One request against `key`'s bucket: what remains, or the 429.
    fn count<'a>(
        &self,
        bucket: &'a Bucket,
        kind: LimitKind,
        key: &RateKey,
    ) -> Result<Option<(&'a Bucket, u32)>, ApiError> {
        match bucket.check(key) {
            Verdict::Allowed { remaining } => Ok(remaining.map(|r| (bucket, r))),
            Verdict::Refused { retry_after } => {
                count_refusal(kind);
                let mut refusal = too_many(format!(
                    "too many {} requests from this client; retry in {} s",
                    bucket.name,
                    seconds_up(retry_after)
                ))
                .with_header_value(header::RETRY_AFTER, seconds_up(retry_after).into());
                if let Some(policy) = bucket.policy_header() {
                    refusal = refusal
                        .with_header_string("ratelimit-policy", policy)
                        .with_header_string("ratelimit", bucket.state_header(0, retry_after));
                }
                Err(refusal)
            }
        }
    }

    fn take_slot(self: &Arc<Self>, client: IpAddr) -> Result<ConnectionSlot, ApiError> {
        let key = limit_key(client);
        let max = self.settings.max_connections_per_ip;
        let mut open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        let count = open.entry(key).or_insert(0);
        if max > 0 && *count >= max {
            drop(open);
            count_refusal(LimitKind::ConnectionsPerIp);
            return Err(too_many(format!(
                "this client address holds its maximum of {max} open WebSocket, SSE and \
                 long-poll connections; close one and retry"
            ))
            .with_header(header::RETRY_AFTER, "5"));
        }
        *count += 1;
        Ok(ConnectionSlot {
            limits: self.clone(),
            key,
        })
    }
}

fn too_many(detail: String) -> ApiError {
    ApiError::new(StatusCode::TOO_MANY_REQUESTS, detail)
}

fn bucket_headers(bucket: &Bucket, remaining: u32, response: &mut Response) {
    let Some(policy) = bucket.policy_header() else {
        return;
    };
    let state = bucket.state_header(remaining, Duration::ZERO);
    for (name, value) in [("ratelimit-policy", policy), ("ratelimit", state)] {
        if let Ok(value) = HeaderValue::from_str(&value) {
            response.headers_mut().insert(name, value);
        }
    }
}

/// One open connection counted against an address; released when dropped.
pub struct ConnectionSlot {
    limits: Arc<Limits>,
    key: IpAddr,
}

impl ConnectionSlot {
    /// A session outlives its 101 response: the slot is held until the
    /// socket closes.
    fn hold_until_closed(self, response: &Response, closed: ConnectionClosed) {
        if response.status() == StatusCode::SWITCHING_PROTOCOLS {
            tokio::spawn(async move {
                closed.0.cancelled().await;
                drop(self);
            });
        }
    }

    /// A stream is held as long as its body is being sent.
    fn hold_while_streaming(self, response: &mut Response) {
        if !response.status().is_success() {
            return;
        }
        let body = response.take_body().into_bytes_stream().map(move |chunk| {
            let _held = &self;
            chunk
        });
        response.set_body(Body::from_bytes_stream(body));
    }
}

impl Drop for ConnectionSlot {
    fn drop(&mut self) {
        let mut open = self
            .limits
            .open
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(count) = open.get_mut(&self.key) {
            *count -= 1;
            if *count == 0 {
                open.remove(&self.key);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn route(method: Method, uri: &str) -> Option<Route> {
        route_of(
            &Request::builder()
                .method(method)
                .uri(uri.parse().unwrap())
                .finish(),
        )
    }

    #[test]
    fn routes_are_recognised() {
        assert_eq!(
            route(Method::POST, "/api/v1/channels/a-b/events"),
            Some(Route::Publish)
        );
        assert_eq!(route(Method::GET, "/api/v1/channels/a-b/events"), None);
        assert_eq!(
            route(Method::GET, "/api/v1/channels/a-b/events?wait=0"),
            None
        );
        assert_eq!(
            route(Method::GET, "/api/v1/channels/a-b/events?limit=5&wait=30"),
            Some(Route::LongPoll)
        );
        assert_eq!(
            route(Method::GET, "/api/v1/channels/a-b/ws?types=x"),
            Some(Route::WebSocket)
        );
        assert_eq!(
            route(Method::GET, "/api/v1/channels/a-b/stream"),
            Some(Route::Stream)
        );
        assert_eq!(
            route(Method::POST, "/api/v1/channels/a-b/webhooks"),
            Some(Route::RegisterWebhook)
        );
        assert_eq!(route(Method::GET, "/api/v1/channels/a-b/events/01H"), None);
        // Parameter names are decoded as the handlers decode them.
        assert_eq!(
            route(Method::GET, "/api/v1/channels/a-b/events?w%61it=30"),
            Some(Route::LongPoll)
        );
        assert_eq!(
            route(Method::GET, "/api/v1/channels/a-b/events?wait=0&wait=30"),
            Some(Route::LongPoll)
        );
        // HEAD runs the GET handler, so it is limited as GET.
        assert_eq!(
            route(Method::HEAD, "/api/v1/channels/a-b/events?wait=30"),
            Some(Route::LongPoll)
        );
        assert_eq!(
            route(Method::HEAD, "/api/v1/channels/a-b/ws"),
            Some(Route::WebSocket)
        );
        assert_eq!(
            route(Method::GET, "/api/v1/ws?token=x"),
            Some(Route::WebSocket)
        );
        assert_eq!(route(Method::POST, "/api/v1/ws"), None);
    }
}
