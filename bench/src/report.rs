//! Results: the machine description, the JSON document, peer ratios, and the
//! tables printed at the end of a run.

use std::{path::Path, process::Command};

use serde::Serialize;

use crate::scenarios::{
    catchup, connect_auth, connections, fanout, latency, mcp, mux, publish, stuck,
};

#[derive(Debug, Default, Serialize)]
pub struct Machine {
    pub nproc: usize,
    pub mem_total_gib: f64,
    pub cpu_model: String,
    pub kernel: String,
    pub rustc: String,
    pub open_files_limit: u64,
}

impl Machine {
    pub fn detect() -> Machine {
        let read = |p: &str| std::fs::read_to_string(p).unwrap_or_default();
        let meminfo = read("/proc/meminfo");
        let mem_kb: f64 = meminfo
            .lines()
            .find(|l| l.starts_with("MemTotal:"))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0.0);
        let cpu_model = read("/proc/cpuinfo")
            .lines()
            .find(|l| l.starts_with("model name"))
            .and_then(|l| l.split_once(':'))
            .map(|(_, v)| v.trim().to_string())
            .unwrap_or_default();
        let output = |cmd: &str, arg: &str| {
            Command::new(cmd)
                .arg(arg)
                .output()
                .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
                .unwrap_or_default()
        };
        Machine {
            nproc: std::thread::available_parallelism().map_or(0, |n| n.get()),
            mem_total_gib: mem_kb / 1048576.0,
            cpu_model,
            kernel: output("uname", "-r"),
            rustc: output("rustc", "--version"),
            open_files_limit: open_files_limit(),
        }
    }
}

/// The soft RLIMIT_NOFILE of this process (the server inherits it).
pub fn open_files_limit() -> u64 {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes into the struct we pass.
    unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) };
    lim.rlim_cur
}

/// `a ÷ b`, NaN when `b` is not positive.
fn div(a: f64, b: f64) -> f64 {
    if b > 0.0 { a / b } else { f64::NAN }
}

/// Milliseconds with three decimals, or "n/a".
pub fn ms_or_na(ms: Option<f64>) -> String {
    ms.map_or("n/a".to_string(), |ms| format!("{ms:.3}"))
}

/// channelhub ÷ peer on one fan-out workload.
#[derive(Debug, Clone, Serialize)]
pub struct Ratio {
    pub workload: String,
    pub peer: String,
    /// Above 1: channelhub delivers more frames per second.
    pub frames_per_s: f64,
    /// Below 1: channelhub's latency is lower.
    pub p50_latency: f64,
    pub p99_latency: f64,
}

#[derive(Debug, Default, Serialize)]
pub struct Results {
    pub started_unix: u64,
    pub command: String,
    pub quick: bool,
    pub machine: Machine,
    pub fanout: Vec<fanout::Outcome>,
    pub ratios: Vec<Ratio>,
    pub connections: Option<connections::Outcome>,
    pub publish: Vec<publish::Outcome>,
    pub latency: Vec<latency::Outcome>,
    pub catchup: Vec<catchup::Outcome>,
    pub stuck: Vec<stuck::Outcome>,
    pub auth: Option<connect_auth::Outcome>,
    pub mcp: Option<mcp::Outcome>,
    pub mux: Option<mux::Outcome>,
    pub notes: Vec<String>,
}

impl Results {
    pub fn note(&mut self, note: impl Into<String>) {
        let note = note.into();
        eprintln!("NOTE: {note}");
        self.notes.push(note);
    }

