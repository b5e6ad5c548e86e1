//! Measurement helpers shared by every scenario: a lock-free latency
//! histogram, the timestamp stamped into event payloads, and CPU/RSS readings
//! from `/proc`.

use std::collections::HashMap;
use std::{
    sync::{
        OnceLock,
        atomic::{AtomicU64, AtomicUsize, Ordering},
    },
    time::Instant,
};

use serde::Serialize;

/// Sub-buckets per power of two: percentiles are exact to within ~1.6 %.
const SUB_BITS: u32 = 6;
const SUB: usize = 1 << SUB_BITS;
/// Covers values up to 2^40 µs, far beyond any run.
const BUCKETS: usize = SUB * 41;

/// A log-linear histogram of microsecond values that many tasks record into
/// at once without locks. Each thread records into its own shard, so that
/// millions of samples per second from several threads do not all contend
/// for the same counters (frames of one event land in the same bucket).
pub struct Histogram {
    shards: Box<[Shard]>,
}

struct Shard {
    counts: Box<[AtomicU64]>,
    max: AtomicU64,
}

/// Shards per histogram; threads beyond this share them.
const SHARDS: usize = 8;

/// Latency percentiles, in milliseconds.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct Latency {
    pub samples: u64,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

impl Default for Histogram {
    fn default() -> Self {
        let shard = || Shard {
            counts: (0..BUCKETS).map(|_| AtomicU64::new(0)).collect(),
            max: AtomicU64::new(0),
        };
        Histogram {
            shards: (0..SHARDS).map(|_| shard()).collect(),
        }
    }
}

/// This thread's shard number.
fn shard_index() -> usize {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    thread_local! {
        static INDEX: usize = NEXT.fetch_add(1, Ordering::Relaxed) % SHARDS;
    }
    INDEX.with(|i| *i)
}

impl Histogram {
    fn index(us: u64) -> usize {
        if us < SUB as u64 {
            return us as usize;
        }
        let exp = 63 - us.leading_zeros(); // >= SUB_BITS
        let shift = exp - SUB_BITS;
        let mantissa = (us >> shift) as usize - SUB; // 0..SUB
        ((shift as usize + 1) * SUB + mantissa).min(BUCKETS - 1)
    }

    /// The smallest value that falls in bucket `i`.
    fn lower_bound(i: usize) -> u64 {
        if i < SUB {
            return i as u64;
        }
        let shift = (i / SUB - 1) as u32;
        ((SUB + i % SUB) as u64) << shift
    }

    pub fn record_us(&self, us: u64) {
        let shard = &self.shards[shard_index()];
        shard.counts[Self::index(us)].fetch_add(1, Ordering::Relaxed);
        shard.max.fetch_max(us, Ordering::Relaxed);
    }

    pub fn summary(&self) -> Latency {
        let counts: Vec<u64> = (0..BUCKETS)
            .map(|i| {
                self.shards
                    .iter()
                    .map(|s| s.counts[i].load(Ordering::Relaxed))
                    .sum()
            })
            .collect();
        let total: u64 = counts.iter().sum();
        let at = |q: f64| -> f64 {
            let rank = ((total as f64) * q).ceil().max(1.0) as u64;
            let mut seen = 0;
            for (i, c) in counts.iter().enumerate() {
                seen += c;
                if seen >= rank {
                    return Self::lower_bound(i) as f64 / 1000.0;
                }
            }
            0.0
        };
        if total == 0 {
            return Latency::default();
        }
        Latency {
            samples: total,
            p50_ms: at(0.50),
            p90_ms: at(0.90),
            p99_ms: at(0.99),
            max_ms: self
                .shards
                .iter()
                .map(|s| s.max.load(Ordering::Relaxed))
                .max()
                .unwrap_or(0) as f64
                / 1000.0,
        }
    }
}

/// Microseconds since the first call in this process: the clock that
/// publishers stamp into payloads and subscribers read back.
pub fn now_us() -> u64 {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    EPOCH.get_or_init(Instant::now).elapsed().as_micros() as u64
}

/// A payload marker `@<micros>@` followed by padding up to `size` bytes.
/// It survives JSON string escaping, so every protocol can carry it as is.
pub fn stamp(size: usize) -> String {
    let mut s = format!("@{}@", now_us());
    while s.len() < size {
        s.push('x');
    }
    s
}

/// Reads the first `@<micros>@` marker of a received frame.
pub fn read_stamp(frame: &[u8]) -> Option<u64> {
    let start = frame.iter().position(|&b| b == b'@')? + 1;
    let mut value = 0u64;
    for &b in &frame[start..] {
        match b {
            b'0'..=b'9' => value = value * 10 + (b - b'0') as u64,
            b'@' => return Some(value),
            _ => return None,
        }
    }
    None
}

