//! The event writer: one task that group-commits publishes (on a thread of
//! its own with SQLite), and one that fans the committed events out.
//!
//! Every publish on this node goes through one queue. The writer takes
//! whatever has queued up (up to a bound), appends it all in one transaction
//! (one fsync for many publishes), answers each publisher, and hands the
//! committed events, merged per channel, to the fan-out task, which broadcasts
//! them to the rooms in commit order, writing to parked subscribers' sockets
//! itself (`live::ws::direct`). So a 201 always means durable, live
//! delivery order is commit order, and the next commit never waits for the
//! previous one's fan-out to thousands of sockets.
//!
//! A group whose transaction fails for any reason but an unavailable
//! database is committed again one publish at a time, so that a publish whose
//! content the database refuses fails alone and never takes the others down.

use std::sync::{Arc, LazyLock};

use futures_util::future::BoxFuture;

use tokio::{
    sync::{Notify, mpsc, oneshot},
    task::JoinHandle,
};

use crate::{
    live::rooms::Rooms,
    model::{Event, MAX_BATCH_EVENTS, now_micros},
    store::{AppendBatch, Appended, BatchOutcome, Store, StoreError, StoreResult},
    telemetry,
};

/// Most publish requests committed in one transaction.
const MAX_GROUP_REQUESTS: usize = 256;
/// Publishes that may wait for the writer; further ones wait to be queued.
const QUEUE_DEPTH: usize = 4_096;
/// Committed groups that may wait for fan-out before the writer waits too.
const FANOUT_DEPTH: usize = 64;

/// One group's committed events, per channel, in commit order.
struct Committed {
    /// When the commit returned (µs since the Unix epoch).
    at: u64,
    channels: Vec<(String, Vec<Event>)>,
}

/// Why an append did not happen.
#[derive(Debug, Clone, thiserror::Error)]
pub enum AppendError {
    #[error("channel not found")]
    ChannelNotFound,
    /// The database refused this batch's content (not its availability).
    #[error("the database refused the events: {0}")]
    Refused(String),
    /// The batch's idempotency key was used already; nothing was stored.
    /// Its first use is found with `fresh_after` (see [`BatchOutcome::KeyUsed`]).
    #[error("idempotency key already used")]
    KeyUsed { fresh_after: crate::model::Millis },
    /// The transaction failed; nothing of it was stored.
    #[error("could not store the events: {0}")]
    Storage(String),
}

struct AppendRequest {
    batch: AppendBatch,
    reply: Reply,
}

/// Taken on first use, after the server installed its recorder.
static PUBLISH_TO_COMMIT: LazyLock<metrics::Histogram> =
    LazyLock::new(|| telemetry::stage_histogram(telemetry::STAGE_PUBLISH_TO_COMMIT));

/// Where a publish's outcome goes.
struct Reply {
    to: oneshot::Sender<Result<Vec<Event>, AppendError>>,
    /// When the writer was handed the publish (µs since the Unix epoch).
    queued_at: u64,
}

impl Reply {
    fn send(self, outcome: Result<Vec<Event>, AppendError>) {
        telemetry::record_since(&PUBLISH_TO_COMMIT, self.queued_at);
        // The publisher may have gone away; its events are committed anyway.
        let _ = self.to.send(outcome);
    }
}

/// Writers committing at once on a clustered store (PostgreSQL), each for
/// its own share of the channels. A commit there is a handful of network
/// round trips during which one writer would sit idle; transactions on
/// different channels take no common lock, so several run side by side, and
/// ids still follow commit order in each channel (its row lock orders them,
/// as between nodes). More writers make smaller groups, so more statements
/// per event for the database: on 2 cores shared with PostgreSQL, 4 writers
/// gained 100-event batches over 100 channels but lost single-event
/// publishes and three nodes (BENCHMARKS.md); 2 kept most of both. SQLite
/// has one writer: it allows one transaction.
const CLUSTERED_WRITERS: usize = 2;

#[derive(Clone)]
pub struct EventWriter {
    /// One queue per writer; a channel's publishes always take the same one.
    queues: Arc<[mpsc::Sender<AppendRequest>]>,
}

