//! Keeping this instance's overrides in step with etcd: the first read at
//! start, and a watch on the overrides key that applies every change made
//! on any instance. When etcd is lost the last overrides seen keep
//! serving; on reconnect the key is read again, so nothing missed stays
//! missed.

use std::sync::Arc;

use etcd_client::{EventType, WatchOptions};
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use super::store::{self, Stored};
use super::{Cluster, REQUEST_TIMEOUT, RETRY_EVERY, StoreError};
use crate::runtime::Runtime;
use crate::state::OverrideSet;

/// The overrides to start with: etcd's when it answers (seeded from
/// `local` if etcd has none yet, so a fleet can start from one instance's
/// state file); `local` (the state file) when it does not. Returns them
/// with their revision (0 when read from the file).
pub async fn initial(cluster: &Cluster, local: OverrideSet) -> (OverrideSet, i64) {
    let stored = match cluster.read_overrides().await {
        Ok(s) => s,
        Err(e) => {
            warn!(
                "cluster: cannot read the overrides from etcd ({e}); starting from the state file and retrying"
            );
            return (local, 0);
        }
    };
    if stored.revision == 0 && local != OverrideSet::new() {
        match cluster.swap_overrides(&local, 0).await {
            Ok(Some(revision)) => {
                info!("cluster: etcd had no overrides; seeded them from the state file");
                return (local, revision);
            }
            Ok(None) => {
                // Another instance seeded first: the watch brings theirs.
                return (local, 0);
            }
            Err(e) => {
                warn!("cluster: cannot seed the overrides in etcd ({e}); retrying");
                return (local, 0);
            }
        }
    }
    info!(
        revision = stored.revision,
        "cluster: overrides read from etcd"
    );
    (stored.set, stored.revision)
}

/// Watch the overrides key until `shutdown`, applying what changes.
pub async fn run(rt: Arc<Runtime>, cluster: Arc<Cluster>, shutdown: CancellationToken) {
    let mut connected = true;
    loop {
        match session(&rt, &cluster, &shutdown, &mut connected).await {
            Ok(()) => return,
            Err(e) => {
                if connected {
                    warn!(
                        "cluster: lost etcd: {e}; answering with the last overrides seen, changes refused until it is back"
                    );
                    connected = false;
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
    connected: &mut bool,
) -> Result<(), StoreError> {
    let Stored {
        set,
        revision,
        read_at,
    } = cluster.read_overrides().await?;
    if rt.apply_remote(set, revision).await {
        info!(revision, "cluster: caught up with the overrides in etcd");
    }
    let key = cluster.overrides_key();
    let mut client = cluster.client().await?;
    let mut watch = tokio::time::timeout(
        REQUEST_TIMEOUT,
        client.watch(
            key.as_str(),
            Some(WatchOptions::new().with_start_revision(read_at + 1)),
        ),
    )
    .await
    .map_err(|_| StoreError::timeout())?
    .map_err(StoreError::unreachable)?;
    if !*connected {
        info!("cluster: etcd is back; changes accepted again");
        *connected = true;
    }
    loop {
        let resp = tokio::select! {
            () = shutdown.cancelled() => return Ok(()),
            r = watch.message() => r.map_err(StoreError::unreachable)?,
        };
        let Some(resp) = resp else {
            return Err(StoreError::Unreachable("the overrides watch ended".into()));
        };
        if resp.canceled() {
            return Err(StoreError::Unreachable(format!(
                "the overrides watch was cancelled: {}",
                resp.cancel_reason()
            )));
        }
        for ev in resp.events() {
            let Some(kv) = ev.kv() else { continue };
            let set = match ev.event_type() {
                EventType::Delete => OverrideSet::new(),
                EventType::Put => match store::parse(&key, kv.value()) {
                    Ok(set) => set,
                    Err(e) => {
                        warn!("cluster: ignoring a change: {e}");
                        continue;
                    }
                },
            };
            let revision = kv.mod_revision();
            if rt.apply_remote(set, revision).await {
                info!(revision, "cluster: overrides changed by another instance");
            }
        }
    }
}
