//! Server settings: every one a `channelhub serve` flag with an environment
//! fallback. Parsing only; nothing here opens a socket or a database.

use std::{net::SocketAddr, time::Duration};

use clap::Args;
use ipnet::IpNet;

/// Settings of `channelhub serve`.
#[derive(Debug, Clone, Args)]
pub struct ServeConfig {
    /// Address to listen on.
    #[arg(long, env = "CHANNELHUB_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,

    /// `sqlite://PATH` or `postgres://USER@HOST/DB`.
    #[arg(long, env = "DATABASE_URL", default_value = "sqlite://channelhub.db")]
    pub database_url: String,

    /// Admin token (at least 16 characters). When unset, the first start
    /// generates one, prints it once and keeps only its hash.
    #[arg(long, env = "CHANNELHUB_ADMIN_TOKEN", hide_env_values = true, value_parser = parse_admin_token)]
    pub admin_token: Option<String>,

    /// Seconds between WebSocket pings; a peer that misses two is dropped.
    #[arg(long, env = "CHANNELHUB_PING_INTERVAL", default_value = "30", value_parser = parse_seconds)]
    pub ping_interval: Duration,

    /// Seconds a subscriber's socket may take no bytes while the server has
    /// data for it; then it is closed as a slow consumer (1008) and dropped,
    /// even when its channel is quiet. SSE streams end after as long a stall.
    #[arg(long, env = "CHANNELHUB_WRITE_TIMEOUT", default_value = "30", value_parser = parse_seconds)]
    pub write_timeout: Duration,

    /// Allow webhook targets on loopback, private and link-local addresses.
    #[arg(long, env = "CHANNELHUB_ALLOW_PRIVATE_WEBHOOKS")]
    pub allow_private_webhooks: bool,

    /// Seconds a webhook delivery attempt may take.
    #[arg(long, env = "CHANNELHUB_WEBHOOK_TIMEOUT", default_value = "10", value_parser = parse_seconds)]
    pub webhook_timeout: Duration,

    /// Seconds of continuous failure after which a webhook is disabled.
    #[arg(long, env = "CHANNELHUB_WEBHOOK_DISABLE_AFTER", default_value = "86400", value_parser = parse_seconds)]
    pub webhook_disable_after: Duration,

    /// Seconds before the first webhook retry; each later one waits twice as long.
    #[arg(long, env = "CHANNELHUB_WEBHOOK_RETRY_BASE", default_value = "1", value_parser = parse_seconds)]
    pub webhook_retry_base: Duration,

    /// Longest wait between webhook retries, in seconds.
    #[arg(long, env = "CHANNELHUB_WEBHOOK_RETRY_MAX", default_value = "3600", value_parser = parse_seconds)]
    pub webhook_retry_max: Duration,

    /// Most concurrent WebSocket connections; past it upgrades get 503.
    #[arg(long, env = "CHANNELHUB_MAX_CONNECTIONS", default_value_t = 100_000)]
    pub max_connections: usize,

