//! Domain types: channels, events, tokens, and the rules that make them valid.
//!
//! These types are shared by every layer. They carry their JSON shape (serde and
//! the poem-openapi `Object` derive, so every delivery path writes the same
//! bytes), but they know nothing of routes, status codes or SQL.

mod credentials;
mod profile;
pub mod tool_schema;

use std::{collections::BTreeMap, net::IpAddr};

pub use credentials::{
    AcceptedSecrets, Identity, JwtRegistrant, RevocationRecord, TrustedKeyRecord, short_hex,
};
pub use profile::{ClusterStatus, NodeStatus, ServerProfile};

use ipnet::Ipv6Net;

use chrono::{DateTime, SecondsFormat, Utc};
use poem_openapi::{Enum, Object};
use serde::{
    Deserialize, Deserializer, Serialize,
    de::{DeserializeOwned, Error as _, Unexpected},
};
use serde_json::Value;

/// Largest serialized `data` of one event.
pub const MAX_EVENT_DATA_BYTES: usize = 64 * 1024;
/// Largest `meta` of one event (an opaque string), in bytes of UTF-8.
pub const MAX_EVENT_META_BYTES: usize = 16 * 1024;
/// Most events in one publish batch.
pub const MAX_BATCH_EVENTS: usize = 100;
/// Largest page a poll or a list may ask for.
pub const MAX_PAGE_LIMIT: u32 = 1000;
/// Page size when the client names none.
pub const DEFAULT_PAGE_LIMIT: u32 = 100;
/// The nil event id, before every event: resuming after it replays a
/// channel from its first stored event (a resume point for an empty channel).
pub const NIL_EVENT_ID: &str = "00000000000000000000000000";

/// The key per-address limits use: an IPv4 address, or an IPv6 /64 (one
/// subscriber usually holds a whole /64, so single IPv6 addresses are free
/// to rotate through).
pub fn limit_key(ip: IpAddr) -> IpAddr {
    match ip.to_canonical() {
        IpAddr::V6(v6) => IpAddr::V6(
            Ipv6Net::new(v6, 64)
                .expect("64 is a valid prefix")
                .trunc()
                .addr(),
        ),
        v4 => v4,
    }
}

/// Milliseconds since the Unix epoch: the one time unit the store keeps.
pub type Millis = i64;

pub fn now_millis() -> Millis {
    Utc::now().timestamp_millis()
}

/// Microseconds since the Unix epoch. Delivery stages are timed by the wall
/// clock because they may span processes: the node that commits an event and
/// the node whose socket writes it.
pub fn now_micros() -> u64 {
    Utc::now().timestamp_micros().max(0) as u64
}

/// RFC 3339 in UTC with millisecond precision, always ending in `Z`.
pub fn format_millis(ms: Millis) -> String {
    DateTime::<Utc>::from_timestamp_millis(ms)
        .unwrap_or_default()
        .to_rfc3339_opts(SecondsFormat::Millis, true)
}

pub fn parse_rfc3339(text: &str) -> Option<Millis> {
    DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|t| t.with_timezone(&Utc).timestamp_millis())
}

/// Why a value was refused; `detail` is written for the client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invalid(pub String);

impl std::fmt::Display for Invalid {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Text both databases can store. PostgreSQL's TEXT refuses NUL (U+0000),
/// so both backends refuse it here, before the database sees it. JSON values
/// (event `data`, channel `meta` and `config`) are stored as serialized JSON,
/// where NUL is written `\u0000`, so they may hold it and get it back.
pub fn check_storable(field: &str, text: &str) -> Result<(), Invalid> {
    if text.contains('\0') {
        return Err(Invalid(format!(
            "{field} contains a NUL character (U+0000), which cannot be stored"
        )));
    }
    Ok(())
}

/// [`check_storable`] for an optional field.
pub fn check_storable_opt(field: &str, text: Option<&str>) -> Result<(), Invalid> {
    text.map_or(Ok(()), |text| check_storable(field, text))
}

/// [`check_storable`] for every item of a list field.
pub fn check_storable_all(field: &str, items: Option<&[String]>) -> Result<(), Invalid> {
    items
        .unwrap_or_default()
        .iter()
        .try_for_each(|item| check_storable(field, item))
}

/// The raw path and query of a request URI decode to storable text: the only
/// way to write NUL in a URI is `%00` (a raw NUL byte is not allowed there).
pub fn check_storable_uri(path_and_query: &str) -> Result<(), Invalid> {
    if path_and_query.contains("%00") {
        return Err(Invalid(
            "the path or query contains a NUL character (%00), which cannot be stored".into(),
        ));
    }
    Ok(())
}

/// A struct only from a JSON object: serde's derive also takes an array of
/// the fields in order, which the API document does not allow.
fn object<'de, D: Deserializer<'de>, T: DeserializeOwned>(value: Value) -> Result<T, D::Error> {
    if !value.is_object() {
        return Err(D::Error::invalid_type(unexpected(&value), &"a JSON object"));
    }
    serde_json::from_value(value).map_err(D::Error::custom)
}

fn unexpected(value: &Value) -> Unexpected<'_> {
    match value {
        Value::Array(_) => Unexpected::Seq,
        Value::Bool(b) => Unexpected::Bool(*b),
        Value::Number(_) => Unexpected::Other("a number"),
        Value::String(s) => Unexpected::Str(s),
        Value::Null => Unexpected::Unit,
        Value::Object(_) => Unexpected::Map,
    }
}

