//! `/channels/{id}/events`: publish, poll (with long-poll), get, delete.

use std::{sync::Arc, time::Duration};

use poem::Request;
use poem_openapi::{
    ApiResponse, Object, OpenApi, Union,
    param::{Header, Path, Query},
};
use serde::{Deserialize, Deserializer, Serialize, de::Error as _};
use serde_json::Value;

use super::{
    ApiTags, Deleted,
    json::{JsonBody, SerdeJson, StorableText},
    presented_token,
    problem::ApiError,
};
use crate::{
    hub::{self, Hub, Publication},
    model::{
        Event, EventQuery, Invalid, NewEvent, check_storable_opt, parse_rfc3339, parse_type_list,
    },
};

/// One event to publish.
#[derive(Debug, Object, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventInput {
    /// Event type, used by subscribers' filters.
    #[oai(rename = "type", validator(min_length = 1, max_length = 128))]
    #[serde(rename = "type")]
    pub event_type: Option<String>,
    /// Any JSON value, at most 64 KiB serialized.
    pub data: Value,
    /// An opaque string stored and returned untouched, at most 16 KiB
    /// (16 384 bytes of UTF-8; 400 past it). A JSON object is accepted too
    /// (as Zooid's clients send it): stored and returned as its JSON text.
    #[serde(default, deserialize_with = "meta_text")]
    pub meta: Option<String>,
}

/// Several events to publish at once, in order (1–100).
#[derive(Debug, Object, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventBatchInput {
    #[oai(validator(min_items = 1, max_items = 100))]
    #[serde(deserialize_with = "crate::model::objects")]
    pub events: Vec<EventInput>,
}

/// One event, or a batch under `events`.
#[derive(Debug, Union)]
#[oai(one_of)]
pub enum PublishBody {
    Batch(EventBatchInput),
    Single(EventInput),
}

impl<'de> Deserialize<'de> for PublishBody {
    /// A body with an `events` key is a batch; anything else is one event.
    /// Decided up front so that errors name the real problem.
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = Value::deserialize(deserializer)?;
        if !value.is_object() {
            return Err(D::Error::custom("the body must be a JSON object"));
        }
        // Zooid's threads: refused with what to send instead, never ignored.
        let replies = value.get("reply_to").is_some()
            || value["events"]
                .as_array()
                .is_some_and(|events| events.iter().any(|e| e.get("reply_to").is_some()));
        if replies {
            return Err(D::Error::custom(
                "reply_to (Zooid's threads) is not supported here: put the id of the event \
                 this one answers in its meta or data instead",
            ));
        }
        if value.get("events").is_some() {
            serde_json::from_value(value).map(PublishBody::Batch)
        } else {
            serde_json::from_value(value).map(PublishBody::Single)
        }
        .map_err(D::Error::custom)
    }
}

/// `meta` as stored: a string as it is, an object as its compact JSON text.
fn meta_text<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<String>, D::Error> {
    match Value::deserialize(deserializer)? {
        Value::Null => Ok(None),
        Value::String(text) => Ok(Some(text)),
        object @ Value::Object(_) => Ok(Some(object.to_string())),
        _ => Err(D::Error::custom(
            "meta is a string, or a JSON object (stored as its JSON text)",
        )),
    }
}

impl StorableText for EventInput {
    fn check_text(&self) -> Result<(), Invalid> {
        check_storable_opt("type", self.event_type.as_deref())?;
        check_storable_opt("meta", self.meta.as_deref())
    }
}

impl StorableText for PublishBody {
    fn check_text(&self) -> Result<(), Invalid> {
        match self {
            PublishBody::Single(event) => event.check_text(),
            PublishBody::Batch(batch) => batch.events.iter().try_for_each(|e| e.check_text()),
        }
    }
}

/// A published batch.
#[derive(Debug, Object, Serialize)]
pub struct EventList {
    pub events: Vec<Event>,
}

/// What a validate-only publish found: the events would be stored.
#[derive(Debug, Object, Serialize)]
pub struct Validation {
    /// Always true: a publish that would be refused is answered with its problem.
    pub valid: bool,
    /// How many events the publish holds.
    pub events: u32,
}

