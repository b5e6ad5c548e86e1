//! Per-channel rooms: who is listening to a channel right now, and fan-out.
//!
//! A room exists while someone listens (a WebSocket session, a long-poll, a
//! stream) and holds one bounded broadcast ring. Committed events are
//! serialized once into shared buffers and pushed into the ring as one batch
//! per commit: every listener reads the same buffers, and is woken once per
//! batch, not once per event. The ring is the subscribers' outgoing queue:
//! memory stays bounded whatever clients do, and a listener that falls more
//! than the bound behind learns it is too slow instead of slowing the others.
//!
//! A listener with nothing left to do may also park itself in the room as a
//! [`DirectListener`]: the broadcast then hands it each batch right after
//! putting it in the ring, on the broadcasting thread, instead of waking its
//! task (as NATS writes to an idle subscriber's socket from the publisher's
//! read loop). Anything else sent to the ring (a close order) wakes it.
//!
//! Rooms know nothing of sockets or HTTP; sessions in `live::ws` read from them.

use std::{
    collections::{HashMap, HashSet},
    sync::{
        Arc, Mutex, RwLock,
        atomic::{AtomicU64, AtomicUsize, Ordering},
    },
};

use bytes::Bytes;
use tokio::sync::broadcast;
use tokio_tungstenite::tungstenite::Utf8Bytes;

use crate::{
    auth::{JwtGrant, JwtRevoked, JwtView},
    model::Event,
};

/// An event ready for delivery, serialized once and shared by every listener:
/// its whole WebSocket frame (server frames are unmasked, so the bytes are the
/// same for every socket) and, within the same buffer, its JSON text.
#[derive(Debug)]
pub struct LiveEvent {
    pub id: String,
    pub event_type: Option<String>,
    pub frame: Bytes,
    pub json: Utf8Bytes,
}

/// Events committed together, in order, as one ring entry.
#[derive(Debug)]
pub struct LiveBatch {
    pub events: Vec<LiveEvent>,
    /// Frames and bytes published to the room up to and including this batch:
    /// a listener compares them with the room's totals to see how far behind it is.
    pub end_frames: u64,
    pub end_bytes: u64,
    /// When the events were committed (µs since the Unix epoch), if this is
    /// their first delivery rather than a catch-up.
    pub committed_at: Option<u64>,
}

impl LiveEvent {
    pub fn matches_types(&self, types: &[String]) -> bool {
        types.is_empty()
            || self
                .event_type
                .as_deref()
                .is_some_and(|t| types.iter().any(|wanted| wanted == t))
    }
}

/// What a live listener holds its place with, checked again whenever access
/// to its channel changes.
#[derive(Debug, Clone, Default)]
pub struct Access {
    /// The channel token it presented and that keeps it here, if any (a
    /// subscribe token of this channel).
    pub token_id: Option<String>,
    /// The JWT that keeps it here, if any (one whose scopes read the channel).
    pub jwt: Option<Arc<JwtGrant>>,
    /// It holds no credential that would keep it on a private channel.
    pub anonymous: bool,
    /// When its token expires: the session ends then.
    pub expires_at: Option<tokio::time::Instant>,
}

impl Access {
    /// Whether its token has expired.
    pub fn has_expired(&self) -> bool {
        has_passed(self.expires_at)
    }

    /// Resolves when the listener's token expires; never, without one.
    pub fn expiry(&self) -> impl Future<Output = ()> + Send + 'static {
        // The timer is boxed, and only for a token that expires: every idle
        // session keeps this future, and a timer is ≈130 bytes.
        let timer = self
            .expires_at
            .map(|at| Box::pin(tokio::time::sleep_until(at)));
        async move {
            match timer {
                Some(timer) => timer.await,
                None => std::future::pending().await,
            }
        }
    }
}

/// Whether `at` (a token's expiry) has come; never, without one.
pub fn has_passed(at: Option<tokio::time::Instant>) -> bool {
    at.is_some_and(|at| at <= tokio::time::Instant::now())
}

