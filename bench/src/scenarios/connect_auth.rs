//! What a credential costs at connect: N WebSocket connects (each a full
//! handshake, then dropped), 64 at a time, with a different credential
//! each: distinct EdDSA JWTs (one signature check each), one EdDSA JWT
//! reused (a cache hit after the first), one `chs_` subscribe token (argon2
//! once, then cached), and no credential on a public channel. Server CPU
//! (user + system from /proc) per connect, and how much its resident memory
//! grew (the verified-JWT cache holds an entry per distinct token).

use std::{
    net::SocketAddr,
    time::{Duration, Instant},
};

use anyhow::{Context, Result};
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use ed25519_dalek::SigningKey;
use futures_util::{StreamExt, stream};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde::Serialize;
use serde_json::json;

use crate::{net, peers::channelhub::ChannelHub, stats};

const CONCURRENCY: usize = 64;
/// RFC 8410's PKCS#8 prefix of an Ed25519 private key, before its seed.
const PKCS8_PREFIX: [u8; 16] = [
    0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20,
];

#[derive(Debug, Clone, Serialize)]
pub struct Case {
    pub credential: String,
    pub connects: usize,
    pub failed: usize,
    pub seconds: f64,
    pub connects_per_second: f64,
    /// Server CPU (user + system) per connect, microseconds.
    pub server_cpu_us_per_connect: f64,
    /// Server VmRSS after the connects minus before, KiB per connect.
    pub rss_growth_kib_per_connect: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Outcome {
    pub cases: Vec<Case>,
}

/// Mints `count` EdDSA tokens for `channel` (distinct `sub` and `jti`).
fn mint(key: &SigningKey, kid: &str, channel: &str, count: usize) -> Result<Vec<String>> {
    let mut der = PKCS8_PREFIX.to_vec();
    der.extend_from_slice(&key.to_bytes());
    let encoding = EncodingKey::from_ed_der(&der);
    let mut header = Header::new(Algorithm::EdDSA);
    header.kid = Some(kid.into());
    let exp = jsonwebtoken::get_current_timestamp() + 3600;
    (0..count)
        .map(|i| {
            let claims = json!({"scopes": [format!("sub:{channel}")], "sub": format!("user-{i}"),
                                "jti": format!("bench-{i}"), "exp": exp});
            jsonwebtoken::encode(&header, &claims, &encoding).context("minting")
        })
        .collect()
}

async fn connect_all(
    addr: SocketAddr,
    pid: u32,
    credential: &str,
    paths: Vec<String>,
) -> Case {
    let rss_before = stats::rss_bytes(pid);
    let cpu_before = stats::cpu_seconds(pid);
    let started = Instant::now();
    let connects = paths.len();
    let failed = stream::iter(paths)
        .map(|path| async move {
            let socket = tokio::time::timeout(
                Duration::from_secs(15),
                net::websocket(net::next_source(), addr, &path),
            )
            .await;
            !matches!(socket, Ok(Ok(_)))
        })
        .buffer_unordered(CONCURRENCY)
        .filter(|failed| std::future::ready(*failed))
        .count()
        .await;
    let seconds = started.elapsed().as_secs_f64();
    // Let the server finish tearing the sessions down before reading its CPU.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let cpu = stats::cpu_seconds(pid) - cpu_before;
    let rss_growth = stats::rss_bytes(pid).saturating_sub(rss_before);
    let case = Case {
        credential: credential.into(),
        connects,
        failed,
        seconds,
        connects_per_second: connects as f64 / seconds,
        server_cpu_us_per_connect: cpu * 1e6 / connects as f64,
        rss_growth_kib_per_connect: rss_growth as f64 / 1024.0 / connects as f64,
    };
    println!(
        "  {:<34} {:>6} connects ({} failed) in {:>5.1}s: {:>7.0}/s, server CPU {:>6.0} µs/connect, RSS +{:.2} KiB/connect",
        case.credential,
        case.connects,
        case.failed,
        case.seconds,
        case.connects_per_second,
        case.server_cpu_us_per_connect,
        case.rss_growth_kib_per_connect
    );
    case
}

pub async fn run(hub: &ChannelHub, connects: usize) -> Result<Outcome> {
    let (private, public) = ("auth-private", "auth-public");
    hub.create_channel_with(private, false).await?;
    hub.create_channel(public).await?;
    let key = SigningKey::from_bytes(&[7u8; 32]);
    let kid = "bench-key";
    hub.trust_key(kid, &URL_SAFE_NO_PAD.encode(key.verifying_key().to_bytes()))
        .await?;
    let subscribe_token = hub.subscribe_token(private).await?;
    let distinct = mint(&key, kid, private, connects)?;
    let reused = mint(&key, kid, private, 1)?.remove(0);
    let path = |channel: &str, token: Option<&str>| match token {
        Some(token) => format!("/api/v1/channels/{channel}/ws?token={token}"),
        None => format!("/api/v1/channels/{channel}/ws"),
    };
    let (addr, pid) = (hub.addr, hub.pid());
    let mut cases = Vec::new();
    // Warm-up: the runtime's threads and buffers, outside every measurement.
    connect_all(addr, pid, "(warm-up, public, no credential)", vec![path(public, None); 500]).await;
    cases.push(
        connect_all(addr, pid, "public channel, no credential", vec![path(public, None); connects])
            .await,
    );
    cases.push(
        connect_all(
            addr,
            pid,
            "one chs_ subscribe token (cached)",
            vec![path(private, Some(&subscribe_token)); connects],
        )
        .await,
    );
    cases.push(
        connect_all(
            addr,
            pid,
            "one EdDSA JWT (cached)",
            vec![path(private, Some(&reused)); connects],
        )
        .await,
    );
    cases.push(
        connect_all(
            addr,
            pid,
            "distinct EdDSA JWTs (one each)",
            distinct.iter().map(|t| path(private, Some(t))).collect(),
        )
        .await,
    );
    Ok(Outcome { cases })
}
