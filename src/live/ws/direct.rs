//! Writing to a parked session's socket from the broadcast itself.
//!
//! A per-channel session reads its room's ring through [`Parked`], which
//! holds its place in the ring (the receiver) for good. With nothing queued
//! it parks: it lends its write half to the room and waits for anything but
//! the ring. Each batch the room then broadcasts is taken from the ring,
//! filtered and written straight to the socket on the broadcasting thread,
//! without waking the session's task — one wake-up per commit for the room
//! instead of one per subscriber. Taking the batch from the ring as it is
//! written keeps the ring as it was: each entry is freed once every listener
//! has it, and an overrun still means a listener that fell behind.
//!
//! The session is woken instead when the socket would not take all of the
//! batch (the rest, a frame perhaps cut in the middle, waits here for it),
//! when the write failed, when its token has expired, or when anything but
//! events enters the ring (a close order, which the room sends with its
//! place held: no batch is written directly after one). Whatever wakes the
//! session (a ping, a read, the room), it takes its writer back before doing
//! anything else and first finishes a frame a direct write left cut short.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use tokio::sync::{
    Notify,
    broadcast::{self, error::TryRecvError},
};

use super::{
    Sessions,
    socket::Writer,
    write::{Staged, WrittenNow, count_delivered, write_now},
};
use crate::live::rooms::{Access, DirectListener, LiveBatch, RoomMessage, has_passed};

/// A session's place in its room's ring, and its writer while it is parked.
pub(super) struct Parked {
    state: Mutex<ParkState>,
    /// Notified when the session must take over.
    pub(super) woken: Notify,
    types: Vec<String>,
    /// When the session's token expires.
    expires_at: Option<tokio::time::Instant>,
    frames_delivered: metrics::Counter,
    commit_to_socket: metrics::Histogram,
}

pub(super) struct ParkState {
    /// The session's place in the ring.
    pub(super) receiver: broadcast::Receiver<RoomMessage>,
    /// The session's write half, lent while it is parked.
    writer: Option<Writer>,
    /// The session was told to take over: nothing more is written directly.
    woken: bool,
    /// Frames and bytes of the room's stream taken so far.
    taken: (u64, u64),
    /// Live events up to this id were replayed already.
    replayed_through: Option<String>,
    /// What a direct write left unwritten (the session writes it).
    left: Staged,
    /// A direct write found the connection gone.
    failed: bool,
    /// A broadcast found the session's token expired.
    expired: bool,
}

/// What a session finds when it takes its writer back.
pub(super) struct Unparked {
    /// The socket failed during a direct write.
    pub(super) failed: bool,
    /// Its token expired while it was parked.
    pub(super) expired: bool,
}

/// Why a session could not park.
pub(super) enum NotParked {
    /// The ring holds this for the session.
    Message(RoomMessage),
    /// The ring overran the session.
    Lagged,
    /// The room is gone.
    Closed,
}

impl Parked {
    pub(super) fn new(
        receiver: broadcast::Receiver<RoomMessage>,
        types: Vec<String>,
        access: &Access,
        sessions: &Sessions,
    ) -> Arc<Parked> {
        Arc::new(Parked {
            state: Mutex::new(ParkState {
                receiver,
                writer: None,
                woken: true,
                taken: (0, 0),
                replayed_through: None,
                left: Staged::default(),
                failed: false,
                expired: false,
            }),
            woken: Notify::new(),
            types,
            expires_at: access.expires_at,
            frames_delivered: sessions.frames_delivered.clone(),
            commit_to_socket: sessions.commit_to_socket.clone(),
        })
    }

    /// The state, for the session to read the ring while it is not parked.
    pub(super) fn state(&self) -> MutexGuard<'_, ParkState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Parks the session when its ring holds nothing for it: the writer, its
    /// place and its (empty) staging list go to the room. Checked under the
    /// state's lock, which a broadcast takes after putting its batch in the
    /// ring, so a batch is either found here or offered to the parked session.
    pub(super) fn park(
        &self,
        writer: &mut Option<Writer>,
        staged: &mut Staged,
        taken: (u64, u64),
        replayed_through: &mut Option<String>,
    ) -> Result<(), NotParked> {
        let mut state = self.state();
        match state.receiver.try_recv() {
            Ok(message) => return Err(NotParked::Message(message)),
            Err(TryRecvError::Lagged(_)) => return Err(NotParked::Lagged),
            Err(TryRecvError::Closed) => return Err(NotParked::Closed),
            Err(TryRecvError::Empty) => {}
        }
        state.writer = writer.take();
        // One list per session, wherever it is (not one here and one there).
        state.left = std::mem::take(staged);
        state.woken = false;
        state.taken = taken;
        state.replayed_through = replayed_through.take();
        Ok(())
    }

    /// Takes the writer back, with the place the direct writes reached and
    /// what they left unwritten (moved into `staged`, which is empty).
    pub(super) fn unpark(
        &self,
        writer: &mut Option<Writer>,
        staged: &mut Staged,
        taken: &mut (u64, u64),
        replayed_through: &mut Option<String>,
    ) -> Unparked {
        let mut state = self.state();
        *writer = state.writer.take();
        state.woken = true;
        *taken = state.taken;
        *replayed_through = state.replayed_through.take();
        *staged = std::mem::take(&mut state.left);
        Unparked {
            failed: std::mem::take(&mut state.failed),
            expired: state.expired,
        }
    }

    fn hand_over(&self, state: &mut ParkState) {
        state.woken = true;
        self.woken.notify_one();
    }
}

impl DirectListener for Parked {
    fn offer(&self, batch: &Arc<LiveBatch>) {
        let mut state = self.state();
        let state = &mut *state;
        if state.woken || state.writer.is_none() {
            return;
        }
        if has_passed(self.expires_at) {
            // It may read no more: the session ends, the batch unread.
            state.expired = true;
            return self.hand_over(state);
        }
        // The ring was empty when the session parked, and every entry since
        // was offered here (close orders wake it instead): this batch is
        // next, unless the session has read it already.
        match state.receiver.try_recv() {
            Ok(RoomMessage::Events(next)) if Arc::ptr_eq(&next, batch) => {}
            // Not expected. An entry taken here is lost to the session, so
            // it is ended: the client resumes from the last event it has.
            // The session took it from the ring itself, between the send
            // and this offer (woken for something else, it parked again).
            Err(TryRecvError::Empty) => return,
            _ => {
                state.failed = true;
                return self.hand_over(state);
            }
        }
        state.taken = (batch.end_frames, batch.end_bytes);
        let replayed = state.replayed_through.as_deref();
        for event in batch
            .events
            .iter()
            .filter(|e| e.matches_types(&self.types) && replayed.is_none_or(|r| e.id.as_str() > r))
        {
            state.left.push(event.frame.clone());
        }
        if state.left.frames.is_empty() {
            return;
        }
        state.left.committed_at = batch.committed_at;
        let writer = state.writer.as_mut().expect("checked above");
        match write_now(writer, &mut state.left) {
            WrittenNow::All => {
                count_delivered(&state.left, &self.frames_delivered, &self.commit_to_socket);
                state.left.clear();
            }
            WrittenNow::Part => self.hand_over(state),
            WrittenNow::Failed => {
                state.failed = true;
                self.hand_over(state);
            }
        }
    }

    fn wake(&self) {
        let mut state = self.state();
        if state.writer.is_some() && !state.woken {
            self.hand_over(&mut state);
        }
    }
}
