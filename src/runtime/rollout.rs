//! The task that steps canary rollouts (traffic shaping): every half
//! second, each running rollout is aborted on a failing canary, advanced
//! when its hold has passed, or completed after its last step. Each step
//! is one change through [`Runtime::change`], which first checks the
//! rollout is still where the task saw it, so a step is never taken twice.
//! The rollout itself is data in the overrides (`crate::state::rollout`).

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use super::Runtime;
use crate::clock::unix_now_ms;
use crate::health::EndpointHealth;
use crate::policy::Health;
use crate::state::Snapshot;
use crate::state::overrides::{OverrideSet, find_service};
use crate::state::rollout::{Phase, Rollout, abort, mark};

/// How often running rollouts are looked at.
const EVERY: Duration = Duration::from_millis(500);

/// Why the canary fails the abort rule, if it does.
fn failing(
    snap: &Snapshot,
    health: &EndpointHealth<'_>,
    service: &str,
    r: &Rollout,
) -> Option<String> {
    let (z, s, svc) = find_service(&snap.config, service)?;
    let p = svc
        .pools
        .iter()
        .position(|p| snap.config.regions[p.region].name == r.pool)?;
    let total = svc.pools[p].endpoints.len();
    let healthy = (0..total)
        .filter(|&e| health.endpoint_up(z, s, p, e))
        .count();
    if r.abort.unhealthy && healthy < total {
        return Some(format!(
            "{} of {total} canary endpoint(s) in {} failed their checks",
            total - healthy,
            r.pool
        ));
    }
    match r.abort.min_healthy {
        Some(min) if healthy < min => Some(format!(
            "{healthy} healthy canary endpoint(s) in {}, fewer than min_healthy {min}",
            r.pool
        )),
        _ => None,
    }
}

/// Step every running rollout until `shutdown`: abort on a failing canary,
/// advance when a hold has passed, complete after the last step.
pub async fn run(rt: Arc<Runtime>, shutdown: CancellationToken) {
    let mut tick = tokio::time::interval(EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            () = shutdown.cancelled() => return,
        }
        let all = rt.overrides.lock().await.rollouts.clone();
        let snap = rt.snapshot.load_full();
        for (service, r) in &all {
            mark(&snap, service, r);
        }
        let running: Vec<(String, Rollout)> = all
            .into_iter()
            .filter(|(_, r)| r.phase == Phase::Running)
            .collect();
        for (service, seen) in running {
            let snap = rt.snapshot.load_full();
            let view = rt.health_view();
            let health = EndpointHealth {
                map: &snap.targets,
                view: &view,
            };
            let now = unix_now_ms();
            let still = |set: &OverrideSet| {
                set.rollouts.get(&service).is_some_and(|r| {
                    r.phase == Phase::Running
                        && r.step == seen.step
                        && r.step_started == seen.step_started
                })
            };
            let result = if let Some(why) = failing(&snap, &health, &service, &seen) {
                let r = rt
                    .change(None, |set, _| {
                        if !still(set) {
                            return Ok(false);
                        }
                        abort(set, &service, &why)?;
                        Ok(true)
                    })
                    .await;
                if matches!(r, Ok(true)) {
                    warn!(%service, "rollout of {service} aborted and rolled back: {why}");
                    rt.metrics.rollouts_aborted.fetch_add(1, Ordering::Relaxed);
                }
                r.map(|_| ())
            } else if seen.step_ends().is_some_and(|end| now >= end) {
                let r = rt
                    .change(None, |set, _| {
                        if !still(set) {
                            return Ok(None);
                        }
                        let Some(mut r) = set.rollouts.get(&service).cloned() else {
                            return Ok(None);
                        };
                        let next = r.step + 1;
                        if next >= r.steps.len() {
                            r.phase = Phase::Completed;
                            r.reason = Some("every step held without a failing canary".into());
                        } else {
                            r.step = next;
                            r.step_started = now;
                            r.apply_step(set, &service);
                            if next + 1 == r.steps.len() && r.steps[next].hold.is_none() {
                                r.phase = Phase::Completed;
                                r.reason = Some("every step held without a failing canary".into());
                            }
                        }
                        let weight = r.steps[r.step].weight;
                        set.rollouts.insert(service.clone(), r);
                        Ok(Some(weight))
                    })
                    .await;
                if let Ok(Some(weight)) = r {
                    info!(%service, weight, "rollout of {service}: next step, canary weight {weight}");
                }
                r.map(|_| ())
            } else {
                Ok(())
            };
            if let Err(e) = result {
                warn!(%service, "rollout of {service}: cannot take the next step now: {e}");
            }
            // Count the new step from now, not from the next tick.
            if let Some(r) = rt.overrides.lock().await.rollouts.get(&service) {
                mark(&rt.snapshot.load(), &service, r);
            }
        }
    }
}
