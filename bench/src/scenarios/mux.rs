//! Issue 28: one socket, many channels. The same subscriptions — S sockets
//! of K channels each over C channels, so each channel has S × K / C
//! subscribers — held three ways, each on a fresh server so that memory an
//! earlier shape freed cannot hide the next one's growth:
//!
//! - channelhub, per-channel sockets (`/api/v1/channels/{id}/ws`): S × K sockets;
//! - channelhub, the multiplexed socket (`/api/v1/ws`): S sockets, K
//!   `subscribe` frames each;
//! - NATS: S connections (WebSocket), K `SUB`s each.
//!
//! Each is the fan-out workload at maximum rate (`fanout::run`, closed loop:
//! the server's delivery speed sets the pace), which also reads the server's
//! RSS before the sockets connect and once all are subscribed (idle), and
//! its CPU from the first publish to the last frame. Per shape: idle RSS
//! per subscription, frames delivered/s, server CPU per delivered frame and
//! the load generator's CPU; then multiplexed ÷ per-channel and
//! multiplexed ÷ NATS.

use std::sync::Arc;

use anyhow::Result;
use serde::Serialize;

use super::fanout;
use crate::peers::Peer;

/// The sizes (quick mode: 200 sockets over 20 channels).
pub const SOCKETS: usize = 1_000;
pub const QUICK_SOCKETS: usize = 200;
pub const PER_SOCKET: usize = 10;
pub const CHANNELS: usize = 100;
pub const QUICK_CHANNELS: usize = 20;

#[derive(Debug, Clone, Serialize)]
pub struct Case {
    /// Multiplexed sockets (and NATS connections); per-channel sockets are
    /// `sockets × per_socket`.
    pub sockets: usize,
    pub per_socket: usize,
    pub channels: usize,
    /// Seconds of publishing at maximum rate.
    pub seconds: u64,
    pub payload_bytes: usize,
}

impl Case {
    pub fn subscriptions(&self) -> usize {
        self.sockets * self.per_socket
    }

    /// The fan-out workload of one shape.
    fn fanout(&self, shape: Shape) -> fanout::Case {
        fanout::Case {
            subscribers: self.subscriptions(),
            channels: self.channels,
            per_socket: match shape {
                Shape::PerChannel => 1,
                Shape::Multiplexed | Shape::Nats => self.per_socket,
            },
            rate: None,
            seconds: self.seconds,
            payload_bytes: self.payload_bytes,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Shape {
    PerChannel,
    Multiplexed,
    Nats,
}

impl Shape {
    pub fn label(self) -> &'static str {
        match self {
            Shape::PerChannel => "channelhub per-channel",
            Shape::Multiplexed => "channelhub multiplexed",
            Shape::Nats => "nats",
        }
    }

    /// The server's log and database name.
    pub fn tag(self) -> &'static str {
        match self {
            Shape::PerChannel => "mux-per-channel",
            Shape::Multiplexed => "mux-multiplexed",
            Shape::Nats => "mux-nats",
        }
    }
}

/// One shape's figures.
#[derive(Debug, Clone, Serialize)]
pub struct Run {
    pub shape: Shape,
    /// (RSS with every subscription in − RSS before any) ÷ subscriptions, KiB.
    pub rss_per_subscription_kib: f64,
    /// Server CPU seconds per million frames delivered (= µs per frame).
    pub server_cpu_us_per_frame: f64,
    /// Generator CPU (user + system) per frame delivered, µs.
    pub loadgen_cpu_us_per_frame: f64,
    pub fanout: fanout::Outcome,
}

/// `a ÷ b` of two shapes (below 1 on CPU and memory: `a` cheaper; above 1
/// on frames/s: `a` faster).
#[derive(Debug, Clone, Serialize)]
pub struct Ratio {
    pub of: Shape,
    pub to: Shape,
    pub server_cpu_per_frame: f64,
    pub rss_per_subscription: f64,
    pub frames_per_s: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Outcome {
    pub case: Case,
    pub runs: Vec<Run>,
    pub ratios: Vec<Ratio>,
    /// Frames of multiplexed sockets that were none of events, `subscribed`,
    /// `caught_up`, `unsubscribed` (an `error`, a `gap`), over the run.
    pub unexpected_mux_frames: u64,
}

/// One shape against `peer` (fresh: nothing else ran on it).
pub async fn run<P: Peer>(peer: Arc<P>, shape: Shape, case: &Case) -> Result<Run> {
    let fanout = fanout::run(peer, &case.fanout(shape), shape.tag()).await?;
    let frames = (fanout.delivered_frames as f64).max(1.0);
    let cpu = &fanout.cpu;
    Ok(Run {
        shape,
        rss_per_subscription_kib: (fanout.rss_connected_mb - fanout.rss_before_connect_mb) * 1024.0
            / (fanout.connected as f64).max(1.0),
        server_cpu_us_per_frame: fanout.server_cpu_us_per_frame,
        loadgen_cpu_us_per_frame: cpu.loadgen_pct / 100.0 * cpu.seconds * 1e6 / frames,
        fanout,
    })
}

fn div(a: f64, b: f64) -> f64 {
    if b > 0.0 { a / b } else { f64::NAN }
}

impl Outcome {
    pub fn new(case: Case, runs: Vec<Run>, unexpected_mux_frames: u64) -> Outcome {
        let find = |shape| runs.iter().find(|r| r.shape == shape);
        let ratios = [
            (Shape::Multiplexed, Shape::PerChannel),
            (Shape::Multiplexed, Shape::Nats),
            (Shape::PerChannel, Shape::Nats),
        ]
        .into_iter()
        .filter_map(|(of, to)| {
            let (a, b) = (find(of)?, find(to)?);
            Some(Ratio {
                of,
                to,
                server_cpu_per_frame: div(a.server_cpu_us_per_frame, b.server_cpu_us_per_frame),
                rss_per_subscription: div(a.rss_per_subscription_kib, b.rss_per_subscription_kib),
                frames_per_s: div(a.fanout.frames_per_s, b.fanout.frames_per_s),
            })
        })
        .collect();
        Outcome {
            case,
            runs,
            ratios,
            unexpected_mux_frames,
        }
    }