    /// Frames a subscriber may fall behind before it is closed with 1008.
    /// Keep it at least twice the largest batch (100).
    #[arg(
        long,
        env = "CHANNELHUB_SUBSCRIBER_QUEUE_FRAMES",
        default_value_t = 1024
    )]
    pub subscriber_queue_frames: usize,

    /// Bytes a subscriber may fall behind before it is closed with 1008.
    #[arg(long, env = "CHANNELHUB_SUBSCRIBER_QUEUE_BYTES", default_value_t = 8 * 1024 * 1024)]
    pub subscriber_queue_bytes: u64,

    /// Most channel subscriptions one multiplexed socket (`/api/v1/ws`) may
    /// hold; past it a subscribe gets an `error` frame (429).
    #[arg(long, env = "CHANNELHUB_WS_MAX_SUBSCRIPTIONS", default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub ws_max_subscriptions: u32,

    /// Largest frame a client may send on the multiplexed socket, in bytes;
    /// a larger one closes it with 1009.
    #[arg(long, env = "CHANNELHUB_WS_MAX_FRAME_BYTES", default_value_t = 16 * 1024, value_parser = clap::value_parser!(u32).range(1024..=1024 * 1024))]
    pub ws_max_frame_bytes: u32,

    /// Commands (subscribe, unsubscribe, refresh) a multiplexed socket may
    /// send per second, with a burst of five seconds' worth; past it a
    /// command gets an `error` frame (429) and is not run.
    #[arg(long, env = "CHANNELHUB_WS_COMMANDS_PER_SECOND", default_value_t = 20, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub ws_commands_per_second: u32,

    /// Serve the MCP endpoint at `/mcp` (`--mcp false` turns it off).
    #[arg(long, env = "CHANNELHUB_MCP", default_value_t = true, action = clap::ArgAction::Set)]
    pub mcp: bool,

    /// Browser origins allowed to call `/mcp` (comma-separated, with the
    /// scheme, e.g. `https://app.example.com`); a request with any other
    /// `Origin` header is refused (403). MCP hosts are not browsers and send none.
    #[arg(long, env = "CHANNELHUB_MCP_ALLOWED_ORIGINS", value_delimiter = ',')]
    pub mcp_allowed_origins: Vec<String>,

    /// Largest request body in bytes; larger ones get 413.
    #[arg(long, env = "CHANNELHUB_MAX_BODY_BYTES", default_value_t = 1024 * 1024)]
    pub max_body_bytes: usize,

    /// Seconds between retention sweeps.
    #[arg(long, env = "CHANNELHUB_RETENTION_INTERVAL", default_value = "60", value_parser = parse_seconds)]
    pub retention_interval: Duration,

    /// Seconds between re-reads of every live channel's access (privacy,
    /// tokens) from the database: the longest a listener keeps access this
    /// node never heard was revoked.
    #[arg(long, env = "CHANNELHUB_ACCESS_RECHECK_INTERVAL", default_value = "30", value_parser = parse_seconds)]
    pub access_recheck_interval: Duration,

    /// Seconds a publish's `Idempotency-Key` is remembered: a repeat within
    /// this window stores nothing and answers the first result.
    #[arg(long, env = "CHANNELHUB_IDEMPOTENCY_WINDOW", default_value = "86400", value_parser = parse_seconds)]
    pub idempotency_window: Duration,

    /// Seconds to wait for connections to finish on shutdown.
    #[arg(long, env = "CHANNELHUB_SHUTDOWN_GRACE", default_value = "10", value_parser = parse_seconds)]
    pub shutdown_grace: Duration,

    /// Most concurrent WebSocket, SSE and long-poll connections per client
    /// address (an IPv6 /64 counts as one address); past it, 429. 0: no cap.
    #[arg(
        long,
        env = "CHANNELHUB_MAX_CONNECTIONS_PER_IP",
        default_value_t = 1000
    )]
    pub max_connections_per_ip: usize,

    /// CIDRs of reverse proxies whose forwarding header names the client
    /// address (comma-separated). Without it forwarding headers are ignored
    /// (and their arrival is logged once).
    #[arg(long, env = "CHANNELHUB_TRUSTED_PROXIES", value_delimiter = ',')]
    pub trusted_proxies: Vec<IpNet>,

    /// The header the trusted proxies set: `x-forwarded-for` (what the
    /// shipped nginx sets) or `forwarded` (RFC 7239). The other one is
    /// ignored, since a client can send it through the proxy unchanged.
    #[arg(
        long,
        env = "CHANNELHUB_TRUSTED_PROXY_HEADER",
        default_value = "x-forwarded-for",
        value_parser = ["x-forwarded-for", "forwarded"]
    )]
    pub trusted_proxy_header: String,

    /// Exempt loopback clients (127.0.0.0/8, ::1) from per-client limits.
    /// Off by default: behind a same-host proxy without `--trusted-proxies`
    /// every client would otherwise be exempt. For local tools and benchmarks.
    #[arg(long, env = "CHANNELHUB_EXEMPT_LOOPBACK")]
    pub exempt_loopback: bool,

    /// Most open HTTP connections (of any kind) per client address (an IPv6
    /// /64 counts as one); past it, new connections are closed at once.
    /// Above `--max-connections-per-ip`, so a client at its socket cap can
    /// still make REST calls. Trusted proxies are not counted. 0: no cap.
    #[arg(
        long,
        env = "CHANNELHUB_MAX_HTTP_CONNECTIONS_PER_IP",
        default_value_t = 1200
    )]
    pub max_http_connections_per_ip: usize,

    /// Seconds a request's body may take to arrive; slower ones get 408.
    #[arg(long, env = "CHANNELHUB_BODY_TIMEOUT", default_value = "30", value_parser = parse_seconds)]
    pub body_timeout: Duration,

    /// Apply rate limits to the admin token too (exempt by default).
    #[arg(long, env = "CHANNELHUB_RATE_LIMIT_ADMIN")]
    pub rate_limit_admin: bool,

    /// Publish requests per second per publish token (or per address without
    /// one); 0 turns the limit off.
    #[arg(long, env = "CHANNELHUB_PUBLISH_RATE", default_value_t = 1000.0, value_parser = parse_rate)]
    pub publish_rate: f64,

    /// Publish requests a token may make at once above its rate.
    #[arg(long, env = "CHANNELHUB_PUBLISH_BURST", default_value_t = 2000)]
    pub publish_burst: u32,

    /// WebSocket and SSE connects per second per token or address; 0: off.
    #[arg(long, env = "CHANNELHUB_CONNECT_RATE", default_value_t = 20.0, value_parser = parse_rate)]
    pub connect_rate: f64,

    /// WebSocket and SSE connects allowed at once above the rate.
    #[arg(long, env = "CHANNELHUB_CONNECT_BURST", default_value_t = 200)]
    pub connect_burst: u32,

    /// Long-polls (`wait` > 0) per second per token or address; 0: off.
    #[arg(long, env = "CHANNELHUB_LONG_POLL_RATE", default_value_t = 20.0, value_parser = parse_rate)]
    pub long_poll_rate: f64,

    /// Long-polls allowed at once above the rate.
    #[arg(long, env = "CHANNELHUB_LONG_POLL_BURST", default_value_t = 100)]
    pub long_poll_burst: u32,

    /// Webhook registrations per second per token or address; 0: off.
    #[arg(long, env = "CHANNELHUB_WEBHOOK_RATE", default_value_t = 0.1, value_parser = parse_rate)]
    pub webhook_rate: f64,

    /// Webhook registrations allowed at once above the rate.
    #[arg(long, env = "CHANNELHUB_WEBHOOK_BURST", default_value_t = 10)]
    pub webhook_burst: u32,

    /// Allow webhook registration without a credential on public channels
    /// (`--allow-anonymous-webhooks false` requires a subscribe or admin token).
    #[arg(
        long,
        env = "CHANNELHUB_ALLOW_ANONYMOUS_WEBHOOKS",
        default_value_t = true,
        action = clap::ArgAction::Set
    )]
    pub allow_anonymous_webhooks: bool,

    /// Live anonymous webhooks one client address may hold, on all channels
    /// together (0: no bound); past it, 429.
    #[arg(
        long,
        env = "CHANNELHUB_MAX_ANONYMOUS_WEBHOOKS_PER_IP",
        default_value_t = 20
    )]
    pub max_anonymous_webhooks_per_ip: usize,

    /// Seconds a client has to send a request's headers (also how long an
    /// idle HTTP/1 keep-alive connection is kept).
    #[arg(long, env = "CHANNELHUB_HEADER_TIMEOUT", default_value = "10", value_parser = parse_seconds)]
    pub header_timeout: Duration,

    /// Seconds a connection may stay silent (no byte either way) before it is
    /// closed; requests in progress may finish.
    #[arg(long, env = "CHANNELHUB_IDLE_TIMEOUT", default_value = "120", value_parser = parse_seconds)]
    pub idle_timeout: Duration,

    /// Seconds a WebSocket upgrade request may take to be answered.
    #[arg(long, env = "CHANNELHUB_HANDSHAKE_TIMEOUT", default_value = "10", value_parser = parse_seconds)]
    pub handshake_timeout: Duration,

    /// Log as JSON lines instead of text.
    #[arg(long, env = "CHANNELHUB_LOG_JSON")]
    pub log_json: bool,

    /// The server's public URL (`https://hub.example.com`): the audience JWTs
    /// are accepted for unless `--jwt-audience` says otherwise. (`--url` is
    /// the CLI's: where the client commands send requests.)
    #[arg(long, env = "CHANNELHUB_PUBLIC_URL")]
    pub public_url: Option<String>,

    /// HS256/384/512 secret (at least 32 bytes); HS tokens are refused when unset.
    #[arg(long, env = "CHANNELHUB_JWT_SECRET", hide_env_values = true, value_parser = parse_jwt_secret)]
    pub jwt_secret: Option<String>,

    /// The secret before the current one, accepted until
    /// `--jwt-previous-secret-until` (a rotation window).
    #[arg(long, env = "CHANNELHUB_JWT_PREVIOUS_SECRET", hide_env_values = true, value_parser = parse_jwt_secret, requires_all = ["jwt_previous_secret_until", "jwt_secret"])]
    pub jwt_previous_secret: Option<String>,

    /// When the previous secret stops being accepted (RFC 3339).
    #[arg(long, env = "CHANNELHUB_JWT_PREVIOUS_SECRET_UNTIL", value_parser = parse_time)]
    pub jwt_previous_secret_until: Option<i64>,

    /// What tokens signed with the secret may grant: comma-separated scope
    /// patterns (`admin` allows everything).
    #[arg(
        long,
        env = "CHANNELHUB_JWT_SECRET_MAX_SCOPES",
        default_value = "admin",
        value_delimiter = ','
    )]
    pub jwt_secret_max_scopes: Vec<String>,

    /// Whether tokens signed with the secret must carry `exp` (`false` for
    /// Zooid's non-expiring tokens).
    #[arg(long, env = "CHANNELHUB_JWT_SECRET_REQUIRE_EXP", default_value_t = true, action = clap::ArgAction::Set)]
    pub jwt_secret_require_exp: bool,

    /// Audiences accepted, comma-separated; a token's `aud` must name one.
    /// Default: `--public-url`. With none, a token that has `aud` is refused.
    #[arg(long, env = "CHANNELHUB_JWT_AUDIENCE", value_delimiter = ',')]
    pub jwt_audience: Vec<String>,

    /// Refuse tokens without `aud`.
    #[arg(long, env = "CHANNELHUB_JWT_REQUIRE_AUDIENCE")]
    pub jwt_require_audience: bool,

    /// Seconds of clock skew allowed on `exp` and `nbf`.
    #[arg(long, env = "CHANNELHUB_JWT_LEEWAY", default_value_t = 30)]
    pub jwt_leeway: u64,

    /// Trusted public keys at most (`POST /api/v1/keys` past it: 409).
    #[arg(long, env = "CHANNELHUB_JWT_MAX_KEYS", default_value_t = 64)]
    pub jwt_max_keys: usize,

    /// Deny-list entries at most (`POST /api/v1/revocations` past it: 409).
    #[arg(
        long,
        env = "CHANNELHUB_JWT_MAX_REVOCATIONS",
        default_value_t = 100_000
    )]
    pub jwt_max_revocations: usize,
}

