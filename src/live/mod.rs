//! Live delivery: per-channel rooms (fan-out) and the WebSocket and SSE
//! sessions that read from them. The only module that owns sockets; it never
//! touches the store (stored events to replay come through [`Replay`]) or
//! decides who may subscribe.

pub mod rooms;
pub mod sse;
pub mod ws;

use std::sync::Arc;

use futures_util::future::BoxFuture;

use crate::model::Event;

/// Reads the next page of stored events after an id (matching the session's
/// filter), oldest first; an empty page means the replay is done.
pub type FetchAfter =
    Arc<dyn Fn(String) -> BoxFuture<'static, Result<Vec<Event>, String>> + Send + Sync>;

/// Stored events a session sends before live ones, so that a reconnecting
/// client misses nothing.
pub struct Replay {
    /// The last event the client has.
    pub after: String,
    pub fetch: FetchAfter,
}

impl Replay {
    /// The next page of stored events; empty when the replay is done.
    pub async fn next_page(&mut self) -> Result<Vec<Event>, String> {
        let page = (self.fetch)(self.after.clone()).await?;
        if let Some(last) = page.last() {
            self.after = last.id.clone();
        }
        Ok(page)
    }

    /// The last event replayed so far (or the client's own last event).
    pub fn position(&self) -> &str {
        &self.after
    }
}
