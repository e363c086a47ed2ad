//! The health writer and the probe schedule.
//!
//! One task (the writer) owns every target's rise/fall machine. Each active
//! target has its own probe task that checks it, waits `interval` ±10%, and
//! checks again, so one target is never checked twice at once; a semaphore
//! bounds how many checks run together. Probe tasks send raw results over
//! an mpsc channel; the writer runs the machines, logs each change once, and
//! publishes an immutable [`HealthView`] through `ArcSwap` when a state
//! changes. The answering path reads that view with one load and never
//! waits for a probe.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use arc_swap::ArcSwap;
use rand::Rng;
use tokio::sync::{Semaphore, mpsc, oneshot, watch};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

use super::prober::{CheckError, CheckResult, Prober, TargetClient};
use super::state::{Machine, State};
use super::targets::{TargetId, TargetSpec};
use crate::config::NoData;

/// Checks running at once, across all targets.
pub const DEFAULT_CONCURRENCY: usize = 256;
/// How often the writer logs its check counters.
const STATS_EVERY: Duration = Duration::from_secs(10);

/// Target states by `TargetId`, as published to the answering path.
#[derive(Debug, Clone, Default)]
pub struct HealthView {
    states: Vec<State>,
}

impl HealthView {
    /// Whether answers may use `target`. Unknown and pending targets count
    /// as healthy (fail open): nobody has seen them fail.
    #[inline]
    pub fn serves(&self, target: TargetId) -> bool {
        self.states.get(target).is_none_or(|s| s.serves())
    }

    pub fn state(&self, target: TargetId) -> State {
        self.states.get(target).copied().unwrap_or_default()
    }

    /// A view of exactly these states (by `TargetId`).
    pub fn from_states(states: Vec<State>) -> Self {
        Self { states }
    }

    /// Every state, by `TargetId`.
    pub fn states(&self) -> &[State] {
        &self.states
    }
}

/// The last check of one target, for the admin API.
#[derive(Debug, Clone)]
pub struct TargetDetail {
    pub ok: bool,
    /// What the check found: `HTTP 200`, `HTTP 503`, `timeout after 2s`.
    pub reason: String,
    pub latency: Duration,
    /// Unix seconds of the check.
    pub at: u64,
}

/// What the writer knows beyond states: last checks and counters. Read by
/// the admin API under a short lock; never by the answering path.
#[derive(Debug, Default)]
pub struct Details {
    /// By TargetId.
    pub targets: Vec<Option<TargetDetail>>,
    /// (monitor, passed) → checks run.
    pub checks: std::collections::BTreeMap<(String, bool), u64>,
    /// (monitor, new state) → state changes.
    pub changes: std::collections::BTreeMap<(String, &'static str), u64>,
    /// By TargetId: who uses the target, as (services, regions) named in
    /// log lines; set when a snapshot is bound.
    pub users: std::collections::HashMap<TargetId, (String, String)>,
    /// Monitor → how long its checks took (`meridian_probe_duration_seconds`).
    pub durations: std::collections::BTreeMap<String, crate::metrics::Histogram>,
}

/// Messages to the writer.
enum Msg {
    Result {
        id: TargetId,
        result: CheckResult,
        latency: Duration,
    },
    /// Probe exactly these targets from now on; acknowledged once the view
    /// shows targets new to the set as pending.
    Set {
        targets: Vec<(TargetId, Arc<TargetSpec>)>,
        done: oneshot::Sender<()>,
    },
}

/// Counters the probe tasks bump and the writer logs.
#[derive(Debug, Default)]
struct Stats {
    checks: AtomicU64,
    /// Checks that began later than 10% of their interval after they were due.
    late: AtomicU64,
}

/// The handle the rest of the process holds: where to send target sets,
/// and where the view is published.
#[derive(Debug, Clone)]
pub struct Writer {
    tx: mpsc::Sender<Msg>,
    view: Arc<ArcSwap<HealthView>>,
    details: Arc<std::sync::Mutex<Details>>,
    published: watch::Receiver<u64>,
}

impl std::fmt::Debug for Msg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Result { id, .. } => write!(f, "Result({id})"),
            Self::Set { targets, .. } => write!(f, "Set({} targets)", targets.len()),
        }
    }
}

