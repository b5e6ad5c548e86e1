//! channelhub load generator: runs the fan-out, connections, publish,
//! latency, catch-up and stuck-subscriber scenarios against channelhub, the
//! fan-out workload against NATS and Sockudo on the same machine and against
//! several channelhub nodes sharing one PostgreSQL database (multinode), the
//! publish workload against such a cluster too, and the light-load latency
//! workload against channelhub on SQLite and on PostgreSQL and NATS, and
//! agents blocking on MCP `wait_for_events` beside the same agents
//! long-polling REST (mcp), and the same subscriptions on per-channel
//! sockets, on channelhub's multiplexed socket and on NATS connections of
//! several subjects (mux), then prints tables and writes JSON.
//! Normally started by `bench/run.sh`, which builds everything first.

mod net;
mod peers;
mod procs;
mod prom;
mod report;
mod scenarios;
mod stats;

use std::{
    path::{Path, PathBuf},
    sync::Arc,
    time::{SystemTime, UNIX_EPOCH},
};

use anyhow::Result;
use clap::{Parser, ValueEnum};

use peers::{
    Peer,
    channelhub::{ChannelHub, HubNodes},
    cluster::HubCluster,
    nats::Nats,
    sockudo::Sockudo,
};
use procs::Db;
use report::Results;
use scenarios::{catchup, connect_auth, connections, fanout, latency, mcp, mux, publish, stuck};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Scenario {
    Fanout,
    /// The fan-out workloads against `--nodes` channelhub nodes on one PostgreSQL database.
    Multinode,
    Connections,
    /// Publish throughput: one node on each `--publish-dbs` database, and
    /// `--publish-nodes` nodes on one PostgreSQL database.
    Publish,
    /// Publish-to-receive latency at light load (1 000 subscribers, 10
    /// channels, 1 000 events/s) against channelhub on SQLite, on
    /// PostgreSQL, and NATS, with channelhub's own stage timings.
    Latency,
    Catchup,
    /// Subscribers that never read, one that reads, a burst of large events:
    /// the server's RSS before, at its peak and after.
    Stuck,
    /// WebSocket connects with distinct JWTs, one reused JWT, one `chs_`
    /// token and none: server CPU per connect and memory growth.
    Auth,
    /// Agents looping MCP `wait_for_events` over 100 channels at 100
    /// events/s, then the same agents long-polling REST, each phase on a
    /// fresh SQLite node: wake-up latency, server CPU per wake-up, RSS per waiter.
    Mcp,
    /// One socket, many channels: the same subscriptions on per-channel
    /// sockets, on multiplexed sockets and on NATS connections of several
    /// subjects, each on a fresh server: idle RSS per subscription, and at
    /// maximum rate frames/s and server CPU per frame.
    Mux,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Target {
    Channelhub,
    Nats,
    Sockudo,
}

#[derive(Debug, Parser)]
#[command(about = "Load generator for channelhub and its peers")]
struct Args {
    /// The channelhub binary (release build).
    #[arg(long)]
    server_bin: PathBuf,
    #[arg(long, default_value = "/usr/sbin/nats-server")]
    nats_bin: PathBuf,
    /// The sockudo binary; without it the Sockudo peer is skipped.
    #[arg(long)]
    sockudo_bin: Option<PathBuf>,
    /// Free-text notes to record with the results (repeatable).
    #[arg(long)]
    note: Vec<String>,
    /// Where JSON results, logs and temporary databases go.
    #[arg(long, default_value = "bench/results")]
    results_dir: PathBuf,
    /// Small sizes and short runs (about 2 minutes in all).
    #[arg(long)]
    quick: bool,
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "fanout,multinode,connections,publish,latency,catchup,stuck,auth,mcp,mux"
    )]
    scenarios: Vec<Scenario>,
    /// Servers the fan-out and latency workloads run against.
    #[arg(long, value_delimiter = ',', default_value = "channelhub,nats,sockudo")]
    targets: Vec<Target>,
    /// Node counts of the multinode scenario (one cluster per count; 1 = a
    /// single node on PostgreSQL, for comparison).
    #[arg(long, value_delimiter = ',', default_value = "3")]
    nodes: Vec<usize>,
    /// Fan-out subscriber counts [quick: 1000; full: 1000,10000].
    #[arg(long, value_delimiter = ',')]
    subscribers: Option<Vec<usize>>,
    /// Seconds each fan-out and publish run lasts [quick: 4; full: 10].
    #[arg(long)]
    seconds: Option<u64>,
    /// Fixed publish rates of the fan-out runs on one channel, events/s
    /// (the many-channel runs use the largest).
    #[arg(long, value_delimiter = ',', default_values_t = [100, 1000])]
    rate: Vec<u32>,
    /// Bytes of stamped data in each event.
    #[arg(long, default_value_t = 100)]
    payload_bytes: usize,
    /// Most idle connections to open [quick: 5000; full: as many as the fd limit allows, ≤ 100000].
    #[arg(long)]
    connections: Option<usize>,
    /// Events in the catch-up channel [quick: 100000; full: 1000000].
    #[arg(long)]
    catchup_events: Option<u64>,
    /// WebSocket connects per credential kind in the auth scenario [quick: 2000; full: 10000].
    #[arg(long)]
    auth_connects: Option<usize>,
    /// Agents of the mcp scenario, in each phase [quick: 500; full: 1000].
    #[arg(long)]
    mcp_agents: Option<usize>,
    /// Seconds of publishing in each phase of the mcp scenario [quick: 8; full: 20].
    #[arg(long)]
    mcp_seconds: Option<u64>,
    /// Multiplexed sockets (and NATS connections) of the mux scenario; the
    /// per-channel shape opens this × --mux-per-socket [quick: 200; full: 1000].
    #[arg(long)]
    mux_sockets: Option<usize>,
    /// Subscriptions per multiplexed socket (and subjects per NATS connection).
    #[arg(long, default_value_t = mux::PER_SOCKET)]
    mux_per_socket: usize,
    /// Channels the mux scenario's subscriptions spread over [quick: 20; full: 100].
    #[arg(long)]
    mux_channels: Option<usize>,
    /// Non-reading subscribers of the stuck scenario, one server per count
    /// [quick: 1000; full: 1000,5000,10000].
    #[arg(long, value_delimiter = ',')]
    stuck_subscribers: Option<Vec<usize>>,
    /// Megabytes of event data the stuck scenario publishes [quick: 32; full: 100].
    #[arg(long)]
    stuck_megabytes: Option<u64>,
    /// Bytes of each event's data in the stuck scenario.
    #[arg(long, default_value_t = 8000)]
    stuck_event_bytes: usize,
    /// Extra flags for the server of the stuck scenario (e.g. "--write-timeout=5").
    #[arg(long, allow_hyphen_values = true)]
    stuck_server_arg: Vec<String>,
    /// Databases for the publish scenario.
    #[arg(long, value_delimiter = ',', default_value = "sqlite,postgres")]
    publish_dbs: Vec<DbArg>,
    /// Node counts of the publish scenario: 1 = one node on each
    /// `--publish-dbs` database; more = that many nodes on one PostgreSQL
    /// database (only when `--publish-dbs` includes postgres).
    #[arg(long, value_delimiter = ',', default_value = "1,3")]
    publish_nodes: Vec<usize>,
    /// Only the keyed publish workloads (for `bench/profile.sh publish-keyed`).
    #[arg(long)]
    publish_keyed_only: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum DbArg {
    Sqlite,
    Postgres,
}

