//! `wait_for_events`: its arguments, its wait, and the wait run before rmcp
//! (see [`prewait`]).
//!
//! rmcp's stateless path builds a service of its own for every request (a
//! task and three channels of ~15 KiB each) and keeps it until the answer.
//! For a wait that parks for seconds that is most of what a waiting agent
//! costs the server. So the endpoint runs a plain wait here first, with the
//! tool's own checks, limits and cancellation, and hands rmcp the request
//! with its answer attached ([`Answered`]): rmcp still parses, validates
//! and answers the call, and the tool returns the answer at once. Calls
//! that ask for progress (which needs rmcp's peer) wait inside rmcp.

use std::{
    sync::{Arc, Mutex, PoisonError},
    time::Duration,
};

use http::HeaderMap;
use rmcp::{
    Peer, RoleServer,
    model::{
        ClientJsonRpcMessage, GetMeta, ProgressNotificationParam, ProgressToken, ProtocolVersion,
    },
    service::RequestContext,
};
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::Value;
use tokio_util::sync::CancellationToken;

use super::{
    ChannelhubMcp, DEFAULT_LIMIT, DEFAULT_WAIT_SECONDS, EventPage, MAX_WAIT_SECONDS, PAGE_BYTES,
    PROGRESS_EVERY, caller, cursor, invalid, page_out, refused, storable, types,
};
use crate::{
    hub::Page,
    limits::ToolCost,
    mcp::McpCaller,
    model::{EventQuery, tool_schema},
};

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(transform = tool_schema::input)]
pub struct WaitArgs {
    /// The channel id.
    channel: String,
    /// The cursor from the previous result. Without it: wait for events
    /// published after this call starts.
    #[schemars(pattern(r"^[0-9A-HJKMNP-TV-Za-hjkmnp-tv-z]{26}$"))]
    after: Option<String>,
    /// Only these event types (at most 100, each 1–128 characters).
    #[schemars(length(max = 100))]
    types: Option<Vec<String>>,
    /// 1–1000, default 20.
    #[schemars(range(min = 1, max = 1000))]
    limit: Option<u32>,
    /// How long to wait when nothing is there yet: 0–60 s, default 25. If
    /// your MCP client times out first, pass less; call again with the
    /// returned cursor, nothing is lost.
    #[schemars(range(min = 0, max = 60))]
    timeout_seconds: Option<u32>,
}

/// The answer of a wait run before rmcp, for the tool to return (taken once).
#[derive(Clone)]
pub struct Answered(Arc<Mutex<Option<Result<EventPage, String>>>>);

impl Answered {
    pub fn new(answer: Result<EventPage, String>) -> Answered {
        Answered(Arc::new(Mutex::new(Some(answer))))
    }

    fn take(ctx: &RequestContext<RoleServer>) -> Option<Result<EventPage, String>> {
        let parts = ctx.extensions.get::<http::request::Parts>()?;
        let answered = parts.extensions.get::<Answered>()?;
        answered
            .0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
    }
}

/// A request rmcp will run as the tool call `wait_for_events` without
/// progress: its arguments and JSON-RPC id. Anything else (another method
/// or tool, a batch, arguments the tool would refuse to parse, a progress
/// token, headers rmcp would refuse) is `None` and goes to rmcp as it is,
/// so a malformed request is refused at once, never after a wait.
pub fn prewait(headers: &HeaderMap, message: &Value) -> Option<(WaitArgs, Value)> {
    let id = message
        .get("id")
        .filter(|id| id.is_string() || id.is_i64())?;
    let params = message.get("params")?;
    if message.get("jsonrpc")? != "2.0"
        || message.get("method")? != "tools/call"
        || params.get("name")? != "wait_for_events"
        || params.pointer("/_meta/progressToken").is_some()
    {
        return None;
    }
    // A header given once, as text; `Err` when absent, `None` for anything odd.
    let header = |name: &str| -> Option<Result<&str, ()>> {
        let mut values = headers.get_all(name).iter();
        match (values.next(), values.next()) {
            (None, _) => Some(Err(())),
            (Some(value), None) => value.to_str().ok().map(Ok),
            (Some(_), Some(_)) => None,
        }
    };
    let media = |name: &str, wanted: &[&str]| {
        header(name).and_then(Result::ok).is_some_and(|value| {
            let value = value.to_ascii_lowercase();
            wanted.iter().all(|w| value.contains(w))
        })
    };
    if !media("content-type", &["application/json"])
        || !media("accept", &["application/json", "text/event-stream"])
        || headers
            .keys()
            .any(|name| name.as_str().starts_with("mcp-param-"))
    {
        return None;
    }
    let version = match header("mcp-protocol-version")? {
        Err(()) => None,
        Ok(v)
            if ProtocolVersion::KNOWN_VERSIONS
                .iter()
                .any(|k| k.as_str() == v) =>
        {
            Some(v)
        }
        Ok(_) => return None,
    };
    // From 2026-07-28, rmcp wants the version and the client's capabilities
    // in `_meta` (read as rmcp reads them) and the method and tool in headers.
    if let Some(version) = version.filter(|v| *v >= ProtocolVersion::V_2026_07_28.as_str()) {
        let ClientJsonRpcMessage::Request(request) =
            serde_json::from_value::<ClientJsonRpcMessage>(message.clone()).ok()?
        else {
            return None;
        };
        let meta = request.request.get_meta();
        if meta
            .protocol_version()
            .as_ref()
            .map(ProtocolVersion::as_str)
            != Some(version)
            || !meta
                .missing_required_keys(&ProtocolVersion::V_2026_07_28)
                .is_empty()
            || header("mcp-method")? != Ok("tools/call")
            || header("mcp-name")? != Ok("wait_for_events")
        {
            return None;
        }
    }
    for (name, wanted) in [
        ("mcp-method", "tools/call"),
        ("mcp-name", "wait_for_events"),
    ] {
        if header(name)?.is_ok_and(|value| value != wanted) {
            return None;
        }
    }
    let arguments = params.get("arguments").cloned().unwrap_or(Value::Null);
    let args = serde_json::from_value::<WaitArgs>(arguments).ok()?;
    Some((args, id.clone()))
}

