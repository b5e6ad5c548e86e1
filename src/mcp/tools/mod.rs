//! The five tools: `list_channels`, `get_channel`, `publish_events`,
//! `read_events`, `wait_for_events`. Each calls the hub operation its REST
//! route calls, with the caller's credential, under the same limits; a
//! refusal is a tool error (`isError`) in the REST problem's words, so the
//! model can act on it.

use std::{sync::Arc, time::Duration};

use rmcp::{
    RoleServer, ServerHandler,
    handler::server::{
        router::tool::ToolRouter,
        wrapper::{Json, Parameters},
    },
    model::{Implementation, ServerCapabilities, ServerConfig},
    service::RequestContext,
    tool, tool_handler, tool_router,
};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio_util::sync::CancellationToken;

mod wait;

use super::{McpCaller, calls::InFlight};
use crate::{
    api::problem::ApiError,
    hub::{Hub, HubError, Page, Publication},
    limits::{Limits, ToolCost},
    model::{Channel, Event, EventQuery, NewEvent, check_storable_opt, parse_rfc3339, tool_schema},
};
pub use wait::{Answered, WaitArgs, prewait};

/// Bytes of event JSON a page holds at most (at least one event): a page
/// must fit a model's context. A page cut short says `has_more`, and its
/// cursor is the last event it holds, so nothing is skipped.
pub const PAGE_BYTES: usize = 64 * 1024;
const DEFAULT_LIMIT: u32 = 20;
const DEFAULT_WAIT_SECONDS: u32 = 25;
const MAX_WAIT_SECONDS: u32 = 60;
const MAX_TYPES: usize = 100;
/// The longest event type, as publishing allows.
const MAX_TYPE_CHARS: usize = 128;
/// How often a waiting call reports progress, when the client asked.
const PROGRESS_EVERY: Duration = Duration::from_secs(10);
/// The cursor before a channel's first event (the zero ULID: every id is
/// after it), so every answer carries a cursor.
const START: &str = "00000000000000000000000000";

const INSTRUCTIONS: &str = "Channels carry JSON events in publish order. To follow a \
channel: call read_events (no `after`) for the newest events, then loop wait_for_events \
with the `cursor` it returned. Every result has a cursor, and a call with the same cursor \
never misses or repeats an event. Pass an idempotency_key when publishing so a retried \
call stores nothing twice.";

/// The MCP server: made per request (stateless), sharing the hub.
#[derive(Clone)]
pub struct ChannelhubMcp {
    hub: Arc<Hub>,
    limits: Arc<Limits>,
    in_flight: Arc<InFlight>,
    shutdown: CancellationToken,
    /// Built once: rmcp asks for it on every request.
    tool_router: Arc<ToolRouter<ChannelhubMcp>>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(transform = tool_schema::input)]
pub struct ListChannelsArgs {
    /// The cursor of the previous page: continue after it.
    cursor: Option<String>,
    /// 1–1000, default 100.
    #[schemars(range(min = 1, max = 1000))]
    limit: Option<u32>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(transform = tool_schema::input)]
pub struct GetChannelArgs {
    /// The channel id.
    channel: String,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(transform = tool_schema::input)]
pub struct EventArg {
    /// Event type; subscribers filter on it.
    #[serde(rename = "type")]
    #[schemars(length(min = 1, max = 128))]
    event_type: Option<String>,
    /// Any JSON value, at most 64 KiB serialized.
    #[schemars(schema_with = "tool_schema::any_value")]
    data: Value,
    /// Opaque string stored and returned untouched.
    meta: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(transform = tool_schema::input)]
pub struct PublishArgs {
    /// The channel id.
    channel: String,
    /// 1–100 events, stored in this order.
    #[schemars(length(min = 1, max = 100))]
    events: Vec<EventArg>,
    /// Makes a retry safe: a repeat on this channel within 24 h stores
    /// nothing and answers the first result (`replayed: true`).
    #[schemars(pattern(r"^[!-~]{1,255}$"))]
    idempotency_key: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(transform = tool_schema::input)]
pub struct ReadArgs {
    /// The channel id.
    channel: String,
    /// A cursor from an earlier result: events published after it, oldest
    /// first. Without it (and without `since`): the newest events.
    #[schemars(pattern(r"^[0-9A-HJKMNP-TV-Za-hjkmnp-tv-z]{26}$"))]
    after: Option<String>,
    /// RFC 3339: only events created at or after this time (oldest first).
    since: Option<String>,
    /// Only these event types (at most 100, each 1–128 characters).
    #[schemars(length(max = 100))]
    types: Option<Vec<String>>,
    /// 1–1000, default 20.
    #[schemars(range(min = 1, max = 1000))]
    limit: Option<u32>,
}

