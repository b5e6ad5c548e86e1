//! The multiplexed socket (`GET /api/v1/ws`): one connection, many channel
//! subscriptions, each with its own type filter, resume point, credential
//! and ending. Per subscription the stream is the per-channel route's:
//! `subscribed`, the gap notice and the replay, `caught_up`, then live
//! events, each once and in order. A subscription whose access ends, or that
//! falls past its room's bound, ends alone (`unsubscribed` with the
//! application close code); only the write deadline, the client's own
//! protocol errors and shutdown end the socket.
//!
//! It shares the socket, the write side and the per-subscription staging
//! (`Feed`) with the per-channel session in `super`. Who may subscribe is
//! not decided here: the API hands in a [`Gate`] that joins rooms and checks
//! credentials; this module never reads the store.

use std::{
    collections::{HashMap, VecDeque},
    num::NonZeroU32,
    pin::Pin,
    sync::Arc,
};

use futures_util::{FutureExt, StreamExt, future::BoxFuture, stream::FuturesUnordered};
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use serde_json::Value;
use tokio::{sync::broadcast::error::RecvError, time::Instant};
use tokio_tungstenite::tungstenite::{Utf8Bytes, protocol::frame::coding::CloseCode};
use tokio_util::sync::CancellationToken;

mod commands;
mod replay;

use super::socket::{Read, Socket};
use super::{
    APP_SLOW_CONSUMER, APP_TOKEN_EXPIRED, Ending, Feed, Sessions, Slow, close_code, going_away,
    is_behind,
    protocol::{self, Refusal, Subscribe},
};
use crate::{
    live::{
        Page, Replay, ReplayStop,
        rooms::{Access, CloseOrder, Listener, Room, RoomMessage},
        text_frame,
    },
    telemetry,
};

/// Malformed frames a socket may send; the next one closes it (1008).
const MAX_MALFORMED_FRAMES: u32 = 10;
/// Commands read while the gate answers one, run after it; past these the
/// socket is not read until it has answered.
const MAX_WAITING_COMMANDS: usize = 8;
/// Commands a socket may send at once, as seconds of its steady rate.
const COMMAND_BURST_SECONDS: u32 = 5;

/// The multiplexed socket's bounds (flags, see `config`).
#[derive(Debug, Clone)]
pub struct MuxLimits {
    pub max_subscriptions: usize,
    /// Largest client frame; a larger one closes the socket with 1009.
    pub max_frame_bytes: usize,
    pub commands_per_second: u32,
}

/// A connection credential as the session holds it.
#[derive(Debug, Clone)]
pub struct Credential {
    pub token: String,
    /// Who it names (kind, issuer, subject): a refresh must name the same.
    pub identity: String,
    /// What `hello` and `refreshed` show of it: `kind`, `sub`, `expires_at`.
    pub summary: Value,
}

/// A subscription the gate let in: joined to its room before its access
/// was checked, as every live listener is.
pub struct Admission {
    pub listener: Listener,
    pub access: Access,
    /// Where its stream starts: the `after` given, else the channel's newest
    /// event at the check, else [`protocol::NIL_POSITION`].
    pub position: String,
    pub replay: Option<Replay>,
    /// When its credential stops being accepted (RFC 3339), if it does.
    pub expires_at: Option<String>,
}

/// Who may subscribe, decided by the API over the hub. Each future runs
/// where the store is; refusals are problem-shaped.
pub trait Gate: Send + Sync {
    fn admit(
        &self,
        subscribe: &Subscribe,
        token: Option<String>,
    ) -> BoxFuture<'static, Result<Admission, Refusal>>;
    /// What `token` keeps of `channel` now (a refresh re-authorizes with it).
    fn recheck(&self, channel: &str, token: String) -> BoxFuture<'static, Result<Access, Refusal>>;
    /// Reads a credential presented to `refresh`.
    fn credential(&self, token: String) -> BoxFuture<'static, Result<Credential, Refusal>>;
}

/// What a multiplexed session starts with.
pub struct MuxStart {
    pub gate: Arc<dyn Gate>,
    /// The connection credential, checked at the handshake.
    pub credential: Option<Credential>,
}