/// One page of events.
#[derive(Debug, Object, Serialize)]
pub struct EventPage {
    pub events: Vec<Event>,
    /// Pass as `cursor` to continue after the last event of this page.
    pub cursor: Option<String>,
    pub has_more: bool,
    /// Set when events after the request's `cursor` were removed (retention
    /// or deletion) before they could be read: this page continues after a
    /// gap. Null when nothing was missed.
    pub gap: Option<GapNotice>,
}

/// Events a consumer can no longer read: every event after its resume point
/// up to and including `removed_through` was removed.
#[derive(Debug, Clone, Object, Serialize)]
pub struct GapNotice {
    /// The newest removed event id.
    pub removed_through: String,
}

/// `Idempotent-Replayed: true` marks the answer to a repeated `Idempotency-Key`.
#[derive(ApiResponse)]
pub enum Published {
    /// The event, stored (or, marked `Idempotent-Replayed`, stored by an
    /// earlier request with the same `Idempotency-Key`).
    #[oai(status = 201)]
    Single(
        SerdeJson<Box<Event>>,
        #[oai(header = "Idempotent-Replayed")] Option<String>,
    ),
    /// The batch, stored, in order (or replayed, as for one event).
    #[oai(status = 201)]
    Batch(
        SerdeJson<EventList>,
        #[oai(header = "Idempotent-Replayed")] Option<String>,
    ),
}

pub struct EventsApi {
    pub hub: Arc<Hub>,
}

fn into_new(input: EventInput) -> NewEvent {
    NewEvent::new(input.event_type, input.data, input.meta)
}

