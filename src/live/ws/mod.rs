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
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use futures_util::StreamExt;
use poem::{
    Request, Response,
    http::{StatusCode, header},
};
use tokio_tungstenite::tungstenite::{
    handshake::derive_accept_key, protocol::frame::coding::CloseCode,
};
use tokio_util::{sync::CancellationToken, task::TaskTracker};

use super::{
    Replay, ReplayStop,
    rooms::{Access, CloseOrder, Listener, Room, RoomMessage},
};
use crate::telemetry;

mod direct;
mod mux;
pub mod protocol;
mod socket;
mod write;

pub use mux::{Admission, Credential, Gate, MuxLimits, MuxStart};

use direct::{NotParked, Parked};
use socket::{Incoming, Opening, Read, Socket};
use write::Staged;

/// Largest frame a client may send; a larger one closes the socket with 1009.
pub const MAX_CLIENT_FRAME_BYTES: usize = 4 * 1024;
/// What a socket reads into at first. Clients send small frames (pongs,
/// closes, commands); a larger one grows the buffer as it arrives. Every
/// idle socket keeps this much, so it is small.
const READ_BUFFER_BYTES: usize = 512;
/// Pongs and close answers waiting to be sent; a client that makes more
/// without reading is dropped.
const MAX_PENDING_REPLY_BYTES: usize = 64 * 1024;
/// Close orders a subscription keeps while a refresh re-checks it.
const MAX_HELD_ORDERS: usize = 64;
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
    /// The multiplexed socket's own bounds.
    pub mux: MuxLimits,
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
    /// (Boxed: every session keeps its subscription, most never replay.)
    pub replay: Option<Box<Replay>>,
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

    /// Completes the handshake and starts a one-channel session; the
    /// response is the 101.
    pub fn accept(
        self: &Arc<Self>,
        req: &Request,
        subscription: Subscription,
    ) -> Result<Response, HandshakeError> {
        self.upgrade(req, MAX_CLIENT_FRAME_BYTES, move |opening, sessions| {
            run_session(opening, subscription, sessions)
        })
    }

    /// Completes the handshake and starts a multiplexed session
    /// (`GET /api/v1/ws`); the response is the 101.
    pub fn accept_mux(
        self: &Arc<Self>,
        req: &Request,
        start: MuxStart,
    ) -> Result<Response, HandshakeError> {
        let max_frame = self.limits.mux.max_frame_bytes;
        self.upgrade(req, max_frame, move |opening, sessions| async move {
            if let Some(socket) = opening.open(&sessions).await {
                mux::run(socket, start, &sessions).await;
            }
        })
    }

    fn upgrade<F, Fut>(
        self: &Arc<Self>,
        req: &Request,
        max_frame_bytes: usize,
        session: F,
    ) -> Result<Response, HandshakeError>
    where
        F: FnOnce(Opening, Arc<Sessions>) -> Fut,
        Fut: Future<Output = ()> + Send + 'static,
    {
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

        let opening = Opening {
            on_upgrade,
            max_frame_bytes,
            slot,
        };
        let session = session(opening, self.clone());
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

/// What woke a parked per-channel session.
enum Woke {
    Room,
    Replies,
    Read(Incoming),
    Ping,
    Expired,
    ShuttingDown,
}

/// How a session ends.
enum Ending {
    /// Close with this code and reason; with the application code instead
    /// for a client that asked for them (`close_codes=app`).
    Close(CloseCode, Option<u16>, &'static str),
    /// Just drop the connection (the peer is gone or broke the protocol).
    Drop,
}

/// The per-channel route's session: one subscription, whose ending ends the
/// socket; what the client sends is ignored (but for pings and the close).
///
/// Not an `async fn`: one stores its arguments twice (as given, and as the
/// body's own variables), and every idle session keeps its future for good.
/// This block uses what it captured in place.
#[allow(clippy::manual_async_fn)]
fn run_session(
    opening: Opening,
    mut sub: Subscription,
    sessions: Arc<Sessions>,
) -> impl Future<Output = ()> + Send + 'static {
    async move {
        let Some(mut socket) = opening.open(&sessions).await else {
            return;
        };
        let sessions = &*sessions;
        let limits = &sessions.limits;
        let app_codes = sub.app_close_codes;
        let shutdown = socket.shutdown.clone();
        let shutting_down = shutdown.cancelled();
        tokio::pin!(shutting_down);

        if let Some(mut replay) = sub.replay.take() {
            // Boxed: the store read's future would otherwise be part of every
            // session's future, replaying or not, for as long as it lives.
            let ending = Box::pin(replay_stored(&mut socket, &sub, &mut replay, sessions)).await;
            if let Some(ending) = ending {
                drop(sub);
                Box::pin(socket.close(ending, app_codes)).await;
                return;
            }
            sub.replayed_through = Some(replay.position().to_owned());
        }

        // A token that expires ends the session then, not at the next connect.
        let expiry = sub.access.expiry();
        tokio::pin!(expiry);
        // Parked, the session lends its writer to the room, which writes each
        // batch straight to the socket (`direct`); anything else wakes it here.
        let parked = Parked::new(
            sub.listener.lend_receiver(),
            sub.types.clone(),
            &sub.access,
            sessions,
        );
        sub.listener.deliver_directly(parked.clone());
        let ending = loop {
            let first = match parked.park(
                &mut socket.writer,
                &mut socket.staged,
                sub.taken,
                &mut sub.replayed_through,
            ) {
                Ok(()) => None,
                Err(NotParked::Message(first)) => Some(first),
                Err(NotParked::Lagged) => break slow_consumer(Slow::Queue),
                Err(NotParked::Closed) => {
                    break Ending::Close(CloseCode::Normal, None, "channel closed");
                }
            };
            if let Some(first) = first {
                if sub.access.has_expired() {
                    break token_expired();
                }
                let collected = {
                    let mut state = parked.state();
                    sub.collect(first, &mut state.receiver, &mut socket.staged, limits)
                };
                if let Some(ending) = collected {
                    break ending;
                }
                if let Some(ending) = socket.write_staged(&mut || sub.lag(limits), sessions).await {
                    break ending;
                }
                if shutdown.is_cancelled() {
                    break going_away();
                }
                continue;
            }
            let woke = tokio::select! {
                biased;
                _ = parked.woken.notified() => Woke::Room,
                _ = socket.replies.ready.notified() => Woke::Replies,
                frame = socket.incoming.next() => Woke::Read(frame.into()),
                _ = socket.ping.tick() => Woke::Ping,
                _ = &mut expiry => Woke::Expired,
                _ = &mut shutting_down => Woke::ShuttingDown,
            };
            let unparked = parked.unpark(
                &mut socket.writer,
                &mut socket.staged,
                &mut sub.taken,
                &mut sub.replayed_through,
            );
            if unparked.failed {
                break Ending::Drop;
            }
            if unparked.expired {
                break token_expired();
            }
            // A frame a direct write cut short goes out before anything else.
            if let Some(ending) = socket.write_staged(&mut || sub.lag(limits), sessions).await {
                break ending;
            }
            // The rarer awaits below are boxed: an async fn's future is as large
            // as its largest await, and every idle session keeps that much.
            match woke {
                // The ring is read at the top of the loop.
                Woke::Room => {}
                Woke::Replies => {
                    if let Some(ending) = Box::pin(socket.send_replies(limits.write_timeout)).await
                    {
                        break ending;
                    }
                }
                Woke::Read(frame) => match Box::pin(socket.on_read(frame)).await {
                    Read::Gone => break Ending::Drop,
                    Read::TooLong => {
                        break Ending::Close(
                            CloseCode::Size,
                            None,
                            "client frames are limited to 4 KiB",
                        );
                    }
                    // Text and binary frames are ignored here.
                    Read::Text(_) | Read::Binary | Read::Nothing => {}
                },
                Woke::Ping => {
                    if let Some(ending) = Box::pin(socket.keep_alive(limits.write_timeout)).await {
                        break ending;
                    }
                }
                Woke::Expired => break token_expired(),
                Woke::ShuttingDown => break going_away(),
            }
        };

        // Leave the room first: a session on its way out must not keep the
        // room's ring from freeing what it has not read (a slow consumer's close
        // can take `close_grace`). Its place in the ring is in `parked`.
        drop(sub);
        drop(parked);
        Box::pin(socket.close(ending, app_codes)).await;
    }
}

/// Sends the stored events a subscription asked for (`after`), a page at a
/// time; an ending it returns ends the session.
async fn replay_stored(
    socket: &mut Socket,
    sub: &Subscription,
    replay: &mut Replay,
    sessions: &Sessions,
) -> Option<Ending> {
    let limits = &sessions.limits;
    loop {
        let page = match replay.next_page().await {
            Ok(page) => page,
            Err(ReplayStop::Lost(order)) => {
                return applies_to(&order, &sub.access).or(Some(Ending::Close(
                    CloseCode::Policy,
                    Some(APP_TOKEN_REVOKED),
                    "access ended",
                )));
            }
            Err(ReplayStop::Failed(error)) => return Some(replay_failed(&error)),
        };
        if let Some(notice) = page.gap_notice() {
            socket.staged.push(super::text_frame(notice).0);
        }
        let mut lagging = || sub.lag(limits);
        if page.events.is_empty() {
            // A gap notice with nothing after it still goes out.
            return socket.write_staged(&mut lagging, sessions).await;
        }
        // Encoded as they are written, a bounded batch at a time.
        for (i, event) in page.events.iter().enumerate() {
            socket
                .staged
                .push(super::text_frame(event.to_json_string()).0);
            if socket.staged.is_full() || i + 1 == page.events.len() {
                let written = socket.write_staged(&mut lagging, sessions).await;
                if written.is_some() {
                    return written;
                }
            }
        }
    }
}

impl Subscription {
    /// Ends it as a slow consumer once it is past its queue bound.
    fn lag(&self, limits: &SessionLimits) -> Option<Ending> {
        is_behind(&self.listener.room, self.taken, limits).then(|| slow_consumer(Slow::Queue))
    }

    fn collect(
        &mut self,
        first: RoomMessage,
        receiver: &mut tokio::sync::broadcast::Receiver<RoomMessage>,
        staged: &mut Staged,
        limits: &SessionLimits,
    ) -> Option<Ending> {
        let mut feed = Feed {
            room: &self.listener.room,
            types: &self.types,
            access: &self.access,
            taken: &mut self.taken,
            replayed_through: self.replayed_through.as_deref(),
            held: None,
        };
        feed.collect(receiver, first, staged, limits)
    }
}

fn replay_failed(error: &str) -> Ending {
    tracing::warn!(%error, "replay failed");
    Ending::Close(
        CloseCode::Error,
        Some(APP_REPLAY_FAILED),
        "could not read stored events; reconnect",
    )
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

fn token_expired() -> Ending {
    Ending::Close(CloseCode::Policy, Some(APP_TOKEN_EXPIRED), "token expired")
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

/// What one subscription passes on from its room: its filter, what keeps
/// it on the channel, and how far it has read. Both kinds of session stage
/// their subscriptions' frames through it.
struct Feed<'a> {
    pub room: &'a Room,
    pub types: &'a [String],
    pub access: &'a Access,
    /// Frames and bytes of the room's stream taken so far (see `Room::published`).
    pub taken: &'a mut (u64, u64),
    /// Live events up to this id were replayed already.
    pub replayed_through: Option<&'a str>,
    /// Close orders that did not apply, kept while a refresh re-checks.
    pub held: Option<&'a mut Vec<CloseOrder>>,
}

impl Feed<'_> {
    /// Stages the frames of `first` and of whatever else is already queued
    /// (up to a bound), applying the type filter and any close orders.
    /// Frames are references to shared frames, never copies.
    fn collect(
        &mut self,
        receiver: &mut tokio::sync::broadcast::Receiver<RoomMessage>,
        first: RoomMessage,
        staged: &mut Staged,
        limits: &SessionLimits,
    ) -> Option<Ending> {
        let mut next = Some(first);
        while let Some(message) = next.take() {
            match message {
                RoomMessage::Events(live) => {
                    *self.taken = (live.end_frames, live.end_bytes);
                    if is_behind(self.room, *self.taken, limits) {
                        return Some(slow_consumer(Slow::Queue));
                    }
                    let replayed = self.replayed_through;
                    staged.frames.reserve(live.events.len());
                    if let Some(at) = live.committed_at {
                        staged.committed_at = Some(staged.committed_at.map_or(at, |t| t.min(at)));
                    }
                    for event in live.events.iter().filter(|e| {
                        e.matches_types(self.types) && replayed.is_none_or(|r| e.id.as_str() > r)
                    }) {
                        staged.push(event.frame.clone());
                    }
                }
                RoomMessage::Close(order) => {
                    if let Some(ending) = applies_to(&order, self.access) {
                        return Some(ending);
                    }
                    // Bounded: past it, one order that ends any access stands
                    // for them all (the subscription then resubscribes).
                    if let Some(held) = self.held.as_deref_mut() {
                        if held.len() < MAX_HELD_ORDERS {
                            held.push(order);
                        } else {
                            *held = vec![CloseOrder::Interrupted];
                        }
                    }
                }
            }
            if staged.is_full() {
                break;
            }
            next = match receiver.try_recv() {
                Ok(message) => Some(message),
                Err(tokio::sync::broadcast::error::TryRecvError::Lagged(_)) => {
                    return Some(slow_consumer(Slow::Queue));
                }
                Err(_) => None,
            };
        }
        None
    }
}

/// Whether the room has published more than a queue's worth past what a
/// subscriber has taken.
fn is_behind(room: &Room, taken: (u64, u64), limits: &SessionLimits) -> bool {
    let (frames, bytes) = room.published();
    let (taken_frames, taken_bytes) = taken;
    frames.saturating_sub(taken_frames) > limits.queue_frames as u64
        || bytes.saturating_sub(taken_bytes) > limits.queue_bytes
}

fn applies_to(order: &CloseOrder, access: &Access) -> Option<Ending> {
    if !order.applies_to(access) {
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
        CloseOrder::Recheck { .. } if access.anonymous => Ending::Close(
            CloseCode::Policy,
            Some(APP_CHANNEL_PRIVATE),
            "channel made private",
        ),
        CloseOrder::TokenRevoked(_) | CloseOrder::JwtRevoked(_) | CloseOrder::Recheck { .. } => {
            Ending::Close(CloseCode::Policy, Some(APP_TOKEN_REVOKED), "token revoked")
        }
        // The seed's reason (SPEC §1), kept on every route.
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
