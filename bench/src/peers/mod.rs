//! Servers under test behind one interface, so the fan-out scenario runs the
//! same workload against channelhub and its peers. Each adapter owns its
//! server process: dropping the adapter stops the server.

pub mod channelhub;
pub mod cluster;
pub mod nats;
pub mod sockudo;

use std::{future::Future, net::Ipv4Addr};

use anyhow::Result;

/// One live subscriber socket.
pub trait Subscriber: Send + 'static {
    /// Waits for the next frame and hands each event payload in it to
    /// `on_event`. `Ok(false)` when the server closed the connection.
    fn recv<F: FnMut(&[u8]) + Send>(
        &mut self,
        on_event: &mut F,
    ) -> impl Future<Output = Result<bool>> + Send;
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

    /// Publishes one event per `data` string to `channel` in as few requests
    /// as the protocol allows; returns once the server has accepted them.
    fn publish(&self, channel: &str, data: &[String]) -> impl Future<Output = Result<()>> + Send;

    /// Most events `publish` should be given at once at maximum rate.
    fn max_batch(&self) -> usize;
}
