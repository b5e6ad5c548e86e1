//! Publish: events per second the server accepts (durably committed, 201)
//! from a fixed number of concurrent clients, with single-event POSTs or
//! 100-event batches, with or without an `Idempotency-Key` on each request
//! (the key's cost), and the latency of each request.

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
    peers::channelhub::ChannelHub,
    procs::Db,
    stats::{self, CpuSplit, Histogram, Latency},
};

#[derive(Debug, Clone, Serialize)]
pub struct Outcome {
    pub db: Db,
    pub batch: usize,
    /// Every request carried a fresh `Idempotency-Key`.
    pub keyed: bool,
    pub concurrency: usize,
    pub seconds: f64,
    pub requests: u64,
    pub events: u64,
    pub errors: u64,
    pub events_per_s: f64,
    pub request_latency: Latency,
    pub cpu: CpuSplit,
}

pub async fn run(
    hub: &Arc<ChannelHub>,
    batch: usize,
    keyed: bool,
    concurrency: usize,
    seconds: u64,
    payload_bytes: usize,
) -> Result<Outcome> {
    let channel = format!("pub-{batch}-{}", if keyed { "keyed" } else { "plain" });
    hub.create_channel(&channel).await?;
    let latency = Arc::new(Histogram::default());
    let (requests, errors) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let cpu = stats::CpuSpan::start(&[hub.pid()]);
    let start = Instant::now();
    let deadline = start + Duration::from_secs(seconds);
    let mut tasks = tokio::task::JoinSet::new();
    for task in 0..concurrency {
        let (hub, channel) = (hub.clone(), channel.clone());
        let (latency, requests, errors) = (latency.clone(), requests.clone(), errors.clone());
        tasks.spawn(async move {
            let mut sent_requests = 0u64;
            while Instant::now() < deadline {
                let data: Vec<String> = (0..batch).map(|_| stats::stamp(payload_bytes)).collect();
                let key = keyed.then(|| format!("bench-{task}-{sent_requests}"));
                sent_requests += 1;
                let sent = stats::now_us();
                match hub.publish_data(&channel, &data, key.as_deref()).await {
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
    Ok(Outcome {
        db: hub.db,
        batch,
        keyed,
        concurrency,
        seconds: elapsed,
        requests,
        events: requests * batch as u64,
        errors: errors.load(Ordering::Relaxed),
        events_per_s: (requests * batch as u64) as f64 / elapsed,
        request_latency: latency.summary(),
        cpu: cpu.finish(),
    })
}