impl EventWriter {
    /// Starts the writers; they end once every `EventWriter` clone is dropped
    /// and their queues are drained.
    /// `webhooks_queued` is notified after a commit that queued webhook deliveries.
    pub fn start(
        store: Arc<dyn Store>,
        rooms: Arc<Rooms>,
        live: &tokio::runtime::Handle,
        webhooks_queued: Arc<Notify>,
        subscriber_queue_frames: usize,
    ) -> (EventWriter, JoinHandle<()>) {
        let max_group_events = (subscriber_queue_frames / 2).max(MAX_BATCH_EVENTS);
        // A clustered store announces commits to every node, this one included,
        // and fan-out happens from that one ordered stream instead.
        // Fan-out runs beside the sessions it wakes: on their runtime a
        // broadcast queues them locally, where from another runtime it had
        // to wake the live thread, once the shared runtime got round to it.
        let fanout = (!store.clustered()).then(|| {
            let (committed, groups) = mpsc::channel(FANOUT_DEPTH);
            // Within tokio's cooperative budget: each socket write spends a
            // unit of it, and past 128 in one turn the rest are handed to
            // their sessions' tasks, so the task yields to them.
            (committed, live.spawn(fan_out(rooms, groups)))
        });
        let (committed, fanout_task) = fanout.unzip();
        let writers = if store.clustered() {
            CLUSTERED_WRITERS
        } else {
            1
        };
        let mut queues = Vec::with_capacity(writers);
        let mut runs = Vec::with_capacity(writers);
        for _ in 0..writers {
            let (queue, requests) = mpsc::channel(QUEUE_DEPTH / writers);
            queues.push(queue);
            runs.push(run(
                store.clone(),
                committed.clone(),
                webhooks_queued.clone(),
                requests,
                max_group_events,
            ));
        }
        let writers_done = run_on_own_thread(runs);
        // The fan-out task ends once every writer has dropped its sender.
        drop(committed);
        let task = tokio::spawn(async move {
            let _ = writers_done.await;
            if let Some(fanout_task) = fanout_task {
                let _ = fanout_task.await;
            }
        });
        (
            EventWriter {
                queues: queues.into(),
            },
            task,
        )
    }

    /// Appends a batch; returns once it is durable.
    pub async fn append(&self, batch: AppendBatch) -> Result<Vec<Event>, AppendError> {
        let (to, answer) = oneshot::channel();
        let stopped = || AppendError::Storage("the event writer has stopped".into());
        let reply = Reply {
            to,
            queued_at: now_micros(),
        };
        self.queue_of(&batch.channel_id)
            .send(AppendRequest { batch, reply })
            .await
            .map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }

    /// The queue of the writer that commits a channel's publishes.
    fn queue_of(&self, channel_id: &str) -> &mpsc::Sender<AppendRequest> {
        let mut hasher = std::hash::DefaultHasher::new();
        std::hash::Hash::hash(channel_id, &mut hasher);
        let share = std::hash::Hasher::finish(&hasher) as usize % self.queues.len();
        &self.queues[share]
    }
}

async fn run(
    store: Arc<dyn Store>,
    committed: Option<mpsc::Sender<Committed>>,
    webhooks_queued: Arc<Notify>,
    mut requests: mpsc::Receiver<AppendRequest>,
    max_group_events: usize,
) {
    let mut pending: Vec<AppendRequest> = Vec::with_capacity(MAX_GROUP_REQUESTS);
    loop {
        if pending.is_empty() {
            if requests.recv_many(&mut pending, MAX_GROUP_REQUESTS).await == 0 {
                return;
            }
        } else {
            while pending.len() < MAX_GROUP_REQUESTS {
                match requests.try_recv() {
                    Ok(request) => pending.push(request),
                    Err(_) => break,
                }
            }
        }
        let rest = pending.split_off(group_len(&pending, max_group_events));
        commit_group(
            &*store,
            committed.as_ref(),
            &webhooks_queued,
            std::mem::replace(&mut pending, rest),
        )
        .await;
    }
}

/// Runs the writers on a thread of their own. On the shared runtime each
/// of a commit's round trips waited for a runtime worker busy parsing request
/// bodies or writing responses, and commits are the one serial step of
/// publishing (SQLite, 100-event batches: about 150 000 events/s shared,
/// 200 000 on its own thread). sqlx-sqlite talks to its worker through
/// channels, which serve any runtime; a PostgreSQL connection's socket is
/// served by the runtime that opened it, so the store opens its append
/// connections from here (`begin_append`), on the writers' first commits.
fn run_on_own_thread<W>(writers: Vec<W>) -> JoinHandle<()>
where
    W: Future<Output = ()> + Send + 'static,
{
    let (stopped, done) = oneshot::channel();
    std::thread::Builder::new()
        .name("channelhub-writer".into())
        .spawn(move || {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a runtime for the event writer")
                .block_on(async move {
                    // One task each: a writer that panics fails its own
                    // channels' publishes (503), not the other writer's.
                    let tasks: Vec<_> = writers.into_iter().map(tokio::spawn).collect();
                    for task in tasks {
                        if let Err(err) = task.await {
                            tracing::error!(error = %err, "an event writer stopped");
                        }
                    }
                });
            let _ = stopped.send(());
        })
        .expect("a thread for the event writer");
    tokio::spawn(async move {
        let _ = done.await;
    })
}