/// A channel, as REST's `GET /channels/{id}` answers it.
#[derive(Debug, Serialize, JsonSchema)]
#[schemars(transform = tool_schema::output)]
pub struct ChannelOut {
    id: String,
    name: String,
    description: String,
    tags: Vec<String>,
    is_public: bool,
    #[schemars(schema_with = "tool_schema::any_object")]
    meta: Value,
    /// `strict_types` and `types` (event type → the JSON Schema its data must satisfy).
    #[schemars(schema_with = "tool_schema::any_object")]
    config: Value,
    /// `max_age_seconds` and `max_events` (null: no bound).
    #[schemars(schema_with = "tool_schema::any_object")]
    retention: Value,
    created_at: String,
    event_count: i64,
    last_event_at: Option<String>,
    subscribers: u64,
}

impl From<Channel> for ChannelOut {
    fn from(channel: Channel) -> ChannelOut {
        ChannelOut {
            config: serde_json::to_value(&channel.config).unwrap_or_default(),
            retention: serde_json::to_value(channel.retention).unwrap_or_default(),
            id: channel.id,
            name: channel.name,
            description: channel.description,
            tags: channel.tags,
            is_public: channel.is_public,
            meta: channel.meta,
            created_at: channel.created_at,
            event_count: channel.event_count,
            last_event_at: channel.last_event_at,
            subscribers: channel.subscribers,
        }
    }
}

#[derive(Debug, Serialize, JsonSchema)]
#[schemars(transform = tool_schema::output)]
pub struct ChannelList {
    channels: Vec<ChannelOut>,
    /// Pass as `cursor` for the next page.
    cursor: Option<String>,
    has_more: bool,
}

#[derive(Debug, Serialize, JsonSchema)]
#[schemars(transform = tool_schema::output)]
pub struct PublishedEvent {
    id: String,
    #[serde(rename = "type")]
    event_type: Option<String>,
    created_at: String,
}

#[derive(Debug, Serialize, JsonSchema)]
#[schemars(transform = tool_schema::output)]
pub struct PublishedOut {
    events: Vec<PublishedEvent>,
    /// The last stored event's id.
    cursor: String,
    /// The answer of an earlier call with the same idempotency key.
    replayed: bool,
}

#[derive(Debug, Serialize, JsonSchema)]
#[schemars(transform = tool_schema::output)]
pub struct GapOut {
    /// Events up to this id were removed before you read them.
    removed_through: String,
}

#[derive(Debug, Serialize, JsonSchema)]
#[schemars(transform = tool_schema::output)]
pub struct EventPage {
    events: Vec<Event>,
    /// Pass as `after` next time (`000…0`: the channel's start).
    cursor: String,
    /// More events are there after the cursor now.
    has_more: bool,
    /// Events after your cursor were removed (retention) before you read them.
    gap: Option<GapOut>,
    /// `wait_for_events` only: the wait ended with no event.
    #[serde(skip_serializing_if = "Option::is_none")]
    timed_out: Option<bool>,
}

/// A tool error: the REST problem in one line.
fn refused(err: impl Into<ApiError>) -> String {
    err.into().one_line()
}

fn invalid(detail: String) -> String {
    refused(HubError::Invalid(detail))
}

/// Text the databases can store (no NUL), as REST checks every body field
/// and path: 400 otherwise.
fn storable(field: &str, text: Option<&str>) -> Result<(), String> {
    check_storable_opt(field, text).map_err(|err| invalid(err.0))
}

/// An idempotency key as REST's header takes it: 1–255 visible ASCII characters.
fn idempotency_key(key: Option<String>) -> Result<Option<String>, String> {
    match key {
        Some(key)
            if key.is_empty() || key.len() > 255 || !key.bytes().all(|b| b.is_ascii_graphic()) =>
        {
            Err(invalid(
                "idempotency_key is 1 to 255 visible ASCII characters".into(),
            ))
        }
        key => Ok(key),
    }
}

/// Who called (the door put it in the request).
fn caller(ctx: &RequestContext<RoleServer>) -> Result<McpCaller, String> {
    ctx.extensions
        .get::<http::request::Parts>()
        .and_then(|parts| parts.extensions.get::<McpCaller>())
        .cloned()
        .ok_or_else(|| "Internal Server Error (500): the request carried no caller".to_owned())
}

