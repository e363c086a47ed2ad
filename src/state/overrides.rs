//! Operator overrides (SPEC 5): forced region states and pool weights, each
//! with an optional expiry; the versioned `state_file` they persist in
//! (written to a temporary file, flushed, renamed, directory synced); and
//! how they resolve against a configuration into the indices the decision
//! reads (`policy::Overrides`).
//!
//! Overrides are kept by name (and endpoints by address), not index, so
//! they survive reloads that reorder the configuration. Names the
//! configuration no longer has are kept as dormant (SPEC 5.3): listed with
//! a warning, applied again if the name comes back, removed only by an
//! operator. Endpoint overrides are dormant whenever no pool holds the
//! address, which is normal for registry endpoints that come and go.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::config::Config;
use crate::config::Target;
use crate::policy::{self, EndpointForced, Forced};

/// Version written into, and required of, the state file.
pub const STATE_VERSION: u32 = 1;

/// Why a change was not made.
#[derive(Debug, thiserror::Error)]
pub enum ChangeError {
    /// The request itself is wrong (400/404 decided by the caller).
    #[error("{0}")]
    Rejected(String),
    /// The state file could not be written: nothing changed.
    #[error("{0}; nothing was changed")]
    Persist(#[from] StateError),
    /// The overrides are not at the revision the client named, or kept
    /// changing under us (409).
    #[error("conflict: {0}")]
    Conflict(String),
    /// The shared store cannot be reached: nothing changed (503).
    #[error(
        "{0}; nothing was changed (changes need etcd; answers go on with the last overrides seen)"
    )]
    Unavailable(String),
}

/// A state file that could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("{}: cannot read state file: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}: state file is not valid: {message}", path.display())]
    Invalid { path: PathBuf, message: String },
    #[error("{}: cannot write state file: {source}", path.display())]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// A forced region state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RegionState {
    Up,
    Down,
}

impl From<RegionState> for Forced {
    fn from(s: RegionState) -> Self {
        match s {
            RegionState::Up => Self::Up,
            RegionState::Down => Self::Down,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegionOverride {
    pub state: RegionState,
    /// Unix seconds at which the override lapses; none = until removed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until: Option<u64>,
    /// Unix milliseconds at which this state was first set: where a drain
    /// report starts counting.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since: Option<u64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WeightOverride {
    pub weight: u16,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until: Option<u64>,
    /// Unix milliseconds at which this weight was first set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since: Option<u64>,
}

/// A forced endpoint state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EndpointState {
    Up,
    Down,
    Drain,
}

impl EndpointState {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Up => "up",
            Self::Down => "down",
            Self::Drain => "drain",
        }
    }
}

impl From<EndpointState> for EndpointForced {
    fn from(s: EndpointState) -> Self {
        match s {
            EndpointState::Up => Self::Up,
            EndpointState::Down => Self::Down,
            EndpointState::Drain => Self::Drain,
        }
    }
}

/// What an operator set on one endpoint (by address, in every pool that
/// holds it): a state, a weight, or both.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EndpointOverride {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<EndpointState>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weight: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until: Option<u64>,
    /// Unix milliseconds at which `state` was first set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since: Option<u64>,
    /// The label selector the operator used, if any (shown, not applied).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub selector: BTreeMap<String, String>,
}

/// The text an endpoint's overrides are keyed by: its address, or its name
/// (without the final dot) for a CNAME endpoint.
pub fn endpoint_key(target: &Target) -> String {
    match target {
        Target::V4(a) => a.to_string(),
        Target::V6(a) => a.to_string(),
        Target::Name(n) => n.to_ascii().trim_end_matches('.').to_ascii_lowercase(),
    }
}

/// Every override in effect, by name. This is also the state file's body.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OverrideSet {
    pub version: u32,
    /// Region name → forced state.
    #[serde(default)]
    pub regions: BTreeMap<String, RegionOverride>,
    /// Service full name (`www.gslb.example.`) → region name → weight.
    #[serde(default)]
    pub weights: BTreeMap<String, BTreeMap<String, WeightOverride>>,
    /// Endpoint address (see [`endpoint_key`]) → what is forced on it.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub endpoints: BTreeMap<String, EndpointOverride>,
    /// Service full name → region name → spill percent.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub spills: BTreeMap<String, BTreeMap<String, SpillOverride>>,
    /// Service full name → its canary rollout (running, or the last one).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub rollouts: BTreeMap<String, super::rollout::Rollout>,
    /// Alertmanager's fingerprint of a firing alert → what it marks down
    /// (`POST /v1/alerts`; `super::alerts`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub alerts: BTreeMap<String, super::alerts::AlertOverride>,
}

