//! Fan-out: N subscribers spread over C channels, one publisher at a fixed
//! rate or at the highest rate the server sustains. Measures frames delivered
//! per second (all subscribers together), publish-to-receive latency, and
//! whether every subscriber got every event. Runs unchanged against any
//! [`Peer`]. A subscriber is one subscription: normally a socket each, or
//! `per_socket` of them on one socket that holds several (the mux scenario).
//!
//! "Maximum rate" is closed-loop: publishers keep at most `MAX_LAG_EVENTS`
//! events per channel in flight (published but not yet received by the
//! channel's slowest subscriber), so the server's delivery speed, not queue
//! overflow, sets the pace.

use std::{
    sync::{
        Arc, LazyLock,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use anyhow::Result;
use serde::Serialize;
use tokio::sync::{Semaphore, watch};

use crate::{
    net,
    peers::{Peer, Subscriber},
    stats::{self, CpuSplit, Histogram, Latency},
};

/// Subscriber connections opened at once.
const CONNECT_CONCURRENCY: usize = 256;
/// Events a max-rate publisher may have in flight: published but not yet
/// received by the channel's slowest subscriber.
const MAX_LAG_EVENTS: u64 = 256;
/// The received count of a subscriber that failed to connect or was closed:
/// it no longer holds the publisher back.
const GONE: u64 = u64::MAX;
/// Concurrent publish requests at maximum rate, and at most at a fixed rate.
const MAX_RATE_PUBLISHERS: usize = 4;
const FIXED_RATE_PUBLISHERS: usize = 64;
/// How long delivery may make no progress before the run stops waiting.
const DRAIN_STALL: Duration = Duration::from_secs(3);
const DRAIN_MAX: Duration = Duration::from_secs(15);

/// Waits until `counter` reaches `expected`, or has not moved for
/// `DRAIN_STALL`, or `DRAIN_MAX` has passed; answers when it last moved
/// (the mcp scenario drains the same way).
pub(crate) async fn drain(counter: &AtomicU64, expected: u64) -> Instant {
    let deadline = Instant::now() + DRAIN_MAX;
    let mut last = (counter.load(Ordering::Relaxed), Instant::now());
    loop {
        let now = counter.load(Ordering::Relaxed);
        if now >= expected || Instant::now() > deadline {
            return last.1;
        }
        if now != last.0 {
            last = (now, Instant::now());
        } else if last.1.elapsed() > DRAIN_STALL {
            return last.1;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Where publishers run, apart from the receivers (see `run`; the mcp
/// scenario's publisher runs here too).
pub(crate) static PUBLISHER_RUNTIME: LazyLock<tokio::runtime::Runtime> = LazyLock::new(|| {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name("publisher")
        .enable_all()
        .build()
        .expect("a runtime for the publisher")
});

/// One fan-out workload.
#[derive(Debug, Clone, Serialize)]
pub struct Case {
    /// Subscriptions in all (sockets × `per_socket`).
    pub subscribers: usize,
    pub channels: usize,
    /// Subscriptions each socket holds: 1 = a socket per subscription; more
    /// = one socket subscribing that many channels ([`Peer::subscribe_many`]).
    pub per_socket: usize,
    /// Events per second across all channels; `None` = maximum rate.
    pub rate: Option<u32>,
    pub seconds: u64,
    /// Bytes of the stamped string in each event's data.
    pub payload_bytes: usize,
}

impl Case {
    pub fn label(&self) -> String {
        let rate = self.rate.map_or("max".to_string(), |r| format!("{r}/s"));
        match self.per_socket {
            0 | 1 => format!("{} subs / {} ch / {rate}", self.subscribers, self.channels),
            k => format!(
                "{} sockets x {k} subs / {} ch / {rate}",
                self.sockets(),
                self.channels
            ),
        }
    }

    pub fn sockets(&self) -> usize {
        self.subscribers / self.per_socket.max(1)
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Outcome {
    pub target: String,
    /// Server processes the subscribers were spread over (nodes).
    pub server_processes: usize,
    pub case: Case,
    pub label: String,
    /// Subscriptions connected.
    pub connected: usize,
    pub connected_sockets: usize,
    pub connect_seconds: f64,
    /// Sum over all server processes: before the subscribers connected, and
    /// once all of them were in (idle, before the first publish).
    pub rss_before_connect_mb: f64,
    pub rss_connected_mb: f64,
    pub published_events: u64,
    pub publish_events_per_s: f64,
    pub expected_frames: u64,
    pub delivered_frames: u64,
    pub frames_per_s: f64,
    pub latency: Latency,
    pub complete_subscribers: usize,
    pub missing_frames: u64,
    /// Subscriptions the server ended: their socket closed, or (on a socket
    /// of several) it ended them alone.
    pub closed_by_server: usize,
    /// The first frames that ended a subscription alone (at most 5).
    pub ended_frames: Vec<String>,
    pub publish_errors: u64,
    /// Server CPU is the sum over all server processes.
    pub cpu: CpuSplit,
    /// Server CPU (user + system, all processes) from the first publish to
    /// the end of delivery, per frame delivered.
    pub server_cpu_us_per_frame: f64,
    /// Sum over all server processes.
    pub server_rss_mb: f64,
}

/// Shared between subscriber tasks and the publisher.
struct Counters {
    delivered: AtomicU64,
    latency: Histogram,
    published: Vec<AtomicU64>, // per channel
    received: Vec<AtomicU64>,  // per subscription
    publish_errors: AtomicU64,
}

pub async fn run<P: Peer>(peer: Arc<P>, case: &Case, run_tag: &str) -> Result<Outcome> {
    // Subscription i (socket i / k, its (i % k)-th) is on channel i % C;
    // with k <= C the k channels of one socket are distinct.
    let k = case.per_socket.max(1);
    let sockets = case.sockets();
    anyhow::ensure!(
        k <= case.channels && sockets * k == case.subscribers,
        "{}: subscriptions must be sockets x per_socket, with per_socket <= channels",
        case.label()
    );
    let channels: Vec<String> = (0..case.channels)
        .map(|c| format!("fan-{run_tag}-{c}"))
        .collect();
    for ch in &channels {
        peer.prepare_channel(ch).await?;
    }
    let counters = Arc::new(Counters {
        delivered: AtomicU64::new(0),
        latency: Histogram::default(),
        published: (0..case.channels).map(|_| AtomicU64::new(0)).collect(),
        received: (0..case.subscribers).map(|_| AtomicU64::new(0)).collect(),
        publish_errors: AtomicU64::new(0),
    });
    let (stop_tx, stop_rx) = watch::channel(false);
    let pids = peer.pids();
    let rss_mb = || pids.iter().map(|&p| stats::rss_bytes(p)).sum::<u64>() as f64 / 1048576.0;
    let rss_before_connect_mb = rss_mb();

    // Connect every socket; each starts receiving as soon as it is in.
    let connect_start = Instant::now();
    let gate = Arc::new(Semaphore::new(CONNECT_CONCURRENCY));
    let mut connecting = Vec::with_capacity(sockets);
    for s in 0..sockets {
        let (peer, gate, counters) = (peer.clone(), gate.clone(), counters.clone());
        let names: Vec<String> = (s * k..(s + 1) * k)
            .map(|i| channels[i % case.channels].clone())
            .collect();
        let stop = stop_rx.clone();
        connecting.push(tokio::spawn(async move {
            let _permit = gate.acquire().await?;
            match subscribe_with_retry(&*peer, &names).await {
                Ok(sub) => Ok(tokio::spawn(receive(sub, s * k, k, counters, stop))),
                Err(err) => {
                    for i in s * k..(s + 1) * k {
                        counters.received[i].store(GONE, Ordering::Relaxed);
                    }
                    Err(err)
                }
            }
        }));
    }
    let mut receivers = Vec::with_capacity(sockets);
    let mut subs_per_channel = vec![0u64; case.channels];
    let mut connect_errors = 0;
    for (s, c) in connecting.into_iter().enumerate() {
        match c.await? {
            Ok(handle) => {
                receivers.push(handle);
                for i in s * k..(s + 1) * k {
                    subs_per_channel[i % case.channels] += 1;
                }
            }
            Err(err) => {
                if connect_errors == 0 {
                    eprintln!("  subscriber connect failed: {err:#}");
                }
                connect_errors += 1;
            }
        }
    }
    let connect_seconds = connect_start.elapsed().as_secs_f64();
    if connect_errors > 0 {
        eprintln!("  {connect_errors} of {sockets} subscriber sockets failed to connect");
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let rss_connected_mb = rss_mb();

    // Publish, then wait for delivery to finish.
    let cpu = stats::CpuSpan::start(&pids);
    let start = Instant::now();
    {
        // The publisher runs on its own thread: on the runtime that drives
        // thousands of receiving sockets its ticks would starve, and the
        // offered rate would be the generator's limit, not the workload's.
        let (peer, case, channels) = (peer.clone(), case.clone(), channels.clone());
        let counters = counters.clone();
        PUBLISHER_RUNTIME
            .spawn(async move { publish(&peer, &case, &channels, &counters).await })
            .await?;
    }
    let publish_seconds = start.elapsed().as_secs_f64();
    let expected: u64 = (0..case.channels)
        .map(|c| counters.published[c].load(Ordering::Relaxed) * subs_per_channel[c])
        .sum();
    let last_moved = drain(&counters.delivered, expected).await;
    let delivered = counters.delivered.load(Ordering::Relaxed);
    // Time until the last frame arrived, not the stall detection after it.
    let span = if delivered >= expected {
        start.elapsed()
    } else {
        last_moved - start
    };
    let cpu = cpu.finish();
    let server_rss_mb = rss_mb();
    let _ = stop_tx.send(true);

    let mut complete = 0;
    let mut missing = 0;
    let mut closed = 0;
    let mut ended_frames = Vec::new();
    for r in receivers {
        let report = r.await?;
        for (j, &got) in report.received.iter().enumerate() {
            let channel = (report.first + j) % case.channels;
            let want = counters.published[channel].load(Ordering::Relaxed);
            if got >= want {
                complete += 1;
            } else {
                missing += want - got;
            }
        }
        closed += report.gone.iter().filter(|&&g| g).count();
        ended_frames.extend(
            report
                .ended_frames
                .into_iter()
                .take(5 - ended_frames.len().min(5)),
        );
    }
    let published: u64 = counters
        .published
        .iter()
        .map(|p| p.load(Ordering::Relaxed))
        .sum();
    let outcome = Outcome {
        target: peer.name(),
        server_processes: pids.len(),
        label: case.label(),
        case: case.clone(),
        connected: subs_per_channel.iter().sum::<u64>() as usize,
        connected_sockets: sockets - connect_errors,
        connect_seconds,
        rss_before_connect_mb,
        rss_connected_mb,
        published_events: published,
        publish_events_per_s: published as f64 / publish_seconds,
        expected_frames: expected,
        delivered_frames: delivered,
        frames_per_s: delivered as f64 / span.as_secs_f64().max(1e-9),
        latency: counters.latency.summary(),
        complete_subscribers: complete,
        missing_frames: missing,
        closed_by_server: closed,
        ended_frames,
        publish_errors: counters.publish_errors.load(Ordering::Relaxed),
        server_cpu_us_per_frame: cpu.server_pct / 100.0 * cpu.seconds * 1e6
            / (delivered as f64).max(1.0),
        cpu,
        server_rss_mb,
    };
    // Let the server notice the closed sockets before the next case.
    tokio::time::sleep(Duration::from_millis(500)).await;
    Ok(outcome)
}

/// One channel: the peer's socket of one subscription; several: its socket
/// that holds them all.
async fn subscribe_with_retry<P: Peer>(peer: &P, channels: &[String]) -> Result<P::Sub> {
    let mut attempt = 0;
    loop {
        let source = net::next_source();
        let subscribing = async {
            match channels {
                [one] => peer.subscribe(one, source).await,
                many => peer.subscribe_many(many, source).await,
            }
        };
        let result = tokio::time::timeout(Duration::from_secs(10), subscribing)
            .await
            .map_err(anyhow::Error::from)
            .and_then(|r| r);
        match result {
            Ok(sub) => return Ok(sub),
            Err(err) if attempt >= 2 => return Err(err),
            Err(_) => {
                attempt += 1;
                tokio::time::sleep(Duration::from_millis(200 * attempt)).await;
            }
        }
    }
}

/// One socket's subscriptions `first..first + received.len()`.
struct ReceiverReport {
    first: usize,
    received: Vec<u64>,
    /// Ended by the server (socket closed, or ended alone).
    gone: Vec<bool>,
    ended_frames: Vec<String>,
}

/// One socket's loop: counts frames per subscription and records their latency.
async fn receive<S: Subscriber>(
    mut sub: S,
    first: usize,
    per_socket: usize,
    counters: Arc<Counters>,
    mut stop: watch::Receiver<bool>,
) -> ReceiverReport {
    let mut received = vec![0u64; per_socket];
    let mut fresh = vec![0u64; per_socket];
    let mut gone = vec![false; per_socket];
    let mut ended_frames = Vec::new();
    loop {
        // Shared counters are updated once per wake-up, not once per frame.
        let mut on_event = |j: usize, frame: &[u8]| {
            if let Some(n) = fresh.get_mut(j) {
                *n += 1;
            }
            if let Some(sent) = stats::read_stamp(frame) {
                counters
                    .latency
                    .record_us(stats::now_us().saturating_sub(sent));
            }
        };
        let result = tokio::select! {
            biased;
            _ = stop.changed() => break,
            r = sub.recv(&mut on_event) => r,
        };
        let mut taken = 0;
        for j in 0..per_socket {
            let n = std::mem::take(&mut fresh[j]);
            if n > 0 {
                taken += n;
                received[j] += n;
                if !gone[j] {
                    counters.received[first + j].fetch_add(n, Ordering::Relaxed);
                }
            }
        }
        counters.delivered.fetch_add(taken, Ordering::Relaxed);
        // A subscription ended alone no longer holds the publisher back.
        for (j, frame) in sub.take_ended() {
            if j < per_socket && !gone[j] {
                gone[j] = true;
                counters.received[first + j].store(GONE, Ordering::Relaxed);
                if ended_frames.len() < 5 {
                    ended_frames.push(frame);
                }
            }
        }
        if !matches!(result, Ok(true)) {
            for j in 0..per_socket {
                gone[j] = true;
                counters.received[first + j].store(GONE, Ordering::Relaxed);
            }
            break;
        }
    }
    ReceiverReport {
        first,
        received,
        gone,
        ended_frames,
    }
}

/// Publishes for `case.seconds`, round-robin over the channels.
async fn publish<P: Peer>(
    peer: &Arc<P>,
    case: &Case,
    channels: &[String],
    counters: &Arc<Counters>,
) {
    let deadline = Instant::now() + Duration::from_secs(case.seconds);
    match case.rate {
        Some(rate) => {
            // One event per tick; requests overlap up to FIXED_RATE_PUBLISHERS.
            let gate = Arc::new(Semaphore::new(FIXED_RATE_PUBLISHERS));
            let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / rate as f64));
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
            let mut tasks = tokio::task::JoinSet::new();
            let mut n = 0usize;
            while Instant::now() < deadline {
                tick.tick().await;
                let Ok(permit) = gate.clone().acquire_owned().await else {
                    break;
                };
                let (peer, counters) = (peer.clone(), counters.clone());
                let (c, name) = (n % channels.len(), channels[n % channels.len()].clone());
                let size = case.payload_bytes;
                tasks.spawn(async move {
                    let _permit = permit;
                    match peer.publish(&name, &[stats::stamp(size)]).await {
                        Ok(()) => counters.published[c].fetch_add(1, Ordering::Relaxed),
                        Err(_) => counters.publish_errors.fetch_add(1, Ordering::Relaxed),
                    };
                });
                n += 1;
                while tasks.try_join_next().is_some() {}
            }
            while tasks.join_next().await.is_some() {}
        }
        None => {
            let mut tasks = tokio::task::JoinSet::new();
            for p in 0..MAX_RATE_PUBLISHERS {
                let (peer, counters) = (peer.clone(), counters.clone());
                let channels = channels.to_vec();
                let (batch, size) = (peer.max_batch(), case.payload_bytes);
                tasks.spawn(async move {
                    let mut n = p;
                    while Instant::now() < deadline {
                        let c = n % channels.len();
                        n += MAX_RATE_PUBLISHERS;
                        // Wait while this channel's slowest subscriber is too far behind.
                        while lag(&counters, c, channels.len()) > MAX_LAG_EVENTS
                            && Instant::now() < deadline
                        {
                            tokio::time::sleep(Duration::from_micros(200)).await;
                        }
                        let data: Vec<String> = (0..batch).map(|_| stats::stamp(size)).collect();
                        match peer.publish(&channels[c], &data).await {
                            Ok(()) => {
                                counters.published[c].fetch_add(batch as u64, Ordering::Relaxed)
                            }
                            Err(_) => counters.publish_errors.fetch_add(1, Ordering::Relaxed),
                        };
                    }
                });
            }
            while tasks.join_next().await.is_some() {}
        }
    }
}

/// Events of `channel` published but not yet received by its slowest
/// subscriber (subscriber `i` is on channel `i % channels`).
fn lag(counters: &Counters, channel: usize, channels: usize) -> u64 {
    let slowest = counters
        .received
        .iter()
        .skip(channel)
        .step_by(channels)
        .map(|r| r.load(Ordering::Relaxed))
        .min()
        .unwrap_or(GONE);
    counters.published[channel]
        .load(Ordering::Relaxed)
        .saturating_sub(slowest)
}
