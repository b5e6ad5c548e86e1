//! An MCP client for tests, by hand: JSON-RPC POSTs to `/mcp` (stateless,
//! no session), reading the answer whether it comes as one JSON body or as
//! an SSE stream (it does once progress is sent).

use reqwest::{Response, StatusCode};
use serde_json::{Value, json};

use super::TestServer;

pub const PROTOCOL: &str = "2025-06-18";

pub struct Mcp<'a> {
    pub server: &'a TestServer,
    pub token: Option<String>,
}

/// A tool's answer: its structured content, or its error text.
#[derive(Debug)]
pub enum ToolAnswer {
    Ok(Value),
    Refused(String),
}

impl ToolAnswer {
    pub fn ok(self) -> Value {
        match self {
            ToolAnswer::Ok(value) => value,
            ToolAnswer::Refused(text) => panic!("the tool refused: {text}"),
        }
    }

    pub fn refused(self) -> String {
        match self {
            ToolAnswer::Refused(text) => text,
            ToolAnswer::Ok(value) => panic!("the tool answered: {value}"),
        }
    }
}

impl<'a> Mcp<'a> {
    pub fn new(server: &'a TestServer, token: Option<&str>) -> Mcp<'a> {
        Mcp {
            server,
            token: token.map(str::to_owned),
        }
    }

    pub fn url(&self) -> String {
        format!("http://{}/mcp", self.server.addr)
    }

    /// Sends one JSON-RPC message; answers the HTTP response.
    pub async fn post(&self, message: &Value) -> Response {
        let mut request = self
            .server
            .http
            .post(self.url())
            .header("Accept", "application/json, text/event-stream")
            .header("MCP-Protocol-Version", PROTOCOL)
            .json(message);
        if let Some(token) = &self.token {
            request = request.bearer_auth(token);
        }
        request.send().await.expect("request")
    }

    /// One request, its result (or JSON-RPC error) as the message carrying its id.
    pub async fn request(&self, method: &str, params: Value) -> Value {
        let response = self
            .post(&json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params}))
            .await;
        assert_eq!(response.status(), StatusCode::OK, "{method}");
        answer(response).await.0
    }

    /// Calls a tool; answers its structured content or its error text.
    pub async fn tool(&self, name: &str, arguments: Value) -> ToolAnswer {
        let message = self
            .request("tools/call", json!({"name": name, "arguments": arguments}))
            .await;
        tool_answer(&message)
    }
}

/// The message answering the request (the one with an `id`), and the
/// notifications sent before it.
pub async fn answer(response: Response) -> (Value, Vec<Value>) {
    let sse = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| t.starts_with("text/event-stream"));
    let text = response.text().await.expect("body");
    if !sse {
        return (
            serde_json::from_str(&text).expect("a JSON-RPC message"),
            Vec::new(),
        );
    }
    let mut notes = Vec::new();
    for line in text.lines() {
        let Some(data) = line.strip_prefix("data:") else {
            continue;
        };
        let Ok(message) = serde_json::from_str::<Value>(data.trim()) else {
            continue;
        };
        if message.get("id").is_some() {
            return (message, notes);
        }
        notes.push(message);
    }
    panic!("no answer in the stream: {text}");
}

pub fn tool_answer(message: &Value) -> ToolAnswer {
    let result = &message["result"];
    assert!(result.is_object(), "not a tool result: {message}");
    if result["isError"] == json!(true) {
        assert!(
            result.get("structuredContent").is_none(),
            "an error carries no structured content"
        );
        ToolAnswer::Refused(result["content"][0]["text"].as_str().unwrap().to_owned())
    } else {
        ToolAnswer::Ok(result["structuredContent"].clone())
    }
}