/// Which listeners must be disconnected, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CloseOrder {
    /// The channel is gone: everyone leaves.
    ChannelDeleted,
    /// Listeners that hold this token lose access.
    TokenRevoked(String),
    /// Listeners holding a JWT of this key, or one now on the deny-list, lose
    /// access (sent to every room).
    JwtRevoked(Arc<JwtRevoked>),
    /// The channel became private: listeners without a token lose access.
    ChannelMadePrivate,
    /// Access as the database has it now (after this node may have missed
    /// notices): listeners whose token is not among `valid_tokens` leave,
    /// and, unless the channel is public, those without a token too.
    Recheck {
        public: bool,
        valid_tokens: Arc<HashSet<String>>,
        /// The trusted keys and the deny-list, as this node has them now.
        jwt: Arc<JwtView>,
    },
    /// This node could not deliver some committed events to the room (the
    /// store did not answer while it read them back): everyone leaves and
    /// resumes from the last event they have, so no one silently misses one.
    Interrupted,
}

impl CloseOrder {
    /// Whether a listener with this access must leave.
    pub fn applies_to(&self, access: &Access) -> bool {
        let token = access.token_id.as_deref();
        match self {
            CloseOrder::ChannelDeleted | CloseOrder::Interrupted => true,
            CloseOrder::TokenRevoked(revoked) => token == Some(revoked.as_str()),
            CloseOrder::ChannelMadePrivate => access.anonymous,
            CloseOrder::JwtRevoked(revoked) => {
                access.jwt.as_ref().is_some_and(|g| revoked.covers(g))
            }
            CloseOrder::Recheck {
                public,
                valid_tokens,
                jwt,
            } => {
                token.is_some_and(|id| !valid_tokens.contains(id))
                    || access.jwt.as_ref().is_some_and(|g| !jwt.holds(g))
                    || (!public && access.anonymous)
            }
        }
    }
}

/// Most parked listeners one broadcast writes to itself; those past it are
/// woken to write on their own tasks (spread over the live runtime's
/// threads), so one commit to a crowded room holds its place only so long.
const MAX_DIRECT_WRITES: usize = 1024;

/// A listener the broadcast hands batches to directly while it is parked
/// (see `live::ws::direct`). Called with the room's place held, right after
/// the batch or order entered the ring: a listener that is not parked
/// ignores the call and reads the ring as usual.
pub trait DirectListener: Send + Sync {
    /// A batch of events, the newest entry of the ring.
    fn offer(&self, batch: &Arc<LiveBatch>);
    /// Something other than events (a close order) entered the ring.
    fn wake(&self);
}

#[derive(Debug, Clone)]
pub enum RoomMessage {
    Events(Arc<LiveBatch>),
    Close(CloseOrder),
}

pub struct Room {
    sender: broadcast::Sender<RoomMessage>,
    /// Live WebSocket subscribers (what the API reports as `subscribers`).
    subscribers: AtomicUsize,
    /// Listeners that need every event in order (subscribers and SSE
    /// streams; not polls, which read the store once woken): a room with
    /// any is caught up after the bus was cut.
    continuous: AtomicUsize,
    /// Everyone holding the room open: subscribers plus waiting polls.
    holders: AtomicUsize,
    published_frames: AtomicU64,
    published_bytes: AtomicU64,
    progress: Mutex<Progress>,
    /// Listeners that take batches directly when parked.
    direct: Mutex<Vec<Arc<dyn DirectListener>>>,
}

/// Where a room is in its channel's event stream.
#[derive(Default)]
struct Progress {
    /// The newest event broadcast here: older ones arriving again are skipped.
    last_broadcast: Option<String>,
    /// The channel's newest event (`None`: it had none) when the first
    /// subscriber or stream joined: where a catch-up starts if nothing has
    /// been broadcast since. Unset while only polls wait here.
    joined_after: Option<Option<String>>,
}

/// Where a room is in its channel's event stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Place {
    /// Not known: only polls wait here and nothing was broadcast yet, or
    /// the room gave up what it had (see [`Rooms::interrupt`]).
    Unknown,
    /// Before the channel's first event.
    Start,
    /// After this event.
    After(String),
}