/// One subscription of the socket.
struct Sub {
    id: u64,
    types: Vec<String>,
    access: Access,
    taken: (u64, u64),
    replayed_through: Option<String>,
    room: Arc<Room>,
    /// Its stored events are still being sent (or wait their turn).
    replaying: bool,
    /// Ends its armed wait, and so drops its listener, when it ends.
    stop: CancellationToken,
    /// It presented no token of its own: it stands on the connection credential.
    via_connection: bool,
    /// While a refresh re-checks it: the close orders that did not apply.
    held: Option<Vec<CloseOrder>>,
    _counted: Counted,
}

/// Keeps `channelhub_ws_subscriptions` right however a subscription ends.
struct Counted;

impl Counted {
    fn new() -> Counted {
        metrics::gauge!(telemetry::WS_SUBSCRIPTIONS).increment(1.0);
        Counted
    }
}

impl Drop for Counted {
    fn drop(&mut self) {
        metrics::gauge!(telemetry::WS_SUBSCRIPTIONS).decrement(1.0);
    }
}

/// A subscription's wait on its room, ended.
struct Woken {
    channel: Arc<str>,
    id: u64,
    listener: Listener,
    /// `None`: the subscription ended while it waited.
    message: Option<Result<RoomMessage, RecvError>>,
}

/// A subscription whose stored events are sent before its live ones.
struct Replaying {
    channel: Arc<str>,
    id: u64,
    listener: Listener,
    replay: Replay,
}

type PageRead = BoxFuture<'static, (Replaying, Result<Page, ReplayStop>)>;

/// A subscription that stood on the connection credential, checked again
/// under a refreshed one.
type Rechecked = (Arc<str>, u64, Result<Access, Refusal>);

/// What a command came to, once the gate answered.
enum Outcome {
    Subscribed {
        subscribe: Subscribe,
        via_connection: bool,
        admitted: Box<Result<Admission, Refusal>>,
    },
    Refreshed {
        reference: Option<String>,
        result: Result<(Credential, Vec<Rechecked>), Refusal>,
    },
}

struct Mux<'s> {
    socket: Socket,
    sessions: &'s Sessions,
    gate: Arc<dyn Gate>,
    credential: Option<Credential>,
    subs: HashMap<Arc<str>, Sub>,
    armed: FuturesUnordered<BoxFuture<'static, Woken>>,
    /// Replays run one at a time, in subscribe order.
    queued: VecDeque<Replaying>,
    running: Option<(u64, PageRead)>,
    /// The command the gate is answering; no other is read meanwhile.
    pending: Option<BoxFuture<'static, Outcome>>,
    next_id: u64,
    malformed: u32,
    commands: DefaultDirectRateLimiter,
    /// Subscriptions found past their bound during a blocked write.
    lagged: Vec<Arc<str>>,
    /// Commands read while the gate answered an earlier one, in order.
    waiting: VecDeque<Utf8Bytes>,
    expiry: Pin<Box<tokio::time::Sleep>>,
    next_expiry: Option<Instant>,
}

pub(super) async fn run(socket: Socket, start: MuxStart, sessions: &Sessions) {
    let limits = &sessions.limits;
    let per_second = NonZeroU32::new(limits.mux.commands_per_second.max(1)).expect("at least 1");
    let burst = per_second.saturating_mul(NonZeroU32::new(COMMAND_BURST_SECONDS).expect("5"));
    let shutdown = socket.shutdown.clone();
    let shutting_down = shutdown.cancelled();
    tokio::pin!(shutting_down);
    let mut mux = Mux {
        socket,
        sessions,
        gate: start.gate,
        credential: start.credential,
        subs: HashMap::new(),
        armed: FuturesUnordered::new(),
        queued: VecDeque::new(),
        running: None,
        pending: None,
        next_id: 0,
        malformed: 0,
        commands: RateLimiter::direct(Quota::per_second(per_second).allow_burst(burst)),
        lagged: Vec::new(),
        waiting: VecDeque::new(),
        expiry: Box::pin(tokio::time::sleep_until(Instant::now())),
        next_expiry: None,
    };
    let hello = protocol::hello(
        &limits.mux,
        limits.ping_interval.as_secs(),
        mux.credential.as_ref().map(|c| &c.summary),
    );
    let ending = match mux.send(hello).await {
        Some(ending) => ending,
        None => mux.serve(&mut shutting_down).await,
    };
    let Mux {
        socket,
        subs,
        armed,
        queued,
        running,
        pending,
        ..
    } = mux;
    // Leave the rooms first (see the per-channel session): the listeners
    // are in the waits, the replays and the pending admission.
    drop((subs, armed, queued, running, pending));
    socket.close(ending, true).await;
}