impl From<DbArg> for Db {
    fn from(d: DbArg) -> Db {
        match d {
            DbArg::Sqlite => Db::Sqlite,
            DbArg::Postgres => Db::Postgres,
        }
    }
}

/// File descriptors the harness keeps for itself besides client sockets.
const FD_RESERVE: usize = 300;
/// Concurrent clients of the publish scenario.
const PUBLISH_CLIENTS: usize = 64;
/// Channels the spread publish cases go round-robin over.
const PUBLISH_SPREAD_CHANNELS: usize = 100;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<()> {
    let args = Args::parse();
    let started = SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs();
    std::fs::create_dir_all(&args.results_dir)?;
    let work = args.results_dir.join(format!("run-{started}"));
    std::fs::create_dir_all(&work)?;

    let mut results = Results {
        started_unix: started,
        command: std::env::args().collect::<Vec<_>>().join(" "),
        quick: args.quick,
        machine: report::Machine::detect(),
        ..Default::default()
    };
    let fd_limit = report::open_files_limit() as usize;
    for note in &args.note {
        results.note(note.clone());
    }

    let json_path = args.results_dir.join(format!("results-{started}.json"));
    let outcome = run_all(&args, &work, fd_limit, &mut results).await;
    if let Err(err) = &outcome {
        results.note(format!("run aborted: {err:#}"));
    }
    results.compute_ratios();
    results.print();
    results.write_json(&json_path)?;
    results.write_json(&args.results_dir.join("latest.json"))?;
    println!("\nJSON results: {}", json_path.display());
    outcome
}

