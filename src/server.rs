//! Builds the app from its parts, serves it, and shuts it down in order:
//! stop accepting, close WebSocket sessions with 1001, let in-flight requests
//! finish, drain the event writer, exit.

use std::{sync::Arc, time::Duration};

use poem::{EndpointExt, Route, get};

use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::{
    api::{
        self,
        json::BodyLimit,
        problem,
        system::{ServerIdentity, well_known},
    },
    auth::Auth,
    cluster,
    config::ServeConfig,
    hub::{Hub, writer::EventWriter},
    limits::{
        LimitSettings, Limits,
        client::{ProxyHeader, TrustedProxies},
        http::{ConnectionSettings, serve as serve_http},
        rates::Rate,
    },
    live::{
        LiveRuntime,
        rooms::Rooms,
        ws::{MuxLimits, SessionLimits, Sessions},
    },
    store, telemetry,
    webhooks::{WebhookSettings, signing::ServerKey, worker::Worker},
};

pub async fn serve(config: ServeConfig) -> Result<(), Box<dyn std::error::Error>> {
    let metrics = telemetry::install();
    let store = store::open(&config.database_url).await?;
    tracing::info!(backend = store.backend(), "database ready");
    let (auth, generated_admin) = Auth::new(
        store.clone(),
        config.admin_token.as_deref(),
        config.jwt_settings(),
    )
    .await?;
    if let Some(token) = generated_admin {
        println!("Generated admin token (shown once, only its hash is kept): {token}");
    }
    let key = Arc::new(ServerKey::load_or_create(&*store).await?);
    let server_id = store
        .put_setting_if_absent("server_id", &ulid::Ulid::generate().to_string())
        .await?;
    let identity = Arc::new(ServerIdentity {
        server_id,
        version: env!("CARGO_PKG_VERSION"),
        webhook_public_key: key.public_key(),
        webhook_public_key_spki: key.spki_base64url(),
        mcp: config.mcp,
    });

    let rooms = Rooms::new(config.subscriber_queue_frames);
    let webhooks_queued = Arc::new(Notify::new());
    let live_runtime = LiveRuntime::start()?;
    let (writer, writer_task) = EventWriter::start(
        store.clone(),
        rooms.clone(),
        live_runtime.handle(),
        webhooks_queued.clone(),
        config.subscriber_queue_frames,
    );
    let stop_webhooks = CancellationToken::new();
    let webhook_worker = Worker::start(
        store.clone(),
        WebhookSettings {
            allow_private: config.allow_private_webhooks,
            timeout: config.webhook_timeout,
            disable_after: config.webhook_disable_after,
            retry_base: config.webhook_retry_base,
            retry_max: config.webhook_retry_max,
            jwt_secrets: config.jwt_settings().accepted_secrets(),
        },
        key.clone(),
        webhooks_queued,
        stop_webhooks.clone(),
    );
    let clustered = store.clustered();
    let hub = Arc::new(
        Hub::new(store, auth, rooms, writer, config.allow_private_webhooks)
            .with_idempotency_window(config.idempotency_window)
            .with_max_anonymous_webhooks(config.max_anonymous_webhooks_per_ip)
            .with_anonymous_webhooks(config.allow_anonymous_webhooks)
            .with_max_revocations(config.jwt_max_revocations),
    );
    let sessions = Sessions::new(
        SessionLimits {
            ping_interval: config.ping_interval,
            write_timeout: config.write_timeout,
            queue_frames: config.subscriber_queue_frames,
            queue_bytes: config.subscriber_queue_bytes,
            max_connections: config.max_connections,
            mux: MuxLimits {
                max_subscriptions: config.ws_max_subscriptions as usize,
                max_frame_bytes: config.ws_max_frame_bytes as usize,
                commands_per_second: config.ws_commands_per_second,
            },
        },
        live_runtime.handle().clone(),
    );

    let retention = tokio::spawn(run_retention(hub.clone(), config.retention_interval));
    let access_recheck = tokio::spawn(run_access_recheck(
        hub.clone(),
        config.access_recheck_interval,
    ));
    // With several nodes on one database: listen before serving, so nothing
    // committed from now on is missed, and share subscriber counts.
    let stop_cluster = CancellationToken::new();
    let cluster_tasks = if clustered {
        // The bus fans announced events out: it runs beside the sessions it
        // wakes, its connection opened on their runtime (see `hub::writer`).
        let listener = live_runtime
            .handle()
            .spawn(cluster::start(
                config.database_url.clone(),
                hub.clone(),
                tokio::runtime::Handle::current(),
                stop_cluster.clone(),
            ))
            .await??;
        let presence = tokio::spawn(report_presence(hub.clone(), stop_cluster.clone()));
        vec![listener, presence]
    } else {
        Vec::new()
    };

    let service = api::service(
        hub.clone(),
        sessions.clone(),
        key,
        config.public_url.clone(),
    );
    let limits = Limits::new(limit_settings(&config), hub.clone());
    let document = api::contract::document(&service);
    let allowed = api::methods::AllowedMethods::from_document(&document);
    let stop_mcp = CancellationToken::new();
    let mcp = config.mcp.then(|| {
        crate::mcp::endpoint(
            hub.clone(),
            limits.clone(),
            crate::mcp::McpSettings {
                max_body_bytes: config.max_body_bytes,
                body_timeout: config.body_timeout,
                allowed_origins: config.mcp_allowed_origins.clone(),
                shutdown: stop_mcp.clone(),
            },
        )
    });
    let mut app = Route::new()
        .nest("/docs", api::contract::swagger_ui(&service, &document))
        .at("/api/v1/openapi.json", api::contract::endpoint(document))
        .nest(
            "/api/v1",
            service
                .around(move |next, req| limits.clone().guard(next, req))
                .around(move |next, req| api::methods::guard(allowed.clone(), next, req)),
        )
        .at("/", get(api::system::console))
        .at("/console/app.js", get(api::system::console_script))
        .at("/console/style.css", get(api::system::console_style))
        .at("/healthz", get(api::system::healthz))
        .at("/readyz", get(api::system::readyz))
        .at("/.well-known/channelhub.json", get(well_known))
        .at(
            "/.well-known/zooid.json",
            get(api::system::zooid_well_known),
        )
        .at("/metrics", get(api::system::prometheus_metrics));
    if let Some(mcp) = mcp {
        app = app.at("/mcp", mcp);
    }
    let app = app
        .data(metrics)
        .data(hub)
        .data(identity)
        .data(BodyLimit {
            bytes: config.max_body_bytes,
            timeout: config.body_timeout,
        })
        .catch_all_error(|err| async move { problem::render(err) })
        .around(telemetry::observe);

    let listener = listen(config.listen)?;
    let local = listener.local_addr()?;
    println!("channelhub listening on http://{local}");
    tracing::info!(%local, "listening");

    let closing = sessions.clone();
    let grace = config.shutdown_grace;
    let (closed_tx, closed_rx) = tokio::sync::oneshot::channel();
    serve_http(
        listener,
        app.boxed(),
        ConnectionSettings {
            header_timeout: config.header_timeout,
            idle_timeout: config.idle_timeout,
            max_per_address: config.max_http_connections_per_ip,
            uncounted: trusted_proxies(&config),
            exempt_loopback: config.exempt_loopback,
        },
        async move {
            shutdown_signal().await;
            tracing::info!("shutting down");
            stop_mcp.cancel();
            tokio::spawn(async move {
                closing.shut_down(grace).await;
                let _ = closed_tx.send(());
            });
        },
        grace,
    )
    .await?;
    let _ = closed_rx.await;
    // Deliveries in flight are not recorded and will be retried after a restart.
    stop_webhooks.cancel();
    let _ = webhook_worker.await;
    stop_cluster.cancel();
    for task in cluster_tasks {
        let _ = task.await;
    }
    retention.abort();
    let _ = retention.await;
    access_recheck.abort();
    let _ = access_recheck.await;
    // The app and the retention task held the last hub handles: the writer
    // now finishes what is queued and stops.
    if tokio::time::timeout(grace, writer_task).await.is_err() {
        tracing::warn!("the event writer did not finish in time");
    }
    drop(live_runtime);
    tracing::info!("stopped");
    Ok(())
}

