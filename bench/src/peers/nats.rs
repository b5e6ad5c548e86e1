//! NATS as a peer: a private `nats-server` (never the system one on 4222) on
//! free ports with a WebSocket listener. Subscribers speak the NATS text
//! protocol over WebSocket (CONNECT, one SUB per subject, PING/PONG, MSG); the publisher
//! pipelines PUBs over one plain TCP connection.

use std::{
    net::{Ipv4Addr, SocketAddr},
    path::Path,
    process::Command,
    time::Duration,
};

use anyhow::{Context, Result, bail};
use futures_util::{SinkExt, StreamExt};
use tokio::{
    io::{AsyncBufReadExt, AsyncWriteExt, BufReader, BufWriter},
    net::{TcpStream, tcp::OwnedWriteHalf},
    sync::Mutex,
    task::JoinHandle,
};
use tokio_tungstenite::{WebSocketStream, tungstenite::Message};

use super::{Peer, Subscriber};
use crate::{
    net,
    procs::{self, Managed},
};

const CONNECT: &str = "CONNECT {\"verbose\":false,\"pedantic\":false,\"protocol\":1}\r\n";

pub struct Nats {
    ws_addr: SocketAddr,
    publisher: std::sync::Arc<Mutex<BufWriter<OwnedWriteHalf>>>,
    publisher_reader: JoinHandle<()>,
    process: Managed,
}

impl Nats {
    pub async fn start(bin: &Path, work_dir: &Path) -> Result<Nats> {
        let (port, ws_port) = (procs::free_port()?, procs::free_port()?);
        let config = work_dir.join("nats.conf");
        std::fs::write(
            &config,
            format!(
                "listen: 127.0.0.1:{port}\nmax_payload: 1MB\nwrite_deadline: \"10s\"\n\
                 websocket {{\n  listen: \"127.0.0.1:{ws_port}\"\n  no_tls: true\n}}\n"
            ),
        )?;
        let mut cmd = Command::new(bin);
        cmd.arg("-c").arg(&config);
        let process = Managed::spawn("nats-server", cmd, &work_dir.join("nats.log"), false)?;
        let tcp_addr = SocketAddr::from(([127, 0, 0, 1], port));
        let ws_addr = SocketAddr::from(([127, 0, 0, 1], ws_port));
        tokio::task::block_in_place(|| {
            procs::wait_for_port(tcp_addr, Duration::from_secs(10))?;
            procs::wait_for_port(ws_addr, Duration::from_secs(10))
        })?;

        // The publisher: one TCP connection; a reader task answers server PINGs.
        let stream = TcpStream::connect(tcp_addr).await?;
        stream.set_nodelay(true)?;
        let (read, write) = stream.into_split();
        let publisher =
            std::sync::Arc::new(Mutex::new(BufWriter::with_capacity(256 * 1024, write)));
        {
            let mut w = publisher.lock().await;
            w.write_all(CONNECT.as_bytes()).await?;
            w.flush().await?;
        }
        let writer = publisher.clone();
        let publisher_reader = tokio::spawn(async move {
            let mut lines = BufReader::new(read).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                if line == "PING" {
                    let mut w = writer.lock().await;
                    let _ = w.write_all(b"PONG\r\n").await;
                    let _ = w.flush().await;
                } else if line.starts_with("-ERR") {
                    eprintln!("nats publisher: {line}");
                }
            }
        });
        Ok(Nats {
            ws_addr,
            publisher,
            publisher_reader,
            process,
        })
    }
}

impl Drop for Nats {
    fn drop(&mut self) {
        self.publisher_reader.abort();
    }
}

/// A NATS subscriber over WebSocket. Frames carry protocol bytes that may
/// split or join commands, so they are buffered and parsed as a stream.
pub struct NatsSubscriber {
    ws: WebSocketStream<TcpStream>,
    buf: Vec<u8>,
}

/// What one pass over the buffer found besides messages.
#[derive(Default)]
struct Control {
    pings: usize,
    pong: bool,
}