    pub fn print(&self) {
        let c = &self.case;
        println!(
            "\nOne socket, many channels: {} subscriptions over {} channels ({} per channel) as \
             {} sockets x {} (multiplexed, NATS) or {} per-channel sockets (maximum rate for {} s, \
             closed loop; each shape on a fresh server; CPU: 100 % = one core, all = every \
             process of the 2-core machine)",
            c.subscriptions(),
            c.channels,
            c.subscriptions() / c.channels.max(1),
            c.sockets,
            c.per_socket,
            c.subscriptions(),
            c.seconds
        );
        println!(
            "{:<24} {:>7} {:>8} {:>8} {:>8} {:>9} {:>11} {:>9} {:>9} {:>12} {:>13} {:>8} {:>6}",
            "shape",
            "sockets",
            "rss pre",
            "rss subd",
            "KiB/sub",
            "pub ev/s",
            "frames/s",
            "srv us/fr",
            "gen us/fr",
            "cpu srv/gen/all%",
            "complete",
            "missing",
            "ended"
        );
        for r in &self.runs {
            let f = &r.fanout;
            println!(
                "{:<24} {:>7} {:>8.1} {:>8.1} {:>8.2} {:>9.0} {:>11.0} {:>9.3} {:>9.3} {:>5.0}/{:.0}/{:<5.0} {:>13} {:>8} {:>6}",
                r.shape.label(),
                f.connected_sockets,
                f.rss_before_connect_mb,
                f.rss_connected_mb,
                r.rss_per_subscription_kib,
                f.publish_events_per_s,
                f.frames_per_s,
                r.server_cpu_us_per_frame,
                r.loadgen_cpu_us_per_frame,
                f.cpu.server_pct,
                f.cpu.loadgen_pct,
                f.cpu.machine_pct,
                format!("{}/{}", f.complete_subscribers, f.connected),
                f.missing_frames,
                f.closed_by_server
            );
            for frame in &f.ended_frames {
                println!("    ended: {frame}");
            }
        }
        for r in &self.ratios {
            println!(
                "{} ÷ {}: server CPU per frame {:.2}, idle RSS per subscription {:.2}, frames/s {:.2}",
                r.of.label(),
                r.to.label(),
                r.server_cpu_per_frame,
                r.rss_per_subscription,
                r.frames_per_s
            );
        }
        if self.unexpected_mux_frames > 0 {
            println!(
                "multiplexed sockets sent {} unexpected frames (error, gap): see stderr",
                self.unexpected_mux_frames
            );
        }
    }
}
