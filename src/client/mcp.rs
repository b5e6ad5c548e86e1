//! `channelhub mcp`: a stdio relay to a server's `/mcp`, for MCP hosts that
//! only start local processes (Claude Desktop's config file).
//!
//! Each JSON-RPC message read from stdin (one per line) is POSTed to
//! `<url>/mcp` with the bearer token; each answer, a JSON body or the
//! messages of an SSE stream (progress included), is written to stdout, one
//! message per line, as it arrives. A `notifications/cancelled` also drops
//! the HTTP request it names, which is how a stateless server learns of it.
//! Diagnostics go to stderr. The protocol itself is the server's: the relay
//! only carries the version in the `MCP-Protocol-Version` header (the one a
//! request names in its `_meta`, else the one `initialize` settled on).

use std::{
    collections::HashMap,
    sync::{Arc, Mutex, PoisonError},
};

use futures_util::StreamExt;
use reqwest::header::CONTENT_TYPE;
use serde_json::{Value, json};
use tokio::{
    io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader},
    sync::mpsc,
    task::JoinHandle,
};

use super::{Client, Failure};

/// The longest line (one JSON-RPC message) read from stdin.
const MAX_LINE_BYTES: usize = 16 * 1024 * 1024;

struct Relay {
    http: reqwest::Client,
    endpoint: String,
    token: Option<String>,
    /// The protocol version the host and server settled on, once seen.
    version: Mutex<Option<String>>,
    out: mpsc::UnboundedSender<String>,
}

pub async fn run(client: &Client) -> Result<(), Failure> {
    let base = client.connection.url.trim_end_matches('/').to_owned();
    // Fail at once, clearly, when the server cannot be reached.
    client
        .http
        .get(format!("{base}/healthz"))
        .send()
        .await
        .map_err(|err| Failure(format!("cannot reach the server at {base}: {err}")))?;
    let (out, mut lines) = mpsc::unbounded_channel::<String>();
    let relay = Arc::new(Relay {
        http: client.http.clone(),
        endpoint: format!("{base}/mcp"),
        token: client.connection.token.clone(),
        version: Mutex::new(None),
        out,
    });
    let writer = tokio::spawn(async move {
        let mut stdout = tokio::io::stdout();
        while let Some(line) = lines.recv().await {
            if stdout.write_all(line.as_bytes()).await.is_err()
                || stdout.write_all(b"\n").await.is_err()
                || stdout.flush().await.is_err()
            {
                break;
            }
        }
    });
    let mut in_flight: HashMap<String, JoinHandle<()>> = HashMap::new();
    let mut stdin = BufReader::new(tokio::io::stdin());
    let mut line = String::new();
    loop {
        line.clear();
        let read = (&mut stdin)
            .take(MAX_LINE_BYTES as u64)
            .read_line(&mut line)
            .await
            .map_err(|err| Failure(format!("reading stdin: {err}")))?;
        if read == 0 {
            break;
        }
        let text = line.trim();
        if text.is_empty() {
            continue;
        }
        in_flight.retain(|_, task| !task.is_finished());
        let message: Value = match serde_json::from_str(text) {
            Ok(message) => message,
            Err(err) => {
                relay.answer_error(&Value::Null, -32700, &format!("parse error: {err}"));
                continue;
            }
        };
        if message["method"] == "notifications/cancelled"
            && let Some(task) = in_flight.remove(&message["params"]["requestId"].to_string())
        {
            task.abort();
        }
        let id = message
            .get("id")
            .filter(|_| message.get("method").is_some());
        let key = id.map(Value::to_string);
        let task = tokio::spawn(relay.clone().forward(message));
        if let Some(key) = key {
            in_flight.insert(key, task);
        }
    }
    for (_, task) in in_flight {
        let _ = task.await;
    }
    drop(relay);
    let _ = writer.await;
    Ok(())
}

impl Relay {
    fn write(&self, message: &Value) {
        let _ = self.out.send(message.to_string());
    }

    fn answer_error(&self, id: &Value, code: i64, text: &str) {
        self.write(&json!({"jsonrpc": "2.0", "id": id, "error": {"code": code, "message": text}}));
    }

    /// Remembers the protocol version an answer settles on.
    fn note_version(&self, message: &Value) {
        if let Some(version) = message["result"]["protocolVersion"].as_str() {
            *self.version.lock().unwrap_or_else(PoisonError::into_inner) = Some(version.to_owned());
        }
    }

    fn relay_message(&self, message: Value) {
        self.note_version(&message);
        self.write(&message);
    }

