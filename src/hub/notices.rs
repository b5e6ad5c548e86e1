//! What the hub does with the notices nodes exchange: control notices close
//! sockets and forget cached credentials and channels; append notices fan
//! committed events out to this node's rooms, in commit order.

use std::{collections::HashSet, sync::Arc, time::Duration};

use crate::{
    live::rooms::CloseOrder,
    model::{Event, EventQuery, TokenKind, now_millis},
    notice::{AppendNotice, CONTROL_TOPIC, ControlNotice},
};

use super::Hub;

/// Events read per page when catching a room up.
const CATCH_UP_PAGE: u32 = 500;

/// How long live delivery keeps trying to read events the room must have
/// before it closes the room's listeners instead.
const LIVE_READ_PATIENCE: Duration = Duration::from_secs(10);

impl Hub {
    /// Applies a control notice here and tells the other nodes.
    pub(super) async fn announce_control(&self, notice: ControlNotice) {
        self.apply_control(&notice);
        let payload = serde_json::to_string(&notice).expect("notices serialize");
        if let Err(err) = self.store.announce(CONTROL_TOPIC, &payload).await {
            tracing::warn!(error = %err, "could not announce a control notice to other nodes");
        }
    }

    /// Closes the sockets and forgets the credentials a notice is about.
    pub fn apply_control(&self, notice: &ControlNotice) {
        match notice {
            ControlNotice::ChannelChanged { channel_id } => self.forget_channel(channel_id),
            ControlNotice::ChannelDeleted { channel_id } => {
                self.forget_channel(channel_id);
                self.rooms.close(channel_id, CloseOrder::ChannelDeleted);
            }
            ControlNotice::ChannelMadePrivate { channel_id } => {
                self.rooms.close(channel_id, CloseOrder::ChannelMadePrivate);
            }
            ControlNotice::TokenRevoked {
                channel_id,
                token_id,
            } => {
                self.auth.forget(token_id);
                self.rooms
                    .close(channel_id, CloseOrder::TokenRevoked(token_id.clone()));
            }
        }
    }

    /// Fans out events announced on the cluster bus, in commit order.
    ///
    /// A notice names the channel's newest event before its batch. When that
    /// is newer than what the room has, the room missed something (a notice
    /// lost with the LISTEN connection, a read-back that failed, a subscriber
    /// that joined between reading the channel and entering the room): the
    /// events in between are read from the table first. So a room's stream
    /// has no hole whatever went wrong before, and a notice too large to
    /// travel inline is read back the same way.
    pub async fn deliver_announced(&self, notice: AppendNotice) {
        let Some(place) = self.rooms.position(&notice.channel_id) else {
            return; // Nobody listens to this channel here.
        };
        let missed = match (&place, &notice.after_id) {
            (Some(have), Some(before)) => have < before,
            _ => false,
        };
        if !missed && !notice.events.is_empty() {
            self.rooms
                .broadcast(&notice.channel_id, &notice.events, notice.announced_at);
            return;
        }
        let from = if missed { place } else { notice.after_id };
        self.read_into_room(
            &notice.channel_id,
            from,
            Some(notice.last_id),
            notice.announced_at,
        )
        .await;
    }

    /// After the bus was cut: delivers to every live room what it missed.
    pub async fn catch_up_rooms(&self) {
        for (channel_id, after) in self.rooms.catch_up_points() {
            self.read_into_room(&channel_id, after, None, None).await;
        }
    }

    /// Broadcasts a channel's stored events after `after` (through `until`)
    /// to its room, page by page. A read that fails is tried again for
    /// [`LIVE_READ_PATIENCE`] (a pooled connection the database dropped fails
    /// once, then is replaced); if the store still does not answer, the
    /// room's listeners are closed so that they resume from what they have,
    /// rather than carry on with a hole.
    async fn read_into_room(
        &self,
        channel_id: &str,
        mut after: Option<String>,
        until: Option<String>,
        committed_at: Option<u64>,
    ) {
        loop {
            let query = EventQuery {
                after: after.clone(),
                until: until.clone(),
                limit: CATCH_UP_PAGE,
                ..EventQuery::default()
            };
            let Some(events) = self.read_for_live(channel_id, &query).await else {
                self.rooms.close(channel_id, CloseOrder::Interrupted);
                return;
            };
            let Some(last) = events.last() else {
                return;
            };
            after = Some(last.id.clone());
            self.rooms.broadcast(channel_id, &events, committed_at);
        }
    }

