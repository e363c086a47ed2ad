//! Endpoints from etcd (a pool's `discover`): one task per key prefix that
//! reads the prefix, then watches it from the revision it read, so a
//! registration, a deregistration or a lease that lapses reaches answers
//! as soon as etcd reports it. When etcd is lost the last good set keeps
//! serving and the prefix is marked stale; on reconnect the prefix is read
//! afresh (catching up on everything missed) and the watch starts again.
//!
//! The safety rule (`registry::Prefix::settle`) holds an update that would
//! remove more than `max_removal` of a prefix's endpoints for `hold`. What
//! is in effect goes into `Runtime::registry`; the reload task rebuilds
//! the snapshot from it (`Runtime::rediscover`).
//!
//! Uses the cluster's etcd connection when there is one, else
//! `discovery.etcd`.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use etcd_client::{Client, EventType, GetOptions, WatchOptions};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use super::store::timed;
use super::{Cluster, RETRY_EVERY, StoreError};
use crate::config::{Config, EtcdConnection, format_duration};
use crate::runtime::Runtime;
use crate::state::registry::{self, Prefix, Registered, Settled};

/// How often the set of prefixes is compared with the configuration (a
/// reload may add or remove pools that discover).
const CONFIG_CHECK_EVERY: Duration = Duration::from_secs(1);

/// Where the registry is.
pub enum Link {
    /// The cluster's etcd.
    Cluster(Arc<Cluster>),
    /// An etcd of its own (`discovery.etcd`).
    Own(Box<OwnEtcd>),
}

/// `discovery.etcd` and its client, connected on first use.
pub struct OwnEtcd {
    connection: EtcdConnection,
    client: tokio::sync::Mutex<Option<Client>>,
}

impl Link {
    /// The link `config` asks for, if any pool discovers its endpoints.
    pub fn for_config(config: &Config, cluster: Option<&Arc<Cluster>>) -> Option<Arc<Self>> {
        if settings(config).is_empty() {
            return None;
        }
        match (cluster, &config.discovery) {
            (_, Some(connection)) => Some(Arc::new(Self::Own(Box::new(OwnEtcd {
                connection: connection.clone(),
                client: tokio::sync::Mutex::new(None),
            })))),
            (Some(c), None) => Some(Arc::new(Self::Cluster(c.clone()))),
            (None, None) => None,
        }
    }

    async fn client(&self) -> Result<Client, StoreError> {
        match self {
            Self::Cluster(c) => c.client().await,
            Self::Own(own) => {
                let mut slot = own.client.lock().await;
                if let Some(c) = slot.as_ref() {
                    return Ok(c.clone());
                }
                let c = super::connect(&own.connection).await?;
                *slot = Some(c.clone());
                Ok(c)
            }
        }
    }
}

/// A prefix's removal rule, from the first pool that discovers it.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Rule {
    max_removal: f64,
    hold: Duration,
}

/// Every prefix `config` discovers, with its rule.
fn settings(config: &Config) -> BTreeMap<String, Rule> {
    let mut out = BTreeMap::new();
    for zone in &config.zones {
        for svc in &zone.services {
            for pool in svc.pools.iter() {
                if let Some(d) = &pool.discover {
                    out.entry(d.prefix.clone()).or_insert(Rule {
                        max_removal: d.max_removal,
                        hold: d.hold,
                    });
                }
            }
        }
    }
    out
}

/// Read every prefix of `config` once, for the first snapshot: what etcd
/// holds goes straight into effect (there is nothing to protect yet).
/// Prefixes etcd does not answer for start empty and stale.
pub async fn initial(
    rt_registry: &std::sync::Mutex<BTreeMap<String, Prefix>>,
    link: &Link,
    config: &Config,
) {
    for prefix in settings(config).keys() {
        let mut state = Prefix::default();
        match read(link, prefix).await {
            Ok((latest, _)) => {
                state.latest = latest;
                state.applied = state.latest.clone();
                state.synced = true;
                info!(
                    prefix,
                    endpoints = state.applied.len(),
                    "registry: {} endpoint(s) registered under {prefix}",
                    state.applied.len()
                );
            }
            Err(e) => {
                warn!(
                    "registry: cannot read {prefix} ({e}); starting without its endpoints and retrying"
                );
                state.stale = true;
                state.error = Some(e.to_string());
            }
        }
        rt_registry
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(prefix.clone(), state);
    }
}

/// Read `prefix`: its registrations and the store's revision. Values that
/// are not registrations are logged and left out.
async fn read(
    link: &Link,
    prefix: &str,
) -> Result<(BTreeMap<String, Registered>, i64), StoreError> {
    let mut client = link.client().await?;
    let resp = timed(client.get(prefix, Some(GetOptions::new().with_prefix()))).await?;
    let revision = resp.header().map_or(0, |h| h.revision());
    let mut out = BTreeMap::new();
    for kv in resp.kvs() {
        let Ok(key) = std::str::from_utf8(kv.key()) else {
            continue;
        };
        match registry::parse(key, kv.value()) {
            Ok(r) => {
                out.insert(key.to_string(), r);
            }
            Err(e) => warn!(key, "registry: ignoring {key}: {e}"),
        }
    }
    Ok((out, revision))
}

