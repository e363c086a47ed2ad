//! Endpoints from a registry (a pool's `discover`): what one registration
//! says, the safety rule that holds a large removal, and how the endpoints
//! in effect join a configuration's pools.
//!
//! A registration follows etcd's naming convention for service endpoints
//! (`go.etcd.io/etcd/client/v3/naming/endpoints`): one key per endpoint
//! under the pool's prefix, a JSON value `{"Addr": "10.0.0.1:8080",
//! "Metadata": {...}}`. Of `Metadata`, `weight`, `labels` and
//! `state: "draining"` are read; anything else is ignored, so services that
//! already register for gRPC discovery are found as they are.
//!
//! Pure: the etcd conversation is `cluster::discovery`'s.

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use serde::Deserialize;

use crate::config::{Config, Endpoint, Source, Target};

/// Largest weight a registration may ask for (as in the configuration).
const MAX_WEIGHT: u64 = 1000;
/// Weight of a registration that names none.
const DEFAULT_WEIGHT: u16 = 100;

/// One endpoint as registered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Registered {
    /// The etcd key it is registered under.
    pub key: String,
    /// What is answered (A or AAAA).
    pub addr: IpAddr,
    /// The port in `Addr`: probed unless the monitor names one.
    pub port: Option<u16>,
    pub weight: u16,
    pub labels: BTreeMap<String, String>,
    /// `Metadata.state` is `draining`.
    pub draining: bool,
}

#[derive(Deserialize)]
struct Value {
    #[serde(rename = "Addr")]
    addr: String,
    #[serde(rename = "Metadata", default)]
    metadata: Option<serde_json::Value>,
}

/// Parse the value registered under `key`. The error says what is wrong
/// in words an operator can act on.
pub fn parse(key: &str, value: &[u8]) -> Result<Registered, String> {
    let v: Value = serde_json::from_slice(value).map_err(|e| {
        format!(
            "not a registration ({e}); expected JSON like {{\"Addr\": \"10.0.0.1:8080\", \"Metadata\": {{\"weight\": 100}}}}"
        )
    })?;
    let text = v.addr.trim();
    let (addr, port) = if let Ok(sa) = text.parse::<SocketAddr>() {
        (sa.ip(), Some(sa.port()).filter(|p| *p != 0))
    } else if let Ok(ip) = text
        .trim_start_matches('[')
        .trim_end_matches(']')
        .parse::<IpAddr>()
    {
        (ip, None)
    } else {
        return Err(format!(
            "Addr {text:?} is not an IP address (with an optional port): meridian answers it as A or AAAA"
        ));
    };
    let mut out = Registered {
        key: key.to_string(),
        addr,
        port,
        weight: DEFAULT_WEIGHT,
        labels: BTreeMap::new(),
        draining: false,
    };
    let Some(meta) = v.metadata.filter(|m| !m.is_null()) else {
        return Ok(out);
    };
    let Some(meta) = meta.as_object() else {
        // gRPC registrations may carry any metadata: not ours to judge.
        return Ok(out);
    };
    if let Some(w) = meta.get("weight") {
        out.weight = w
            .as_u64()
            .filter(|w| *w <= MAX_WEIGHT)
            .and_then(|w| u16::try_from(w).ok())
            .ok_or_else(|| format!("Metadata.weight {w} is not a whole number in 0..=1000"))?;
    }
    if let Some(labels) = meta.get("labels") {
        let labels = labels
            .as_object()
            .ok_or_else(|| format!("Metadata.labels {labels} is not an object of strings"))?;
        for (k, v) in labels {
            let v = match v {
                serde_json::Value::String(s) => s.clone(),
                serde_json::Value::Number(n) => n.to_string(),
                serde_json::Value::Bool(b) => b.to_string(),
                other => return Err(format!("Metadata.labels.{k} {other} is not a string")),
            };
            out.labels.insert(k.clone(), v);
        }
    }
    match meta.get("state").and_then(serde_json::Value::as_str) {
        None | Some("serving" | "ready" | "up" | "") => {}
        Some("draining") => out.draining = true,
        Some(other) => {
            return Err(format!(
                "Metadata.state {other:?} is not known (\"draining\", or leave it out)"
            ));
        }
    }
    Ok(out)
}

/// The registry endpoints in effect, by prefix, in key order.
pub type Discovered = BTreeMap<String, Vec<Registered>>;