async fn run_all(args: &Args, work: &Path, fd_limit: usize, results: &mut Results) -> Result<()> {
    let seconds = args.seconds.unwrap_or(if args.quick { 4 } else { 10 });
    let hub_launch =
        |db: Db, tag: &'static str, extra_args: Vec<String>| peers::channelhub::Launch {
            bin: &args.server_bin,
            db,
            work_dir: work,
            tag,
            extra_args,
        };

    if args.scenarios.contains(&Scenario::Fanout) {
        let cases = fanout_cases(args, seconds, fd_limit, results);
        for target in &args.targets {
            println!("\n== fan-out: {target:?}");
            let outcome = match target {
                Target::Channelhub => {
                    match ChannelHub::start(hub_launch(Db::Sqlite, "fanout", vec![])).await {
                        Ok(hub) => fanout_all(Arc::new(hub), &cases, results).await,
                        Err(e) => Err(e),
                    }
                }
                Target::Nats => match Nats::start(&args.nats_bin, work).await {
                    Ok(nats) => fanout_all(Arc::new(nats), &cases, results).await,
                    Err(e) => Err(e),
                },
                Target::Sockudo => match &args.sockudo_bin {
                    None => continue,
                    Some(bin) => match Sockudo::start(bin, work).await {
                        Ok(s) => fanout_all(Arc::new(s), &cases, results).await,
                        Err(e) => Err(e),
                    },
                },
            };
            if let Err(err) = outcome {
                results.note(format!("fan-out against {target:?} failed: {err:#}"));
            }
        }
    }

    if args.scenarios.contains(&Scenario::Multinode) {
        let cases = fanout_cases(args, seconds, fd_limit, results);
        for &nodes in &args.nodes {
            println!("\n== multinode: {nodes} channelhub node(s) on one PostgreSQL database");
            let launch = hub_launch(Db::Postgres, "multinode", vec![]);
            let outcome = match HubCluster::start(launch, nodes).await {
                Ok(cluster) => fanout_all(Arc::new(cluster), &cases, results).await,
                Err(e) => Err(e),
            };
            if let Err(err) = outcome {
                results.note(format!(
                    "multinode fan-out with {nodes} nodes failed: {err:#}"
                ));
            }
        }
    }

    if args.scenarios.contains(&Scenario::Connections) {
        let want = args
            .connections
            .unwrap_or(if args.quick { 5_000 } else { 100_000 });
        let max = want.min(fd_limit.saturating_sub(FD_RESERVE));
        if max < want {
            results.note(format!(
                "connections: asked for {want}, but the open-files limit is {fd_limit} for both the \
                 server and this generator (hard limit, cannot be raised here), so at most {max} \
                 connections were opened; RSS at 100 000 is extrapolated from the per-connection figure"
            ));
        }
        let steps: Vec<usize> = [1_000, 5_000, 10_000, 20_000, 50_000, 100_000]
            .into_iter()
            .filter(|&s| s < max)
            .chain([max])
            .collect();
        println!("\n== connections: up to {max} idle subscribers");
        let extra = vec![
            "--max-connections".to_string(),
            (max + 100).max(100_000).to_string(),
        ];
        let hub = ChannelHub::start(hub_launch(Db::Sqlite, "connections", extra)).await?;
        match connections::run(&hub, &steps).await {
            Ok(o) => results.connections = Some(o),
            Err(err) => results.note(format!("connections failed: {err:#}")),
        }
    }

    if args.scenarios.contains(&Scenario::Publish) {
        for &nodes in &args.publish_nodes {
            if nodes == 1 {
                for &db in &args.publish_dbs {
                    let db = Db::from(db);
                    println!("\n== publish: {db:?}, one node");
                    let tag = match db {
                        Db::Sqlite => "publish-sqlite",
                        Db::Postgres => "publish-pg",
                    };
                    match ChannelHub::start(hub_launch(db, tag, vec![])).await {
                        Ok(hub) => {
                            let cases = publish_cases(args, seconds, nodes);
                            publish_all(&Arc::new(hub), &cases, results).await;
                        }
                        Err(err) => results
                            .note(format!("publish on {db:?}: server did not start: {err:#}")),
                    }
                }
            } else if args.publish_dbs.contains(&DbArg::Postgres) {
                println!("\n== publish: {nodes} channelhub nodes on one PostgreSQL database");
                let launch = hub_launch(Db::Postgres, "publish-cluster", vec![]);
                match HubCluster::start(launch, nodes).await {
                    Ok(cluster) => {
                        let cases = publish_cases(args, seconds, nodes);
                        publish_all(&Arc::new(cluster), &cases, results).await;
                    }
                    Err(err) => results.note(format!(
                        "publish on {nodes} PostgreSQL nodes: the cluster did not start: {err:#}"
                    )),
                }
            } else {
                results.note(format!(
                    "publish with {nodes} nodes skipped: several nodes share a PostgreSQL \
                     database, and --publish-dbs leaves postgres out"
                ));
            }
        }
    }

    if args.scenarios.contains(&Scenario::Latency) {
        let case = fanout::Case {
            subscribers: latency::SUBSCRIBERS,
            channels: latency::CHANNELS,
            per_socket: 1,
            rate: Some(latency::RATE),
            seconds,
            payload_bytes: args.payload_bytes,
        };
        if fits_fd_limit(case.subscribers, fd_limit, "latency", results) {
            if args.targets.contains(&Target::Channelhub) {
                for (target, db, tag) in [
                    ("channelhub-sqlite", Db::Sqlite, "latency-sqlite"),
                    ("channelhub-pg", Db::Postgres, "latency-pg"),
                ] {
                    println!("\n== latency: {target}, {}", case.label());
                    let outcome = match ChannelHub::start(hub_launch(db, tag, vec![])).await {
                        Ok(hub) => latency::run_hub(Arc::new(hub), target, &case).await,
                        Err(e) => Err(e),
                    };
                    record_latency(target, outcome, results);
                }
            }
            if args.targets.contains(&Target::Nats) {
                let target = "nats";
                println!("\n== latency: {target}, {}", case.label());
                let outcome = match Nats::start(&args.nats_bin, work).await {
                    Ok(nats) => latency::run(Arc::new(nats), target, &case).await,
                    Err(e) => Err(e),
                };
                record_latency(target, outcome, results);
            }
        }
    }

    if args.scenarios.contains(&Scenario::Catchup) {
        let events = args
            .catchup_events
            .unwrap_or(if args.quick { 100_000 } else { 1_000_000 });
        println!("\n== catch-up: {events} events");
        let hub = Arc::new(ChannelHub::start(hub_launch(Db::Sqlite, "catchup", vec![])).await?);
        match catchup::run(&hub, events, args.payload_bytes).await {
            Ok(o) => results.catchup.push(o),
            Err(err) => results.note(format!("catch-up failed: {err:#}")),
        }
    }

    if args.scenarios.contains(&Scenario::Auth) {
        let connects = args
            .auth_connects
            .unwrap_or(if args.quick { 2_000 } else { 10_000 });
        println!("\n== auth: {connects} WebSocket connects per credential kind");
        let hub = ChannelHub::start(hub_launch(Db::Sqlite, "auth", vec![])).await?;
        match connect_auth::run(&hub, connects).await {
            Ok(o) => results.auth = Some(o),
            Err(err) => results.note(format!("auth failed: {err:#}")),
        }
    }

    if args.scenarios.contains(&Scenario::Mcp) {
        let case = mcp::Case {
            agents: args
                .mcp_agents
                .unwrap_or(if args.quick { 500 } else { 1_000 }),
            channels: mcp::CHANNELS,
            rate: mcp::RATE,
            seconds: args.mcp_seconds.unwrap_or(if args.quick { 8 } else { 20 }),
            payload_bytes: args.payload_bytes,
        };
        if fits_fd_limit(case.agents, fd_limit, "mcp", results) {
            let mut phases = Vec::new();
            for api in [mcp::Api::Mcp, mcp::Api::Rest] {
                println!(
                    "\n== mcp: {} agents, {} over {} channels at {} events/s for {} s, fresh SQLite node",
                    case.agents,
                    api.label(),
                    case.channels,
                    case.rate,
                    case.seconds
                );
                let tag = match api {
                    mcp::Api::Mcp => "mcp-mcp",
                    mcp::Api::Rest => "mcp-rest",
                };
                let outcome = match ChannelHub::start(hub_launch(Db::Sqlite, tag, vec![])).await {
                    Ok(hub) => mcp::run(Arc::new(hub), api, &case).await,
                    Err(e) => Err(e),
                };
                match outcome {
                    Ok(phase) => phases.push(phase),
                    Err(err) => results.note(format!("mcp: {} phase failed: {err:#}", api.label())),
                }
            }
            if !phases.is_empty() {
                results.mcp = Some(mcp::Outcome::new(case, phases));
            }
        }
    }

    if args.scenarios.contains(&Scenario::Mux) {
        run_mux(args, seconds, fd_limit, work, results).await;
    }

    if args.scenarios.contains(&Scenario::Stuck) {
        let counts = args.stuck_subscribers.clone().unwrap_or(if args.quick {
            vec![1_000]
        } else {
            vec![1_000, 5_000, 10_000]
        });
        let megabytes = args
            .stuck_megabytes
            .unwrap_or(if args.quick { 32 } else { 100 });
        for count in counts {
            if let Err(err) = stuck::check_limit(count, fd_limit, FD_RESERVE) {
                results.note(format!("stuck: skipped: {err:#}"));
                continue;
            }
            let case = stuck::Case {
                stuck: count,
                event_bytes: args.stuck_event_bytes,
                total_bytes: megabytes * 1_000_000,
            };
            println!(
                "\n== stuck subscribers: {count} that never read, 1 reader, {megabytes} MB of {}-byte events",
                case.event_bytes
            );
            // A fresh server per count: the levels of one run do not carry over.
            let launch = hub_launch(Db::Sqlite, "stuck", args.stuck_server_arg.clone());
            let outcome = match ChannelHub::start(launch).await {
                Ok(hub) => stuck::run(&hub, &case).await,
                Err(e) => Err(e),
            };
            match outcome {
                Ok(o) => results.stuck.push(o),
                Err(err) => results.note(format!("stuck with {count} failed: {err:#}")),
            }
        }
    }
    Ok(())
}

