//! Canary rollouts over the admin API: start one
//! (`POST /v1/services/{service}/rollouts`), see its progress (`GET`), stop
//! it and roll back (`DELETE`). The stepping itself is
//! `runtime::rollout::run`'s.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use tracing::info;

use super::{ApiError, Rt, api, body, guard, if_match, rfc3339};
use crate::config::{format_duration, parse_duration};
use crate::runtime::ChangeError;
use crate::state::overrides::{find_service, unix_now_ms};
use crate::state::rollout::{self, Abort, Phase, Rollout, Step};

fn shown(rt: &Rt, service: &str, r: &Rollout) -> api::RolloutShown {
    let snap = rt.snapshot.load();
    let counts = rollout::step_counts(&snap, service, r);
    api::RolloutShown {
        service: service.to_string(),
        pool: r.pool.clone(),
        phase: match r.phase {
            Phase::Running => "running",
            Phase::Completed => "completed",
            Phase::Aborted => "aborted",
        }
        .into(),
        reason: r.reason.clone(),
        step: r.step,
        steps: r
            .steps
            .iter()
            .enumerate()
            .map(|(i, s)| {
                let c = counts.iter().rev().find(|c| c.step == i);
                api::RolloutStepShown {
                    weight: s.weight,
                    hold: s
                        .hold
                        .map(|h| format_duration(std::time::Duration::from_secs(h)).to_string()),
                    answers: c.map(|c| c.total),
                    canary_share: c.filter(|c| c.total > 0).map(|c| {
                        #[allow(clippy::cast_precision_loss)]
                        let share = c.canary as f64 / c.total as f64;
                        share
                    }),
                }
            })
            .collect(),
        started: rfc3339(r.started / 1000),
        step_ends: r
            .step_ends()
            .filter(|_| r.phase == Phase::Running)
            .map(|ms| rfc3339(ms / 1000)),
        rollback_weight: r.saved.map(|w| w.weight),
    }
}

/// The service's full name, or 404.
fn service_name(rt: &Rt, service: &str) -> Result<String, ApiError> {
    let snap = rt.snapshot.load();
    find_service(&snap.config, service)
        .map(|(_, _, s)| s.name.to_ascii())
        .ok_or_else(|| {
            ApiError::not_found(format!(
                "no service {service:?}; {}",
                super::known_services(&snap.config)
            ))
        })
}

/// `POST /v1/services/{service}/rollouts`.
pub(super) async fn start(
    State(rt): State<Rt>,
    Path(service): Path<String>,
    headers: HeaderMap,
    bytes: Bytes,
) -> Result<Json<api::RolloutShown>, ApiError> {
    let expect = if_match(&headers)?;
    let req: api::RolloutRequest = body(&bytes)?;
    let name = service_name(&rt, &service)?;
    {
        let snap = rt.snapshot.load();
        let known = find_service(&snap.config, &name).is_some_and(|(_, _, svc)| {
            svc.pools
                .iter()
                .any(|p| snap.config.regions[p.region].name == req.pool)
        });
        if !known {
            return Err(ApiError::bad_request(format!(
                "pool {:?}: {name} has no pool in that region",
                req.pool
            )));
        }
    }
    if req.steps.is_empty() {
        return Err(ApiError::bad_request("steps: at least one step is needed"));
    }
    let last = req.steps.len() - 1;
    let mut steps = Vec::with_capacity(req.steps.len());
    for (i, s) in req.steps.iter().enumerate() {
        let weight = u16::try_from(s.weight)
            .ok()
            .filter(|w| *w <= 1000)
            .ok_or_else(|| {
                ApiError::bad_request(format!(
                    "steps[{i}].weight {} is outside 0..=1000",
                    s.weight
                ))
            })?;
        let hold = match &s.hold {
            None if i < last => {
                return Err(ApiError::bad_request(format!(
                    "steps[{i}].hold is needed: every step but the last is held for a while (\"10m\")"
                )));
            }
            None => None,
            Some(text) => Some(
                parse_duration(text)
                    .map_err(|e| ApiError::bad_request(format!("steps[{i}].hold: {e}")))?
                    .as_secs()
                    .max(1),
            ),
        };
        steps.push(Step { weight, hold });
    }
    let abort = req.abort.as_ref().map_or_else(Abort::default, |a| Abort {
        unhealthy: a.unhealthy.unwrap_or(true),
        min_healthy: a.min_healthy,
    });
    let now = unix_now_ms();
    let pool = req.pool.clone();
    let what = format!("start a rollout of {name} in {pool}");
    let r = rt
        .change(
            expect,
            guard::guarded(rt.health.view().load_full(), req.force, what, |set, _| {
                if let Some(r) = set
                    .rollouts
                    .get(&name)
                    .filter(|r| r.phase == Phase::Running)
                {
                    return Err(ChangeError::Conflict(format!(
                        "a rollout of {name} (pool {}) is running, at step {}; DELETE it first",
                        r.pool, r.step
                    )));
                }
                let mut r = Rollout {
                    pool: pool.clone(),
                    steps: steps.clone(),
                    abort,
                    step: 0,
                    step_started: now,
                    started: now,
                    phase: Phase::Running,
                    reason: None,
                    saved: set.weights.get(&name).and_then(|p| p.get(&pool)).copied(),
                };
                r.apply_step(set, &name);
                if r.steps.len() == 1 && r.steps[0].hold.is_none() {
                    r.phase = Phase::Completed;
                    r.reason = Some("a single step".into());
                }
                set.rollouts.insert(name.clone(), r.clone());
                Ok(r)
            }),
        )
        .await?;
    rollout::mark(&rt.snapshot.load(), &name, &r);
    info!(service = %name, pool = %r.pool, steps = r.steps.len(), "admin: rollout started");
    Ok(Json(shown(&rt, &name, &r)))
}

/// `GET /v1/services/{service}/rollouts`: the rollout running, or the last.
pub(super) async fn get(
    State(rt): State<Rt>,
    Path(service): Path<String>,
) -> Result<Json<api::RolloutShown>, ApiError> {
    let name = service_name(&rt, &service)?;
    let set = rt.overrides.lock().await.clone();
    let r = set
        .rollouts
        .get(&name)
        .ok_or_else(|| ApiError::not_found(format!("no rollout of {name}")))?;
    Ok(Json(shown(&rt, &name, r)))
}

/// `DELETE /v1/services/{service}/rollouts`: stop the running rollout and
/// put the canary's weight back.
pub(super) async fn stop(
    State(rt): State<Rt>,
    Path(service): Path<String>,
    headers: HeaderMap,
) -> Result<Json<api::RolloutShown>, ApiError> {
    let expect = if_match(&headers)?;
    let name = service_name(&rt, &service)?;
    let running = rt
        .overrides
        .lock()
        .await
        .rollouts
        .get(&name)
        .is_some_and(|r| r.phase == Phase::Running);
    if !running {
        return Err(ApiError::not_found(format!(
            "no rollout of {name} is running"
        )));
    }
    let r = rt
        .change(expect, |set, _| {
            rollout::abort(set, &name, "stopped by an operator")?;
            Ok(set.rollouts.get(&name).cloned())
        })
        .await?;
    info!(service = %name, "admin: rollout stopped and rolled back");
    let r = r.ok_or_else(|| ApiError::not_found(format!("no rollout of {name}")))?;
    Ok(Json(shown(&rt, &name, &r)))
}
