//! Overrides that Alertmanager sets (`POST /v1/alerts`): a firing alert
//! whose labels name a region, a pool or an endpoint marks it down until
//! the alert is resolved. Owns the stored form of such an alert (kept in
//! the state file beside the operators' overrides, by Alertmanager's
//! fingerprint) and how it resolves to forced states; never decides
//! whether one may be set (the admin handler and its guards do).
//!
//! Labels: `meridian_region` (or `meridian_pool`, the pool's region),
//! `meridian_service` (a service's full name) and `meridian_endpoint` (an
//! address, or a CNAME endpoint's name). A region alone forces the region
//! down; with a service or an endpoint, the endpoints it selects are
//! forced down. An operator's own override of the same region, or a state
//! forced on the same endpoint, wins over the alert.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::overrides::endpoint_key;
use crate::config::Config;
use crate::policy::{self, EndpointForced, Forced};

/// One firing alert that marks something down.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlertOverride {
    /// The alert's `alertname`.
    pub alert: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// Full name without the final dot, lower case.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
    /// As [`endpoint_key`] writes it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    /// Unix milliseconds at which meridian first saw it firing.
    pub since: u64,
}

impl AlertOverride {
    /// What it marks down, in words: `region eu-west`,
    /// `www.gslb.example pool eu-west`, `endpoint 192.0.2.1`.
    pub fn target(&self) -> String {
        let mut parts = Vec::new();
        if let Some(s) = &self.service {
            parts.push(s.clone());
        }
        if let Some(r) = &self.region {
            parts.push(if self.service.is_some() || self.endpoint.is_some() {
                format!("pool {r}")
            } else {
                format!("region {r}")
            });
        }
        if let Some(e) = &self.endpoint {
            parts.push(format!("endpoint {e}"));
        }
        parts.join(" ")
    }

    /// Whether it forces a whole region (no service, no endpoint).
    pub const fn is_region(&self) -> bool {
        self.service.is_none() && self.endpoint.is_none()
    }

    /// Why `config` has nothing this alert names, if so.
    pub fn unknown_in(&self, config: &Config) -> Option<String> {
        if let Some(r) = &self.region
            && !config.regions.iter().any(|x| &x.name == r)
        {
            return Some(format!("no region {r:?}"));
        }
        if let Some(s) = &self.service
            && super::overrides::find_service(config, s).is_none()
        {
            return Some(format!("no service {s:?}"));
        }
        if !self.is_region() && self.selected(config).is_empty() {
            return Some(format!("no endpoint matches {}", self.target()));
        }
        None
    }

    /// Every (zone, service, pool, endpoint) it selects.
    fn selected(&self, config: &Config) -> Vec<policy::EndpointKey> {
        let index = |i: usize| u32::try_from(i).unwrap_or(u32::MAX);
        let mut out = Vec::new();
        for (z, zone) in config.zones.iter().enumerate() {
            for (s, svc) in zone.services.iter().enumerate() {
                if let Some(want) = &self.service {
                    let name = svc.name.to_ascii();
                    if !name.trim_end_matches('.').eq_ignore_ascii_case(want) {
                        continue;
                    }
                }
                for (p, pool) in svc.pools.iter().enumerate() {
                    if let Some(want) = &self.region
                        && config.regions[pool.region].name != *want
                    {
                        continue;
                    }
                    for (e, ep) in pool.endpoints.iter().enumerate() {
                        if let Some(want) = &self.endpoint
                            && endpoint_key(&ep.target) != *want
                        {
                            continue;
                        }
                        out.push((index(z), index(s), index(p), index(e)));
                    }
                }
            }
        }
        out
    }
}

/// Add what `alerts` force to `out` (the operators' overrides resolved
/// already): regions down where no operator override names the region,
/// endpoints down where no operator forced a state on them.
pub fn apply(
    alerts: &BTreeMap<String, AlertOverride>,
    manual_regions: &BTreeMap<String, super::overrides::RegionOverride>,
    config: &Config,
    out: &mut policy::Overrides,
) {
    if alerts.is_empty() {
        return;
    }
    let mut endpoints: BTreeMap<policy::EndpointKey, policy::EndpointOverride> =
        out.endpoints.drain(..).collect();
    for a in alerts.values() {
        if a.is_region() {
            let Some(r) = &a.region else { continue };
            if manual_regions.contains_key(r) {
                continue;
            }
            if let Some(i) = config.regions.iter().position(|x| &x.name == r)
                && let Some(slot) = out.regions.get_mut(i)
            {
                *slot = Forced::Down;
            }
            continue;
        }
        for key in a.selected(config) {
            let o = endpoints.entry(key).or_insert(policy::EndpointOverride {
                state: EndpointForced::Auto,
                weight: None,
            });
            if o.state == EndpointForced::Auto {
                o.state = EndpointForced::Down;
            }
        }
    }
    out.endpoints = endpoints.into_iter().collect();
}