impl Writer {
    /// Start the writer task on the current runtime.
    pub fn start(prober: Prober, concurrency: usize, shutdown: CancellationToken) -> Self {
        let (tx, rx) = mpsc::channel(4096);
        let view = Arc::new(ArcSwap::from_pointee(HealthView::default()));
        let (published_tx, published) = watch::channel(0);
        let details = Arc::new(std::sync::Mutex::new(Details::default()));
        let core = Core {
            details: details.clone(),
            rx,
            tx: tx.clone(),
            view: view.clone(),
            published: published_tx,
            targets: Vec::new(),
            states: Vec::new(),
            prober: Arc::new(prober),
            semaphore: Arc::new(Semaphore::new(concurrency.max(1))),
            stats: Arc::new(Stats::default()),
            shutdown,
            dirty: false,
        };
        tokio::spawn(core.run());
        Self {
            tx,
            view,
            details,
            published,
        }
    }

    pub fn view(&self) -> Arc<ArcSwap<HealthView>> {
        self.view.clone()
    }

    /// Last checks and counters, for the admin API and metrics.
    pub fn details(&self) -> Arc<std::sync::Mutex<Details>> {
        self.details.clone()
    }

    /// Changes each time the view is published.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.published.clone()
    }

    /// Probe exactly `targets` from now on. Targets already probed keep
    /// their state; new ones start pending and are checked at once.
    pub async fn set_targets(&self, targets: Vec<(TargetId, Arc<TargetSpec>)>) {
        let (done, ack) = oneshot::channel();
        if self.tx.send(Msg::Set { targets, done }).await.is_ok() {
            // An error means the writer has stopped (shutdown).
            let _ = ack.await;
        }
    }

    /// Wait until none of `targets` is pending, or `within` has passed;
    /// returns how many are still pending.
    pub async fn first_results(&self, targets: &[TargetId], within: Duration) -> usize {
        let deadline = Instant::now() + within;
        let mut published = self.published.clone();
        loop {
            let view = self.view.load();
            let pending = targets
                .iter()
                .filter(|&&id| view.state(id) == State::Pending)
                .count();
            if pending == 0 {
                return 0;
            }
            match tokio::time::timeout_at(deadline, published.changed()).await {
                Ok(Ok(())) => {}
                Ok(Err(_)) | Err(_) => return pending,
            }
        }
    }
}

/// What the writer keeps per target.
struct Tracked {
    spec: Arc<TargetSpec>,
    machine: Machine,
    /// Cancels the target's probe task.
    cancel: CancellationToken,
}

struct Core {
    details: Arc<std::sync::Mutex<Details>>,
    rx: mpsc::Receiver<Msg>,
    tx: mpsc::Sender<Msg>,
    view: Arc<ArcSwap<HealthView>>,
    published: watch::Sender<u64>,
    /// By TargetId; None when not probed now.
    targets: Vec<Option<Tracked>>,
    /// By TargetId: the states last published or about to be.
    states: Vec<State>,
    prober: Arc<Prober>,
    semaphore: Arc<Semaphore>,
    stats: Arc<Stats>,
    shutdown: CancellationToken,
    dirty: bool,
}

