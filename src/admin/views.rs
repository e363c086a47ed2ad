//! Read views of the admin API: regions, services and health metrics,
//! built from one snapshot, one health view and the writer's details.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::api;
use std::sync::Arc;

use crate::cluster::Board;
use crate::cluster::votes::{decide, vote_key};
use crate::config::MonitorMode;
use crate::config::Source;
use crate::config::Target;
use crate::health::{Details, EndpointHealth, HealthView, State, TargetId};
use crate::metrics::escape;
use crate::policy::{self, Forced};
use crate::runtime::Runtime;
use crate::state::Snapshot;
use crate::state::overrides::{
    EndpointOverride, EndpointState, RegionOverride, RegionState, endpoint_key,
};

pub use crate::clock::rfc3339;
pub(super) use crate::clock::rfc3339_ms;

/// An endpoint override as the API shows it.
pub(super) fn endpoint_override_shown(o: &EndpointOverride) -> api::EndpointOverrideShown {
    api::EndpointOverrideShown {
        state: o.state.map(|s| s.as_str().to_string()),
        weight: o.weight,
        until: o.until.map(rfc3339),
        since: o.since.map(rfc3339_ms),
        selector: o.selector.clone(),
    }
}

fn target_text(t: &Target) -> String {
    match t {
        Target::V4(a) => a.to_string(),
        Target::V6(a) => a.to_string(),
        Target::Name(n) => n.to_ascii(),
    }
}

/// A region override as the API shows it.
pub(super) fn override_shown(o: &RegionOverride) -> api::OverrideShown {
    api::OverrideShown {
        state: match o.state {
            RegionState::Up => "up".into(),
            RegionState::Down => "down".into(),
        },
        until: o.until.map(rfc3339),
    }
}

/// What `/v1/regions` shows of shared health.
struct SharedHealth {
    board: Board,
    instance: String,
    quorum: Option<usize>,
    /// This instance's own probe verdicts.
    local: Arc<HealthView>,
}

impl SharedHealth {
    /// Each live instance's view of the endpoint with vote key `key`, and
    /// how the verdict answers follow was reached.
    fn explain(&self, id: TargetId, key: &str) -> (BTreeMap<String, String>, String) {
        let shown = |healthy: bool| if healthy { "healthy" } else { "unhealthy" }.to_string();
        let votes: BTreeMap<String, String> = self
            .board
            .instances
            .iter()
            .filter_map(|(name, v)| v.get(key).map(|h| (name.clone(), shown(*h))))
            .collect();
        let others: Vec<bool> = self
            .board
            .instances
            .iter()
            .filter(|(name, _)| **name != self.instance)
            .filter_map(|(_, v)| v.get(key).copied())
            .collect();
        let own = self.local.state(id);
        let why = if !self.board.connected {
            "this instance's probes: cut off from etcd".to_string()
        } else {
            match decide(own, &others, self.quorum) {
                (_, None) => "this instance's probes: no other live instance checks it".to_string(),
                (state, Some(tally)) => format!("{}: {tally}", state.as_str()),
            }
        };
        (votes, why)
    }
}

