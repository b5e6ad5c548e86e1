//! The socket both kinds of session drive: the write half the session owns,
//! tungstenite reading (its own replies, pongs and close answers, are
//! buffered and sent on by the session), the keep-alive, and the close.

use std::{
    io,
    pin::Pin,
    sync::{Arc, Mutex, PoisonError},
    task::{Context, Poll},
    time::Duration,
};

use futures_util::{SinkExt, StreamExt};
use poem::{OnUpgrade, Upgraded};
use tokio::{
    io::{AsyncRead, AsyncWrite, ReadBuf, ReadHalf, WriteHalf},
    sync::Notify,
    time::MissedTickBehavior,
};
use tokio_tungstenite::{
    WebSocketStream,
    tungstenite::{
        Error as WsError, Message,
        error::CapacityError,
        protocol::{Role, WebSocketConfig, frame::Frame},
    },
};
use tokio_util::sync::CancellationToken;

use super::{
    CLOSE_GRACE, ConnectionSlot, Ending, MAX_PENDING_REPLY_BYTES, READ_BUFFER_BYTES, Sessions,
    close_code,
    write::{Staged, Unwritten, encode, finish_frame, write_close, write_within},
};

/// The session's half of the socket: every byte it sends goes through here.
pub(super) type Writer = WriteHalf<Upgraded>;

/// What tungstenite itself sends: pongs to the client's pings and the answer
/// to its close. The socket's write half belongs to the session (which writes
/// prepared event frames), so tungstenite "writes" into this buffer and the
/// session sends it on.
#[derive(Default)]
pub(super) struct Replies {
    pub(super) bytes: Mutex<Vec<u8>>,
    pub(super) ready: Notify,
}

impl Replies {
    fn take(&self) -> Vec<u8> {
        std::mem::take(&mut *self.bytes.lock().unwrap_or_else(PoisonError::into_inner))
    }
}

/// The socket as tungstenite sees it: reads come from the socket, writes go
/// to [`Replies`].
pub(super) struct ReadSide {
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

/// An accepted upgrade whose socket the session opens first thing. The
/// session future starts from this (small) value rather than from an opened
/// [`Socket`]: a value moved into a future and on into a nested one is
/// stored in each, and every idle session keeps its future for good.
pub(super) struct Opening {
    pub(super) on_upgrade: OnUpgrade,
    /// Largest frame (and message) the client may send.
    pub(super) max_frame_bytes: usize,
    pub(super) slot: ConnectionSlot,
}

impl Opening {
    /// The socket, once the client's side of the upgrade is done.
    pub(super) async fn open(self, sessions: &Sessions) -> Option<Socket> {
        let upgraded = self.on_upgrade.await.ok()?;
        let config = WebSocketConfig::default()
            .read_buffer_size(READ_BUFFER_BYTES)
            .max_message_size(Some(self.max_frame_bytes))
            .max_frame_size(Some(self.max_frame_bytes));
        Some(Socket::open(upgraded, config, self.slot, sessions).await)
    }
}

/// The socket as both kinds of session drive it: the write half (which the
/// session owns), tungstenite reading, its replies, and the keep-alive.
pub(super) struct Socket {
    /// The session's write half; lent to the room while the session is
    /// parked (see `super::direct`).
    pub(super) writer: Option<Writer>,
    pub(super) incoming: WebSocketStream<ReadSide>,
    pub(super) replies: Arc<Replies>,
    pub(super) ping: tokio::time::Interval,
    pub(super) unanswered_pings: u32,
    /// Cancelled when the server shuts down. Its own token: waiting on the
    /// shared one would take the same lock in every session on every wake-up.
    pub(super) shutdown: CancellationToken,
    /// Every write of a closing frame gives up after this.
    pub(super) close_grace: Duration,
    pub(super) staged: Staged,
    /// Counts the connection against the server's maximum until it ends.
    _slot: ConnectionSlot,
}

/// One read from tungstenite, without an error's details (nothing uses
/// them): small enough for a session to keep across an await.
pub(super) enum Incoming {
    Message(Message),
    TooLong,
    Gone,
}

impl From<Option<Result<Message, WsError>>> for Incoming {
    fn from(frame: Option<Result<Message, WsError>>) -> Incoming {
        match frame {
            Some(Ok(message)) => Incoming::Message(message),
            Some(Err(WsError::Capacity(CapacityError::MessageTooLong { .. }))) => Incoming::TooLong,
            None | Some(Err(_)) => Incoming::Gone,
        }
    }
}

/// What one read from the client came to.
pub(super) enum Read {
    /// A text frame (only the multiplexed socket reads them).
    Text(tokio_tungstenite::tungstenite::Utf8Bytes),
    /// A binary frame.
    Binary,
    /// A frame over the size limit: the socket closes with 1009.
    TooLong,
    /// The client closed, or the connection is gone or broke the protocol.
    Gone,
    /// Handled here (pongs, pings): nothing for the session to do.
    Nothing,
}

impl Socket {
    async fn open(
        upgraded: Upgraded,
        config: WebSocketConfig,
        slot: ConnectionSlot,
        sessions: &Sessions,
    ) -> Socket {
        let limits = &sessions.limits;
        let (reader, writer) = tokio::io::split(upgraded);
        let replies = Arc::new(Replies::default());
        let read_side = ReadSide {
            reader,
            replies: replies.clone(),
        };
        let incoming =
            WebSocketStream::from_raw_socket(read_side, Role::Server, Some(config)).await;
        let mut ping = tokio::time::interval_at(
            tokio::time::Instant::now() + limits.ping_interval,
            limits.ping_interval,
        );
        ping.set_missed_tick_behavior(MissedTickBehavior::Delay);
        Socket {
            writer: Some(writer),
            incoming,
            replies,
            ping,
            unanswered_pings: 0,
            shutdown: sessions.shutdown.child_token(),
            close_grace: CLOSE_GRACE.min(limits.write_timeout),
            staged: Staged::default(),
            _slot: slot,
        }
    }