    /// channelhub ÷ peer on each fan-out workload both ran, and each
    /// latency target's p50 ÷ NATS's.
    pub fn compute_ratios(&mut self) {
        self.ratios = self
            .fanout
            .iter()
            .filter(|o| o.target == "channelhub")
            .flat_map(|hub| {
                self.fanout
                    .iter()
                    .filter(move |p| !p.target.starts_with("channelhub") && p.label == hub.label)
                    .map(move |peer| Ratio {
                        workload: hub.label.clone(),
                        peer: peer.target.clone(),
                        frames_per_s: div(hub.frames_per_s, peer.frames_per_s),
                        p50_latency: div(hub.latency.p50_ms, peer.latency.p50_ms),
                        p99_latency: div(hub.latency.p99_ms, peer.latency.p99_ms),
                    })
            })
            .collect();
        let nats_p50 = self
            .latency
            .iter()
            .find(|o| o.target == "nats")
            .map(|o| o.fanout.latency.p50_ms);
        for o in &mut self.latency {
            o.p50_vs_nats = nats_p50
                .filter(|_| o.target != "nats")
                .map(|nats| div(o.fanout.latency.p50_ms, nats));
        }
    }

    pub fn write_json(&self, path: &Path) -> anyhow::Result<()> {
        std::fs::write(path, serde_json::to_string_pretty(self)?)?;
        Ok(())
    }

