//! The state file (`OverrideSet::load`) from arbitrary bytes, then what a
//! start does with it: prune expired overrides, list the dormant ones
//! (names the configuration lacks), resolve the rest to indices, and
//! write it back.
//!
//! Properties: no panic; a file that loads saves and loads back equal,
//! and leaves no temporary file; resolved indices are within the
//! configuration.

#![no_main]

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use meridian::config::Config;
use meridian::state::OverrideSet;

const CONFIG: &str = r#"
regions:
  us-east: {}
  eu-west: {}
  ap-northeast: {}
zones:
  - origin: gslb.example.
    file: z.zone
    services:
      www:
        policy: failover
        pools:
          us-east: { endpoints: [192.0.2.1] }
          eu-west: { endpoints: [192.0.2.2] }
      split:
        policy: weighted
        pools:
          us-east: { weight: 10, endpoints: [192.0.2.3] }
          ap-northeast: { weight: 10, endpoints: [192.0.2.4] }
"#;

fn config() -> &'static Config {
    static C: OnceLock<Config> = OnceLock::new();
    C.get_or_init(|| {
        meridian::config::parse(CONFIG, Path::new("/nonexistent/meridian.yaml"))
            .unwrap_or_else(|e| panic!("fuzz config does not parse: {e:?}"))
    })
}

/// A directory of our own, in memory when /dev/shm is there.
fn dir() -> &'static PathBuf {
    static D: OnceLock<PathBuf> = OnceLock::new();
    D.get_or_init(|| {
        let base = if Path::new("/dev/shm").is_dir() {
            PathBuf::from("/dev/shm")
        } else {
            std::env::temp_dir()
        };
        let d = base.join(format!("meridian-fuzz-state-{}", std::process::id()));
        std::fs::create_dir_all(&d).expect("state dir");
        d
    })
}

fuzz_target!(|data: &[u8]| {
    let path = dir().join("state.json");
    std::fs::write(&path, data).expect("write input");
    let Ok(mut set) = OverrideSet::load(&path) else {
        return;
    };
    let c = config();
    let now = 1_800_000_000;
    set.prune_expired(now);
    let _ = set.next_expiry();
    let _ = set.dormant(c);
    let resolved = set.resolve(c, now);
    assert_eq!(resolved.regions.len(), c.regions.len());
    for &((z, s, p), _) in &resolved.weights {
        let pools = &c.zones[z].services[s].pools;
        assert!(p < pools.len(), "pool index {p} out of range");
    }
    set.save(&path).expect("save");
    let back = OverrideSet::load(&path).expect("a saved file loads");
    assert_eq!(back, set, "save/load round trip");
    let left: Vec<_> = std::fs::read_dir(dir())
        .expect("read dir")
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n != "state.json")
        .collect();
    assert!(left.is_empty(), "temporary files left: {left:?}");
});
