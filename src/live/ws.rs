//! WebSocket sessions: the handshake, then one task per socket that forwards
//! the room's frames, keeps the peer alive with pings, and closes it with the
//! right code when it is too slow, sends too much, loses access, or the server
//! stops.
//!
//! The upgrade is done here rather than through poem's `WebSocket` wrapper so
//! that frames are tungstenite `Utf8Bytes` sharing the room's one buffer: no
//! copy of an event per subscriber. Queued frames are written with one flush
//! per wake-up. Authorization happened before `accept` is called; this module
//! never reads the store.

use std::{
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use futures_util::{SinkExt, StreamExt, stream::SplitSink};
use poem::{
    Request, Response, Upgraded,
    http::{StatusCode, header},
};
use tokio::{sync::broadcast::error::RecvError, time::MissedTickBehavior};
use tokio_tungstenite::{
    WebSocketStream,
    tungstenite::{
        Error as WsError, Message,
        error::CapacityError,
        handshake::derive_accept_key,
        protocol::{CloseFrame, Role, WebSocketConfig, frame::coding::CloseCode},
    },
};
use tokio_util::{sync::CancellationToken, task::TaskTracker};

use super::{
    Replay,
    rooms::{CloseOrder, Listener, RoomMessage},
};
use crate::telemetry;

/// Largest frame a client may send; a larger one closes the socket with 1009.
pub const MAX_CLIENT_FRAME_BYTES: usize = 4 * 1024;
/// Most frames written per flush, so one busy socket cannot hog its thread.
const MAX_FRAMES_PER_FLUSH: usize = 256;
/// Most bytes copied into a socket's write buffer per flush: what a stuck
/// socket can hold on to beyond the shared ring.
const MAX_BYTES_PER_FLUSH: usize = 256 * 1024;
/// How often a blocked write checks whether its subscriber fell too far behind.
const LAG_CHECK_INTERVAL: Duration = Duration::from_millis(50);
/// How long a closing handshake may take before the socket is just dropped.
const CLOSE_GRACE: Duration = Duration::from_secs(10);

/// Limits every session shares.
#[derive(Debug, Clone)]
pub struct SessionLimits {
    pub ping_interval: Duration,
    pub queue_frames: usize,
    pub queue_bytes: u64,
    pub max_connections: usize,
}

/// Every live session of this node.
pub struct Sessions {
    limits: SessionLimits,
    connections: AtomicUsize,
    shutdown: CancellationToken,
    tracker: TaskTracker,
    /// Where sessions run (see [`super::LiveRuntime`]).
    runtime: tokio::runtime::Handle,
    /// Kept as a handle: bumped on every flush of every socket.
    frames_delivered: metrics::Counter,
}

/// One subscriber, authorized and joined to its room.
pub struct Subscription {
    pub listener: Listener,
    /// Only these event types (empty: all).
    pub types: Vec<String>,
    /// The token it connected with, if any: revoking it closes the socket.
    pub token_id: Option<String>,
    /// Whether it connected without any credential.
    pub anonymous: bool,
    /// Frames and bytes of the room's stream taken so far (see `Room::published`).
    pub taken: (u64, u64),
    /// Stored events to send first (`?after=`).
    pub replay: Option<Replay>,
    /// Live events up to this id were replayed already.
    pub replayed_through: Option<String>,
}

/// Why an upgrade was refused.
#[derive(Debug, thiserror::Error)]
pub enum HandshakeError {
    #[error("this endpoint needs a WebSocket upgrade (Upgrade: websocket)")]
    NotUpgrade,
    #[error("invalid WebSocket handshake: {0}")]
    Invalid(&'static str),
    #[error("the server holds its maximum of {0} connections; retry later")]
    TooManyConnections(usize),
}

/// Checks the `Upgrade` header alone, the one check that comes before auth's 401.
pub fn wants_upgrade(req: &Request) -> bool {
    req.headers()
        .get(header::UPGRADE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("websocket"))
}

/// Decrements the connection count when a session ends, however it ends.
struct ConnectionSlot(Arc<Sessions>);

impl Drop for ConnectionSlot {
    fn drop(&mut self) {
        self.0.connections.fetch_sub(1, Ordering::AcqRel);
        metrics::gauge!(telemetry::WEBSOCKET_CONNECTIONS).decrement(1.0);
    }
}

impl Sessions {
    /// Cancelled when the server begins shutting down.
    pub fn shutdown_signal(&self) -> CancellationToken {
        self.shutdown.clone()
    }

    pub fn new(limits: SessionLimits, runtime: tokio::runtime::Handle) -> Arc<Sessions> {
        Arc::new(Sessions {
            limits,
            connections: AtomicUsize::new(0),
            shutdown: CancellationToken::new(),
            tracker: TaskTracker::new(),
            runtime,
            frames_delivered: metrics::counter!(telemetry::FRAMES_DELIVERED),
        })
    }

    fn take_slot(self: &Arc<Self>) -> Option<ConnectionSlot> {
        let max = self.limits.max_connections;
        self.connections
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < max).then_some(n + 1)
            })
            .ok()
            .map(|_| {
                metrics::gauge!(telemetry::WEBSOCKET_CONNECTIONS).increment(1.0);
                ConnectionSlot(self.clone())
            })
    }

    /// Completes the handshake and starts the session; the response is the 101.
    pub fn accept(
        self: &Arc<Self>,
        req: &Request,
        subscription: Subscription,
    ) -> Result<Response, HandshakeError> {
        if !wants_upgrade(req) {
            return Err(HandshakeError::NotUpgrade);
        }
        let headers = req.headers();
        if headers
            .get(header::SEC_WEBSOCKET_VERSION)
            .is_none_or(|v| v.as_bytes() != b"13")
        {
            return Err(HandshakeError::Invalid("Sec-WebSocket-Version must be 13"));
        }
        let key = headers
            .get(header::SEC_WEBSOCKET_KEY)
            .ok_or(HandshakeError::Invalid("Sec-WebSocket-Key is missing"))?;
        let accept_key = derive_accept_key(key.as_bytes());
        let slot = self.take_slot().ok_or(HandshakeError::TooManyConnections(
            self.limits.max_connections,
        ))?;
        let on_upgrade = req
            .take_upgrade()
            .map_err(|_| HandshakeError::Invalid("the connection cannot be upgraded"))?;

        let sessions = self.clone();
        let session = async move {
            let _slot = slot;
            let Ok(upgraded) = on_upgrade.await else {
                return;
            };
            let config = WebSocketConfig::default()
                .read_buffer_size(MAX_CLIENT_FRAME_BYTES)
                .max_message_size(Some(MAX_CLIENT_FRAME_BYTES))
                .max_frame_size(Some(MAX_CLIENT_FRAME_BYTES));
            let socket =
                WebSocketStream::from_raw_socket(upgraded, Role::Server, Some(config)).await;
            run_session(socket, subscription, &sessions).await;
        };
        self.tracker.spawn_on(session, &self.runtime);

        Ok(Response::builder()
            .status(StatusCode::SWITCHING_PROTOCOLS)
            .header(header::CONNECTION, "upgrade")
            .header(header::UPGRADE, "websocket")
            .header(header::SEC_WEBSOCKET_ACCEPT, accept_key)
            .finish())
    }

    /// Closes every session with 1001 and waits up to `grace` for them to end.
    pub async fn shut_down(&self, grace: Duration) {
        self.shutdown.cancel();
        self.tracker.close();
        if tokio::time::timeout(grace, self.tracker.wait())
            .await
            .is_err()
        {
            tracing::warn!(
                left = self.tracker.len(),
                "sessions still open after the grace period"
            );
        }
    }
}

