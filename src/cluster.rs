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
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::{
    hub::Hub,
    notice::{AppendNotice, CONTROL_TOPIC, ControlNotice, EVENTS_TOPIC},
};

const RECONNECT_BACKOFF_MAX: Duration = Duration::from_secs(5);

/// Listens until `shutdown`; returns once LISTEN is in place, so that nothing
/// committed after startup is missed.
pub async fn start(
    database_url: String,
    hub: Arc<Hub>,
    shutdown: CancellationToken,
) -> Result<JoinHandle<()>, sqlx::Error> {
    let listener = connect(&database_url).await?;
    Ok(tokio::spawn(run(database_url, listener, hub, shutdown)))
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

async fn run(url: String, mut listener: PgListener, hub: Arc<Hub>, shutdown: CancellationToken) {
    loop {
        let received = tokio::select! {
            _ = shutdown.cancelled() => return,
            received = listener.try_recv() => received,
        };
        match received {
            Ok(Some(notification)) => handle(&hub, notification).await,
            Ok(None) => {
                // sqlx reconnected and listens again: fill the gap from the table.
                tracing::warn!("cluster bus connection lost and restored; catching up");
                hub.catch_up_rooms().await;
                hub.recheck_access().await;
            }
            Err(err) => {
                tracing::warn!(error = %err, "cluster bus connection failed; reconnecting");
                let Some(fresh) = reconnect(&url, &shutdown).await else {
                    return;
                };
                listener = fresh;
                hub.catch_up_rooms().await;
                hub.recheck_access().await;
            }
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

async fn handle(hub: &Hub, notification: PgNotification) {
    match notification.channel() {
        EVENTS_TOPIC => match serde_json::from_str::<AppendNotice>(notification.payload()) {
            Ok(notice) => hub.deliver_announced(notice).await,
            Err(err) => tracing::warn!(error = %err, "malformed event notice"),
        },
        CONTROL_TOPIC => match serde_json::from_str::<ControlNotice>(notification.payload()) {
            Ok(notice) => hub.apply_control(&notice),
            Err(err) => tracing::warn!(error = %err, "malformed control notice"),
        },
        other => tracing::debug!(topic = other, "notification on an unknown topic"),
    }
}