pub(super) async fn regions(rt: &Runtime) -> api::Regions {
    let drains: BTreeMap<String, String> = rt
        .drains()
        .await
        .into_iter()
        .map(|d| {
            let done = d.seen.remaining_ms(crate::state::overrides::unix_now_ms()) == 0;
            (d.id, if done { "drained" } else { "draining" }.to_string())
        })
        .collect();
    let registry = rt
        .registry
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clone();
    let snap = rt.snapshot.load_full();
    let view = rt.health_view();
    let set = rt.overrides.lock().await.clone();
    let details = rt.health.details();
    let details = details.lock().unwrap_or_else(|e| e.into_inner());
    let health = EndpointHealth {
        map: &snap.targets,
        view: &view,
    };
    let inputs = snap.policy_inputs();
    let config = &snap.config;
    let shared = rt.cluster.as_ref().map(|c| SharedHealth {
        board: c.board(),
        instance: c.config.instance.clone(),
        quorum: c.config.quorum,
        local: rt.health.local_view().load_full(),
    });
    let mut out = Vec::new();
    for (region_id, region) in config.regions.iter().enumerate() {
        let mut pools = Vec::new();
        for (z, zone) in config.zones.iter().enumerate() {
            for (s, svc) in zone.services.iter().enumerate() {
                for (p, pool) in svc.pools.iter().enumerate() {
                    if pool.region != region_id {
                        continue;
                    }
                    let (available, reason, effective) =
                        policy::pool_status(&inputs, &health, z, s, p);
                    let service_name = svc.name.to_ascii();
                    let endpoints = pool
                        .endpoints
                        .iter()
                        .enumerate()
                        .map(|(e, ep)| {
                            let (target, checks) =
                                monitor_group(&snap, &view, &details, z, s, p, e);
                            let detail =
                                target.and_then(|id| details.targets.get(id).cloned().flatten());
                            let state = match target {
                                None => "unmonitored",
                                Some(id) => view.state(id).as_str(),
                            };
                            let (votes, verdict) =
                                match (&shared, snap.targets.get(z, s, p, e), pool.monitor()) {
                                    (Some(sh), Some(id), Some(m)) => {
                                        let key = vote_key(&config.monitors[m].name, &ep.target);
                                        let (v, why) = sh.explain(id, &key);
                                        (Some(v), Some(why))
                                    }
                                    _ => (None, None),
                                };
                            let key = endpoint_key(&ep.target);
                            let forced = set.endpoints.get(&key);
                            let service_state = match (forced.and_then(|o| o.state), ep.draining) {
                                (Some(EndpointState::Down), _) => "down".to_string(),
                                (Some(EndpointState::Drain), _) | (_, true) => drains
                                    .get(&format!("endpoint:{key}"))
                                    .cloned()
                                    .unwrap_or_else(|| "draining".into()),
                                _ => "in service".to_string(),
                            };
                            let shown_monitor = pool
                                .monitors
                                .iter()
                                .find(|pm| pm.mode == MonitorMode::MustBeHealthy)
                                .or_else(|| pool.monitors.first())
                                .map(|pm| &config.monitors[pm.monitor]);
                            api::EndpointInfo {
                                monitor: shown_monitor.map(|m| m.name.clone()),
                                probe: shown_monitor.map(|m| {
                                    crate::health::ProbeAddr::for_endpoint(ep, m).to_string()
                                }),
                                votes,
                                verdict,
                                source: match ep.source() {
                                    Source::Config => "config".into(),
                                    Source::Registry(_) => "registry".into(),
                                },
                                key: match ep.source() {
                                    Source::Registry(k) => Some(k.clone()),
                                    Source::Config => None,
                                },
                                labels: ep.labels().clone(),
                                override_: forced.map(endpoint_override_shown),
                                service_state,
                                address: target_text(&ep.target),
                                weight: ep.weight,
                                state: state.into(),
                                last_result: detail
                                    .as_ref()
                                    .map(|d| if d.ok { "ok" } else { "failed" }.into()),
                                reason: detail.as_ref().map(|d| d.reason.clone()),
                                latency_ms: detail
                                    .as_ref()
                                    .map(|d| d.latency.as_secs_f64() * 1000.0),
                                last_check: detail.as_ref().map(|d| rfc3339(d.at)),
                                checks,
                            }
                        })
                        .collect();
                    pools.push(api::PoolInfo {
                        weight_override: set
                            .weights
                            .get(&service_name)
                            .and_then(|w| w.get(&region.name))
                            .map(|w| api::WeightShown {
                                weight: w.weight,
                                until: w.until.map(rfc3339),
                            }),
                        service: service_name,
                        configured_weight: pool.weight,
                        effective_weight: effective,
                        min_healthy: pool.min_healthy,
                        monitor: pool.monitor().map(|m| config.monitors[m].name.clone()),
                        available,
                        reason,
                        endpoints,
                        discover: pool.discover.as_ref().map(|d| {
                            let p = registry.get(&d.prefix);
                            api::DiscoverInfo {
                                prefix: d.prefix.clone(),
                                endpoints: p.map_or(0, |p| p.applied.len()),
                                stale: p.is_none_or(|p| p.stale || !p.synced),
                                error: p.and_then(|p| p.error.clone()),
                                held_removal: p.filter(|p| p.held_since.is_some()).map(|p| {
                                    p.applied
                                        .keys()
                                        .filter(|k| !p.latest.contains_key(*k))
                                        .count()
                                }),
                            }
                        }),
                    });
                }
            }
        }
        let forced = snap.overrides.region(region_id);
        let all_healthy = pools.iter().all(|p: &api::PoolInfo| {
            p.available && p.endpoints.iter().all(|e| e.state != State::Down.as_str())
        });
        let state = if forced == Forced::Down
            || (!pools.is_empty() && pools.iter().all(|p| !p.available))
        {
            "down"
        } else if all_healthy {
            "healthy"
        } else {
            "degraded"
        };
        out.push(api::RegionInfo {
            name: region.name.clone(),
            state: state.into(),
            override_: set.regions.get(&region.name).map(override_shown),
            location: region.location.map(|(a, b)| [a, b]),
            pools,
        });
    }
    api::Regions {
        generation: snap.generation,
        regions: out,
    }
}

