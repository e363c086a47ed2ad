//! Every configuration shipped in `zones/` passes `meridian check`, and the
//! demo answers as the README says.

mod common;

use std::ffi::OsStr;
use std::path::Path;
use std::process::Command;

use common::{BIN, Server, meridian, repo};

/// Copy `zones/` and a freshly built `geoip/demo.mmdb` into a temporary
/// tree shaped like the repository, so relative paths resolve as in it.
fn demo_tree() -> tempfile::TempDir {
    let tmp = tempfile::tempdir().expect("tempdir");
    let zones = tmp.path().join("zones");
    std::fs::create_dir_all(&zones).expect("mkdir");
    std::fs::create_dir_all(tmp.path().join("geoip")).expect("mkdir");
    std::fs::create_dir_all(tmp.path().join("var")).expect("mkdir");
    for entry in std::fs::read_dir(repo().join("zones")).expect("zones/") {
        let entry = entry.expect("entry");
        std::fs::copy(entry.path(), zones.join(entry.file_name())).expect("copy");
    }
    meridian(&[
        OsStr::new("geoip"),
        OsStr::new("build"),
        repo().join("geoip/demo.csv").as_os_str(),
        OsStr::new("-o"),
        tmp.path().join("geoip/demo.mmdb").as_os_str(),
    ]);
    tmp
}

fn yaml_files(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut v: Vec<_> = std::fs::read_dir(dir)
        .expect("read dir")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
        .collect();
    v.sort();
    v
}

#[test]
fn every_shipped_config_passes_check() {
    let tree = demo_tree();
    let configs = yaml_files(&tree.path().join("zones"));
    assert!(!configs.is_empty());
    for config in configs {
        let out = Command::new(BIN)
            .args(["check", "-c"])
            .arg(&config)
            .output()
            .expect("run check");
        assert!(
            out.status.success(),
            "{} fails check:\n{}",
            config.display(),
            String::from_utf8_lossy(&out.stderr)
        );
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(stdout.contains("ok:"), "{stdout}");
    }
}

#[test]
fn check_with_a_dangling_region_exits_1_naming_line_and_column() {
    let tree = demo_tree();
    let demo = tree.path().join("zones/demo.yaml");
    let text = std::fs::read_to_string(&demo).expect("demo");
    let bad = text.replacen("[us-east]", "[us-esat]", 1);
    assert_ne!(bad, text);
    let line = bad
        .lines()
        .position(|l| l.contains("us-esat"))
        .expect("edited line")
        + 1;
    let bad_path = tree.path().join("zones/bad.yaml");
    std::fs::write(&bad_path, bad).expect("write");
    let out = Command::new(BIN)
        .args(["check", "-c"])
        .arg(&bad_path)
        .output()
        .expect("run check");
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    let prefix = format!("{}:{line}:", bad_path.display());
    assert!(
        stderr
            .lines()
            .any(|l| l.starts_with(&prefix) && l.contains("unknown region \"us-esat\"")),
        "{stderr}"
    );
}

#[test]
fn usage_errors_exit_2_and_help_exits_0() {
    let out = Command::new(BIN).arg("frobnicate").output().expect("run");
    assert_eq!(out.status.code(), Some(2));
    for args in [
        &["--help"][..],
        &["run", "--help"],
        &["check", "--help"],
        &["geoip", "build", "--help"],
        &["geoip", "lookup", "--help"],
    ] {
        let out = Command::new(BIN).args(args).output().expect("run");
        assert_eq!(out.status.code(), Some(0), "{args:?}");
        assert!(
            String::from_utf8_lossy(&out.stdout).contains("Usage"),
            "{args:?}"
        );
    }
}

#[test]
fn run_with_an_invalid_config_exits_1_with_a_reason() {
    let tree = demo_tree();
    let bad = tree.path().join("zones/bad.yaml");
    std::fs::write(&bad, "dns: { listen: [\"nonsense\"] }\n").expect("write");
    let out = Command::new(BIN)
        .args(["run", "-c"])
        .arg(&bad)
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not valid"));
}

#[test]
fn run_exits_1_when_the_port_is_taken() {
    let taken = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind");
    let port = taken.local_addr().expect("addr").port();
    let tree = demo_tree();
    let demo = tree.path().join("zones/demo.yaml");
    let text = std::fs::read_to_string(&demo)
        .expect("demo")
        .replace("127.0.0.1:5300", &format!("127.0.0.1:{port}"))
        .replace("127.0.0.1:8053", "127.0.0.1:0");
    std::fs::write(&demo, text).expect("write");
    let out = Command::new(BIN)
        .args(["run", "-c"])
        .arg(&demo)
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("dns.listen[0]"), "{stderr}");
}

/// The README tour: EU and Asian subnets get different regions.
#[test]
fn demo_answers_differ_by_client_subnet() {
    let tree = demo_tree();
    let demo = tree.path().join("zones/demo.yaml");
    let text = std::fs::read_to_string(&demo)
        .expect("demo")
        .replace("127.0.0.1:5300", "LISTEN")
        .replace("127.0.0.1:8053", "127.0.0.1:0");
    std::fs::write(&demo, text.replace("LISTEN", "127.0.0.1:0")).expect("write");
    let s = Server::start_prepared(tree, &demo);
    let eu = s.dig(&["www.gslb.example", "A", "+subnet=81.2.69.0/24"]);
    assert!(
        eu.answers("A").iter().all(|a| a.starts_with("198.51.100.")),
        "{}",
        eu.raw
    );
    assert_eq!(eu.client_subnet().as_deref(), Some("81.2.69.0/24/24"));
    // ap-northeast is down (nothing listens on its probe port), so Asian
    // clients fail over to its tier partner us-east.
    let asia = s.dig(&["www.gslb.example", "A", "+subnet=203.0.113.0/24"]);
    assert!(
        asia.answers("A").iter().all(|a| a.starts_with("192.0.2.")),
        "{}",
        asia.raw
    );
    let regions = s.admin("GET", "/v1/regions", None, None).json();
    let ap = regions["regions"]
        .as_array()
        .and_then(|a| a.iter().find(|r| r["name"] == "ap-northeast"))
        .expect("ap-northeast")
        .clone();
    assert_eq!(ap["state"], "down", "{ap}");
    assert_eq!(
        ap["pools"][0]["endpoints"][0]["reason"], "connection refused",
        "{ap}"
    );
    let st = s.dig(&["static.gslb.example", "A"]);
    assert!(st.has_flag("aa"));
    assert_eq!(st.answers("A"), vec!["192.0.2.1"]);
}

/// `meridian --version`: the version and the git commit it was built from
/// (`unknown` outside git), for bug reports and fleet inventories.
#[test]
fn version_names_the_git_commit() {
    let out = Command::new(BIN).arg("--version").output().expect("run");
    assert_eq!(out.status.code(), Some(0));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let head = Command::new("git")
        .args(["rev-parse", "--short", "HEAD"])
        .current_dir(repo())
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map_or_else(
            || "unknown".to_string(),
            |o| String::from_utf8_lossy(&o.stdout).trim().to_string(),
        );
    assert_eq!(
        stdout.trim(),
        format!("meridian {} (commit {head})", env!("CARGO_PKG_VERSION"))
    );
}
