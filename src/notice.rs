//! The messages nodes exchange on the cluster bus: their topics and shapes.
//!
//! Shapes only, below everything that sends or receives them: the store
//! writes append notices inside its transactions, the cluster bus reads them
//! off the LISTEN connection, and the hub acts on them. This module knows
//! nothing of PostgreSQL, sockets or the hub.

use serde::{Deserialize, Serialize};

use crate::{
    model::Event,
    model::{RevocationRecord, TrustedKeyRecord},
};

pub const EVENTS_TOPIC: &str = "channelhub_events";
pub const CONTROL_TOPIC: &str = "channelhub_control";
/// PostgreSQL refuses notification payloads of 8000 bytes or more.
const MAX_INLINE_PAYLOAD: usize = 7_000;

/// Announces committed events of one channel.
#[derive(Debug, Deserialize)]
pub struct AppendNotice {
    pub channel_id: String,
    /// The channel's newest id before this batch (exclusive lower bound).
    pub after_id: Option<String>,
    pub last_id: String,
    /// The events themselves, when they fit; otherwise read them by id range.
    #[serde(default)]
    pub events: Vec<Event>,
    /// When the appending transaction announced them (µs since the Unix
    /// epoch), just before its commit: where delivery timing starts.
    #[serde(default)]
    pub announced_at: Option<u64>,
}

/// The one field of an [`AppendNotice`] a node needs to tell whether the
/// notice concerns it: most nodes have no room for most channels.
#[derive(Debug, Deserialize)]
struct NoticeHead<'a> {
    #[serde(borrow)]
    channel_id: std::borrow::Cow<'a, str>,
}

impl AppendNotice {
    /// The channel a notice payload is about, read without decoding its
    /// events (`None`: not a notice).
    pub fn channel_of(payload: &str) -> Option<std::borrow::Cow<'_, str>> {
        serde_json::from_str::<NoticeHead>(payload)
            .ok()
            .map(|head| head.channel_id)
    }

    /// The notification payload for events appended after `after_id`.
    pub fn encode(after_id: Option<&str>, events: &[&Event]) -> String {
        let (Some(first), Some(last)) = (events.first(), events.last()) else {
            return String::new();
        };
        let mut notice = OutgoingNotice {
            channel_id: &first.channel_id,
            after_id,
            last_id: &last.id,
            events,
            announced_at: crate::model::now_micros(),
        };
        let inline = serde_json::to_string(&notice).expect("events serialize");
        if inline.len() <= MAX_INLINE_PAYLOAD {
            return inline;
        }
        notice.events = &[];
        serde_json::to_string(&notice).expect("ids serialize")
    }
}

/// [`AppendNotice`] as written, borrowing the committed events.
#[derive(Serialize)]
struct OutgoingNotice<'a> {
    channel_id: &'a str,
    after_id: Option<&'a str>,
    last_id: &'a str,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    events: &'a [&'a Event],
    announced_at: u64,
}

/// Tells every node that some of a channel's sockets must close.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ControlNotice {
    /// Settings changed: forget cached copies.
    ChannelChanged {
        channel_id: String,
    },
    ChannelDeleted {
        channel_id: String,
    },
    ChannelMadePrivate {
        channel_id: String,
    },
    TokenRevoked {
        channel_id: String,
        token_id: String,
    },
    /// A trusted JWT key was added: every node can verify with it at once.
    KeyAdded {
        key: TrustedKeyRecord,
    },
    /// A trusted JWT key was removed: its tokens' holders leave everywhere.
    KeyRemoved {
        kid: String,
    },
    /// A JWT deny-list entry: matching holders leave everywhere.
    JwtRevoked {
        revocation: RevocationRecord,
    },
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::format_millis;

    fn event(id: usize, size: usize) -> Event {
        Event {
            id: format!("{id:026}"),
            channel_id: "abc".into(),
            event_type: Some("t".into()),
            data: serde_json::json!("x".repeat(size)),
            meta: None,
            publisher_id: "admin".into(),
            publisher_name: None,
            created_at: format_millis(0),
        }
    }

    #[test]
    fn small_batches_travel_inline_and_large_ones_by_range() {
        let small: Vec<_> = (0..3).map(|i| event(i, 10)).collect();
        let refs: Vec<&Event> = small.iter().collect();
        let notice: AppendNotice =
            serde_json::from_str(&AppendNotice::encode(None, &refs)).unwrap();
        assert_eq!(notice.events, small);

        let large: Vec<_> = (0..3).map(|i| event(i, 5000)).collect();
        let refs: Vec<&Event> = large.iter().collect();
        let encoded = AppendNotice::encode(Some("0"), &refs);
        assert!(encoded.len() < 8000);
        let notice: AppendNotice = serde_json::from_str(&encoded).unwrap();
        assert_eq!(
            AppendNotice::channel_of(&encoded).as_deref(),
            Some(notice.channel_id.as_str())
        );
        assert!(notice.events.is_empty());
        assert_eq!(notice.after_id.as_deref(), Some("0"));
        assert_eq!(notice.last_id, large[2].id);
    }
}