/// The endpoints in effect of every prefix followed, by prefix.
pub fn discovered(prefixes: &BTreeMap<String, Prefix>) -> Discovered {
    prefixes
        .iter()
        .map(|(prefix, p)| (prefix.clone(), p.applied.values().cloned().collect()))
        .collect()
}

/// One prefix as followed: what the registry holds now, what is in effect,
/// and a large removal being held.
#[derive(Debug, Default, Clone)]
pub struct Prefix {
    /// What the registry holds now (key → endpoint).
    pub latest: BTreeMap<String, Registered>,
    /// What answers use.
    pub applied: BTreeMap<String, Registered>,
    /// Since when the registry has asked to remove more than allowed.
    pub held_since: Option<Instant>,
    /// Whether the last good set is kept because etcd is out of reach.
    pub stale: bool,
    /// The last problem seen (unreachable etcd, a bad registration).
    pub error: Option<String>,
    /// Whether the first read has happened.
    pub synced: bool,
}

/// What [`Prefix::settle`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Settled {
    /// `applied` now equals `latest`.
    Applied,
    /// A removal of `removing` of `of` endpoints is held until `until`;
    /// additions and changes are applied meanwhile.
    Held {
        removing: usize,
        of: usize,
        until: Duration,
    },
}

impl Prefix {
    /// Move `applied` towards `latest` under the removal rule: an update
    /// that removes more than `max_removal` of the applied endpoints is
    /// held (the endpoints it removes stay) until it has persisted for
    /// `hold`. Returns what it did and whether `applied` changed.
    pub fn settle(&mut self, now: Instant, max_removal: f64, hold: Duration) -> (Settled, bool) {
        let removed: Vec<&String> = self
            .applied
            .keys()
            .filter(|k| !self.latest.contains_key(*k))
            .collect();
        let of = self.applied.len();
        #[allow(clippy::cast_precision_loss)]
        let too_many = of > 0 && removed.len() as f64 > max_removal * of as f64;
        let mut next = self.latest.clone();
        let settled = if too_many {
            let since = *self.held_since.get_or_insert(now);
            let waited = now.saturating_duration_since(since);
            if waited >= hold {
                self.held_since = None;
                Settled::Applied
            } else {
                for k in removed.iter() {
                    if let Some(e) = self.applied.get(*k) {
                        next.insert((*k).clone(), e.clone());
                    }
                }
                Settled::Held {
                    removing: removed.len(),
                    of,
                    until: hold - waited,
                }
            }
        } else {
            self.held_since = None;
            Settled::Applied
        };
        let changed = next != self.applied;
        self.applied = next;
        (settled, changed)
    }
}

