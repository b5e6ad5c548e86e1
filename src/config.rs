//! Server settings: every one a `channelhub serve` flag with an environment
//! fallback. Parsing only; nothing here opens a socket or a database.

use std::{net::SocketAddr, time::Duration};

use clap::Args;

/// Settings of `channelhub serve`.
#[derive(Debug, Clone, Args)]
pub struct ServeConfig {
    /// Address to listen on.
    #[arg(long, env = "CHANNELHUB_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,

    /// `sqlite://PATH` or `postgres://USER@HOST/DB`.
    #[arg(long, env = "DATABASE_URL", default_value = "sqlite://channelhub.db")]
    pub database_url: String,

    /// Admin token. When unset, the first start generates one, prints it once
    /// and keeps only its hash.
    #[arg(long, env = "CHANNELHUB_ADMIN_TOKEN", hide_env_values = true)]
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

    /// Largest request body in bytes; larger ones get 413.
    #[arg(long, env = "CHANNELHUB_MAX_BODY_BYTES", default_value_t = 1024 * 1024)]
    pub max_body_bytes: usize,

    /// Seconds between retention sweeps.
    #[arg(long, env = "CHANNELHUB_RETENTION_INTERVAL", default_value = "60", value_parser = parse_seconds)]
    pub retention_interval: Duration,

    /// Seconds to wait for connections to finish on shutdown.
    #[arg(long, env = "CHANNELHUB_SHUTDOWN_GRACE", default_value = "10", value_parser = parse_seconds)]
    pub shutdown_grace: Duration,

    /// Log as JSON lines instead of text.
    #[arg(long, env = "CHANNELHUB_LOG_JSON")]
    pub log_json: bool,
}

/// Seconds, fractions allowed (`0.5`), so tests can run with short intervals.
fn parse_seconds(text: &str) -> Result<Duration, String> {
    let seconds: f64 = text
        .parse()
        .map_err(|_| format!("{text:?} is not a number of seconds"))?;
    if !(seconds.is_finite() && seconds > 0.0) {
        return Err(format!("{text:?} must be a positive number of seconds"));
    }
    Ok(Duration::from_secs_f64(seconds))
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
}
