//! The write side of a WebSocket session: frames staged per wake-up (as
//! references to the shared encoded frames), written with as few syscalls
//! as the bounds allow, under the write deadline and the lag check, and the
//! closing frame. The session loop (`super`) decides what to stage and
//! when a session ends; this file only writes.

use std::{
    cell::RefCell,
    future::poll_fn,
    io,
    pin::Pin,
    task::{Context, Poll, Waker},
    time::Duration,
};

use bytes::Bytes;
use tokio::io::{AsyncWrite, AsyncWriteExt};
use tokio_tungstenite::tungstenite::protocol::{
    CloseFrame,
    frame::{Frame, coding::CloseCode},
};

use super::{
    Ending, SessionLimits, Sessions, Slow, slow_consumer,
    socket::{Socket, Writer},
};
use crate::telemetry;

/// Most frames staged per wake-up, so one busy socket cannot hog its thread.
/// Checked between ring entries (one commit each, ≤ 100 events), like the
/// byte bound below.
const MAX_FRAMES_PER_FLUSH: usize = 256;
/// Most bytes staged per wake-up (plus the rest of the ring entry that
/// crosses it). Staged frames are references, not copies, but a session
/// that blocks keeps them alive after the ring has moved on (until its lag
/// check cuts it): this bounds that.
const MAX_BYTES_PER_FLUSH: usize = 256 * 1024;
/// Small frames are copied into the thread's scratch buffer up to this many
/// bytes per write call, so one syscall carries many of them.
const COALESCE_BYTES: usize = 64 * 1024;
/// A frame (or what is left of it) at least this large is written straight
/// from the shared buffer: a copy would save no syscall.
const DIRECT_WRITE_BYTES: usize = 16 * 1024;
/// How often a blocked write checks whether its subscriber fell too far behind.
const LAG_CHECK_INTERVAL: Duration = Duration::from_millis(50);
/// A session keeps room for this many staged references while idle; a larger
/// list (after a burst) is freed, so idle sessions stay small.
const RETAINED_STAGED_FRAMES: usize = 16;

/// The frames one wake-up stages, and how far their writing got.
#[derive(Default)]
pub(super) struct Staged {
    pub(super) frames: Vec<Bytes>,
    /// Frames before this one have been written.
    pub(super) head: usize,
    /// Bytes of `frames[head]` already written.
    pub(super) offset: usize,
    /// Bytes of all of `frames`.
    pub(super) bytes: usize,
    /// When the oldest newly committed batch among `frames` was committed
    /// (µs since the Unix epoch): the write that finishes it times delivery.
    pub(super) committed_at: Option<u64>,
}

impl Staged {
    pub(super) fn push(&mut self, frame: Bytes) {
        self.bytes += frame.len();
        self.frames.push(frame);
    }

    /// Whether a wake-up has staged all it may.
    pub(super) fn is_full(&self) -> bool {
        self.frames.len() >= MAX_FRAMES_PER_FLUSH || self.bytes >= MAX_BYTES_PER_FLUSH
    }

    pub(super) fn is_done(&self) -> bool {
        self.head == self.frames.len()
    }

    /// Marks `n` more bytes as written.
    pub(super) fn advance(&mut self, mut n: usize) {
        while n > 0 {
            let left = self.frames[self.head].len() - self.offset;
            if n < left {
                self.offset += n;
                return;
            }
            n -= left;
            self.head += 1;
            self.offset = 0;
        }
    }

    /// Keeps only the rest of a frame cut short, which must go out before a
    /// close frame can; frames not started are dropped.
    pub(super) fn keep_partial(&mut self) {
        let rest = (self.offset > 0).then(|| self.frames[self.head].slice(self.offset..));
        self.clear();
        if let Some(rest) = rest {
            self.push(rest);
        }
    }

    pub(super) fn clear(&mut self) {
        if self.frames.capacity() > RETAINED_STAGED_FRAMES {
            self.frames = Vec::new();
        } else {
            self.frames.clear();
        }
        (self.head, self.offset, self.bytes) = (0, 0, 0);
        self.committed_at = None;
    }
}

