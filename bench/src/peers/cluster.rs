//! Several channelhub nodes on one PostgreSQL database, as one fan-out
//! target: subscribers are spread round-robin over the nodes, and publishes
//! go round-robin to every node, so most events reach most subscribers
//! through another node's LISTEN/NOTIFY bus. Its nodes are also a
//! [`HubNodes`] target of the publish scenario.

use std::{
    net::Ipv4Addr,
    sync::atomic::{AtomicUsize, Ordering},
};

use anyhow::{Result, ensure};

use super::{
    Peer,
    channelhub::{ChannelHub, HubNodes, HubSubscriber, Launch},
};
use crate::procs::{Database, Db};

pub struct HubCluster {
    // Field order matters: the nodes stop before the shared database is dropped.
    nodes: Vec<ChannelHub>,
    _database: Database,
    next_subscriber: AtomicUsize,
    next_publish: AtomicUsize,
}

impl HubCluster {
    /// Starts `nodes` servers on one fresh PostgreSQL database; `launch`
    /// names the binary, work directory and log tag (`<tag>-<node>.log`).
    pub async fn start(launch: Launch<'_>, nodes: usize) -> Result<HubCluster> {
        ensure!(nodes >= 1, "a cluster needs at least one node");
        let database = Database::create(Db::Postgres, launch.work_dir, launch.tag)?;
        let mut started = Vec::with_capacity(nodes);
        for n in 0..nodes {
            let tag = format!("{}-{n}", launch.tag);
            let node = Launch {
                tag: &tag,
                db: Db::Postgres,
                extra_args: launch.extra_args.clone(),
                ..launch
            };
            started.push(ChannelHub::start_on(node, &database.url, None).await?);
        }
        Ok(HubCluster {
            nodes: started,
            _database: database,
            next_subscriber: AtomicUsize::new(0),
            next_publish: AtomicUsize::new(0),
        })
    }

    fn round_robin(&self, counter: &AtomicUsize) -> &ChannelHub {
        &self.nodes[counter.fetch_add(1, Ordering::Relaxed) % self.nodes.len()]
    }
}

impl HubNodes for HubCluster {
    fn nodes(&self) -> &[ChannelHub] {
        &self.nodes
    }
}

impl Peer for HubCluster {
    type Sub = HubSubscriber;

    fn name(&self) -> String {
        format!("channelhub-pg-{}node", self.nodes.len())
    }

    fn pids(&self) -> Vec<u32> {
        self.nodes.iter().map(|n| n.pid()).collect()
    }

    async fn prepare_channel(&self, channel: &str) -> Result<()> {
        // The database is shared: one node creates it for all.
        self.nodes[0].create_channel(channel).await
    }

    async fn subscribe(&self, channel: &str, source: Ipv4Addr) -> Result<HubSubscriber> {
        self.round_robin(&self.next_subscriber)
            .subscribe(channel, source)
            .await
    }

    async fn publish(&self, channel: &str, data: &[String]) -> Result<()> {
        self.round_robin(&self.next_publish)
            .publish_data(channel, data, None)
            .await
    }

    fn max_batch(&self) -> usize {
        100
    }
}