impl Mux<'_> {
    async fn serve(&mut self, shutting_down: &mut Pin<&mut impl Future<Output = ()>>) -> Ending {
        let limits = &self.sessions.limits;
        loop {
            let outcome = tokio::select! {
                biased;
                Some(woken) = self.armed.next() => self.deliver(woken).await,
                _ = self.socket.replies.ready.notified() => {
                    self.socket.send_replies(limits.write_timeout).await
                }
                (replaying, page) = next_page(&mut self.running), if self.running.is_some() => {
                    self.running = None;
                    self.on_page(replaying, page).await
                }
                outcome = answer(&mut self.pending), if self.pending.is_some() => {
                    self.pending = None;
                    match self.on_outcome(outcome).await {
                        Some(ending) => Some(ending),
                        None => self.run_waiting().await,
                    }
                }
                // Read on while the gate answers (pongs, closes), keeping a
                // few commands for after it; past those, wait.
                frame = self.socket.incoming.next(), if self.waiting.len() < MAX_WAITING_COMMANDS => {
                    match self.socket.on_read(frame.into()).await {
                        Read::Gone => Some(Ending::Drop),
                        Read::TooLong => Some(Ending::Close(
                            CloseCode::Size,
                            None,
                            "client frame over the size limit (hello.max_frame_bytes)",
                        )),
                        Read::Binary => self.malformed(None, None, "binary frames are not read: send JSON text".into()).await,
                        Read::Text(text) if self.pending.is_some() => {
                            self.waiting.push_back(text);
                            None
                        }
                        Read::Text(text) => self.on_command(&text).await,
                        Read::Nothing => None,
                    }
                }
                _ = self.socket.ping.tick() => self.socket.keep_alive(limits.write_timeout).await,
                _ = self.expiry.as_mut(), if self.next_expiry.is_some() => self.expire().await,
                _ = shutting_down.as_mut() => Some(going_away()),
            };
            if let Some(ending) = outcome {
                return ending;
            }
            if self.socket.shutdown.is_cancelled() {
                return going_away();
            }
        }
    }

    /// Runs the commands that came while the gate answered, until one of
    /// them asks the gate again.
    async fn run_waiting(&mut self) -> Option<Ending> {
        while self.pending.is_none() {
            let text = self.waiting.pop_front()?;
            if let Some(ending) = self.on_command(&text).await {
                return Some(ending);
            }
        }
        None
    }

    /// Stages `frame` and writes everything staged.
    async fn send(&mut self, frame: String) -> Option<Ending> {
        self.socket.staged.push(text_frame(frame).0);
        self.flush().await
    }

    /// Writes what is staged. Subscriptions found past their bound while
    /// the socket would not take it end afterwards, alone.
    async fn flush(&mut self) -> Option<Ending> {
        loop {
            let Mux {
                socket,
                subs,
                lagged,
                sessions,
                ..
            } = self;
            let limits = &sessions.limits;
            let mut lagging = || {
                for (channel, sub) in subs.iter() {
                    if !sub.replaying
                        && is_behind(&sub.room, sub.taken, limits)
                        && !lagged.contains(channel)
                    {
                        Slow::Queue.count();
                        lagged.push(channel.clone());
                    }
                }
                None
            };
            if let Some(ending) = socket.write_staged(&mut lagging, sessions).await {
                return Some(ending);
            }
            if self.lagged.is_empty() {
                return None;
            }
            for channel in std::mem::take(&mut self.lagged) {
                self.end(&channel, None, APP_SLOW_CONSUMER, SLOW_REASON);
            }
        }
    }

    /// Ends a subscription and stages its `unsubscribed` frame.
    fn end(&mut self, channel: &str, reference: Option<&str>, code: u16, reason: &str) {
        let Some(sub) = self.subs.remove(channel) else {
            return;
        };
        sub.stop.cancel();
        if sub.replaying {
            self.queued.retain(|r| r.id != sub.id);
            if self.running.as_ref().is_some_and(|(id, _)| *id == sub.id) {
                self.running = None;
                self.start_replay();
            }
        }
        if sub.access.expires_at.is_some() {
            self.reset_expiry();
        }
        let frame = protocol::unsubscribed(reference, channel, code, reason);
        self.socket.staged.push(text_frame(frame).0);
    }

    fn end_with(&mut self, channel: &str, ending: Ending) {
        let (code, reason) = match ending {
            Ending::Close(seed, app, reason) => (u16::from(close_code(seed, app, true)), reason),
            Ending::Drop => (u16::from(CloseCode::Error), "ended"),
        };
        self.end(channel, None, code, reason);
    }

    /// A subscription's room woke it: stages what it has (and what other
    /// subscriptions have ready, up to the bound), then writes once.
    async fn deliver(&mut self, first: Woken) -> Option<Ending> {
        let mut next = Some(first);
        while let Some(woken) = next.take() {
            self.take(woken);
            if self.socket.staged.is_full() {
                break;
            }
            next = self.armed.next().now_or_never().flatten();
        }
        self.flush().await
    }

    fn take(&mut self, woken: Woken) {
        let Woken {
            channel,
            id,
            mut listener,
            message,
        } = woken;
        let Some(message) = message else { return };
        let limits = &self.sessions.limits;
        let Some(sub) = self.subs.get_mut(&channel).filter(|s| s.id == id) else {
            return;
        };
        let ending = match message {
            Ok(first) => {
                let mut feed = Feed {
                    room: &sub.room,
                    types: &sub.types,
                    access: &sub.access,
                    taken: &mut sub.taken,
                    replayed_through: sub.replayed_through.as_deref(),
                    held: sub.held.as_mut(),
                };
                feed.collect(listener.receiver(), first, &mut self.socket.staged, limits)
            }
            Err(RecvError::Lagged(_)) => Some(super::slow_consumer(Slow::Queue)),
            Err(RecvError::Closed) => {
                Some(Ending::Close(CloseCode::Normal, None, "channel closed"))
            }
        };
        match ending {
            None => {
                let stop = sub.stop.clone();
                self.armed.push(arm(channel, id, listener, stop));
            }
            Some(ending) => {
                drop(listener);
                self.end_with(&channel, ending);
            }
        }
    }

    /// Ends the subscriptions whose credential expired.
    async fn expire(&mut self) -> Option<Ending> {
        let now = Instant::now();
        let expired: Vec<Arc<str>> = self
            .subs
            .iter()
            .filter(|(_, s)| s.access.expires_at.is_some_and(|at| at <= now))
            .map(|(channel, _)| channel.clone())
            .collect();
        for channel in expired {
            self.end(&channel, None, APP_TOKEN_EXPIRED, "token expired");
        }
        self.reset_expiry();
        self.flush().await
    }

    fn reset_expiry(&mut self) {
        self.next_expiry = self.subs.values().filter_map(|s| s.access.expires_at).min();
        if let Some(at) = self.next_expiry {
            self.expiry.as_mut().reset(at);
        }
    }
}

const SLOW_REASON: &str = "slow consumer: too far behind, resubscribe with after";

/// Waits for a subscription's next room message, or for it to end.
fn arm(
    channel: Arc<str>,
    id: u64,
    mut listener: Listener,
    stop: CancellationToken,
) -> BoxFuture<'static, Woken> {
    async move {
        let message = tokio::select! {
            biased;
            () = stop.cancelled() => None,
            message = listener.receiver().recv() => Some(message),
        };
        Woken {
            channel,
            id,
            listener,
            message,
        }
    }
    .boxed()
}

async fn next_page(running: &mut Option<(u64, PageRead)>) -> (Replaying, Result<Page, ReplayStop>) {
    match running {
        Some((_, read)) => read.await,
        None => std::future::pending().await,
    }
}

async fn answer(pending: &mut Option<BoxFuture<'static, Outcome>>) -> Outcome {
    match pending {
        Some(outcome) => outcome.await,
        None => std::future::pending().await,
    }
}
