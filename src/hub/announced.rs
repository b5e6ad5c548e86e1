//! Committed events announced on the cluster bus, into this node's rooms in
//! commit order and without holes.
//!
//! A notice carries its batch (or, when too large, only its id range) and
//! the channel's newest event before it. A room that has less than that
//! missed something (a notice lost with the LISTEN connection, a read that
//! failed): the events in between are read from the table before the batch.
//! Reads are retried for a while, since after the database dropped its
//! connections the first use of each pooled one fails; if the store still
//! does not answer, the room's listeners are closed to resume from what
//! they have. No listener ever carries on past a hole. This module decides
//! what a room needs and reads it; it never touches the LISTEN connection
//! (`cluster`) or sockets (`live`).

use std::time::Duration;

use tokio::time::Instant;

use crate::{
    live::rooms::Place,
    model::{Event, EventQuery},
    notice::AppendNotice,
};

use super::Hub;

/// Events read per page when a room is caught up.
const CATCH_UP_PAGE: u32 = 500;

/// How long live delivery keeps trying to read events a room must have
/// before it closes the room's listeners instead. One budget for a whole
/// read-back, and one shared by all rooms of a catch-up, so a database that
/// stays away holds the bus up this long at most.
const LIVE_READ_PATIENCE: Duration = Duration::from_secs(10);

/// Events a room must read from the table before it is whole again.
#[derive(Debug)]
pub struct ReadBack {
    channel_id: String,
    after: Option<String>,
    until: String,
    committed_at: Option<u64>,
}

impl Hub {
    /// Fans an announced batch out to its room when the room can take it as
    /// it is; otherwise returns what must be read from the table first (a
    /// batch that travelled as an id range, or a hole before it), for
    /// [`Hub::read_back`] on the runtime that owns the store's connections.
    pub fn deliver_announced(&self, notice: AppendNotice) -> Option<ReadBack> {
        if fault::drop_notice() {
            return None;
        }
        // Where a hole before this batch starts (the room's place), if it
        // has one.
        let hole_after = match (self.rooms.position(&notice.channel_id)?, &notice.after_id) {
            (Place::After(have), Some(before)) if have < *before => Some(Some(have)),
            (Place::Start, Some(_)) => Some(None),
            _ => None,
        };
        let missed = hole_after.is_some();
        if !missed && !notice.events.is_empty() {
            self.rooms
                .broadcast(&notice.channel_id, &notice.events, notice.announced_at);
            return None;
        }
        Some(ReadBack {
            channel_id: notice.channel_id,
            // A hole is read from where the room is; its events were
            // committed before this notice, so they are not timed by it.
            committed_at: notice.announced_at.filter(|_| !missed),
            after: hole_after.unwrap_or(notice.after_id),
            until: notice.last_id,
        })
    }

    /// Reads what a room lacks and broadcasts it; closes the room's
    /// listeners if the store does not answer within the patience.
    pub async fn read_back(&self, read: ReadBack) {
        let give_up = Instant::now() + LIVE_READ_PATIENCE;
        let ReadBack {
            channel_id,
            after,
            until,
            committed_at,
        } = read;
        let filled = self
            .read_into_room(&channel_id, after, Some(&until), committed_at, give_up)
            .await;
        if !filled {
            self.rooms.interrupt(&channel_id, Some(until));
        }
    }

    /// After the bus was cut: delivers to every room with subscribers or
    /// streams what it missed. Once the patience is spent, the remaining
    /// rooms are not read but closed.
    pub async fn catch_up_rooms(&self) {
        let give_up = Instant::now() + LIVE_READ_PATIENCE;
        for (channel_id, after) in self.rooms.catch_up_points() {
            if !self
                .read_into_room(&channel_id, after, None, None, give_up)
                .await
            {
                self.rooms.interrupt(&channel_id, None);
            }
        }
    }

