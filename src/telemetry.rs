//! Metrics and request logs: the names of everything `/metrics` exports, the
//! Prometheus recorder behind it, and the middleware that logs one line per
//! request and times it. Other modules only bump the metrics named here.

use std::time::Instant;

use metrics::{describe_counter, describe_gauge, describe_histogram};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use poem::{Endpoint, IntoResponse, Request, Response};

pub const WEBSOCKET_CONNECTIONS: &str = "channelhub_websocket_connections";
pub const WS_SUBSCRIPTIONS: &str = "channelhub_ws_subscriptions";
pub const SUBSCRIBERS: &str = "channelhub_subscribers";
pub const LIVE_CHANNELS: &str = "channelhub_live_channels";
pub const EVENTS_PUBLISHED: &str = "channelhub_events_published_total";
pub const FRAMES_DELIVERED: &str = "channelhub_frames_delivered_total";
pub const SLOW_CONSUMER_CLOSES: &str = "channelhub_slow_consumer_disconnects_total";
/// Values of [`SLOW_CONSUMER_CLOSES`]'s `reason` label.
pub const SLOW_REASON_QUEUE: &str = "queue";
pub const SLOW_REASON_WRITE_TIMEOUT: &str = "write_timeout";
pub const WEBHOOK_ATTEMPTS: &str = "channelhub_webhook_attempts_total";
/// Webhook deliveries waiting (queued or retrying), on every node.
pub const WEBHOOK_BACKLOG: &str = "channelhub_webhook_backlog";
pub const LIMIT_REFUSALS: &str = "channelhub_limit_refusals_total";
pub const REQUEST_SECONDS: &str = "channelhub_http_request_duration_seconds";
pub const TOKEN_HASH_CHECKS: &str = "channelhub_token_hash_checks_total";
/// MCP tool calls, by `tool` and `outcome` (`ok`, `error`, `timeout`).
pub const MCP_TOOL_CALLS: &str = "channelhub_mcp_tool_calls_total";
/// Where a published event's time goes on its way to subscribers; its
/// `stage` label is one of the `STAGE_*` values.
pub const DELIVERY_STAGE_SECONDS: &str = "channelhub_delivery_stage_seconds";
/// From the writer queue taking a publish to its commit returning (one per
/// publish request).
pub const STAGE_PUBLISH_TO_COMMIT: &str = "publish_to_commit";
/// From the commit to a subscriber's socket taking the frames (one per
/// WebSocket write of committed events). With PostgreSQL the clock starts
/// when the appending transaction announces the events, just before its
/// commit, so this stage includes the commit and the cluster bus.
pub const STAGE_COMMIT_TO_SOCKET: &str = "commit_to_socket";
/// How often histogram samples are folded into their buckets: until then
/// they are held one by one.
const UPKEEP_INTERVAL: std::time::Duration = std::time::Duration::from_secs(5);

/// Which limit refused something: the `limit` label of
/// `channelhub_limit_refusals_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LimitKind {
    PublishRate,
    ConnectRate,
    LongPollRate,
    WebhookRate,
    ConnectionsPerIp,
    AnonymousWebhooks,
    HandshakeTimeout,
    HeaderTimeout,
    IdleTimeout,
    /// An address holds as many anonymous webhooks as it may.
    AnonymousWebhooksPerIp,
    /// A request body did not arrive in time.
    BodyTimeout,
    /// An address holds as many HTTP connections as it may.
    HttpConnectionsPerIp,
}

impl LimitKind {
    pub fn label(self) -> &'static str {
        match self {
            LimitKind::PublishRate => "publish_rate",
            LimitKind::ConnectRate => "connect_rate",
            LimitKind::LongPollRate => "long_poll_rate",
            LimitKind::WebhookRate => "webhook_rate",
            LimitKind::ConnectionsPerIp => "connections_per_ip",
            LimitKind::AnonymousWebhooks => "anonymous_webhooks",
            LimitKind::HandshakeTimeout => "handshake_timeout",
            LimitKind::HeaderTimeout => "header_timeout",
            LimitKind::IdleTimeout => "idle_timeout",
            LimitKind::AnonymousWebhooksPerIp => "anonymous_webhooks_per_ip",
            LimitKind::BodyTimeout => "body_timeout",
            LimitKind::HttpConnectionsPerIp => "http_connections_per_ip",
        }
    }
}

pub fn count_refusal(kind: LimitKind) {
    metrics::counter!(LIMIT_REFUSALS, "limit" => kind.label()).increment(1);
}