/// For `#[serde(default, deserialize_with)]` on an optional object field.
pub fn optional_object<'de, D: Deserializer<'de>, T: DeserializeOwned>(
    deserializer: D,
) -> Result<Option<T>, D::Error> {
    match Value::deserialize(deserializer)? {
        Value::Null => Ok(None),
        value => object::<D, T>(value).map(Some),
    }
}

/// For `#[serde(default, deserialize_with)]` on an `Option<Option<T>>`:
/// absent is `None`, `null` is `Some(None)`, a value `Some(Some(value))`.
pub fn nullable<'de, D: Deserializer<'de>, T: DeserializeOwned>(
    deserializer: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(deserializer).map(Some)
}

/// [`nullable`] for an object, with [`optional_object`]'s errors.
pub fn nullable_object<'de, D: Deserializer<'de>, T: DeserializeOwned>(
    deserializer: D,
) -> Result<Option<Option<T>>, D::Error> {
    optional_object(deserializer).map(Some)
}

/// For `#[serde(deserialize_with)]` on a list of objects.
pub fn objects<'de, D: Deserializer<'de>, T: DeserializeOwned>(
    deserializer: D,
) -> Result<Vec<T>, D::Error> {
    Vec::<Value>::deserialize(deserializer)?
        .into_iter()
        .map(object::<D, T>)
        .collect()
}

/// Channel ids: 3–64 of `a-z`, `0-9`, `-`, starting and ending with a letter or digit.
pub fn validate_channel_id(id: &str) -> Result<(), Invalid> {
    let bytes = id.as_bytes();
    let allowed = |b: &u8| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-';
    let edge_ok = |b: Option<&u8>| b.is_some_and(|b| *b != b'-');
    if !(3..=64).contains(&bytes.len())
        || !bytes.iter().all(allowed)
        || !edge_ok(bytes.first())
        || !edge_ok(bytes.last())
    {
        return Err(Invalid(format!(
            "channel id {id:?} must be 3-64 characters of a-z, 0-9 and '-', starting and ending with a letter or digit"
        )));
    }
    Ok(())
}

/// Per-channel publishing rules. Unknown keys are refused (400), at every
/// level: a setting that is not understood must not pass for one that is.
#[derive(Debug, Clone, Default, PartialEq, Object, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChannelConfig {
    /// When true, every event needs a `type` listed in `types` and `data` valid against its schema.
    #[oai(default)]
    #[serde(default)]
    pub strict_types: bool,
    /// Event type name → JSON Schema its `data` must satisfy. Each value
    /// must itself be a valid JSON Schema (the draft its `$schema` names,
    /// 2020-12 without one), or the request is refused with 400: a rule
    /// this document cannot state in its own schema language.
    #[oai(default)]
    #[serde(default)]
    pub types: BTreeMap<String, Value>,
    /// Zooid's storage settings, accepted as Zooid writes them:
    /// `retention_days` sets `retention.max_age_seconds` (giving both is a
    /// 400). Kept in the config as written.
    #[oai(skip_serializing_if_is_none)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage: Option<StorageConfig>,
}

/// Zooid's `config.storage`.
#[derive(Debug, Clone, Default, PartialEq, Object, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StorageConfig {
    /// Days events are kept (whole days; fractions are rounded down, as
    /// Zooid does): 1 to 36 500.
    #[oai(validator(minimum(value = "1"), maximum(value = "36500")))]
    pub retention_days: Option<f64>,
}

