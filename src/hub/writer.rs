//! The event writer: one task that group-commits publishes, then fans them out.
//!
//! Every publish on this node goes through one queue. The writer takes
//! whatever has queued up (up to a bound), appends it all in one transaction
//! (one fsync for many publishes), broadcasts the committed events to the
//! rooms in commit order, and only then answers each publisher. So a 201 always
//! means durable, and live delivery order is commit order.

use std::sync::Arc;

use tokio::{
    sync::{Notify, mpsc, oneshot},
    task::JoinHandle,
};

use crate::{
    live::rooms::Rooms,
    model::{Event, MAX_BATCH_EVENTS},
    store::{AppendBatch, Store},
};

/// Most publish requests committed in one transaction.
const MAX_GROUP_REQUESTS: usize = 256;
/// Publishes that may wait for the writer; further ones wait to be queued.
const QUEUE_DEPTH: usize = 4_096;

/// Why an append did not happen.
#[derive(Debug, Clone, thiserror::Error)]
pub enum AppendError {
    #[error("channel not found")]
    ChannelNotFound,
    /// The transaction failed; nothing of it was stored.
    #[error("could not store the events: {0}")]
    Storage(String),
}

struct AppendRequest {
    batch: AppendBatch,
    reply: oneshot::Sender<Result<Vec<Event>, AppendError>>,
}

#[derive(Clone)]
pub struct EventWriter {
    queue: mpsc::Sender<AppendRequest>,
}

impl EventWriter {
    /// Starts the writer task; it ends once every `EventWriter` clone is dropped
    /// and the queue is drained.
    /// `webhooks_queued` is notified after a commit that queued webhook deliveries.
    pub fn start(
        store: Arc<dyn Store>,
        rooms: Arc<Rooms>,
        webhooks_queued: Arc<Notify>,
        subscriber_queue_frames: usize,
    ) -> (EventWriter, JoinHandle<()>) {
        let (queue, requests) = mpsc::channel(QUEUE_DEPTH);
        let max_group_events = (subscriber_queue_frames / 2).max(MAX_BATCH_EVENTS);
        let task = tokio::spawn(run(
            store,
            rooms,
            webhooks_queued,
            requests,
            max_group_events,
        ));
        (EventWriter { queue }, task)
    }

    /// Appends a batch; returns once it is durable and broadcast.
    pub async fn append(&self, batch: AppendBatch) -> Result<Vec<Event>, AppendError> {
        let (reply, answer) = oneshot::channel();
        let stopped = || AppendError::Storage("the event writer has stopped".into());
        self.queue
            .send(AppendRequest { batch, reply })
            .await
            .map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }
}

async fn run(
    store: Arc<dyn Store>,
    rooms: Arc<Rooms>,
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
            &rooms,
            &webhooks_queued,
            std::mem::replace(&mut pending, rest),
        )
        .await;
    }
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

async fn commit_group(
    store: &dyn Store,
    rooms: &Rooms,
    webhooks_queued: &Notify,
    group: Vec<AppendRequest>,
) {
    let (batches, replies): (Vec<AppendBatch>, Vec<_>) =
        group.into_iter().map(|r| (r.batch, r.reply)).unzip();
    match store.append_events(&batches).await {
        Ok(appended) => {
            if appended.webhook_jobs > 0 {
                webhooks_queued.notify_one();
            }
            for ((batch, reply), result) in batches.iter().zip(replies).zip(appended.events) {
                let answer = match result {
                    Some(events) => {
                        // A clustered store announces commits to every node, this one
                        // included, and fan-out happens from that one ordered stream.
                        if !store.clustered() {
                            rooms.broadcast(&batch.channel_id, &events);
                        }
                        Ok(events)
                    }
                    None => Err(AppendError::ChannelNotFound),
                };
                let _ = reply.send(answer);
            }
        }
        Err(err) => {
            tracing::error!(error = %err, publishes = replies.len(), "append failed");
            let reason = err.to_string();
            for reply in replies {
                let _ = reply.send(Err(AppendError::Storage(reason.clone())));
            }
        }
    }
}
