//! What gets probed: every distinct (monitor definition, probe target) is
//! interned once into a [`TargetId`] for the life of the process, however
//! many endpoints, pools and services share it, and however many reloads
//! come and go (SPEC 4 and 5.4: a target that remains keeps its state).
//!
//! [`TargetMap`] is the per-snapshot index from (zone, service, pool,
//! endpoint) to `TargetId` that the answering path reads. Nothing here does
//! I/O.

use std::collections::HashMap;
use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;

use crate::config::{Config, Endpoint, Monitor, MonitorMode, Target};

/// Index into the health view; stable for the life of the process.
pub type TargetId = usize;

/// Where a monitor connects.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum ProbeAddr {
    /// An address literal: no lookup needed.
    Socket(SocketAddr),
    /// A host name, looked up with the system resolver at each check.
    Name { host: String, port: u16 },
}

impl ProbeAddr {
    /// The endpoint's `probe` if set, else its address (or name) with the
    /// monitor's port.
    pub fn for_endpoint(endpoint: &Endpoint, monitor: &Monitor) -> Self {
        if let Some(probe) = endpoint.probe() {
            return Self::parse(probe, monitor.port);
        }
        match &endpoint.target {
            Target::V4(a) => Self::Socket(SocketAddr::new((*a).into(), monitor.port)),
            Target::V6(a) => Self::Socket(SocketAddr::new((*a).into(), monitor.port)),
            Target::Name(name) => Self::Name {
                host: name.to_ascii().trim_end_matches('.').to_ascii_lowercase(),
                port: monitor.port,
            },
        }
    }

    /// `probe` text as validated by the config (`host:port`, `[v6]:port`);
    /// falls back to `default_port` should the port be missing.
    fn parse(text: &str, default_port: u16) -> Self {
        if let Ok(addr) = text.parse::<SocketAddr>() {
            return Self::Socket(addr);
        }
        match text.rsplit_once(':') {
            Some((host, port)) => match port.parse() {
                Ok(port) => Self::Name {
                    host: host.trim_end_matches('.').to_ascii_lowercase(),
                    port,
                },
                Err(_) => Self::Name {
                    host: text.to_ascii_lowercase(),
                    port: default_port,
                },
            },
            None => Self::Name {
                host: text.to_ascii_lowercase(),
                port: default_port,
            },
        }
    }

    pub fn port(&self) -> u16 {
        match self {
            Self::Socket(a) => a.port(),
            Self::Name { port, .. } => *port,
        }
    }

    /// The host name, when this is not an address literal.
    pub fn host_name(&self) -> Option<&str> {
        match self {
            Self::Socket(_) => None,
            Self::Name { host, .. } => Some(host),
        }
    }
}

impl fmt::Display for ProbeAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Socket(a) => a.fmt(f),
            Self::Name { host, port } => write!(f, "{host}:{port}"),
        }
    }
}

/// One thing to probe: a monitor definition and where it connects.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct TargetSpec {
    pub monitor: Monitor,
    pub addr: ProbeAddr,
    /// A prometheus monitor's expression with this endpoint's region,
    /// pool, address, service and zone in place of the placeholders; None
    /// for other monitors. Endpoints whose expressions come out the same
    /// share one target.
    pub query: Option<String>,
}

/// What a Prometheus `query`'s placeholders stand for, for one endpoint.
#[derive(Clone, Copy, Debug)]
pub(super) struct QueryVars<'a> {
    pub(super) region: &'a str,
    pub(super) endpoint: &'a str,
    pub(super) service: &'a str,
    pub(super) zone: &'a str,
}

/// `template` with `{region}`, `{pool}` (the pool's region), `{endpoint}`
/// (the address or name, no trailing dot), `{service}` and `{zone}`
/// (fully qualified names, no trailing dot) replaced.
pub(super) fn render_query(template: &str, v: QueryVars<'_>) -> String {
    template
        .replace("{region}", v.region)
        .replace("{pool}", v.region)
        .replace("{endpoint}", v.endpoint)
        .replace("{service}", v.service)
        .replace("{zone}", v.zone)
}

/// The text `{endpoint}` stands for.
pub(super) fn endpoint_text(e: &Endpoint) -> String {
    match &e.target {
        Target::V4(a) => a.to_string(),
        Target::V6(a) => a.to_string(),
        Target::Name(n) => n.to_ascii().trim_end_matches('.').to_owned(),
    }
}

/// Every target ever seen by this process, interned.
#[derive(Debug, Default)]
pub struct Registry {
    ids: HashMap<Arc<TargetSpec>, TargetId>,
    specs: Vec<Arc<TargetSpec>>,
}