impl Core {
    async fn run(mut self) {
        let mut tick = tokio::time::interval_at(Instant::now() + STATS_EVERY, STATS_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                () = self.shutdown.cancelled() => break,
                msg = self.rx.recv() => {
                    let Some(msg) = msg else { break };
                    self.handle(msg);
                    // Take whatever else is queued before publishing once.
                    for _ in 0..1024 {
                        match self.rx.try_recv() {
                            Ok(msg) => self.handle(msg),
                            Err(_) => break,
                        }
                    }
                    self.publish();
                }
                _ = tick.tick() => self.log_stats(),
            }
        }
        for t in self.targets.iter().flatten() {
            t.cancel.cancel();
        }
    }

    fn handle(&mut self, msg: Msg) {
        match msg {
            Msg::Result {
                id,
                result,
                latency,
            } => self.observe(id, result, latency),
            Msg::Set { targets, done } => {
                self.set(targets);
                self.publish();
                let _ = done.send(());
            }
        }
    }

    fn observe(&mut self, id: TargetId, result: CheckResult, latency: Duration) {
        // A result from a target removed since is dropped with it.
        let Some(Some(t)) = self.targets.get_mut(id) else {
            return;
        };
        let m = &t.spec.monitor;
        let before = t.machine.state();
        let reason = match &result {
            Ok(passed) => passed.to_string(),
            Err(e) => e.to_string(),
        };
        // A check without a verdict (a Prometheus expression without data,
        // or Prometheus unreachable) counts as `on_no_data` says; with
        // `last_known` it does not count at all.
        let verdict = match &result {
            Ok(_) => Some(true),
            Err(CheckError::NoData(_)) => match m.prometheus.as_ref().map(|p| p.on_no_data) {
                Some(NoData::Healthy) => Some(true),
                Some(NoData::Unhealthy) => Some(false),
                Some(NoData::LastKnown) | None => None,
            },
            Err(_) => Some(false),
        };
        let reason = match (verdict, &result) {
            (None, Err(_)) => format!("{reason} (state kept: on_no_data is last_known)"),
            _ => reason,
        };
        let ok = verdict.unwrap_or(before.serves());
        let change = verdict.and_then(|ok| t.machine.observe(ok, m.rise, m.fall));
        {
            let mut d = self.details.lock().unwrap_or_else(|e| e.into_inner());
            if d.targets.len() <= id {
                d.targets.resize(id + 1, None);
            }
            d.targets[id] = Some(TargetDetail {
                ok,
                reason: reason.clone(),
                latency,
                at: crate::clock::unix_now(),
            });
            *d.checks.entry((m.name.clone(), ok)).or_default() += 1;
            d.durations
                .entry(m.name.clone())
                .or_default()
                .observe(latency.as_secs_f64());
            if let Some(now) = change {
                *d.changes.entry((m.name.clone(), now.as_str())).or_default() += 1;
            }
        }
        let Some(now) = change else {
            return;
        };
        self.states[id] = now;
        self.dirty = true;
        // `probe`, not `target`: in JSON logs `target` is the module.
        let (probe, monitor, state) = (&t.spec.addr, &m.name, now.as_str());
        let (service, region) = self
            .details
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .users
            .get(&id)
            .cloned()
            .unwrap_or_default();
        if before == State::Pending && now == State::Up {
            // Thousands of these at start say nothing worth a line each.
            debug!(%probe, %monitor, state, %reason, "health: first check passed");
            return;
        }
        if now.serves() {
            info!(%region, %service, %probe, %monitor, state, %reason,
                "health: {probe} ({monitor}) is now {state}: {reason}; region {region}, service {service}");
        } else {
            warn!(%region, %service, %probe, %monitor, state, %reason,
                "health: {probe} ({monitor}) is now {state}: {reason}; region {region}, service {service}");
        }
        let source = if m.prometheus.is_some() {
            "prometheus"
        } else {
            "probe"
        };
        crate::events::emit(
            "endpoint_health",
            format!("{probe} ({monitor})"),
            state,
            reason,
            source,
        );
    }

    fn set(&mut self, targets: Vec<(TargetId, Arc<TargetSpec>)>) {
        let wanted: std::collections::HashSet<TargetId> =
            targets.iter().map(|(id, _)| *id).collect();
        for (id, slot) in self.targets.iter_mut().enumerate() {
            if slot.is_some() && !wanted.contains(&id) {
                if let Some(t) = slot.take() {
                    t.cancel.cancel();
                    debug!(probe = %t.spec.addr, monitor = %t.spec.monitor.name, "health: no longer probed");
                }
                self.states[id] = State::Pending;
                self.dirty = true;
            }
        }
        for (id, spec) in targets {
            if id >= self.targets.len() {
                self.targets.resize_with(id + 1, || None);
                self.states.resize(id + 1, State::Pending);
            }
            if self.targets[id].is_some() {
                continue;
            }
            let cancel = self.shutdown.child_token();
            tokio::spawn(probe_loop(ProbeTask {
                id,
                spec: spec.clone(),
                prober: self.prober.clone(),
                semaphore: self.semaphore.clone(),
                tx: self.tx.clone(),
                stats: self.stats.clone(),
                cancel: cancel.clone(),
            }));
            self.targets[id] = Some(Tracked {
                spec,
                machine: Machine::default(),
                cancel,
            });
            self.states[id] = State::Pending;
            self.dirty = true;
        }
    }

    fn publish(&mut self) {
        if !self.dirty {
            return;
        }
        self.dirty = false;
        self.view.store(Arc::new(HealthView {
            states: self.states.clone(),
        }));
        self.published.send_modify(|n| *n += 1);
    }

    fn log_stats(&self) {
        let checks = self.stats.checks.swap(0, Ordering::Relaxed);
        let late = self.stats.late.swap(0, Ordering::Relaxed);
        let active: Vec<&Tracked> = self.targets.iter().flatten().collect();
        if active.is_empty() {
            return;
        }
        let expected: f64 = active
            .iter()
            .map(|t| STATS_EVERY.as_secs_f64() / t.spec.monitor.interval.as_secs_f64())
            .sum();
        let down = active
            .iter()
            .filter(|t| t.machine.state() == State::Down)
            .count();
        // A heartbeat is noise in an incident (issue 18): DEBUG, unless
        // checks fall behind their schedule, which hides failures.
        if late > 0 {
            warn!(
                checks,
                expected = expected.round(),
                late,
                targets = active.len(),
                "health: checks are falling behind: {late} of {checks} in the last {}s started \
                 late (~{} expected); lengthen monitor intervals or timeouts, or give meridian more CPU",
                STATS_EVERY.as_secs(),
                expected.round()
            );
        } else {
            debug!(
                checks,
                expected = expected.round(),
                targets = active.len(),
                unhealthy = down,
                "health: {checks} checks in the last {}s (~{} expected); {} targets, {down} unhealthy",
                STATS_EVERY.as_secs(),
                expected.round(),
                active.len()
            );
        }
    }
}

