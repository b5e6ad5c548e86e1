//! channelhub under test: starts `channelhub serve` on a fresh SQLite file or
//! PostgreSQL database, creates channels, publishes over the REST API,
//! subscribes over `/api/v1/channels/{id}/ws`, and pages through events.

use std::{
    net::{Ipv4Addr, SocketAddr},
    path::{Path, PathBuf},
    process::Command,
    time::Duration,
};

use anyhow::{Context, Result, bail};
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio_tungstenite::WebSocketStream;

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

/// A channelhub WebSocket subscriber: one text frame per event.
pub struct HubSubscriber(WebSocketStream<TcpStream>);

impl Subscriber for HubSubscriber {
    async fn recv<F: FnMut(&[u8]) + Send>(&mut self, on_event: &mut F) -> Result<bool> {
        read_event_frames(&mut self.0, |_| TextFrame::Event, on_event).await
    }
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
        Ok(HubSubscriber(
            net::websocket(source, self.addr, &path).await?,
        ))
    }

    async fn publish(&self, channel: &str, data: &[String]) -> Result<()> {
        self.publish_data(channel, data, None).await
    }

    fn max_batch(&self) -> usize {
        100
    }
}