/// A cursor as REST takes it: a ULID, upper case; the start is no cursor.
fn cursor(text: Option<String>) -> Result<Option<String>, String> {
    match text {
        None => Ok(None),
        Some(text) => {
            let id = text
                .parse::<ulid::Ulid>()
                .map_err(|_| invalid(format!("invalid cursor {text:?}")))?
                .to_string();
            Ok((id != START).then_some(id))
        }
    }
}

fn types(types: Option<Vec<String>>) -> Result<Vec<String>, String> {
    let types = types.unwrap_or_default();
    if types.len() > MAX_TYPES {
        return Err(invalid(format!("types: at most {MAX_TYPES}")));
    }
    for event_type in &types {
        storable("types", Some(event_type))?;
        if event_type.chars().count() > MAX_TYPE_CHARS {
            return Err(invalid(format!(
                "types: each is at most {MAX_TYPE_CHARS} characters"
            )));
        }
    }
    Ok(types)
}

fn page_out(page: Page<Event>, gap: Option<crate::hub::Gap>) -> EventPage {
    EventPage {
        events: page.items,
        cursor: page.cursor.unwrap_or_else(|| START.to_owned()),
        has_more: page.has_more,
        gap: gap.map(|gap| GapOut {
            removed_through: gap.removed_through,
        }),
        timed_out: None,
    }
}

fn count(tool: &'static str, outcome: &'static str) {
    metrics::counter!(crate::telemetry::MCP_TOOL_CALLS, "tool" => tool, "outcome" => outcome)
        .increment(1);
}

fn counted<T>(tool: &'static str, result: Result<T, String>) -> Result<T, String> {
    count(tool, if result.is_ok() { "ok" } else { "error" });
    result
}

#[tool_router]
impl ChannelhubMcp {
    pub fn new(
        hub: Arc<Hub>,
        limits: Arc<Limits>,
        in_flight: Arc<InFlight>,
        shutdown: CancellationToken,
    ) -> ChannelhubMcp {
        ChannelhubMcp {
            hub,
            limits,
            in_flight,
            shutdown,
            tool_router: Arc::new(Self::tool_router()),
        }
    }

