//! channelhub under test: starts `channelhub serve` on a fresh SQLite file or
//! PostgreSQL database, creates channels, publishes over the REST API,
//! subscribes over `/api/v1/channels/{id}/ws` (or several channels over one
//! multiplexed socket, `/api/v1/ws`), and pages through events.

use std::{
    net::{Ipv4Addr, SocketAddr},
    path::{Path, PathBuf},
    process::Command,
    sync::atomic::{AtomicU64, Ordering},
    time::Duration,
};

use anyhow::{Context, Result, bail};
use futures_util::{SinkExt, StreamExt};
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio_tungstenite::{WebSocketStream, tungstenite::Message};

use super::{Peer, Subscriber, TextFrame, read_event_frames};
use crate::{
    net,
    procs::{Database, Db, Managed},
};

const ADMIN: &str = "bench-admin-token-0001";

/// A running channelhub server and an HTTP client for it.
pub struct ChannelHub {
    pub addr: SocketAddr,
    pub db: Db,
    base: String,
    http: reqwest::Client,
    // Field order matters: the server stops before its database is dropped.
    process: Managed,
    /// `None` when the database is shared with other nodes and owned elsewhere.
    _database: Option<Database>,
}

/// How to start a channelhub server.
pub struct Launch<'a> {
    pub bin: &'a Path,
    pub db: Db,
    pub work_dir: &'a Path,
    pub tag: &'a str,
    pub extra_args: Vec<String>,
}

/// The harness measures speed, not limits: its loopback load is exempt
/// (`--exempt-loopback`; servers before it existed exempted loopback by
/// default and do not know the flag, so it is passed only when listed).
fn exempt_loopback(bin: &Path) -> Option<&'static str> {
    let help = std::process::Command::new(bin)
        .args(["serve", "--help"])
        .output()
        .ok()?;
    String::from_utf8_lossy(&help.stdout)
        .contains("--exempt-loopback")
        .then_some("--exempt-loopback")
}

/// One channelhub node, or several sharing one database: what the REST
/// scenarios drive (each client sticks to one node).
pub trait HubNodes: Send + Sync + 'static {
    fn nodes(&self) -> &[ChannelHub];
}

impl HubNodes for ChannelHub {
    fn nodes(&self) -> &[ChannelHub] {
        std::slice::from_ref(self)
    }
}

/// One page of a poll; of each event only its id is decoded.
#[derive(Deserialize)]
pub struct Page {
    pub events: Vec<EventRef>,
    pub cursor: Option<String>,
    pub has_more: bool,
}

#[derive(Deserialize)]
pub struct EventRef {
    pub id: String,
}

impl ChannelHub {
    /// Starts a server on a fresh database of its own.
    pub async fn start(launch: Launch<'_>) -> Result<ChannelHub> {
        let database = Database::create(launch.db, launch.work_dir, launch.tag)?;
        let url = database.url.clone();
        ChannelHub::start_on(launch, &url, Some(database)).await
    }

    /// Starts a server on `database_url`; `database`, if given, is dropped
    /// after the server stops.
    pub async fn start_on(
        launch: Launch<'_>,
        database_url: &str,
        database: Option<Database>,
    ) -> Result<ChannelHub> {
        let mut cmd = Command::new(launch.bin);
        cmd.args(["serve", "--listen", "127.0.0.1:0", "--admin-token", ADMIN])
            .args(["--database-url", database_url])
            .args(exempt_loopback(launch.bin))
            .args(&launch.extra_args)
            .env("RUST_LOG", "warn");
        let log: PathBuf = launch.work_dir.join(format!("{}.log", launch.tag));
        let mut process = Managed::spawn(&format!("channelhub ({})", launch.tag), cmd, &log, true)?;
        let url = tokio::task::block_in_place(|| {
            process.wait_for_line("channelhub listening on http://", Duration::from_secs(60))
        })?;
        let addr: SocketAddr = url
            .parse()
            .with_context(|| format!("listen address {url:?}"))?;
        let http = reqwest::Client::builder()
            .pool_max_idle_per_host(256)
            .tcp_nodelay(true)
            .timeout(Duration::from_secs(30))
            .build()?;
        Ok(ChannelHub {
            addr,
            db: launch.db,
            base: format!("http://{addr}/api/v1"),
            http,
            process,
            _database: database,
        })
    }

