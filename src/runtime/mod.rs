//! The run-time: the top floor but one (only `admin`, the `cluster` tasks
//! that follow etcd, `preflight` and `cli` sit above it; see "Layering" in
//! docs/design.md). It owns what a running server shares (the snapshot in
//! its `ArcSwap`, the health checks, the admin token, the etcd cluster,
//! the overrides and their lock) and the only code that publishes
//! snapshots after start: operator changes, their expiry, and reloads
//! (SPEC 5.2 to 5.4). Every snapshot is made by [`prepare`], at start-up
//! and at each reload.
//!
//! Every `store` into the snapshot happens while holding the overrides
//! lock, so a reload and an admin change can never publish over each
//! other. The answering path never sees that lock: it only loads.
//!
//! A change is one unit that the client cannot split: once it is decided,
//! its write and publish run in a task of their own that holds the lock to
//! the end, so a client that disconnects (and so drops its handler) cannot
//! leave a change on disk but not in memory, or let the next change start
//! while its write is still running.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use tokio::sync::{Mutex, Notify, mpsc, oneshot};
use tokio_util::sync::CancellationToken;
use tracing::{error, info, warn};

pub mod events;
mod prepare;
pub mod rollout;

pub use self::prepare::{PrepareError, Stages, prepare, release_freed_memory, tune_allocator};
use crate::admin::auth::Token;
use crate::clock::{unix_now, unix_now_ms};
use crate::cluster::Cluster;
use crate::health::{HealthChecks, HealthView};
use crate::metrics::Registry;
pub use crate::state::ChangeError;
use crate::state::drains;
use crate::state::overrides::{OverrideSet, StateError};
use crate::state::registry::{Discovered, Prefix};
use crate::state::{Snapshot, registry};

/// A reload request: the reply carries the new generation or every error.
pub type ReloadReply = oneshot::Sender<Result<u64, Vec<String>>>;

/// What the tasks of a running server share.
#[derive(Debug)]
pub struct Runtime {
    pub config_path: PathBuf,
    pub snapshot: Arc<ArcSwap<Snapshot>>,
    pub health: Arc<HealthChecks>,
    pub metrics: Arc<Registry>,
    /// Operator overrides as last written; the writer-side lock. In an
    /// `Arc` so that a change's commit task can own the lock.
    pub overrides: Arc<Mutex<OverrideSet>>,
    pub started: Instant,
    /// Set once every target has had its first check.
    pub ready: AtomicBool,
    pub token: Token,
    /// The fleet this instance shares overrides and health with, if any.
    pub cluster: Option<Arc<Cluster>>,
    /// Revision of the overrides in `overrides`: in a cluster the etcd
    /// key's mod_revision (0 before the first read); alone, a count of
    /// changes made since start. Written under the overrides lock.
    revision: Arc<AtomicI64>,
    reload_tx: mpsc::Sender<ReloadReply>,
    /// Registry prefixes as followed (`cluster::discovery` writes them),
    /// by prefix.
    pub registry: std::sync::Mutex<BTreeMap<String, Prefix>>,
    /// Wakes the reload task to rebuild with the registry endpoints now in
    /// effect.
    rediscover: Notify,
    /// When each address the registry marks draining was first seen so
    /// (Unix ms), for its drain report.
    pub registry_draining: Arc<DrainingSince>,
}

/// How often a change is retried when another instance wrote the
/// overrides between our read and our write (and the client did not ask
/// for a particular revision).
const CHANGE_ATTEMPTS: usize = 3;

/// Refuse when the client named a revision that is not the current one.
fn check_expected(expect: Option<i64>, revision: i64) -> Result<(), ChangeError> {
    match expect {
        Some(e) if e != revision => Err(ChangeError::Conflict(format!(
            "the overrides are at revision {revision}, not {e}: someone changed them; \
             read GET /v1/overrides and try again"
        ))),
        _ => Ok(()),
    }
}

/// Write the state file off the async threads.
async fn save_blocking(set: OverrideSet, path: PathBuf) -> Result<(), ChangeError> {
    let shown = path.clone();
    tokio::task::spawn_blocking(move || set.save(&path))
        .await
        .map_err(|e| {
            ChangeError::Persist(StateError::Write {
                path: shown,
                source: std::io::Error::other(e.to_string()),
            })
        })??;
    Ok(())
}

