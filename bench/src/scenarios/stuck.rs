//! Stuck subscribers: N WebSocket subscribers that complete the handshake
//! with a small receive buffer and then never read, one subscriber that
//! reads everything, and a burst of large events on their one channel.
//! Measures what the server's resident memory (VmRSS) does before, during
//! and after the burst, whether the reader got every event, and how the
//! stuck sockets ended (closed with 1008, dropped, or still open).
//!
//! This is the bound of SPEC §9: memory held for a socket that does not read
//! is a small constant beyond the shared ring. Each count runs on a fresh
//! server, so the levels of one do not carry into the next.

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use anyhow::{Context, Result, bail};
use futures_util::{StreamExt, stream};
use serde::Serialize;
use tokio::net::TcpStream;
use tokio_tungstenite::{
    WebSocketStream,
    tungstenite::{Message, protocol::frame::coding::CloseCode},
};

use crate::{
    net,
    peers::{Peer, Subscriber, channelhub::ChannelHub},
    stats,
};

const CONNECT_CONCURRENCY: usize = 256;
/// The stuck clients' receive buffer (SO_RCVBUF, set before connecting).
pub const STUCK_RECV_BUFFER: usize = 4096;
/// Events per publish request (the server's batch limit).
const BATCH: usize = 100;
/// Events the publisher lets the reader fall behind: well inside the
/// server's queue bound (1024 frames / 8 MiB), so the reader is never cut.
const READER_MAX_LAG: u64 = 300;
/// How often VmRSS is read during the run.
const RSS_POLL: Duration = Duration::from_millis(50);
/// When RSS is read again after the last publish, in seconds.
const AFTER_POINTS: [u64; 3] = [2, 15, 45];
/// How long the reader may take to get the last events.
const READER_DRAIN: Duration = Duration::from_secs(30);
/// How long reading out all the stuck sockets at the end may take.
const STUCK_DRAIN: Duration = Duration::from_secs(60);

