//! `channelhub tail [-f]`: the latest stored events, then (with `-f`) live
//! ones over WebSocket. A dropped connection is retried with backoff and
//! resumed with `after=<last event id>`, so nothing is missed or repeated;
//! if the server says events were removed meanwhile, a warning says so.

use std::time::Duration;

use futures_util::StreamExt;
use reqwest::Method;
use serde_json::Value;
use tokio_tungstenite::tungstenite::{Error as WsError, Message, client::IntoClientRequest};

use super::{Client, Failure, is_final};
use crate::model::parse_type_list;

const BACKOFF_START: Duration = Duration::from_millis(250);
const BACKOFF_MAX: Duration = Duration::from_secs(5);
/// The feed holds the newest 50 events.
const MAX_LINES: u32 = 50;

pub async fn run(
    client: &Client,
    channel: &str,
    follow: bool,
    types: Option<&str>,
    lines: u32,
) -> Result<(), Failure> {
    let wanted = parse_type_list(types);
    let feed = client
        .call(Method::GET, &format!("/channels/{channel}/feed.json"), None)
        .await?;
    let mut stored: Vec<Value> = feed["items"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|item| item["_channelhub"].clone())
        .collect();
    // Newest first in the feed: the newest matching ones, printed oldest first.
    let newest = stored
        .first()
        .and_then(|e| e["id"].as_str())
        .map(str::to_owned);
    stored.retain(|e| {
        wanted.is_empty()
            || e["type"]
                .as_str()
                .is_some_and(|t| wanted.iter().any(|w| w == t))
    });
    stored.truncate(lines.min(MAX_LINES) as usize);
    for event in stored.iter().rev() {
        client.printer.event(event);
    }
    if !follow {
        return Ok(());
    }
    // Continue after the newest stored event, matching or not.
    let mut after = newest;
    let mut backoff = BACKOFF_START;
    loop {
        match follow_once(client, channel, types, &mut after).await {
            Ok(()) => backoff = BACKOFF_START,
            Err(Interrupted::Final(failure)) => return Err(failure),
            Err(Interrupted::Retry(reason)) => {
                eprintln!("channelhub: {reason}; reconnecting in {backoff:?}");
            }
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(BACKOFF_MAX);
    }
}

enum Interrupted {
    /// The server refused (unknown channel, bad token): stop.
    Final(Failure),
    /// The connection failed or dropped: try again.
    Retry(String),
}

/// One WebSocket connection, until it ends. `after` tracks the last event printed.
async fn follow_once(
    client: &Client,
    channel: &str,
    types: Option<&str>,
    after: &mut Option<String>,
) -> Result<(), Interrupted> {
    let base = client.api(&format!("/channels/{channel}/ws"));
    let mut url = base.replacen("http", "ws", 1);
    let mut query = Vec::new();
    if let Some(types) = types {
        query.push(format!("types={types}"));
    }
    if let Some(after) = after.as_deref() {
        query.push(format!("after={after}"));
    }
    if !query.is_empty() {
        url = format!("{url}?{}", query.join("&"));
    }
    let mut request = url
        .into_client_request()
        .map_err(|e| Interrupted::Final(Failure(e.to_string())))?;
    if let Some(token) = &client.connection.token {
        let value = format!("Bearer {token}").parse().map_err(|_| {
            Interrupted::Final(Failure("the token is not a valid header value".into()))
        })?;
        request.headers_mut().insert("authorization", value);
    }
    let (mut socket, _) = match tokio_tungstenite::connect_async(request).await {
        Ok(connected) => connected,
        Err(WsError::Http(response)) if is_final(response.status()) => {
            let problem: Value = response
                .body()
                .as_deref()
                .and_then(|b| serde_json::from_slice(b).ok())
                .unwrap_or_default();
            let title = problem["title"]
                .as_str()
                .map_or_else(|| response.status().to_string(), str::to_owned);
            let detail = problem["detail"].as_str().unwrap_or_default();
            return Err(Interrupted::Final(Failure(format!("{title}: {detail}"))));
        }
        Err(err) => return Err(Interrupted::Retry(format!("cannot connect: {err}"))),
    };
    while let Some(message) = socket.next().await {
        match message {
            Ok(Message::Text(text)) => {
                let event: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
                // Sent before the replay when events after our resume point
                // were removed before we could read them: say so, go on.
                if let Some(removed_through) = event["gap"]["removed_through"].as_str() {
                    eprintln!(
                        "channelhub: warning: events after {} up to {removed_through} were \
                         removed (retention or deletion) before they could be read; \
                         continuing after the gap",
                        after.as_deref().unwrap_or("the start")
                    );
                    continue;
                }
                if let Some(id) = event["id"].as_str() {
                    *after = Some(id.to_owned());
                }
                client.printer.event(&event);
            }
            Ok(Message::Close(frame)) => {
                let reason = frame
                    .map(|f| format!("{} {}", u16::from(f.code), f.reason))
                    .unwrap_or_default();
                return Err(Interrupted::Retry(format!(
                    "the server closed the connection ({reason})"
                )));
            }
            Ok(_) => {}
            Err(err) => return Err(Interrupted::Retry(format!("connection lost: {err}"))),
        }
    }
    Err(Interrupted::Retry("connection ended".into()))
}
