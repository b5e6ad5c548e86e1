//! WebSocket sessions: the handshake, then one task per socket that forwards
//! the room's frames, keeps the peer alive with pings, and closes it with the
//! right code when it is too slow, sends too much, loses access, or the server
//! stops.
//!
//! The upgrade is done here rather than through poem's `WebSocket` wrapper,
//! and tungstenite only reads: events reach the socket as the frames the room
//! encoded once (server frames are unmasked, so every subscriber gets the same
//! bytes). A wake-up stages references to those shared frames (a bounded
//! number), never copies of them: small frames are gathered into the thread's
//! scratch buffer only for the duration of one write call, large ones are
//! written straight from the shared buffer. So a socket that does not read
//! holds a few KiB of its own (references) beyond the shared ring, and one that
//! takes no bytes for the write timeout is closed as a slow consumer even
//! when its channel is quiet. tungstenite's own answers (pongs, close
//! replies) go out through the same writer. Authorization happened before
//! `accept` is called; this module never reads the store.

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
    io::{AsyncRead, AsyncWrite, ReadBuf, ReadHalf, WriteHalf},
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
            Role, WebSocketConfig,
            frame::{Frame, coding::CloseCode},
        },
    },
};
use tokio_util::{sync::CancellationToken, task::TaskTracker};

use super::{
    Replay, ReplayStop,
    rooms::{Access, CloseOrder, Listener, RoomMessage},
};
use crate::telemetry;

mod write;

use write::{Staged, encode, finish_frame, write_batch, write_close, write_within};

/// Largest frame a client may send; a larger one closes the socket with 1009.
pub const MAX_CLIENT_FRAME_BYTES: usize = 4 * 1024;
/// Pongs and close answers waiting to be sent; a client that makes more
/// without reading is dropped.
const MAX_PENDING_REPLY_BYTES: usize = 64 * 1024;
/// How long a closing handshake may take before the socket is just dropped.
const CLOSE_GRACE: Duration = Duration::from_secs(10);

/// Limits every session shares.
#[derive(Debug, Clone)]
pub struct SessionLimits {
    pub ping_interval: Duration,
    /// How long a socket may take no bytes while there is data for it.
    pub write_timeout: Duration,
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
    /// Kept as handles: bumped on every flush of every socket.
    frames_delivered: metrics::Counter,
    commit_to_socket: metrics::Histogram,
}

/// One subscriber, authorized and joined to its room.
pub struct Subscription {
    pub listener: Listener,
    /// Only these event types (empty: all).
    pub types: Vec<String>,
    /// What keeps it on the channel: losing that closes the socket.
    pub access: Access,
    /// Frames and bytes of the room's stream taken so far (see `Room::published`).
    pub taken: (u64, u64),
    /// Stored events to send first (`?after=`).
    pub replay: Option<Replay>,
    /// Live events up to this id were replayed already.
    pub replayed_through: Option<String>,
    /// Close with application codes (4000–4999) rather than the seed's.
    pub app_close_codes: bool,
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

    /// How long a subscriber's socket may take no bytes (SSE streams too).
    pub fn write_timeout(&self) -> Duration {
        self.limits.write_timeout
    }

