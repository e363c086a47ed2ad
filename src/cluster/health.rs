//! Shared health, the I/O part: one task per instance that publishes this
//! instance's votes to `<prefix>health/<instance>` (one JSON map of vote
//! key → healthy, on a lease kept alive, so a dead instance's votes vanish
//! when the lease lapses), watches every instance's key, and publishes the
//! view answers read: this instance's probes combined with the others'
//! votes (`votes::combine`). Cut off from etcd, the others' votes are
//! dropped and answers follow this instance's own probes.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use arc_swap::ArcSwap;
use etcd_client::{EventType, GetOptions, PutOptions, WatchOptions};
use tokio_util::sync::CancellationToken;
use tracing::{error, info, warn};

use super::store::timed;
use super::votes::{self, Votes};
use super::{Board, Cluster, RETRY_EVERY, StoreError};
use crate::health::HealthChecks;
use crate::state::Snapshot;

/// How often the verdicts are worked out again even when nothing was
/// heard: a reload may have changed which targets there are.
const RECOMPUTE_EVERY: Duration = Duration::from_secs(1);

struct Shared {
    cluster: Arc<Cluster>,
    health: Arc<HealthChecks>,
    snapshot: Arc<ArcSwap<Snapshot>>,
    /// Other instances' votes, as last seen; empty while cut off.
    others: BTreeMap<String, Votes>,
    connected: bool,
    /// What was last written to our key.
    published: Option<Votes>,
}

impl Shared {
    /// Work out the verdicts, publish the answering view and the board;
    /// returns this instance's votes.
    fn recompute(&self) -> Votes {
        let snap = self.snapshot.load();
        let keys = votes::target_keys(&snap);
        let local = self.health.local_view().load_full();
        let own = votes::own_votes(&local, &keys);
        let view = if self.connected && !self.others.is_empty() {
            Arc::new(votes::combine(
                &local,
                &keys,
                &self.others,
                self.cluster.config.quorum,
            ))
        } else {
            local
        };
        let answers = self.health.view();
        if answers.load().states() != view.states() {
            answers.store(view);
        }
        let mut instances = if self.connected {
            self.others.clone()
        } else {
            BTreeMap::new()
        };
        instances.insert(self.cluster.config.instance.clone(), own.clone());
        self.cluster.set_board(Board {
            connected: self.connected,
            instances,
        });
        own
    }

    fn disconnect(&mut self) {
        self.others.clear();
        self.connected = false;
        self.published = None;
        self.recompute();
    }
}

/// Run shared health until `shutdown`.
pub async fn run(
    cluster: Arc<Cluster>,
    health: Arc<HealthChecks>,
    snapshot: Arc<ArcSwap<Snapshot>>,
    shutdown: CancellationToken,
) {
    let mut local = health.subscribe();
    let mut shared = Shared {
        cluster,
        health,
        snapshot,
        others: BTreeMap::new(),
        connected: false,
        published: None,
    };
    shared.recompute();
    let mut warned = false;
    loop {
        match session(&mut shared, &mut local, &shutdown).await {
            Ok(()) => return,
            Err(e) => {
                if shared.connected || !warned {
                    warn!(
                        "cluster: shared health lost etcd: {e}; answering from this instance's probes"
                    );
                    warned = true;
                }
                shared.disconnect();
            }
        }
        // Keep following our own probes while waiting to try again.
        let retry = tokio::time::sleep(RETRY_EVERY);
        tokio::pin!(retry);
        loop {
            tokio::select! {
                () = &mut retry => break,
                r = local.changed() => {
                    if r.is_err() {
                        return;
                    }
                    shared.recompute();
                }
                () = shutdown.cancelled() => return,
            }
        }
    }
}