    /// `GET /api/v1/channels`.
    #[tool(
        description = "List channels in id order: public ones, and private ones too for the admin token. A channel token's private channel is not listed: use get_channel.",
        annotations(read_only_hint = true, open_world_hint = false)
    )]
    async fn list_channels(
        &self,
        Parameters(args): Parameters<ListChannelsArgs>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<Json<ChannelList>, String> {
        let result = async {
            let caller = caller(&ctx)?;
            storable("cursor", args.cursor.as_deref())?;
            let principal = self
                .hub
                .authenticate(caller.token.as_deref())
                .await
                .map_err(refused)?;
            let page = self
                .hub
                .list_channels(&principal, args.cursor.as_deref(), args.limit)
                .await
                .map_err(refused)?;
            Ok(Json(ChannelList {
                channels: page.items.into_iter().map(ChannelOut::from).collect(),
                cursor: page.cursor,
                has_more: page.has_more,
            }))
        }
        .await;
        counted("list_channels", result)
    }

    /// `GET /api/v1/channels/{id}`.
    #[tool(
        description = "One channel: its description, counts, and `config` (with strict types: the event types it takes and the JSON Schema each one's data must satisfy).",
        annotations(read_only_hint = true, open_world_hint = false)
    )]
    async fn get_channel(
        &self,
        Parameters(args): Parameters<GetChannelArgs>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<Json<ChannelOut>, String> {
        let result = async {
            let caller = caller(&ctx)?;
            storable("channel", Some(&args.channel))?;
            let channel = self
                .hub
                .get_channel(&args.channel, caller.token.as_deref())
                .await
                .map_err(refused)?;
            Ok(Json(ChannelOut::from(channel)))
        }
        .await;
        counted("get_channel", result)
    }

    /// `POST /api/v1/channels/{id}/events` with `{"events": [...]}`.
    #[tool(
        description = "Publish 1–100 events to a channel, stored in order (needs a publish token of the channel or the admin token). Answers their ids, not their data. Pass an idempotency_key to make a retry safe.",
        annotations(
            read_only_hint = false,
            destructive_hint = false,
            idempotent_hint = false,
            open_world_hint = false
        )
    )]
    async fn publish_events(
        &self,
        Parameters(args): Parameters<PublishArgs>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<Json<PublishedOut>, String> {
        let result = async {
            let caller = caller(&ctx)?;
            let token = caller.token.as_deref();
            storable("channel", Some(&args.channel))?;
            for event in &args.events {
                storable("type", event.event_type.as_deref())?;
                storable("meta", event.meta.as_deref())?;
            }
            let key = idempotency_key(args.idempotency_key)?;
            self.limits
                .admit_tool(ToolCost::Publish, caller.client, token)
                .await
                .map_err(refused)?;
            let publication = Publication {
                events: args
                    .events
                    .into_iter()
                    .map(|e| NewEvent::new(e.event_type, e.data, e.meta))
                    .collect(),
                batch: true,
                idempotency_key: key,
            };
            let published = self
                .hub
                .publish(&args.channel, token, publication)
                .await
                .map_err(refused)?;
            let cursor = published
                .events
                .last()
                .map(|e| e.id.clone())
                .unwrap_or_default();
            Ok(Json(PublishedOut {
                events: published
                    .events
                    .into_iter()
                    .map(|e| PublishedEvent {
                        id: e.id,
                        event_type: e.event_type,
                        created_at: e.created_at,
                    })
                    .collect(),
                cursor,
                replayed: published.replayed,
            }))
        }
        .await;
        counted("publish_events", result)
    }

    /// `GET /api/v1/channels/{id}/events`; without `after` and `since`, the newest events.
    #[tool(
        description = "Read a channel's events. With `after` (a cursor) or `since`: the events after it, oldest first. With neither: the newest `limit` events (default 20). Pages hold at most 64 KiB of events; `has_more` says more are there. Every result has a `cursor` for the next call.",
        annotations(read_only_hint = true, open_world_hint = false)
    )]
    async fn read_events(
        &self,
        Parameters(args): Parameters<ReadArgs>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<Json<EventPage>, String> {
        let result = async {
            let caller = caller(&ctx)?;
            let token = caller.token.as_deref();
            storable("channel", Some(&args.channel))?;
            storable("since", args.since.as_deref())?;
            let after = cursor(args.after.clone())?;
            let types = types(args.types)?;
            let since = match args.since.as_deref() {
                None => None,
                Some(text) => Some(parse_rfc3339(text).ok_or_else(|| {
                    invalid(format!("since must be an RFC 3339 time, not {text:?}"))
                })?),
            };
            let limit = Some(args.limit.unwrap_or(DEFAULT_LIMIT));
            if args.after.is_none() && since.is_none() {
                let page = self
                    .hub
                    .latest_page(&args.channel, token, &types, limit, PAGE_BYTES)
                    .await
                    .map_err(refused)?;
                return Ok(Json(page_out(page, None)));
            }
            let query = EventQuery {
                after,
                until: None,
                since,
                types,
                limit: 0,
            };
            let (page, gap) = self
                .hub
                .poll_within(
                    &args.channel,
                    token,
                    query,
                    limit,
                    Duration::ZERO,
                    PAGE_BYTES,
                )
                .await
                .map_err(refused)?;
            Ok(Json(page_out(page, gap)))
        }
        .await;
        counted("read_events", result)
    }

    /// `GET /api/v1/channels/{id}/events?wait=N`.
    #[tool(
        description = "Wait for a channel's next events: answers at once when events after `after` exist, else as soon as one is published, else after timeout_seconds (default 25, at most 60) with no events, timed_out: true and the same cursor. Without `after`: events published after this call starts. Loop it with the returned cursor to see every event exactly once. If your MCP client times out first, pass a smaller timeout_seconds; nothing is lost.",
        annotations(read_only_hint = true, idempotent_hint = true, open_world_hint = false)
    )]
    async fn wait_for_events(
        &self,
        Parameters(args): Parameters<WaitArgs>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<Json<EventPage>, String> {
        let result = self.wait(args, &ctx).await;
        let outcome = match &result {
            Ok(page) if page.timed_out == Some(true) => "timeout",
            Ok(_) => "ok",
            Err(_) => "error",
        };
        count("wait_for_events", outcome);
        result.map(Json)
    }
}

#[tool_handler(router = self.tool_router)]
impl ServerHandler for ChannelhubMcp {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(Implementation::new("channelhub", env!("CARGO_PKG_VERSION")))
            .with_instructions(INSTRUCTIONS)
    }
}