struct ProbeTask {
    id: TargetId,
    spec: Arc<TargetSpec>,
    prober: Arc<Prober>,
    semaphore: Arc<Semaphore>,
    tx: mpsc::Sender<Msg>,
    stats: Arc<Stats>,
    cancel: CancellationToken,
}

/// `interval` scaled by a random factor in 0.9..=1.1.
fn jittered(interval: Duration, rng: &mut impl Rng) -> Duration {
    interval.mul_f64(rng.random_range(0.9..=1.1))
}

/// The wait after a target's first check: `interval` scaled by a random
/// factor in 0.5..1.5, a whole interval wide, so that targets whose first
/// checks ran together (the first round, a reload) take evenly spread
/// places in the interval at once. ±10% jitter alone spreads them by a
/// random walk, too slowly: 10,000 targets at 1 s stayed bunched (and
/// their checks late, waiting for each other) for minutes.
fn spread(interval: Duration, rng: &mut impl Rng) -> Duration {
    interval.mul_f64(rng.random_range(0.5..1.5))
}

/// Check one target forever: at once, then every `interval` ±10% measured
/// from when each check was due, so slow checks do not stretch the period.
async fn probe_loop(task: ProbeTask) {
    let ProbeTask {
        id,
        spec,
        prober,
        semaphore,
        tx,
        stats,
        cancel,
    } = task;
    let interval = spec.monitor.interval;
    let late_after = interval / 10;
    let mut own = TargetClient::default();
    let mut due = Instant::now();
    // The first check runs at once (the first round): not on a schedule,
    // so never late.
    let mut first = true;
    loop {
        let permit = tokio::select! {
            p = semaphore.clone().acquire_owned() => match p {
                Ok(p) => p,
                Err(_) => return, // closed: shutting down
            },
            () = cancel.cancelled() => return,
        };
        let started = Instant::now();
        if !first && started.duration_since(due) > late_after {
            stats.late.fetch_add(1, Ordering::Relaxed);
        }
        let result = tokio::select! {
            r = prober.check(&spec, &mut own) => r,
            () = cancel.cancelled() => return,
        };
        let latency = started.elapsed();
        drop(permit);
        stats.checks.fetch_add(1, Ordering::Relaxed);
        tokio::select! {
            sent = tx.send(Msg::Result { id, result, latency }) => if sent.is_err() { return },
            () = cancel.cancelled() => return,
        }
        if first {
            // From when the first check ended: the first round itself
            // takes a while with thousands of targets (new connections).
            due = Instant::now() + spread(interval, &mut rand::rng());
            first = false;
        } else {
            due += jittered(interval, &mut rand::rng());
        }
        let now = Instant::now();
        if due < now {
            // Behind (a check as long as the interval, or a starved
            // runtime): start again now rather than in a burst of catch-up.
            debug!(probe = %spec.addr, monitor = %spec.monitor.name, "health: check schedule behind by {:?}", now - due);
            due = now;
        }
        tokio::select! {
            () = tokio::time::sleep_until(due) => {}
            () = cancel.cancelled() => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jitter_stays_within_ten_percent() {
        let mut rng = rand::rng();
        let interval = Duration::from_secs(1);
        for _ in 0..10_000 {
            let d = jittered(interval, &mut rng);
            assert!(d >= Duration::from_millis(900) && d <= Duration::from_millis(1100));
        }
    }

    #[test]
    fn the_wait_after_a_first_check_spans_a_whole_interval() {
        let mut rng = rand::rng();
        let interval = Duration::from_secs(1);
        let mut halves = [0u32; 2];
        for _ in 0..10_000 {
            let d = spread(interval, &mut rng);
            assert!(d >= Duration::from_millis(500) && d < Duration::from_millis(1500));
            halves[usize::from(d >= interval)] += 1;
        }
        // Evenly over the interval: both halves well filled.
        assert!(halves.iter().all(|&n| n > 4_000), "{halves:?}");
    }

    #[test]
    fn unknown_targets_count_as_healthy() {
        let view = HealthView {
            states: vec![State::Up, State::Down, State::Pending],
        };
        assert!(view.serves(0));
        assert!(!view.serves(1));
        assert!(view.serves(2));
        assert!(view.serves(7));
    }
}