fn trusted_proxies(config: &ServeConfig) -> TrustedProxies {
    TrustedProxies {
        nets: config.trusted_proxies.clone(),
        header: ProxyHeader::parse(&config.trusted_proxy_header)
            .expect("clap allows only the known header names"),
    }
}

fn limit_settings(config: &ServeConfig) -> LimitSettings {
    let rate = |per_second, burst| Rate { per_second, burst };
    LimitSettings {
        trusted_proxies: trusted_proxies(config),
        exempt_loopback: config.exempt_loopback,
        limit_admin: config.rate_limit_admin,
        max_connections_per_ip: config.max_connections_per_ip,
        publish: rate(config.publish_rate, config.publish_burst),
        connect: rate(config.connect_rate, config.connect_burst),
        long_poll: rate(config.long_poll_rate, config.long_poll_burst),
        webhook: rate(config.webhook_rate, config.webhook_burst),
        handshake_timeout: config.handshake_timeout,
    }
}

/// How often this node tells the others how many subscribers it holds.
const PRESENCE_EVERY: Duration = Duration::from_secs(2);

async fn report_presence(hub: Arc<Hub>, stop: CancellationToken) {
    let mut ticks = tokio::time::interval(PRESENCE_EVERY);
    loop {
        tokio::select! {
            _ = stop.cancelled() => {
                if let Err(err) = hub.forget_node().await {
                    tracing::warn!(error = %err, "could not remove this node's report");
                }
                return;
            }
            _ = ticks.tick() => {}
        }
        if let Err(err) = hub.report_subscribers().await {
            tracing::warn!(error = %err, "could not report subscriber counts");
        }
        if let Err(err) = hub.report_node().await {
            tracing::warn!(error = %err, "could not report this node's state");
        }
    }
}