impl ChannelConfig {
    /// `retention` with Zooid's `storage.retention_days` applied, when the
    /// config has one: as `max_age_seconds`, unless that is given too.
    pub fn retention_from_storage(&self, retention: Retention) -> Result<Retention, Invalid> {
        let Some(days) = self.storage.as_ref().and_then(|s| s.retention_days) else {
            return Ok(retention);
        };
        if !(1.0..=36_500.0).contains(&days) {
            return Err(Invalid(
                "config.storage.retention_days is 1 to 36500".into(),
            ));
        }
        if retention.max_age_seconds.is_some() {
            return Err(Invalid(
                "give config.storage.retention_days (Zooid's form) or \
                 retention.max_age_seconds, not both"
                    .into(),
            ));
        }
        Ok(Retention {
            max_age_seconds: Some(days.floor() as i64 * 86_400),
            ..retention
        })
    }
}

/// How long a channel keeps its events; the oldest go first.
#[derive(Debug, Clone, Copy, Default, PartialEq, Object, Serialize, Deserialize)]
pub struct Retention {
    /// Events older than this are removed.
    #[oai(validator(minimum(value = "1")))]
    pub max_age_seconds: Option<i64>,
    /// At most this many events are kept.
    #[oai(validator(minimum(value = "1")))]
    pub max_events: Option<i64>,
}

impl Retention {
    pub fn validate(&self) -> Result<(), Invalid> {
        if self.max_age_seconds.is_some_and(|s| s <= 0) {
            return Err(Invalid("retention.max_age_seconds must be positive".into()));
        }
        if self.max_events.is_some_and(|n| n <= 0) {
            return Err(Invalid("retention.max_events must be positive".into()));
        }
        Ok(())
    }
}

/// A channel as the API returns it.
#[derive(Debug, Clone, Object)]
pub struct Channel {
    pub id: String,
    pub name: String,
    pub description: String,
    pub tags: Vec<String>,
    pub is_public: bool,
    /// Free-form object stored and returned untouched.
    pub meta: Value,
    pub config: ChannelConfig,
    pub retention: Retention,
    pub created_at: String,
    /// Events currently stored.
    pub event_count: i64,
    pub last_event_at: Option<String>,
    /// Live WebSocket connections on this channel, across all nodes.
    pub subscribers: u64,
    /// The newest event id the channel ever had (not part of the API).
    #[oai(skip)]
    pub last_event_id: Option<String>,
}

/// Everything needed to create a channel, already validated.
#[derive(Debug, Clone)]
pub struct NewChannel {
    pub id: String,
    pub name: String,
    pub description: String,
    pub tags: Vec<String>,
    pub is_public: bool,
    pub meta: Value,
    pub config: ChannelConfig,
    pub retention: Retention,
}

/// A partial update; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct ChannelPatch {
    pub name: Option<String>,
    pub description: Option<String>,
    pub tags: Option<Vec<String>>,
    pub is_public: Option<bool>,
    pub meta: Option<Value>,
    pub config: Option<ChannelConfig>,
    pub retention: Option<Retention>,
}

/// An event as every delivery path sends it.
///
/// Field order here is the order on the wire; WebSocket frames, poll pages and
/// webhook bodies are all written from this one type.
#[derive(Debug, Clone, PartialEq, Object, Serialize, Deserialize, schemars::JsonSchema)]
#[schemars(transform = tool_schema::output)]
pub struct Event {
    /// ULID; increases in publish order within a channel.
    pub id: String,
    pub channel_id: String,
    #[oai(rename = "type")]
    #[serde(rename = "type")]
    pub event_type: Option<String>,
    #[schemars(schema_with = "tool_schema::any_value")]
    pub data: Value,
    /// Opaque string stored and returned untouched.
    pub meta: Option<String>,
    pub publisher_id: String,
    pub publisher_name: Option<String>,
    pub created_at: String,
}

impl Event {
    /// The JSON text of this event, exactly as the HTTP API writes it.
    pub fn to_json_string(&self) -> String {
        // serde writes the same bytes as the API's `Object` encoding (same
        // field order, `null` for absent fields; a test checks it), without
        // building and cloning an intermediate `Value` tree.
        serde_json::to_string(self).expect("an event always serializes")
    }

    pub fn matches_types(&self, types: &[String]) -> bool {
        types.is_empty()
            || self
                .event_type
                .as_deref()
                .is_some_and(|t| types.iter().any(|wanted| wanted == t))
    }
}

