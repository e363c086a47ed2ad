//! Guard rails on manual changes (`guards` on a service): a change that
//! would leave a service fewer available pools than
//! `guards.min_available_pools` is refused with 409 naming the guard,
//! unless the request says `"force": true` (then it is logged).
//!
//! The check runs inside the change, on the overrides as they are about to
//! be written and the health view of the moment, so two changes in a row
//! cannot slip past it one at a time.

use std::sync::Arc;

use tracing::warn;

use crate::health::{EndpointHealth, HealthView};
use crate::policy;
use crate::runtime::ChangeError;
use crate::state::Snapshot;
use crate::state::overrides::{OverrideSet, unix_now};

/// `f`, then the guards: refuses the change if it takes a service below its
/// `min_available_pools` (and below where it was), unless `force`.
pub(super) fn guarded<R>(
    view: Arc<HealthView>,
    force: bool,
    what: String,
    f: impl Fn(&mut OverrideSet, &Snapshot) -> Result<R, ChangeError>,
) -> impl Fn(&mut OverrideSet, &Snapshot) -> Result<R, ChangeError> {
    move |set, snap| {
        let before = set.clone();
        let out = f(set, snap)?;
        if let Some(why) = violation(snap, &view, &before, set) {
            if !force {
                return Err(ChangeError::Conflict(format!(
                    "{why}; send \"force\": true to {what} anyway"
                )));
            }
            warn!("admin: {what} forced past a guard: {why}");
        }
        Ok(out)
    }
}

/// Available pools of each guarded service under `set`.
fn available(snap: &Snapshot, view: &HealthView, set: &OverrideSet) -> Vec<(usize, usize, usize)> {
    let snap = snap.with_overrides(set.resolve(&snap.config, unix_now()));
    let inputs = snap.policy_inputs();
    let health = EndpointHealth {
        map: &snap.targets,
        view,
    };
    let mut out = Vec::new();
    for (z, zone) in snap.config.zones.iter().enumerate() {
        for (s, svc) in zone.services.iter().enumerate() {
            if svc.guards.min_available_pools == 0 {
                continue;
            }
            let n = (0..svc.pools.len())
                .filter(|&p| policy::pool_status(&inputs, &health, z, s, p).0)
                .count();
            out.push((z, s, n));
        }
    }
    out
}

/// The first guard the change from `before` to `after` breaks, in words.
pub(super) fn violation(
    snap: &Snapshot,
    view: &HealthView,
    before: &OverrideSet,
    after: &OverrideSet,
) -> Option<String> {
    let was = available(snap, view, before);
    if was.is_empty() {
        return None;
    }
    let now = available(snap, view, after);
    for ((z, s, n_before), (_, _, n_after)) in was.into_iter().zip(now) {
        let svc = &snap.config.zones[z].services[s];
        let min = svc.guards.min_available_pools;
        if n_after < min && n_after < n_before {
            return Some(format!(
                "guard: {} would have {n_after} available pool(s), fewer than its guards.min_available_pools {min}",
                svc.name.to_ascii()
            ));
        }
    }
    None
}