    pub fn print(&self) {
        let m = &self.machine;
        println!(
            "\nMachine: {} x {}, {:.1} GiB, kernel {}, {}, open files limit {}",
            m.nproc, m.cpu_model, m.mem_total_gib, m.kernel, m.rustc, m.open_files_limit
        );
        if !self.fanout.is_empty() {
            println!(
                "\nFan-out (load generator shares the cores with the server; \
                 multi-node rows: CPU and RSS summed over the nodes)"
            );
            println!(
                "{:<20} {:<28} {:>9} {:>7} {:>12} {:>8} {:>8} {:>9} {:>10} {:>8} {:>7} {:>12}",
                "target",
                "workload",
                "pub ev/s",
                "pub err",
                "frames/s",
                "p50 ms",
                "p99 ms",
                "max ms",
                "complete",
                "missing",
                "closed",
                "cpu srv/gen/db%"
            );
            for o in &self.fanout {
                println!(
                    "{:<20} {:<28} {:>9.0} {:>7} {:>12.0} {:>8.2} {:>8.2} {:>9.1} {:>10} {:>8} {:>7} {:>5.0}/{:.0}/{:<4.0}",
                    o.target,
                    o.label,
                    o.publish_events_per_s,
                    o.publish_errors,
                    o.frames_per_s,
                    o.latency.p50_ms,
                    o.latency.p99_ms,
                    o.latency.max_ms,
                    format!("{}/{}", o.complete_subscribers, o.connected),
                    o.missing_frames,
                    o.closed_by_server,
                    o.cpu.server_pct,
                    o.cpu.loadgen_pct,
                    o.cpu.database_pct
                );
            }
        }
        if !self.ratios.is_empty() {
            println!("\nRatios channelhub ÷ peer (frames/s: >1 better; latency: <1 better)");
            println!(
                "{:<28} {:<9} {:>9} {:>9} {:>9}",
                "workload", "peer", "frames/s", "p50", "p99"
            );
            for r in &self.ratios {
                println!(
                    "{:<28} {:<9} {:>9.2} {:>9.2} {:>9.2}",
                    r.workload, r.peer, r.frames_per_s, r.p50_latency, r.p99_latency
                );
            }
        }
        if let Some(c) = &self.connections {
            println!("\nIdle connections (channelhub)");
            for s in &c.steps {
                println!(
                    "  {:>6} connections  RSS {:>8.1} MiB  {:>6.1} KiB/connection",
                    s.connections, s.server_rss_mb, s.kib_per_connection
                );
            }
            println!(
                "  held {} (failed {}), {} received a test event; extrapolated RSS at 100 000: {:.0} MiB",
                c.held, c.failed, c.live_after_publish, c.extrapolated_rss_mb_at_100k
            );
        }
        if !self.publish.is_empty() {
            println!(
                "\nPublish (clients take the channels round-robin, and stick to one node each; \
                 multi-node rows: events/s and CPU summed over the nodes)"
            );
            println!(
                "{:<9} {:>5} {:>4} {:>6} {:>5} {:>6} {:>10} {:>10} {:>9} {:>9} {:>7} {:>12}",
                "db",
                "nodes",
                "ch",
                "batch",
                "keys",
                "conc",
                "events",
                "events/s",
                "p50 ms",
                "p99 ms",
                "errors",
                "cpu srv/gen/db%"
            );
            for p in &self.publish {
                println!(
                    "{:<9} {:>5} {:>4} {:>6} {:>5} {:>6} {:>10} {:>10.0} {:>9.2} {:>9.2} {:>7} {:>5.0}/{:.0}/{:<4.0}",
                    format!("{:?}", p.db),
                    p.nodes,
                    p.channels,
                    p.batch,
                    if p.keyed { "yes" } else { "no" },
                    p.concurrency,
                    p.events,
                    p.events_per_s,
                    p.request_latency.p50_ms,
                    p.request_latency.p99_ms,
                    p.errors,
                    p.cpu.server_pct,
                    p.cpu.loadgen_pct,
                    p.cpu.database_pct
                );
            }
        }
        if let Some(first) = self.latency.first() {
            println!(
                "\nLatency at light load ({}; publish-to-receive, ms; ÷nats: p50 ÷ NATS's p50, <1 better)",
                first.fanout.label
            );
            println!(
                "{:<20} {:>8} {:>8} {:>8} {:>9} {:>9} {:>12} {:>8} {:>7} {:>12}",
                "target",
                "p50",
                "p90",
                "p99",
                "max",
                "÷nats p50",
                "complete",
                "missing",
                "pub err",
                "cpu srv/gen/db%"
            );
            for o in &self.latency {
                let (f, l) = (&o.fanout, &o.fanout.latency);
                println!(
                    "{:<20} {:>8.2} {:>8.2} {:>8.2} {:>9.1} {:>9} {:>12} {:>8} {:>7} {:>5.0}/{:.0}/{:<4.0}",
                    o.target,
                    l.p50_ms,
                    l.p90_ms,
                    l.p99_ms,
                    l.max_ms,
                    o.p50_vs_nats.map_or("-".to_string(), |r| format!("{r:.2}")),
                    format!("{}/{}", f.complete_subscribers, f.connected),
                    f.missing_frames,
                    f.publish_errors,
                    f.cpu.server_pct,
                    f.cpu.loadgen_pct,
                    f.cpu.database_pct
                );
            }
            let hubs: Vec<&latency::Outcome> = self
                .latency
                .iter()
                .filter(|o| !o.server_stages.is_empty())
                .collect();
            if !hubs.is_empty() {
                println!(
                    "\nLatency inside channelhub ({} over the run from /metrics; \
                     quantiles interpolated inside buckets; ms)",
                    latency::STAGE_METRIC
                );
                println!(
                    "{:<20} {:<18} {:>10} {:>9} {:>9} {:>9}",
                    "target", "stage", "count", "mean", "p50", "p99"
                );
                for o in hubs {
                    for stage in &o.server_stages {
                        let na = || "n/a".to_string();
                        let m = stage.measured.as_ref();
                        println!(
                            "{:<20} {:<18} {:>10} {:>9} {:>9} {:>9}",
                            o.target,
                            stage.stage,
                            m.map_or_else(na, |f| f.count.to_string()),
                            m.map_or_else(na, |f| ms_or_na(f.mean_ms)),
                            m.map_or_else(na, |f| ms_or_na(f.p50_ms)),
                            m.map_or_else(na, |f| ms_or_na(f.p99_ms))
                        );
                    }
                }
            }
        }
        for c in &self.catchup {
            println!(
                "\nCatch-up ({:?}): {} events filled at {:.0} ev/s; read {} in {} pages at {:.0} ev/s ({}); cpu srv/gen {:.0}/{:.0}%",
                c.db,
                c.events,
                c.fill_events_per_s,
                c.read_events,
                c.pages,
                c.read_events_per_s,
                if c.in_order_no_duplicates {
                    "complete, in order"
                } else {
                    "INCOMPLETE or out of order"
                },
                c.cpu_read.server_pct,
                c.cpu_read.loadgen_pct
            );
        }
        if !self.stuck.is_empty() {
            println!(
                "\nStuck subscribers (server RSS in MiB; after = seconds after the last publish)"
            );
            println!(
                "{:>7} {:>8} {:>8} {:>8} {:>8} {:>22} {:>12} {:>9} {:>6} {:>6} {:>7} {:>5}",
                "stuck",
                "MB pub",
                "idle",
                "before",
                "peak",
                "after",
                "reader",
                "srv subs",
                "1008",
                "other",
                "dropped",
                "open"
            );
            for s in &self.stuck {
                let after: Vec<String> = s
                    .rss_after_mb
                    .iter()
                    .map(|(t, mb)| format!("{mb:.0}@{t}s"))
                    .collect();
                println!(
                    "{:>7} {:>8.0} {:>8.1} {:>8.1} {:>8.1} {:>22} {:>12} {:>9} {:>6} {:>6} {:>7} {:>5}",
                    s.connected,
                    s.published_mb,
                    s.rss_idle_mb,
                    s.rss_before_mb,
                    s.rss_peak_mb,
                    after.join(" "),
                    format!("{}/{}", s.reader_received, s.published_events),
                    s.server_subscribers_after,
                    s.stuck_closed_1008,
                    s.stuck_closed_other,
                    s.stuck_dropped,
                    s.stuck_still_open
                );
                for line in &s.slow_consumer_metrics {
                    println!("          {line}");
                }
            }
        }
        if let Some(m) = &self.mcp {
            println!(
                "\nMCP waits vs REST long-polls ({} agents over {} channels, {} events/s for {} s; \
                 one fresh SQLite node per phase; CPU: server s per 1000 wake-ups, net = minus \
                 publishing alone; RSS in MiB)",
                m.case.agents, m.case.channels, m.case.rate, m.case.seconds
            );
            println!(
                "{:<20} {:>9} {:>8} {:>8} {:>8} {:>9} {:>9} {:>8} {:>8} {:>9} {:>8} {:>6} {:>12}",
                "api",
                "wakeup/s",
                "p50 ms",
                "p99 ms",
                "max ms",
                "cpu/1000",
                "net/1000",
                "rss pre",
                "rss wait",
                "KiB/wait",
                "missing",
                "errors",
                "cpu srv/gen%"
            );
            for p in &m.phases {
                println!(
                    "{:<20} {:>9.0} {:>8.2} {:>8.2} {:>8.1} {:>9.3} {:>9.3} {:>8.1} {:>8.1} {:>9.1} {:>8} {:>6} {:>6.0}/{:<5.0}",
                    p.api.label(),
                    p.wakeups_per_s,
                    p.latency.p50_ms,
                    p.latency.p99_ms,
                    p.latency.max_ms,
                    p.server_cpu_s_per_1000_wakeups,
                    p.net_server_cpu_s_per_1000_wakeups,
                    p.rss_before_mb,
                    p.rss_waiting_mb,
                    p.rss_per_waiter_kib,
                    p.missing_events,
                    p.errors,
                    p.cpu.server_pct,
                    p.cpu.loadgen_pct
                );
            }
            if let Some(r) = &m.mcp_over_rest {
                println!(
                    "MCP ÷ REST: server CPU per wake-up {:.2} (net of publishing {:.2}), \
                     RSS per waiter {:.2}, latency p50 {:.2}, p99 {:.2} (<1: MCP cheaper/faster)",
                    r.server_cpu_per_wakeup,
                    r.net_server_cpu_per_wakeup,
                    r.rss_per_waiter,
                    r.p50_latency,
                    r.p99_latency
                );
            }
        }
        if let Some(m) = &self.mux {
            m.print();
        }
        if !self.notes.is_empty() {
            println!("\nNotes");
            for n in &self.notes {
                println!("  - {n}");
            }
        }
    }
}
