//! Client sockets: TCP connections bound to a chosen 127.0.0.x source address
//! (to get past the ~28 000 ephemeral ports of one source address) and
//! WebSocket handshakes over them with small per-connection buffers.

use std::{
    net::{Ipv4Addr, SocketAddr},
    sync::atomic::{AtomicUsize, Ordering},
};

use anyhow::{Context, Result};
use tokio::net::{TcpSocket, TcpStream};
use tokio_tungstenite::{
    WebSocketStream, client_async_with_config, tungstenite::protocol::WebSocketConfig,
};

/// Connections per source address before moving to the next one. Well under
/// the ephemeral range, because closed sockets keep their port in TIME_WAIT.
const PER_SOURCE: usize = 5_000;

/// The source address of the next client connection of this process:
/// 127.0.0.2, then 127.0.0.3, ... Addresses are never reused within a run,
/// so ports left in TIME_WAIT by an earlier scenario never collide.
pub fn next_source() -> Ipv4Addr {
    static CONNECTIONS: AtomicUsize = AtomicUsize::new(0);
    let n = 2 + (CONNECTIONS.fetch_add(1, Ordering::Relaxed) / PER_SOURCE) as u32;
    Ipv4Addr::new(127, (n >> 16) as u8, (n >> 8) as u8, n as u8)
}

/// A TCP connection to `target` from `source` (any free port).
pub async fn connect_from(source: Ipv4Addr, target: SocketAddr) -> Result<TcpStream> {
    connect_with(source, target, None).await
}

/// As [`connect_from`], with the socket's receive buffer (SO_RCVBUF) set
/// before connecting, so the window it offers stays that small.
async fn connect_with(
    source: Ipv4Addr,
    target: SocketAddr,
    recv_buffer: Option<usize>,
) -> Result<TcpStream> {
    let socket = TcpSocket::new_v4()?;
    if let Some(bytes) = recv_buffer {
        socket.set_recv_buffer_size(bytes as u32)?;
    }
    socket
        .bind(SocketAddr::from((source, 0)))
        .with_context(|| format!("binding {source}"))?;
    let stream = socket
        .connect(target)
        .await
        .with_context(|| format!("connecting to {target}"))?;
    stream.set_nodelay(true)?;
    Ok(stream)
}

/// A WebSocket client over a connection from `source`. The 4 KiB read
/// buffer keeps 10 000 client sockets from costing 1.3 GB on the generator.
pub async fn websocket(
    source: Ipv4Addr,
    target: SocketAddr,
    path: &str,
) -> Result<WebSocketStream<TcpStream>> {
    let stream = connect_from(source, target).await?;
    handshake(stream, target, path).await
}

/// A WebSocket client whose socket offers only `recv_buffer` bytes of
/// receive window: a subscriber that can be made to stop reading.
pub async fn websocket_with_recv_buffer(
    source: Ipv4Addr,
    target: SocketAddr,
    path: &str,
    recv_buffer: usize,
) -> Result<WebSocketStream<TcpStream>> {
    let stream = connect_with(source, target, Some(recv_buffer)).await?;
    handshake(stream, target, path).await
}

async fn handshake(
    stream: TcpStream,
    target: SocketAddr,
    path: &str,
) -> Result<WebSocketStream<TcpStream>> {
    let config = WebSocketConfig::default()
        .read_buffer_size(4096)
        .write_buffer_size(0);
    let url = format!("ws://{target}{path}");
    let (ws, _) = client_async_with_config(url.as_str(), stream, Some(config))
        .await
        .with_context(|| format!("WebSocket handshake with {url}"))?;
    Ok(ws)
}
