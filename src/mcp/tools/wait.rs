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

use http::{HeaderMap, Method};
use rmcp::{
    Peer, RoleServer,
    model::{
        ClientJsonRpcMessage, ClientRequest, GetMeta, ProgressNotificationParam, ProgressToken,
        ProtocolVersion,
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

/// The largest request a wait is run for before rmcp: a wait call is a few
/// hundred bytes, and the body is held for as long as the wait parks.
const PREWAIT_MAX_BODY: usize = 16 * 1024;

/// A request rmcp will run as the tool call `wait_for_events` without
/// progress: its arguments and JSON-RPC id, read from the body as rmcp
/// reads it. Anything else (another method or tool, a batch, a body rmcp
/// would refuse, a progress token, headers rmcp would refuse or that this
/// check cannot vouch for) is `None` and goes to rmcp as it is, so a
/// malformed request is refused at once, never after a wait.
pub fn prewait(method: &Method, headers: &HeaderMap, body: &[u8]) -> Option<(WaitArgs, Value)> {
    if method != Method::POST || body.len() > PREWAIT_MAX_BODY {
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
    let content_type = header("content-type")?.ok()?;
    if !media_types(content_type).eq([("application/json".to_owned(), true)]) {
        return None;
    }
    let accepted: Vec<_> = media_types(header("accept")?.ok()?).collect();
    for wanted in ["application/json", "text/event-stream"] {
        if !accepted
            .iter()
            .any(|(essence, ok)| essence == wanted && *ok)
        {
            return None;
        }
    }
    if headers
        .keys()
        .any(|name| name.as_str().starts_with("mcp-param-"))
    {
        return None;
    }
    // Typed, as rmcp parses it (duplicate keys, `_meta` shapes and all).
    let ClientJsonRpcMessage::Request(request) = serde_json::from_slice(body).ok()? else {
        return None;
    };
    let ClientRequest::CallToolRequest(call) = &request.request else {
        return None;
    };
    let meta = request.request.get_meta();
    if call.params.name != "wait_for_events" || meta.get_progress_token().is_some() {
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
    // A version in `_meta` must match the header's; from 2026-07-28 rmcp
    // wants the version and the client's capabilities there, and the
    // method and tool in headers.
    let meta_version = meta.protocol_version();
    if meta_version.is_some() && meta_version.as_ref().map(ProtocolVersion::as_str) != version {
        return None;
    }
    if version.is_some_and(|v| v >= ProtocolVersion::V_2026_07_28.as_str())
        && (!meta
            .missing_required_keys(&ProtocolVersion::V_2026_07_28)
            .is_empty()
            || header("mcp-method")? != Ok("tools/call")
            || header("mcp-name")? != Ok("wait_for_events"))
    {
        return None;
    }
    for (name, wanted) in [
        ("mcp-method", "tools/call"),
        ("mcp-name", "wait_for_events"),
    ] {
        if header(name)?.is_ok_and(|value| value != wanted) {
            return None;
        }
    }
    let arguments = Value::Object(call.params.arguments.clone().unwrap_or_default());
    let args = serde_json::from_value::<WaitArgs>(arguments).ok()?;
    Some((args, serde_json::to_value(&request.id).ok()?))
}

/// A media-type list's entries: the essence (lower case) and whether it is
/// accepted (no `q=0`).
fn media_types(list: &str) -> impl Iterator<Item = (String, bool)> + '_ {
    list.split(',').map(|entry| {
        let mut parts = entry.split(';');
        let essence = parts.next().unwrap_or("").trim().to_ascii_lowercase();
        let refused = parts.any(|p| {
            p.split_once('=').is_some_and(|(k, v)| {
                k.trim().eq_ignore_ascii_case("q")
                    && v.trim().parse::<f32>().is_ok_and(|q| q <= 0.0)
            })
        });
        (essence, !refused)
    })
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