/// What a change's commit task needs to finish the change without the
/// request that started it.
#[derive(Clone)]
struct Commit {
    snapshot: Arc<ArcSwap<Snapshot>>,
    revision: Arc<AtomicI64>,
    registry_draining: Arc<DrainingSince>,
    state_file: Option<PathBuf>,
}

impl Commit {
    /// Make `next` current at `revision` and publish it (lock held).
    fn apply(&self, current: &mut OverrideSet, next: OverrideSet, revision: i64) {
        *current = next;
        self.revision.store(revision, Ordering::Relaxed);
        publish(&self.snapshot, &self.registry_draining, current);
    }

    async fn cache(&self, set: &OverrideSet) {
        if let Some(path) = self.state_file.clone() {
            cache_file(path, set).await;
        }
    }
}

/// A commit task that panicked or was cancelled (at shutdown): its change
/// may or may not be on disk, which the error says.
fn lost(snap: &Snapshot, e: &tokio::task::JoinError) -> ChangeError {
    let path = snap.config.state_file.clone().unwrap_or_default();
    ChangeError::Persist(StateError::Write {
        path,
        source: std::io::Error::other(format!("the write did not finish: {e}")),
    })
}

/// The state file as a cache of etcd's copy: failures are logged only.
async fn cache_file(path: PathBuf, set: &OverrideSet) {
    if let Err(e) = save_blocking(set.clone(), path).await {
        warn!("cluster: {e} (the local cache; etcd has the change)");
    }
}

/// Make `set` the overrides of the current snapshot. Call with the
/// overrides lock held.
fn publish(snapshot: &ArcSwap<Snapshot>, draining: &DrainingSince, set: &OverrideSet) {
    let snap = snapshot.load();
    let resolved = set.resolve(&snap.config, unix_now());
    let next = Arc::new(snap.with_overrides(resolved));
    snapshot.store(next.clone());
    watch_drains(draining, &next, set);
    // The override and region events of this change, now: an override that
    // lives shorter than the watcher's tick is not missed.
    events::note_overrides(&next, set);
}

/// Point the hand-out counts at the drains now in effect.
fn watch_drains(draining: &DrainingSince, snap: &Snapshot, set: &OverrideSet) {
    let since = draining.lock().unwrap_or_else(|e| e.into_inner()).clone();
    drains::watch(snap, &drains::list(snap, set, &since));
}

/// Registry addresses marked draining, and since when (Unix ms).
type DrainingSince = std::sync::Mutex<BTreeMap<String, u64>>;