/// How many of the pending requests fit in one transaction (at least one).
fn group_len(pending: &[AppendRequest], max_events: usize) -> usize {
    let mut events = 0;
    pending
        .iter()
        .position(|request| {
            events += request.batch.events.len();
            events > max_events
        })
        .unwrap_or(pending.len())
        .max(1)
}

async fn fan_out(rooms: Arc<Rooms>, mut groups: mpsc::Receiver<Committed>) {
    while let Some(group) = groups.recv().await {
        for (channel_id, events) in group.channels {
            rooms.broadcast_and_write(&channel_id, &events, Some(group.at));
        }
    }
}

/// What committing needs of the store: one transactional append. A seam,
/// so that the isolation of a failing publish can be tested.
trait Append: Send + Sync {
    fn append<'a>(&'a self, batches: &'a [AppendBatch]) -> BoxFuture<'a, StoreResult<Appended>>;
}

impl Append for dyn Store {
    fn append<'a>(&'a self, batches: &'a [AppendBatch]) -> BoxFuture<'a, StoreResult<Appended>> {
        self.append_events(batches)
    }
}

async fn commit_group<S: Append + ?Sized>(
    store: &S,
    committed: Option<&mpsc::Sender<Committed>>,
    webhooks_queued: &Notify,
    group: Vec<AppendRequest>,
) {
    let (batches, replies): (Vec<AppendBatch>, Vec<_>) =
        group.into_iter().map(|r| (r.batch, r.reply)).unzip();
    match store.append(&batches).await {
        Ok(appended) => answer(committed, webhooks_queued, &batches, replies, appended).await,
        // One publish's content may have failed the whole transaction: commit
        // each alone, so that only the publish at fault fails.
        Err(err) if batches.len() > 1 && !is_unavailable(&err) => {
            tracing::warn!(error = %err, publishes = batches.len(), "group commit failed; committing each publish alone");
            for (batch, reply) in batches.into_iter().zip(replies) {
                let one = std::slice::from_ref(&batch);
                match store.append(one).await {
                    Ok(appended) => {
                        answer(committed, webhooks_queued, one, vec![reply], appended).await
                    }
                    Err(err) => fail(vec![reply], &err),
                }
            }
        }
        Err(err) => fail(replies, &err),
    }
}

/// Whether a failed append says the database is unreachable or overloaded
/// (then retrying each publish alone would only fail again, slower), rather
/// than that something in the group was refused.
fn is_unavailable(err: &StoreError) -> bool {
    match err {
        StoreError::Database(sqlx::Error::Database(db)) => db.code().is_some_and(|code| {
            ["08", "53", "57"]
                .iter()
                .any(|class| code.starts_with(class))
        }),
        StoreError::Database(
            sqlx::Error::Io(_)
            | sqlx::Error::Tls(_)
            | sqlx::Error::Protocol(_)
            | sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::WorkerCrashed,
        ) => true,
        _ => false,
    }
}

/// Answers publishers whose append failed: refused for their content, or
/// not stored because the database is unavailable.
fn fail(replies: Vec<Reply>, err: &StoreError) {
    tracing::error!(error = %err, publishes = replies.len(), "append failed");
    let reason = err.to_string();
    for reply in replies {
        let failure = if is_unavailable(err) {
            AppendError::Storage(reason.clone())
        } else {
            AppendError::Refused(reason.clone())
        };
        reply.send(Err(failure));
    }
}

