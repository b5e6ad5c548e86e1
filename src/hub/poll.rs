//! Polling: a page of events after a cursor, and long-polls that wait for
//! the next event.

use std::time::Duration;

use tokio::time::Instant;

use crate::model::{Event, EventQuery};

use super::{Hub, HubError, HubResult, Page, page_limit};

/// The longest a long-poll may wait.
const MAX_POLL_WAIT: Duration = Duration::from_secs(60);

impl Hub {
    /// A page of events after the cursor; with `wait`, holds the request
    /// until at least one matching event exists or the wait is over.
    pub async fn poll(
        &self,
        channel_id: &str,
        presented: Option<&str>,
        mut query: EventQuery,
        limit: Option<u32>,
        wait: Duration,
    ) -> HubResult<Page<Event>> {
        self.open_for_reading(channel_id, presented).await?;
        let limit = page_limit(limit)?;
        if wait > MAX_POLL_WAIT {
            return Err(HubError::Invalid("wait is at most 60 seconds".into()));
        }
        query.limit = limit + 1;
        // Listen before the first read, so an event committed in between still wakes us.
        let mut listener = (!wait.is_zero()).then(|| self.rooms.watch(channel_id));
        let deadline = Instant::now() + wait;
        let mut events = loop {
            let events = self.store.list_events(channel_id, &query).await?;
            let Some(listener) = listener.as_mut().filter(|_| events.is_empty()) else {
                break events;
            };
            match tokio::time::timeout_at(deadline, listener.receiver.recv()).await {
                Err(_elapsed) => break events,
                Ok(Err(tokio::sync::broadcast::error::RecvError::Closed)) => break events,
                Ok(_) => continue,
            }
        };
        let has_more = events.len() > limit as usize;
        events.truncate(limit as usize);
        let cursor = events.last().map(|e| e.id.clone()).or(query.after);
        Ok(Page {
            items: events,
            cursor,
            has_more,
        })
    }
}