pub(super) async fn services(rt: &Runtime) -> api::Services {
    let snap = rt.snapshot.load_full();
    let view = rt.health_view();
    let set = rt.overrides.lock().await.clone();
    let health = EndpointHealth {
        map: &snap.targets,
        view: &view,
    };
    let inputs = snap.policy_inputs();
    let config = &snap.config;
    let mut services = Vec::new();
    for (z, zone) in config.zones.iter().enumerate() {
        for (s, svc) in zone.services.iter().enumerate() {
            let name = svc.name.to_ascii();
            let (policy, map) = match svc.policy {
                crate::config::Policy::Geo(m) => ("geo", Some(config.geo_maps[m].name.clone())),
                crate::config::Policy::Nearest => ("nearest", None),
                crate::config::Policy::Weighted => ("weighted", None),
                crate::config::Policy::Failover => ("failover", None),
            };
            let pools = svc
                .pools
                .iter()
                .enumerate()
                .map(|(p, pool)| {
                    let region = config.regions[pool.region].name.clone();
                    let (available, reason, effective) =
                        policy::pool_status(&inputs, &health, z, s, p);
                    let now = crate::state::overrides::unix_now_ms();
                    let factor = snap.ramps.factor(config, (z, s, p), now);
                    let slow_start = snap
                        .ramps
                        .pools
                        .iter()
                        .find(|(k, _)| *k == (z, s, p))
                        .zip(pool.slow_start)
                        .filter(|_| factor < 1.0)
                        .map(|((_, start), ss)| api::RampShown {
                            factor,
                            ends: rfc3339(
                                (start + u64::try_from(ss.window.as_millis()).unwrap_or(0)) / 1000,
                            ),
                        });
                    api::ServicePool {
                        spill: snap.overrides.spill(z, s, p, pool.spill),
                        spill_override: set.spills.get(&name).and_then(|w| w.get(&region)).map(
                            |o| api::SpillShown {
                                percent: o.percent,
                                until: o.until.map(rfc3339),
                            },
                        ),
                        slow_start,
                        weight_override: set.weights.get(&name).and_then(|w| w.get(&region)).map(
                            |w| api::WeightShown {
                                weight: w.weight,
                                until: w.until.map(rfc3339),
                            },
                        ),
                        region,
                        configured_weight: pool.weight,
                        effective_weight: effective,
                        available,
                        reason,
                    }
                })
                .collect();
            services.push(api::ServiceInfo {
                name,
                policy: policy.into(),
                map,
                ttl: svc.ttl,
                max_answers: svc.max_answers,
                all_down: match svc.all_down {
                    crate::config::AllDown::ServeAll => "serve_all".into(),
                    crate::config::AllDown::Servfail => "servfail".into(),
                },
                pools,
            });
        }
    }
    api::Services {
        generation: snap.generation,
        services,
    }
}

