//! Live delivery: per-channel rooms (fan-out) and the WebSocket and SSE
//! sessions that read from them. The only module that owns sockets; it never
//! touches the store (stored events to replay come through [`Replay`]) or
//! decides who may subscribe.

pub mod rooms;
pub mod sse;
pub mod ws;

use std::{num::NonZero, sync::Arc};

use bytes::Bytes;
use futures_util::future::BoxFuture;
use tokio::runtime::{Builder, Handle, Runtime};
use tokio_tungstenite::tungstenite::{
    Utf8Bytes,
    protocol::frame::{
        FrameHeader,
        coding::{Data, OpCode},
    },
};

use crate::model::Event;

/// The runtime that WebSocket sessions run on, apart from the one that serves
/// HTTP and commits publishes.
///
/// A commit on a channel with thousands of subscribers wakes thousands of
/// session tasks. On one shared runtime every publish, and each of its
/// database round trips, would wait in the run queue behind all of them
/// (a publish took 300 ms at 10 000 subscribers). With two runtimes the OS
/// scheduler shares the cores between them instead, so publishing keeps its
/// pace while fan-out uses whatever CPU is left.
pub struct LiveRuntime(Option<Runtime>);

impl LiveRuntime {
    /// Half the cores (at least one): the other half serve HTTP and commit
    /// publishes. On 2 cores one live thread also did better than two (fewer
    /// cross-thread wake-ups; see BENCHMARKS.md).
    pub fn start() -> std::io::Result<LiveRuntime> {
        let cores = std::thread::available_parallelism().map_or(2, NonZero::get);
        let threads = (cores / 2).max(1);
        let runtime = Builder::new_multi_thread()
            .worker_threads(threads)
            .thread_name("channelhub-live")
            .enable_all()
            .build()?;
        Ok(LiveRuntime(Some(runtime)))
    }

    pub fn handle(&self) -> &Handle {
        self.0.as_ref().expect("present until dropped").handle()
    }
}

impl Drop for LiveRuntime {
    /// Does not wait: sessions were closed before, and a runtime may not block
    /// while it is dropped from inside another.
    fn drop(&mut self) {
        if let Some(runtime) = self.0.take() {
            runtime.shutdown_background();
        }
    }
}

/// The WebSocket text frame carrying `json`, and the JSON within it. Built
/// with tungstenite's own header encoder; sessions write these bytes as they
/// are, so an event is framed once, not once per subscriber.
pub fn text_frame(json: String) -> (Bytes, Utf8Bytes) {
    let header = FrameHeader {
        opcode: OpCode::Data(Data::Text),
        ..FrameHeader::default()
    };
    let length = json.len() as u64;
    let mut frame = Vec::with_capacity(header.len(length) + json.len());
    header
        .format(length, &mut frame)
        .expect("writing to a Vec cannot fail");
    let start = frame.len();
    frame.extend_from_slice(json.as_bytes());
    let frame = Bytes::from(frame);
    let json = Utf8Bytes::try_from(frame.slice(start..)).expect("the JSON was a String");
    (frame, json)
}

/// One page of a replay: stored events after an id (matching the session's
/// filter), oldest first, and whether events after that id were removed
/// before the client read them (`gap`: removed through this id).
pub struct ReplayPage {
    pub events: Vec<Event>,
    pub gap: Option<String>,
}

/// Why a replay stops before its end.
#[derive(Debug)]
pub enum ReplayStop {
    /// The listener's access ended: it leaves as a live listener would on
    /// this order.
    Lost(rooms::CloseOrder),
    /// The store could not be read.
    Failed(String),
}

/// Reads the next page after an id; an empty page means the replay is done.
pub type FetchAfter = Arc<
    dyn Fn(String, rooms::Access) -> BoxFuture<'static, Result<ReplayPage, ReplayStop>>
        + Send
        + Sync,
>;

/// Stored events a session sends before live ones, so that a reconnecting
/// client misses nothing.
pub struct Replay {
    /// The last event the client has.
    pub after: String,
    pub fetch: FetchAfter,
    /// What each page is read under (a refresh may replace it).
    pub access: rooms::Access,
}

/// A page as a session sends it: the gap first, if any, then events.
pub struct Page {
    /// Where the page starts: the last event the client had before it.
    pub after: String,
    /// Events after `after` were removed, through this id, before the
    /// client read them (the session announces it before the events).
    pub gap: Option<String>,
    pub events: Vec<Event>,
}

impl Page {
    /// The per-channel routes' gap notice: JSON with no `id`, so no client
    /// takes it for an event.
    pub fn gap_notice(&self) -> Option<String> {
        self.gap.as_ref().map(|removed_through| {
            serde_json::json!({"gap": {"after": self.after, "removed_through": removed_through}})
                .to_string()
        })
    }
}

impl Replay {
    /// The next page of stored events; no events when the replay is done.
    pub async fn next_page(&mut self) -> Result<Page, ReplayStop> {
        let page = (self.fetch)(self.after.clone(), self.access.clone()).await?;
        let after = match page.events.last() {
            Some(last) => std::mem::replace(&mut self.after, last.id.clone()),
            None => self.after.clone(),
        };
        Ok(Page {
            after,
            gap: page.gap,
            events: page.events,
        })
    }

    /// The last event replayed so far (or the client's own last event).
    pub fn position(&self) -> &str {
        &self.after
    }
}
