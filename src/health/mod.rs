//! Health checks (SPEC 4): which targets exist (`targets`), how one is
//! checked (`prober`, and `grpc` for `grpc.health.v1`), the rise/fall machine (`state`), and the single
//! writer that runs the schedule and publishes the view answers read
//! (`core`). [`HealthChecks`] ties them to configurations: binding one
//! interns its targets, starts probing new ones, stops the ones it no longer
//! uses, and hands back the (bounded) wait for their first results. It
//! knows nothing of snapshots or the run-time above it (see "Layering" in
//! docs/design.md).
//!
//! Nothing here is on the answering path except [`EndpointHealth`], which
//! reads one `TargetMap` and one `HealthView` and never waits.

mod core;
mod grpc;
mod prober;
mod prometheus;
mod state;
mod targets;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

pub use self::core::{DEFAULT_CONCURRENCY, Details, HealthView, TargetDetail, Writer};
pub use self::prober::{CheckError, CheckResult, Passed, Prober};
pub use self::prometheus::check_expressions;
pub use self::state::{Machine, State};
pub use self::targets::{EndpointTargets, ProbeAddr, Registry, TargetId, TargetMap, TargetSpec};
use crate::config::Config;

/// Slack on top of the longest timeout when waiting for first results:
/// time for the results to reach the writer and be published.
const FIRST_ROUND_SLACK: Duration = Duration::from_millis(250);

/// Install ring as the process-wide rustls provider. Must run before any
/// HTTPS client is built; calling it again is harmless.
pub fn install_crypto_provider() {
    // Err means a provider is installed already, which is what we want.
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// The health checks of one process.
#[derive(Debug)]
pub struct HealthChecks {
    /// Written on load and reload only, never on the answering path.
    registry: Mutex<Registry>,
    writer: Writer,
    /// What answers read. Alone, the writer's own view; in a cluster, a
    /// separate view the shared-health task computes from this instance's
    /// probes and the other instances' votes (`cluster::health`).
    answers: Arc<arc_swap::ArcSwap<HealthView>>,
}

impl HealthChecks {
    /// Start the writer on the current runtime (the probe clients are
    /// built by the first checks that need them).
    /// With `shared`, answers read a view of their own that someone else
    /// (the shared-health task) publishes; otherwise the writer's.
    pub fn start(concurrency: usize, shared: bool, shutdown: CancellationToken) -> Self {
        install_crypto_provider();
        let prober = Prober::new();
        let writer = Writer::start(prober, concurrency, shutdown);
        let answers = if shared {
            Arc::new(arc_swap::ArcSwap::from_pointee(HealthView::default()))
        } else {
            writer.view()
        };
        Self {
            registry: Mutex::new(Registry::default()),
            writer,
            answers,
        }
    }

    /// This instance's own probe verdicts (the writer's view). Alone, the
    /// same as [`view`](Self::view).
    pub fn local_view(&self) -> Arc<arc_swap::ArcSwap<HealthView>> {
        self.writer.view()
    }

    /// Changes each time the local view is published.
    pub fn subscribe(&self) -> tokio::sync::watch::Receiver<u64> {
        self.writer.subscribe()
    }

    /// Make answers follow this instance's own probes (in a cluster, until
    /// the shared-health task has votes to add).
    pub fn answer_from_local(&self) {
        self.answers.store(self.writer.view().load_full());
    }

    /// Last checks and counters, for the admin API and metrics.
    pub fn details(&self) -> Arc<Mutex<Details>> {
        self.writer.details()
    }

    /// Where the view answers read is published.
    pub fn view(&self) -> Arc<arc_swap::ArcSwap<HealthView>> {
        self.answers.clone()
    }

    /// Make `config`'s targets the set of things probed: intern them and
    /// return the map answers read, start probing new targets and stop
    /// those it no longer uses. The first round of the new targets is
    /// under way when this returns; wait for it with [`FirstRound::wait`]
    /// before anything answers from the map (SPEC 4).
    pub async fn bind(&self, config: &Config) -> (TargetMap, FirstRound<'_>) {
        let (map, targets) = {
            let mut registry = match self.registry.lock() {
                Ok(r) => r,
                Err(poisoned) => poisoned.into_inner(),
            };
            registry.bind(config)
        };
        let users = users(config, &map);
        self.writer
            .details()
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .users = users;
        let view = self.writer.view();
        let ids: Vec<TargetId> = targets.iter().map(|(id, _)| *id).collect();
        let longest = targets
            .iter()
            .filter(|(id, _)| view.load().state(*id) == State::Pending)
            .map(|(_, spec)| spec.monitor.timeout)
            .max();
        let count = targets.len();
        self.writer.set_targets(targets).await;
        let first = FirstRound {
            checks: self,
            ids,
            longest,
            count,
        };
        (map, first)
    }
}

/// The first checks of the targets one [`HealthChecks::bind`] started.
#[derive(Debug)]
#[must_use = "nothing may answer from the new targets before their first round"]
pub struct FirstRound<'a> {
    checks: &'a HealthChecks,
    ids: Vec<TargetId>,
    /// The longest timeout among targets with no result yet; none when
    /// every target has one already.
    longest: Option<Duration>,
    count: usize,
}

