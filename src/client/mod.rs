//! The command-line client: `channelhub channel|token|publish|tail|webhook|jwt|mcp`.
//!
//! A thin HTTP/WebSocket client of the public API, in the same binary as the
//! server so that nobody needs curl. It shares no code path with the server's
//! internals beyond the API's JSON. Errors print the problem's title and
//! detail and exit non-zero.

mod jwt;
mod mcp;
mod output;
mod tail;

use std::io::{BufRead, IsTerminal, Write};

use clap::{Args, Subcommand};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use output::Printer;

/// Where the server is and who is calling.
#[derive(Debug, Clone, Args)]
pub struct Connection {
    /// Server base URL.
    #[arg(
        long,
        global = true,
        env = "CHANNELHUB_URL",
        default_value = "http://127.0.0.1:8080"
    )]
    pub url: String,
    /// Admin, publish or subscribe token.
    #[arg(long, global = true, env = "CHANNELHUB_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// Print JSON (one document per line) instead of readable text.
    #[arg(long, global = true)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum ClientCommand {
    /// Create, list, show and delete channels.
    #[command(subcommand)]
    Channel(ChannelCommand),
    /// Create, list and revoke a channel's tokens.
    #[command(subcommand)]
    Token(TokenCommand),
    /// Publish an event (JSON `data`), or with `-` one event per stdin line.
    Publish {
        channel: String,
        /// Event type.
        #[arg(long = "type")]
        event_type: Option<String>,
        /// The event's data as JSON, or `-` for newline-delimited JSON on stdin.
        data: String,
    },
    /// Print a channel's latest events; with -f, keep following live.
    Tail {
        channel: String,
        /// Follow: keep printing new events, reconnecting as needed.
        #[arg(short, long)]
        follow: bool,
        /// Comma-separated event types.
        #[arg(long)]
        types: Option<String>,
        /// How many stored events to print first.
        #[arg(short = 'n', long, default_value_t = 10)]
        lines: u32,
    },
    /// Register, list and remove webhooks.
    #[command(subcommand)]
    Webhook(WebhookCommand),
    /// Make keys, mint JWTs, and check what a token grants.
    #[command(subcommand)]
    Jwt(jwt::JwtCommand),
    /// Relay MCP over stdio to the server's `/mcp` (for hosts that only
    /// start local processes): JSON-RPC lines in on stdin, answers out on
    /// stdout, with `--url` and `--token`.
    Mcp,
}