/// A pool's spill set at run time (0..=100 percent).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SpillOverride {
    pub percent: u8,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until: Option<u64>,
}

pub use crate::clock::{unix_now, unix_now_ms};

/// `now + for`, in Unix seconds, for an override given a duration.
pub fn expiry_after(now: u64, duration: Option<Duration>) -> Option<u64> {
    duration.map(|d| now.saturating_add(d.as_secs().max(1)))
}

impl OverrideSet {
    pub fn new() -> Self {
        Self {
            version: STATE_VERSION,
            ..Self::default()
        }
    }

    /// Read `path`; a missing file is an empty set.
    pub fn load(path: &Path) -> Result<Self, StateError> {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Self::new()),
            Err(source) => {
                return Err(StateError::Read {
                    path: path.to_path_buf(),
                    source,
                });
            }
        };
        let set: Self = serde_json::from_str(&text).map_err(|e| StateError::Invalid {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
        if set.version != STATE_VERSION {
            return Err(StateError::Invalid {
                path: path.to_path_buf(),
                message: format!(
                    "version {} is not supported (this meridian writes version {STATE_VERSION})",
                    set.version
                ),
            });
        }
        Ok(set)
    }

    /// Write to `path` durably: a temporary file beside it, flushed and
    /// synced, renamed over `path`, and the directory synced, so that after
    /// a crash the file is either the old state or the new one.
    ///
    /// Each call writes its own temporary file (`.NAME.tmp.PID.N`), so two
    /// writes never share one, even when a write abandoned by its caller is
    /// still running; a crash can leave one behind, which
    /// [`remove_stale_temps`] clears at the next start.
    pub fn save(&self, path: &Path) -> Result<(), StateError> {
        static SEQUENCE: AtomicU64 = AtomicU64::new(0);
        let err = |source| StateError::Write {
            path: path.to_path_buf(),
            source,
        };
        let dir = state_dir(path);
        let mut body = serde_json::to_vec_pretty(self)
            .map_err(|e| err(std::io::Error::other(e.to_string())))?;
        body.push(b'\n');
        let n = SEQUENCE.fetch_add(1, Ordering::Relaxed);
        let tmp = dir.join(format!("{}{}.{n}", temp_prefix(path), std::process::id()));
        let result = (|| {
            let mut f = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&tmp)?;
            f.write_all(&body)?;
            f.sync_all()?;
            drop(f);
            std::fs::rename(&tmp, path)?;
            std::fs::File::open(&dir)?.sync_all()
        })();
        if result.is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
        result.map_err(err)
    }

    /// Drop overrides whose time has passed; true if any were.
    pub fn prune_expired(&mut self, now: u64) -> bool {
        let live = |until: Option<u64>| until.is_none_or(|t| t > now);
        let before = self.len();
        self.regions.retain(|_, o| live(o.until));
        for pools in self.weights.values_mut() {
            pools.retain(|_, o| live(o.until));
        }
        self.weights.retain(|_, pools| !pools.is_empty());
        self.endpoints.retain(|_, o| live(o.until));
        for pools in self.spills.values_mut() {
            pools.retain(|_, o| live(o.until));
        }
        self.spills.retain(|_, pools| !pools.is_empty());
        self.len() != before
    }

    /// What `prune_expired(now)` would remove, one line each, for the log:
    /// `region us-east down`, `weight of www.example. in eu-west 0`.
    pub fn lapsing(&self, now: u64) -> Vec<String> {
        let gone = |until: Option<u64>| until.is_some_and(|t| t <= now);
        let mut out = Vec::new();
        for (name, o) in &self.regions {
            if gone(o.until) {
                let state = if o.state == RegionState::Up {
                    "up"
                } else {
                    "down"
                };
                out.push(format!("region {name} {state}"));
            }
        }
        for (service, pools) in &self.weights {
            for (region, o) in pools.iter().filter(|(_, o)| gone(o.until)) {
                out.push(format!("weight of {service} in {region} {}", o.weight));
            }
        }
        for (addr, o) in self.endpoints.iter().filter(|(_, o)| gone(o.until)) {
            let mut what = Vec::new();
            if let Some(state) = o.state {
                what.push(state.as_str().to_string());
            }
            if let Some(w) = o.weight {
                what.push(format!("weight {w}"));
            }
            out.push(format!("endpoint {addr} {}", what.join(", ")));
        }
        for (service, pools) in &self.spills {
            for (region, o) in pools.iter().filter(|(_, o)| gone(o.until)) {
                out.push(format!("spill of {service} in {region} {}%", o.percent));
            }
        }
        out
    }

    fn len(&self) -> usize {
        self.regions.len()
            + self.weights.values().map(BTreeMap::len).sum::<usize>()
            + self.endpoints.len()
            + self.spills.values().map(BTreeMap::len).sum::<usize>()
    }

    /// The earliest expiry among the overrides, if any has one.
    pub fn next_expiry(&self) -> Option<u64> {
        let regions = self.regions.values().filter_map(|o| o.until);
        let weights = self
            .weights
            .values()
            .flat_map(|p| p.values().filter_map(|o| o.until));
        let endpoints = self.endpoints.values().filter_map(|o| o.until);
        let spills = self
            .spills
            .values()
            .flat_map(|p| p.values().filter_map(|o| o.until));
        regions.chain(weights).chain(endpoints).chain(spills).min()
    }

    /// A warning for each override naming what `config` does not have
    /// (SPEC 5.3): such overrides are dormant, kept and applied again if
    /// the name comes back. Endpoint overrides are not listed: registry
    /// endpoints come and go, so an absent address is normal.
    pub fn dormant(&self, config: &Config) -> Vec<String> {
        let mut warnings = Vec::new();
        for name in self.regions.keys() {
            if !config.regions.iter().any(|r| &r.name == name) {
                warnings.push(format!(
                    "override of region {name:?} is dormant: no such region in the configuration (DELETE it or bring the region back)"
                ));
            }
        }
        for (service, pools) in &self.weights {
            let Some((_, _, svc)) = find_service(config, service) else {
                warnings.push(format!(
                    "weight overrides of service {service:?} are dormant: no such service in the configuration"
                ));
                continue;
            };
            for region in pools.keys() {
                let known = svc
                    .pools
                    .iter()
                    .any(|p| config.regions[p.region].name == *region);
                if !known {
                    warnings.push(format!(
                        "weight override of {service} pool {region:?} is dormant: no such pool"
                    ));
                }
            }
        }
        warnings
    }

    /// The overrides in effect at `now`, as indices into `config`. Names
    /// the configuration lacks are skipped (see `retain_known`).
    pub fn resolve(&self, config: &Config, now: u64) -> policy::Overrides {
        let live = |until: Option<u64>| until.is_none_or(|t| t > now);
        let mut out = policy::Overrides {
            regions: vec![Forced::Auto; config.regions.len()],
            weights: Vec::new(),
            endpoints: Vec::new(),
            spills: Vec::new(),
        };
        for (service, pools) in &self.spills {
            let Some((z, s, svc)) = find_service(config, service) else {
                continue;
            };
            for (region, o) in pools {
                let pool = svc
                    .pools
                    .iter()
                    .position(|p| config.regions[p.region].name == *region);
                if let (Some(p), true) = (pool, live(o.until)) {
                    out.spills.push(((z, s, p), o.percent));
                }
            }
        }
        for (name, o) in &self.regions {
            if let Some(i) = config.regions.iter().position(|r| &r.name == name)
                && live(o.until)
            {
                out.regions[i] = o.state.into();
            }
        }
        for (service, pools) in &self.weights {
            let Some((z, s, svc)) = find_service(config, service) else {
                continue;
            };
            for (region, o) in pools {
                let pool = svc
                    .pools
                    .iter()
                    .position(|p| config.regions[p.region].name == *region);
                if let (Some(p), true) = (pool, live(o.until)) {
                    out.weights.push(((z, s, p), o.weight));
                }
            }
        }
        if self.endpoints.values().any(|o| live(o.until)) {
            out.endpoints = self.resolve_endpoints(config, now);
        }
        super::alerts::apply(&self.alerts, &self.regions, config, &mut out);
        out
    }

    /// Every (zone, service, pool, endpoint) whose address has a live
    /// override, sorted by key.
    fn resolve_endpoints(
        &self,
        config: &Config,
        now: u64,
    ) -> Vec<(policy::EndpointKey, policy::EndpointOverride)> {
        let mut out = Vec::new();
        let index = |i: usize| u32::try_from(i).unwrap_or(u32::MAX);
        for (z, zone) in config.zones.iter().enumerate() {
            for (s, svc) in zone.services.iter().enumerate() {
                for (p, pool) in svc.pools.iter().enumerate() {
                    for (e, ep) in pool.endpoints.iter().enumerate() {
                        let Some(o) = self.endpoints.get(&endpoint_key(&ep.target)) else {
                            continue;
                        };
                        if o.until.is_some_and(|t| t <= now) {
                            continue;
                        }
                        out.push((
                            (index(z), index(s), index(p), index(e)),
                            policy::EndpointOverride {
                                state: o.state.map_or(EndpointForced::Auto, Into::into),
                                weight: o.weight,
                            },
                        ));
                    }
                }
            }
        }
        out.sort_unstable_by_key(|(k, _)| *k);
        out
    }
}