/// One event to append, before the store gives it an id and a time.
#[derive(Debug, Clone)]
pub struct NewEvent {
    pub event_type: Option<String>,
    pub data: Value,
    /// `data` serialized, once: its size is checked and it is stored as is.
    pub data_json: String,
    pub meta: Option<String>,
}

impl NewEvent {
    pub fn new(event_type: Option<String>, data: Value, meta: Option<String>) -> NewEvent {
        NewEvent {
            data_json: data.to_string(),
            event_type,
            data,
            meta,
        }
    }
}

/// Who an event is stamped with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Publisher {
    pub id: String,
    pub name: Option<String>,
}

impl Publisher {
    pub fn admin() -> Self {
        Publisher {
            id: "admin".into(),
            name: None,
        }
    }
}

/// What a token lets its holder do on its channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum, Serialize, Deserialize)]
#[oai(rename_all = "lowercase")]
#[serde(rename_all = "lowercase")]
pub enum TokenKind {
    Subscribe,
    Publish,
}

impl TokenKind {
    pub fn as_str(self) -> &'static str {
        match self {
            TokenKind::Subscribe => "subscribe",
            TokenKind::Publish => "publish",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "subscribe" => Some(TokenKind::Subscribe),
            "publish" => Some(TokenKind::Publish),
            _ => None,
        }
    }
}

/// A channel token as stored: the secret is only ever kept as a hash.
#[derive(Debug, Clone)]
pub struct TokenRecord {
    pub id: String,
    pub channel_id: String,
    pub kind: TokenKind,
    pub name: Option<String>,
    pub publisher_id: Option<String>,
    pub secret_hash: String,
    pub created_at: Millis,
    pub expires_at: Option<Millis>,
}

impl TokenRecord {
    pub fn is_expired(&self, now: Millis) -> bool {
        self.expires_at.is_some_and(|at| at <= now)
    }

    /// What the token grants, as a JWT scope: `pub:<channel>` or `sub:<channel>`.
    pub fn scope(&self) -> String {
        let action = match self.kind {
            TokenKind::Publish => "pub",
            TokenKind::Subscribe => "sub",
        };
        format!("{action}:{}", self.channel_id)
    }
}

/// A token as listed: never the secret, never the hash.
#[derive(Debug, Clone, Object)]
pub struct TokenInfo {
    pub id: String,
    pub kind: TokenKind,
    pub channel_id: String,
    pub name: Option<String>,
    pub publisher_id: Option<String>,
    pub created_at: String,
    pub expires_at: Option<String>,
}

impl From<&TokenRecord> for TokenInfo {
    fn from(t: &TokenRecord) -> Self {
        TokenInfo {
            id: t.id.clone(),
            kind: t.kind,
            channel_id: t.channel_id.clone(),
            name: t.name.clone(),
            publisher_id: t.publisher_id.clone(),
            created_at: format_millis(t.created_at),
            expires_at: t.expires_at.map(format_millis),
        }
    }
}

/// Whether a webhook still receives deliveries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[oai(rename_all = "lowercase")]
pub enum WebhookState {
    Active,
    /// Failed for longer than the disable bound; re-register the URL to resume.
    Disabled,
    /// The registrant's access ended: its token was revoked or expired, or
    /// (anonymous registrations) the channel was made private.
    Revoked,
}

impl WebhookState {
    pub fn as_str(self) -> &'static str {
        match self {
            WebhookState::Active => "active",
            WebhookState::Disabled => "disabled",
            WebhookState::Revoked => "revoked",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "active" => Some(WebhookState::Active),
            "disabled" => Some(WebhookState::Disabled),
            "revoked" => Some(WebhookState::Revoked),
            _ => None,
        }
    }
}

/// A webhook as stored, with its signing secret.
#[derive(Debug, Clone)]
pub struct WebhookRecord {
    pub id: String,
    pub channel_id: String,
    pub url: String,
    /// Only events of these types are delivered (empty: all).
    pub event_types: Vec<String>,
    pub secret: String,
    pub created_at: Millis,
    pub expires_at: Millis,
    pub state: WebhookState,
    pub last_error: Option<String>,
    pub failing_since: Option<Millis>,
    pub last_success_at: Option<Millis>,
    /// Who registered it: `admin`, `token:<id>`, `jwt:<key>:<subject>` or
    /// `anonymous:<address>`.
    pub registered_by: String,
    /// The JWT it was registered with, when it was: it stops with that token.
    pub jwt: Option<JwtRegistrant>,
}