/// The mux scenario: per-channel sockets and multiplexed sockets on fresh
/// channelhub nodes (SQLite), then NATS, as `--targets` allow.
async fn run_mux(args: &Args, seconds: u64, fd_limit: usize, work: &Path, results: &mut Results) {
    let case = mux::Case {
        sockets: args.mux_sockets.unwrap_or(if args.quick {
            mux::QUICK_SOCKETS
        } else {
            mux::SOCKETS
        }),
        per_socket: args.mux_per_socket.max(1),
        channels: args.mux_channels.unwrap_or(if args.quick {
            mux::QUICK_CHANNELS
        } else {
            mux::CHANNELS
        }),
        seconds,
        payload_bytes: args.payload_bytes,
    };
    let mut shapes = Vec::new();
    if args.targets.contains(&Target::Channelhub) {
        if fits_fd_limit(
            case.subscriptions(),
            fd_limit,
            "mux (per-channel sockets)",
            results,
        ) {
            shapes.push(mux::Shape::PerChannel);
        }
        shapes.push(mux::Shape::Multiplexed);
    }
    if args.targets.contains(&Target::Nats) {
        shapes.push(mux::Shape::Nats);
    }
    // The server's defaults (100 subscriptions, a burst of 100 commands)
    // hold the 10 per socket; more need the flags.
    let mut hub_args = Vec::new();
    if case.per_socket > 100 {
        let n = case.per_socket.to_string();
        hub_args = vec![
            "--ws-max-subscriptions".to_string(),
            n.clone(),
            "--ws-commands-per-second".to_string(),
            n,
        ];
    }
    let unexpected_before =
        peers::channelhub::MUX_UNEXPECTED_FRAMES.load(std::sync::atomic::Ordering::Relaxed);
    let mut runs = Vec::new();
    for shape in shapes {
        println!(
            "
== mux: {} subscriptions over {} channels, {}, maximum rate for {} s, fresh server",
            case.subscriptions(),
            case.channels,
            match shape {
                mux::Shape::PerChannel => format!("{} per-channel sockets", case.subscriptions()),
                _ => format!(
                    "{} {} sockets x {}",
                    case.sockets,
                    shape.label(),
                    case.per_socket
                ),
            },
            case.seconds
        );
        let outcome = match shape {
            mux::Shape::Nats => match Nats::start(&args.nats_bin, work).await {
                Ok(nats) => mux::run(Arc::new(nats), shape, &case).await,
                Err(e) => Err(e),
            },
            _ => {
                let launch = peers::channelhub::Launch {
                    bin: &args.server_bin,
                    db: Db::Sqlite,
                    work_dir: work,
                    tag: shape.tag(),
                    extra_args: hub_args.clone(),
                };
                match ChannelHub::start(launch).await {
                    Ok(hub) => mux::run(Arc::new(hub), shape, &case).await,
                    Err(e) => Err(e),
                }
            }
        };
        match outcome {
            Ok(run) => {
                let f = &run.fanout;
                println!(
                    "    idle {:.2} KiB/subscription; {:.0} frames/s, server {:.3} us/frame, \
                     cpu srv/gen/all {:.0}/{:.0}/{:.0}%, {}/{} complete, {} ended by server",
                    run.rss_per_subscription_kib,
                    f.frames_per_s,
                    run.server_cpu_us_per_frame,
                    f.cpu.server_pct,
                    f.cpu.loadgen_pct,
                    f.cpu.machine_pct,
                    f.complete_subscribers,
                    f.connected,
                    f.closed_by_server
                );
                runs.push(run);
            }
            Err(err) => results.note(format!("mux: {} failed: {err:#}", shape.label())),
        }
    }
    let unexpected = peers::channelhub::MUX_UNEXPECTED_FRAMES
        .load(std::sync::atomic::Ordering::Relaxed)
        - unexpected_before;
    if !runs.is_empty() {
        results.mux = Some(mux::Outcome::new(case, runs, unexpected));
    }
}