impl NatsSubscriber {
    /// Parses every complete command in the buffer; a message goes to
    /// `on_msg` with its subscription's index (its sid − 1).
    fn drain<F: FnMut(usize, &[u8])>(&mut self, on_msg: &mut F) -> Result<Control> {
        let mut control = Control::default();
        let mut pos = 0;
        let buf = &self.buf;
        while let Some(nl) = buf[pos..].iter().position(|&b| b == b'\n') {
            let line_end = pos + nl + 1;
            let line = buf[pos..pos + nl]
                .strip_suffix(b"\r")
                .unwrap_or(&buf[pos..pos + nl]);
            if line.starts_with(b"MSG ") {
                // MSG <subject> <sid> [reply-to] <#bytes>
                let len: usize = line
                    .rsplit(|&b| b == b' ')
                    .next()
                    .and_then(|t| std::str::from_utf8(t).ok())
                    .and_then(|t| t.parse().ok())
                    .context("malformed MSG line")?;
                if buf.len() < line_end + len + 2 {
                    break; // payload not complete yet
                }
                let sid: usize = line
                    .split(|&b| b == b' ')
                    .nth(2)
                    .and_then(|t| std::str::from_utf8(t).ok())
                    .and_then(|t| t.parse().ok())
                    .context("malformed MSG line")?;
                on_msg(sid.saturating_sub(1), &buf[line_end..line_end + len]);
                pos = line_end + len + 2;
                continue;
            }
            match line {
                b"PING" => control.pings += 1,
                b"PONG" => control.pong = true,
                l if l.starts_with(b"-ERR") => bail!("nats: {}", String::from_utf8_lossy(l)),
                _ => {} // INFO, +OK
            }
            pos = line_end;
        }
        self.buf.drain(..pos);
        Ok(control)
    }

    /// Reads one frame into the buffer; false when the socket closed.
    async fn fill(&mut self) -> Result<bool> {
        loop {
            match self.ws.next().await {
                Some(Ok(Message::Binary(b))) => self.buf.extend_from_slice(&b),
                Some(Ok(Message::Text(t))) => self.buf.extend_from_slice(t.as_bytes()),
                Some(Ok(Message::Close(_))) | None => return Ok(false),
                Some(Ok(_)) => continue,
                Some(Err(err)) => return Err(err.into()),
            }
            return Ok(true);
        }
    }

    async fn send(&mut self, text: &str) -> Result<()> {
        self.ws
            .send(Message::binary(text.as_bytes().to_vec()))
            .await?;
        Ok(())
    }
}

impl Subscriber for NatsSubscriber {
    async fn recv<F: FnMut(usize, &[u8]) + Send>(&mut self, on_event: &mut F) -> Result<bool> {
        if !self.fill().await? {
            return Ok(false);
        }
        let control = self.drain(on_event)?;
        for _ in 0..control.pings {
            self.send("PONG\r\n").await?;
        }
        Ok(true)
    }
}

impl Peer for Nats {
    type Sub = NatsSubscriber;

    fn name(&self) -> String {
        "nats".to_string()
    }

    fn pids(&self) -> Vec<u32> {
        vec![self.process.pid()]
    }

    async fn prepare_channel(&self, _channel: &str) -> Result<()> {
        Ok(()) // subjects need no setup
    }

    async fn subscribe(&self, channel: &str, source: Ipv4Addr) -> Result<NatsSubscriber> {
        self.subscribe_many(&[channel.to_owned()], source).await
    }

    /// One connection, one SUB per subject (sid i + 1 for the i-th).
    async fn subscribe_many(
        &self,
        channels: &[String],
        source: Ipv4Addr,
    ) -> Result<NatsSubscriber> {
        let ws = net::websocket(source, self.ws_addr, "/").await?;
        let mut sub = NatsSubscriber {
            ws,
            buf: Vec::with_capacity(4096),
        };
        let mut setup = CONNECT.to_owned();
        for (i, channel) in channels.iter().enumerate() {
            setup.push_str(&format!("SUB {channel} {}\r\n", i + 1));
        }
        setup.push_str("PING\r\n");
        sub.send(&setup).await?;
        // The PONG answers our PING, so the SUB before it is registered.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            if !tokio::time::timeout_at(deadline, sub.fill())
                .await
                .context("no PONG from nats")??
            {
                bail!("nats closed the subscriber during setup");
            }
            if sub.drain(&mut |_, _| {})?.pong {
                return Ok(sub);
            }
        }
    }

    async fn publish(&self, channel: &str, data: &[String]) -> Result<()> {
        let mut out = Vec::with_capacity(data.iter().map(|d| d.len() + 40).sum());
        for d in data {
            let payload = format!("{{\"b\":\"{d}\"}}");
            out.extend_from_slice(format!("PUB {channel} {}\r\n", payload.len()).as_bytes());
            out.extend_from_slice(payload.as_bytes());
            out.extend_from_slice(b"\r\n");
        }
        let mut w = self.publisher.lock().await;
        w.write_all(&out).await?;
        w.flush().await?;
        Ok(())
    }

    fn max_batch(&self) -> usize {
        100
    }
}