/// A webhook as listed: never the secret.
#[derive(Debug, Clone, Object)]
pub struct Webhook {
    pub id: String,
    pub channel_id: String,
    pub url: String,
    /// Only these event types are delivered; null delivers every event.
    pub event_types: Option<Vec<String>>,
    pub created_at: String,
    pub expires_at: String,
    pub state: WebhookState,
    /// Why the last delivery attempt failed, if it did.
    pub last_error: Option<String>,
    /// When the current run of failures began.
    pub failing_since: Option<String>,
    pub last_success_at: Option<String>,
    /// Who registered it: `admin`, `token:<token id>` or
    /// `anonymous:<client address>`. Only they (or the admin) may change it.
    pub registered_by: String,
}

impl From<&WebhookRecord> for Webhook {
    fn from(w: &WebhookRecord) -> Self {
        Webhook {
            id: w.id.clone(),
            channel_id: w.channel_id.clone(),
            url: w.url.clone(),
            event_types: (!w.event_types.is_empty()).then(|| w.event_types.clone()),
            created_at: format_millis(w.created_at),
            expires_at: format_millis(w.expires_at),
            state: w.state,
            last_error: w.last_error.clone(),
            failing_since: w.failing_since.map(format_millis),
            last_success_at: w.last_success_at.map(format_millis),
            registered_by: w.registered_by.clone(),
        }
    }
}

/// One attempt to deliver an event to a webhook.
#[derive(Debug, Clone, Object)]
pub struct DeliveryAttempt {
    pub event_id: String,
    /// 1 for the first try of this event, then 2, 3, ...
    pub attempt: i64,
    pub at: String,
    /// `success`, `http_error`, `network_error`, `timeout` or `refused`.
    pub outcome: String,
    /// The target's HTTP status, when it answered.
    pub status: Option<i64>,
    pub error: Option<String>,
    pub duration_ms: i64,
}

/// Which events a poll asks for.
#[derive(Debug, Clone, Default)]
pub struct EventQuery {
    /// Only events after this id.
    pub after: Option<String>,
    /// Only events up to and including this id.
    pub until: Option<String>,
    /// Only events created at or after this time.
    pub since: Option<Millis>,
    /// Only events of these types (empty: all).
    pub types: Vec<String>,
    pub limit: u32,
}

/// Splits `a,b,,c` into `["a", "b", "c"]`.
pub fn parse_type_list(raw: Option<&str>) -> Vec<String> {
    raw.unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(str::to_owned)
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn nul_is_not_storable_text() {
        assert!(super::check_storable("type", "a\0b").is_err());
        assert!(super::check_storable("type", "a\\0b").is_ok());
        assert!(super::check_storable_all("tags", Some(&["ok".into(), "\0".into()])).is_err());
        assert!(super::check_storable_uri("/channels/nul%00/events").is_err());
        assert!(super::check_storable_uri("/channels/x/events?type=%2500").is_ok());
    }

    use super::*;

    #[test]
    fn channel_id_rules() {
        for ok in ["abc", "market-signals", "a1-b2", &"a".repeat(64)] {
            assert!(validate_channel_id(ok).is_ok(), "{ok}");
        }
        for bad in [
            "ab",
            "-abc",
            "abc-",
            "ABC",
            "a_b",
            "a b",
            "",
            &"a".repeat(65),
        ] {
            assert!(validate_channel_id(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn timestamps_are_rfc3339_utc_with_z() {
        let text = format_millis(1_736_933_401_000);
        assert_eq!(text, "2025-01-15T09:30:01.000Z");
        assert_eq!(parse_rfc3339(&text), Some(1_736_933_401_000));
        assert_eq!(
            parse_rfc3339("2025-01-15T10:30:01+01:00"),
            Some(1_736_933_401_000)
        );
        assert_eq!(parse_rfc3339("yesterday"), None);
    }

    #[test]
    fn type_filter() {
        assert_eq!(parse_type_list(Some("a, b,,c")), vec!["a", "b", "c"]);
        assert!(parse_type_list(None).is_empty());
        let mut e = Event {
            id: "x".into(),
            channel_id: "abc".into(),
            event_type: None,
            data: Value::Null,
            meta: None,
            publisher_id: "admin".into(),
            publisher_name: None,
            created_at: format_millis(0),
        };
        assert!(e.matches_types(&[]));
        assert!(
            !e.matches_types(&["a".into()]),
            "an untyped event matches no filter"
        );
        e.event_type = Some("a".into());
        assert!(e.matches_types(&["b".into(), "a".into()]));
    }
}