/// Closes live listeners whose access ended without a notice reaching this
/// node (an expired token, a notice lost while the bus was down).
async fn run_access_recheck(hub: Arc<Hub>, every: Duration) {
    let mut ticks = tokio::time::interval(every);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    ticks.tick().await;
    loop {
        ticks.tick().await;
        hub.recheck_access().await;
    }
}

async fn run_retention(hub: Arc<Hub>, every: Duration) {
    let mut ticks = tokio::time::interval(every);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        match hub.apply_retention().await {
            Ok(0) => {}
            Ok(removed) => tracing::info!(removed, "retention removed events"),
            Err(err) => tracing::warn!(error = %err, "retention sweep failed"),
        }
        // Tokens expire without a notice: their webhooks stop here.
        match hub.revoke_unauthorized_webhooks().await {
            Ok(0) => {}
            Ok(revoked) => tracing::info!(revoked, "webhooks stopped: their access ended"),
            Err(err) => tracing::warn!(error = %err, "webhook access sweep failed"),
        }
    }
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("can listen for SIGTERM");
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}

/// Connections the kernel may queue before the server accepts them. The
/// default of `TcpListener::bind` (128) drops part of a reconnect burst
/// (10 000 sockets after a restart), and a dropped connect waits a second
/// before its retry; the kernel caps this at `net.core.somaxconn`.
const LISTEN_BACKLOG: u32 = 4096;

fn listen(addr: std::net::SocketAddr) -> std::io::Result<tokio::net::TcpListener> {
    let socket = match addr {
        std::net::SocketAddr::V4(_) => tokio::net::TcpSocket::new_v4()?,
        std::net::SocketAddr::V6(_) => tokio::net::TcpSocket::new_v6()?,
    };
    // As `TcpListener::bind` does: a restart may bind while old connections linger.
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(LISTEN_BACKLOG)
}