/// The fan-out workloads: one channel at a fixed and at maximum rate for each
/// subscriber count, and the same subscribers spread over many channels.
fn fanout_cases(
    args: &Args,
    seconds: u64,
    fd_limit: usize,
    results: &mut Results,
) -> Vec<fanout::Case> {
    let counts = args.subscribers.clone().unwrap_or(if args.quick {
        vec![1_000]
    } else {
        vec![1_000, 10_000]
    });
    let usable: Vec<usize> = counts
        .into_iter()
        .filter(|&n| fits_fd_limit(n, fd_limit, "fan-out", results))
        .collect();
    let case = |subscribers, channels, rate| fanout::Case {
        subscribers,
        channels,
        per_socket: 1,
        rate,
        seconds,
        payload_bytes: args.payload_bytes,
    };
    let mut cases: Vec<fanout::Case> = usable
        .iter()
        .flat_map(|&n| {
            let fixed = args.rate.iter().map(move |&rate| case(n, 1, Some(rate)));
            fixed.chain([case(n, 1, None)])
        })
        .collect();
    let top_rate = args.rate.iter().copied().max();
    if let Some(&largest) = usable.iter().max() {
        let channels = (largest / 100).max(1);
        cases.push(case(largest, channels, top_rate));
        cases.push(case(largest, channels, None));
    }
    cases
}