/// The directory a state file lives in (`.` for a bare file name).
fn state_dir(path: &Path) -> PathBuf {
    match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// What the temporary files of `path` are named up to the writer's pid.
fn temp_prefix(path: &Path) -> String {
    let file_name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "state.json".into());
    format!(".{file_name}.tmp.")
}

/// Remove the temporary files a killed process left beside `path` (from
/// [`OverrideSet::save`]); call at start, before anything writes. Returns
/// the names removed. Only this process writes the state file, so any such
/// file is an abandoned write: the state file itself is the old or the new
/// state, never a mix.
pub fn remove_stale_temps(path: &Path) -> Vec<PathBuf> {
    let prefix = temp_prefix(path);
    let Ok(entries) = std::fs::read_dir(state_dir(path)) else {
        return Vec::new();
    };
    let mut removed = Vec::new();
    for entry in entries.flatten() {
        let name = entry.file_name();
        let is_temp = name.to_str().is_some_and(|n| {
            n.strip_prefix(&prefix).is_some_and(|rest| {
                !rest.is_empty() && rest.bytes().all(|b| b.is_ascii_digit() || b == b'.')
            })
        });
        if is_temp
            && entry.file_type().is_ok_and(|t| t.is_file())
            && std::fs::remove_file(entry.path()).is_ok()
        {
            removed.push(entry.path());
        }
    }
    removed
}