impl Socket {
    /// Writes the staged frames and empties the list. While the socket will
    /// not take them, asks `lagging` every so often whether a subscriber has
    /// fallen past its queue bound (an ending it returns ends the session),
    /// and gives up once the socket has taken no byte for the write timeout:
    /// the session ends as a slow consumer rather than holding rooms back.
    /// On such an ending the frames stay staged, so that the one cut short
    /// can be finished before the close frame.
    pub(super) async fn write_staged(
        &mut self,
        lagging: &mut impl FnMut() -> Option<Ending>,
        sessions: &Sessions,
    ) -> Option<Ending> {
        let writer = self
            .writer
            .as_mut()
            .expect("a running session holds its writer");
        write_batch(writer, &mut self.staged, lagging, sessions).await
    }
}

/// How far a write that may not wait got.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum WrittenNow {
    /// Everything staged was taken by the socket.
    All,
    /// The socket's buffer is full; the rest is still staged.
    Part,
    /// The connection is gone.
    Failed,
}

/// Writes what is staged as far as the socket takes it now, without waiting
/// and without registering for a wake-up (the session's own write then
/// waits for the rest; a broadcast hands the rest to the session). Does not
/// flush: a TCP stream has nothing to flush.
pub(super) fn write_now(writer: &mut Writer, staged: &mut Staged) -> WrittenNow {
    let mut cx = Context::from_waker(Waker::noop());
    while !staged.is_done() {
        match poll_write_some(writer, &mut cx, staged) {
            Poll::Pending => return WrittenNow::Part,
            Poll::Ready(Ok(0) | Err(_)) => return WrittenNow::Failed,
            Poll::Ready(Ok(n)) => staged.advance(n),
        }
    }
    WrittenNow::All
}

/// Counts `staged` as delivered (frames, and the commit-to-socket time).
pub(super) fn count_delivered(
    staged: &Staged,
    frames_delivered: &metrics::Counter,
    commit_to_socket: &metrics::Histogram,
) {
    frames_delivered.increment(staged.frames.len() as u64);
    if let Some(committed_at) = staged.committed_at {
        telemetry::record_since(commit_to_socket, committed_at);
    }
}

async fn write_batch(
    writer: &mut Writer,
    staged: &mut Staged,
    lagging: &mut impl FnMut() -> Option<Ending>,
    sessions: &Sessions,
) -> Option<Ending> {
    if staged.is_done() {
        staged.clear();
        return None;
    }
    let ending = write_out(writer, staged, lagging, &sessions.limits).await;
    if ending.is_none() {
        count_delivered(
            staged,
            &sessions.frames_delivered,
            &sessions.commit_to_socket,
        );
        staged.clear();
    }
    ending
}

/// Writes what is staged, watching the subscribers' lag and the socket's progress.
async fn write_out(
    writer: &mut Writer,
    staged: &mut Staged,
    lagging: &mut impl FnMut() -> Option<Ending>,
    limits: &SessionLimits,
) -> Option<Ending> {
    // Most writes complete at once: only a blocked socket needs the timers.
    match write_now(writer, staged) {
        WrittenNow::All => return writer.flush().await.err().map(|_| Ending::Drop),
        WrittenNow::Failed => return Some(Ending::Drop),
        WrittenNow::Part => {}
    }
    let write_timeout = limits.write_timeout;
    let stalled = tokio::time::sleep(write_timeout);
    tokio::pin!(stalled);
    let mut lag_check = tokio::time::interval(LAG_CHECK_INTERVAL);
    lag_check.tick().await;
    loop {
        tokio::select! {
            biased;
            written = poll_fn(|cx| poll_write_some(writer, cx, staged)) => match written {
                Ok(0) | Err(_) => return Some(Ending::Drop),
                Ok(n) => {
                    staged.advance(n);
                    if staged.is_done() {
                        return writer.flush().await.err().map(|_| Ending::Drop);
                    }
                    stalled.as_mut().reset(tokio::time::Instant::now() + write_timeout);
                }
            },
            _ = &mut stalled => return Some(slow_consumer(Slow::WriteTimeout)),
            _ = lag_check.tick() => {
                if let Some(ending) = lagging() {
                    return Some(ending);
                }
            }
        }
    }
}
thread_local! {
    /// Where small frames are gathered for one write call. It holds them only
    /// while that call runs: what the socket does not take is gathered again
    /// from the shared frames next time, so a blocked session keeps no copy.
    /// One per thread of the live runtime.
    static SCRATCH: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

/// One write call: the rest of a large frame straight from its shared
/// buffer, or as many small frames as fit in the scratch buffer. Pending
/// means nothing was written.
pub(super) fn poll_write_some(
    writer: &mut Writer,
    cx: &mut Context<'_>,
    staged: &Staged,
) -> Poll<io::Result<usize>> {
    let first = &staged.frames[staged.head][staged.offset..];
    let rest = &staged.frames[staged.head + 1..];
    if first.len() >= DIRECT_WRITE_BYTES || rest.is_empty() {
        return Pin::new(writer).poll_write(cx, first);
    }
    SCRATCH.with_borrow_mut(|scratch| {
        scratch.clear();
        scratch.extend_from_slice(first);
        for frame in rest {
            if scratch.len() + frame.len() > COALESCE_BYTES {
                break;
            }
            scratch.extend_from_slice(frame);
        }
        Pin::new(writer).poll_write(cx, scratch)
    })
}

/// Finishes a frame that a slow-consumer ending cut short, so that the close
/// frame after it is read as one; frames not started are dropped.
pub(super) async fn finish_frame(
    writer: &mut Writer,
    staged: &mut Staged,
    limit: Duration,
) -> Result<(), Unwritten> {
    staged.keep_partial();
    let result = match staged.frames.first() {
        Some(rest) => write_within(writer, rest, limit).await,
        None => Ok(()),
    };
    staged.clear();
    result
}

/// A control frame's bytes, encoded by tungstenite.
pub(super) fn encode(frame: Frame) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(frame.len());
    frame
        .format(&mut bytes)
        .expect("writing to a Vec cannot fail");
    bytes
}