/// Whether `subscribers` client sockets fit under the open-files limit
/// beside the harness's own; notes that `scenario` skips them when not.
fn fits_fd_limit(
    subscribers: usize,
    fd_limit: usize,
    scenario: &str,
    results: &mut Results,
) -> bool {
    let fits = subscribers + FD_RESERVE <= fd_limit;
    if !fits {
        results.note(format!(
            "{scenario} with {subscribers} subscribers skipped: open-files limit {fd_limit} (hard) is too low"
        ));
    }
    fits
}

/// The publish workloads for `nodes` nodes. On one node: single events and
/// 100-event batches, each on one channel and spread over
/// `PUBLISH_SPREAD_CHANNELS`, plus keyed requests on one channel. On
/// several nodes (aggregate throughput of a cluster): only the unkeyed
/// spread ones.
fn publish_cases(args: &Args, seconds: u64, nodes: usize) -> Vec<publish::Case> {
    let variants = [(false, 1), (false, PUBLISH_SPREAD_CHANNELS), (true, 1)];
    [1, 100]
        .into_iter()
        .flat_map(|batch| variants.map(|(keyed, channels)| (batch, keyed, channels)))
        .filter(|&(_, keyed, channels)| nodes == 1 || (!keyed && channels > 1))
        .filter(|&(_, keyed, _)| keyed || !args.publish_keyed_only)
        .map(|(batch, keyed, channels)| publish::Case {
            batch,
            keyed,
            channels,
            concurrency: PUBLISH_CLIENTS,
            seconds,
            payload_bytes: args.payload_bytes,
        })
        .collect()
}