impl Registry {
    /// The id of `spec`, interning it if new.
    pub fn intern(&mut self, spec: TargetSpec) -> TargetId {
        if let Some(&id) = self.ids.get(&spec) {
            return id;
        }
        let id = self.specs.len();
        let spec = Arc::new(spec);
        self.specs.push(spec.clone());
        self.ids.insert(spec, id);
        id
    }

    pub fn spec(&self, id: TargetId) -> Option<&Arc<TargetSpec>> {
        self.specs.get(id)
    }

    /// Intern every monitored endpoint of `config`; returns the map for its
    /// snapshot and the distinct targets it uses, in id order.
    pub fn bind(&mut self, config: &Config) -> (TargetMap, Vec<(TargetId, Arc<TargetSpec>)>) {
        let mut used = Vec::new();
        let zones = config
            .zones
            .iter()
            .map(|zone| {
                let zone_name = zone.origin.to_ascii();
                let zone_name = zone_name.trim_end_matches('.');
                zone.services
                    .iter()
                    .map(|service| {
                        // Nothing probed: no pools at all (answers read
                        // "past the configuration" as always up).
                        if service.pools.iter().all(|p| p.monitors.is_empty()) {
                            return Box::default();
                        }
                        let service_name = service.name.to_ascii();
                        let service_name = service_name.trim_end_matches('.');
                        service
                            .pools
                            .iter()
                            .map(|pool| {
                                if pool.monitors.is_empty() {
                                    return Box::default();
                                }
                                let region = config
                                    .regions
                                    .get(pool.region)
                                    .map_or("", |r| r.name.as_str());
                                pool.endpoints
                                    .iter()
                                    .map(|e| {
                                        let mut required = Vec::new();
                                        let mut watched = Vec::new();
                                        for pm in &pool.monitors {
                                            let monitor = &config.monitors[pm.monitor];
                                            let query = monitor.prometheus.as_ref().map(|p| {
                                                render_query(
                                                    &p.query,
                                                    QueryVars {
                                                        region,
                                                        endpoint: &endpoint_text(e),
                                                        service: service_name,
                                                        zone: zone_name,
                                                    },
                                                )
                                            });
                                            let spec = TargetSpec {
                                                monitor: monitor.clone(),
                                                addr: ProbeAddr::for_endpoint(e, monitor),
                                                query,
                                            };
                                            let id = self.intern(spec);
                                            used.push(id);
                                            match pm.mode {
                                                MonitorMode::MustBeHealthy => required.push(id),
                                                MonitorMode::MonitoringOnly => watched.push(id),
                                            }
                                        }
                                        EndpointTargets {
                                            required: required.into(),
                                            watched: watched.into(),
                                        }
                                    })
                                    .collect()
                            })
                            .collect()
                    })
                    .collect()
            })
            .collect();
        used.sort_unstable();
        used.dedup();
        let targets = used
            .into_iter()
            .map(|id| (id, self.specs[id].clone()))
            .collect();
        (TargetMap { zones }, targets)
    }
}

/// (zone, service, pool, endpoint) → target, for one snapshot. A pool
/// without a monitor has an empty slice: its endpoints are always healthy.
/// A service none of whose pools has a monitor has no pools here (no heap
/// block: issue 19, 100,000 services).
#[derive(Debug, Default)]
pub struct TargetMap {
    /// zone → service → pool → the pool's endpoints.
    zones: Vec<Vec<Box<[PoolTargets]>>>,
}

/// Per endpoint of one pool; empty for a pool without a monitor.
type PoolTargets = Box<[EndpointTargets]>;

/// The targets probing one endpoint, one per monitor of its pool.
#[derive(Debug, Default)]
pub struct EndpointTargets {
    /// `must_be_healthy`, in config order: the endpoint is up when all
    /// of them serve (none: always up).
    pub required: Box<[TargetId]>,
    /// `monitoring_only`: probed and shown, never consulted by answers.
    pub watched: Box<[TargetId]>,
}

impl TargetMap {
    /// The target of the pool's first `must_be_healthy` monitor for that
    /// endpoint (with `monitor:`, its only one); None when no monitor
    /// decides its health.
    #[inline]
    pub fn get(
        &self,
        zone: usize,
        service: usize,
        pool: usize,
        endpoint: usize,
    ) -> Option<TargetId> {
        self.endpoint(zone, service, pool, endpoint)?
            .required
            .first()
            .copied()
    }

    /// Every target of that endpoint, by mode; None when nothing probes it.
    #[inline]
    pub fn endpoint(
        &self,
        zone: usize,
        service: usize,
        pool: usize,
        endpoint: usize,
    ) -> Option<&EndpointTargets> {
        self.pool(zone, service, pool)?.get(endpoint)
    }