/// Answers each publisher of a committed group and hands its events to fan-out.
async fn answer(
    committed: Option<&mpsc::Sender<Committed>>,
    webhooks_queued: &Notify,
    batches: &[AppendBatch],
    replies: Vec<Reply>,
    appended: Appended,
) {
    let stored: usize = appended
        .outcomes
        .iter()
        .map(|outcome| match outcome {
            BatchOutcome::Stored(events) => events.len(),
            _ => 0,
        })
        .sum();
    metrics::counter!(crate::telemetry::EVENTS_PUBLISHED).increment(stored as u64);
    if appended.webhook_jobs > 0 {
        webhooks_queued.notify_one();
    }
    let mut per_channel = Committed {
        at: now_micros(),
        channels: Vec::new(),
    };
    for ((batch, reply), outcome) in batches.iter().zip(replies).zip(appended.outcomes) {
        let answer = match outcome {
            BatchOutcome::Stored(events) => {
                if committed.is_some() {
                    merge_into(&mut per_channel.channels, &batch.channel_id, &events);
                }
                Ok(events)
            }
            BatchOutcome::ChannelGone => Err(AppendError::ChannelNotFound),
            BatchOutcome::KeyUsed { fresh_after } => Err(AppendError::KeyUsed { fresh_after }),
        };
        reply.send(answer);
    }
    if let Some(committed) = committed {
        // Waits only when fan-out is far behind: backpressure, not loss.
        let _ = committed.send(per_channel).await;
    }
}

/// Adds a batch's events to its channel's list, so that each room gets one
/// broadcast per commit.
fn merge_into(per_channel: &mut Vec<(String, Vec<Event>)>, channel_id: &str, events: &[Event]) {
    match per_channel.iter_mut().find(|(id, _)| id == channel_id) {
        Some((_, list)) => list.extend_from_slice(events),
        None => per_channel.push((channel_id.to_owned(), events.to_vec())),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;
    use crate::model::{NewEvent, Publisher};

    /// A store whose transactions fail when they hold a batch for `bad`.
    struct RefusesChannel {
        bad: &'static str,
        unavailable: bool,
        transactions: AtomicUsize,
    }

    impl Append for RefusesChannel {
        fn append<'a>(
            &'a self,
            batches: &'a [AppendBatch],
        ) -> BoxFuture<'a, StoreResult<Appended>> {
            Box::pin(self.append_now(batches))
        }
    }

    impl RefusesChannel {
        async fn append_now(&self, batches: &[AppendBatch]) -> StoreResult<Appended> {
            self.transactions.fetch_add(1, Ordering::SeqCst);
            if batches.iter().any(|b| b.channel_id == self.bad) {
                return Err(StoreError::Database(if self.unavailable {
                    sqlx::Error::PoolTimedOut
                } else {
                    sqlx::Error::RowNotFound
                }));
            }
            Ok(Appended {
                outcomes: batches
                    .iter()
                    .map(|_| BatchOutcome::Stored(Vec::new()))
                    .collect(),
                webhook_jobs: 0,
            })
        }
    }

    type Answer = oneshot::Receiver<Result<Vec<Event>, AppendError>>;

    fn group(channels: &[&str]) -> (Vec<AppendRequest>, Vec<Answer>) {
        channels
            .iter()
            .map(|channel| {
                let (to, answer) = oneshot::channel();
                let reply = Reply { to, queued_at: 0 };
                let batch = AppendBatch {
                    channel_id: (*channel).to_owned(),
                    publisher: Publisher::admin(),
                    token_id: None,
                    events: vec![NewEvent::new(None, serde_json::json!(1), None)],
                    idempotency: None,
                };
                (AppendRequest { batch, reply }, answer)
            })
            .unzip()
    }

    async fn outcomes(answers: Vec<Answer>) -> Vec<bool> {
        let mut ok = Vec::new();
        for answer in answers {
            ok.push(answer.await.expect("answered").is_ok());
        }
        ok
    }

    #[tokio::test]
    async fn a_publish_the_database_refuses_fails_alone() {
        let store = RefusesChannel {
            bad: "bad",
            unavailable: false,
            transactions: AtomicUsize::new(0),
        };
        let (requests, answers) = group(&["a", "bad", "b"]);
        commit_group(&store, None, &Notify::new(), requests).await;
        assert_eq!(outcomes(answers).await, [true, false, true]);
        assert_eq!(store.transactions.load(Ordering::SeqCst), 1 + 3);
    }

    #[tokio::test]
    async fn an_unavailable_database_fails_the_group_at_once() {
        let store = RefusesChannel {
            bad: "bad",
            unavailable: true,
            transactions: AtomicUsize::new(0),
        };
        let (requests, answers) = group(&["a", "bad", "b"]);
        commit_group(&store, None, &Notify::new(), requests).await;
        assert_eq!(outcomes(answers).await, [false, false, false]);
        assert_eq!(store.transactions.load(Ordering::SeqCst), 1);
    }
}
