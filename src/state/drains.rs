//! Drains and when they are done: every region forced down, pool at weight
//! 0 and endpoint drained or forced down (by an operator, or `draining` in
//! the registry), with what this instance handed out of it.
//!
//! A drain is `draining` until the last answer that named it has expired
//! from resolvers' caches (hand-out time + TTL), then `drained`. That is a
//! lower bound: resolvers serving stale data (RFC 8767) may hand it out
//! longer (see docs/operator-guide.md).
//!
//! Pure: figures come from the hand-out table of a snapshot; combining the
//! figures of several instances is the caller's.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::overrides::{EndpointState, OverrideSet, RegionState, endpoint_key};
use super::snapshot::Snapshot;
use crate::handout::Figures;

/// What one instance saw of one drain; the unit instances share.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Seen {
    /// Unix ms of the last answer naming it; 0 = never.
    pub last_ms: u64,
    /// Until when (Unix ms) a resolver may hold an answer naming it.
    pub expires_ms: u64,
    /// Answers naming it since the drain began (should stay 0).
    pub answers_since: u64,
    /// The largest TTL it was handed out with, in seconds.
    pub max_ttl: u32,
}

impl Seen {
    /// Both instances' figures: the latest times, the summed counts.
    pub fn merge(self, other: Self) -> Self {
        Self {
            last_ms: self.last_ms.max(other.last_ms),
            expires_ms: self.expires_ms.max(other.expires_ms),
            answers_since: self.answers_since + other.answers_since,
            max_ttl: self.max_ttl.max(other.max_ttl),
        }
    }

    /// Milliseconds until it is drained at `now_ms` (0: drained).
    pub fn remaining_ms(&self, now_ms: u64) -> u64 {
        self.expires_ms.saturating_sub(now_ms)
    }
}

/// One drain in effect here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Drain {
    /// `region:eu-west`, `pool:eu-west:www.gslb.example.`,
    /// `endpoint:192.0.2.10`.
    pub id: String,
    /// `region`, `pool` or `endpoint`.
    pub kind: &'static str,
    /// What it takes out, as the operator names it.
    pub target: String,
    /// Why it is out: `region forced down`, `weight 0`, `endpoint drain`,
    /// `endpoint down`, `registry: draining`.
    pub cause: String,
    /// Unix ms at which it began (0 when not known, e.g. an override from
    /// before drains were reported).
    pub since_ms: u64,
    /// Unix seconds at which the override lapses.
    pub until: Option<u64>,
    /// This instance's figures.
    pub seen: Seen,
}

/// Every drain in effect in `snap` under `set`, with this instance's
/// figures; `registry_since` gives when each registry-draining address
/// was first seen draining (Unix ms).
pub fn list(
    snap: &Snapshot,
    set: &OverrideSet,
    registry_since: &BTreeMap<String, u64>,
) -> Vec<Drain> {
    let config = &snap.config;
    let mut drains = Vec::new();
    for (name, o) in &set.regions {
        if o.state != RegionState::Down || !config.regions.iter().any(|r| &r.name == name) {
            continue;
        }
        drains.push(Drain {
            id: format!("region:{name}"),
            kind: "region",
            target: name.clone(),
            cause: "region forced down".into(),
            since_ms: o.since.unwrap_or(0),
            until: o.until,
            seen: Seen::default(),
        });
    }
    for (service, pools) in &set.weights {
        let Some((_, _, svc)) = super::overrides::find_service(config, service) else {
            continue;
        };
        let service = svc.name.to_ascii();
        for (region, w) in pools {
            let known = svc
                .pools
                .iter()
                .any(|p| config.regions[p.region].name == *region);
            if w.weight != 0 || !known {
                continue;
            }
            drains.push(Drain {
                id: format!("pool:{region}:{service}"),
                kind: "pool",
                target: format!("{service} in {region}"),
                cause: "weight 0".into(),
                since_ms: w.since.unwrap_or(0),
                until: w.until,
                seen: Seen::default(),
            });
        }
    }
    // Endpoints: an operator's drain or down, else the registry's draining.
    let mut endpoints: BTreeMap<String, Drain> = BTreeMap::new();
    for (addr, o) in &set.endpoints {
        let cause = match o.state {
            Some(EndpointState::Drain) => "endpoint drain",
            Some(EndpointState::Down) => "endpoint down",
            _ => continue,
        };
        endpoints.insert(
            addr.clone(),
            Drain {
                id: format!("endpoint:{addr}"),
                kind: "endpoint",
                target: addr.clone(),
                cause: cause.into(),
                since_ms: o.since.unwrap_or(0),
                until: o.until,
                seen: Seen::default(),
            },
        );
    }
    for zone in &config.zones {
        for svc in &zone.services {
            for pool in svc.pools.iter() {
                for ep in pool.endpoints.iter().filter(|e| e.draining) {
                    let addr = endpoint_key(&ep.target);
                    endpoints.entry(addr.clone()).or_insert_with(|| Drain {
                        id: format!("endpoint:{addr}"),
                        kind: "endpoint",
                        target: addr.clone(),
                        cause: "registry: draining".into(),
                        since_ms: registry_since.get(&addr).copied().unwrap_or(0),
                        until: None,
                        seen: Seen::default(),
                    });
                }
            }
        }
    }
    drains.extend(endpoints.into_values());
    for drain in &mut drains {
        let mut figures = Figures::default();
        let mut max_ttl = 0;
        for ((z, s, p, e), slot) in snap.handouts.each(config) {
            if !covered(config, drain, z, s, p, e) {
                continue;
            }
            let f = slot.figures();
            if f.last_ms > 0 {
                max_ttl = max_ttl.max(config.zones[z].services[s].ttl);
            }
            figures = figures.merge(f);
        }
        drain.seen = Seen {
            last_ms: figures.last_ms,
            expires_ms: figures.expires_ms,
            answers_since: figures.since_count,
            max_ttl,
        };
    }
    drains
}

/// Point each slot's answer count at the drain that covers it (its start
/// time), so answers given after a drain began are counted; slots no drain
/// covers stop counting.
pub fn watch(snap: &Snapshot, drains: &[Drain]) {
    let config = &snap.config;
    let mut from: BTreeMap<(usize, usize, usize, usize), u64> = BTreeMap::new();
    for d in drains {
        let start = if d.since_ms == 0 { 1 } else { d.since_ms };
        for ((z, s, p, e), _) in snap.handouts.each(config) {
            if covered(config, d, z, s, p, e) {
                let slot = from.entry((z, s, p, e)).or_insert(start);
                *slot = (*slot).min(start);
            }
        }
    }
    for (key, slot) in snap.handouts.each(config) {
        slot.watch(from.get(&key).copied());
    }
}

/// Whether drain `d` covers that endpoint (by its id).
fn covered(
    config: &crate::config::Config,
    d: &Drain,
    z: usize,
    s: usize,
    p: usize,
    e: usize,
) -> bool {
    let svc = &config.zones[z].services[s];
    let pool = &svc.pools[p];
    match d.kind {
        "region" => config.regions[pool.region].name == d.target,
        "pool" => {
            d.id == format!(
                "pool:{}:{}",
                config.regions[pool.region].name,
                svc.name.to_ascii()
            )
        }
        _ => endpoint_key(&pool.endpoints[e].target) == d.target,
    }
}