/// One run's settings.
#[derive(Debug, Clone, Serialize)]
pub struct Case {
    pub stuck: usize,
    /// Bytes of each event's data string.
    pub event_bytes: usize,
    /// Total event data to publish, in bytes.
    pub total_bytes: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Outcome {
    pub case: Case,
    pub connected: usize,
    pub connect_failed: usize,
    /// The server with no subscribers.
    pub rss_idle_mb: f64,
    /// With every subscriber connected, before the first publish.
    pub rss_before_mb: f64,
    /// Highest reading from the first publish to the last after-point.
    pub rss_peak_mb: f64,
    /// (seconds after the last publish, RSS).
    pub rss_after_mb: Vec<(u64, f64)>,
    pub published_events: u64,
    pub published_mb: f64,
    pub publish_seconds: f64,
    pub reader_received: u64,
    pub reader_complete: bool,
    /// Live subscribers the server still counted at the last after-point
    /// (the reader is one of them): stuck sessions it has not let go of.
    pub server_subscribers_after: u64,
    /// How the stuck sockets ended, read out at the very end.
    pub stuck_closed_1008: usize,
    pub stuck_closed_other: usize,
    /// Connection ended without a close frame (reset or EOF mid-stream).
    pub stuck_dropped: usize,
    /// Still open when the read-out ended.
    pub stuck_still_open: usize,
    /// The server's `channelhub_slow_consumer_disconnects_total` lines.
    pub slow_consumer_metrics: Vec<String>,
}

pub async fn run(hub: &ChannelHub, case: &Case) -> Result<Outcome> {
    let channel = format!("stuck-{}", case.stuck);
    hub.create_channel(&channel).await?;
    let pid = hub.pid();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let rss_idle = stats::rss_bytes(pid);

    // The stuck subscribers: handshake, then never read.
    let path = format!("/api/v1/channels/{channel}/ws");
    let addr = hub.addr;
    let mut stuck = Vec::with_capacity(case.stuck);
    let mut connect_failed = 0;
    let mut connecting = stream::iter(0..case.stuck)
        .map(|_| {
            let path = path.clone();
            async move {
                tokio::time::timeout(
                    Duration::from_secs(15),
                    net::websocket_with_recv_buffer(
                        net::next_source(),
                        addr,
                        &path,
                        STUCK_RECV_BUFFER,
                    ),
                )
                .await
                .context("handshake timed out")
                .and_then(|r| r)
            }
        })
        .buffer_unordered(CONNECT_CONCURRENCY);
    while let Some(result) = connecting.next().await {
        match result {
            Ok(ws) => stuck.push(ws),
            Err(err) => {
                if connect_failed == 0 {
                    eprintln!("  stuck subscriber connect failed: {err:#}");
                }
                connect_failed += 1;
            }
        }
    }
    drop(connecting);

    // The reader: takes everything as fast as it comes.
    let received = Arc::new(AtomicU64::new(0));
    let reader_closed = Arc::new(AtomicBool::new(false));
    let mut reader = hub.subscribe(&channel, net::next_source()).await?;
    let reader_task = {
        let (received, reader_closed) = (received.clone(), reader_closed.clone());
        tokio::spawn(async move {
            loop {
                let mut n = 0;
                let result = reader.recv(&mut |_, _| n += 1).await;
                received.fetch_add(n, Ordering::Relaxed);
                if !matches!(result, Ok(true)) {
                    reader_closed.store(true, Ordering::Relaxed);
                    return;
                }
            }
        })
    };
    tokio::time::sleep(Duration::from_secs(1)).await;
    let rss_before = stats::rss_bytes(pid);
    println!(
        "  {} stuck + 1 reader connected ({} failed): RSS idle {:.1} MiB, before the burst {:.1} MiB",
        stuck.len(),
        connect_failed,
        mb(rss_idle),
        mb(rss_before)
    );

    // RSS is polled from here to the end of the last after-point.
    let peak = Arc::new(AtomicU64::new(rss_before));
    let polling = Arc::new(AtomicBool::new(true));
    let poller = {
        let (peak, polling) = (peak.clone(), polling.clone());
        tokio::spawn(async move {
            while polling.load(Ordering::Relaxed) {
                peak.fetch_max(stats::rss_bytes(pid), Ordering::Relaxed);
                tokio::time::sleep(RSS_POLL).await;
            }
        })
    };

    // The burst: batches of large events, paced by the reader only.
    let events_total = (case.total_bytes / case.event_bytes as u64).max(BATCH as u64);
    let started = Instant::now();
    let mut published = 0u64;
    while published < events_total {
        let lag_deadline = Instant::now() + READER_DRAIN;
        while published.saturating_sub(received.load(Ordering::Relaxed)) > READER_MAX_LAG {
            if reader_closed.load(Ordering::Relaxed) || Instant::now() > lag_deadline {
                break;
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        if reader_closed.load(Ordering::Relaxed) {
            break;
        }
        let data: Vec<String> = (0..BATCH).map(|_| stats::stamp(case.event_bytes)).collect();
        hub.publish_data(&channel, &data, None).await?;
        published += BATCH as u64;
    }
    let publish_seconds = started.elapsed().as_secs_f64();
    let last_publish = Instant::now();
    let drain_deadline = last_publish + READER_DRAIN;
    while received.load(Ordering::Relaxed) < published
        && !reader_closed.load(Ordering::Relaxed)
        && Instant::now() < drain_deadline
    {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let reader_received = received.load(Ordering::Relaxed);
    println!(
        "  published {} events ({:.0} MB) in {:.1}s; reader got {}{}",
        published,
        (published * case.event_bytes as u64) as f64 / 1e6,
        publish_seconds,
        reader_received,
        if reader_closed.load(Ordering::Relaxed) {
            " and was closed"
        } else {
            ""
        }
    );

    let mut rss_after = Vec::new();
    for secs in AFTER_POINTS {
        let at = last_publish + Duration::from_secs(secs);
        tokio::time::sleep_until(at.into()).await;
        let rss = stats::rss_bytes(pid);
        println!(
            "  +{secs:>2}s after the last publish: RSS {:.1} MiB (peak so far {:.1} MiB)",
            mb(rss),
            mb(peak.load(Ordering::Relaxed))
        );
        rss_after.push((secs, mb(rss)));
    }
    polling.store(false, Ordering::Relaxed);
    let _ = poller.await;
    let server_subscribers_after = hub.subscriber_count(&channel).await.unwrap_or(0);
    let slow_consumer_metrics = hub
        .metrics_text()
        .await
        .map(|text| {
            text.lines()
                .filter(|l| l.starts_with("channelhub_slow_consumer_disconnects_total"))
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    reader_task.abort();

    // How each stuck socket ended: read what the server left in it.
    let endings: Vec<Ending> = stream::iter(stuck)
        .map(|ws| async move {
            tokio::time::timeout(STUCK_DRAIN, read_to_end(ws))
                .await
                .unwrap_or(Ending::Open)
        })
        .buffer_unordered(CONNECT_CONCURRENCY)
        .collect()
        .await;
    let count = |e: Ending| endings.iter().filter(|&&x| x == e).count();

    Ok(Outcome {
        case: case.clone(),
        connected: endings.len(),
        connect_failed,
        rss_idle_mb: mb(rss_idle),
        rss_before_mb: mb(rss_before),
        rss_peak_mb: mb(peak.load(Ordering::Relaxed)),
        rss_after_mb: rss_after,
        published_events: published,
        published_mb: (published * case.event_bytes as u64) as f64 / 1e6,
        publish_seconds,
        reader_received,
        reader_complete: reader_received >= published,
        server_subscribers_after,
        stuck_closed_1008: count(Ending::Policy),
        stuck_closed_other: count(Ending::OtherClose),
        stuck_dropped: count(Ending::Dropped),
        stuck_still_open: count(Ending::Open),
        slow_consumer_metrics,
    })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ending {
    Policy,
    OtherClose,
    Dropped,
    Open,
}

/// Reads a stuck socket until the server's close frame or the end of the
/// connection; the caller bounds the time.
async fn read_to_end(mut ws: WebSocketStream<TcpStream>) -> Ending {
    loop {
        match ws.next().await {
            Some(Ok(Message::Close(Some(frame)))) if frame.code == CloseCode::Policy => {
                return Ending::Policy;
            }
            Some(Ok(Message::Close(_))) => return Ending::OtherClose,
            Some(Ok(_)) => {}
            Some(Err(_)) | None => return Ending::Dropped,
        }
    }
}

fn mb(bytes: u64) -> f64 {
    bytes as f64 / 1048576.0
}

/// Refuses counts the open-files limit cannot hold (server and generator
/// each need one descriptor per socket).
pub fn check_limit(stuck: usize, fd_limit: usize, reserve: usize) -> Result<()> {
    if stuck + reserve > fd_limit {
        bail!("{stuck} stuck subscribers need more than the open-files limit {fd_limit}");
    }
    Ok(())
}