    async fn forward(self: Arc<Self>, message: Value) {
        let id = message.get("id").cloned().unwrap_or(Value::Null);
        let is_request = message.get("id").is_some() && message.get("method").is_some();
        let mut request = self
            .http
            .post(&self.endpoint)
            .header("Accept", "application/json, text/event-stream")
            .json(&message);
        // The version a message names for itself (the current revision puts
        // it in every request's `_meta`), else the one settled on.
        let version = message["params"]["_meta"]["io.modelcontextprotocol/protocolVersion"]
            .as_str()
            .map(str::to_owned)
            .or_else(|| {
                self.version
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .clone()
            });
        if let Some(version) = version {
            request = request.header("MCP-Protocol-Version", version);
        }
        for (name, value) in standard_headers(&message) {
            request = request.header(name, value);
        }
        if let Some(token) = &self.token {
            request = request.bearer_auth(token);
        }
        let response = match request.send().await {
            Ok(response) => response,
            Err(err) => {
                eprintln!("channelhub mcp: {}: {err}", self.endpoint);
                if is_request {
                    self.answer_error(&id, -32603, &format!("cannot reach the server: {err}"));
                }
                return;
            }
        };
        let status = response.status();
        let sse = response
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|t| t.starts_with("text/event-stream"));
        if !status.is_success() {
            let body = response.text().await.unwrap_or_default();
            let detail = serde_json::from_str::<Value>(&body)
                .ok()
                .and_then(|problem| problem["detail"].as_str().map(str::to_owned))
                .unwrap_or(body);
            eprintln!("channelhub mcp: the server answered {status}: {detail}");
            // A JSON-RPC error from the server passes through as it is.
            match serde_json::from_str::<Value>(&detail) {
                Ok(message) if message.get("jsonrpc").is_some() => self.write(&message),
                _ if is_request => {
                    self.answer_error(&id, -32603, &format!("HTTP {status}: {detail}"));
                }
                _ => {}
            }
            return;
        }
        if sse {
            self.relay_stream(response).await;
        } else if let Ok(body) = response.bytes().await
            && !body.is_empty()
        {
            match serde_json::from_slice::<Value>(&body) {
                Ok(Value::Array(batch)) => batch.into_iter().for_each(|m| self.relay_message(m)),
                Ok(message) => self.relay_message(message),
                Err(err) => eprintln!("channelhub mcp: an answer that is not JSON: {err}"),
            }
        }
    }

    /// Writes each `data:` message of an SSE stream as it arrives.
    async fn relay_stream(&self, response: reqwest::Response) {
        let mut stream = response.bytes_stream();
        let mut buffer = Vec::new();
        while let Some(chunk) = stream.next().await {
            let Ok(chunk) = chunk else { break };
            buffer.extend_from_slice(&chunk);
            while let Some(end) = find_event_end(&buffer) {
                let event: Vec<u8> = buffer.drain(..end).collect();
                let text = String::from_utf8_lossy(&event);
                let data: Vec<&str> = text
                    .lines()
                    .filter_map(|l| l.strip_prefix("data:"))
                    .map(str::trim_start)
                    .collect();
                if data.is_empty() {
                    continue;
                }
                if let Ok(message) = serde_json::from_str::<Value>(&data.join("\n")) {
                    self.relay_message(message);
                }
            }
        }
    }
}

/// The headers the current revision wants beside a request's body
/// (SEP-2243): `Mcp-Method`, and `Mcp-Name` for the methods that name a
/// tool, prompt, resource or task (wrapped in `=?base64?…?=` when it is not
/// plain printable ASCII).
fn standard_headers(message: &Value) -> Vec<(&'static str, String)> {
    let Some(method) = message["method"].as_str() else {
        return Vec::new();
    };
    let mut headers = vec![("Mcp-Method", method.to_owned())];
    let key = match method {
        "tools/call" | "prompts/get" => "name",
        "resources/read" | "resources/subscribe" | "resources/unsubscribe" => "uri",
        "tasks/get" | "tasks/update" | "tasks/cancel" => "taskId",
        _ => return headers,
    };
    if let Some(name) = message["params"][key].as_str() {
        let plain = !name.starts_with([' ', '\t'])
            && !name.ends_with([' ', '\t'])
            && !name.starts_with("=?base64?")
            && name.chars().all(|c| (' '..='~').contains(&c));
        let value = if plain {
            name.to_owned()
        } else {
            use base64::Engine;
            let encoded = base64::engine::general_purpose::STANDARD.encode(name);
            format!("=?base64?{encoded}?=")
        };
        headers.push(("Mcp-Name", value));
    }
    headers
}

/// Where the first SSE event in `buffer` ends (after its blank line).
fn find_event_end(buffer: &[u8]) -> Option<usize> {
    let lf = buffer.windows(2).position(|w| w == b"\n\n").map(|i| i + 2);
    let crlf = buffer
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|i| i + 4);
    match (lf, crlf) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}