pub(super) async fn write_close(
    writer: &mut Writer,
    code: CloseCode,
    reason: &str,
    limit: Duration,
) -> Result<(), Unwritten> {
    let close = encode(Frame::close(Some(CloseFrame {
        code,
        reason: reason.into(),
    })));
    write_within(writer, &close, limit).await
}

/// Why a write did not go through.
#[derive(Debug)]
pub(super) enum Unwritten {
    Failed,
    TimedOut,
}

impl Unwritten {
    /// How a session ends when a control frame cannot be written: the socket
    /// is gone, or it took nothing for the write timeout (a slow consumer,
    /// though the close frame cannot reach it either).
    pub(super) fn ending(self) -> Ending {
        if let Unwritten::TimedOut = self {
            Slow::WriteTimeout.count();
        }
        Ending::Drop
    }
}

pub(super) async fn write_within(
    writer: &mut Writer,
    bytes: &[u8],
    limit: Duration,
) -> Result<(), Unwritten> {
    let write = async {
        writer.write_all(bytes).await?;
        writer.flush().await
    };
    match tokio::time::timeout(limit, write).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(_)) => Err(Unwritten::Failed),
        Err(_) => Err(Unwritten::TimedOut),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn staged(frames: &[&'static [u8]]) -> Staged {
        let mut staged = Staged::default();
        for frame in frames {
            staged.push(Bytes::from_static(frame));
        }
        staged
    }

    #[test]
    fn partial_writes_are_tracked_across_frames() {
        let mut staged = staged(&[b"abc", b"de", b"fghi"]);
        assert_eq!(staged.bytes, 9);
        staged.advance(4);
        assert_eq!((staged.head, staged.offset), (1, 1));
        staged.advance(1);
        assert_eq!((staged.head, staged.offset), (2, 0));
        assert!(!staged.is_done());
        staged.advance(4);
        assert!(staged.is_done());
    }

    #[test]
    fn a_close_keeps_only_the_rest_of_the_frame_cut_short() {
        let mut cut = staged(&[b"abc", b"de", b"fghi"]);
        cut.advance(4);
        cut.keep_partial();
        assert_eq!(cut.frames, vec![Bytes::from_static(b"e")]);
        assert_eq!((cut.head, cut.offset, cut.bytes), (0, 0, 1));

        let mut untouched = staged(&[b"abc", b"de"]);
        untouched.advance(3);
        untouched.keep_partial();
        assert!(untouched.frames.is_empty(), "no frame was started");
    }

    #[test]
    fn an_idle_session_frees_a_long_list() {
        let mut staged = Staged::default();
        for _ in 0..MAX_FRAMES_PER_FLUSH {
            staged.push(Bytes::from_static(b"x"));
        }
        assert!(staged.is_full());
        staged.clear();
        assert_eq!(staged.frames.capacity(), 0);
    }
}