impl ServeConfig {
    /// The JWT settings these flags make.
    pub fn jwt_settings(&self) -> crate::auth::JwtSettings {
        let jwt = self;
        let mut audience = jwt.jwt_audience.clone();
        if audience.is_empty() {
            audience.extend(
                self.public_url
                    .iter()
                    .map(|u| u.trim_end_matches('/').to_owned()),
            );
        }
        audience.retain(|a| !a.is_empty());
        crate::auth::JwtSettings {
            secret: jwt.jwt_secret.as_ref().map(|s| s.as_bytes().to_vec()),
            previous_secret: jwt
                .jwt_previous_secret
                .as_ref()
                .zip(jwt.jwt_previous_secret_until)
                .map(|(s, until)| (s.as_bytes().to_vec(), until)),
            secret_max_scopes: Some(jwt.jwt_secret_max_scopes.clone()),
            secret_require_exp: jwt.jwt_secret_require_exp,
            audience,
            require_audience: jwt.jwt_require_audience,
            leeway: Duration::from_secs(jwt.jwt_leeway),
            max_keys: jwt.jwt_max_keys,
        }
    }
}

/// RFC 7518 §3.2: an HMAC key at least as long as the hash (32 bytes for HS256).
fn parse_jwt_secret(text: &str) -> Result<String, String> {
    if text.len() < 32 {
        return Err("a JWT secret is at least 32 bytes".into());
    }
    Ok(text.to_owned())
}

