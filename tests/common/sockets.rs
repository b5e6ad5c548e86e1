//! Reading a WebSocket as a client: the next text frame, or everything up
//! to the close.

use std::time::Duration;

use futures_util::StreamExt;
use tokio_tungstenite::tungstenite::{Message, protocol::frame::coding::CloseCode};

use super::{Ws, scaled};

/// The next text frame within `limit` (scaled), skipping pings; `None` on
/// timeout, so the caller can say what had arrived. Panics on anything else.
pub async fn next_text_within(socket: &mut Ws, limit: Duration) -> Option<String> {
    let deadline = tokio::time::Instant::now() + scaled(limit);
    loop {
        match tokio::time::timeout_at(deadline, socket.next())
            .await
            .ok()?
        {
            Some(Ok(Message::Text(text))) => return Some(text.to_string()),
            Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
            other => panic!("expected a text frame, got {other:?}"),
        }
    }
}

/// The next text frame, skipping pings; panics on anything else or on timeout.
pub async fn next_text(socket: &mut Ws) -> String {
    loop {
        match tokio::time::timeout(scaled(Duration::from_secs(10)), socket.next())
            .await
            .expect("no frame within 10 s (scaled)")
        {
            Some(Ok(Message::Text(text))) => return text.to_string(),
            Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
            other => panic!("expected a text frame, got {other:?}"),
        }
    }
}

/// Reads until the server closes; returns the close code and reason, and how
/// many text frames came before it.
pub async fn read_until_close(socket: &mut Ws) -> (Option<CloseCode>, String, usize) {
    let mut texts = 0;
    loop {
        match tokio::time::timeout(scaled(Duration::from_secs(20)), socket.next())
            .await
            .expect("no close within 20 s (scaled)")
        {
            Some(Ok(Message::Text(_))) => texts += 1,
            Some(Ok(Message::Close(frame))) => {
                return (
                    frame.as_ref().map(|f| f.code),
                    frame.map(|f| f.reason.to_string()).unwrap_or_default(),
                    texts,
                );
            }
            Some(Ok(_)) => continue,
            Some(Err(err)) => panic!("socket error before a close frame: {err}"),
            None => return (None, String::new(), texts),
        }
    }
}
