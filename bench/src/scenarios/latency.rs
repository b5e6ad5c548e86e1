//! Latency at light load: the fan-out workload (see [`fanout`]) of many
//! subscribers over a few channels at a modest fixed rate, run against each
//! target in turn, for publish-to-receive percentiles side by side. For
//! channelhub targets it also reads where the time goes inside the server:
//! the deltas over the run of the `channelhub_delivery_stage_seconds`
//! histogram on `/metrics` (one series per `stage`), or "n/a" when the
//! server does not export it.

use std::sync::Arc;

use anyhow::Result;
use serde::Serialize;

use super::fanout;
use crate::{
    peers::{Peer, channelhub::ChannelHub},
    prom,
};

/// The server-side histogram and the stages it is labelled with.
pub const STAGE_METRIC: &str = "channelhub_delivery_stage_seconds";
pub const STAGES: [&str; 2] = ["publish_to_commit", "commit_to_socket"];

/// The light-load workload: subscribers, channels and total events/s.
pub const SUBSCRIBERS: usize = 1_000;
pub const CHANNELS: usize = 10;
pub const RATE: u32 = 1_000;

#[derive(Debug, Clone, Serialize)]
pub struct Outcome {
    /// Which server and database, e.g. `channelhub-sqlite`, `nats`.
    pub target: String,
    pub fanout: fanout::Outcome,
    /// This target's p50 ÷ NATS's p50 on the same run (filled in once every
    /// target has run; `None` for NATS itself or without a NATS run).
    pub p50_vs_nats: Option<f64>,
    /// One entry per stage for channelhub targets; empty for peers.
    pub server_stages: Vec<Stage>,
}

/// One delivery stage as the server measured it over the run.
#[derive(Debug, Clone, Serialize)]
pub struct Stage {
    pub stage: &'static str,
    /// `None` when the server does not export the histogram.
    pub measured: Option<StageFigures>,
}

#[derive(Debug, Clone, Serialize)]
pub struct StageFigures {
    pub count: u64,
    /// `None` when nothing was observed.
    pub mean_ms: Option<f64>,
    /// Estimated from the buckets (linear interpolation inside one).
    pub p50_ms: Option<f64>,
    pub p99_ms: Option<f64>,
}

/// The workload against any peer, labelled `target`.
pub async fn run<P: Peer>(peer: Arc<P>, target: &str, case: &fanout::Case) -> Result<Outcome> {
    let fanout = fanout::run(peer, case, "latency").await?;
    Ok(Outcome {
        target: target.to_string(),
        fanout,
        p50_vs_nats: None,
        server_stages: Vec::new(),
    })
}

/// The workload against a channelhub server, with its `/metrics` read just
/// before and just after for the server-side stages.
pub async fn run_hub(hub: Arc<ChannelHub>, target: &str, case: &fanout::Case) -> Result<Outcome> {
    let before = scrape(&hub).await;
    let mut outcome = run(hub.clone(), target, case).await?;
    let after = scrape(&hub).await;
    outcome.server_stages = STAGES
        .iter()
        .map(|&stage| Stage {
            stage,
            measured: stage_delta(before.as_deref(), after.as_deref(), stage),
        })
        .collect();
    Ok(outcome)
}

/// `/metrics`, or `None` (with a message) when it cannot be read.
async fn scrape(hub: &ChannelHub) -> Option<String> {
    match hub.metrics_text().await {
        Ok(text) => Some(text),
        Err(err) => {
            eprintln!("  reading /metrics failed: {err:#}");
            None
        }
    }
}

/// What `stage` observed between the two scrapes; `None` when the later
/// scrape lacks the histogram altogether (a server that does not export
/// it). A stage, or an earlier scrape, without lines has observed nothing.
fn stage_delta(before: Option<&str>, after: Option<&str>, stage: &str) -> Option<StageFigures> {
    let after = after?;
    prom::histogram(after, STAGE_METRIC, &[])?;
    let series =
        |text: &str| prom::histogram(text, STAGE_METRIC, &[("stage", stage)]).unwrap_or_default();
    let delta = series(after).since(&before.map(series).unwrap_or_default());
    let ms = |seconds: Option<f64>| seconds.map(|s| s * 1000.0);
    Some(StageFigures {
        count: delta.count as u64,
        mean_ms: ms(delta.mean()),
        p50_ms: ms(delta.quantile(0.50)),
        p99_ms: ms(delta.quantile(0.99)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scrape(publish_to_commit: &[(&str, u64)], sum: f64) -> String {
        let mut text = String::from("channelhub_events_published_total 1\n");
        for (le, count) in publish_to_commit {
            text += &format!(
                "{STAGE_METRIC}_bucket{{stage=\"publish_to_commit\",le=\"{le}\"}} {count}\n"
            );
        }
        let total = publish_to_commit.last().map_or(0, |b| b.1);
        text += &format!("{STAGE_METRIC}_sum{{stage=\"publish_to_commit\"}} {sum}\n");
        text += &format!("{STAGE_METRIC}_count{{stage=\"publish_to_commit\"}} {total}\n");
        text
    }

    #[test]
    fn stages_are_deltas_in_milliseconds() {
        let before = scrape(&[("0.001", 10), ("0.002", 10), ("+Inf", 10)], 0.005);
        let after = scrape(&[("0.001", 10), ("0.002", 30), ("+Inf", 30)], 0.035);
        let f = stage_delta(Some(&before), Some(&after), "publish_to_commit").unwrap();
        assert_eq!(f.count, 20);
        assert!((f.mean_ms.unwrap() - 1.5).abs() < 1e-9);
        assert!((f.p50_ms.unwrap() - 1.5).abs() < 1e-9);
        assert!((f.p99_ms.unwrap() - 1.99).abs() < 1e-9);
        // Exported, but this stage saw nothing.
        let idle = stage_delta(Some(&before), Some(&after), "commit_to_socket").unwrap();
        assert_eq!((idle.count, idle.mean_ms, idle.p50_ms), (0, None, None));
    }

    #[test]
    fn a_server_without_the_histogram_gives_none() {
        let old = "channelhub_events_published_total 5\n";
        assert!(stage_delta(Some(old), Some(old), "publish_to_commit").is_none());
        assert!(stage_delta(None, None, "publish_to_commit").is_none());
        // Nothing observed before the run: the first scrape lacks it.
        let after = scrape(&[("0.001", 4), ("+Inf", 4)], 0.002);
        let f = stage_delta(Some(old), Some(&after), "publish_to_commit").unwrap();
        assert_eq!(f.count, 4);
    }
}