    pub fn pid(&self) -> u32 {
        self.process.pid()
    }

    pub async fn create_channel(&self, id: &str) -> Result<()> {
        self.create_channel_with(id, true).await
    }

    pub async fn create_channel_with(&self, id: &str, public: bool) -> Result<()> {
        let resp = self
            .http
            .post(format!("{}/channels", self.base))
            .bearer_auth(ADMIN)
            .json(&json!({ "id": id, "is_public": public }))
            .send()
            .await?;
        match resp.status().as_u16() {
            201 | 409 => Ok(()),
            status => bail!("creating channel {id}: {status} {}", resp.text().await?),
        }
    }

    /// Trusts an Ed25519 public key (`x`, base64url) for JWTs naming `kid`.
    pub async fn trust_key(&self, kid: &str, x: &str) -> Result<()> {
        let resp = self
            .http
            .post(format!("{}/keys", self.base))
            .bearer_auth(ADMIN)
            .json(&json!({ "kid": kid, "x": x }))
            .send()
            .await?;
        match resp.status().as_u16() {
            201 => Ok(()),
            status => bail!("trusting key {kid}: {status} {}", resp.text().await?),
        }
    }

    /// A new subscribe token of a channel (its secret).
    pub async fn subscribe_token(&self, channel: &str) -> Result<String> {
        let created: Value = self
            .http
            .post(format!("{}/channels/{channel}/tokens", self.base))
            .bearer_auth(ADMIN)
            .json(&json!({ "kind": "subscribe" }))
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        Ok(created["token"].as_str().unwrap_or_default().to_owned())
    }

    /// Live subscribers of a channel, as the server counts them.
    pub async fn subscriber_count(&self, id: &str) -> Result<u64> {
        let channel: Value = self
            .http
            .get(format!("{}/channels/{id}", self.base))
            .bearer_auth(ADMIN)
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        Ok(channel["subscribers"].as_u64().unwrap_or(0))
    }

    /// POSTs one event per `data` string: a single-event body for one, a
    /// batch body for several.
    /// Publishes `data` as one event or a batch, with an `Idempotency-Key` if given.
    pub async fn publish_data(
        &self,
        channel: &str,
        data: &[String],
        idempotency_key: Option<&str>,
    ) -> Result<()> {
        let event = |d: &String| json!({ "type": "t", "data": { "b": d } });
        let body = match data {
            [one] => event(one),
            many => json!({ "events": many.iter().map(event).collect::<Vec<_>>() }),
        };
        let mut request = self
            .http
            .post(format!("{}/channels/{channel}/events", self.base))
            .bearer_auth(ADMIN)
            .json(&body);
        if let Some(key) = idempotency_key {
            request = request.header("Idempotency-Key", key);
        }
        let resp = request.send().await?;
        if resp.status().as_u16() != 201 {
            bail!(
                "publish to {channel}: {} {}",
                resp.status(),
                resp.text().await?
            );
        }
        Ok(())
    }

    /// The server's `/metrics` text.
    pub async fn metrics_text(&self) -> Result<String> {
        let url = format!("http://{}/metrics", self.addr);
        Ok(self
            .http
            .get(url)
            .send()
            .await?
            .error_for_status()?
            .text()
            .await?)
    }

    pub async fn poll(&self, channel: &str, cursor: Option<&str>, limit: u32) -> Result<Page> {
        let mut req = self
            .http
            .get(format!("{}/channels/{channel}/events", self.base))
            .query(&[("limit", limit.to_string())]);
        if let Some(cursor) = cursor {
            req = req.query(&[("cursor", cursor)]);
        }
        Ok(req.send().await?.error_for_status()?.json().await?)
    }
}

