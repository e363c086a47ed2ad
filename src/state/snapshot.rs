//! The snapshot: everything an answer depends on, built off the hot path
//! and swapped in whole. The answering path does one `ArcSwap::load` per
//! query and never locks.
//!
//! The heavy parts (configuration, zones, compiled maps, database) sit
//! behind `Arc`s, so an admin change makes a new snapshot by cloning the
//! pointers and replacing only the overrides.

use std::fmt;
use std::path::Path;
use std::sync::Arc;

use hickory_proto::rr::Name;

use std::sync::atomic::AtomicU64;

use crate::config::{self, Config, ConfigError, ConfigErrors};
use crate::geo::lookup::GeoDb;
use crate::geo::place::Places;
use crate::handout;
use crate::health::TargetMap;
use crate::metrics::{self, Registry, ZoneCounters};
use crate::policy::{self, Compiled, Overrides};
use crate::zone::prepared::Prepared;
use crate::zone::{self, NameMap, ZoneData};

/// Where a snapshot without counters attached counts fail-open answers.
static UNATTACHED: AtomicU64 = AtomicU64::new(0);

/// One loaded configuration with its zones, ready to answer from.
#[derive(Debug, Clone)]
pub struct Snapshot {
    /// Increases by one with each successful load in this process.
    pub generation: u64,
    /// The configuration answers use: `base` with the registry endpoints
    /// in effect added to the pools that discover theirs.
    pub config: Arc<Config>,
    /// The configuration as read from its file.
    pub base: Arc<Config>,
    /// Indexed like `config.zones`.
    pub zones: Arc<Vec<ZoneData>>,
    /// Origin (lower-cased, in wire form) to index in `zones`.
    by_origin: Arc<NameMap<Box<[u8]>, usize>>,
    /// The zones' names with their static answers encoded and their GSLB
    /// services (the answer pipeline's step 4).
    pub prepared: Arc<Prepared>,
    /// Some zone has DNSSEC keys: a DO query is then signed (worked out
    /// at load, not per query).
    pub signed: bool,
    /// Geo maps compiled for lookup.
    pub compiled: Arc<Compiled>,
    /// The GeoIP database, when configured.
    pub geoip: Option<Arc<GeoDb>>,
    /// `geoip.asn_database`, when configured.
    pub asn_db: Option<Arc<GeoDb>>,
    /// Operator overrides in effect.
    pub overrides: Arc<Overrides>,
    /// Pools ramping up (`slow_start`), kept by the slow-start task.
    pub ramps: Arc<policy::Ramps>,
    /// Which health target each monitored endpoint reads; empty (every
    /// endpoint healthy) until `crate::runtime::prepare` binds the health
    /// checks.
    pub targets: Arc<TargetMap>,
    /// Counter blocks, by zone index; filled by `attach_metrics`.
    pub zone_counters: Arc<Vec<Arc<ZoneCounters>>>,
    /// Counter for queries that matched no zone.
    pub no_zone_counters: Arc<ZoneCounters>,
    /// Answers given with every pool treated as healthy.
    pub fail_open_counter: &'static AtomicU64,
    /// The same, by [zone][service] (issue 18: `service` label).
    pub fail_open_counters: Arc<Vec<Vec<&'static AtomicU64>>>,
    /// Answers by pool, every pool of the configuration in one sequence
    /// (index it by `handouts.pool_id`). The registry's counters, which
    /// live as long as the process (`metrics::Registry::service`).
    pub answer_counters: Arc<Vec<&'static AtomicU64>>,
    /// What each endpoint was last handed out, for drain reports; made
    /// with `config` and shared by every snapshot that has the same one.
    pub handouts: Arc<handout::Table>,
}

impl Snapshot {
    /// The zone that holds `qname`: the longest origin that is a suffix of it.
    /// Looks up each suffix of the lower-cased wire form, longest first,
    /// without allocating.
    pub fn find_zone(&self, qname: &Name) -> Option<(usize, &ZoneData)> {
        let mut wire = [0u8; Name::MAX_LENGTH + 1];
        let len = lower_wire(qname, &mut wire)?;
        let index = zone_of(&self.by_origin, &wire[..len])?;
        Some((index, &self.zones[index]))
    }

