//! Publish: events per second the server accepts (durably committed, 201)
//! from a fixed number of concurrent clients, with single-event POSTs or
//! 100-event batches, with or without an `Idempotency-Key` on each request
//! (the key's cost), on one channel or round-robin over many, against one
//! node or several sharing a PostgreSQL database (clients spread
//! round-robin over the nodes), and the latency of each request.

use std::{
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use anyhow::Result;
use serde::Serialize;

use crate::{
    peers::channelhub::HubNodes,
    procs::Db,
    stats::{self, CpuSplit, Histogram, Latency},
};

/// One publish workload.
#[derive(Debug, Clone, Serialize)]
pub struct Case {
    pub batch: usize,
    /// Every request carries a fresh `Idempotency-Key`.
    pub keyed: bool,
    /// Channels the requests go to: each client takes them round-robin.
    pub channels: usize,
    /// Clients publishing at once, each waiting for its previous request.
    pub concurrency: usize,
    pub seconds: u64,
    /// Bytes of the stamped string in each event's data.
    pub payload_bytes: usize,
}

impl Case {
    pub fn label(&self) -> String {
        let keys = if self.keyed { ", with keys" } else { "" };
        let ch = if self.channels == 1 { "" } else { "s" };
        format!("batch {}, {} channel{ch}{keys}", self.batch, self.channels)
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Outcome {
    pub db: Db,
    /// Server processes (nodes on one database) the clients were spread over.
    pub nodes: usize,
    pub channels: usize,
    pub batch: usize,
    /// Every request carried a fresh `Idempotency-Key`.
    pub keyed: bool,
    pub concurrency: usize,
    pub seconds: f64,
    pub requests: u64,
    pub events: u64,
    pub errors: u64,
    /// Over all nodes together.
    pub events_per_s: f64,
    pub request_latency: Latency,
    /// Server CPU is the sum over the nodes.
    pub cpu: CpuSplit,
}

pub async fn run<T: HubNodes>(target: &Arc<T>, case: &Case) -> Result<Outcome> {
    let nodes = target.nodes();
    let kind = if case.keyed { "keyed" } else { "plain" };
    let channels: Arc<[String]> = (0..case.channels)
        .map(|c| format!("pub-{}-{kind}-{}ch-{c}", case.batch, case.channels))
        .collect();
    for channel in channels.iter() {
        // The nodes share one database: one creates the channel for all.
        nodes[0].create_channel(channel).await?;
    }
    let latency = Arc::new(Histogram::default());
    let (requests, errors) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let pids: Vec<u32> = nodes.iter().map(|n| n.pid()).collect();
    let cpu = stats::CpuSpan::start(&pids);
    let start = Instant::now();
    let deadline = start + Duration::from_secs(case.seconds);
    let mut tasks = tokio::task::JoinSet::new();
    for client in 0..case.concurrency {
        let (target, channels, case) = (target.clone(), channels.clone(), case.clone());
        let (latency, requests, errors) = (latency.clone(), requests.clone(), errors.clone());
        tasks.spawn(async move {
            let nodes = target.nodes();
            let hub = &nodes[client % nodes.len()];
            let mut sent_requests = 0usize;
            while Instant::now() < deadline {
                let data: Vec<String> = (0..case.batch)
                    .map(|_| stats::stamp(case.payload_bytes))
                    .collect();
                let key = case
                    .keyed
                    .then(|| format!("bench-{client}-{sent_requests}"));
                // Clients start on different channels, then each goes round-robin.
                let channel = &channels[(client + sent_requests) % channels.len()];
                sent_requests += 1;
                let sent = stats::now_us();
                match hub.publish_data(channel, &data, key.as_deref()).await {
                    Ok(()) => {
                        latency.record_us(stats::now_us() - sent);
                        requests.fetch_add(1, Ordering::Relaxed);
                    }
                    Err(err) => {
                        if errors.fetch_add(1, Ordering::Relaxed) == 0 {
                            eprintln!("  publish failed: {err:#}");
                        }
                        tokio::time::sleep(Duration::from_millis(10)).await;
                    }
                }
            }
        });
    }
    while tasks.join_next().await.is_some() {}
    let elapsed = start.elapsed().as_secs_f64();
    let requests = requests.load(Ordering::Relaxed);
    let events = requests * case.batch as u64;
    Ok(Outcome {
        db: nodes[0].db,
        nodes: nodes.len(),
        channels: case.channels,
        batch: case.batch,
        keyed: case.keyed,
        concurrency: case.concurrency,
        seconds: elapsed,
        requests,
        events,
        errors: errors.load(Ordering::Relaxed),
        events_per_s: events as f64 / elapsed,
        request_latency: latency.summary(),
        cpu: cpu.finish(),
    })
}