/// A channelhub WebSocket subscriber: on the per-channel route every text
/// frame is an event; on the multiplexed socket events (the only frames
/// with a top-level `id`) name their `channel_id`, and control frames are
/// objects with one key.
pub struct HubSubscriber {
    ws: WebSocketStream<TcpStream>,
    /// The multiplexed socket's channels, in subscription order; empty on
    /// the per-channel route.
    channels: Vec<String>,
    /// Subscriptions the server ended (`unsubscribed`), not yet taken.
    ended: Vec<(usize, String)>,
}

/// Frames of multiplexed sockets that were neither events, `subscribed`,
/// `caught_up` nor `unsubscribed` (an `error` or a `gap` nobody asked for),
/// over the whole run; the first one is printed.
pub static MUX_UNEXPECTED_FRAMES: AtomicU64 = AtomicU64::new(0);

impl Subscriber for HubSubscriber {
    async fn recv<F: FnMut(usize, &[u8]) + Send>(&mut self, on_event: &mut F) -> Result<bool> {
        let HubSubscriber {
            ws,
            channels,
            ended,
        } = self;
        if channels.is_empty() {
            return read_event_frames(ws, |_| TextFrame::Event(0), on_event).await;
        }
        read_event_frames(ws, |frame| mux_frame(frame, channels, ended), on_event).await
    }

    fn take_ended(&mut self) -> Vec<(usize, String)> {
        std::mem::take(&mut self.ended)
    }
}

/// What one frame of a multiplexed socket holding `channels` is. An event
/// of a channel the socket does not hold counts as unexpected.
fn mux_frame(frame: &[u8], channels: &[String], ended: &mut Vec<(usize, String)>) -> TextFrame {
    if frame.starts_with(br#"{"id":"#) {
        let index = event_channel(frame)
            .and_then(|c| channels.iter().position(|x| same_name(x.as_bytes(), c)));
        if let Some(i) = index {
            return TextFrame::Event(i);
        }
    } else if frame.starts_with(br#"{"subscribed":"#) || frame.starts_with(br#"{"caught_up":"#) {
        return TextFrame::Other;
    }
    let text = String::from_utf8_lossy(frame).into_owned();
    if frame.starts_with(br#"{"unsubscribed":"#) {
        let channel = serde_json::from_str::<Value>(&text)
            .ok()
            .and_then(|v| v["unsubscribed"]["channel"].as_str().map(str::to_owned));
        if let Some(i) = channel.and_then(|c| channels.iter().position(|x| *x == c)) {
            ended.push((i, text));
            return TextFrame::Other;
        }
    }
    if MUX_UNEXPECTED_FRAMES.fetch_add(1, Ordering::Relaxed) == 0 {
        eprintln!("  multiplexed socket sent an unexpected frame: {text}");
    }
    TextFrame::Other
}

/// The `channel_id` of an event frame: `{"id":"<26-character ULID>","channel_id":"…"`
/// (looked for in the first 160 bytes if the id is not a ULID). This runs
/// once per frame received, so it avoids a search where it can.
fn event_channel(frame: &[u8]) -> Option<&[u8]> {
    const KEY: &[u8] = br#"","channel_id":""#;
    const AT: usize = r#"{"id":""#.len() + 26;
    let start = if frame.get(AT..AT + KEY.len()) == Some(KEY) {
        AT + KEY.len()
    } else {
        let head = &frame[..frame.len().min(160)];
        head.windows(KEY.len()).position(|w| w == KEY)? + KEY.len()
    };
    let len = frame[start..].iter().position(|&b| b == b'"')?;
    Some(&frame[start..start + len])
}

/// Channel names of one run share their prefix: compare from the end.
fn same_name(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().rev().zip(b.iter().rev()).all(|(x, y)| x == y)
}

