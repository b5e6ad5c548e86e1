//! WebSocket sessions: the handshake, then one task per socket that forwards
//! the room's frames, keeps the peer alive with pings, and closes it with the
//! right code when it is too slow, sends too much, loses access, or the server
//! stops.
//!
//! The upgrade is done here rather than through poem's `WebSocket` wrapper,
//! and tungstenite only reads: events reach the socket as the frames the room
//! encoded once (server frames are unmasked, so every subscriber gets the same
//! bytes), copied into one buffer and written with one call per wake-up.
//! tungstenite's own answers (pongs, close replies) go out through the same
//! writer. Authorization happened before `accept` is called; this module
//! never reads the store.

use std::{
    io,
    pin::Pin,
    sync::{
        Arc, Mutex, PoisonError,
        atomic::{AtomicUsize, Ordering},
    },
    task::{Context, Poll},
    time::Duration,
};

use futures_util::{SinkExt, StreamExt};
use poem::{
    Request, Response, Upgraded,
    http::{StatusCode, header},
};
use tokio::{
    io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadBuf, ReadHalf, WriteHalf},
    sync::{Notify, broadcast::error::RecvError},
    time::MissedTickBehavior,
};
use tokio_tungstenite::{
    WebSocketStream,
    tungstenite::{
        Error as WsError, Message,
        error::CapacityError,
        handshake::derive_accept_key,
        protocol::{
            CloseFrame, Role, WebSocketConfig,
            frame::{Frame, coding::CloseCode},
        },
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
const MAX_FRAMES_PER_FLUSH: u64 = 256;
/// Most bytes copied into a socket's write buffer per flush: what a stuck
/// socket can hold on to beyond the shared ring.
const MAX_BYTES_PER_FLUSH: usize = 256 * 1024;
/// How often a blocked write checks whether its subscriber fell too far behind.
const LAG_CHECK_INTERVAL: Duration = Duration::from_millis(50);
/// A session's output buffer is kept for the next write up to this size; a
/// larger one (after a burst) is freed.
const RETAINED_BUFFER_BYTES: usize = 16 * 1024;
/// Pongs and close answers waiting to be sent; a client that makes more
/// without reading is dropped.
const MAX_PENDING_REPLY_BYTES: usize = 64 * 1024;
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
            run_session(upgraded, config, subscription, &sessions).await;
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

/// The session's half of the socket: every byte it sends goes through here.
type Writer = WriteHalf<Upgraded>;

/// What tungstenite itself sends: pongs to the client's pings and the answer
/// to its close. The socket's write half belongs to the session (which writes
/// prepared event frames), so tungstenite "writes" into this buffer and the
/// session sends it on.
#[derive(Default)]
struct Replies {
    bytes: Mutex<Vec<u8>>,
    ready: Notify,
}

impl Replies {
    fn take(&self) -> Vec<u8> {
        std::mem::take(&mut *self.bytes.lock().unwrap_or_else(PoisonError::into_inner))
    }
}

/// The socket as tungstenite sees it: reads come from the socket, writes go
/// to [`Replies`].
struct ReadSide {
    reader: ReadHalf<Upgraded>,
    replies: Arc<Replies>,
}

impl AsyncRead for ReadSide {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().reader).poll_read(cx, buf)
    }
}

