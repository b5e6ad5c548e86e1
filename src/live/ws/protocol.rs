//! The frames of the multiplexed socket (`GET /api/v1/ws`): what a client
//! may send (`subscribe`, `unsubscribe`, `refresh`), read strictly, and the
//! control frames the server answers with. Every frame is a JSON object with
//! exactly one key naming what it is; events are the only server frames with
//! a top-level `id`, and they are the rooms' shared frames, never built here.
//! This file only reads and writes JSON; the session (`super::mux`) decides.

use serde::Deserialize;
use serde_json::{Value, json};

/// Longest `ref` a client may attach to a command.
pub const MAX_REF_CHARS: usize = 64;
/// Most event types one subscription may filter on.
pub const MAX_TYPES: usize = 64;
/// The resume point of a channel that has no events yet: `after` with it
/// replays from the channel's first stored event.
pub use crate::model::NIL_EVENT_ID as NIL_POSITION;

/// A client command.
#[derive(Debug)]
pub enum Command {
    Subscribe(Subscribe),
    Unsubscribe {
        reference: Option<String>,
        channel: String,
    },
    Refresh {
        reference: Option<String>,
        token: String,
    },
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Subscribe {
    #[serde(rename = "ref")]
    pub reference: Option<String>,
    pub channel: String,
    #[serde(default)]
    pub types: Vec<String>,
    pub after: Option<String>,
    pub token: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Unsubscribe {
    #[serde(rename = "ref")]
    reference: Option<String>,
    channel: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Refresh {
    #[serde(rename = "ref")]
    reference: Option<String>,
    token: String,
}

/// A frame the server could not take: answered with an `error` frame (400)
/// that carries whatever `ref` and `channel` could be read.
#[derive(Debug)]
pub struct BadFrame {
    pub reference: Option<String>,
    pub channel: Option<String>,
    pub detail: String,
}

impl Command {
    /// The `ref` and channel a reply to this command names.
    pub fn names(&self) -> (Option<&str>, Option<&str>) {
        match self {
            Command::Subscribe(subscribe) => {
                (subscribe.reference.as_deref(), Some(&subscribe.channel))
            }
            Command::Unsubscribe { reference, channel } => (reference.as_deref(), Some(channel)),
            Command::Refresh { reference, .. } => (reference.as_deref(), None),
        }
    }
}

/// Reads one client text frame.
pub fn parse(text: &str) -> Result<Command, BadFrame> {
    let bad = |detail: String| BadFrame {
        reference: None,
        channel: None,
        detail,
    };
    let value: Value = serde_json::from_str(text)
        .map_err(|e| bad(format!("a frame must be one JSON object: {e}")))?;
    let Value::Object(object) = value else {
        return Err(bad("a frame must be a JSON object".into()));
    };
    let mut entries = object.into_iter();
    let (Some((kind, payload)), None) = (entries.next(), entries.next()) else {
        return Err(bad(
            "a frame is an object with exactly one key: subscribe, unsubscribe or refresh".into(),
        ));
    };
    // Whatever else is wrong, the answer names the command it is about.
    let reference = payload
        .get("ref")
        .and_then(Value::as_str)
        .filter(|r| r.chars().count() <= MAX_REF_CHARS)
        .map(str::to_owned);
    let channel = payload
        .get("channel")
        .and_then(Value::as_str)
        .map(str::to_owned);
    let bad = |detail: String| BadFrame {
        reference: reference.clone(),
        channel: channel.clone(),
        detail,
    };
    if !payload.is_object() {
        return Err(bad(format!("{kind:?} takes an object")));
    }
    let invalid = |e: serde_json::Error| bad(format!("invalid {kind}: {e}"));
    let command = match kind.as_str() {
        "subscribe" => {
            let mut s: Subscribe = serde_json::from_value(payload).map_err(invalid)?;
            s.types = s.types.iter().map(|t| t.trim().to_owned()).collect();
            Command::Subscribe(s)
        }
        "unsubscribe" => {
            let u: Unsubscribe = serde_json::from_value(payload).map_err(invalid)?;
            Command::Unsubscribe {
                reference: u.reference,
                channel: u.channel,
            }
        }
        "refresh" => {
            let r: Refresh = serde_json::from_value(payload).map_err(invalid)?;
            Command::Refresh {
                reference: r.reference,
                token: r.token,
            }
        }
        other => {
            return Err(bad(format!(
                "unknown frame {other:?}: expected subscribe, unsubscribe or refresh"
            )));
        }
    };
    check_bounds(&command).map_err(bad)?;
    Ok(command)
}

fn check_bounds(command: &Command) -> Result<(), String> {
    let (reference, channel) = match command {
        Command::Subscribe(s) => (&s.reference, Some(&s.channel)),
        Command::Unsubscribe { reference, channel } => (reference, Some(channel)),
        Command::Refresh { reference, .. } => (reference, None),
    };
    if reference
        .as_ref()
        .is_some_and(|r| r.chars().count() > MAX_REF_CHARS)
    {
        return Err(format!("ref is limited to {MAX_REF_CHARS} characters"));
    }
    if channel.is_some_and(String::is_empty) {
        return Err("channel must not be empty".into());
    }
    if let Command::Subscribe(s) = command {
        if s.types.len() > MAX_TYPES {
            return Err(format!("types is limited to {MAX_TYPES} entries"));
        }
        if s.types.iter().any(|t| t.trim().is_empty()) {
            return Err("types must not hold an empty type".into());
        }
    }
    Ok(())
}

/// The first frame: what this socket allows and who it is connected as.
pub fn hello(limits: &super::MuxLimits, ping_interval: u64, credential: Option<&Value>) -> String {
    json!({"hello": {
        "version": env!("CARGO_PKG_VERSION"),
        "max_subscriptions": limits.max_subscriptions,
        "max_frame_bytes": limits.max_frame_bytes,
        "commands_per_second": limits.commands_per_second,
        "ping_interval": ping_interval,
        "credential": credential,
    }})
    .to_string()
}

pub fn subscribed(
    reference: Option<&str>,
    channel: &str,
    position: &str,
    expires_at: Option<&str>,
) -> String {
    json!({"subscribed": {
        "ref": reference, "channel": channel, "position": position, "expires_at": expires_at,
    }})
    .to_string()
}

/// The replay is over: live events follow. `position` is the last event
/// the client has of this channel (or where its stream started).
pub fn caught_up(channel: &str, position: &str) -> String {
    json!({"caught_up": {"channel": channel, "position": position}}).to_string()
}

pub fn gap(channel: &str, after: &str, removed_through: &str) -> String {
    json!({"gap": {"channel": channel, "after": after, "removed_through": removed_through}})
        .to_string()
}

pub fn unsubscribed(reference: Option<&str>, channel: &str, code: u16, reason: &str) -> String {
    json!({"unsubscribed": {
        "ref": reference, "channel": channel, "code": code, "reason": reason,
    }})
    .to_string()
}

pub fn refreshed(reference: Option<&str>, expires_at: Option<&str>) -> String {
    json!({"refreshed": {"ref": reference, "expires_at": expires_at}}).to_string()
}

/// A refused command, shaped like an `application/problem+json` body.
#[derive(Debug, Clone)]
pub struct Refusal {
    pub status: u16,
    pub detail: String,
    /// Seconds to wait before trying again (429).
    pub retry_after: Option<u64>,
}

impl Refusal {
    pub fn new(status: u16, detail: impl Into<String>) -> Refusal {
        Refusal {
            status,
            detail: detail.into(),
            retry_after: None,
        }
    }
}

pub fn error(reference: Option<&str>, channel: Option<&str>, refusal: &Refusal) -> String {
    let title = poem::http::StatusCode::from_u16(refusal.status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("Error");
    let mut body = json!({
        "ref": reference, "channel": channel, "status": refusal.status,
        "title": title, "detail": refusal.detail,
    });
    if let Some(seconds) = refusal.retry_after {
        body["retry_after"] = json!(seconds);
    }
    json!({ "error": body }).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_are_one_key_objects_read_strictly() {
        let Ok(Command::Subscribe(s)) = parse(
            r#"{"subscribe": {"ref": "s1", "channel": "ops", "types": ["a"], "after": "x"}}"#,
        ) else {
            panic!("a subscribe frame")
        };
        assert_eq!(
            (s.reference.as_deref(), s.channel.as_str()),
            (Some("s1"), "ops")
        );
        assert_eq!(s.types, vec!["a"]);

        for (frame, says) in [
            ("nope", "one JSON object"),
            ("[1]", "a JSON object"),
            ("{}", "exactly one key"),
            (
                r#"{"subscribe": {"channel": "a"}, "x": 1}"#,
                "exactly one key",
            ),
            (r#"{"publish": {"channel": "a"}}"#, "unknown frame"),
            (r#"{"subscribe": "a"}"#, "takes an object"),
            (
                r#"{"subscribe": {"channel": "a", "typo": 1}}"#,
                "unknown field",
            ),
            (r#"{"subscribe": {"ref": "r"}}"#, "missing field"),
            (r#"{"subscribe": {"channel": ""}}"#, "must not be empty"),
            (
                r#"{"subscribe": {"channel": "a", "types": [""]}}"#,
                "empty type",
            ),
            (r#"{"unsubscribe": {"channel": 5}}"#, "invalid unsubscribe"),
            (r#"{"refresh": {}}"#, "missing field"),
        ] {
            let err = parse(frame).expect_err(frame);
            assert!(err.detail.contains(says), "{frame}: {}", err.detail);
        }
    }

    #[test]
    fn an_error_names_the_command_it_answers() {
        let err = parse(r#"{"subscribe": {"ref": "s9", "channel": "ops", "after": 3}}"#)
            .expect_err("after must be a string");
        assert_eq!(err.reference.as_deref(), Some("s9"));
        assert_eq!(err.channel.as_deref(), Some("ops"));
        let long_ref = "r".repeat(MAX_REF_CHARS + 1);
        let err = parse(&format!(
            r#"{{"unsubscribe": {{"ref": "{long_ref}", "channel": "a"}}}}"#
        ))
        .expect_err("ref too long");
        assert!(err.detail.contains("64 characters"));
        assert_eq!(err.reference, None, "a ref past the bound is not echoed");
    }

    #[test]
    fn errors_look_like_problem_bodies() {
        let mut refusal = Refusal::new(429, "too many commands");
        refusal.retry_after = Some(1);
        let frame: Value = serde_json::from_str(&error(Some("s1"), None, &refusal)).unwrap();
        assert_eq!(frame["error"]["status"], 429);
        assert_eq!(frame["error"]["title"], "Too Many Requests");
        assert_eq!(frame["error"]["retry_after"], 1);
        assert_eq!(frame.as_object().unwrap().len(), 1);
    }
}