impl Runtime {
    /// Build the runtime around the first snapshot ([`prepare`]d), the
    /// overrides and their revision (put into effect here), and the
    /// registry prefixes read at start; returns it with the receiver the
    /// reload task reads.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        config_path: PathBuf,
        first: Snapshot,
        health: Arc<HealthChecks>,
        metrics: Arc<Registry>,
        (overrides, revision): (OverrideSet, i64),
        token: Token,
        cluster: Option<Arc<Cluster>>,
        registry: BTreeMap<String, Prefix>,
    ) -> (Arc<Self>, mpsc::Receiver<ReloadReply>) {
        let (reload_tx, reload_rx) = mpsc::channel(8);
        let first = with_set(first, &overrides);
        metrics
            .config_generation
            .store(first.generation, Ordering::Relaxed);
        metrics.note_reload(true);
        let rt = Arc::new(Self {
            config_path,
            snapshot: Arc::new(ArcSwap::from_pointee(first)),
            health,
            metrics,
            overrides: Arc::new(Mutex::new(overrides)),
            started: Instant::now(),
            ready: AtomicBool::new(false),
            token,
            cluster,
            revision: Arc::new(AtomicI64::new(revision)),
            reload_tx,
            registry: std::sync::Mutex::new(registry),
            rediscover: Notify::new(),
            registry_draining: Arc::new(std::sync::Mutex::new(BTreeMap::new())),
        });
        rt.note_registry_draining(&rt.snapshot.load());
        (rt, reload_rx)
    }

    /// What [`prepare`] needs from this server.
    pub fn stages<'a>(&'a self, discovered: &'a Discovered) -> Stages<'a> {
        Stages {
            health: &self.health,
            metrics: &self.metrics,
            discovered,
            previous: None,
        }
    }

    pub fn health_view(&self) -> arc_swap::Guard<Arc<HealthView>> {
        self.health.view().load()
    }

    /// The revision of the overrides this instance serves.
    pub fn revision(&self) -> i64 {
        self.revision.load(Ordering::Relaxed)
    }

    /// Apply `change` to a copy of the overrides, make it durable, and only
    /// then make it current and publish it. On any error nothing changes.
    ///
    /// Alone, durable means the state file. In a cluster it means etcd:
    /// the change is applied to the overrides as etcd holds them and
    /// written back only if nobody wrote them in between. With `expect`
    /// (the client's `If-Match`), the overrides must still be at that
    /// revision, or the change is refused as a conflict; without it, a
    /// write lost to another instance is retried on the new value a few
    /// times. The state file is then written as a cache.
    pub async fn change<R>(
        &self,
        expect: Option<i64>,
        change: impl Fn(&mut OverrideSet, &Snapshot) -> Result<R, ChangeError>,
    ) -> Result<R, ChangeError> {
        let mut current = self.overrides.clone().lock_owned().await;
        let snap = self.snapshot.load_full();
        let commit = Commit {
            snapshot: self.snapshot.clone(),
            revision: self.revision.clone(),
            registry_draining: self.registry_draining.clone(),
            state_file: snap.config.state_file.clone(),
        };
        let Some(cluster) = &self.cluster else {
            let revision = self.revision.load(Ordering::Relaxed);
            check_expected(expect, revision)?;
            let mut next = current.clone();
            let out = change(&mut next, &snap)?;
            next.prune_expired(unix_now());
            // From here on the change runs to its end whatever happens to
            // the caller: the task owns the lock until it has published.
            let task = tokio::spawn(async move {
                if let Some(path) = commit.state_file.clone() {
                    save_blocking(next.clone(), path).await?;
                }
                commit.apply(&mut current, next, revision + 1);
                Ok::<(), ChangeError>(())
            });
            task.await.map_err(|e| lost(&snap, &e))??;
            return Ok(out);
        };
        for _ in 0..CHANGE_ATTEMPTS {
            let stored = cluster
                .read_overrides()
                .await
                .map_err(|e| ChangeError::Unavailable(e.to_string()))?;
            check_expected(expect, stored.revision)?;
            let mut next = stored.set;
            let out = change(&mut next, &snap)?;
            next.prune_expired(unix_now());
            // As above: once etcd is asked, the swap, the cache and the
            // publish finish in their own task, which hands the lock back
            // for another attempt when the swap lost a race.
            let cluster = cluster.clone();
            let commit = commit.clone();
            let task = tokio::spawn(async move {
                let written = cluster
                    .swap_overrides(&next, stored.revision)
                    .await
                    .map_err(|e| ChangeError::Unavailable(e.to_string()));
                if let Ok(Some(revision)) = written {
                    commit.cache(&next).await;
                    commit.apply(&mut current, next, revision);
                }
                (current, written)
            });
            let (back, written) = task.await.map_err(|e| lost(&snap, &e))?;
            current = back;
            let Some(_) = written? else {
                if expect.is_some() {
                    return Err(ChangeError::Conflict(format!(
                        "the overrides changed after revision {}; read GET /v1/overrides and try again",
                        stored.revision
                    )));
                }
                continue;
            };
            return Ok(out);
        }
        Err(ChangeError::Conflict(format!(
            "the overrides changed under {CHANGE_ATTEMPTS} attempts in a row; try again"
        )))
    }

    /// Make `set`, read from etcd at `revision`, the overrides here, unless
    /// this instance already has that revision or a later one. Returns
    /// whether it was applied.
    pub async fn apply_remote(&self, set: OverrideSet, revision: i64) -> bool {
        let mut current = self.overrides.lock().await;
        if revision <= self.revision.load(Ordering::Relaxed) {
            return false;
        }
        let snap = self.snapshot.load_full();
        self.cache(&snap, &set).await;
        *current = set;
        self.revision.store(revision, Ordering::Relaxed);
        self.publish(&current);
        true
    }

    /// Write the state file as a cache of what etcd holds: a failure is
    /// logged, not returned, since etcd has the change already.
    async fn cache(&self, snap: &Snapshot, set: &OverrideSet) {
        if let Some(path) = snap.config.state_file.clone() {
            cache_file(path, set).await;
        }
    }

    /// Make `set` the overrides of the current snapshot. Call with the
    /// overrides lock held.
    fn publish(&self, set: &OverrideSet) {
        publish(&self.snapshot, &self.registry_draining, set);
    }

    /// Point the hand-out counts at the drains now in effect.
    fn watch_drains(&self, snap: &Snapshot, set: &OverrideSet) {
        watch_drains(&self.registry_draining, snap, set);
    }

    /// Every drain in effect, with this instance's figures.
    pub async fn drains(&self) -> Vec<drains::Drain> {
        let set = self.overrides.lock().await.clone();
        let snap = self.snapshot.load_full();
        let since = self
            .registry_draining
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        drains::list(&snap, &set, &since)
    }

    /// The registry endpoints in effect, by prefix.
    pub fn discovered(&self) -> Discovered {
        registry::discovered(&self.registry.lock().unwrap_or_else(|e| e.into_inner()))
    }

    /// Ask the reload task to rebuild with the registry endpoints now in
    /// effect (`registry` was changed).
    pub fn rediscover(&self) {
        self.rediscover.notify_one();
    }

    /// Note which addresses the registry marks draining in `snap`, and
    /// since when.
    pub fn note_registry_draining(&self, snap: &Snapshot) {
        let now = unix_now_ms();
        let mut draining = BTreeMap::new();
        for zone in &snap.config.zones {
            for svc in &zone.services {
                for pool in svc.pools.iter() {
                    for ep in pool.endpoints.iter().filter(|e| e.draining) {
                        draining.insert(crate::state::overrides::endpoint_key(&ep.target), now);
                    }
                }
            }
        }
        let mut seen = self
            .registry_draining
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        for (addr, since) in &mut draining {
            if let Some(before) = seen.get(addr) {
                *since = *before;
            }
        }
        *seen = draining;
    }

    /// Rebuild the current snapshot with the registry endpoints in effect:
    /// new endpoints get their first check before they are answered (SPEC
    /// 4), removed ones leave the answers at once.
    async fn rediscover_once(&self) {
        let discovered = self.discovered();
        let current = self.snapshot.load_full();
        let mut snap = current.with_discovered(&discovered);
        if same_endpoints(&snap.config, &current.config) {
            return;
        }
        let (targets, first_round) = self.health.bind(&snap.config).await;
        first_round.wait().await;
        snap.targets = Arc::new(targets);
        snap.attach_metrics(&self.metrics);
        self.install(snap).await;
        let endpoints: usize = discovered.values().map(Vec::len).sum();
        info!(
            endpoints,
            "registry: answering with {endpoints} registered endpoint(s)"
        );
    }

    /// Ask the reload task to reload; waits for its answer.
    pub async fn reload(&self) -> Result<u64, Vec<String>> {
        let (tx, rx) = oneshot::channel();
        if self.reload_tx.send(tx).await.is_err() {
            return Err(vec!["the reload task has stopped".into()]);
        }
        rx.await
            .unwrap_or_else(|_| Err(vec!["the reload task stopped".into()]))
    }

    /// The one reload task: SIGHUP and `POST /v1/reload` both end here, so
    /// reloads never run at once.
    pub async fn run_reloads(
        self: Arc<Self>,
        mut requests: mpsc::Receiver<ReloadReply>,
        shutdown: CancellationToken,
    ) {
        loop {
            let reply = tokio::select! {
                r = requests.recv() => match r {
                    Some(r) => r,
                    None => return,
                },
                () = self.rediscover.notified() => {
                    self.rediscover_once().await;
                    continue;
                }
                () = shutdown.cancelled() => return,
            };
            let result = self.reload_once().await;
            let _ = reply.send(result);
        }
    }

    async fn reload_once(&self) -> Result<u64, Vec<String>> {
        let generation = self.snapshot.load().generation + 1;
        let path = self.config_path.clone();
        // Dropped once prepared: the replaced snapshot must be freed when
        // it is (`install`).
        let serving = self.snapshot.load().base.clone();
        // Read sharing the services that did not change as it goes.
        let replaced = Arc::clone(&serving);
        let read = tokio::task::spawn_blocking(move || {
            crate::config::load_sharing(&path, Some(&replaced))
        })
        .await;
        let discovered = self.discovered();
        let prepared = match read {
            Ok(Ok(config)) => {
                let stages = Stages {
                    previous: Some(&serving),
                    ..self.stages(&discovered)
                };
                prepare(config, generation, stages)
                    .await
                    .map_err(|e| e.lines())
            }
            Ok(Err(errors)) => Err(errors.0.iter().map(ToString::to_string).collect()),
            Err(e) => Err(vec![format!("reload task failed: {e}")]),
        };
        let prepared = match prepared {
            Ok(p) => p,
            Err(errors) => {
                for e in &errors {
                    error!("reload: {e}");
                }
                error!(
                    "reload of {} failed with {} error(s); still serving generation {}",
                    self.config_path.display(),
                    errors.len(),
                    generation - 1
                );
                self.metrics.reloads_failed.fetch_add(1, Ordering::Relaxed);
                self.metrics.note_reload(false);
                reload_failed(&errors, generation - 1);
                return Err(errors);
            }
        };
        for w in &prepared.warnings {
            warn!("reload: {w}");
        }
        // Targets new in this configuration get their first round before
        // the snapshot that answers with them is stored (SPEC 4).
        prepared.first_round.wait().await;
        let snap = prepared.snapshot;
        drop(serving);
        // SPEC 5.3: overrides naming what this configuration lacks stay,
        // dormant, until the name comes back or an operator deletes them.
        for w in self.overrides.lock().await.dormant(&snap.config) {
            warn!("{w}");
        }
        let summary = snap.summary();
        self.install(snap).await;
        prepare::release_freed_memory().await;
        // Told once the new snapshot answers and the replaced one's memory
        // is handed back (bench/scale.sh reads RSS at this line).
        info!(
            generation,
            "reloaded {}: {summary}",
            self.config_path.display()
        );
        self.metrics
            .config_generation
            .store(generation, Ordering::Relaxed);
        self.metrics.reloads_ok.fetch_add(1, Ordering::Relaxed);
        self.metrics.note_reload(true);
        crate::events::emit(
            "reload",
            "config",
            "ok",
            format!("generation {generation}"),
            "reload",
        );
        Ok(generation)
    }

    /// Publish a [`prepare`]d snapshot (its first round waited for): the
    /// overrides in effect applied under the writer lock, the hand-out
    /// figures carried over, the drains watched.
    pub async fn install(&self, snap: Snapshot) {
        self.note_registry_draining(&snap);
        let set = self.overrides.lock().await;
        let previous = self.snapshot.load_full();
        let snap = Arc::new(with_set(snap, &set));
        snap.handouts
            .carry_over(&snap.config, &previous.handouts, &previous.config);
        self.snapshot.store(snap.clone());
        // Answers given on the old snapshot while the new one was stored.
        snap.handouts
            .carry_over(&snap.config, &previous.handouts, &previous.config);
        self.watch_drains(&snap, &set);
    }

    /// Slow start: every quarter second, note which pools with
    /// `slow_start` became available again (health recovery, an override
    /// back to auto or up, a drained endpoint back) and publish their
    /// ramps; ramps that have run their window are dropped. A reload ends
    /// the ramps in progress (the pools answer at full weight).
    pub async fn run_ramps(self: Arc<Self>, shutdown: CancellationToken) {
        let mut was: BTreeMap<(String, String), bool> = BTreeMap::new();
        // Weak: a replaced configuration is not kept alive for this.
        let mut ramped: Option<(std::sync::Weak<crate::config::Config>, Vec<PoolIndex>)> = None;
        let mut tick = tokio::time::interval(Duration::from_millis(250));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                () = shutdown.cancelled() => return,
            }
            let snap = self.snapshot.load_full();
            // Which pools ramp changes only with the configuration: worked
            // out once per configuration, not every tick (a scan of every
            // pool of 100,000 services four times a second, issue 19).
            if !ramped
                .as_ref()
                .is_some_and(|(config, _)| config.ptr_eq(&Arc::downgrade(&snap.config)))
            {
                ramped = Some((Arc::downgrade(&snap.config), ramped_pools(&snap.config)));
            }
            let ramped = ramped.as_ref().map_or(&[][..], |(_, r)| r.as_slice());
            if ramped.is_empty() && snap.ramps.pools.is_empty() {
                continue;
            }
            let view = self.health_view();
            let health = crate::health::EndpointHealth {
                map: &snap.targets,
                view: &view,
            };
            let inputs = snap.policy_inputs();
            let now = unix_now_ms();
            let mut ramps: Vec<_> = snap
                .ramps
                .pools
                .iter()
                .copied()
                .filter(|(key, _)| inputs.ramps.factor(&snap.config, *key, now) < 1.0)
                .collect();
            for &(z, s, p) in ramped {
                let (ok, _, _) = crate::policy::pool_status(&inputs, &health, z, s, p);
                let svc = &snap.config.zones[z].services[s];
                let region = snap.config.regions[svc.pools[p].region].name.clone();
                let key = (svc.name.to_ascii(), region);
                if was.insert(key.clone(), ok) == Some(false) && ok {
                    ramps.retain(|(k, _)| *k != (z, s, p));
                    ramps.push(((z, s, p), now));
                    info!(
                        service = %key.0,
                        region = %key.1,
                        "slow start: {} of {} is available again; its share ramps up",
                        key.1,
                        key.0
                    );
                }
            }
            ramps.sort_unstable();
            if ramps == snap.ramps.pools {
                continue;
            }
            let _writer = self.overrides.lock().await;
            let current = self.snapshot.load_full();
            if current.compiled.id() != snap.compiled.id() {
                continue; // rebuilt meanwhile: look again next tick
            }
            let next = current.with_ramps(crate::policy::Ramps { pools: ramps });
            self.snapshot.store(Arc::new(next));
        }
    }

    /// Lapse overrides at their time (SPEC 5.2): checked every second,
    /// removed from the state file and from the answers together.
    pub async fn run_expiry(self: Arc<Self>, shutdown: CancellationToken) {
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                () = shutdown.cancelled() => return,
            }
            let now = unix_now();
            let mut set = self.overrides.lock().await;
            if set.next_expiry().is_none_or(|t| t > now) {
                continue;
            }
            for what in set.lapsing(now) {
                info!(lapsed = %what, "override lapsed at its time: {what} (back to configured)");
            }
            set.prune_expired(now);
            // Written on a blocking thread (fsync), the lock held, as a
            // change is.
            if let Some(path) = self.snapshot.load().config.state_file.clone()
                && let Err(e) = save_blocking(set.clone(), path).await
            {
                // The override is gone from the answers either way;
                // after a restart it is dropped as expired.
                warn!("{e}");
            }
            self.publish(&set);
        }
    }
}