/// Health series: checks by monitor and result, state changes, and each
/// monitored endpoint's health (1 healthy or pending, 0 unhealthy).
pub(super) fn render_health_metrics(rt: &Runtime, out: &mut String) {
    let details = rt.health.details();
    let (checks, changes, durations) = {
        let d = details.lock().unwrap_or_else(|e| e.into_inner());
        (d.checks.clone(), d.changes.clone(), d.durations.clone())
    };
    let _ = writeln!(
        out,
        "# HELP meridian_probe_duration_seconds How long health checks took, by monitor."
    );
    let _ = writeln!(out, "# TYPE meridian_probe_duration_seconds histogram");
    for (monitor, h) in &durations {
        h.render(
            out,
            "meridian_probe_duration_seconds",
            &format!("monitor=\"{}\"", escape(monitor)),
        );
    }
    let _ = writeln!(
        out,
        "# HELP meridian_health_checks_total Health checks run, by monitor and result."
    );
    let _ = writeln!(out, "# TYPE meridian_health_checks_total counter");
    for ((monitor, ok), n) in &checks {
        let result = if *ok { "ok" } else { "failed" };
        let _ = writeln!(
            out,
            "meridian_health_checks_total{{monitor=\"{}\",result=\"{result}\"}} {n}",
            escape(monitor)
        );
    }
    let _ = writeln!(
        out,
        "# HELP meridian_health_changes_total Target state changes, by monitor and new state."
    );
    let _ = writeln!(out, "# TYPE meridian_health_changes_total counter");
    for ((monitor, state), n) in &changes {
        let _ = writeln!(
            out,
            "meridian_health_changes_total{{monitor=\"{}\",state=\"{state}\"}} {n}",
            escape(monitor)
        );
    }
    let snap = rt.snapshot.load();
    let view = rt.health_view();
    let mut rows: BTreeMap<(String, String, String), u8> = BTreeMap::new();
    for (z, zone) in snap.config.zones.iter().enumerate() {
        for (s, svc) in zone.services.iter().enumerate() {
            for (p, pool) in svc.pools.iter().enumerate() {
                for (e, ep) in pool.endpoints.iter().enumerate() {
                    if let Some(id) = snap.targets.get(z, s, p, e) {
                        rows.insert(
                            (
                                svc.name.to_ascii(),
                                snap.config.regions[pool.region].name.clone(),
                                target_text(&ep.target),
                            ),
                            u8::from(view.serves(id)),
                        );
                    }
                }
            }
        }
    }
    let _ = writeln!(
        out,
        "# HELP meridian_endpoint_healthy Whether a monitored endpoint may be answered (1) or not (0)."
    );
    let _ = writeln!(out, "# TYPE meridian_endpoint_healthy gauge");
    for ((service, region, endpoint), v) in rows {
        let _ = writeln!(
            out,
            "meridian_endpoint_healthy{{service=\"{}\",region=\"{}\",endpoint=\"{}\"}} {v}",
            escape(&service),
            escape(&region),
            escape(&endpoint)
        );
    }
}

/// Monitor groups: the target whose state an endpoint shows (the first
/// failing `must_be_healthy` one, else the first) and, for a pool with
/// more than one monitor or a `monitoring_only` one, each monitor's result.
fn monitor_group(
    snap: &Snapshot,
    view: &HealthView,
    details: &Details,
    z: usize,
    s: usize,
    p: usize,
    e: usize,
) -> (Option<TargetId>, Vec<api::CheckInfo>) {
    let shown = snap.targets.endpoint(z, s, p, e).and_then(|t| {
        t.required
            .iter()
            .find(|&&id| !view.serves(id))
            .or_else(|| t.required.first())
            .copied()
    });
    let pool = &snap.config.zones[z].services[s].pools[p];
    let grouped = pool.monitors.len() > 1
        || pool
            .monitors
            .iter()
            .any(|pm| pm.mode == MonitorMode::MonitoringOnly);
    let Some(t) = snap.targets.endpoint(z, s, p, e).filter(|_| grouped) else {
        return (shown, Vec::new());
    };
    let (mut required, mut watched) = (t.required.iter(), t.watched.iter());
    let checks = pool
        .monitors
        .iter()
        .filter_map(|pm| {
            let id = match pm.mode {
                MonitorMode::MustBeHealthy => required.next(),
                MonitorMode::MonitoringOnly => watched.next(),
            }?;
            let detail = details.targets.get(*id).cloned().flatten();
            Some(api::CheckInfo {
                monitor: snap.config.monitors[pm.monitor].name.clone(),
                mode: match pm.mode {
                    MonitorMode::MustBeHealthy => "must_be_healthy",
                    MonitorMode::MonitoringOnly => "monitoring_only",
                }
                .into(),
                state: view.state(*id).as_str().into(),
                reason: detail.map(|d| d.reason),
            })
        })
        .collect();
    (shown, checks)
}

#[cfg(test)]
mod tests {
    use super::rfc3339;

    #[test]
    fn rfc3339_formats_utc() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(1_795_541_445), "2026-11-24T17:30:45Z");
    }
}
