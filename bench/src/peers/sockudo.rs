//! Sockudo as a peer: a Pusher-protocol server configured entirely through
//! its environment (one app, local adapter, no rate limits, no metrics port).
//! Subscribers speak Pusher protocol 7 over `/app/KEY` (`pusher:subscribe` to
//! a public channel); the publisher uses the HTTP events API with Pusher
//! request signing (`body_md5`, HMAC-SHA256 `auth_signature`).

use std::{
    net::{Ipv4Addr, SocketAddr},
    path::Path,
    process::Command,
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use anyhow::{Result, bail};
use futures_util::{SinkExt, StreamExt};
use hmac::{Hmac, KeyInit, Mac};
use md5::{Digest, Md5};
use serde_json::json;
use sha2::Sha256;
use tokio::net::TcpStream;
use tokio_tungstenite::{WebSocketStream, tungstenite::Message};

use super::{Peer, Subscriber, TextFrame, read_event_frames};
use crate::{
    net,
    procs::{self, Managed},
};

const APP_ID: &str = "bench";
const APP_KEY: &str = "bench-key";
const APP_SECRET: &str = "bench-secret";
const BATCH: usize = 100;

pub struct Sockudo {
    addr: SocketAddr,
    http: reqwest::Client,
    process: Managed,
}

impl Sockudo {
    pub async fn start(bin: &Path, work_dir: &Path) -> Result<Sockudo> {
        let port = procs::free_port()?;
        let mut cmd = Command::new(bin);
        // Run where no config/config.toml exists, so only these settings apply.
        let dir = work_dir.join("sockudo");
        std::fs::create_dir_all(&dir)?;
        cmd.current_dir(&dir)
            .env("HOST", "127.0.0.1")
            .env("PORT", port.to_string())
            .env("METRICS_ENABLED", "false")
            .env("RATE_LIMITER_ENABLED", "false")
            .env("SOCKUDO_MAX_CONNECTIONS", "1000000")
            .env("SOCKUDO_DEFAULT_APP_ID", APP_ID)
            .env("SOCKUDO_DEFAULT_APP_KEY", APP_KEY)
            .env("SOCKUDO_DEFAULT_APP_SECRET", APP_SECRET)
            .env("SOCKUDO_DEFAULT_APP_MAX_CONNECTIONS", "1000000")
            .env(
                "SOCKUDO_DEFAULT_APP_MAX_BACKEND_EVENTS_PER_SECOND",
                "100000000",
            )
            .env(
                "SOCKUDO_DEFAULT_APP_MAX_EVENT_BATCH_SIZE",
                BATCH.to_string(),
            )
            .env("RUST_LOG", "warn");
        let process = Managed::spawn("sockudo", cmd, &work_dir.join("sockudo.log"), false)?;
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        tokio::task::block_in_place(|| procs::wait_for_port(addr, Duration::from_secs(30)))?;
        let http = reqwest::Client::builder()
            .pool_max_idle_per_host(64)
            .tcp_nodelay(true)
            .timeout(Duration::from_secs(30))
            .build()?;
        Ok(Sockudo {
            addr,
            http,
            process,
        })
    }

    /// POSTs `body` to `path` with Pusher's query-string signature.
    async fn signed_post(&self, path: &str, body: String) -> Result<()> {
        let timestamp = SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs();
        let body_md5 = hex::encode(Md5::digest(body.as_bytes()));
        // Parameters in sorted order, as the signature requires.
        let query = format!(
            "auth_key={APP_KEY}&auth_timestamp={timestamp}&auth_version=1.0&body_md5={body_md5}"
        );
        let mut mac = Hmac::<Sha256>::new_from_slice(APP_SECRET.as_bytes())?;
        mac.update(format!("POST\n{path}\n{query}").as_bytes());
        let signature = hex::encode(mac.finalize().into_bytes());
        let resp = self
            .http
            .post(format!(
                "http://{}{path}?{query}&auth_signature={signature}",
                self.addr
            ))
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await?;
        if !resp.status().is_success() {
            bail!("sockudo {path}: {} {}", resp.status(), resp.text().await?);
        }
        Ok(())
    }
}

/// A Pusher-protocol subscriber: one text frame per event.
pub struct SockudoSubscriber(WebSocketStream<TcpStream>);

impl SockudoSubscriber {
    async fn next_text(&mut self) -> Result<Option<String>> {
        loop {
            match self.0.next().await {
                Some(Ok(Message::Text(t))) => return Ok(Some(t.as_str().to_owned())),
                Some(Ok(Message::Close(_))) | None => return Ok(None),
                Some(Ok(_)) => continue,
                Some(Err(err)) => return Err(err.into()),
            }
        }
    }
}

impl Subscriber for SockudoSubscriber {
    async fn recv<F: FnMut(usize, &[u8]) + Send>(&mut self, on_event: &mut F) -> Result<bool> {
        read_event_frames(&mut self.0, classify, on_event).await
    }
}

/// Pusher protocol messages are not events; its pings need a pong.
fn classify(frame: &[u8]) -> TextFrame {
    if frame.starts_with(br#"{"event":"pusher:ping""#) {
        TextFrame::Answer(r#"{"event":"pusher:pong","data":{}}"#)
    } else if frame
        .windows(8)
        .any(|w| w == b"\"pusher:" || w == b"pusher_i")
    {
        TextFrame::Other
    } else {
        TextFrame::Event(0)
    }
}

impl Peer for Sockudo {
    type Sub = SockudoSubscriber;

    fn name(&self) -> String {
        "sockudo".to_string()
    }

    fn pids(&self) -> Vec<u32> {
        vec![self.process.pid()]
    }

    async fn prepare_channel(&self, _channel: &str) -> Result<()> {
        Ok(()) // public channels exist once subscribed to
    }

    async fn subscribe(&self, channel: &str, source: Ipv4Addr) -> Result<SockudoSubscriber> {
        let path = format!("/app/{APP_KEY}?protocol=7&client=bench&version=1.0");
        let mut sub = SockudoSubscriber(net::websocket(source, self.addr, &path).await?);
        let subscribe = json!({ "event": "pusher:subscribe", "data": { "channel": channel } });
        let mut sent = false;
        while let Some(text) = sub.next_text().await? {
            if text.contains("pusher:connection_established") && !sent {
                sub.0.send(Message::text(subscribe.to_string())).await?;
                sent = true;
            } else if text.contains("subscription_succeeded") {
                return Ok(sub);
            } else if text.contains("pusher:error") {
                bail!("sockudo refused the subscription: {text}");
            }
        }
        bail!("sockudo closed the connection during subscribe")
    }

    async fn publish(&self, channel: &str, data: &[String]) -> Result<()> {
        let event = |d: &String| json!({ "name": "t", "channel": channel, "data": json!({ "b": d }).to_string() });
        match data {
            [one] => {
                self.signed_post(&format!("/apps/{APP_ID}/events"), event(one).to_string())
                    .await
            }
            many => {
                let body = json!({ "batch": many.iter().map(event).collect::<Vec<_>>() });
                self.signed_post(&format!("/apps/{APP_ID}/batch_events"), body.to_string())
                    .await
            }
        }
    }

    fn max_batch(&self) -> usize {
        BATCH
    }
}