    /// Take counter blocks from `registry` for every zone and service
    /// (the same blocks across reloads, so counts carry on).
    pub fn attach_metrics(&mut self, registry: &Registry) {
        self.no_zone_counters = registry.zone(metrics::NO_ZONE);
        self.fail_open_counter = registry.fail_open.0;
        self.zone_counters = Arc::new(
            self.config
                .zones
                .iter()
                .map(|z| registry.zone(&z.origin.to_ascii()))
                .collect(),
        );
        // One look-up per service for both of its counter sets.
        let mut fail_open = Vec::with_capacity(self.config.zones.len());
        // Zone by zone, service by service, pool by pool: the order of the
        // hand-out table's pool numbers.
        let mut answers = Vec::new();
        for z in &self.config.zones {
            let mut zone_fail_open = Vec::with_capacity(z.services.len());
            for s in &z.services {
                let regions = s
                    .pools
                    .iter()
                    .map(|p| self.config.regions[p.region].name.as_str());
                let (fail, answered) = registry.service(&s.name.to_ascii(), regions);
                zone_fail_open.push(fail);
                answers.extend_from_slice(&answered);
            }
            fail_open.push(zone_fail_open);
        }
        self.fail_open_counters = Arc::new(fail_open);
        self.answer_counters = Arc::new(answers);
    }

    /// The same snapshot with other overrides in effect.
    pub fn with_overrides(&self, overrides: Overrides) -> Self {
        Self {
            overrides: Arc::new(overrides),
            ..self.clone()
        }
    }

    /// The same files with other registry endpoints in effect: a new
    /// configuration (so new plans and a new hand-out table,
    /// carrying the old figures over); targets are bound again by the
    /// caller (`HealthChecks::bind`), metrics attached again.
    pub fn with_discovered(&self, discovered: &super::registry::Discovered) -> Self {
        let discovers = self.base.zones.iter().any(|z| {
            z.services
                .iter()
                .any(|s| s.pools.iter().any(|p| p.discover.is_some()))
        });
        if !discovers {
            // Nothing to merge: the file's configuration is the one answered.
            return self.clone();
        }
        let config = Arc::new(super::registry::merge(&self.base, discovered));
        let handouts = handout::Table::new(&config);
        handouts.carry_over(&config, &self.handouts, &self.config);
        Self {
            compiled: Arc::new(Compiled::new(&config, self.compiled.places.clone())),
            handouts: Arc::new(handouts),
            targets: Arc::default(),
            config,
            ..self.clone()
        }
    }

    /// The same snapshot with nothing prepared: every query takes the zone
    /// lookup and the full encoder (tests compare the two paths).
    pub fn unprepared(&self) -> Self {
        Self {
            prepared: Arc::default(),
            ..self.clone()
        }
    }

    /// The same snapshot with other slow-start ramps.
    pub fn with_ramps(&self, ramps: policy::Ramps) -> Self {
        Self {
            ramps: Arc::new(ramps),
            ..self.clone()
        }
    }

    /// What `policy::decide` reads from this snapshot.
    pub fn policy_inputs(&self) -> policy::Inputs<'_> {
        policy::Inputs {
            config: &self.config,
            compiled: &self.compiled,
            geoip: self.geoip.as_deref(),
            asn_db: self.asn_db.as_deref(),
            overrides: &self.overrides,
            ramps: &self.ramps,
            verdicts: None,
        }
    }

    pub fn summary(&self) -> Summary {
        Summary {
            zones: self.zones.len(),
            records: self.zones.iter().map(ZoneData::record_count).sum(),
            services: self.config.zones.iter().map(|z| z.services.len()).sum(),
            regions: self.config.regions.len(),
            monitors: self.config.monitors.len(),
            geo_maps: self.config.geo_maps.len(),
        }
    }
}

/// Counts printed by `meridian check` and logged at start.
#[derive(Debug, Clone, Copy)]
pub struct Summary {
    pub zones: usize,
    pub records: usize,
    pub services: usize,
    pub regions: usize,
    pub monitors: usize,
    pub geo_maps: usize,
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} zone(s), {} static record(s), {} service(s), {} region(s), {} monitor(s), {} geo map(s)",
            self.zones, self.records, self.services, self.regions, self.monitors, self.geo_maps
        )
    }
}

/// Write `name` into `out` in wire form (labels, then the root), lower-cased
/// (ASCII); its length, or `None` if it does not fit (it always does for a
/// name hickory built, which is at most 255 bytes).
fn lower_wire(name: &Name, out: &mut [u8; Name::MAX_LENGTH + 1]) -> Option<usize> {
    let mut len = 0;
    for label in name.iter() {
        let end = len + 1 + label.len();
        let dst = out.get_mut(len..end)?;
        dst[0] = u8::try_from(label.len()).ok()?;
        for (d, s) in dst[1..].iter_mut().zip(label) {
            *d = s.to_ascii_lowercase();
        }
        len = end;
    }
    *out.get_mut(len)? = 0;
    Some(len + 1)
}

