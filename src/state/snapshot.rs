//! The snapshot: everything an answer depends on, built off the hot path
//! and swapped in whole. The answering path does one `ArcSwap::load` per
//! query and never locks.
//!
//! The heavy parts (configuration, zones, compiled maps, database) sit
//! behind `Arc`s, so an admin change makes a new snapshot by cloning the
//! pointers and replacing only the overrides.

use std::collections::HashMap;
use std::fmt;
use std::path::Path;
use std::sync::Arc;

use hickory_proto::rr::{LowerName, Name};

use std::sync::atomic::AtomicU64;

use crate::config::{self, Config, ConfigError, ConfigErrors};
use crate::geo::lookup::GeoDb;
use crate::health::TargetMap;
use crate::metrics::{self, Registry, ZoneCounters};
use crate::policy::{self, Compiled, Overrides};
use crate::zone::{self, ZoneData};

/// One loaded configuration with its zones, ready to answer from.
#[derive(Debug, Clone)]
pub struct Snapshot {
    /// Increases by one with each successful load in this process.
    pub generation: u64,
    pub config: Arc<Config>,
    /// Indexed like `config.zones`.
    pub zones: Arc<Vec<ZoneData>>,
    /// Origin (lower-cased) to index in `zones`.
    by_origin: Arc<HashMap<LowerName, usize>>,
    /// Geo maps compiled for lookup.
    pub compiled: Arc<Compiled>,
    /// The GeoIP database, when configured.
    pub geoip: Option<Arc<GeoDb>>,
    /// Operator overrides in effect.
    pub overrides: Arc<Overrides>,
    /// Which health target each monitored endpoint reads; empty (every
    /// endpoint healthy) until `HealthChecks::bind` fills it in.
    pub targets: Arc<TargetMap>,
    /// Counter blocks, by zone index; filled by `attach_metrics`.
    pub zone_counters: Arc<Vec<Arc<ZoneCounters>>>,
    /// Counter for queries that matched no zone.
    pub no_zone_counters: Arc<ZoneCounters>,
    /// Answers given with every pool treated as healthy.
    pub fail_open_counter: Arc<AtomicU64>,
    /// Answers by [zone][service][pool].
    pub answer_counters: Arc<Vec<Vec<Vec<Arc<AtomicU64>>>>>,
}

impl Snapshot {
    /// The zone that holds `qname`: the longest origin that is a suffix of it.
    pub fn find_zone(&self, qname: &LowerName) -> Option<(usize, &ZoneData)> {
        let mut name = qname.clone();
        loop {
            if let Some(&index) = self.by_origin.get(&name) {
                return Some((index, &self.zones[index]));
            }
            if name.is_root() {
                return None;
            }
            name = name.base_name();
        }
    }

    /// Take counter blocks from `registry` for every zone and service
    /// (the same blocks across reloads, so counts carry on).
    pub fn attach_metrics(&mut self, registry: &Registry) {
        self.no_zone_counters = registry.zone(metrics::NO_ZONE);
        self.fail_open_counter = registry.fail_open.clone();
        self.zone_counters = Arc::new(
            self.config
                .zones
                .iter()
                .map(|z| registry.zone(&z.origin.to_ascii()))
                .collect(),
        );
        self.answer_counters = Arc::new(
            self.config
                .zones
                .iter()
                .map(|z| {
                    z.services
                        .iter()
                        .map(|s| {
                            let c = registry.service(&s.name.to_ascii());
                            s.pools
                                .iter()
                                .map(|p| c.region(&self.config.regions[p.region].name))
                                .collect()
                        })
                        .collect()
                })
                .collect(),
        );
    }

    /// The same snapshot with other overrides in effect.
    pub fn with_overrides(&self, overrides: Overrides) -> Self {
        Self {
            overrides: Arc::new(overrides),
            ..self.clone()
        }
    }

    /// What `policy::decide` reads from this snapshot.
    pub fn policy_inputs(&self) -> policy::Inputs<'_> {
        policy::Inputs {
            config: &self.config,
            compiled: &self.compiled,
            geoip: self.geoip.as_deref(),
            overrides: &self.overrides,
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

/// Load the configuration at `path` and everything it names, reporting every
/// error found.
pub fn load(path: &Path, generation: u64) -> Result<Snapshot, ConfigErrors> {
    let config = config::load(path)?;
    let mut errors = Vec::new();
    let mut zones = Vec::with_capacity(config.zones.len());
    let mut by_origin = HashMap::new();

    for (index, zone_cfg) in config.zones.iter().enumerate() {
        let records = match zone::load_zone_file(&zone_cfg.file, &zone_cfg.origin) {
            Ok(records) => records,
            Err(e) => {
                errors.push(ConfigError {
                    file: e.file,
                    line: e.line.unwrap_or(0),
                    column: 0,
                    path: String::new(),
                    message: e.message,
                });
                continue;
            }
        };
        let services: Vec<Name> = zone_cfg.services.iter().map(|s| s.name.clone()).collect();
        match ZoneData::build(zone_cfg.origin.clone(), records, &services) {
            Ok(zone) => {
                by_origin.insert(LowerName::new(&zone_cfg.origin), index);
                zones.push(zone);
            }
            Err(problems) => {
                for problem in problems {
                    errors.push(match problem.service.map(|i| &zone_cfg.services[i]) {
                        Some(service) => ConfigError {
                            file: config.source.clone(),
                            line: service.loc.line,
                            column: service.loc.column,
                            path: service.path.clone(),
                            message: problem.message,
                        },
                        None => ConfigError {
                            file: zone_cfg.file.clone(),
                            line: 0,
                            column: 0,
                            path: String::new(),
                            message: problem.message,
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

    if !errors.is_empty() {
        return Err(ConfigErrors(errors));
    }
    Ok(Snapshot {
        generation,
        compiled: Arc::new(Compiled::new(&config)),
        overrides: Arc::new(Overrides::default()),
        targets: Arc::default(),
        config: Arc::new(config),
        zones: Arc::new(zones),
        by_origin: Arc::new(by_origin),
        zone_counters: Arc::default(),
        no_zone_counters: Arc::new(ZoneCounters::default()),
        answer_counters: Arc::default(),
        fail_open_counter: Arc::default(),
        geoip,
    })
}