impl Place {
    /// The id a read must start after (`None`: from the first event), if
    /// the place is known.
    pub fn after(&self) -> Option<Option<String>> {
        match self {
            Place::Unknown => None,
            Place::Start => Some(None),
            Place::After(id) => Some(Some(id.clone())),
        }
    }
}

impl Progress {
    /// Whether event `id` is past what was broadcast here.
    fn is_new(&self, id: &str) -> bool {
        self.last_broadcast.as_deref().is_none_or(|last| last < id)
    }

    /// The newest event the room has, or had when it was joined.
    fn place(&self) -> Place {
        match (&self.last_broadcast, &self.joined_after) {
            (Some(id), _) | (None, Some(Some(id))) => Place::After(id.clone()),
            (None, Some(None)) => Place::Start,
            (None, None) => Place::Unknown,
        }
    }
}

impl Room {
    fn direct(&self) -> std::sync::MutexGuard<'_, Vec<Arc<dyn DirectListener>>> {
        self.direct.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Wakes the parked listeners: the ring holds something they must read.
    fn wake_direct(&self) {
        for listener in self.direct().iter() {
            listener.wake();
        }
    }

    /// Frames and bytes published to this room so far.
    pub fn published(&self) -> (u64, u64) {
        (
            self.published_frames.load(Ordering::Acquire),
            self.published_bytes.load(Ordering::Acquire),
        )
    }
}

/// All rooms of this node.
pub struct Rooms {
    rooms: RwLock<HashMap<String, Arc<Room>>>,
    queue_frames: usize,
}

/// A place in a room; leaving (drop) closes the room when it was the last.
pub struct Listener {
    rooms: Arc<Rooms>,
    channel_id: String,
    pub room: Arc<Room>,
    /// Its place in the ring; lent out by [`Listener::lend_receiver`].
    receiver: Option<broadcast::Receiver<RoomMessage>>,
    kind: Kind,
    direct: Option<Arc<dyn DirectListener>>,
}

/// What a listener is to its room.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// A WebSocket subscriber: counted, and needs every event.
    Subscriber,
    /// An SSE stream: needs every event.
    Stream,
    /// A long-poll: only woken.
    Poll,
}

impl Drop for Listener {
    fn drop(&mut self) {
        if let Some(direct) = self.direct.take() {
            // Order does not matter: a broadcast offers to each in turn.
            let mut parked = self.room.direct();
            if let Some(at) = parked.iter().position(|other| Arc::ptr_eq(other, &direct)) {
                parked.swap_remove(at);
            }
        }
        if self.kind == Kind::Subscriber {
            self.room.subscribers.fetch_sub(1, Ordering::AcqRel);
        }
        if self.kind != Kind::Poll {
            self.room.continuous.fetch_sub(1, Ordering::AcqRel);
        }
        if self.room.holders.fetch_sub(1, Ordering::AcqRel) == 1 {
            let mut rooms = self.rooms.rooms.write().unwrap_or_else(|e| e.into_inner());
            // Someone may have joined between the decrement and the lock.
            if self.room.holders.load(Ordering::Acquire) == 0
                && rooms
                    .get(&self.channel_id)
                    .is_some_and(|r| Arc::ptr_eq(r, &self.room))
            {
                rooms.remove(&self.channel_id);
            }
        }
    }
}

impl Listener {
    /// Its place in the room's ring.
    pub fn receiver(&mut self) -> &mut broadcast::Receiver<RoomMessage> {
        self.receiver
            .as_mut()
            .expect("the receiver is lent for good or not at all")
    }

    /// Gives its place in the ring to whoever reads for it from now on (a
    /// [`DirectListener`]); [`Listener::receiver`] must not be asked after.
    pub fn lend_receiver(&mut self) -> broadcast::Receiver<RoomMessage> {
        self.receiver
            .take()
            .expect("the receiver is lent only once")
    }

    /// Lets broadcasts hand this listener's batches to `direct` while it is
    /// parked; leaving the room ends it.
    pub fn deliver_directly(&mut self, direct: Arc<dyn DirectListener>) {
        self.room.direct().push(direct.clone());
        self.direct = Some(direct);
    }