type Sink = SplitSink<WebSocketStream<Upgraded>, Message>;

/// How a session ends.
enum Ending {
    /// Close with this code and reason.
    Close(CloseCode, &'static str),
    /// Just drop the connection (the peer is gone or broke the protocol).
    Drop,
}

async fn run_session(
    socket: WebSocketStream<Upgraded>,
    mut sub: Subscription,
    sessions: &Sessions,
) {
    let (limits, shutdown) = (&sessions.limits, &sessions.shutdown);
    let (mut sink, mut incoming) = socket.split();
    let mut ping = tokio::time::interval_at(
        tokio::time::Instant::now() + limits.ping_interval,
        limits.ping_interval,
    );
    ping.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut unanswered_pings = 0u32;
    let mut batch = Vec::with_capacity(MAX_FRAMES_PER_FLUSH);

    if let Some(mut replay) = sub.replay.take() {
        loop {
            let page = match replay.next_page().await {
                Ok(page) if page.is_empty() => break,
                Ok(page) => page,
                Err(error) => {
                    tracing::warn!(%error, "replay failed");
                    let frame = CloseFrame {
                        code: CloseCode::Error,
                        reason: "could not read stored events; reconnect".into(),
                    };
                    let _ = send_within(&mut sink, Message::Close(Some(frame)), CLOSE_GRACE).await;
                    return;
                }
            };
            batch.extend(
                page.iter()
                    .map(|e| Message::Text(e.to_json_string().into())),
            );
            if let Some(ending) = write_batch(
                &mut sink,
                &mut batch,
                &sub,
                limits,
                &sessions.frames_delivered,
            )
            .await
            {
                if let Ending::Close(code, reason) = ending {
                    let frame = CloseFrame {
                        code,
                        reason: reason.into(),
                    };
                    let _ = send_within(&mut sink, Message::Close(Some(frame)), CLOSE_GRACE).await;
                }
                return;
            }
        }
        sub.replayed_through = Some(replay.position().to_owned());
    }

    let ending = loop {
        tokio::select! {
            biased;
            _ = shutdown.cancelled() => break Ending::Close(CloseCode::Away, "server shutting down"),
            message = sub.listener.receiver.recv() => {
                let first = match message {
                    Ok(first) => first,
                    Err(RecvError::Lagged(_)) => break slow_consumer(),
                    Err(RecvError::Closed) => break Ending::Close(CloseCode::Normal, "channel closed"),
                };
                match collect(&mut sub, first, &mut batch, limits) {
                    Collected::Frames => {}
                    Collected::End(ending) => break ending,
                }
                if let Some(ending) = write_batch(&mut sink, &mut batch, &sub, limits, &sessions.frames_delivered).await {
                    break ending;
                }
            }
            frame = incoming.next() => match frame {
                Some(Ok(Message::Pong(_))) => unanswered_pings = 0,
                Some(Ok(Message::Close(_))) | None => break Ending::Drop,
                // Text, binary and pings are ignored; tungstenite answers pings itself.
                Some(Ok(_)) => {}
                Some(Err(WsError::Capacity(CapacityError::MessageTooLong { .. }))) => {
                    break Ending::Close(CloseCode::Size, "client frames are limited to 4 KiB");
                }
                Some(Err(_)) => break Ending::Drop,
            },
            _ = ping.tick() => {
                if unanswered_pings >= 2 {
                    break Ending::Drop;
                }
                unanswered_pings += 1;
                if send_within(&mut sink, Message::Ping(Default::default()), limits.ping_interval).await.is_err() {
                    break Ending::Drop;
                }
            }
        }
    };

    if let Ending::Close(code, reason) = ending {
        let frame = CloseFrame {
            code,
            reason: reason.into(),
        };
        if send_within(&mut sink, Message::Close(Some(frame)), CLOSE_GRACE)
            .await
            .is_ok()
        {
            // Give the peer a moment to answer the close, as the protocol asks.
            let _ = tokio::time::timeout(CLOSE_GRACE, async {
                while let Some(Ok(message)) = incoming.next().await {
                    if message.is_close() {
                        break;
                    }
                }
            })
            .await;
        }
    }
}

fn slow_consumer() -> Ending {
    metrics::counter!(telemetry::SLOW_CONSUMER_CLOSES).increment(1);
    Ending::Close(
        CloseCode::Policy,
        "slow consumer: too far behind, reconnect and catch up",
    )
}

enum Collected {
    Frames,
    End(Ending),
}

/// Takes `first` and whatever else is already queued (up to a bound) into
/// `batch`, applying the type filter and any close orders.
fn collect(
    sub: &mut Subscription,
    first: RoomMessage,
    batch: &mut Vec<Message>,
    limits: &SessionLimits,
) -> Collected {
    let mut next = Some(first);
    let mut bytes = 0;
    while let Some(message) = next.take() {
        match message {
            RoomMessage::Events(live) => {
                sub.taken = (live.end_frames, live.end_bytes);
                if is_behind(sub, limits) {
                    return Collected::End(slow_consumer());
                }
                let replayed = sub.replayed_through.as_deref();
                for event in live.events.iter().filter(|e| {
                    e.matches_types(&sub.types) && replayed.is_none_or(|r| e.id.as_str() > r)
                }) {
                    bytes += event.json.len();
                    batch.push(Message::Text(event.json.clone()));
                }
            }
            RoomMessage::Close(order) => {
                if let Some(ending) = applies_to(&order, sub) {
                    return Collected::End(ending);
                }
            }
        }
        if batch.len() >= MAX_FRAMES_PER_FLUSH || bytes >= MAX_BYTES_PER_FLUSH {
            break;
        }
        next = match sub.listener.receiver.try_recv() {
            Ok(message) => Some(message),
            Err(tokio::sync::broadcast::error::TryRecvError::Lagged(_)) => {
                return Collected::End(slow_consumer());
            }
            Err(_) => None,
        };
    }
    Collected::Frames
}

/// Whether the room has published more than a queue's worth past what this
/// subscriber has taken.
fn is_behind(sub: &Subscription, limits: &SessionLimits) -> bool {
    let (frames, bytes) = sub.listener.room.published();
    let (taken_frames, taken_bytes) = sub.taken;
    frames.saturating_sub(taken_frames) > limits.queue_frames as u64
        || bytes.saturating_sub(taken_bytes) > limits.queue_bytes
}

fn applies_to(order: &CloseOrder, sub: &Subscription) -> Option<Ending> {
    if !order.applies_to(sub.token_id.as_deref(), sub.anonymous) {
        return None;
    }
    Some(match order {
        CloseOrder::ChannelDeleted => Ending::Close(CloseCode::Normal, "channel deleted"),
        CloseOrder::TokenRevoked(_) | CloseOrder::ChannelMadePrivate => {
            Ending::Close(CloseCode::Policy, "token revoked")
        }
    })
}

/// Writes the batch with one flush. While the socket will not take it, checks
/// whether the subscriber has fallen past its bound; if so the session ends
/// as a slow consumer rather than holding the room back.
async fn write_batch(
    sink: &mut Sink,
    batch: &mut Vec<Message>,
    sub: &Subscription,
    limits: &SessionLimits,
    frames_delivered: &metrics::Counter,
) -> Option<Ending> {
    if batch.is_empty() {
        return None;
    }
    let frames = batch.len() as u64;
    let write = async {
        for message in batch.drain(..) {
            sink.feed(message).await?;
        }
        sink.flush().await?;
        frames_delivered.increment(frames);
        Ok::<(), WsError>(())
    };
    tokio::pin!(write);
    // Most writes complete at once: only a blocked socket needs the lag timer.
    if let Some(result) = futures_util::FutureExt::now_or_never(&mut write) {
        return result.err().map(|_| Ending::Drop);
    }
    let mut lag_check = tokio::time::interval(LAG_CHECK_INTERVAL);
    lag_check.tick().await;
    loop {
        tokio::select! {
            result = &mut write => return result.err().map(|_| Ending::Drop),
            _ = lag_check.tick() => {
                if is_behind(sub, limits) {
                    return Some(slow_consumer());
                }
            }
        }
    }
}

async fn send_within(sink: &mut Sink, message: Message, limit: Duration) -> Result<(), ()> {
    match tokio::time::timeout(limit, sink.send(message)).await {
        Ok(Ok(())) => Ok(()),
        _ => Err(()),
    }
}