async fn publish_all<T: HubNodes>(target: &Arc<T>, cases: &[publish::Case], results: &mut Results) {
    for case in cases {
        match publish::run(target, case).await {
            Ok(o) => {
                println!("  {}: {:.0} events/s", case.label(), o.events_per_s);
                results.publish.push(o);
            }
            Err(err) => results.note(format!(
                "publish ({} node(s)) {}: {err:#}",
                target.nodes().len(),
                case.label()
            )),
        }
    }
}

/// Prints and keeps one latency outcome, or notes why the target failed.
fn record_latency(target: &str, outcome: Result<latency::Outcome>, results: &mut Results) {
    match outcome {
        Ok(o) => {
            let l = &o.fanout.latency;
            println!(
                "    p50 {:.2} ms, p90 {:.2} ms, p99 {:.2} ms, max {:.1} ms, {}/{} complete",
                l.p50_ms,
                l.p90_ms,
                l.p99_ms,
                l.max_ms,
                o.fanout.complete_subscribers,
                o.fanout.connected
            );
            for stage in &o.server_stages {
                match &stage.measured {
                    Some(f) => println!(
                        "    server {}: {} observations, mean {} ms, p50 {} ms, p99 {} ms",
                        stage.stage,
                        f.count,
                        report::ms_or_na(f.mean_ms),
                        report::ms_or_na(f.p50_ms),
                        report::ms_or_na(f.p99_ms)
                    ),
                    None => println!("    server {}: n/a", stage.stage),
                }
            }
            results.latency.push(o);
        }
        Err(err) => results.note(format!("latency against {target} failed: {err:#}")),
    }
}

async fn fanout_all<P: Peer>(
    peer: Arc<P>,
    cases: &[fanout::Case],
    results: &mut Results,
) -> Result<()> {
    for (i, case) in cases.iter().enumerate() {
        println!("  {} ...", case.label());
        let o = fanout::run(peer.clone(), case, &i.to_string()).await?;
        println!(
            "    {:.0} frames/s, p50 {:.2} ms, p99 {:.2} ms, {}/{} complete, {} closed by server",
            o.frames_per_s,
            o.latency.p50_ms,
            o.latency.p99_ms,
            o.complete_subscribers,
            o.connected,
            o.closed_by_server
        );
        results.fanout.push(o);
    }
    Ok(())
}
