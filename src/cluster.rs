//! The cluster bus: several nodes on one PostgreSQL, kept in step with
//! LISTEN/NOTIFY.
//!
//! Every append is announced with `pg_notify` inside its own transaction, so
//! every node (the publishing one too) hears of committed events once, in
//! commit order, and fans them out from this one ordered stream. Small batches
//! travel inline; a batch too large for a notification travels as an id range
//! and is read back from the table. Control notices close sockets and clear
//! auth caches on every node. When the LISTEN connection is lost, the node
//! reconnects and catches each live room up from the table, so no subscriber
//! misses an event. This module owns that connection; what a notice means is
//! the hub's business.

use std::{sync::Arc, time::Duration};

use sqlx::postgres::{PgListener, PgNotification};
use tokio::{runtime::Handle, task::JoinHandle};
use tokio_util::sync::CancellationToken;

use crate::{
    hub::Hub,
    notice::{AppendNotice, CONTROL_TOPIC, ControlNotice, EVENTS_TOPIC},
};

const RECONNECT_BACKOFF_MAX: Duration = Duration::from_secs(5);

/// Listens until `shutdown`; returns once LISTEN is in place, so that nothing
/// committed after startup is missed.
///
/// The bus runs on the runtime it is started on (the live one, beside the
/// sessions it wakes); what it reads from the store runs on `store_runtime`,
/// which owns the store's connections.
pub async fn start(
    database_url: String,
    hub: Arc<Hub>,
    store_runtime: Handle,
    shutdown: CancellationToken,
) -> Result<JoinHandle<()>, sqlx::Error> {
    let listener = connect(&database_url).await?;
    let bus = Bus {
        url: database_url,
        hub,
        store_runtime,
    };
    Ok(tokio::spawn(bus.run(listener, shutdown)))
}

/// `application_name` of the LISTEN connection, to find it in `pg_stat_activity`.
pub const BUS_APPLICATION_NAME: &str = "channelhub-bus";

async fn connect(database_url: &str) -> Result<PgListener, sqlx::Error> {
    let separator = if database_url.contains('?') { '&' } else { '?' };
    let url = format!("{database_url}{separator}application_name={BUS_APPLICATION_NAME}");
    let mut listener = PgListener::connect(&url).await?;
    listener.listen_all([EVENTS_TOPIC, CONTROL_TOPIC]).await?;
    Ok(listener)
}

struct Bus {
    url: String,
    hub: Arc<Hub>,
    store_runtime: Handle,
}

impl Bus {
    async fn run(self, mut listener: PgListener, shutdown: CancellationToken) {
        loop {
            let received = tokio::select! {
                _ = shutdown.cancelled() => return,
                received = listener.try_recv() => received,
            };
            match received {
                Ok(Some(notification)) => self.handle(notification).await,
                Ok(None) => {
                    // sqlx reconnected and listens again: fill the gap from the table.
                    tracing::warn!("cluster bus connection lost and restored; catching up");
                    self.catch_up().await;
                }
                Err(err) => {
                    tracing::warn!(error = %err, "cluster bus connection failed; reconnecting");
                    let Some(fresh) = reconnect(&self.url, &shutdown).await else {
                        return;
                    };
                    listener = fresh;
                    self.catch_up().await;
                }
            }
        }
    }

    async fn handle(&self, notification: PgNotification) {
        match notification.channel() {
            // Decoded only where someone listens to the channel: every node
            // gets every notice.
            EVENTS_TOPIC
                if AppendNotice::channel_of(notification.payload())
                    .is_some_and(|channel| !self.hub.rooms().is_open(&channel)) => {}
            EVENTS_TOPIC => match serde_json::from_str::<AppendNotice>(notification.payload()) {
                Ok(notice) => {
                    // A batch that travelled as an id range, or a room that
                    // missed something, is read from the table first.
                    if let Some(read) = self.hub.deliver_announced(notice) {
                        let hub = self.hub.clone();
                        self.on_store_runtime(async move { hub.read_back(read).await })
                            .await;
                    }
                }
                Err(err) => tracing::warn!(error = %err, "malformed event notice"),
            },
            CONTROL_TOPIC => match serde_json::from_str::<ControlNotice>(notification.payload()) {
                Ok(notice) => self.hub.receive_control(&notice),
                Err(err) => tracing::warn!(error = %err, "malformed control notice"),
            },
            other => tracing::debug!(topic = other, "notification on an unknown topic"),
        }
    }

    /// Delivers what the rooms missed while the bus was cut, and closes the
    /// listeners that lost access meanwhile.
    async fn catch_up(&self) {
        let hub = self.hub.clone();
        self.on_store_runtime(async move {
            hub.catch_up_rooms().await;
            hub.recheck_access().await;
        })
        .await;
    }

    /// Runs store work where the store's connections live, and waits for it:
    /// the bus stays in commit order.
    async fn on_store_runtime(&self, work: impl Future<Output = ()> + Send + 'static) {
        if let Err(err) = self.store_runtime.spawn(work).await {
            tracing::error!(error = %err, "cluster bus store work failed");
        }
    }
}

async fn reconnect(url: &str, shutdown: &CancellationToken) -> Option<PgListener> {
    let mut backoff = Duration::from_millis(50);
    loop {
        match connect(url).await {
            Ok(listener) => return Some(listener),
            Err(err) => tracing::warn!(error = %err, "cluster bus reconnect failed"),
        }
        tokio::select! {
            _ = shutdown.cancelled() => return None,
            _ = tokio::time::sleep(backoff) => {}
        }
        backoff = (backoff * 2).min(RECONNECT_BACKOFF_MAX);
    }
}