/// An RFC 3339 time, as milliseconds since the epoch.
fn parse_time(text: &str) -> Result<i64, String> {
    chrono::DateTime::parse_from_rfc3339(text)
        .map(|t| t.timestamp_millis())
        .map_err(|_| format!("{text:?} is not an RFC 3339 time"))
}

/// Seconds, fractions allowed (`0.5`), so tests can run with short intervals.
/// Shortest admin token accepted: a guessable one would open every channel.
const MIN_ADMIN_TOKEN_CHARS: usize = 16;

fn parse_admin_token(text: &str) -> Result<String, String> {
    if text.chars().count() < MIN_ADMIN_TOKEN_CHARS {
        return Err(format!(
            "the admin token must be at least {MIN_ADMIN_TOKEN_CHARS} characters"
        ));
    }
    // `chs_…` is the shape of channel tokens: such an admin token would never match.
    if text.starts_with("chs_") {
        return Err("the admin token must not start with chs_".into());
    }
    Ok(text.to_owned())
}

fn parse_seconds(text: &str) -> Result<Duration, String> {
    let seconds: f64 = text
        .parse()
        .map_err(|_| format!("{text:?} is not a number of seconds"))?;
    if !(seconds.is_finite() && seconds > 0.0) {
        return Err(format!("{text:?} must be a positive number of seconds"));
    }
    Ok(Duration::from_secs_f64(seconds))
}

/// A rate per second: 0 (off) or positive, fractions allowed (`0.1` = 6 a minute).
fn parse_rate(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(rate) if rate.is_finite() && rate >= 0.0 => Ok(rate),
        _ => Err(format!(
            "{text:?} must be a number of requests per second, 0 or more"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seconds_accept_fractions_and_refuse_nonsense() {
        assert_eq!(parse_seconds("30"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_seconds("0.25"), Ok(Duration::from_millis(250)));
        assert!(parse_seconds("0").is_err());
        assert!(parse_seconds("-1").is_err());
        assert!(parse_seconds("soon").is_err());
    }

    #[test]
    fn admin_tokens_are_long_and_not_channel_shaped() {
        assert!(parse_admin_token("short").is_err());
        assert!(parse_admin_token("chs_0123456789abcdef").is_err());
        assert_eq!(
            parse_admin_token("a-long-enough-admin-token").as_deref(),
            Ok("a-long-enough-admin-token")
        );
    }
}