/// The zone of a lower-cased wire name: the longest origin that is a
/// suffix of it.
fn zone_of(by_origin: &NameMap<Box<[u8]>, usize>, wire: &[u8]) -> Option<usize> {
    let mut pos = 0;
    loop {
        let suffix = wire.get(pos..)?;
        if let Some(&index) = by_origin.get(suffix) {
            return Some(index);
        }
        match suffix.first() {
            Some(&label) if label != 0 => pos += 1 + usize::from(label),
            _ => return None,
        }
    }
}

/// A zone file error as a configuration error: file:line:column.
fn zone_error(e: zone::ZoneFileError) -> ConfigError {
    ConfigError {
        file: e.file,
        line: e.line.unwrap_or(0),
        column: e.column.unwrap_or(0),
        path: String::new(),
        message: e.message,
    }
}

/// Load the configuration at `path` and everything it names, reporting every
/// error found (`meridian check`; the server goes through
/// `crate::runtime::prepare`, which calls [`build`]).
pub fn load(path: &Path, generation: u64) -> Result<Snapshot, ConfigErrors> {
    build(config::load(path)?, generation)
}

/// Build the snapshot of a validated configuration: its zone files and
/// DNSSEC keys read, the GeoIP databases opened, the placement trees and
/// maps compiled, the static answers prepared. Blocking file work: call it
/// off the async workers. No overrides, health targets or counters yet.
pub fn build(config: Config, generation: u64) -> Result<Snapshot, ConfigErrors> {
    let started = std::time::Instant::now();
    let lap = |stage: &str| {
        tracing::debug!(
            stage,
            ms = started.elapsed().as_millis(),
            "build: {stage} done"
        );
    };
    let mut errors = Vec::new();
    let mut zones = Vec::with_capacity(config.zones.len());
    let mut by_origin = NameMap::default();

    for (index, zone_cfg) in config.zones.iter().enumerate() {
        let mut loaded = match zone::load_zone_file(&zone_cfg.file, &zone_cfg.origin) {
            Ok(loaded) => loaded,
            Err(zone_errors) => {
                errors.extend(zone_errors.into_iter().map(zone_error));
                continue;
            }
        };
        let mut records = std::mem::take(&mut loaded.records);
        // DNSSEC (issue 16): the keys, and their records at the apex.
        let signer = match &zone_cfg.dnssec {
            Some(d) => match crate::dnssec::load_signer(&zone_cfg.origin, d, &config.source) {
                Ok(s) => Some(Arc::new(s)),
                Err(e) => {
                    errors.extend(e);
                    continue;
                }
            },
            None => None,
        };
        records.extend(signer.iter().flat_map(|s| crate::dnssec::apex_records(s)));
        // Borrowed, not cloned: 8 bytes a service next to the zone being
        // built, where a `Name` is 80 (issue 19).
        let services: Vec<&Name> = zone_cfg.services.iter().map(|s| &s.name).collect();
        match ZoneData::build(zone_cfg.origin.clone(), records, &services) {
            Ok(mut zone) => {
                zone.set_signer(signer);
                let mut wire = [0u8; Name::MAX_LENGTH + 1];
                if let Some(len) = lower_wire(&zone_cfg.origin, &mut wire) {
                    by_origin.insert(Box::from(&wire[..len]), index);
                }
                zones.push(zone);
            }
            Err(problems) => {
                for problem in problems {
                    errors.push(match problem.service.map(|i| &zone_cfg.services[i]) {
                        Some(service) => ConfigError {
                            file: config.source.clone(),
                            line: service.loc.line,
                            column: service.loc.column,
                            path: service.path(index),
                            message: problem.message,
                        },
                        None => match problem.record {
                            Some(i) => zone_error(loaded.error_at(i, problem.message)),
                            None => ConfigError {
                                file: zone_cfg.file.clone(),
                                line: 0,
                                column: 0,
                                path: String::new(),
                                message: problem.message,
                            },
                        },
                    });
                }
            }
        }
    }

    let geoip = match &config.geoip {
        Some(g) => match GeoDb::open(&g.database) {
            Ok(db) => Some(Arc::new(db)),
            Err(e) => {
                errors.push(ConfigError {
                    file: config.source.clone(),
                    line: g.loc.line,
                    column: g.loc.column,
                    path: "geoip.database".into(),
                    message: e.to_string(),
                });
                None
            }
        },
        None => None,
    };

    let asn_db = match config
        .geoip
        .as_ref()
        .and_then(|g| Some((g, g.asn_database.as_ref()?)))
    {
        Some((g, path)) => match GeoDb::open(path) {
            Ok(db) => Some(Arc::new(db)),
            Err(e) => {
                errors.push(ConfigError {
                    file: config.source.clone(),
                    line: g.asn_loc.line,
                    column: g.asn_loc.column,
                    path: "geoip.asn_database".into(),
                    message: e.to_string(),
                });
                None
            }
        },
        None => None,
    };

    lap("zones and databases");
    // The placement trees: the database and the maps compiled together.
    let places = match Places::build(&config, geoip.as_deref(), asn_db.as_deref()) {
        Ok(places) => {
            for (name, tree) in config
                .geo_maps
                .iter()
                .map(|m| m.name.as_str())
                .zip(&places.maps)
                .chain(std::iter::once(("(nearest)", &places.nearest)))
            {
                if let Some(tree) = tree {
                    let (nodes, leaves) = tree.size();
                    tracing::debug!(
                        map = name,
                        nodes,
                        leaves,
                        entries = tree.entries.len(),
                        "placement tree compiled"
                    );
                }
            }
            places
        }
        Err(e) => {
            let (line, column) = config
                .geoip
                .as_ref()
                .map_or((0, 0), |g| (g.loc.line, g.loc.column));
            errors.push(ConfigError {
                file: config.source.clone(),
                line,
                column,
                path: "geoip.database".into(),
                message: e.to_string(),
            });
            Places::default()
        }
    };
    if !errors.is_empty() {
        return Err(ConfigErrors(errors));
    }
    lap("placement trees");
    let config = Arc::new(config);
    let prepared = Prepared::build(&zones, |wire| zone_of(&by_origin, wire));
    lap("prepared answers");
    let compiled = Compiled::new(&config, Arc::new(places));
    lap("compiled maps");
    let handouts = handout::Table::new(&config);
    lap("hand-out table");
    Ok(Snapshot {
        generation,
        prepared: Arc::new(prepared),
        signed: zones.iter().any(|z| z.signer().is_some()),
        compiled: Arc::new(compiled),
        overrides: Arc::new(Overrides::default()),
        ramps: Arc::default(),
        targets: Arc::default(),
        handouts: Arc::new(handouts),
        base: config.clone(),
        config,
        zones: Arc::new(zones),
        by_origin: Arc::new(by_origin),
        zone_counters: Arc::default(),
        no_zone_counters: Arc::new(ZoneCounters::default()),
        answer_counters: Arc::default(),
        fail_open_counter: &UNATTACHED,
        fail_open_counters: Arc::default(),
        geoip,
        asn_db,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn zone(origin: &str) -> String {
        format!(
            "$ORIGIN {origin}\n$TTL 60\n@ IN SOA ns1 hostmaster 1 3600 600 86400 60\n@ IN NS ns1\nns1 IN A 192.0.2.1\n"
        )
    }

    #[test]
    fn a_service_clashing_with_static_records_is_named_by_its_key_path() {
        let dir = tempfile::tempdir().unwrap();
        let text = format!("{}www IN A 192.0.2.9\n", zone("example."));
        std::fs::write(dir.path().join("a.zone"), text).unwrap();
        let config = dir.path().join("meridian.yaml");
        std::fs::write(
            &config,
            "regions:\n  here: {}\nzones:\n  - origin: example.\n    file: a.zone\n    services:\n      www: {policy: failover, pools: {here: {endpoints: [192.0.2.1]}}}\n",
        )
        .unwrap();
        let errors = load(&config, 1).unwrap_err().0;
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert_eq!(errors[0].path, "zones[0].services.www");
        assert_eq!((errors[0].line, errors[0].column), (7, 7));
        assert!(
            errors[0].message.contains("static records"),
            "{}",
            errors[0].message
        );
    }

    #[test]
    fn find_zone_takes_the_longest_origin_whatever_the_case() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a.zone"), zone("example.")).unwrap();
        std::fs::write(dir.path().join("b.zone"), zone("Sub.Example.")).unwrap();
        let config = dir.path().join("meridian.yaml");
        std::fs::write(
            &config,
            "dns:\n  listen: [\"127.0.0.1:5300\"]\nregions:\n  here: {}\nzones:\n  - origin: example.\n    file: a.zone\n  - origin: Sub.Example.\n    file: b.zone\n",
        )
        .unwrap();
        let snap = load(&config, 1).unwrap();
        let find = |name: &str| {
            snap.find_zone(&Name::from_ascii(name).unwrap())
                .map(|(i, _)| i)
        };
        assert_eq!(find("example."), Some(0));
        assert_eq!(find("WWW.EXAMPLE."), Some(0));
        assert_eq!(find("sub.example."), Some(1));
        assert_eq!(find("a.b.SUB.example."), Some(1));
        assert_eq!(find("subx.example."), Some(0));
        assert_eq!(find("example.org."), None);
        assert_eq!(find("com."), None);
        assert_eq!(find("."), None);
    }
}
