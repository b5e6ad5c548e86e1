//! Polling: a page of events after a cursor, and long-polls that wait for
//! the next event.

use std::time::Duration;

use tokio::time::Instant;

use crate::{
    live::rooms::{CloseOrder, RoomMessage},
    model::{Event, EventQuery, NIL_EVENT_ID},
};

use super::{Hub, HubError, HubResult, Page, channel_not_found, page_limit};

/// The longest a long-poll may wait.
const MAX_POLL_WAIT: Duration = Duration::from_secs(60);

/// Bytes of event JSON one page holds at most (at least one event, whatever
/// its size): what a client that reads its answer slowly can make the
/// server hold per request, whatever `limit` it asks for. A page cut short
/// says `has_more`.
pub const MAX_PAGE_BYTES: usize = 1024 * 1024;

impl Hub {
    /// A page of events after the cursor; with `wait`, holds the request
    /// until at least one matching event exists or the wait is over.
    pub async fn poll(
        &self,
        channel_id: &str,
        presented: Option<&str>,
        query: EventQuery,
        limit: Option<u32>,
        wait: Duration,
    ) -> HubResult<(Page<Event>, Option<Gap>)> {
        self.poll_within(channel_id, presented, query, limit, wait, MAX_PAGE_BYTES)
            .await
    }

    /// [`Hub::poll`] with a page of at most `max_bytes` of event JSON (at
    /// least one event): the MCP tools keep pages small for a model's context.
    pub async fn poll_within(
        &self,
        channel_id: &str,
        presented: Option<&str>,
        mut query: EventQuery,
        limit: Option<u32>,
        wait: Duration,
        max_bytes: usize,
    ) -> HubResult<(Page<Event>, Option<Gap>)> {
        let (channel, principal) = self.open_for_reading(channel_id, presented).await?;
        let limit = page_limit(limit)?;
        let gap = match &query.after {
            Some(after) => self.check_resume(channel_id, after).await?,
            None => None,
        };
        if wait > MAX_POLL_WAIT {
            return Err(HubError::Invalid("wait is at most 60 seconds".into()));
        }
        query.limit = limit + 1;
        // Listen before the first read, so an event committed in between still wakes us.
        let mut listener = (!wait.is_zero()).then(|| self.rooms.watch(channel_id));
        let deadline = Instant::now() + wait;
        let access = Self::listener_access(&principal, &channel);
        let mut waited = false;
        let mut events = loop {
            let events = self.store.list_events(channel_id, &query).await?;
            let Some(listener) = listener.as_mut().filter(|_| events.is_empty()) else {
                break events;
            };
            waited = true;
            match tokio::time::timeout_at(deadline, listener.receiver().recv()).await {
                Err(_elapsed) => break events,
                Ok(Err(tokio::sync::broadcast::error::RecvError::Closed)) => break events,
                // A close order that applies to this caller ends the wait at once.
                Ok(Ok(RoomMessage::Close(order)))
                    if order != CloseOrder::Interrupted && order.applies_to(&access) =>
                {
                    return Err(access_ended(channel_id, &order));
                }
                Ok(_) => continue,
            }
        };
        // Access was checked before the wait: an answer after it is given
        // only under the access the caller holds now.
        if waited && let Some(order) = self.access_lost(channel_id, &access).await? {
            return Err(access_ended(channel_id, &order));
        }
        let mut has_more = events.len() > limit as usize;
        events.truncate(limit as usize);
        let fit = events_within(&events, max_bytes);
        if fit < events.len() {
            events.truncate(fit);
            has_more = true;
        }
        let cursor = events.last().map(|e| e.id.clone()).or(query.after);
        Ok((
            Page {
                items: events,
                cursor,
                has_more,
            },
            gap,
        ))
    }

    /// The newest `limit` events (of `types`; empty: all), oldest first
    /// within the page, at most `max_bytes` of event JSON (the newest kept);
    /// the cursor is the newest id, or the channel's position when it has no
    /// such event, so a poll from it sees only what comes next (`has_more`
    /// is therefore false: nothing after the cursor is left out).
    pub async fn latest_page(
        &self,
        channel_id: &str,
        presented: Option<&str>,
        types: &[String],
        limit: Option<u32>,
        max_bytes: usize,
    ) -> HubResult<Page<Event>> {
        let (channel, _) = self.open_for_reading(channel_id, presented).await?;
        let limit = page_limit(limit)?;
        let mut events = self.store.latest_events(channel_id, types, limit).await?;
        events.truncate(events_within(&events, max_bytes));
        events.reverse();
        let cursor = events
            .last()
            .map(|e| e.id.clone())
            .or(channel.last_event_id);
        Ok(Page {
            items: events,
            cursor,
            has_more: false,
        })
    }

    /// Where a channel stands now: its newest event id ever (`None` before
    /// its first event), for a wait that starts from now.
    pub async fn position_now(
        &self,
        channel_id: &str,
        presented: Option<&str>,
    ) -> HubResult<Option<String>> {
        Ok(self
            .open_for_reading(channel_id, presented)
            .await?
            .0
            .last_event_id)
    }

    /// Checks a consumer's resume point (the last event id it saw): a gap
    /// when events after it were removed (retention, deletion) before it read
    /// them; 404 when it was never an event of this channel.
    pub async fn check_resume(&self, channel_id: &str, after: &str) -> HubResult<Option<Gap>> {
        let point = self
            .store
            .resume_point(channel_id, after)
            .await?
            .ok_or_else(|| channel_not_found(channel_id))?;
        let removed = point.removed_through;
        let was_removed = removed.as_deref().is_some_and(|removed| after <= removed);
        let beyond_last = point
            .last_event_id
            .as_deref()
            .is_none_or(|last| after > last);
        // Channels whose removals predate their tracking (removed_through
        // unset) cannot tell an old removed id from one that never was: such
        // an id is taken as is, as before.
        // The nil id is before every event: it never names a missing one.
        let never_was =
            after != NIL_EVENT_ID && (beyond_last || (removed.is_some() && !was_removed));
        if !point.held && never_was {
            return Err(HubError::NotFound(format!(
                "{after:?} is not an event of channel {channel_id:?}: resume from an id it sent"
            )));
        }
        Ok(removed
            .filter(|removed| removed.as_str() > after)
            .map(|removed_through| Gap { removed_through }))
    }
}

/// How many of `events`, from the first, fit in `budget` bytes of JSON (at
/// least one).
pub(super) fn events_within(events: &[Event], budget: usize) -> usize {
    let mut used = 0;
    events
        .iter()
        .take_while(|event| {
            used += json_len(event);
            used <= budget
        })
        .count()
        .max(1.min(events.len()))
}

/// The length of an event's JSON, counted without building it.
fn json_len(event: &Event) -> usize {
    struct Count(usize);
    impl std::io::Write for Count {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0 += buf.len();
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut count = Count(0);
    serde_json::to_writer(&mut count, event).expect("events serialize");
    count.0
}

/// The answer to a long-poll whose access ended while it waited.
fn access_ended(channel_id: &str, order: &CloseOrder) -> HubError {
    match order {
        CloseOrder::ChannelDeleted => channel_not_found(channel_id),
        CloseOrder::ChannelMadePrivate => HubError::Unauthorized(format!(
            "channel {channel_id:?} became private while this poll waited: it needs a \
             subscribe token for this channel"
        )),
        _ => HubError::Unauthorized("invalid or expired token".into()),
    }
}

/// Events after a consumer's resume point that were removed before it read
/// them: everything up to `removed_through` is gone.
#[derive(Debug, Clone)]
pub struct Gap {
    pub removed_through: String,
}