/// One connection's worth: lease, own key, watch. Returns Ok on shutdown,
/// Err when etcd is lost.
async fn session(
    shared: &mut Shared,
    local: &mut tokio::sync::watch::Receiver<u64>,
    shutdown: &CancellationToken,
) -> Result<(), StoreError> {
    let cluster = shared.cluster.clone();
    let mut client = cluster.client().await?;
    let ttl = i64::try_from(cluster.config.lease_ttl.as_secs()).unwrap_or(10);
    let lease = timed(client.lease_grant(ttl, None)).await?.id();
    let (mut keeper, mut kept) = timed(client.lease_keep_alive(lease)).await?;
    let own_key = cluster.own_health_key();
    let prefix = cluster.health_prefix();
    // A vote that cannot be serialised is logged and counted, and not
    // published: an empty vote would tell the others this instance sees
    // no target at all. Returns whether it was published.
    let put = |client: &mut etcd_client::Client, votes: &Votes| {
        let body = serde_json::to_vec(votes);
        let mut client = client.clone();
        let key = own_key.clone();
        async move {
            let body = match body {
                Ok(body) => body,
                Err(e) => {
                    crate::metrics::VOTES_UNPUBLISHED.fetch_add(1, Ordering::Relaxed);
                    error!("cluster: health votes not published: cannot serialise them: {e}");
                    return Ok(false);
                }
            };
            timed(client.put(key, body, Some(PutOptions::new().with_lease(lease)))).await?;
            Ok::<bool, StoreError>(true)
        }
    };
    let own = shared.recompute();
    if put(&mut client, &own).await? {
        shared.published = Some(own);
    }
    let resp = timed(client.get(prefix.as_str(), Some(GetOptions::new().with_prefix()))).await?;
    let start = resp.header().map_or(0, |h| h.revision()) + 1;
    shared.others.clear();
    for kv in resp.kvs() {
        if let Some((name, v)) =
            instance_votes(&prefix, &cluster.config.instance, kv.key(), kv.value())
        {
            shared.others.insert(name, v);
        }
    }
    let mut watch = timed(client.watch(
        prefix.as_str(),
        Some(WatchOptions::new().with_prefix().with_start_revision(start)),
    ))
    .await?;
    shared.connected = true;
    info!(
        instance = %cluster.config.instance,
        others = shared.others.len(),
        "cluster: sharing health through etcd with {} other live instance(s)",
        shared.others.len()
    );
    let mut keepalive = tokio::time::interval(cluster.config.lease_ttl / 3);
    let mut tick = tokio::time::interval(RECOMPUTE_EVERY);
    loop {
        let mut changed = false;
        tokio::select! {
            () = shutdown.cancelled() => {
                // Leave at once rather than when the lease lapses.
                let _ = tokio::time::timeout(Duration::from_millis(500), client.lease_revoke(lease)).await;
                return Ok(());
            }
            r = local.changed() => {
                if r.is_err() {
                    return Ok(());
                }
                changed = true;
            }
            _ = tick.tick() => changed = true,
            _ = keepalive.tick() => keeper.keep_alive().await.map_err(StoreError::unreachable)?,
            r = kept.message() => match r.map_err(StoreError::unreachable)? {
                Some(r) if r.ttl() > 0 => {}
                _ => return Err(StoreError::Unreachable("our health lease expired".into())),
            },
            r = watch.message() => {
                let Some(resp) = r.map_err(StoreError::unreachable)? else {
                    return Err(StoreError::Unreachable("the health watch ended".into()));
                };
                if resp.canceled() {
                    return Err(StoreError::Unreachable(format!("the health watch was cancelled: {}", resp.cancel_reason())));
                }
                for ev in resp.events() {
                    let Some(kv) = ev.kv() else { continue };
                    let Ok(key) = std::str::from_utf8(kv.key()) else { continue };
                    let Some(name) = key.strip_prefix(prefix.as_str()) else { continue };
                    if name == cluster.config.instance {
                        continue;
                    }
                    match ev.event_type() {
                        EventType::Delete => {
                            if shared.others.remove(name).is_some() {
                                info!(instance = name, "cluster: {name} left (its health lease ended)");
                            }
                        }
                        EventType::Put => {
                            if let Some((name, v)) = instance_votes(&prefix, &cluster.config.instance, kv.key(), kv.value()) {
                                if !shared.others.contains_key(&name) {
                                    info!(instance = %name, "cluster: {name} joined");
                                }
                                shared.others.insert(name, v);
                            }
                        }
                    }
                }
                changed = true;
            }
        }
        if changed {
            let own = shared.recompute();
            if shared.published.as_ref() != Some(&own) && put(&mut client, &own).await? {
                shared.published = Some(own);
            }
        }
    }
}

/// Another instance's votes from its key, or None for our own key or a
/// value that does not parse (logged).
fn instance_votes(prefix: &str, me: &str, key: &[u8], value: &[u8]) -> Option<(String, Votes)> {
    let name = std::str::from_utf8(key).ok()?.strip_prefix(prefix)?;
    if name == me || name.is_empty() {
        return None;
    }
    match serde_json::from_slice::<Votes>(value) {
        Ok(v) => Some((name.to_string(), v)),
        Err(e) => {
            warn!(
                instance = name,
                "cluster: ignoring health votes of {name}: {e}"
            );
            None
        }
    }
}
