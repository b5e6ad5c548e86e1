//! Connections: opens idle channelhub subscribers in steps, reading the
//! server's resident memory (VmRSS) after each step, then checks that every
//! held socket still receives an event. Connections come from several
//! 127.0.0.x source addresses so the ephemeral port range is not the limit;
//! the file-descriptor limit of this machine usually is.

use std::{
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use anyhow::Result;
use futures_util::{StreamExt, stream};
use serde::Serialize;

use crate::{
    net,
    peers::{Peer, Subscriber, channelhub::ChannelHub},
    stats,
};

const CONNECT_CONCURRENCY: usize = 256;

#[derive(Debug, Clone, Serialize)]
pub struct Step {
    pub connections: usize,
    pub server_rss_mb: f64,
    /// (RSS now − RSS with no connections) ÷ connections.
    pub kib_per_connection: f64,
    pub connect_seconds: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Outcome {
    pub target_connections: usize,
    pub held: usize,
    pub failed: usize,
    pub baseline_rss_mb: f64,
    pub steps: Vec<Step>,
    /// Sockets that received an event published after the last step.
    pub live_after_publish: u64,
    /// RSS at 100 000 connections, extrapolated from the last step.
    pub extrapolated_rss_mb_at_100k: f64,
    pub server_subscriber_count: u64,
}

pub async fn run(hub: &ChannelHub, steps: &[usize]) -> Result<Outcome> {
    let channel = "idle-conns";
    hub.create_channel(channel).await?;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let baseline = stats::rss_bytes(hub.pid());
    let got = Arc::new(AtomicU64::new(0));
    let mut held = Vec::new();
    let mut failed = 0;
    let mut out_steps = Vec::new();
    for &target in steps {
        let started = Instant::now();
        let from = held.len();
        let mut results = stream::iter(from..target)
            .map(|_| async move {
                tokio::time::timeout(
                    Duration::from_secs(15),
                    hub.subscribe(channel, net::next_source()),
                )
                .await
            })
            .buffer_unordered(CONNECT_CONCURRENCY);
        let mut step_failed = 0;
        while let Some(result) = results.next().await {
            match result {
                Ok(Ok(sub)) => {
                    let got = got.clone();
                    held.push(tokio::spawn(async move {
                        let mut sub = sub;
                        // Idle until one event arrives; bounded by the caller's abort.
                        let _ = sub
                            .recv(&mut |_, _| {
                                got.fetch_add(1, Ordering::Relaxed);
                            })
                            .await;
                        sub
                    }));
                }
                Ok(Err(err)) => {
                    if step_failed == 0 {
                        eprintln!("  connect failed at {}: {err:#}", held.len());
                    }
                    step_failed += 1;
                }
                Err(_) => step_failed += 1,
            }
        }
        failed += step_failed;
        let connect_seconds = started.elapsed().as_secs_f64();
        tokio::time::sleep(Duration::from_secs(1)).await;
        let rss = stats::rss_bytes(hub.pid());
        let step = Step {
            connections: held.len(),
            server_rss_mb: rss as f64 / 1048576.0,
            kib_per_connection: rss.saturating_sub(baseline) as f64
                / 1024.0
                / held.len().max(1) as f64,
            connect_seconds,
        };
        println!(
            "  {:>6} idle connections: server RSS {:.1} MiB ({:.1} KiB/connection), connected in {:.1}s",
            step.connections, step.server_rss_mb, step.kib_per_connection, connect_seconds
        );
        out_steps.push(step);
        if step_failed > 0 {
            break; // the limit is reached; more steps would only fail
        }
    }
    let server_subscriber_count = hub.subscriber_count(channel).await.unwrap_or(0);

    // Prove the held sockets are live: one event must reach each.
    hub.publish_data(channel, &[stats::stamp(32)], None).await?;
    let deadline = Instant::now() + Duration::from_secs(10);
    while got.load(Ordering::Relaxed) < held.len() as u64 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let live = got.load(Ordering::Relaxed);
    for h in &held {
        h.abort();
    }
    let last = out_steps.last().cloned();
    let per_conn_kib = last.as_ref().map_or(0.0, |s| s.kib_per_connection);
    Ok(Outcome {
        target_connections: *steps.last().unwrap_or(&0),
        held: held.len(),
        failed,
        baseline_rss_mb: baseline as f64 / 1048576.0,
        steps: out_steps,
        live_after_publish: live,
        extrapolated_rss_mb_at_100k: baseline as f64 / 1048576.0
            + per_conn_kib * 100_000.0 / 1024.0,
        server_subscriber_count,
    })
}