impl ChannelhubMcp {
    /// The tool's body: the answer a wait before rmcp found, else the wait.
    pub(super) async fn wait(
        &self,
        args: WaitArgs,
        ctx: &RequestContext<RoleServer>,
    ) -> Result<EventPage, String> {
        if let Some(answer) = Answered::take(ctx) {
            return answer;
        }
        let caller = caller(ctx)?;
        let request_id = serde_json::to_value(&ctx.id).unwrap_or_default();
        let progress = ctx
            .meta
            .get_progress_token()
            .map(|token| (token, ctx.peer.clone()));
        self.wait_as(args, &caller, &request_id, progress, &ctx.ct)
            .await
    }

    /// The wait of a request [`prewait`] picked, before rmcp sees it.
    pub async fn wait_before(
        &self,
        args: WaitArgs,
        caller: &McpCaller,
        request_id: &Value,
    ) -> Result<EventPage, String> {
        let never = CancellationToken::new();
        self.wait_as(args, caller, request_id, None, &never).await
    }

    async fn wait_as(
        &self,
        args: WaitArgs,
        caller: &McpCaller,
        request_id: &Value,
        progress: Option<(ProgressToken, Peer<RoleServer>)>,
        cancelled: &CancellationToken,
    ) -> Result<EventPage, String> {
        let token = caller.token.as_deref();
        storable("channel", Some(&args.channel))?;
        let seconds = args.timeout_seconds.unwrap_or(DEFAULT_WAIT_SECONDS);
        if seconds > MAX_WAIT_SECONDS {
            return Err(invalid(format!(
                "timeout_seconds is at most {MAX_WAIT_SECONDS}"
            )));
        }
        let types = types(args.types)?;
        // Held until this call returns or is dropped (the client went away).
        let _slot = if seconds > 0 {
            self.limits
                .admit_tool(ToolCost::LongPoll, caller.client, token)
                .await
                .map_err(refused)?
        } else {
            None
        };
        let after = match args.after {
            Some(text) => cursor(Some(text))?,
            None => self
                .hub
                .position_now(&args.channel, token)
                .await
                .map_err(refused)?,
        };
        let query = EventQuery {
            after: after.clone(),
            until: None,
            since: None,
            types,
            limit: 0,
        };
        let wait = Duration::from_secs(u64::from(seconds));
        let poll = self.hub.poll_within(
            &args.channel,
            token,
            query,
            Some(args.limit.unwrap_or(DEFAULT_LIMIT)),
            wait,
            PAGE_BYTES,
        );
        tokio::pin!(poll);
        // A `notifications/cancelled` naming this call ends it.
        let registration = self.in_flight.register(caller, request_id);
        let started = tokio::time::Instant::now();
        let mut ticker = tokio::time::interval_at(started + PROGRESS_EVERY, PROGRESS_EVERY);
        let polled = loop {
            tokio::select! {
                result = &mut poll => break result,
                () = cancelled.cancelled() => {
                    return Err("Cancelled: the client cancelled the call".to_owned());
                }
                () = registration.cancelled().cancelled() => {
                    return Err("Cancelled: the client cancelled the call".to_owned());
                }
                () = caller.closed.cancelled() => {
                    return Err("Cancelled: the client went away".to_owned());
                }
                () = self.shutdown.cancelled() => {
                    // The server is stopping: an empty page, same cursor.
                    let page = Page { items: Vec::new(), cursor: after, has_more: false };
                    break Ok((page, None));
                }
                _ = ticker.tick(), if progress.is_some() => {
                    let Some((token, peer)) = progress.as_ref() else { continue };
                    let elapsed = started.elapsed().as_secs_f64().round();
                    let note = ProgressNotificationParam::new(token.clone(), elapsed)
                        .with_total(f64::from(seconds))
                        .with_message(format!("waiting for events on {}", args.channel));
                    // A client that went away is noticed here too.
                    let _ = peer.notify_progress(note).await;
                }
            }
        };
        let (page, gap) = polled.map_err(refused)?;
        let mut out = page_out(page, gap);
        out.timed_out = Some(out.events.is_empty());
        Ok(out)
    }
}
