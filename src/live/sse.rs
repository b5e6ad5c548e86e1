//! Server-Sent Events sessions: a channel's events as an SSE stream.
//!
//! Each message has `id:` (the event id), `event:` (its type, when it has one)
//! and `data:` (the event JSON). A reconnecting `EventSource` sends
//! `Last-Event-ID`; the session first replays what the client missed from the
//! store, then continues live, skipping what the replay already sent. A client
//! too slow for the room's queue has its stream ended; it reconnects with
//! `Last-Event-ID` and catches up from the store, so it loses nothing.

use std::time::Duration;

use futures_util::stream;
use poem::{
    IntoResponse, Response,
    web::sse::{Event as SseEvent, SSE},
};
use tokio::sync::{broadcast::error::RecvError, mpsc};
use tokio_util::sync::CancellationToken;

use super::{
    Replay,
    rooms::{Listener, RoomMessage},
};

/// Messages buffered between the session and the HTTP response.
const BUFFERED: usize = 256;
/// A comment line this often keeps proxies from closing a quiet stream.
const KEEP_ALIVE: Duration = Duration::from_secs(15);

/// One SSE subscriber, authorized and joined to its room.
pub struct SseSubscription {
    pub listener: Listener,
    pub types: Vec<String>,
    pub token_id: Option<String>,
    pub anonymous: bool,
    pub replay: Option<Replay>,
}

/// The streaming response; the session runs until the client leaves, loses
/// access, falls too far behind, or the server shuts down.
pub fn respond(subscription: SseSubscription, shutdown: CancellationToken) -> Response {
    let (messages, receiver) = mpsc::channel(BUFFERED);
    tokio::spawn(run(subscription, messages, shutdown));
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

async fn run(
    mut sub: SseSubscription,
    messages: mpsc::Sender<SseEvent>,
    shutdown: CancellationToken,
) {
    let mut replayed_through = None;
    if let Some(mut replay) = sub.replay.take() {
        loop {
            let page = match replay.next_page().await {
                Ok(page) if page.is_empty() => break,
                Ok(page) => page,
                Err(error) => {
                    tracing::warn!(%error, "SSE replay failed");
                    return;
                }
            };
            for event in page {
                let json = event.to_json_string();
                let sse = message(&event.id, event.event_type.as_deref(), &json);
                if messages.send(sse).await.is_err() {
                    return;
                }
            }
        }
        replayed_through = Some(replay.position().to_owned());
    }
    loop {
        let received = tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = messages.closed() => return,
            received = sub.listener.receiver.recv() => received,
        };
        match received {
            Ok(RoomMessage::Events(batch)) => {
                let replayed = replayed_through.as_deref();
                for event in batch.events.iter().filter(|e| {
                    e.matches_types(&sub.types) && replayed.is_none_or(|r| e.id.as_str() > r)
                }) {
                    let sse = message(&event.id, event.event_type.as_deref(), &event.json);
                    if messages.send(sse).await.is_err() {
                        return;
                    }
                }
            }
            Ok(RoomMessage::Close(order)) => {
                if order.applies_to(sub.token_id.as_deref(), sub.anonymous) {
                    return;
                }
            }
            // Too far behind: end the stream; the client resumes with Last-Event-ID.
            Err(RecvError::Lagged(_)) | Err(RecvError::Closed) => return,
        }
    }
}