impl Peer for ChannelHub {
    type Sub = HubSubscriber;

    fn name(&self) -> String {
        "channelhub".to_string()
    }

    fn pids(&self) -> Vec<u32> {
        vec![self.process.pid()]
    }

    async fn prepare_channel(&self, channel: &str) -> Result<()> {
        self.create_channel(channel).await
    }

    async fn subscribe(&self, channel: &str, source: Ipv4Addr) -> Result<HubSubscriber> {
        // The server joins the room before it answers 101.
        let path = format!("/api/v1/channels/{channel}/ws");
        Ok(HubSubscriber {
            ws: net::websocket(source, self.addr, &path).await?,
            channels: Vec::new(),
            ended: Vec::new(),
        })
    }

    /// One multiplexed socket (`/api/v1/ws`): a `subscribe` frame per
    /// channel, sent at once; ready when each has its `subscribed` (the
    /// server joins the room before it answers).
    async fn subscribe_many(&self, channels: &[String], source: Ipv4Addr) -> Result<HubSubscriber> {
        let mut ws = net::websocket(source, self.addr, "/api/v1/ws").await?;
        for (i, channel) in channels.iter().enumerate() {
            let frame = json!({ "subscribe": { "ref": format!("s{i}"), "channel": channel } });
            ws.feed(Message::text(frame.to_string())).await?;
        }
        ws.flush().await?;
        let mut subscribed = 0;
        while subscribed < channels.len() {
            match ws.next().await {
                Some(Ok(Message::Text(text))) => {
                    if text.starts_with(r#"{"subscribed":"#) {
                        subscribed += 1;
                    } else if text.starts_with(r#"{"error":"#)
                        || text.starts_with(r#"{"unsubscribed":"#)
                    {
                        bail!(
                            "the multiplexed socket refused a subscription: {}",
                            text.as_str()
                        );
                    }
                }
                Some(Ok(Message::Close(close))) => {
                    bail!("the multiplexed socket closed during subscribe: {close:?}")
                }
                None => bail!("the multiplexed socket closed during subscribe"),
                Some(Ok(_)) => {}
                Some(Err(err)) => return Err(err.into()),
            }
        }
        Ok(HubSubscriber {
            ws,
            channels: channels.to_vec(),
            ended: Vec::new(),
        })
    }

    async fn publish(&self, channel: &str, data: &[String]) -> Result<()> {
        self.publish_data(channel, data, None).await
    }

    fn max_batch(&self) -> usize {
        100
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multiplexed_frames_are_told_apart() {
        let channels = vec!["fan-mux-1".to_string(), "fan-mux-11".to_string()];
        let mut ended = Vec::new();
        let mut kind = |frame: &str| match mux_frame(frame.as_bytes(), &channels, &mut ended) {
            TextFrame::Event(i) => Some(i),
            _ => None,
        };
        let event = r#"{"id":"01JZ8Y3N5V6W7X8Y9Z0A1B2C3D","channel_id":"fan-mux-11","type":"t"}"#;
        assert_eq!(kind(event), Some(1));
        let odd_id = r#"{"id":"e-1","channel_id":"fan-mux-1","type":"t"}"#;
        assert_eq!(kind(odd_id), Some(0));
        assert_eq!(kind(r#"{"subscribed":{"ref":"s0","channel":"fan-mux-1"}}"#), None);
        assert_eq!(kind(r#"{"caught_up":{"channel":"fan-mux-1","position":"x"}}"#), None);
        let other = r#"{"id":"01JZ8Y3N5V6W7X8Y9Z0A1B2C3D","channel_id":"fan-mux-2"}"#;
        assert_eq!(kind(other), None, "an event of a channel not held is not counted");
        assert_eq!(
            kind(r#"{"unsubscribed":{"ref":null,"channel":"fan-mux-11","code":4000}}"#),
            None
        );
        assert_eq!(ended.len(), 1);
        assert_eq!(ended[0].0, 1);
    }
}