impl AsyncWrite for ReadSide {
    fn poll_write(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let mut bytes = self
            .replies
            .bytes
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if bytes.len() + buf.len() > MAX_PENDING_REPLY_BYTES {
            return Poll::Ready(Err(io::Error::other("the client does not read its pongs")));
        }
        bytes.extend_from_slice(buf);
        self.replies.ready.notify_one();
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

/// How a session ends.
enum Ending {
    /// Close with this code and reason.
    Close(CloseCode, &'static str),
    /// Just drop the connection (the peer is gone or broke the protocol).
    Drop,
}

async fn run_session(
    upgraded: Upgraded,
    config: WebSocketConfig,
    mut sub: Subscription,
    sessions: &Sessions,
) {
    let limits = &sessions.limits;
    // Its own token: waiting on the shared one would take the same lock in
    // every session on every wake-up.
    let shutdown = sessions.shutdown.child_token();
    let shutting_down = shutdown.cancelled();
    tokio::pin!(shutting_down);
    let (reader, mut writer) = tokio::io::split(upgraded);
    let replies = Arc::new(Replies::default());
    let read_side = ReadSide {
        reader,
        replies: replies.clone(),
    };
    let mut incoming =
        WebSocketStream::from_raw_socket(read_side, Role::Server, Some(config)).await;
    let mut ping = tokio::time::interval_at(
        tokio::time::Instant::now() + limits.ping_interval,
        limits.ping_interval,
    );
    ping.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut unanswered_pings = 0u32;
    let mut out = Vec::new();

    if let Some(mut replay) = sub.replay.take() {
        loop {
            let page = match replay.next_page().await {
                Ok(page) if page.is_empty() => break,
                Ok(page) => page,
                Err(error) => {
                    tracing::warn!(%error, "replay failed");
                    let reason = "could not read stored events; reconnect";
                    let _ = write_close(&mut writer, CloseCode::Error, reason).await;
                    return;
                }
            };
            for event in &page {
                out.extend_from_slice(&super::text_frame(event.to_json_string()).0);
            }
            let frames = page.len() as u64;
            if let Some(ending) = write_batch(&mut writer, &mut out, frames, &sub, sessions).await {
                if let Ending::Close(code, reason) = ending {
                    let _ = write_close(&mut writer, code, reason).await;
                }
                return;
            }
        }
        sub.replayed_through = Some(replay.position().to_owned());
    }

    let ending = loop {
        // Room messages first: that is what almost every wake-up is for, and
        // the other branches are then not polled at all.
        tokio::select! {
            biased;
            message = sub.listener.receiver.recv() => {
                let first = match message {
                    Ok(first) => first,
                    Err(RecvError::Lagged(_)) => break slow_consumer(),
                    Err(RecvError::Closed) => break Ending::Close(CloseCode::Normal, "channel closed"),
                };
                let frames = match collect(&mut sub, first, &mut out, limits) {
                    Collected::Frames(frames) => frames,
                    Collected::End(ending) => break ending,
                };
                if let Some(ending) = write_batch(&mut writer, &mut out, frames, &sub, sessions).await {
                    break ending;
                }
                if shutdown.is_cancelled() {
                    break going_away();
                }
            }
            _ = replies.ready.notified() => {
                if write_within(&mut writer, &replies.take(), limits.ping_interval).await.is_err() {
                    break Ending::Drop;
                }
            }
            frame = incoming.next() => match frame {
                Some(Ok(Message::Pong(_))) => unanswered_pings = 0,
                Some(Ok(Message::Close(_))) => {
                    // tungstenite has queued its answer: have it written out, then send it.
                    let _ = incoming.flush().await;
                    let _ = write_within(&mut writer, &replies.take(), CLOSE_GRACE).await;
                    break Ending::Drop;
                }
                None => break Ending::Drop,
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
                let ping = encode(Frame::ping(Vec::new()));
                if write_within(&mut writer, &ping, limits.ping_interval).await.is_err() {
                    break Ending::Drop;
                }
            }
            _ = &mut shutting_down => break going_away(),
        }
    };

    if let Ending::Close(code, reason) = ending
        && write_close(&mut writer, code, reason).await.is_ok()
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

fn going_away() -> Ending {
    Ending::Close(CloseCode::Away, "server shutting down")
}

fn slow_consumer() -> Ending {
    metrics::counter!(telemetry::SLOW_CONSUMER_CLOSES).increment(1);
    Ending::Close(
        CloseCode::Policy,
        "slow consumer: too far behind, reconnect and catch up",
    )
}

enum Collected {
    /// This many frames were added to the output.
    Frames(u64),
    End(Ending),
}

/// Copies the frames of `first` and of whatever else is already queued (up
/// to a bound) into `out`, applying the type filter and any close orders.
fn collect(
    sub: &mut Subscription,
    first: RoomMessage,
    out: &mut Vec<u8>,
    limits: &SessionLimits,
) -> Collected {
    let mut next = Some(first);
    let mut frames = 0;
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
                    out.extend_from_slice(&event.frame);
                    frames += 1;
                }
            }
            RoomMessage::Close(order) => {
                if let Some(ending) = applies_to(&order, sub) {
                    return Collected::End(ending);
                }
            }
        }
        if frames >= MAX_FRAMES_PER_FLUSH || out.len() >= MAX_BYTES_PER_FLUSH {
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
    Collected::Frames(frames)
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

/// Writes `out` (`frames` frames) in one go and empties it. While the socket
/// will not take it, checks whether the subscriber has fallen past its
/// bound; if so the session ends as a slow consumer rather than holding the
/// room back (the frames already started are finished first, so that the
/// close frame that follows them is read as one).
async fn write_batch(
    writer: &mut Writer,
    out: &mut Vec<u8>,
    frames: u64,
    sub: &Subscription,
    sessions: &Sessions,
) -> Option<Ending> {
    if out.is_empty() {
        return None;
    }
    let mut written = 0;
    let mut ending = {
        let write = write_from(writer, out, &mut written);
        tokio::pin!(write);
        // Most writes complete at once: only a blocked socket needs the lag timer.
        match futures_util::FutureExt::now_or_never(&mut write) {
            Some(result) => result.err().map(|_| Ending::Drop),
            None => {
                let mut lag_check = tokio::time::interval(LAG_CHECK_INTERVAL);
                lag_check.tick().await;
                loop {
                    tokio::select! {
                        result = &mut write => break result.err().map(|_| Ending::Drop),
                        _ = lag_check.tick() => {
                            if is_behind(sub, &sessions.limits) {
                                break Some(slow_consumer());
                            }
                        }
                    }
                }
            }
        }
    };
    match ending {
        None => sessions.frames_delivered.increment(frames),
        Some(Ending::Close(..)) => {
            if write_within(writer, &out[written..], CLOSE_GRACE)
                .await
                .is_err()
            {
                ending = Some(Ending::Drop);
            }
        }
        Some(Ending::Drop) => {}
    }
    // An idle session keeps no buffer from a burst.
    if out.capacity() > RETAINED_BUFFER_BYTES {
        *out = Vec::new();
    } else {
        out.clear();
    }
    ending
}

/// Writes `bytes` from `*written` on, counting what the socket took.
async fn write_from(writer: &mut Writer, bytes: &[u8], written: &mut usize) -> io::Result<()> {
    while *written < bytes.len() {
        match writer.write(&bytes[*written..]).await? {
            0 => return Err(io::ErrorKind::WriteZero.into()),
            n => *written += n,
        }
    }
    writer.flush().await
}

/// A control frame's bytes, encoded by tungstenite.
fn encode(frame: Frame) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(frame.len());
    frame
        .format(&mut bytes)
        .expect("writing to a Vec cannot fail");
    bytes
}

async fn write_close(writer: &mut Writer, code: CloseCode, reason: &str) -> Result<(), ()> {
    let close = encode(Frame::close(Some(CloseFrame {
        code,
        reason: reason.into(),
    })));
    write_within(writer, &close, CLOSE_GRACE).await
}

async fn write_within(writer: &mut Writer, bytes: &[u8], limit: Duration) -> Result<(), ()> {
    let write = async {
        writer.write_all(bytes).await?;
        writer.flush().await
    };
    match tokio::time::timeout(limit, write).await {
        Ok(Ok(())) => Ok(()),
        _ => Err(()),
    }
}