#[derive(Debug, Subcommand)]
pub enum ChannelCommand {
    Create {
        id: String,
        #[arg(long)]
        name: Option<String>,
        #[arg(long)]
        description: Option<String>,
        /// Needs a subscribe token to read.
        #[arg(long)]
        private: bool,
        #[arg(long = "tag")]
        tags: Vec<String>,
    },
    List,
    Get {
        id: String,
    },
    Delete {
        id: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    Create {
        channel: String,
        /// `subscribe` or `publish`.
        #[arg(long, default_value = "subscribe")]
        kind: String,
        #[arg(long)]
        name: Option<String>,
        #[arg(long)]
        publisher_id: Option<String>,
        /// Seconds until it expires.
        #[arg(long)]
        expires_in: Option<i64>,
    },
    List {
        channel: String,
    },
    Revoke {
        channel: String,
        token_id: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum WebhookCommand {
    Add {
        channel: String,
        /// Where each event is POSTed.
        #[arg(value_name = "URL")]
        target: String,
        /// Comma-separated event types to deliver.
        #[arg(long)]
        types: Option<String>,
        /// Lifetime in seconds.
        #[arg(long)]
        ttl: Option<u64>,
    },
    List {
        channel: String,
    },
    Rm {
        channel: String,
        webhook_id: String,
    },
}

/// A failed call, as the user should see it.
#[derive(Debug)]
pub struct Failure(pub String);

impl<E: std::fmt::Display> From<E> for Failure {
    fn from(err: E) -> Self {
        Failure(err.to_string())
    }
}

/// Runs a client command; the exit code is 0 on success.
pub async fn run(connection: Connection, command: ClientCommand) -> std::process::ExitCode {
    let client = Client::new(connection);
    match client.dispatch(command).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(Failure(message)) => {
            eprintln!("channelhub: {message}");
            std::process::ExitCode::FAILURE
        }
    }
}

pub struct Client {
    connection: Connection,
    http: reqwest::Client,
    printer: Printer,
}

impl Client {
    fn new(connection: Connection) -> Client {
        Client {
            printer: Printer {
                json: connection.json,
            },
            connection,
            http: reqwest::Client::new(),
        }
    }

    /// The same server, asked with another credential.
    fn clone_with_token(&self, token: String) -> Client {
        let mut connection = self.connection.clone();
        connection.token = Some(token);
        Client::new(connection)
    }

    fn api(&self, path: &str) -> String {
        format!("{}/api/v1{path}", self.connection.url.trim_end_matches('/'))
    }

    /// Calls the API; a problem answer becomes a `Failure` with its title and detail.
    async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<Value, Failure> {
        let mut request = self.http.request(method, self.api(path));
        if let Some(token) = &self.connection.token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request
            .send()
            .await
            .map_err(|e| Failure(format!("cannot reach {}: {e}", self.connection.url)))?;
        let status = response.status();
        let text = response.text().await?;
        let value: Value = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        if status.is_success() {
            return Ok(value);
        }
        let title = value["title"]
            .as_str()
            .map_or_else(|| status.to_string(), str::to_owned);
        let detail = value["detail"].as_str().unwrap_or_default();
        Err(Failure(format!("{title}: {detail}")))
    }

    async fn dispatch(&self, command: ClientCommand) -> Result<(), Failure> {
        match command {
            ClientCommand::Channel(command) => self.channel(command).await,
            ClientCommand::Token(command) => self.token(command).await,
            ClientCommand::Publish {
                channel,
                event_type,
                data,
            } => self.publish(&channel, event_type, &data).await,
            ClientCommand::Tail {
                channel,
                follow,
                types,
                lines,
            } => tail::run(self, &channel, follow, types.as_deref(), lines).await,
            ClientCommand::Webhook(command) => self.webhook(command).await,
            ClientCommand::Jwt(command) => jwt::run(self, command).await,
            ClientCommand::Mcp => mcp::run(self).await,
        }
    }

    async fn channel(&self, command: ChannelCommand) -> Result<(), Failure> {
        match command {
            ChannelCommand::Create {
                id,
                name,
                description,
                private,
                tags,
            } => {
                let mut body = json!({"id": id, "is_public": !private, "tags": tags});
                if let Some(name) = name {
                    body["name"] = json!(name);
                }
                if let Some(description) = description {
                    body["description"] = json!(description);
                }
                let channel = self.call(Method::POST, "/channels", Some(body)).await?;
                self.printer.channel(&channel);
            }
            ChannelCommand::List => {
                let mut cursor: Option<String> = None;
                loop {
                    let path = match &cursor {
                        Some(c) => format!("/channels?limit=1000&cursor={c}"),
                        None => "/channels?limit=1000".to_owned(),
                    };
                    let page = self.call(Method::GET, &path, None).await?;
                    for channel in page["channels"].as_array().into_iter().flatten() {
                        self.printer.channel(channel);
                    }
                    cursor = page["cursor"].as_str().map(str::to_owned);
                    if page["has_more"] != true {
                        break;
                    }
                }
            }
            ChannelCommand::Get { id } => {
                let channel = self
                    .call(Method::GET, &format!("/channels/{id}"), None)
                    .await?;
                self.printer.channel(&channel);
            }
            ChannelCommand::Delete { id } => {
                self.call(Method::DELETE, &format!("/channels/{id}"), None)
                    .await?;
                self.printer.done(&format!("deleted channel {id}"));
            }
        }
        Ok(())
    }

    async fn token(&self, command: TokenCommand) -> Result<(), Failure> {
        match command {
            TokenCommand::Create {
                channel,
                kind,
                name,
                publisher_id,
                expires_in,
            } => {
                let body = json!({
                    "kind": kind, "name": name, "publisher_id": publisher_id,
                    "expires_in_seconds": expires_in,
                });
                let token = self
                    .call(
                        Method::POST,
                        &format!("/channels/{channel}/tokens"),
                        Some(body),
                    )
                    .await?;
                self.printer.token(&token);
            }
            TokenCommand::List { channel } => {
                let tokens = self
                    .call(Method::GET, &format!("/channels/{channel}/tokens"), None)
                    .await?;
                for token in tokens.as_array().into_iter().flatten() {
                    self.printer.token(token);
                }
            }
            TokenCommand::Revoke { channel, token_id } => {
                self.call(
                    Method::DELETE,
                    &format!("/channels/{channel}/tokens/{token_id}"),
                    None,
                )
                .await?;
                self.printer.done(&format!("revoked token {token_id}"));
            }
        }
        Ok(())
    }

    async fn publish(
        &self,
        channel: &str,
        event_type: Option<String>,
        data: &str,
    ) -> Result<(), Failure> {
        let path = format!("/channels/{channel}/events");
        if data != "-" {
            let data: Value = serde_json::from_str(data)
                .map_err(|e| Failure(format!("data is not JSON: {e}")))?;
            let event = self
                .call(
                    Method::POST,
                    &path,
                    Some(json!({"type": event_type, "data": data})),
                )
                .await?;
            self.printer.event(&event);
            return Ok(());
        }
        // Newline-delimited JSON on stdin, sent in batches of 100.
        const BATCH: usize = 100;
        let progress = std::io::stderr().is_terminal();
        let mut published = 0usize;
        let mut batch = Vec::with_capacity(BATCH);
        let stdin = std::io::stdin();
        let mut lines = stdin.lock().lines().enumerate();
        loop {
            let next = lines.next();
            if let Some((number, line)) = &next {
                let line = line.as_ref().map_err(|e| Failure(e.to_string()))?;
                if !line.trim().is_empty() {
                    let data: Value = serde_json::from_str(line)
                        .map_err(|e| Failure(format!("line {}: not JSON: {e}", number + 1)))?;
                    batch.push(json!({"type": event_type, "data": data}));
                }
            }
            if batch.len() == BATCH || (next.is_none() && !batch.is_empty()) {
                let events = std::mem::take(&mut batch);
                let stored = self
                    .call(Method::POST, &path, Some(json!({"events": events})))
                    .await?;
                published += stored["events"].as_array().map_or(0, Vec::len);
                if self.printer.json {
                    for event in stored["events"].as_array().into_iter().flatten() {
                        self.printer.event(event);
                    }
                }
                if progress {
                    eprint!("\r{published} events published");
                    let _ = std::io::stderr().flush();
                }
            }
            if next.is_none() {
                break;
            }
        }
        if progress {
            eprintln!();
        }
        if !self.printer.json {
            self.printer
                .done(&format!("published {published} events to {channel}"));
        }
        Ok(())
    }

    async fn webhook(&self, command: WebhookCommand) -> Result<(), Failure> {
        match command {
            WebhookCommand::Add {
                channel,
                target,
                types,
                ttl,
            } => {
                let types = types.map(|t| crate::model::parse_type_list(Some(&t)));
                let body = json!({"url": target, "event_types": types, "ttl_seconds": ttl});
                let webhook = self
                    .call(
                        Method::POST,
                        &format!("/channels/{channel}/webhooks"),
                        Some(body),
                    )
                    .await?;
                self.printer.webhook(&webhook);
            }
            WebhookCommand::List { channel } => {
                let hooks = self
                    .call(Method::GET, &format!("/channels/{channel}/webhooks"), None)
                    .await?;
                for hook in hooks.as_array().into_iter().flatten() {
                    self.printer.webhook(hook);
                }
            }
            WebhookCommand::Rm {
                channel,
                webhook_id,
            } => {
                self.call(
                    Method::DELETE,
                    &format!("/channels/{channel}/webhooks/{webhook_id}"),
                    None,
                )
                .await?;
                self.printer.done(&format!("removed webhook {webhook_id}"));
            }
        }
        Ok(())
    }
}

/// Whether a status means the server refused for good (no point retrying).
fn is_final(status: StatusCode) -> bool {
    status.is_client_error()
}