    pub fn new(limits: SessionLimits, runtime: tokio::runtime::Handle) -> Arc<Sessions> {
        Arc::new(Sessions {
            limits,
            connections: AtomicUsize::new(0),
            shutdown: CancellationToken::new(),
            tracker: TaskTracker::new(),
            runtime,
            frames_delivered: metrics::counter!(telemetry::FRAMES_DELIVERED),
            commit_to_socket: telemetry::stage_histogram(telemetry::STAGE_COMMIT_TO_SOCKET),
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
    /// Close with this code and reason; with the application code instead
    /// for a client that asked for them (`close_codes=app`).
    Close(CloseCode, Option<u16>, &'static str),
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
    let mut staged = Staged::default();
    // Every write to this socket, close frames included, gives up after this.
    let close_grace = CLOSE_GRACE.min(limits.write_timeout);
    let app_codes = sub.app_close_codes;

    if let Some(mut replay) = sub.replay.take() {
        let ending = 'replay: loop {
            let page = match replay.next_page().await {
                Ok(page) => page,
                Err(ReplayStop::Lost(order)) => {
                    break applies_to(&order, &sub).or(Some(Ending::Close(
                        CloseCode::Policy,
                        Some(APP_TOKEN_REVOKED),
                        "access ended",
                    )));
                }
                Err(ReplayStop::Failed(error)) => {
                    tracing::warn!(%error, "replay failed");
                    let reason = "could not read stored events; reconnect";
                    break Some(Ending::Close(
                        CloseCode::Error,
                        Some(APP_REPLAY_FAILED),
                        reason,
                    ));
                }
            };
            if let Some(notice) = page.gap_notice {
                staged.push(super::text_frame(notice).0);
            }
            if page.events.is_empty() {
                // A gap notice with nothing after it still goes out.
                break write_batch(&mut writer, &mut staged, &sub, sessions).await;
            }
            // Encoded as they are written, a bounded batch at a time.
            for (i, event) in page.events.iter().enumerate() {
                staged.push(super::text_frame(event.to_json_string()).0);
                if staged.is_full() || i + 1 == page.events.len() {
                    let written = write_batch(&mut writer, &mut staged, &sub, sessions).await;
                    if written.is_some() {
                        break 'replay written;
                    }
                }
            }
        };
        if let Some(ending) = ending {
            drop(sub);
            if let Ending::Close(code, app, reason) = ending {
                let code = close_code(code, app, app_codes);
                let _ = finish_frame(&mut writer, &mut staged, close_grace).await;
                let _ = write_close(&mut writer, code, reason, close_grace).await;
            }
            return;
        }
        sub.replayed_through = Some(replay.position().to_owned());
    }

    // A token that expires ends the session then, not at the next connect.
    let expiry = sub.access.expiry();
    tokio::pin!(expiry);
    let ending = loop {
        // Room messages first: that is what almost every wake-up is for, and
        // the other branches are then not polled at all.
        tokio::select! {
            biased;
            message = sub.listener.receiver.recv() => {
                let first = match message {
                    Ok(first) => first,
                    Err(RecvError::Lagged(_)) => break slow_consumer(Slow::Queue),
                    Err(RecvError::Closed) => break Ending::Close(CloseCode::Normal, None, "channel closed"),
                };
                if let Some(ending) = collect(&mut sub, first, &mut staged, limits) {
                    break ending;
                }
                if let Some(ending) = write_batch(&mut writer, &mut staged, &sub, sessions).await {
                    break ending;
                }
                if shutdown.is_cancelled() {
                    break going_away();
                }
            }
            _ = replies.ready.notified() => {
                if let Err(failed) = write_within(&mut writer, &replies.take(), limits.write_timeout).await {
                    break failed.ending();
                }
            }
            frame = incoming.next() => match frame {
                Some(Ok(Message::Pong(_))) => unanswered_pings = 0,
                Some(Ok(Message::Close(_))) => {
                    // tungstenite has queued its answer: have it written out, then send it.
                    let _ = incoming.flush().await;
                    let _ = write_within(&mut writer, &replies.take(), close_grace).await;
                    break Ending::Drop;
                }
                None => break Ending::Drop,
                // Text, binary and pings are ignored; tungstenite answers pings itself.
                Some(Ok(_)) => {}
                Some(Err(WsError::Capacity(CapacityError::MessageTooLong { .. }))) => {
                    break Ending::Close(CloseCode::Size, None, "client frames are limited to 4 KiB");
                }
                Some(Err(_)) => break Ending::Drop,
            },
            _ = ping.tick() => {
                if unanswered_pings >= 2 {
                    break Ending::Drop;
                }
                unanswered_pings += 1;
                let ping = encode(Frame::ping(Vec::new()));
                if let Err(failed) = write_within(&mut writer, &ping, limits.write_timeout).await {
                    break failed.ending();
                }
            }
            _ = &mut expiry => break Ending::Close(CloseCode::Policy, Some(APP_TOKEN_EXPIRED), "token expired"),
            _ = &mut shutting_down => break going_away(),
        }
    };

    // Leave the room first: a session on its way out must not keep the
    // room's ring from freeing what it has not read (a slow consumer's close
    // can take `close_grace`).
    drop(sub);
    if let Ending::Close(code, app, reason) = ending
        && let code = close_code(code, app, app_codes)
        && finish_frame(&mut writer, &mut staged, close_grace)
            .await
            .is_ok()
        && write_close(&mut writer, code, reason, close_grace)
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

/// Application close codes (4000–4999), sent instead of the seed's codes to
/// clients that ask with `close_codes=app`: 1008 alone cannot tell a slow
/// consumer (reconnect) from lost access (stop).
const APP_SLOW_CONSUMER: u16 = 4000;
const APP_TOKEN_REVOKED: u16 = 4001;
const APP_CHANNEL_PRIVATE: u16 = 4002;
const APP_TOKEN_EXPIRED: u16 = 4003;
const APP_CHANNEL_DELETED: u16 = 4004;
const APP_REPLAY_FAILED: u16 = 4011;

fn close_code(seed: CloseCode, app: Option<u16>, app_codes: bool) -> CloseCode {
    match app {
        Some(app) if app_codes => CloseCode::from(app),
        _ => seed,
    }
}

fn going_away() -> Ending {
    Ending::Close(CloseCode::Away, None, "server shutting down")
}

/// Why a subscriber is cut as too slow; each is counted apart.
#[derive(Debug, Clone, Copy)]
enum Slow {
    /// It fell more than its queue bound behind the room.
    Queue,
    /// Its socket took no bytes for the write timeout.
    WriteTimeout,
}

impl Slow {
    /// Counts one such disconnect.
    fn count(self) {
        let label = match self {
            Slow::Queue => telemetry::SLOW_REASON_QUEUE,
            Slow::WriteTimeout => telemetry::SLOW_REASON_WRITE_TIMEOUT,
        };
        metrics::counter!(telemetry::SLOW_CONSUMER_CLOSES, "reason" => label).increment(1);
    }
}

fn slow_consumer(slow: Slow) -> Ending {
    slow.count();
    let reason = match slow {
        Slow::Queue => "slow consumer: too far behind, reconnect and catch up",
        Slow::WriteTimeout => "slow consumer: not reading, reconnect and catch up",
    };
    Ending::Close(CloseCode::Policy, Some(APP_SLOW_CONSUMER), reason)
}

/// Frames waiting to be written: references to shared frames, never copies.
/// Stages the frames of `first` and of whatever else is already queued (up
/// to a bound), applying the type filter and any close orders.
fn collect(
    sub: &mut Subscription,
    first: RoomMessage,
    staged: &mut Staged,
    limits: &SessionLimits,
) -> Option<Ending> {
    let mut next = Some(first);
    while let Some(message) = next.take() {
        match message {
            RoomMessage::Events(live) => {
                sub.taken = (live.end_frames, live.end_bytes);
                if is_behind(sub, limits) {
                    return Some(slow_consumer(Slow::Queue));
                }
                let replayed = sub.replayed_through.as_deref();
                staged.frames.reserve(live.events.len());
                if let Some(at) = live.committed_at {
                    staged.committed_at = Some(staged.committed_at.map_or(at, |t| t.min(at)));
                }
                for event in live.events.iter().filter(|e| {
                    e.matches_types(&sub.types) && replayed.is_none_or(|r| e.id.as_str() > r)
                }) {
                    staged.push(event.frame.clone());
                }
            }
            RoomMessage::Close(order) => {
                if let Some(ending) = applies_to(&order, sub) {
                    return Some(ending);
                }
            }
        }
        if staged.is_full() {
            break;
        }
        next = match sub.listener.receiver.try_recv() {
            Ok(message) => Some(message),
            Err(tokio::sync::broadcast::error::TryRecvError::Lagged(_)) => {
                return Some(slow_consumer(Slow::Queue));
            }
            Err(_) => None,
        };
    }
    None
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
    if !order.applies_to(&sub.access) {
        return None;
    }
    Some(match order {
        CloseOrder::ChannelDeleted => Ending::Close(
            CloseCode::Normal,
            Some(APP_CHANNEL_DELETED),
            "channel deleted",
        ),
        // A recheck closes tokens that ended, and anonymous listeners of a
        // channel that is private now.
        CloseOrder::Recheck { .. } if sub.access.anonymous => Ending::Close(
            CloseCode::Policy,
            Some(APP_CHANNEL_PRIVATE),
            "channel made private",
        ),
        CloseOrder::TokenRevoked(_) | CloseOrder::JwtRevoked(_) | CloseOrder::Recheck { .. } => {
            Ending::Close(CloseCode::Policy, Some(APP_TOKEN_REVOKED), "token revoked")
        }
        CloseOrder::ChannelMadePrivate => Ending::Close(
            CloseCode::Policy,
            Some(APP_CHANNEL_PRIVATE),
            "token revoked",
        ),
        CloseOrder::Interrupted => Ending::Close(
            CloseCode::Error,
            Some(APP_REPLAY_FAILED),
            "live delivery interrupted: reconnect with after",
        ),
    })
}