    /// Broadcasts a channel's stored events after `after` (through `until`)
    /// to its room, page by page; false if the store failed until `give_up`.
    async fn read_into_room(
        &self,
        channel_id: &str,
        mut after: Option<String>,
        until: Option<&str>,
        committed_at: Option<u64>,
        give_up: Instant,
    ) -> bool {
        loop {
            let query = EventQuery {
                after: after.clone(),
                until: until.map(str::to_owned),
                limit: CATCH_UP_PAGE,
                ..EventQuery::default()
            };
            let Some(events) = self.read_for_live(channel_id, &query, give_up).await else {
                return false;
            };
            let Some(last) = events.last() else {
                return true;
            };
            after = Some(last.id.clone());
            self.rooms.broadcast(channel_id, &events, committed_at);
        }
    }

    /// One page, retried with backoff until `give_up` (each try bounded by
    /// it too, so a connection that hangs cannot hold the bus longer).
    async fn read_for_live(
        &self,
        channel_id: &str,
        query: &EventQuery,
        give_up: Instant,
    ) -> Option<Vec<Event>> {
        let mut backoff = Duration::from_millis(20);
        loop {
            let read = async {
                if fault::live_read_fails() {
                    return Err("injected: connection dropped".to_owned());
                }
                self.store
                    .list_events(channel_id, query)
                    .await
                    .map_err(|e| e.to_string())
            };
            let error = match tokio::time::timeout_at(give_up, read).await {
                Ok(Ok(events)) => return Some(events),
                Ok(Err(error)) => error,
                Err(_) => "no answer in time".to_owned(),
            };
            if Instant::now() + backoff >= give_up {
                tracing::error!(error, channel = %channel_id, "reading events for live delivery failed; closing the room's listeners so they resume");
                return None;
            }
            tracing::warn!(error, channel = %channel_id, "reading events for live delivery failed; retrying");
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(Duration::from_secs(1));
        }
    }
}

/// Faults a test can switch on in debug builds, to hold open a window that
/// otherwise opens only under load.
#[cfg(debug_assertions)]
pub(super) mod fault {
    use std::sync::{
        OnceLock,
        atomic::{AtomicU64, Ordering},
    };

    /// `CHANNELHUB_DEBUG_FAIL_LIVE_READS=N`: the next N reads of events for
    /// live delivery fail, as they do on a pooled connection the database
    /// dropped (the error is logged, then the read is retried).
    pub fn live_read_fails() -> bool {
        static LEFT: OnceLock<AtomicU64> = OnceLock::new();
        take(&LEFT, "CHANNELHUB_DEBUG_FAIL_LIVE_READS")
    }

    /// `CHANNELHUB_DEBUG_DROP_NOTICES=N`: the next N event notices are
    /// ignored, as if lost with a LISTEN connection.
    pub fn drop_notice() -> bool {
        static LEFT: OnceLock<AtomicU64> = OnceLock::new();
        take(&LEFT, "CHANNELHUB_DEBUG_DROP_NOTICES")
    }

    /// `CHANNELHUB_DEBUG_DROP_CONTROL_NOTICES=N`: the next N control notices
    /// from other nodes are ignored, as if lost with a LISTEN connection.
    pub fn drop_control_notice() -> bool {
        static LEFT: OnceLock<AtomicU64> = OnceLock::new();
        take(&LEFT, "CHANNELHUB_DEBUG_DROP_CONTROL_NOTICES")
    }

    /// Takes one from the budget `var` sets (read once); false when spent.
    fn take(left: &OnceLock<AtomicU64>, var: &str) -> bool {
        left.get_or_init(|| {
            let n = std::env::var(var).ok().and_then(|v| v.parse().ok());
            AtomicU64::new(n.unwrap_or(0))
        })
        .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| n.checked_sub(1))
        .is_ok()
    }
}

/// Release builds: no hook.
#[cfg(not(debug_assertions))]
pub(super) mod fault {
    pub fn live_read_fails() -> bool {
        false
    }

    pub fn drop_notice() -> bool {
        false
    }

    pub fn drop_control_notice() -> bool {
        false
    }
}
