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
//!   this long, or on which no request is in progress or has ended for this
//!   long (an HTTP/2 connection that only sends PINGs), is shut down
//!   gracefully (a request in progress may finish), and dropped if it stays
//!   silent as long again.
//! - `--max-http-connections-per-ip`: connections one client address (an
//!   IPv6 /64) may hold open; past it, a new one is closed at once. Trusted
//!   proxies are not counted (their clients are, by the limits), and
//!   loopback is not with `--exempt-loopback`.
//!
//! Each request carries a [`ConnectionClosed`] token, cancelled when its
//! socket is dropped: after a WebSocket upgrade that is when the session
//! ends, which is how a per-address slot is held for a socket's lifetime.
//! This module does not look at what requests ask for.

use std::{
    collections::HashMap,
    convert::Infallible,
    io,
    net::{IpAddr, SocketAddr},
    pin::Pin,
    sync::{
        Arc, Mutex, PoisonError,
        atomic::{AtomicU64, AtomicUsize, Ordering},
    },
    task::{Context, Poll},
    time::{Duration, Instant},
};

use hyper::body::{Body, Frame, Incoming, SizeHint};
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

use super::{
    LimitKind,
    client::{TrustedProxies, limit_key},
    count_refusal,
};

/// Deadlines every connection gets, and how many one address may hold.
#[derive(Debug, Clone)]
pub struct ConnectionSettings {
    pub header_timeout: Duration,
    pub idle_timeout: Duration,
    /// Open connections per client address (0: no cap).
    pub max_per_address: usize,
    /// Peers whose connections are not counted: the trusted proxies.
    pub uncounted: TrustedProxies,
    pub exempt_loopback: bool,
}

/// Open connections per address key.
#[derive(Default)]
struct OpenConnections(Mutex<HashMap<IpAddr, usize>>);

/// One counted connection; uncounted when dropped.
struct Counted {
    open: Arc<OpenConnections>,
    key: IpAddr,
}

impl OpenConnections {
    /// Counts a new connection from `peer`: `Err` when its address holds
    /// its maximum already; `Ok(None)` when it is not counted.
    fn admit(
        self: &Arc<Self>,
        peer: IpAddr,
        settings: &ConnectionSettings,
    ) -> Result<Option<Counted>, ()> {
        let peer = peer.to_canonical();
        if settings.max_per_address == 0
            || settings.uncounted.trusts(peer)
            || (settings.exempt_loopback && peer.is_loopback())
        {
            return Ok(None);
        }
        let key = limit_key(peer);
        let mut open = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        let count = open.entry(key).or_insert(0);
        if *count >= settings.max_per_address {
            return Err(());
        }
        *count += 1;
        Ok(Some(Counted {
            open: self.clone(),
            key,
        }))
    }
}

impl Drop for Counted {
    fn drop(&mut self) {
        let mut open = self.open.0.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(count) = open.get_mut(&self.key) {
            *count -= 1;
            if *count == 0 {
                open.remove(&self.key);
            }
        }
    }
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
    let open = Arc::new(OpenConnections::default());
    let local = listener.local_addr()?;
    let stopping = CancellationToken::new();
    let connections = TaskTracker::new();
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            _ = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    let Ok(counted) = open.admit(peer.ip(), &settings) else {
                        count_refusal(LimitKind::HttpConnectionsPerIp);
                        tracing::debug!(%peer, "connection refused: its address holds its maximum");
                        drop(stream);
                        continue;
                    };
                    connections.spawn(serve_connection(
                        stream,
                        local,
                        peer,
                        app.clone(),
                        settings.clone(),
                        stopping.clone(),
                        counted,
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
    counted: Option<Counted>,
) {
    let closed = CancellationToken::new();
    let activity = Arc::new(Activity::new());
    let requests = activity.clone();
    let io = TokioIo::new(Tracked {
        inner: stream,
        activity: activity.clone(),
        _closed: closed.clone().drop_guard(),
        _counted: counted,
    });
    let service = hyper::service::service_fn(move |mut req: hyper::Request<Incoming>| {
        req.extensions_mut()
            .insert(ConnectionClosed(closed.clone()));
        let app = app.clone();
        let request = InFlight::start(requests.clone());
        async move {
            let req = (
                req,
                LocalAddr(Addr::SocketAddr(local)),
                RemoteAddr(Addr::SocketAddr(peer)),
                Scheme::HTTP,
            )
                .into();
            let response: hyper::Response<_> = app.get_response(req).await.into();
            // In progress until its body is sent (or dropped).
            Ok::<_, Infallible>(response.map(move |body| Counting {
                body,
                _request: request,
            }))
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
                if activity.idle_for() >= settings.idle_timeout
                    || activity.without_requests_for() >= settings.idle_timeout
                {
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

/// A response body that keeps its request counted as in progress until it
/// is sent or dropped; otherwise the body itself, size included.
struct Counting<B> {
    body: B,
    _request: InFlight,
}

impl<B: Body + Unpin> Body for Counting<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        Pin::new(&mut self.body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

/// When a byte last moved on a connection, and its requests in progress.
struct Activity {
    start: Instant,
    last_ms: AtomicU64,
    in_flight: AtomicUsize,
    /// When the last request ended (0: the connection's start).
    last_request_ms: AtomicU64,
}

/// A request in progress on a connection, until dropped.
struct InFlight(Arc<Activity>);

impl InFlight {
    /// No clock read here: a connection with a request in progress is not
    /// idle whatever the time; the end of the request sets the time.
    fn start(activity: Arc<Activity>) -> InFlight {
        activity.in_flight.fetch_add(1, Ordering::AcqRel);
        InFlight(activity)
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.touch_request();
        self.0.in_flight.fetch_sub(1, Ordering::AcqRel);
    }
}

impl Activity {
    fn new() -> Activity {
        Activity {
            start: Instant::now(),
            last_ms: AtomicU64::new(0),
            in_flight: AtomicUsize::new(0),
            last_request_ms: AtomicU64::new(0),
        }
    }

    fn touch_request(&self) {
        let now = self.start.elapsed().as_millis() as u64;
        self.last_request_ms.store(now, Ordering::Relaxed);
    }

    /// How long the connection has had no request in progress (zero while
    /// one is).
    fn without_requests_for(&self) -> Duration {
        if self.in_flight.load(Ordering::Acquire) > 0 {
            return Duration::ZERO;
        }
        let last = Duration::from_millis(self.last_request_ms.load(Ordering::Relaxed));
        self.start.elapsed().saturating_sub(last)
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
    /// The socket's place among its address's connections: held as long as
    /// the socket, a WebSocket session after the upgrade included.
    _counted: Option<Counted>,
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
