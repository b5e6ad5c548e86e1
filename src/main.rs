//! `channelhub`: the server (`channelhub serve`, the default) in one binary.

/// jemalloc rather than glibc's allocator: on the publish path glibc spent
/// about 15 % of the server's CPU in malloc/free (bodies, events and frames
/// cross threads), and idle connections are smaller too (see BENCHMARKS.md).
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

mod api;
mod auth;
mod client;
mod cluster;
mod config;
mod hub;
mod limits;
mod live;
mod mcp;
mod model;
mod notice;
mod server;
mod store;
mod telemetry;
mod webhooks;

use clap::{Parser, Subcommand};
use std::io::IsTerminal;
use tracing_subscriber::{EnvFilter, fmt};

/// Self-hosted real-time event channels: publish JSON events, receive them
/// over WebSocket, by polling with a cursor, or as signed webhooks.
#[derive(Debug, Parser)]
#[command(name = "channelhub", version, about)]
struct Cli {
    #[command(flatten)]
    connection: client::Connection,
    /// Serving is the default command, so its settings are accepted (and
    /// listed by `--help`) without `serve` too.
    #[command(flatten)]
    serve: config::ServeConfig,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the server (the default with no subcommand).
    Serve(Box<config::ServeConfig>),
    #[command(flatten)]
    Client(client::ClientCommand),
}

/// Info, but rmcp only from warnings: at info it logs each MCP request, and
/// what a client sent (its `initialize`), three lines per request.
const DEFAULT_LOG_FILTER: &str = "info,rmcp=warn";

fn init_logging(json: bool) {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(DEFAULT_LOG_FILTER));
    // Colour codes only for a person at a terminal, never into files or journald.
    let builder = fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal());
    if json {
        builder.json().init();
    } else {
        builder.init();
    }
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let connection = cli.connection;
    let command = cli
        .command
        .unwrap_or_else(|| Command::Serve(Box::new(cli.serve)));
    match command {
        Command::Client(command) => client::run(connection, command).await,
        Command::Serve(config) => {
            init_logging(config.log_json);
            match server::serve(*config).await {
                Ok(()) => std::process::ExitCode::SUCCESS,
                Err(err) => {
                    eprintln!("channelhub: {err}");
                    std::process::ExitCode::FAILURE
                }
            }
        }
    }
}