/// Follow every prefix the configuration discovers until `shutdown`,
/// starting and stopping prefix tasks as reloads change the set.
pub async fn run(rt: Arc<Runtime>, link: Arc<Link>, shutdown: CancellationToken) {
    let mut tasks: BTreeMap<String, (Rule, JoinHandle<()>)> = BTreeMap::new();
    loop {
        let wanted = settings(&rt.snapshot.load().base);
        tasks.retain(|prefix, (rule, task)| {
            let keep = wanted.get(prefix) == Some(rule);
            if !keep {
                task.abort();
            }
            keep
        });
        let mut dropped = false;
        {
            let mut registry = rt.registry.lock().unwrap_or_else(|e| e.into_inner());
            registry.retain(|prefix, _| {
                let keep = wanted.contains_key(prefix);
                dropped |= !keep;
                keep
            });
        }
        if dropped {
            rt.rediscover();
        }
        for (prefix, rule) in wanted {
            if tasks.contains_key(&prefix) {
                continue;
            }
            let task = tokio::spawn(follow(
                rt.clone(),
                link.clone(),
                prefix.clone(),
                rule,
                shutdown.clone(),
            ));
            tasks.insert(prefix, (rule, task));
        }
        tokio::select! {
            () = tokio::time::sleep(CONFIG_CHECK_EVERY) => {}
            () = shutdown.cancelled() => {
                for (_, (_, task)) in tasks {
                    task.abort();
                }
                return;
            }
        }
    }
}

/// Follow one prefix: sessions of read-then-watch, retried while etcd is
/// away.
async fn follow(
    rt: Arc<Runtime>,
    link: Arc<Link>,
    prefix: String,
    rule: Rule,
    shutdown: CancellationToken,
) {
    let mut warned = false;
    loop {
        match session(&rt, &link, &prefix, rule, &shutdown).await {
            Ok(()) => return,
            Err(e) => {
                let endpoints = update(&rt, &prefix, |p| {
                    p.stale = true;
                    p.error = Some(e.to_string());
                    p.applied.len()
                });
                if !warned {
                    warn!(
                        prefix,
                        "registry: lost etcd for {prefix}: {e}; keeping the last {endpoints} endpoint(s) (marked stale)"
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

/// Change the prefix's state under the lock.
fn update<R>(rt: &Runtime, prefix: &str, f: impl FnOnce(&mut Prefix) -> R) -> R {
    let mut registry = rt.registry.lock().unwrap_or_else(|e| e.into_inner());
    f(registry.entry(prefix.to_string()).or_default())
}

/// Apply the removal rule to the prefix's latest set; rebuild answers if
/// what is in effect changed. Returns how long a held removal has left.
fn settle(rt: &Runtime, prefix: &str, rule: Rule) -> Option<Duration> {
    let (settled, changed, was_held) = update(rt, prefix, |p| {
        let was_held = p.held_since.is_some();
        let (s, changed) = p.settle(Instant::now(), rule.max_removal, rule.hold);
        (s, changed, was_held)
    });
    if changed {
        rt.rediscover();
    }
    match settled {
        Settled::Applied => {
            if was_held {
                info!(
                    prefix,
                    "registry: the held removal under {prefix} is applied (or no longer asked for)"
                );
            }
            None
        }
        Settled::Held {
            removing,
            of,
            until,
        } => {
            if !was_held {
                warn!(
                    prefix,
                    removing,
                    of,
                    "registry: an update under {prefix} would remove {removing} of {of} endpoints; held for {} in case it is a mistake (max_removal)",
                    format_duration(rule.hold)
                );
            }
            Some(until)
        }
    }
}

async fn session(
    rt: &Runtime,
    link: &Link,
    prefix: &str,
    rule: Rule,
    shutdown: &CancellationToken,
) -> Result<(), StoreError> {
    let (latest, revision) = read(link, prefix).await?;
    let was_stale = update(rt, prefix, |p| {
        let was = p.stale;
        p.latest = latest;
        p.stale = false;
        p.error = None;
        p.synced = true;
        was
    });
    if was_stale {
        info!(prefix, "registry: etcd is back for {prefix}; caught up");
    }
    let mut hold = settle(rt, prefix, rule);
    let mut client = link.client().await?;
    let mut watch = timed(
        client.watch(
            prefix,
            Some(
                WatchOptions::new()
                    .with_prefix()
                    .with_start_revision(revision + 1),
            ),
        ),
    )
    .await?;
    loop {
        let wake = hold.unwrap_or(Duration::from_secs(3600));
        let resp = tokio::select! {
            () = shutdown.cancelled() => return Ok(()),
            () = tokio::time::sleep(wake) => {
                hold = settle(rt, prefix, rule);
                continue;
            }
            r = watch.message() => r.map_err(StoreError::unreachable)?,
        };
        let Some(resp) = resp else {
            return Err(StoreError::Unreachable("the registry watch ended".into()));
        };
        if resp.canceled() {
            return Err(StoreError::Unreachable(format!(
                "the registry watch was cancelled: {}",
                resp.cancel_reason()
            )));
        }
        for ev in resp.events() {
            let Some(kv) = ev.kv() else { continue };
            let Ok(key) = std::str::from_utf8(kv.key()) else {
                continue;
            };
            match ev.event_type() {
                EventType::Delete => {
                    update(rt, prefix, |p| p.latest.remove(key));
                }
                EventType::Put => match registry::parse(key, kv.value()) {
                    Ok(r) => {
                        update(rt, prefix, |p| p.latest.insert(key.to_string(), r));
                    }
                    // The last good value of the key (if any) stays.
                    Err(e) => warn!(key, "registry: ignoring a change to {key}: {e}"),
                },
            }
        }
        hold = settle(rt, prefix, rule);
    }
}
