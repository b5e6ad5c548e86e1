//! MCP waits vs REST long-polls (issue 27): N agents spread over 100 public
//! channels, each looping one blocking read with its cursor, while a
//! publisher sends 100 single events/s round-robin over the channels. Two
//! phases, each on a fresh channelhub node on SQLite (so one phase's freed
//! memory does not hide the other's growth): agents calling the MCP tool
//! `wait_for_events` (`POST /mcp`, stateless Streamable HTTP, JSON answers),
//! then agents long-polling `GET /api/v1/channels/{id}/events?wait=25`.
//!
//! Per phase: wake-ups (answers carrying events) per second, wake-up latency
//! (receive time − the publish time stamped into each event's data), server
//! CPU per 1 000 wake-ups (also net of what publishing alone costs, measured
//! on the same node before the agents come), and server RSS before the
//! agents connect and while they all wait (RSS per waiter = the difference
//! ÷ N); then MCP ÷ REST for each.

use std::{
    net::SocketAddr,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tokio::sync::{Semaphore, watch};

use super::fanout::{PUBLISHER_RUNTIME, drain};
use crate::{
    peers::channelhub::ChannelHub,
    stats::{self, CpuSplit, Histogram, Latency},
};

/// Channels the agents are spread over, and events/s published over them.
pub const CHANNELS: usize = 100;
pub const RATE: u32 = 100;
/// Seconds each wait may last (both APIs), longer than any phase.
const WAIT_SECONDS: u32 = 25;
/// Publishing alone, before the agents connect: its CPU is subtracted for
/// the "net" figure (and it warms the publish path up).
const BASELINE_SECONDS: u64 = 5;
/// Concurrent publish requests at most.
const PUBLISHERS: usize = 64;
/// "All agents wait": the server holds a connection per agent, then used at
/// most one clock tick of CPU in each of this many 250 ms windows in a row
/// (or `SETTLE_MAX` passed).
const SETTLE_QUIET_WINDOWS: u32 = 4;
const SETTLE_MAX: Duration = Duration::from_secs(30);
const MCP_PROTOCOL_VERSION: &str = "2025-06-18";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Api {
    /// `tools/call wait_for_events` on `POST /mcp`.
    Mcp,
    /// `GET /api/v1/channels/{id}/events?cursor=…&wait=25`.
    Rest,
}

impl Api {
    pub fn label(self) -> &'static str {
        match self {
            Api::Mcp => "MCP wait_for_events",
            Api::Rest => "REST long-poll",
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Case {
    pub agents: usize,
    pub channels: usize,
    /// Events per second over all channels.
    pub rate: u32,
    /// Seconds of publishing while the agents wait.
    pub seconds: u64,
    pub payload_bytes: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct Phase {
    pub api: Api,
    pub agents: usize,
    /// Seconds from launching the agents until the server was quiet.
    pub settle_seconds: f64,
    pub published_events: u64,
    pub publish_errors: u64,
    pub publish_seconds: f64,
    /// Answers that carried at least one event.
    pub wakeups: u64,
    /// Wake-ups ÷ seconds of publishing.
    pub wakeups_per_s: f64,
    pub events_received: u64,
    pub expected_events: u64,
    /// Summed over agents: events of its channel it did not receive.
    pub missing_events: u64,
    /// Answers without events (a wait that timed out).
    pub empty_answers: u64,
    /// Failed calls: transport errors, non-200, JSON-RPC or tool errors.
    pub errors: u64,
    /// Receive time − publish time, per received event.
    pub latency: Latency,
    /// Server CPU (user + system) from the first publish until delivery ended.
    pub server_cpu_seconds: f64,
    pub server_cpu_s_per_1000_wakeups: f64,
    /// Server CPU share while only publishing (no agents), percent of a core.
    pub publish_only_server_cpu_pct: f64,
    /// As above, minus what publishing alone costs for as long.
    pub net_server_cpu_s_per_1000_wakeups: f64,
    pub cpu: CpuSplit,
    /// Server VmRSS after publishing alone, before any agent connected.
    pub rss_before_mb: f64,
    /// With every agent waiting, before the measured publishing.
    pub rss_waiting_mb: f64,
    /// At the end of the measured publishing.
    pub rss_end_mb: f64,
    /// (waiting − before) ÷ agents.
    pub rss_per_waiter_kib: f64,
}

/// MCP ÷ REST (below 1: MCP costs less).
#[derive(Debug, Clone, Serialize)]
pub struct Ratios {
    pub server_cpu_per_wakeup: f64,
    pub net_server_cpu_per_wakeup: f64,
    pub rss_per_waiter: f64,
    pub p50_latency: f64,
    pub p99_latency: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Outcome {
    pub case: Case,
    pub phases: Vec<Phase>,
    pub mcp_over_rest: Option<Ratios>,
}

impl Outcome {
    pub fn new(case: Case, phases: Vec<Phase>) -> Outcome {
        let find = |api| phases.iter().find(|p| p.api == api);
        let mcp_over_rest = find(Api::Mcp).zip(find(Api::Rest)).map(|(m, r)| Ratios {
            server_cpu_per_wakeup: div(
                m.server_cpu_s_per_1000_wakeups,
                r.server_cpu_s_per_1000_wakeups,
            ),
            net_server_cpu_per_wakeup: div(
                m.net_server_cpu_s_per_1000_wakeups,
                r.net_server_cpu_s_per_1000_wakeups,
            ),
            rss_per_waiter: div(m.rss_per_waiter_kib, r.rss_per_waiter_kib),
            p50_latency: div(m.latency.p50_ms, r.latency.p50_ms),
            p99_latency: div(m.latency.p99_ms, r.latency.p99_ms),
        });
        Outcome {
            case,
            phases,
            mcp_over_rest,
        }
    }
}

fn div(a: f64, b: f64) -> f64 {
    if b > 0.0 { a / b } else { f64::NAN }
}

/// Shared by the agents, the publisher and the phase.
struct Counters {
    /// Agents that have sent their first call.
    started: AtomicU64,
    wakeups: AtomicU64,
    events: AtomicU64,
    empty: AtomicU64,
    errors: AtomicU64,
    latency: Histogram,
    published: Vec<AtomicU64>, // per channel
    received: Vec<AtomicU64>,  // per agent
    publish_errors: AtomicU64,
}

/// One phase on `hub`, a fresh node.
pub async fn run(hub: Arc<ChannelHub>, api: Api, case: &Case) -> Result<Phase> {
    let pid = hub.pid();
    let tag = match api {
        Api::Mcp => "mcp",
        Api::Rest => "rest",
    };
    let channels: Vec<String> = (0..case.channels).map(|c| format!("{tag}-{c}")).collect();
    let baseline: Vec<String> = (0..case.channels)
        .map(|c| format!("{tag}-base-{c}"))
        .collect();
    for ch in channels.iter().chain(&baseline) {
        hub.create_channel(ch).await?;
    }

    // Publishing alone, on channels nobody reads.
    let quiet = Arc::new(new_counters(case.channels, 0));
    let cpu0 = stats::cpu_seconds(pid);
    let started = Instant::now();
    publish_for(&hub, &baseline, case, BASELINE_SECONDS, &quiet).await?;
    let publish_only = (stats::cpu_seconds(pid) - cpu0) / started.elapsed().as_secs_f64();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let rss_before = stats::rss_bytes(pid);

    // The agents: each takes its channel and loops until told to stop.
    let counters = Arc::new(new_counters(case.channels, case.agents));
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(usize::MAX)
        .tcp_nodelay(true)
        .timeout(Duration::from_secs(u64::from(WAIT_SECONDS) + 15))
        .build()?;
    let (stop_tx, stop_rx) = watch::channel(false);
    let launched = Instant::now();
    let mut agents = tokio::task::JoinSet::new();
    for i in 0..case.agents {
        let agent = Agent {
            api,
            addr: hub.addr,
            client: client.clone(),
            channel: channels[i % case.channels].clone(),
            index: i,
            counters: counters.clone(),
        };
        agents.spawn(agent.run(stop_rx.clone()));
        if i % 100 == 99 {
            tokio::task::yield_now().await;
        }
    }
    while counters.started.load(Ordering::Relaxed) < case.agents as u64 {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    settle(pid, hub.addr.port(), case.agents).await;
    let settle_seconds = launched.elapsed().as_secs_f64();
    let rss_waiting = stats::rss_bytes(pid);
    let errors_before = counters.errors.load(Ordering::Relaxed);
    if errors_before > 0 {
        eprintln!("  {errors_before} calls failed before publishing began");
    }

    // Publish while they wait, then let delivery finish.
    let span = stats::CpuSpan::start(&[pid]);
    let cpu_start = stats::cpu_seconds(pid);
    let start = Instant::now();
    publish_for(&hub, &channels, case, case.seconds, &counters).await?;
    let publish_seconds = start.elapsed().as_secs_f64();
    let rss_end = stats::rss_bytes(pid);
    let per_channel = (0..case.channels)
        .map(|c| (0..case.agents).filter(|i| i % case.channels == c).count() as u64)
        .collect::<Vec<_>>();
    let expected: u64 = (0..case.channels)
        .map(|c| counters.published[c].load(Ordering::Relaxed) * per_channel[c])
        .sum();
    drain(&counters.events, expected).await;
    let server_cpu = stats::cpu_seconds(pid) - cpu_start;
    let cpu = span.finish();
    let _ = stop_tx.send(true);
    while agents.join_next().await.is_some() {}
    drop(client);

    let missing: u64 = (0..case.agents)
        .map(|i| {
            let want = counters.published[i % case.channels].load(Ordering::Relaxed);
            want.saturating_sub(counters.received[i].load(Ordering::Relaxed))
        })
        .sum();
    let wakeups = counters.wakeups.load(Ordering::Relaxed);
    let per_1000 = |cpu: f64| {
        if wakeups > 0 {
            cpu * 1000.0 / wakeups as f64
        } else {
            f64::NAN
        }
    };
    let mb = |bytes: u64| bytes as f64 / 1048576.0;
    let phase = Phase {
        api,
        agents: case.agents,
        settle_seconds,
        published_events: counters
            .published
            .iter()
            .map(|p| p.load(Ordering::Relaxed))
            .sum(),
        publish_errors: counters.publish_errors.load(Ordering::Relaxed),
        publish_seconds,
        wakeups,
        wakeups_per_s: wakeups as f64 / publish_seconds,
        events_received: counters.events.load(Ordering::Relaxed),
        expected_events: expected,
        missing_events: missing,
        empty_answers: counters.empty.load(Ordering::Relaxed),
        errors: counters.errors.load(Ordering::Relaxed),
        latency: counters.latency.summary(),
        server_cpu_seconds: server_cpu,
        server_cpu_s_per_1000_wakeups: per_1000(server_cpu),
        publish_only_server_cpu_pct: publish_only * 100.0,
        net_server_cpu_s_per_1000_wakeups: per_1000(
            (server_cpu - publish_only * publish_seconds).max(0.0),
        ),
        cpu,
        rss_before_mb: mb(rss_before),
        rss_waiting_mb: mb(rss_waiting),
        rss_end_mb: mb(rss_end),
        rss_per_waiter_kib: (rss_waiting as f64 - rss_before as f64) / 1024.0 / case.agents as f64,
    };
    println!(
        "    {:.0} wake-ups/s, p50 {:.2} ms, p99 {:.2} ms, server CPU {:.3} s/1000 wake-ups \
         ({:.3} net of publishing), RSS {:.1} → {:.1} MiB ({:.1} KiB/waiter), \
         {} missing, {} errors, {} empty",
        phase.wakeups_per_s,
        phase.latency.p50_ms,
        phase.latency.p99_ms,
        phase.server_cpu_s_per_1000_wakeups,
        phase.net_server_cpu_s_per_1000_wakeups,
        phase.rss_before_mb,
        phase.rss_waiting_mb,
        phase.rss_per_waiter_kib,
        phase.missing_events,
        phase.errors,
        phase.empty_answers
    );
    Ok(phase)
}

fn new_counters(channels: usize, agents: usize) -> Counters {
    Counters {
        started: AtomicU64::new(0),
        wakeups: AtomicU64::new(0),
        events: AtomicU64::new(0),
        empty: AtomicU64::new(0),
        errors: AtomicU64::new(0),
        latency: Histogram::default(),
        published: (0..channels).map(|_| AtomicU64::new(0)).collect(),
        received: (0..agents).map(|_| AtomicU64::new(0)).collect(),
        publish_errors: AtomicU64::new(0),
    }
}

/// Waits until every agent's call has arrived and is parked: the server
/// has at least `agents` established connections (a connect whose SYN was
/// dropped from a full backlog is retried only a second or more later),
/// then at most one clock tick of server CPU per 250 ms, a second long.
async fn settle(pid: u32, port: u16, agents: usize) {
    let tick = 1.0 / unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    let start = Instant::now();
    while established(port) < agents && start.elapsed() < SETTLE_MAX {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let mut last = stats::cpu_seconds(pid);
    let mut quiet = 0;
    while quiet < SETTLE_QUIET_WINDOWS && start.elapsed() < SETTLE_MAX {
        tokio::time::sleep(Duration::from_millis(250)).await;
        let now = stats::cpu_seconds(pid);
        quiet = if now - last <= tick * 1.5 {
            quiet + 1
        } else {
            0
        };
        last = now;
    }
    if start.elapsed() >= SETTLE_MAX {
        eprintln!(
            "  the server did not settle in {SETTLE_MAX:?} ({} of {agents} connections established)",
            established(port)
        );
    }
}

/// Established IPv4 TCP connections whose local port is `port` (the
/// server's side of its accepted connections), from /proc/net/tcp.
fn established(port: u16) -> usize {
    let Ok(table) = std::fs::read_to_string("/proc/net/tcp") else {
        return usize::MAX;
    };
    let local = format!(":{port:04X}");
    table
        .lines()
        .skip(1)
        .filter(|line| {
            let mut fields = line.split_whitespace().skip(1);
            let (Some(addr), Some(_remote), Some(state)) =
                (fields.next(), fields.next(), fields.next())
            else {
                return false;
            };
            addr.ends_with(&local) && state == "01"
        })
        .count()
}

/// Single-event publishes at `case.rate` for `seconds`, round-robin over
/// `channels`, on the publisher's own runtime (as in the fan-out scenario).
async fn publish_for(
    hub: &Arc<ChannelHub>,
    channels: &[String],
    case: &Case,
    seconds: u64,
    counters: &Arc<Counters>,
) -> Result<()> {
    let (hub, channels, counters) = (hub.clone(), channels.to_vec(), counters.clone());
    let (rate, size) = (case.rate, case.payload_bytes);
    PUBLISHER_RUNTIME
        .spawn(async move {
            let deadline = Instant::now() + Duration::from_secs(seconds);
            let gate = Arc::new(Semaphore::new(PUBLISHERS));
            let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / rate as f64));
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
            let mut tasks = tokio::task::JoinSet::new();
            let mut n = 0usize;
            while Instant::now() < deadline {
                tick.tick().await;
                let Ok(permit) = gate.clone().acquire_owned().await else {
                    break;
                };
                let (hub, counters) = (hub.clone(), counters.clone());
                let c = n % channels.len();
                let name = channels[c].clone();
                tasks.spawn(async move {
                    let _permit = permit;
                    match hub.publish_data(&name, &[stats::stamp(size)], None).await {
                        Ok(()) => counters.published[c].fetch_add(1, Ordering::Relaxed),
                        Err(_) => counters.publish_errors.fetch_add(1, Ordering::Relaxed),
                    };
                });
                n += 1;
                while tasks.try_join_next().is_some() {}
            }
            while tasks.join_next().await.is_some() {}
        })
        .await?;
    Ok(())
}

/// One agent: a blocking read on its channel, again and again, with the
/// cursor of the previous answer.
struct Agent {
    api: Api,
    addr: SocketAddr,
    client: reqwest::Client,
    channel: String,
    index: usize,
    counters: Arc<Counters>,
}

/// What one answer brought.
struct Answer {
    /// The publish stamps of its events.
    stamps: Vec<Option<u64>>,
    cursor: Option<String>,
}

impl Agent {
    async fn run(self, mut stop: watch::Receiver<bool>) {
        let mut cursor: Option<String> = None;
        let mut call_id = 0u64;
        let mut reported = false;
        loop {
            call_id += 1;
            if call_id == 1 {
                self.counters.started.fetch_add(1, Ordering::Relaxed);
            }
            let answer = tokio::select! {
                biased;
                _ = stop.changed() => break,
                a = self.call(cursor.as_deref(), call_id) => a,
            };
            let received_at = stats::now_us();
            let c = &self.counters;
            match answer {
                Ok(answer) => {
                    let n = answer.stamps.len() as u64;
                    if n == 0 {
                        c.empty.fetch_add(1, Ordering::Relaxed);
                    } else {
                        for sent in answer.stamps.into_iter().flatten() {
                            c.latency.record_us(received_at.saturating_sub(sent));
                        }
                        c.received[self.index].fetch_add(n, Ordering::Relaxed);
                        c.events.fetch_add(n, Ordering::Relaxed);
                        c.wakeups.fetch_add(1, Ordering::Relaxed);
                    }
                    if answer.cursor.is_some() {
                        cursor = answer.cursor;
                    }
                }
                Err(err) => {
                    if !reported && c.errors.load(Ordering::Relaxed) == 0 {
                        eprintln!("  {} call failed: {err:#}", self.api.label());
                    }
                    reported = true;
                    c.errors.fetch_add(1, Ordering::Relaxed);
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
            }
        }
    }

    async fn call(&self, cursor: Option<&str>, id: u64) -> Result<Answer> {
        match self.api {
            Api::Mcp => self.mcp_wait(cursor, id).await,
            Api::Rest => self.rest_wait(cursor).await,
        }
    }

    async fn mcp_wait(&self, after: Option<&str>, id: u64) -> Result<Answer> {
        let mut arguments = json!({ "channel": self.channel, "timeout_seconds": WAIT_SECONDS });
        if let Some(after) = after {
            arguments["after"] = json!(after);
        }
        let body = json!({
            "jsonrpc": "2.0", "id": id, "method": "tools/call",
            "params": { "name": "wait_for_events", "arguments": arguments },
        });
        let resp = self
            .client
            .post(format!("http://{}/mcp", self.addr))
            .header("Content-Type", "application/json")
            .header("Accept", "application/json, text/event-stream")
            .header("MCP-Protocol-Version", MCP_PROTOCOL_VERSION)
            .body(serde_json::to_vec(&body)?)
            .send()
            .await?;
        let status = resp.status();
        let bytes = resp.bytes().await?;
        if !status.is_success() {
            bail!("POST /mcp: {status} {}", String::from_utf8_lossy(&bytes));
        }
        let answer: RpcAnswer = serde_json::from_slice(&bytes)
            .with_context(|| format!("MCP answer {}", String::from_utf8_lossy(&bytes)))?;
        if let Some(error) = answer.error {
            bail!("JSON-RPC error {error}");
        }
        let result = answer.result.context("JSON-RPC answer without result")?;
        if result.is_error {
            bail!("tool error {}", Value::from(result.content));
        }
        let page = result
            .structured_content
            .context("tool result without structuredContent")?;
        Ok(page.into_answer())
    }

    async fn rest_wait(&self, cursor: Option<&str>) -> Result<Answer> {
        let mut req = self
            .client
            .get(format!(
                "http://{}/api/v1/channels/{}/events",
                self.addr, self.channel
            ))
            .query(&[("wait", WAIT_SECONDS.to_string())]);
        if let Some(cursor) = cursor {
            req = req.query(&[("cursor", cursor)]);
        }
        let resp = req.send().await?;
        let status = resp.status();
        let bytes = resp.bytes().await?;
        if !status.is_success() {
            bail!("GET events: {status} {}", String::from_utf8_lossy(&bytes));
        }
        let page: EventPage = serde_json::from_slice(&bytes)?;
        Ok(page.into_answer())
    }
}

#[derive(Deserialize)]
struct RpcAnswer {
    result: Option<ToolResult>,
    error: Option<Value>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ToolResult {
    structured_content: Option<EventPage>,
    #[serde(default)]
    is_error: bool,
    #[serde(default)]
    content: Vec<Value>,
}

/// A page of either API; of each event only its data is kept.
#[derive(Deserialize)]
struct EventPage {
    events: Vec<EventData>,
    cursor: Option<String>,
}

#[derive(Deserialize)]
struct EventData {
    data: Value,
}

impl EventPage {
    fn into_answer(self) -> Answer {
        Answer {
            stamps: self
                .events
                .iter()
                .map(|e| {
                    e.data["b"]
                        .as_str()
                        .and_then(|s| stats::read_stamp(s.as_bytes()))
                })
                .collect(),
            cursor: self.cursor,
        }
    }
}