/// `base` with every pool that discovers its endpoints given those in
/// effect: registry endpoints follow the configured ones, an address the
/// configuration lists already is not added twice, and none join a pool
/// that answers with a name (CNAME).
pub fn merge(base: &Config, discovered: &Discovered) -> Config {
    let mut config = base.clone();
    for zone in &mut config.zones {
        for svc in &mut zone.services {
            // Only the pools of services that discover are copied; the
            // others stay shared with `base`.
            if !svc.pools.iter().any(|p| p.discover.is_some()) {
                continue;
            }
            let mut pools = svc.pools.to_vec();
            for pool in &mut pools {
                let Some(d) = &pool.discover else { continue };
                let Some(found) = discovered.get(&d.prefix) else {
                    continue;
                };
                if pool
                    .endpoints
                    .iter()
                    .any(|e| matches!(e.target, Target::Name(_)))
                {
                    continue;
                }
                let monitor = pool.monitor().map(|m| &base.monitors[m]);
                let mut endpoints = std::mem::take(&mut pool.endpoints).into_vec();
                for r in found {
                    let target = match r.addr {
                        IpAddr::V4(a) => Target::V4(a),
                        IpAddr::V6(a) => Target::V6(a),
                    };
                    if endpoints.iter().any(|e| e.target == target) {
                        continue;
                    }
                    let probe = match (monitor, r.port) {
                        (Some(m), Some(port)) if !m.port_set => {
                            Some(SocketAddr::new(r.addr, port).to_string())
                        }
                        _ => None,
                    };
                    let mut endpoint = Endpoint::new(target, r.weight).with(
                        probe,
                        r.labels.clone(),
                        Source::Registry(r.key.clone()),
                    );
                    endpoint.draining = r.draining;
                    endpoints.push(endpoint);
                }
                pool.endpoints = endpoints.into();
            }
            svc.pools = pools.into();
        }
    }
    config
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reg(key: &str) -> Registered {
        parse(key, br#"{"Addr":"192.0.2.1:80"}"#).expect("valid")
    }

    #[test]
    fn parses_the_etcd_naming_value() {
        let r = parse(
            "/s/a",
            br#"{"Op":0,"Addr":"192.0.2.7:8080","Metadata":{"weight":50,"labels":{"rack":"r7","v":2},"state":"draining"}}"#,
        )
        .expect("valid");
        assert_eq!(r.addr.to_string(), "192.0.2.7");
        assert_eq!(r.port, Some(8080));
        assert_eq!(r.weight, 50);
        assert_eq!(r.labels.get("rack").map(String::as_str), Some("r7"));
        assert_eq!(r.labels.get("v").map(String::as_str), Some("2"));
        assert!(r.draining);
        let v6 = parse("/s/b", br#"{"Addr":"[2001:db8::1]:443","Metadata":null}"#).expect("v6");
        assert_eq!(
            (v6.addr.to_string().as_str(), v6.port),
            ("2001:db8::1", Some(443))
        );
        let bare = parse("/s/c", br#"{"Addr":"2001:db8::2"}"#).expect("bare v6");
        assert_eq!(bare.port, None);
        let grpc = parse("/s/d", br#"{"Addr":"192.0.2.9:1","Metadata":"opaque"}"#).expect("any");
        assert_eq!(grpc.weight, DEFAULT_WEIGHT);
    }

    #[test]
    fn bad_registrations_say_what_is_wrong() {
        let e = parse("/s/a", b"not json").unwrap_err();
        assert!(e.contains("not a registration"), "{e}");
        let e = parse("/s/a", br#"{"Addr":"www.example.com:80"}"#).unwrap_err();
        assert!(e.contains("not an IP address"), "{e}");
        let e = parse(
            "/s/a",
            br#"{"Addr":"192.0.2.1","Metadata":{"weight":5000}}"#,
        )
        .unwrap_err();
        assert!(e.contains("weight"), "{e}");
        let e = parse(
            "/s/a",
            br#"{"Addr":"192.0.2.1","Metadata":{"state":"gone"}}"#,
        )
        .unwrap_err();
        assert!(e.contains("state"), "{e}");
    }

    #[test]
    fn a_large_removal_is_held_then_applied() {
        let mut p = Prefix::default();
        let t0 = Instant::now();
        for k in ["/a", "/b", "/c", "/d"] {
            p.latest.insert(k.into(), reg(k));
        }
        assert_eq!(
            p.settle(t0, 0.5, Duration::from_secs(30)),
            (Settled::Applied, true)
        );
        // Removing one of four (25%) goes through at once.
        p.latest.remove("/a");
        assert_eq!(
            p.settle(t0, 0.5, Duration::from_secs(30)).0,
            Settled::Applied
        );
        assert_eq!(p.applied.len(), 3);
        // Wiping the prefix is held...
        p.latest.clear();
        let (s, changed) = p.settle(t0, 0.5, Duration::from_secs(30));
        assert!(
            matches!(
                s,
                Settled::Held {
                    removing: 3,
                    of: 3,
                    ..
                }
            ),
            "{s:?}"
        );
        assert!(!changed);
        assert_eq!(p.applied.len(), 3);
        // ...while additions still apply...
        p.latest.insert("/e".into(), reg("/e"));
        let (_, changed) = p.settle(t0 + Duration::from_secs(10), 0.5, Duration::from_secs(30));
        assert!(changed);
        assert_eq!(p.applied.len(), 4);
        // ...and after the hold the removal lands.
        let (s, changed) = p.settle(t0 + Duration::from_secs(31), 0.5, Duration::from_secs(30));
        assert_eq!((s, changed), (Settled::Applied, true));
        assert_eq!(p.applied.keys().collect::<Vec<_>>(), ["/e"]);
    }

    #[test]
    fn a_removal_that_is_undone_clears_the_hold() {
        let mut p = Prefix::default();
        let t0 = Instant::now();
        for k in ["/a", "/b"] {
            p.latest.insert(k.into(), reg(k));
        }
        p.settle(t0, 0.5, Duration::from_secs(30));
        let saved = std::mem::take(&mut p.latest);
        assert!(matches!(
            p.settle(t0, 0.5, Duration::from_secs(30)).0,
            Settled::Held { .. }
        ));
        p.latest = saved;
        assert_eq!(
            p.settle(t0, 0.5, Duration::from_secs(30)).0,
            Settled::Applied
        );
        assert!(p.held_since.is_none());
    }
}
