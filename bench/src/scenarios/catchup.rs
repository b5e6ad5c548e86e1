//! Catch-up: fills a channel with 100-event batches, then times one client
//! that follows the poll cursor (`limit=1000`) from the start to the end,
//! checking it saw every event exactly once and in order.

use std::{
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use anyhow::{Result, bail};
use serde::Serialize;

use crate::{
    peers::channelhub::ChannelHub,
    procs::Db,
    stats::{self, CpuSplit},
};

const FILL_BATCH: usize = 100;
const FILL_CONCURRENCY: usize = 16;
const PAGE: u32 = 1000;
/// Upper bound on how long filling or reading may take.
const PHASE_LIMIT: Duration = Duration::from_secs(120);

#[derive(Debug, Clone, Serialize)]
pub struct Outcome {
    pub db: Db,
    pub events: u64,
    pub fill_seconds: f64,
    pub fill_events_per_s: f64,
    pub read_events: u64,
    pub pages: u64,
    pub read_seconds: f64,
    pub read_events_per_s: f64,
    pub in_order_no_duplicates: bool,
    pub cpu_read: CpuSplit,
}

pub async fn run(hub: &Arc<ChannelHub>, events: u64, payload_bytes: usize) -> Result<Outcome> {
    let channel = "catchup";
    hub.create_channel(channel).await?;

    // Fill: batches claimed from a shared counter by concurrent clients.
    let fill_start = Instant::now();
    let claimed = Arc::new(AtomicU64::new(0));
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..FILL_CONCURRENCY {
        let (hub, claimed) = (hub.clone(), claimed.clone());
        tasks.spawn(async move {
            while claimed.fetch_add(FILL_BATCH as u64, Ordering::Relaxed) < events {
                if fill_start.elapsed() > PHASE_LIMIT {
                    bail!("filling took longer than {PHASE_LIMIT:?}");
                }
                let data: Vec<String> = (0..FILL_BATCH)
                    .map(|_| stats::stamp(payload_bytes))
                    .collect();
                hub.publish_data(channel, &data, None).await?;
            }
            anyhow::Ok(())
        });
    }
    while let Some(r) = tasks.join_next().await {
        r??;
    }
    let filled = events.div_ceil(FILL_BATCH as u64) * FILL_BATCH as u64;
    let fill_seconds = fill_start.elapsed().as_secs_f64();
    println!("  filled {filled} events in {fill_seconds:.1}s");

    // Read: follow the cursor to the end.
    let cpu = stats::CpuSpan::start(&[hub.pid()]);
    let start = Instant::now();
    let (mut cursor, mut read, mut pages) = (None::<String>, 0u64, 0u64);
    let mut last_id = String::new();
    let mut in_order = true;
    loop {
        let page = hub.poll(channel, cursor.as_deref(), PAGE).await?;
        pages += 1;
        for event in &page.events {
            in_order &= event.id > last_id;
            last_id.clone_from(&event.id);
        }
        read += page.events.len() as u64;
        if page.cursor.is_some() {
            cursor = page.cursor;
        }
        if !page.has_more || page.events.is_empty() || start.elapsed() > PHASE_LIMIT {
            break;
        }
    }
    let read_seconds = start.elapsed().as_secs_f64();
    Ok(Outcome {
        db: hub.db,
        events: filled,
        fill_seconds,
        fill_events_per_s: filled as f64 / fill_seconds,
        read_events: read,
        pages,
        read_seconds,
        read_events_per_s: read as f64 / read_seconds,
        in_order_no_duplicates: in_order && read == filled,
        cpu_read: cpu.finish(),
    })
}