    /// Tells the room the channel's newest event id (`None`: it had none) as
    /// this listener's access check read it: where the room's catch-up
    /// starts if it knows no later place.
    pub fn checked_at(&self, last_event_id: Option<String>) {
        let mut progress = self.room.progress.lock().unwrap_or_else(|e| e.into_inner());
        if progress.joined_after.is_none() {
            progress.joined_after = Some(last_event_id);
        }
    }
}

impl Rooms {
    /// `queue_frames` bounds each room's ring, and so each listener's backlog.
    pub fn new(queue_frames: usize) -> Arc<Rooms> {
        Arc::new(Rooms {
            rooms: RwLock::new(HashMap::new()),
            queue_frames: queue_frames.max(1),
        })
    }

    /// Joins a channel's room as a live subscriber (counted in
    /// `subscribers`). Join before checking access, so that no close order
    /// can fall between the check and the join; then tell the room where
    /// the channel was at the check ([`Listener::checked_at`]).
    pub fn subscribe(self: &Arc<Self>, channel_id: &str) -> Listener {
        self.listen(channel_id, Kind::Subscriber)
    }

    /// Joins a channel's room as an SSE stream: like a subscriber, but not
    /// counted in `subscribers`.
    pub fn stream(self: &Arc<Self>, channel_id: &str) -> Listener {
        self.listen(channel_id, Kind::Stream)
    }

    /// Joins a channel's room to be woken by new events (a long-poll).
    pub fn watch(self: &Arc<Self>, channel_id: &str) -> Listener {
        self.listen(channel_id, Kind::Poll)
    }

    fn listen(self: &Arc<Self>, channel_id: &str, kind: Kind) -> Listener {
        let mut rooms = self.rooms.write().unwrap_or_else(|e| e.into_inner());
        let room = rooms
            .entry(channel_id.to_owned())
            .or_insert_with(|| {
                Arc::new(Room {
                    sender: broadcast::channel(self.queue_frames).0,
                    subscribers: AtomicUsize::new(0),
                    continuous: AtomicUsize::new(0),
                    holders: AtomicUsize::new(0),
                    published_frames: AtomicU64::new(0),
                    published_bytes: AtomicU64::new(0),
                    progress: Mutex::new(Progress::default()),
                    direct: Mutex::new(Vec::new()),
                })
            })
            .clone();
        room.holders.fetch_add(1, Ordering::AcqRel);
        if kind == Kind::Subscriber {
            room.subscribers.fetch_add(1, Ordering::AcqRel);
        }
        if kind != Kind::Poll {
            room.continuous.fetch_add(1, Ordering::AcqRel);
        }
        let receiver = room.sender.subscribe();
        Listener {
            rooms: self.clone(),
            channel_id: channel_id.to_owned(),
            room,
            receiver: Some(receiver),
            kind,
            direct: None,
        }
    }

    fn room(&self, channel_id: &str) -> Option<Arc<Room>> {
        let rooms = self.rooms.read().unwrap_or_else(|e| e.into_inner());
        rooms.get(channel_id).cloned()
    }

    /// Delivers committed events, in order, to whoever listens on their
    /// channel, skipping any the room has had already. Costs nothing for a
    /// channel nobody listens to. `committed_at` (µs since the Unix epoch)
    /// times the delivery, when the events were committed just now.
    /// Parked listeners are woken to write on their own tasks.
    pub fn broadcast(&self, channel_id: &str, events: &[Event], committed_at: Option<u64>) {
        self.deliver(channel_id, events, committed_at, false);
    }

    /// Like [`Rooms::broadcast`], but writes to parked listeners' sockets
    /// from this task (up to [`MAX_DIRECT_WRITES`], and within tokio's
    /// cooperative budget: a write refused by it hands that listener to its
    /// own task). The SQLite fan-out task calls it.
    pub fn broadcast_and_write(
        &self,
        channel_id: &str,
        events: &[Event],
        committed_at: Option<u64>,
    ) {
        self.deliver(channel_id, events, committed_at, true);
    }