/// CPU seconds (user + system) used so far by a process.
pub fn cpu_seconds(pid: u32) -> f64 {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return 0.0;
    };
    // Fields after the command name, which is in parentheses.
    let Some(rest) = stat.rsplit_once(')').map(|(_, r)| r) else {
        return 0.0;
    };
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    // utime is field 14, stime 15 (1-based); `rest` starts at field 3.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    (ticks(11) + ticks(12)) / hz
}

/// Resident memory of a process in bytes (VmRSS).
pub fn rss_bytes(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<u64>().ok())
        })
        .map_or(0, |kb| kb * 1024)
}

/// CPU used by the server and by this load generator over one measured span.
pub struct CpuSpan {
    server_pids: Vec<u32>,
    start: Instant,
    server0: f64,
    bench0: f64,
    database0: HashMap<u32, f64>,
    machine0: f64,
}

/// Share of one core used, in percent (200 % = both cores of this machine).
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct CpuSplit {
    pub server_pct: f64,
    pub loadgen_pct: f64,
    /// Every `postgres` process of the machine (0 when none ran).
    pub database_pct: f64,
    /// Every process of the machine (`/proc/stat`: all but idle and iowait),
    /// so what other work used shows as machine − server − generator − database.
    pub machine_pct: f64,
    /// Wall-clock seconds of the span (CPU seconds = pct / 100 × seconds).
    pub seconds: f64,
}

/// CPU seconds the whole machine has been busy since boot (all cores).
fn machine_busy_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let Some(line) = stat.lines().find(|l| l.starts_with("cpu ")) else {
        return 0.0;
    };
    let ticks: Vec<f64> = line
        .split_whitespace()
        .skip(1)
        .filter_map(|t| t.parse().ok())
        .collect();
    // user nice system idle iowait irq softirq steal (guest time is in user).
    let busy: f64 = ticks.iter().take(8).sum::<f64>()
        - ticks.get(3).unwrap_or(&0.0)
        - ticks.get(4).unwrap_or(&0.0);
    busy / unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64
}

/// CPU seconds of every PostgreSQL process now running, by pid.
fn database_cpu() -> HashMap<u32, f64> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return HashMap::new();
    };
    entries
        .flatten()
        .filter_map(|entry| entry.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/comm"))
                .is_ok_and(|c| c.trim() == "postgres")
        })
        .map(|pid| (pid, cpu_seconds(pid)))
        .collect()
}

impl CpuSpan {
    /// CPU of one server process, or the sum over several (cluster nodes).
    pub fn start(server_pids: &[u32]) -> Self {
        CpuSpan {
            server_pids: server_pids.to_vec(),
            start: Instant::now(),
            server0: server_pids.iter().map(|&p| cpu_seconds(p)).sum(),
            bench0: cpu_seconds(std::process::id()),
            database0: database_cpu(),
            machine0: machine_busy_seconds(),
        }
    }

    pub fn finish(&self) -> CpuSplit {
        let wall = self.start.elapsed().as_secs_f64().max(1e-9);
        CpuSplit {
            server_pct: 100.0
                * (self
                    .server_pids
                    .iter()
                    .map(|&p| cpu_seconds(p))
                    .sum::<f64>()
                    - self.server0)
                / wall,
            loadgen_pct: 100.0 * (cpu_seconds(std::process::id()) - self.bench0) / wall,
            // Backends that started during the span count from zero.
            database_pct: 100.0
                * database_cpu()
                    .iter()
                    .map(|(pid, now)| now - self.database0.get(pid).unwrap_or(&0.0))
                    .sum::<f64>()
                / wall,
            machine_pct: 100.0 * (machine_busy_seconds() - self.machine0) / wall,
            seconds: wall,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_buckets_are_monotonic_and_tight() {
        for us in [0, 1, 63, 64, 65, 1000, 12_345, 987_654_321] {
            let i = Histogram::index(us);
            assert!(Histogram::lower_bound(i) <= us);
            assert!(us - Histogram::lower_bound(i) <= us / 60 + 1);
        }
    }

    #[test]
    fn stamp_round_trips_through_json_escaping() {
        let s = stamp(64);
        assert_eq!(s.len(), 64);
        let escaped = serde_json::to_string(&serde_json::json!({ "d": s })).unwrap();
        let twice = serde_json::to_string(&escaped).unwrap();
        assert!(read_stamp(twice.as_bytes()).is_some());
    }
}
