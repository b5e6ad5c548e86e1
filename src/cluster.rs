//! The cluster bus: several nodes on one PostgreSQL, kept in step with
//! LISTEN/NOTIFY.
//!
//! Every append is announced with `pg_notify` inside its own transaction, so
//! every node (the publishing one too) hears of committed events once, in
//! commit order, and fans them out from this one ordered stream. Small batches
//! travel inline; a batch too large for a notification travels as an id range
//! and is read back from the table. Control notices close sockets and clear
//! auth caches on every node. When the LISTEN connection is lost, the node
//! reconnects and catches each live room up from the table, so no subscriber
//! misses an event. This module owns that connection; what a notice means is
//! the hub's business.

use std::{sync::Arc, time::Duration};

use serde::{Deserialize, Serialize};
use sqlx::postgres::{PgListener, PgNotification};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::{hub::Hub, model::Event};

pub const EVENTS_TOPIC: &str = "channelhub_events";
pub const CONTROL_TOPIC: &str = "channelhub_control";
/// PostgreSQL refuses notification payloads of 8000 bytes or more.
const MAX_INLINE_PAYLOAD: usize = 7_000;
const RECONNECT_BACKOFF_MAX: Duration = Duration::from_secs(5);

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
}

impl AppendNotice {
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
}

/// Listens until `shutdown`; returns once LISTEN is in place, so that nothing
/// committed after startup is missed.
pub async fn start(
    database_url: &str,
    hub: Arc<Hub>,
    shutdown: CancellationToken,
) -> Result<JoinHandle<()>, sqlx::Error> {
    let listener = connect(database_url).await?;
    let url = database_url.to_owned();
    Ok(tokio::spawn(run(url, listener, hub, shutdown)))
}

/// `application_name` of the LISTEN connection, to find it in `pg_stat_activity`.
pub const BUS_APPLICATION_NAME: &str = "channelhub-bus";

async fn connect(database_url: &str) -> Result<PgListener, sqlx::Error> {
    let separator = if database_url.contains('?') { '&' } else { '?' };
    let url = format!("{database_url}{separator}application_name={BUS_APPLICATION_NAME}");
    let mut listener = PgListener::connect(&url).await?;
    listener.listen_all([EVENTS_TOPIC, CONTROL_TOPIC]).await?;
    Ok(listener)
}

async fn run(url: String, mut listener: PgListener, hub: Arc<Hub>, shutdown: CancellationToken) {
    loop {
        let received = tokio::select! {
            _ = shutdown.cancelled() => return,
            received = listener.try_recv() => received,
        };
        match received {
            Ok(Some(notification)) => handle(&hub, notification).await,
            Ok(None) => {
                // sqlx reconnected and listens again: fill the gap from the table.
                tracing::warn!("cluster bus connection lost and restored; catching up");
                hub.catch_up_rooms().await;
            }
            Err(err) => {
                tracing::warn!(error = %err, "cluster bus connection failed; reconnecting");
                let Some(fresh) = reconnect(&url, &shutdown).await else {
                    return;
                };
                listener = fresh;
                hub.catch_up_rooms().await;
            }
        }
    }
}

async fn reconnect(url: &str, shutdown: &CancellationToken) -> Option<PgListener> {
    let mut backoff = Duration::from_millis(50);
    loop {
        match connect(url).await {
            Ok(listener) => return Some(listener),
            Err(err) => tracing::warn!(error = %err, "cluster bus reconnect failed"),
        }
        tokio::select! {
            _ = shutdown.cancelled() => return None,
            _ = tokio::time::sleep(backoff) => {}
        }
        backoff = (backoff * 2).min(RECONNECT_BACKOFF_MAX);
    }
}

async fn handle(hub: &Hub, notification: PgNotification) {
    match notification.channel() {
        EVENTS_TOPIC => match serde_json::from_str::<AppendNotice>(notification.payload()) {
            Ok(notice) => hub.deliver_announced(notice).await,
            Err(err) => tracing::warn!(error = %err, "malformed event notice"),
        },
        CONTROL_TOPIC => match serde_json::from_str::<ControlNotice>(notification.payload()) {
            Ok(notice) => hub.apply_control(&notice),
            Err(err) => tracing::warn!(error = %err, "malformed control notice"),
        },
        other => tracing::debug!(topic = other, "notification on an unknown topic"),
    }
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
        assert!(notice.events.is_empty());
        assert_eq!(notice.after_id.as_deref(), Some("0"));
        assert_eq!(notice.last_id, large[2].id);
    }
}
