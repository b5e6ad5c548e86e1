//! Server-Sent Events sessions: a channel's events as an SSE stream.
//!
//! Each message has `id:` (the event id), `event:` (its type, when it has one)
//! and `data:` (the event JSON). A reconnecting `EventSource` sends
//! `Last-Event-ID`; the session first replays what the client missed from the
//! store, then continues live, skipping what the replay already sent. A client
//! too slow for the room's queue, or that takes nothing for the write timeout
//! (the few messages buffered for the response stay unsent that long), has
//! its stream ended; it reconnects with `Last-Event-ID` and catches up from
//! the store, so it loses nothing.
//!
//! The connection itself belongs to the HTTP server: once the stream has
//! ended, a socket that still takes no bytes is closed by the server's own
//! timeouts, not here. What this module holds for it is released at once.

use std::time::Duration;

use futures_util::stream;
use poem::{
    IntoResponse, Response,
    web::sse::{Event as SseEvent, SSE},
};
use tokio::sync::{broadcast::error::RecvError, mpsc};
use tokio_util::sync::CancellationToken;

use super::{
    Replay, ReplayStop,
    rooms::{Access, Listener, RoomMessage},
    ws::Sessions,
};
use crate::telemetry;

/// Messages buffered between the session and the HTTP response: each is a
/// copy of its event, private to this subscriber, so few (the HTTP layer
/// buffers more, as bytes, on its side).
const BUFFERED: usize = 16;
/// A comment line this often keeps proxies from closing a quiet stream.
const KEEP_ALIVE: Duration = Duration::from_secs(15);

/// One SSE subscriber, authorized and joined to its room.
pub struct SseSubscription {
    pub listener: Listener,
    pub types: Vec<String>,
    /// What keeps it on the channel: losing that ends the stream.
    pub access: Access,
    pub replay: Option<Replay>,
}

/// The streaming response; the session runs until the client leaves, loses
/// access, falls too far behind, stops taking bytes, or the server shuts down.
pub fn respond(subscription: SseSubscription, sessions: &Sessions) -> Response {
    let (messages, receiver) = mpsc::channel(BUFFERED);
    let outbox = Outbox {
        messages,
        write_timeout: sessions.write_timeout(),
    };
    tokio::spawn(run(subscription, outbox, sessions.shutdown_signal()));
    let stream = stream::unfold(receiver, |mut receiver| async move {
        receiver.recv().await.map(|message| (message, receiver))
    });
    SSE::new(stream).keep_alive(KEEP_ALIVE).into_response()
}

fn message(id: &str, event_type: Option<&str>, json: &str) -> SseEvent {
    let message = SseEvent::message(json).id(id);
    match event_type {
        Some(event_type) => message.event_type(event_type),
        None => message,
    }
}

/// The session's end of the response stream.
struct Outbox {
    messages: mpsc::Sender<SseEvent>,
    write_timeout: Duration,
}

impl Outbox {
    /// Hands a message to the response; `false` when the stream must end: the
    /// client left, or took nothing for the write timeout (the buffer stayed
    /// full), which counts as a slow consumer.
    async fn send(&self, message: SseEvent) -> bool {
        match tokio::time::timeout(self.write_timeout, self.messages.send(message)).await {
            Ok(sent) => sent.is_ok(),
            Err(_) => {
                metrics::counter!(
                    telemetry::SLOW_CONSUMER_CLOSES,
                    "reason" => telemetry::SLOW_REASON_WRITE_TIMEOUT
                )
                .increment(1);
                false
            }
        }
    }
}

async fn run(mut sub: SseSubscription, outbox: Outbox, shutdown: CancellationToken) {
    let mut replayed_through = None;
    if let Some(mut replay) = sub.replay.take() {
        loop {
            let page = match replay.next_page().await {
                Ok(page) => page,
                // Access ended: the stream ends, as it would live.
                Err(ReplayStop::Lost(_)) => return,
                Err(ReplayStop::Failed(error)) => {
                    tracing::warn!(%error, "SSE replay failed");
                    return;
                }
            };
            // A distinct `gap` message before the page tells a resuming
            // client that events it never saw were removed.
            if let Some(notice) = page.gap_notice()
                && !outbox
                    .send(SseEvent::message(notice).event_type("gap"))
                    .await
            {
                return;
            }
            if page.events.is_empty() {
                break;
            }
            for event in page.events {
                let json = event.to_json_string();
                let sse = message(&event.id, event.event_type.as_deref(), &json);
                if !outbox.send(sse).await {
                    return;
                }
            }
        }
        replayed_through = Some(replay.position().to_owned());
    }
    let expiry = sub.access.expiry();
    tokio::pin!(expiry);
    loop {
        let received = tokio::select! {
            _ = shutdown.cancelled() => return,
            // A token that expires ends the stream then.
            _ = &mut expiry => return,
            _ = outbox.messages.closed() => return,
            received = sub.listener.receiver().recv() => received,
        };
        match received {
            Ok(RoomMessage::Events(batch)) => {
                let replayed = replayed_through.as_deref();
                for event in batch.events.iter().filter(|e| {
                    e.matches_types(&sub.types) && replayed.is_none_or(|r| e.id.as_str() > r)
                }) {
                    let sse = message(&event.id, event.event_type.as_deref(), &event.json);
                    if !outbox.send(sse).await {
                        return;
                    }
                }
            }
            Ok(RoomMessage::Close(order)) => {
                if order.applies_to(&sub.access) {
                    return;
                }
            }
            // Too far behind: end the stream; the client resumes with Last-Event-ID.
            Err(RecvError::Lagged(_)) => {
                metrics::counter!(
                    telemetry::SLOW_CONSUMER_CLOSES,
                    "reason" => telemetry::SLOW_REASON_QUEUE
                )
                .increment(1);
                return;
            }
            Err(RecvError::Closed) => return,
        }
    }
}