    fn deliver(&self, channel_id: &str, events: &[Event], committed_at: Option<u64>, write: bool) {
        let Some(room) = self.room(channel_id) else {
            return;
        };
        let mut progress = room.progress.lock().unwrap_or_else(|e| e.into_inner());
        let fresh: Vec<LiveEvent> = events
            .iter()
            .filter(|event| progress.is_new(&event.id))
            .map(|event| {
                let (frame, json) = super::text_frame(event.to_json_string());
                LiveEvent {
                    id: event.id.clone(),
                    event_type: event.event_type.clone(),
                    frame,
                    json,
                }
            })
            .collect();
        if fresh.is_empty() {
            return;
        }
        progress.last_broadcast = events.last().map(|event| event.id.clone());
        let bytes: u64 = fresh.iter().map(|e| e.json.len() as u64).sum();
        let batch = Arc::new(LiveBatch {
            end_frames: room
                .published_frames
                .fetch_add(fresh.len() as u64, Ordering::AcqRel)
                + fresh.len() as u64,
            end_bytes: room.published_bytes.fetch_add(bytes, Ordering::AcqRel) + bytes,
            events: fresh,
            committed_at,
        });
        // An error only means nobody is listening any more.
        let _ = room.sender.send(RoomMessage::Events(batch.clone()));
        // Then to the parked listeners, still in order: the place is held.
        for (i, listener) in room.direct().iter().enumerate() {
            if write && i < MAX_DIRECT_WRITES {
                listener.offer(&batch);
            } else {
                listener.wake();
            }
        }
    }

    /// Tells a channel's listeners that some of them must leave. A deleted
    /// channel's room forgets its place: a channel created again under the
    /// same id starts a new stream of ids.
    pub fn close(&self, channel_id: &str, order: CloseOrder) {
        if let Some(room) = self.room(channel_id) {
            // Held while the order is sent and the parked listeners woken, so
            // that no batch is handed to them directly after it.
            let mut progress = room.progress.lock().unwrap_or_else(|e| e.into_inner());
            if order == CloseOrder::ChannelDeleted {
                *progress = Progress::default();
            }
            let _ = room.sender.send(RoomMessage::Close(order));
            room.wake_direct();
        }
    }

    /// Closes a room's listeners because events up to `through` could not
    /// be delivered to it (they resume from what they have), and moves the
    /// room past them: listeners that join later start from there. Without
    /// `through` (how far the loss goes is unknown), the room forgets its
    /// place and takes the next batch as it comes.
    pub fn interrupt(&self, channel_id: &str, through: Option<String>) {
        let Some(room) = self.room(channel_id) else {
            return;
        };
        let mut progress = room.progress.lock().unwrap_or_else(|e| e.into_inner());
        match through {
            Some(id) => {
                if progress.is_new(&id) {
                    progress.last_broadcast = Some(id);
                }
            }
            None => *progress = Progress::default(),
        }
        let _ = room
            .sender
            .send(RoomMessage::Close(CloseOrder::Interrupted));
        room.wake_direct();
    }

    /// Sends `order` to every room on this node.
    pub fn close_everywhere(&self, order: CloseOrder) {
        for channel_id in self.channel_ids() {
            self.close(&channel_id, order.clone());
        }
    }

    /// Every channel with a room on this node (subscribers, streams or polls).
    pub fn channel_ids(&self) -> Vec<String> {
        let rooms = self.rooms.read().unwrap_or_else(|e| e.into_inner());
        rooms.keys().cloned().collect()
    }

    /// Whether anyone listens to a channel on this node.
    pub fn is_open(&self, channel_id: &str) -> bool {
        self.room(channel_id).is_some()
    }

    /// Where a channel's room is in the channel's event stream (`None` when
    /// nobody listens here). Events after the place and before a new batch
    /// are the ones the room would miss.
    pub fn position(&self, channel_id: &str) -> Option<Place> {
        let room = self.room(channel_id)?;
        let progress = room.progress.lock().unwrap_or_else(|e| e.into_inner());
        Some(progress.place())
    }