#[OpenApi(tag = "ApiTags::Events")]
impl EventsApi {
    /// Publish one event or a batch: a publish token of this channel, or admin.
    /// The 201 is sent once the events are durable. On a channel with
    /// `strict_types`, each event needs one of the channel's types and `data`
    /// valid against that type's JSON Schema (400 with the errors otherwise).
    #[oai(path = "/channels/:channel_id/events", method = "post")]
    async fn publish(
        &self,
        req: &Request,
        channel_id: Path<String>,
        /// Makes retries safe: a repeat of this key on this channel within the
        /// key window (24 h) stores nothing and answers what the first request
        /// stored, even if the channel's strict types changed since (410 with
        /// their ids, not their data, if those events were removed since);
        /// reusing it for a different request is a 422.
        #[oai(
            name = "Idempotency-Key",
            validator(custom = "&crate::api::patterns::IDEMPOTENCY_KEY")
        )]
        idempotency_key: Header<Option<String>>,
        body: JsonBody<PublishBody>,
    ) -> Result<Published, ApiError> {
        // A key the header parser could not read as text (not visible
        // ASCII) is refused, not taken for no key.
        if idempotency_key.0.is_none() && req.headers().contains_key("idempotency-key") {
            return Err(ApiError::bad_request(
                "Idempotency-Key is 1 to 255 visible ASCII characters",
            ));
        }
        let (events, single) = match body.0 {
            PublishBody::Single(event) => (vec![into_new(event)], true),
            PublishBody::Batch(batch) => (batch.events.into_iter().map(into_new).collect(), false),
        };
        let publication = Publication {
            events,
            batch: !single,
            idempotency_key: idempotency_key.0,
        };
        let hub::Published {
            events: mut stored,
            replayed,
        } = self
            .hub
            .publish(&channel_id, presented_token(req).as_deref(), publication)
            .await?;
        let replayed = replayed.then(|| "true".to_owned());
        Ok(match (single, stored.pop()) {
            (true, Some(event)) => Published::Single(SerdeJson(Box::new(event)), replayed),
            (_, last) => {
                stored.extend(last);
                Published::Batch(SerdeJson(EventList { events: stored }), replayed)
            }
        })
    }

    /// Check a publish without storing it: the same body, credential and
    /// checks as publishing (size, `meta`, and on a channel with
    /// `strict_types` each event's type and data against its JSON Schema),
    /// answered 200 when the publish would be stored, else with the problem
    /// publishing would answer. Nothing is stored or delivered; it counts
    /// against the publish rate like a publish.
    #[oai(path = "/channels/:channel_id/events/validate", method = "post")]
    async fn validate(
        &self,
        req: &Request,
        channel_id: Path<String>,
        body: JsonBody<PublishBody>,
    ) -> Result<SerdeJson<Validation>, ApiError> {
        let events: Vec<NewEvent> = match body.0 {
            PublishBody::Single(event) => vec![into_new(event)],
            PublishBody::Batch(batch) => batch.events.into_iter().map(into_new).collect(),
        };
        let count = self
            .hub
            .validate(&channel_id, presented_token(req).as_deref(), &events)
            .await?;
        Ok(SerdeJson(Validation {
            valid: true,
            events: u32::try_from(count).unwrap_or(u32::MAX),
        }))
    }

    /// Poll events in publish order. Following `cursor` sees every event
    /// exactly once. With `wait`, answers as soon as an event is there.
    #[oai(path = "/channels/:channel_id/events", method = "get")]
    #[allow(clippy::too_many_arguments)]
    async fn poll(
        &self,
        req: &Request,
        channel_id: Path<String>,
        /// From a previous page: continue after it.
        #[oai(validator(custom = "&crate::api::patterns::EVENT_ID"))]
        cursor: Query<Option<String>>,
        /// RFC 3339: only events created at or after this time.
        since: Query<Option<String>>,
        /// Comma-separated event types.
        #[oai(name = "type")]
        event_type: Query<Option<String>>,
        /// 1–1000, default 100.
        #[oai(validator(minimum(value = "1"), maximum(value = "1000")))]
        limit: Query<Option<u32>>,
        /// Seconds (0–60) to wait for an event when none is there yet.
        #[oai(validator(minimum(value = "0"), maximum(value = "60")))]
        wait: Query<Option<u32>>,
    ) -> Result<SerdeJson<EventPage>, ApiError> {
        // Ids compare as text: a cursor is taken in its canonical (upper-case) form.
        let cursor = match cursor.0.as_deref() {
            None => None,
            Some(text) => Some(
                text.parse::<ulid::Ulid>()
                    .map_err(|_| ApiError::bad_request(format!("invalid cursor {text:?}")))?
                    .to_string(),
            ),
        };
        let since = match since.0.as_deref() {
            None => None,
            Some(text) => Some(parse_rfc3339(text).ok_or_else(|| {
                ApiError::bad_request(format!("since must be an RFC 3339 time, not {text:?}"))
            })?),
        };
        let query = EventQuery {
            after: cursor,
            until: None,
            since,
            types: parse_type_list(event_type.0.as_deref()),
            limit: 0,
        };
        let wait = Duration::from_secs(u64::from(wait.0.unwrap_or(0)));
        let (page, gap) = self
            .hub
            .poll(
                &channel_id,
                presented_token(req).as_deref(),
                query,
                limit.0,
                wait,
            )
            .await?;
        Ok(SerdeJson(EventPage {
            events: page.items,
            cursor: page.cursor,
            has_more: page.has_more,
            gap: gap.map(|gap| GapNotice {
                removed_through: gap.removed_through,
            }),
        }))
    }

    /// Get one event.
    #[oai(path = "/channels/:channel_id/events/:event_id", method = "get")]
    async fn get(
        &self,
        req: &Request,
        channel_id: Path<String>,
        event_id: Path<String>,
    ) -> Result<SerdeJson<Event>, ApiError> {
        let event = self
            .hub
            .get_event(&channel_id, presented_token(req).as_deref(), &event_id)
            .await?;
        Ok(SerdeJson(event))
    }

    /// Delete an event: admin, or the publish token that published it.
    #[oai(path = "/channels/:channel_id/events/:event_id", method = "delete")]
    async fn delete(
        &self,
        req: &Request,
        channel_id: Path<String>,
        event_id: Path<String>,
    ) -> Result<Deleted, ApiError> {
        self.hub
            .delete_event(&channel_id, presented_token(req).as_deref(), &event_id)
            .await?;
        Ok(Deleted::Deleted)
    }
}