/// Installs the process-wide recorder; `/metrics` renders from the handle.
/// Must run inside the runtime: it starts the recorder's upkeep task.
pub fn install() -> PrometheusHandle {
    let handle = PrometheusBuilder::new()
        .set_buckets_for_metric(
            Matcher::Full(REQUEST_SECONDS.to_owned()),
            &[
                0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0,
                60.0,
            ],
        )
        .expect("the bucket list is not empty")
        .set_buckets_for_metric(
            Matcher::Full(DELIVERY_STAGE_SECONDS.to_owned()),
            &[
                0.0001, 0.00025, 0.0005, 0.00075, 0.001, 0.0015, 0.002, 0.003, 0.005, 0.0075, 0.01,
                0.015, 0.025, 0.05, 0.1, 0.25, 1.0,
            ],
        )
        .expect("the bucket list is not empty")
        .install_recorder()
        .expect("one recorder per process");
    // The recorder keeps every histogram sample until upkeep folds it into
    // the buckets: without this, memory would grow with every request until
    // someone scraped `/metrics`.
    let upkeep = handle.clone();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(UPKEEP_INTERVAL);
        loop {
            tick.tick().await;
            upkeep.run_upkeep();
        }
    });
    describe_gauge!(WEBSOCKET_CONNECTIONS, "Open WebSocket connections");
    describe_gauge!(
        WS_SUBSCRIPTIONS,
        "Channel subscriptions held on multiplexed sockets (/api/v1/ws)"
    );
    describe_gauge!(SUBSCRIBERS, "Live WebSocket subscribers on this node");
    describe_gauge!(
        WEBHOOK_BACKLOG,
        "Webhook deliveries waiting (queued or retrying), on every node"
    );
    describe_gauge!(
        LIVE_CHANNELS,
        "Channels with a live subscriber on this node"
    );
    describe_counter!(
        EVENTS_PUBLISHED,
        "Events committed by publishes on this node"
    );
    describe_counter!(
        FRAMES_DELIVERED,
        "Event frames written to WebSocket subscribers"
    );
    describe_counter!(
        SLOW_CONSUMER_CLOSES,
        "Subscribers disconnected as slow consumers (WebSocket 1008; SSE stream ended), by reason: \
         queue (fell past the queue bound) or write_timeout (took no bytes for --write-timeout)"
    );
    describe_counter!(WEBHOOK_ATTEMPTS, "Webhook delivery attempts by outcome");
    describe_counter!(
        LIMIT_REFUSALS,
        "Requests and connections refused or closed by a per-client limit, by limit"
    );
    describe_histogram!(REQUEST_SECONDS, "HTTP request latency by method and status");
    describe_histogram!(
        DELIVERY_STAGE_SECONDS,
        "Time a published event spends in each stage of delivery"
    );
    describe_counter!(
        TOKEN_HASH_CHECKS,
        "argon2 verifications of presented credentials (cache misses)"
    );
    describe_counter!(MCP_TOOL_CALLS, "MCP tool calls by tool and outcome");
    handle
}

/// Logs one line per request (method, path, status, latency) and records
/// its latency. Wraps the error-to-problem layer, so it sees final statuses.
pub async fn observe<E: Endpoint>(next: E, req: Request) -> poem::Result<Response> {
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    let started = Instant::now();
    let response = next
        .call(req)
        .await
        .map(IntoResponse::into_response)
        .unwrap_or_else(|err| err.into_response());
    let elapsed = started.elapsed();
    let status = response.status().as_u16();
    metrics::histogram!(REQUEST_SECONDS, "method" => method.to_string(), "status" => status.to_string())
        .record(elapsed.as_secs_f64());
    tracing::info!(%method, %path, status, latency_ms = elapsed.as_secs_f64() * 1000.0, "request");
    Ok(response)
}

/// The histogram of one delivery stage, to keep as a handle where it is
/// recorded often.
pub fn stage_histogram(stage: &'static str) -> metrics::Histogram {
    metrics::histogram!(DELIVERY_STAGE_SECONDS, "stage" => stage)
}

/// Records one pass through a delivery stage that began at `started_micros`
/// ([`crate::model::now_micros`]).
pub fn record_since(histogram: &metrics::Histogram, started_micros: u64) {
    let micros = crate::model::now_micros().saturating_sub(started_micros);
    histogram.record(micros as f64 / 1e6);
}