    /// Rooms with subscribers or streams and a known place, and the id
    /// after which each must catch up (`None`: from the channel's first event).
    pub fn catch_up_points(&self) -> Vec<(String, Option<String>)> {
        let rooms = self.rooms.read().unwrap_or_else(|e| e.into_inner());
        rooms
            .iter()
            .filter(|(_, room)| room.continuous.load(Ordering::Acquire) > 0)
            .filter_map(|(channel_id, room)| {
                let progress = room.progress.lock().unwrap_or_else(|e| e.into_inner());
                Some((channel_id.clone(), progress.place().after()?))
            })
            .collect()
    }

    /// Channels with live subscribers, and those subscribers, on this node.
    pub fn totals(&self) -> (u64, u64) {
        let counts = self.subscriber_counts();
        (counts.len() as u64, counts.iter().map(|(_, n)| n).sum())
    }

    /// Live WebSocket subscribers per channel on this node (channels with any).
    pub fn subscriber_counts(&self) -> Vec<(String, u64)> {
        let rooms = self.rooms.read().unwrap_or_else(|e| e.into_inner());
        rooms
            .iter()
            .map(|(channel_id, room)| {
                (
                    channel_id.clone(),
                    room.subscribers.load(Ordering::Acquire) as u64,
                )
            })
            .filter(|(_, count)| *count > 0)
            .collect()
    }

    /// Live WebSocket subscribers of a channel on this node.
    pub fn subscriber_count(&self, channel_id: &str) -> u64 {
        self.room(channel_id)
            .map_or(0, |room| room.subscribers.load(Ordering::Acquire) as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::format_millis;

    fn event(id: &str, event_type: Option<&str>) -> Event {
        Event {
            id: id.into(),
            channel_id: "abc".into(),
            event_type: event_type.map(str::to_owned),
            data: serde_json::json!({"n": 1}),
            meta: None,
            publisher_id: "admin".into(),
            publisher_name: None,
            created_at: format_millis(0),
        }
    }

    #[tokio::test]
    async fn rooms_live_while_someone_listens() {
        let rooms = Rooms::new(8);
        let mut sub = rooms.subscribe("abc");
        sub.checked_at(None);
        let watcher = rooms.watch("abc");
        assert_eq!(rooms.subscriber_count("abc"), 1);
        rooms.broadcast("abc", &[event("1", Some("a")), event("2", None)], None);
        let RoomMessage::Events(batch) = sub.receiver().recv().await.unwrap() else {
            panic!("expected events");
        };
        assert_eq!(batch.events.len(), 2, "one commit, one ring entry");
        assert_eq!((batch.end_frames, sub.room.published().0), (2, 2));
        let json = event("1", Some("a")).to_json_string();
        assert_eq!(&*batch.events[0].json, json);
        // A final, unmasked text frame (0x81) with a 16-bit length (126, then
        // the length in network order), then the JSON.
        let length = (json.len() as u16).to_be_bytes();
        assert!((126..65536).contains(&json.len()), "{json}");
        assert_eq!(
            batch.events[0].frame[..4],
            [0x81, 126, length[0], length[1]]
        );
        assert_eq!(&batch.events[0].frame[4..], json.as_bytes());
        assert!(batch.events[0].matches_types(&["a".into()]));
        assert!(!batch.events[1].matches_types(&["a".into()]));
        // Events already broadcast are not sent again.
        rooms.broadcast("abc", &[event("2", None)], None);
        rooms.broadcast("abc", &[event("3", None)], None);
        let RoomMessage::Events(next) = sub.receiver().recv().await.unwrap() else {
            panic!("expected events");
        };
        assert_eq!(next.events.len(), 1);
        assert_eq!(next.end_frames, 3);
        drop(sub);
        assert_eq!(rooms.subscriber_count("abc"), 0);
        assert!(
            rooms.room("abc").is_some(),
            "the watcher still holds the room"
        );
        drop(watcher);
        assert!(rooms.room("abc").is_none());
    }

    #[tokio::test]
    async fn a_listener_that_falls_behind_the_ring_is_told() {
        let rooms = Rooms::new(4);
        let mut sub = rooms.subscribe("abc");
        for i in 0..10 {
            rooms.broadcast("abc", &[event(&i.to_string(), None)], None);
        }
        assert!(matches!(
            sub.receiver().recv().await,
            Err(broadcast::error::RecvError::Lagged(_))
        ));
    }
}