    /// The write half, which a running session holds.
    fn writer(&mut self) -> &mut Writer {
        self.writer
            .as_mut()
            .expect("a running session holds its writer")
    }

    /// Sends what tungstenite queued (pongs, a close answer).
    pub(super) async fn send_replies(&mut self, limit: Duration) -> Option<Ending> {
        let bytes = self.replies.take();
        write_within(self.writer(), &bytes, limit)
            .await
            .err()
            .map(Unwritten::ending)
    }

    /// A ping tick: drops a peer that missed two, else pings it.
    pub(super) async fn keep_alive(&mut self, write_timeout: Duration) -> Option<Ending> {
        if self.unanswered_pings >= 2 {
            return Some(Ending::Drop);
        }
        self.unanswered_pings += 1;
        let ping = encode(Frame::ping(Vec::new()));
        write_within(self.writer(), &ping, write_timeout)
            .await
            .err()
            .map(Unwritten::ending)
    }

    /// Takes one read from tungstenite; a close is answered here.
    pub(super) async fn on_read(&mut self, frame: Incoming) -> Read {
        match frame {
            Incoming::Message(Message::Pong(_)) => {
                self.unanswered_pings = 0;
                Read::Nothing
            }
            Incoming::Message(Message::Text(text)) => Read::Text(text),
            Incoming::Message(Message::Binary(_)) => Read::Binary,
            Incoming::Message(Message::Close(_)) => {
                // tungstenite has queued its answer: have it written out, then send it.
                let _ = self.incoming.flush().await;
                let _ = self.send_replies(self.close_grace).await;
                Read::Gone
            }
            // tungstenite answers pings itself.
            Incoming::Message(_) => Read::Nothing,
            Incoming::TooLong => Read::TooLong,
            Incoming::Gone => Read::Gone,
        }
    }

    /// Ends the session: finishes a frame cut short, sends the close frame
    /// and gives the peer a moment to answer it, as the protocol asks.
    pub(super) async fn close(mut self, ending: Ending, app_codes: bool) {
        let Ending::Close(code, app, reason) = ending else {
            return;
        };
        let code = close_code(code, app, app_codes);
        let grace = self.close_grace;
        let writer = self
            .writer
            .as_mut()
            .expect("a closing session holds its writer");
        if finish_frame(writer, &mut self.staged, grace).await.is_ok()
            && write_close(writer, code, reason, grace).await.is_ok()
        {
            let _ = tokio::time::timeout(CLOSE_GRACE, async {
                while let Some(Ok(message)) = self.incoming.next().await {
                    if message.is_close() {
                        break;
                    }
                }
            })
            .await;
        }
    }
}
