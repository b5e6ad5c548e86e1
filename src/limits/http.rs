//! The HTTP connection loop: accepts TCP connections and serves each with
//! hyper's server builder, so that slow or idle clients cannot hold
//! connections for free. poem's `Server` does not expose the builder, and
//! without a timer hyper has no header deadline at all.
//!
//! - `--header-timeout`: a request's headers must arrive within it (hyper's
//!   `header_read_timeout`, counted from when the connection starts waiting
//!   for a request, so it also closes an HTTP/1 keep-alive connection that
//!   sends nothing).
//! - `--idle-timeout`: a connection on which no byte moves either way for
//!   this long is shut down gracefully (a request in progress may finish),
//!   and dropped if it stays silent as long again.
//!
//! Each request carries a [`ConnectionClosed`] token, cancelled when its
//! socket is dropped: after a WebSocket upgrade that is when the session
//! ends, which is how a per-address slot is held for a socket's lifetime.
//! This module does not look at what requests ask for.

use std::{
    convert::Infallible,
    io,
    net::SocketAddr,
    pin::Pin,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    task::{Context, Poll},
    time::{Duration, Instant},
};

use hyper::body::Incoming;
use hyper_util::{
    rt::{TokioExecutor, TokioIo, TokioTimer},
    server::conn::auto,
};
use poem::{
    Addr, Endpoint,
    endpoint::BoxEndpoint,
    http::uri::Scheme,
    web::{LocalAddr, RemoteAddr},
};
use tokio::{
    io::{AsyncRead, AsyncWrite, ReadBuf},
    net::{TcpListener, TcpStream},
};
use tokio_util::{
    sync::{CancellationToken, DropGuard},
    task::TaskTracker,
};

use super::{LimitKind, count_refusal};

/// Deadlines every connection gets.
#[derive(Debug, Clone, Copy)]
pub struct ConnectionSettings {
    pub header_timeout: Duration,
    pub idle_timeout: Duration,
}

/// Cancelled once the request's connection is closed (its socket dropped).
#[derive(Debug, Clone)]
pub struct ConnectionClosed(pub CancellationToken);

/// Serves `app` until `shutdown` resolves, then lets open connections finish
/// their requests for up to `grace`.
pub async fn serve(
    listener: TcpListener,
    app: BoxEndpoint<'static>,
    settings: ConnectionSettings,
    shutdown: impl Future<Output = ()>,
    grace: Duration,
) -> io::Result<()> {
    let app = Arc::new(app);
    let local = listener.local_addr()?;
    let stopping = CancellationToken::new();
    let connections = TaskTracker::new();
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            _ = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    connections.spawn(serve_connection(
                        stream,
                        local,
                        peer,
                        app.clone(),
                        settings,
                        stopping.clone(),
                    ));
                }
                // Out of file descriptors, most likely: wait rather than spin.
                Err(err) => {
                    tracing::warn!(error = %err, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
        }
    }
    drop(listener);
    stopping.cancel();
    connections.close();
    if tokio::time::timeout(grace, connections.wait())
        .await
        .is_err()
    {
        tracing::warn!("connections were still open when the shutdown grace ran out");
    }
    Ok(())
}

async fn serve_connection(
    stream: TcpStream,
    local: SocketAddr,
    peer: SocketAddr,
    app: Arc<BoxEndpoint<'static>>,
    settings: ConnectionSettings,
    stopping: CancellationToken,
) {
    let closed = CancellationToken::new();
    let activity = Arc::new(Activity::new());
    let io = TokioIo::new(Tracked {
        inner: stream,
        activity: activity.clone(),
        _closed: closed.clone().drop_guard(),
    });
    let service = hyper::service::service_fn(move |mut req: hyper::Request<Incoming>| {
        req.extensions_mut()
            .insert(ConnectionClosed(closed.clone()));
        let app = app.clone();
        async move {
            let req = (
                req,
                LocalAddr(Addr::SocketAddr(local)),
                RemoteAddr(Addr::SocketAddr(peer)),
                Scheme::HTTP,
            )
                .into();
            Ok::<hyper::Response<_>, Infallible>(app.get_response(req).await.into())
        }
    });
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(settings.header_timeout);
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_pending_accept_reset_streams(20)
        .max_header_list_size(16 * 1024);
    let conn = builder.serve_connection_with_upgrades(io, service);
    tokio::pin!(conn);

    let check_every = (settings.idle_timeout / 4).max(Duration::from_millis(100));
    let mut checks = tokio::time::interval(check_every);
    let mut shutting_down = false;
    loop {
        tokio::select! {
            result = conn.as_mut() => {
                if let Err(err) = result {
                    let header_timeout = err
                        .downcast_ref::<hyper::Error>()
                        .is_some_and(hyper::Error::is_timeout);
                    if header_timeout {
                        count_refusal(LimitKind::HeaderTimeout);
                        tracing::debug!(%peer, "request headers did not arrive in time");
                    } else {
                        tracing::debug!(%peer, error = %err, "connection ended with an error");
                    }
                }
                return;
            }
            _ = stopping.cancelled(), if !shutting_down => {
                shutting_down = true;
                conn.as_mut().graceful_shutdown();
            }
            _ = checks.tick() => {
                if activity.idle_for() >= settings.idle_timeout {
                    if shutting_down {
                        // Asked to finish, and silent for another whole period.
                        return;
                    }
                    count_refusal(LimitKind::IdleTimeout);
                    shutting_down = true;
                    activity.touch();
                    conn.as_mut().graceful_shutdown();
                }
            }
        }
    }
}

/// When a byte last moved on a connection.
struct Activity {
    start: Instant,
    last_ms: AtomicU64,
}

impl Activity {
    fn new() -> Activity {
        Activity {
            start: Instant::now(),
            last_ms: AtomicU64::new(0),
        }
    }

    fn touch(&self) {
        let now = self.start.elapsed().as_millis() as u64;
        self.last_ms.store(now, Ordering::Relaxed);
    }

    fn idle_for(&self) -> Duration {
        let last = Duration::from_millis(self.last_ms.load(Ordering::Relaxed));
        self.start.elapsed().saturating_sub(last)
    }
}

/// A socket that records activity and cancels its [`ConnectionClosed`]
/// token when dropped.
struct Tracked {
    inner: TcpStream,
    activity: Arc<Activity>,
    _closed: DropGuard,
}

impl AsyncRead for Tracked {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        if polled.is_ready() {
            self.activity.touch();
        }
        polled
    }
}

impl AsyncWrite for Tracked {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write(cx, buf);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.touch();
        }
        polled
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.touch();
        }
        polled
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}
