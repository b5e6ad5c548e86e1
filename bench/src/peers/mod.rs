//! Servers under test behind one interface, so the fan-out scenario runs the
//! same workload against channelhub and its peers. Each adapter owns its
//! server process: dropping the adapter stops the server.

pub mod channelhub;
pub mod cluster;
pub mod nats;
pub mod sockudo;

use std::{future::Future, net::Ipv4Addr};

use anyhow::Result;
use futures_util::{FutureExt, SinkExt, StreamExt};
use tokio::net::TcpStream;
use tokio_tungstenite::{WebSocketStream, tungstenite::Message};

/// Most frames one `recv` takes without waiting.
const DRAIN_FRAMES: usize = 256;

/// What a text frame is to a protocol that sends one event per frame.
pub enum TextFrame {
    /// An event of the socket's subscription with this index (0 on a
    /// socket that holds one).
    Event(usize),
    /// A protocol message to answer with this text (an application ping).
    Answer(&'static str),
    /// A protocol message to skip.
    Other,
}

/// Waits for one text frame, then takes the frames already read as well (up
/// to `DRAIN_FRAMES`), handing each event to `on_event`: per-frame waiting
/// made the generator, not the servers, the bottleneck. `Ok(false)` when the
/// server closed the connection.
pub async fn read_event_frames<F: FnMut(usize, &[u8]) + Send>(
    ws: &mut WebSocketStream<TcpStream>,
    mut classify: impl FnMut(&[u8]) -> TextFrame,
    on_event: &mut F,
) -> Result<bool> {
    let mut taken = 0;
    loop {
        let next = if taken == 0 {
            ws.next().await
        } else if taken < DRAIN_FRAMES {
            match ws.next().now_or_never() {
                Some(next) => next,
                None => return Ok(true),
            }
        } else {
            return Ok(true);
        };
        match next {
            Some(Ok(Message::Text(text))) => match classify(text.as_bytes()) {
                TextFrame::Event(subscription) => {
                    on_event(subscription, text.as_bytes());
                    taken += 1;
                }
                TextFrame::Answer(answer) => ws.send(Message::text(answer)).await?,
                TextFrame::Other => {}
            },
            Some(Ok(Message::Close(_))) | None => return Ok(false),
            Some(Ok(_)) => continue, // WebSocket pings are answered by tungstenite
            Some(Err(err)) => return Err(err.into()),
        }
    }
}

/// One live subscriber socket, holding one subscription or several.
pub trait Subscriber: Send + 'static {
    /// Waits for the next frame and hands each event payload in it to
    /// `on_event` with the index of its subscription (the order of the
    /// channels given to [`Peer::subscribe_many`]; 0 on a socket of one).
    /// `Ok(false)` when the server closed the connection.
    fn recv<F: FnMut(usize, &[u8]) + Send>(
        &mut self,
        on_event: &mut F,
    ) -> impl Future<Output = Result<bool>> + Send;

    /// Subscriptions the server ended while the socket stayed open (the
    /// multiplexed socket's `unsubscribed`), since the last call: their
    /// index and the frame that ended them.
    fn take_ended(&mut self) -> Vec<(usize, String)> {
        Vec::new()
    }
}

/// A server that takes part in the fan-out comparison.
pub trait Peer: Send + Sync + 'static {
    type Sub: Subscriber;

    /// Short name used in tables and JSON.
    fn name(&self) -> String;

    /// Pids of the server processes (one, or one per node), for CPU and
    /// memory readings.
    fn pids(&self) -> Vec<u32>;

    /// Makes `channel` ready to subscribe and publish to.
    fn prepare_channel(&self, channel: &str) -> impl Future<Output = Result<()>> + Send;

    /// Opens a subscriber from `source`; returns once the server has
    /// registered the subscription, so nothing published later is missed.
    fn subscribe(
        &self,
        channel: &str,
        source: Ipv4Addr,
    ) -> impl Future<Output = Result<Self::Sub>> + Send;

    /// Opens one socket that subscribes to each of `channels` (distinct);
    /// returns once the server has registered them all. Peers without such
    /// a socket take only one channel.
    fn subscribe_many(
        &self,
        channels: &[String],
        source: Ipv4Addr,
    ) -> impl Future<Output = Result<Self::Sub>> + Send {
        async move {
            match channels {
                [one] => self.subscribe(one, source).await,
                _ => anyhow::bail!(
                    "{} has no socket that holds several subscriptions",
                    self.name()
                ),
            }
        }
    }

    /// Publishes one event per `data` string to `channel` in as few requests
    /// as the protocol allows; returns once the server has accepted them.
    fn publish(&self, channel: &str, data: &[String]) -> impl Future<Output = Result<()>> + Send;

    /// Most events `publish` should be given at once at maximum rate.
    fn max_batch(&self) -> usize;
}