/// `snap` with the overrides of `set` in effect now.
fn with_set(snap: Snapshot, set: &OverrideSet) -> Snapshot {
    let resolved = set.resolve(&snap.config, unix_now());
    snap.with_overrides(resolved)
}

/// The change event of a reload that failed.
fn reload_failed(errors: &[String], serving: u64) {
    crate::events::emit(
        "reload",
        "config",
        "failed",
        format!(
            "{} error(s), still serving generation {serving}: {}",
            errors.len(),
            errors.first().map_or("", String::as_str)
        ),
        "reload",
    );
}

/// Whether every pool of `a` has the same endpoints as in `b` (both made
/// from one configuration file).
fn same_endpoints(a: &crate::config::Config, b: &crate::config::Config) -> bool {
    let pools = |c: &crate::config::Config| {
        c.zones
            .iter()
            .flat_map(|z| {
                z.services
                    .iter()
                    .flat_map(|s| s.pools.iter().map(|p| p.endpoints.clone()))
            })
            .collect::<Vec<_>>()
    };
    pools(a) == pools(b)
}

/// A pool by (zone, service, pool) index.
type PoolIndex = (usize, usize, usize);

/// Every (zone, service, pool) with `slow_start`.
fn ramped_pools(config: &crate::config::Config) -> Vec<PoolIndex> {
    let mut out = Vec::new();
    for (z, zone) in config.zones.iter().enumerate() {
        for (s, svc) in zone.services.iter().enumerate() {
            for (p, pool) in svc.pools.iter().enumerate() {
                if pool.slow_start.is_some() {
                    out.push((z, s, p));
                }
            }
        }
    }
    out
}