impl FirstRound<'_> {
    /// Wait for the first result of every new target, at most the longest
    /// of their timeouts. Targets without a result by then count as
    /// healthy until they have one.
    pub async fn wait(self) {
        let Some(longest) = self.longest else {
            return;
        };
        let writer = &self.checks.writer;
        let pending = writer
            .first_results(&self.ids, longest + FIRST_ROUND_SLACK)
            .await;
        if pending > 0 {
            warn!(
                pending,
                "health: {pending} target(s) had no first result within {longest:?}; counted healthy until they do"
            );
        }
        let view = writer.view();
        let view = view.load();
        let down = self.ids.iter().filter(|&&id| !view.serves(id)).count();
        let count = self.count;
        info!(
            targets = count,
            unhealthy = down,
            "health: probing {count} target(s), {down} unhealthy after the first round"
        );
    }
}

/// Who uses each target, for log lines: (services, regions), each a
/// comma-separated list.
fn users(
    config: &Config,
    map: &TargetMap,
) -> std::collections::HashMap<TargetId, (String, String)> {
    use std::collections::BTreeSet;
    let mut found: std::collections::HashMap<TargetId, (BTreeSet<String>, BTreeSet<&str>)> =
        std::collections::HashMap::new();
    for (z, zone) in config.zones.iter().enumerate() {
        for (s, service) in zone.services.iter().enumerate() {
            for (p, pool) in service.pools.iter().enumerate() {
                for e in 0..pool.endpoints.len() {
                    let Some(t) = map.endpoint(z, s, p, e) else {
                        continue;
                    };
                    for &id in t.required.iter().chain(t.watched.iter()) {
                        let entry = found.entry(id).or_default();
                        entry.0.insert(service.name.to_ascii());
                        entry.1.insert(&config.regions[pool.region].name);
                    }
                }
            }
        }
    }
    found
        .into_iter()
        .map(|(id, (services, regions))| {
            let join = |v: Vec<&str>| v.join(",");
            (
                id,
                (
                    join(services.iter().map(String::as_str).collect()),
                    join(regions.into_iter().collect()),
                ),
            )
        })
        .collect()
}

/// The answering path's view of health: one snapshot's target map and one
/// published health view.
#[derive(Debug, Clone, Copy)]
pub struct EndpointHealth<'a> {
    pub map: &'a TargetMap,
    pub view: &'a HealthView,
}

impl crate::policy::Health for EndpointHealth<'_> {
    type Pool<'h>
        = PoolView<'h>
    where
        Self: 'h;

    #[inline]
    fn pool(&self, zone: usize, service: usize, pool: usize) -> PoolView<'_> {
        PoolView {
            targets: self.map.pool(zone, service, pool).unwrap_or_default(),
            view: self.view,
        }
    }
}

/// One pool's endpoints as [`EndpointHealth`] sees them.
#[derive(Debug, Clone, Copy)]
pub struct PoolView<'a> {
    /// Per endpoint; empty for a pool without a monitor.
    targets: &'a [EndpointTargets],
    view: &'a HealthView,
}

impl crate::policy::PoolHealth for PoolView<'_> {
    #[inline]
    fn up(&self, endpoint: usize) -> bool {
        self.targets
            .get(endpoint)
            .is_none_or(|t| t.required.iter().all(|&id| self.view.serves(id)))
    }
}
