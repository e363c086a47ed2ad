//! Drain reports across the fleet: each instance publishes what it handed
//! out of each drain to `<prefix>drains/<instance>` (on a lease, so a dead
//! instance's figures vanish with it) and reads everybody's, so that
//! `GET /v1/drains` on any instance reports the latest hand-out of all
//! live instances. Twice a second; drains last minutes.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use etcd_client::{GetOptions, PutOptions};
use tokio_util::sync::CancellationToken;
use tracing::warn;

use super::store::timed;
use super::{Cluster, RETRY_EVERY, StoreError};
use crate::runtime::Runtime;
use crate::state::drains::Seen;

/// How often figures are published and read.
const EVERY: Duration = Duration::from_millis(500);

/// Every live instance's figures, by instance then drain id.
pub type Figures = BTreeMap<String, BTreeMap<String, Seen>>;

/// What was last read from etcd.
#[derive(Debug, Clone, Default)]
pub struct DrainBoard {
    /// Whether the last exchange with etcd worked.
    pub connected: bool,
    /// Other live instances' figures (this one's are always fresh locally).
    pub others: Figures,
}

impl Cluster {
    fn drains_prefix(&self) -> String {
        format!("{}drains/", self.config.prefix)
    }

    /// Other instances' drain figures as last read.
    pub fn drain_board(&self) -> DrainBoard {
        self.drains
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    fn set_drain_board(&self, board: DrainBoard) {
        *self.drains.lock().unwrap_or_else(|e| e.into_inner()) = board;
    }
}

/// Publish and gather drain figures until `shutdown`.
pub async fn run(rt: Arc<Runtime>, cluster: Arc<Cluster>, shutdown: CancellationToken) {
    let mut warned = false;
    loop {
        match session(&rt, &cluster, &shutdown).await {
            Ok(()) => return,
            Err(e) => {
                cluster.set_drain_board(DrainBoard::default());
                if !warned {
                    warn!(
                        "cluster: drain reports lost etcd: {e}; reporting this instance's figures only"
                    );
                    warned = true;
                }
            }
        }
        tokio::select! {
            () = tokio::time::sleep(RETRY_EVERY) => {}
            () = shutdown.cancelled() => return,
        }
    }
}

async fn session(
    rt: &Runtime,
    cluster: &Cluster,
    shutdown: &CancellationToken,
) -> Result<(), StoreError> {
    let mut client = cluster.client().await?;
    let ttl = i64::try_from(cluster.config.lease_ttl.as_secs()).unwrap_or(10);
    let lease = timed(client.lease_grant(ttl, None)).await?.id();
    let (mut keeper, _kept) = timed(client.lease_keep_alive(lease)).await?;
    let prefix = cluster.drains_prefix();
    let own = format!("{prefix}{}", cluster.config.instance);
    let mut tick = tokio::time::interval(EVERY);
    let mut keepalive = tokio::time::interval(cluster.config.lease_ttl / 3);
    let mut published: Option<Vec<u8>> = None;
    loop {
        tokio::select! {
            () = shutdown.cancelled() => {
                let _ = tokio::time::timeout(Duration::from_millis(500), client.lease_revoke(lease)).await;
                return Ok(());
            }
            _ = keepalive.tick() => keeper.keep_alive().await.map_err(StoreError::unreachable)?,
            _ = tick.tick() => {
                let mine: BTreeMap<String, Seen> = rt
                    .drains()
                    .await
                    .into_iter()
                    .map(|d| (d.id, d.seen))
                    .collect();
                let body = serde_json::to_vec(&mine).map_err(|e| StoreError::Invalid {
                    key: own.clone(),
                    message: e.to_string(),
                })?;
                if published.as_ref() != Some(&body) {
                    timed(client.put(own.as_str(), body.clone(), Some(PutOptions::new().with_lease(lease)))).await?;
                    published = Some(body);
                }
                let resp = timed(client.get(prefix.as_str(), Some(GetOptions::new().with_prefix()))).await?;
                let mut others = Figures::new();
                for kv in resp.kvs() {
                    let Some(name) = std::str::from_utf8(kv.key()).ok().and_then(|k| k.strip_prefix(prefix.as_str())) else {
                        continue;
                    };
                    if name == cluster.config.instance || name.is_empty() {
                        continue;
                    }
                    match serde_json::from_slice::<BTreeMap<String, Seen>>(kv.value()) {
                        Ok(f) => {
                            others.insert(name.to_string(), f);
                        }
                        Err(e) => warn!(instance = name, "cluster: ignoring drain figures of {name}: {e}"),
                    }
                }
                cluster.set_drain_board(DrainBoard { connected: true, others });
            }
        }
    }
}