    /// One page for live delivery, retried with backoff; `None` once the
    /// store has failed for [`LIVE_READ_PATIENCE`].
    async fn read_for_live(&self, channel_id: &str, query: &EventQuery) -> Option<Vec<Event>> {
        let give_up = tokio::time::Instant::now() + LIVE_READ_PATIENCE;
        let mut backoff = Duration::from_millis(20);
        loop {
            let read = if fault::live_read_fails() {
                Err(fault::dropped_connection())
            } else {
                self.store.list_events(channel_id, query).await
            };
            match read {
                Ok(events) => return Some(events),
                Err(err) if tokio::time::Instant::now() + backoff < give_up => {
                    tracing::warn!(error = %err, channel = %channel_id, "reading events for live delivery failed; retrying");
                }
                Err(err) => {
                    tracing::error!(error = %err, channel = %channel_id, "reading events for live delivery failed; closing the room's listeners so they resume");
                    return None;
                }
            }
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(Duration::from_secs(1));
        }
    }

    /// Reads access to every live room again from the database and closes
    /// the listeners that lost it: covers control notices this node missed
    /// (its LISTEN connection was down), and tokens that expired. Run after
    /// a bus reconnect and every `--access-recheck-interval`.
    pub async fn recheck_access(&self) {
        let now = now_millis();
        for channel_id in self.rooms.channel_ids() {
            let channel = match self.store.get_channel(&channel_id).await {
                Ok(channel) => channel,
                Err(err) => {
                    tracing::warn!(error = %err, channel = %channel_id, "access recheck failed");
                    continue;
                }
            };
            let Some(channel) = channel else {
                self.forget_channel(&channel_id);
                self.rooms.close(&channel_id, CloseOrder::ChannelDeleted);
                continue;
            };
            let tokens = match self.store.list_tokens(&channel_id).await {
                Ok(tokens) => tokens,
                Err(err) => {
                    tracing::warn!(error = %err, channel = %channel_id, "access recheck failed");
                    continue;
                }
            };
            let valid_tokens: HashSet<String> = tokens
                .into_iter()
                .filter(|t| t.kind == TokenKind::Subscribe && !t.is_expired(now))
                .map(|t| t.id)
                .collect();
            self.rooms.close(
                &channel_id,
                CloseOrder::Recheck {
                    public: channel.is_public,
                    valid_tokens: Arc::new(valid_tokens),
                },
            );
        }
    }

    /// Drops what this node caches about a channel.
    fn forget_channel(&self, channel_id: &str) {
        self.publish_view.remove(channel_id);
        self.type_rules.forget(channel_id);
    }
}

/// Faults a test can switch on in debug builds, to hold open a window that
/// otherwise opens only under load. Release builds carry none of it.
mod fault {
    /// `CHANNELHUB_DEBUG_FAIL_LIVE_READS=N`: the next N reads of events for
    /// live delivery fail, as they do on a pooled connection the database
    /// dropped.
    #[cfg(debug_assertions)]
    pub fn live_read_fails() -> bool {
        use std::sync::{
            LazyLock,
            atomic::{AtomicU64, Ordering},
        };
        static LEFT: LazyLock<AtomicU64> = LazyLock::new(|| {
            let n = std::env::var("CHANNELHUB_DEBUG_FAIL_LIVE_READS")
                .ok()
                .and_then(|v| v.parse().ok())
                .unwrap_or(0);
            AtomicU64::new(n)
        });
        LEFT.fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| n.checked_sub(1))
            .is_ok()
    }

    #[cfg(not(debug_assertions))]
    pub fn live_read_fails() -> bool {
        false
    }

    /// What a read on a connection the database dropped fails with.
    pub fn dropped_connection() -> crate::store::StoreError {
        let io = std::io::Error::new(
            std::io::ErrorKind::ConnectionAborted,
            "injected: connection dropped",
        );
        crate::store::StoreError::Database(sqlx::Error::Io(io))
    }
}