/// The zone index, service index and service named `name` (a full name,
/// case-insensitive, trailing dot optional).
pub fn find_service<'c>(
    config: &'c Config,
    name: &str,
) -> Option<(usize, usize, &'c crate::config::Service)> {
    let wanted = name.trim_end_matches('.').to_ascii_lowercase();
    config.zones.iter().enumerate().find_map(|(z, zone)| {
        zone.services.iter().enumerate().find_map(|(s, svc)| {
            let have = svc.name.to_ascii().to_ascii_lowercase();
            (have.trim_end_matches('.') == wanted).then_some((z, s, svc))
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> Config {
        let text = r#"
regions:
  us-east: {}
  eu-west: {}
zones:
  - origin: gslb.example.
    file: z.zone
    services:
      www:
        policy: failover
        pools:
          us-east: { endpoints: [192.0.2.1] }
          eu-west: { endpoints: [192.0.2.2] }
"#;
        crate::config::parse(text, Path::new("t.yaml")).unwrap()
    }

    fn sample() -> OverrideSet {
        let mut set = OverrideSet::new();
        set.regions.insert(
            "eu-west".into(),
            RegionOverride {
                state: RegionState::Down,
                until: None,
                since: None,
            },
        );
        set.weights
            .entry("www.gslb.example.".into())
            .or_default()
            .insert(
                "us-east".into(),
                WeightOverride {
                    weight: 0,
                    until: Some(1000),
                    since: None,
                },
            );
        set
    }

    #[test]
    fn save_then_load_round_trips_and_leaves_no_temp_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        assert_eq!(
            OverrideSet::load(&path).unwrap(),
            OverrideSet::new(),
            "missing = empty"
        );
        sample().save(&path).unwrap();
        assert_eq!(OverrideSet::load(&path).unwrap(), sample());
        let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(names.len(), 1);
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains("\"version\": 1"), "{text}");
    }

    #[test]
    fn concurrent_saves_each_use_their_own_temporary_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        let threads: Vec<_> = (0..8)
            .map(|_| {
                let path = path.clone();
                std::thread::spawn(move || {
                    for _ in 0..25 {
                        sample().save(&path).unwrap();
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(OverrideSet::load(&path).unwrap(), sample());
        let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(names.len(), 1, "{names:?}");
    }

    #[test]
    fn stale_temporary_files_are_removed_and_nothing_else() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        sample().save(&path).unwrap();
        for name in [".state.json.tmp.4242", ".state.json.tmp.77.3"] {
            std::fs::write(dir.path().join(name), "{half").unwrap();
        }
        for name in ["other.json", ".state.json.tmp.", ".other.json.tmp.1"] {
            std::fs::write(dir.path().join(name), "x").unwrap();
        }
        let mut removed = remove_stale_temps(&path);
        removed.sort();
        assert_eq!(
            removed,
            vec![
                dir.path().join(".state.json.tmp.4242"),
                dir.path().join(".state.json.tmp.77.3")
            ]
        );
        assert_eq!(OverrideSet::load(&path).unwrap(), sample());
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 4);
    }

    #[test]
    fn save_into_a_missing_directory_fails_and_changes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nope/state.json");
        assert!(matches!(
            sample().save(&path),
            Err(StateError::Write { .. })
        ));
    }

    #[test]
    fn other_versions_and_garbage_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        std::fs::write(&path, r#"{"version": 2}"#).unwrap();
        let e = OverrideSet::load(&path).unwrap_err().to_string();
        assert!(e.contains("version 2"), "{e}");
        std::fs::write(&path, "{not json").unwrap();
        assert!(matches!(
            OverrideSet::load(&path),
            Err(StateError::Invalid { .. })
        ));
    }

    #[test]
    fn resolve_maps_names_to_indices_and_ignores_expired() {
        let c = config();
        let o = sample().resolve(&c, 999);
        assert_eq!(o.regions, vec![Forced::Auto, Forced::Down]);
        assert_eq!(o.weights, vec![((0, 0, 0), 0)]);
        let o = sample().resolve(&c, 1000);
        assert!(o.weights.is_empty(), "lapsed at its time");
    }

    #[test]
    fn prune_and_next_expiry() {
        let mut s = sample();
        assert_eq!(s.next_expiry(), Some(1000));
        assert!(!s.prune_expired(999));
        assert!(s.prune_expired(1000));
        assert!(s.weights.is_empty());
        assert_eq!(s.next_expiry(), None);
        assert_eq!(s.regions.len(), 1);
    }

    #[test]
    fn unknown_names_are_kept_dormant_with_a_warning() {
        let mut s = sample();
        s.regions.insert(
            "mars".into(),
            RegionOverride {
                state: RegionState::Up,
                until: None,
                since: None,
            },
        );
        s.weights
            .entry("gone.gslb.example.".into())
            .or_default()
            .insert(
                "us-east".into(),
                WeightOverride {
                    weight: 5,
                    until: None,
                    since: None,
                },
            );
        let before = s.clone();
        let warnings = s.dormant(&config());
        assert_eq!(warnings.len(), 2, "{warnings:?}");
        assert!(
            warnings.iter().all(|w| w.contains("dormant")),
            "{warnings:?}"
        );
        assert_eq!(s, before, "nothing is dropped");
        // Dormant overrides resolve to nothing until the name comes back.
        let o = s.resolve(&config(), 0);
        assert_eq!(o.regions, vec![Forced::Auto, Forced::Down]);
    }

    #[test]
    fn endpoint_overrides_apply_to_every_pool_holding_the_address() {
        let text = r#"
regions:
  us-east: {}
  eu-west: {}
zones:
  - origin: gslb.example.
    file: z.zone
    services:
      www:
        policy: failover
        pools:
          us-east: { endpoints: [192.0.2.1, 192.0.2.9] }
          eu-west: { endpoints: [192.0.2.9] }
"#;
        let c = crate::config::parse(text, Path::new("t.yaml")).unwrap();
        let mut s = OverrideSet::new();
        s.endpoints.insert(
            "192.0.2.9".into(),
            EndpointOverride {
                state: Some(EndpointState::Drain),
                weight: Some(7),
                until: Some(100),
                since: Some(1),
                selector: BTreeMap::new(),
            },
        );
        s.endpoints.insert(
            "203.0.113.1".into(),
            EndpointOverride {
                state: Some(EndpointState::Down),
                weight: None,
                until: None,
                since: None,
                selector: BTreeMap::new(),
            },
        );
        let o = s.resolve(&c, 99);
        let keys: Vec<_> = o.endpoints.iter().map(|(k, _)| *k).collect();
        assert_eq!(keys, [(0, 0, 0, 1), (0, 0, 1, 0)]);
        assert_eq!(o.endpoint(0, 0, 1, 0).state, EndpointForced::Drain);
        assert_eq!(o.endpoint(0, 0, 0, 1).weight, Some(7));
        assert_eq!(o.endpoint(0, 0, 0, 0), policy::EndpointOverride::default());
        assert!(s.resolve(&c, 100).endpoints.is_empty(), "lapsed");
        assert!(s.dormant(&c).is_empty(), "absent addresses are normal");
        s.prune_expired(100);
        assert_eq!(s.endpoints.len(), 1);
    }

    #[test]
    fn find_service_is_case_insensitive_and_dot_optional() {
        let c = config();
        assert!(find_service(&c, "WWW.gslb.example").is_some());
        assert!(find_service(&c, "www.gslb.example.").is_some());
        assert!(find_service(&c, "api.gslb.example.").is_none());
    }
}
