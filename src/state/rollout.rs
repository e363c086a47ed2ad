//! Canary rollouts with automatic rollback (traffic shaping): a pool of a
//! service is taken through steps of weight, each held for a while, and
//! returned to the weight it had if its endpoints fail their checks.
//!
//! A rollout lives in the overrides (`OverrideSet::rollouts`), so it is in
//! the state file and, in a cluster, in etcd: a restart or another instance
//! carries on where it was. Every instance runs the stepping task; each
//! step is one change (a compare-and-swap in a cluster) that first checks
//! the rollout is still where the task saw it, so a step is never taken
//! twice.
//!
//! This module holds the rollout as data and this process's answer counts
//! per step; the task that steps rollouts is the run-time's
//! (`crate::runtime::rollout`).

use std::sync::atomic::Ordering;

use serde::{Deserialize, Serialize};

use super::overrides::{ChangeError, OverrideSet, WeightOverride, find_service};
use super::snapshot::Snapshot;

/// One step: the canary pool's weight, and how long to hold it before the
/// next (none on the last step: it stays).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Step {
    pub weight: u16,
    /// Seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hold: Option<u64>,
}

/// When to give up and roll back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Abort {
    /// Any canary endpoint failing its checks aborts (default true).
    #[serde(default = "yes")]
    pub unhealthy: bool,
    /// Fewer healthy canary endpoints than this aborts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_healthy: Option<usize>,
}

const fn yes() -> bool {
    true
}

impl Default for Abort {
    fn default() -> Self {
        Self {
            unhealthy: true,
            min_healthy: None,
        }
    }
}

/// Where a rollout is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Phase {
    Running,
    Completed,
    Aborted,
}

/// A rollout of one service's canary pool.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rollout {
    /// The canary: a pool of the service, by region name.
    pub pool: String,
    pub steps: Vec<Step>,
    #[serde(default)]
    pub abort: Abort,
    /// Index of the step in effect.
    pub step: usize,
    /// Unix ms at which that step began.
    pub step_started: u64,
    /// Unix ms at which the rollout began.
    pub started: u64,
    pub phase: Phase,
    /// Why it ended, when it did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The pool's weight override before the rollout (none: the configured
    /// weight), put back on abort.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub saved: Option<WeightOverride>,
}

impl Rollout {
    /// Set the current step's weight on the canary pool of `service`.
    pub fn apply_step(&self, set: &mut OverrideSet, service: &str) {
        let Some(step) = self.steps.get(self.step) else {
            return;
        };
        set.weights.entry(service.to_string()).or_default().insert(
            self.pool.clone(),
            WeightOverride {
                weight: step.weight,
                until: None,
                since: Some(self.step_started),
            },
        );
    }

    /// Put the canary pool's weight back to where it was.
    pub fn restore(&self, set: &mut OverrideSet, service: &str) {
        let pools = set.weights.entry(service.to_string()).or_default();
        match self.saved {
            Some(w) => {
                pools.insert(self.pool.clone(), w);
            }
            None => {
                pools.remove(&self.pool);
            }
        }
        if pools.is_empty() {
            set.weights.remove(service);
        }
    }

    /// When the current step's hold ends (Unix ms), if it has one.
    pub fn step_ends(&self) -> Option<u64> {
        let hold = self.steps.get(self.step)?.hold?;
        Some(self.step_started + hold * 1000)
    }
}

/// End `service`'s running rollout: weights back, phase aborted, why.
pub fn abort(set: &mut OverrideSet, service: &str, reason: &str) -> Result<(), ChangeError> {
    let Some(mut r) = set.rollouts.get(service).cloned() else {
        return Err(ChangeError::Rejected(format!("no rollout of {service}")));
    };
    if r.phase != Phase::Running {
        return Err(ChangeError::Rejected(format!(
            "the rollout of {service} is not running"
        )));
    }
    r.restore(set, service);
    r.phase = Phase::Aborted;
    r.reason = Some(reason.to_string());
    set.rollouts.insert(service.to_string(), r);
    Ok(())
}

/// Answers of one step of a rollout, as this instance counted them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StepCount {
    pub step: usize,
    pub weight: u16,
    /// Answers naming the canary pool, and all answers of the service,
    /// during the step (so far, for the step in effect).
    pub canary: u64,
    pub total: u64,
}

/// Per service: the counters at the start of each step seen, and at its
/// end once it ended. Kept by this process only (counters are per process).
type Marks =
    std::collections::BTreeMap<String, Vec<(usize, u16, u64, (u64, u64), Option<(u64, u64)>)>>;

static MARKS: std::sync::Mutex<Marks> = std::sync::Mutex::new(Marks::new());

/// The canary's and the whole service's answer counters now.
fn counters(snap: &Snapshot, service: &str, pool: &str) -> Option<(u64, u64)> {
    let (z, s, svc) = find_service(&snap.config, service)?;
    let p = svc
        .pools
        .iter()
        .position(|p| snap.config.regions[p.region].name == pool)?;
    let pools = snap
        .answer_counters
        .get(snap.handouts.service_pools(z, s)?)?;
    let canary = pools.get(p)?.load(Ordering::Relaxed);
    let total = pools.iter().map(|c| c.load(Ordering::Relaxed)).sum();
    Some((canary, total))
}

/// Note where the counters stand for `r`'s step (once per step), closing
/// the step before it.
pub fn mark(snap: &Snapshot, service: &str, r: &Rollout) {
    let Some(now) = counters(snap, service, &r.pool) else {
        return;
    };
    let mut marks = MARKS.lock().unwrap_or_else(|e| e.into_inner());
    let steps = marks.entry(service.to_string()).or_default();
    if steps
        .last()
        .is_some_and(|m| m.2 == r.step_started && m.0 == r.step)
    {
        // An abort ends the last step; a completed rollout's last weight
        // stays, and so does its count.
        if r.phase == Phase::Aborted
            && let Some(last) = steps.last_mut()
            && last.4.is_none()
        {
            last.4 = Some(now);
        }
        return;
    }
    if steps.first().is_some_and(|m| m.2 < r.started) {
        steps.clear(); // a new rollout
    }
    if let Some(last) = steps.last_mut()
        && last.4.is_none()
    {
        last.4 = Some(now);
    }
    let weight = r.steps.get(r.step).map_or(0, |s| s.weight);
    steps.push((r.step, weight, r.step_started, now, None));
}

/// This instance's answer counts per step of `service`'s rollout.
pub fn step_counts(snap: &Snapshot, service: &str, r: &Rollout) -> Vec<StepCount> {
    let now = counters(snap, service, &r.pool).unwrap_or_default();
    let marks = MARKS.lock().unwrap_or_else(|e| e.into_inner());
    marks
        .get(service)
        .map(|steps| {
            steps
                .iter()
                .filter(|m| m.2 >= r.started)
                .map(|&(step, weight, _, start, end)| {
                    let end = end.unwrap_or(now);
                    StepCount {
                        step,
                        weight,
                        canary: end.0.saturating_sub(start.0),
                        total: end.1.saturating_sub(start.1),
                    }
                })
                .collect()
        })
        .unwrap_or_default()
}
