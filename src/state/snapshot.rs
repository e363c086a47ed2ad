//! The snapshot: everything an answer depends on, built off the hot path
//! and swapped in whole. The answering path does one `ArcSwap::load` per
//! query and never locks.

use std::collections::HashMap;
use std::fmt;
use std::path::Path;
use std::sync::Arc;

use hickory_proto::rr::{LowerName, Name};

use crate::config::{self, Config, ConfigError, ConfigErrors};
use crate::geo::lookup::GeoDb;
use crate::health::TargetMap;
use crate::policy::{self, Compiled, Overrides};
use crate::zone::{self, ZoneData};

/// One loaded configuration with its zones, ready to answer from.
#[derive(Debug)]
pub struct Snapshot {
    /// Increases by one with each successful load in this process.
    pub generation: u64,
    pub config: Config,
    /// Indexed like `config.zones`.
    pub zones: Vec<ZoneData>,
    /// Origin (lower-cased) to index in `zones`.
    by_origin: HashMap<LowerName, usize>,
    /// Geo maps compiled for lookup.
    pub compiled: Compiled,
    /// The GeoIP database, when configured.
    pub geoip: Option<Arc<GeoDb>>,
    /// Operator overrides in effect.
    pub overrides: Overrides,
    /// Which health target each monitored endpoint reads; empty (every
    /// endpoint healthy) until `HealthChecks::bind` fills it in.
    pub targets: TargetMap,
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
        compiled: Compiled::new(&config),
        overrides: Overrides::default(),
        targets: TargetMap::default(),
        config,
        zones,
        by_origin,
        geoip,
    })
}