    /// The targets of every endpoint of one pool (empty without a
    /// monitor); None past the configuration.
    #[inline]
    pub fn pool(&self, zone: usize, service: usize, pool: usize) -> Option<&[EndpointTargets]> {
        self.zones.get(zone)?.get(service)?.get(pool).map(|p| &**p)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    const CONFIG: &str = "
dns: { listen: [\"127.0.0.1:5300\"] }
regions: { a: {}, b: {} }
monitors:
  web: { type: http, port: 8080, interval: 1s, timeout: 500ms }
  raw: { type: tcp, port: 22 }
zones:
  - origin: example.
    file: example.zone
    services:
      www:
        policy: failover
        pools:
          a: { monitor: web, endpoints: [192.0.2.1, { address: 192.0.2.2, probe: \"127.0.0.1:9000\" }] }
          b: { endpoints: [192.0.2.1] }
      api:
        policy: failover
        pools:
          a: { monitor: web, endpoints: [192.0.2.1] }
          b: { monitor: raw, endpoints: [192.0.2.1] }
      cdn:
        policy: failover
        pools:
          a: { monitor: web, endpoints: [\"lb.example.net.\"] }
";

    fn config(text: &str) -> Config {
        crate::config::parse(text, Path::new("/tmp/meridian.yaml")).expect("valid config")
    }

    #[test]
    fn one_target_per_monitor_and_probe_address() {
        let c = config(CONFIG);
        let mut reg = Registry::default();
        let (map, used) = reg.bind(&c);
        // web@192.0.2.1:8080, web@127.0.0.1:9000, web@lb.example.net:8080, raw@192.0.2.1:22
        assert_eq!(used.len(), 4);
        assert_eq!(
            map.get(0, 0, 0, 0),
            map.get(0, 1, 0, 0),
            "shared by two services"
        );
        assert_eq!(map.get(0, 0, 1, 0), None, "pool without monitor");
        assert_ne!(map.get(0, 1, 1, 0), map.get(0, 0, 0, 0), "other monitor");
        let probe = map
            .get(0, 0, 0, 1)
            .and_then(|id| reg.spec(id))
            .expect("probe target");
        assert_eq!(probe.addr.to_string(), "127.0.0.1:9000");
        let name = map
            .get(0, 2, 0, 0)
            .and_then(|id| reg.spec(id))
            .expect("name target");
        assert_eq!(
            name.addr,
            ProbeAddr::Name {
                host: "lb.example.net".into(),
                port: 8080
            }
        );
        assert_eq!(map.get(9, 0, 0, 0), None);
    }

    #[test]
    fn monitor_groups_intern_every_monitor_and_split_by_mode() {
        let text = CONFIG.replace(
            "b: { monitor: raw, endpoints: [192.0.2.1] }",
            "b: { monitors: [raw, { name: web, mode: monitoring_only }], endpoints: [192.0.2.1] }",
        );
        let c = config(&text);
        let mut reg = Registry::default();
        let (map, _) = reg.bind(&c);
        let both = map.endpoint(0, 1, 1, 0).expect("targets");
        assert_eq!(both.required.len(), 1);
        assert_eq!(both.watched.len(), 1);
        assert_eq!(map.get(0, 1, 1, 0), Some(both.required[0]));
        assert_eq!(
            both.watched[0],
            map.get(0, 1, 0, 0).expect("web"),
            "web@192.0.2.1:8080 is shared with the pool that requires it"
        );
    }

    #[test]
    fn ids_survive_a_reload_and_changed_monitors_are_new_targets() {
        let mut reg = Registry::default();
        let (before, _) = reg.bind(&config(CONFIG));
        // Reordered services and a changed tcp monitor.
        let changed = CONFIG.replace("port: 22", "port: 2222");
        let (after, used) = reg.bind(&config(&changed));
        assert_eq!(before.get(0, 0, 0, 0), after.get(0, 0, 0, 0));
        assert_eq!(before.get(0, 0, 0, 1), after.get(0, 0, 0, 1));
        assert_ne!(before.get(0, 1, 1, 0), after.get(0, 1, 1, 0));
        assert_eq!(used.len(), 4);
    }

    #[test]
    fn probe_text_parses_addresses_and_names() {
        assert_eq!(
            ProbeAddr::parse("[2001:db8::1]:80", 1),
            ProbeAddr::Socket("[2001:db8::1]:80".parse().expect("addr"))
        );
        assert_eq!(
            ProbeAddr::parse("Probe.Example.NET:8080", 1),
            ProbeAddr::Name {
                host: "probe.example.net".into(),
                port: 8080
            }
        );
    }
}
