//! `meridian check` on every bad configuration in
//! `tests/fixtures/config/bad/`: each must exit 1 and print exactly the
//! errors its opening comment lines announce, in order, then the count.
//! Each error is a `# expect: LINE:COL: key.path: message` line (printed
//! after the file name exactly as it was passed on the command line); a
//! message that runs over several lines continues on `# expect| ` lines.
//! The expectations were written from the output of `meridian check` before
//! the configuration module was split (issue 19), so they prove every
//! message unchanged, byte for byte.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

const BAD_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/config/bad");

/// The fixtures, sorted so failures come out in a stable order.
fn bad_fixtures() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = fs::read_dir(BAD_DIR)
        .expect("read tests/fixtures/config/bad")
        .map(|entry| entry.expect("directory entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    files
}

/// The stderr `meridian check -c FILE` must print for the fixture at
/// `path`, from its opening `# expect: ` and `# expect| ` lines.
fn expected_stderr(path: &Path) -> String {
    let text = fs::read_to_string(path).expect("read fixture");
    let file = path.display();
    let mut out = String::new();
    let mut errors = 0;
    for line in text.lines() {
        if let Some(error) = line.strip_prefix("# expect: ") {
            errors += 1;
            out.push_str(&format!("{file}:{error}\n"));
        } else if let Some(more) = line.strip_prefix("# expect| ") {
            out.push_str(more);
            out.push('\n');
        } else {
            break;
        }
    }
    assert!(
        errors > 0,
        "{file}: first line must be `# expect: LINE:COL: ...`"
    );
    out.push_str(&format!(
        "{file}: {errors} error(s); configuration not valid\n"
    ));
    out
}

/// Runs `meridian check -c FILE` and returns (exit code, stderr).
fn check(file: &Path) -> (Option<i32>, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_meridian"))
        .args(["check", "-c"])
        .arg(file)
        .output()
        .expect("run meridian");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn there_is_a_fixture_for_every_core_error_class() {
    let names: Vec<String> = bad_fixtures()
        .iter()
        .filter_map(|p| p.file_stem().map(|s| s.to_string_lossy().into_owned()))
        .collect();
    for required in [
        "dangling_region",
        "unknown_key",
        "wrong_type",
        "bad_duration",
        "weight_out_of_range",
        "unknown_monitor",
        "unknown_map",
        "bad_endpoint",
        "duplicate_key",
        "yaml_syntax",
    ] {
        assert!(
            names.iter().any(|n| n == required),
            "missing fixture {required}.yaml"
        );
    }
}

#[test]
fn check_reports_exactly_the_errors_each_bad_fixture_announces() {
    let mut failures = Vec::new();
    let files = bad_fixtures();
    assert!(files.len() > 100, "only {} fixtures", files.len());
    for file in files {
        let expected = expected_stderr(&file);
        let (code, stderr) = check(&file);
        if code != Some(1) {
            failures.push(format!(
                "{}: exit code {code:?}, want 1\n{stderr}",
                file.display()
            ));
        } else if stderr != expected {
            failures.push(format!("want:\n{expected}got:\n{stderr}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn check_reports_every_error_of_one_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("meridian.yaml");
    fs::write(
        &file,
        "\
dns:
  max_udp_payload: 100
regions:
  us-east: {}
zones:
  - origin: gslb.example.
    file: gslb.example.zone
    services:
      www:
        policy: failover
        pools:
          eu-wset:
            weight: 1200
            endpoints: [www.example.net]
colour: blue
",
    )
    .expect("write config");
    let (code, stderr) = check(&file);
    assert_eq!(code, Some(1), "{stderr}");
    let f = file.display();
    let expected = [
        format!("{f}:2:20: dns.max_udp_payload: 100 is outside 512..=65535"),
        format!("{f}:12:11: zones[0].services.www.pools.eu-wset: unknown region \"eu-wset\""),
        format!("{f}:13:21: zones[0].services.www.pools.eu-wset.weight: 1200 is outside 0..=1000"),
        format!("{f}:14:25: zones[0].services.www.pools.eu-wset.endpoints[0]: \"www.example.net\""),
        format!("{f}:15:1: colour: unknown key \"colour\""),
    ];
    let lines: Vec<&str> = stderr.lines().collect();
    let mut at = 0;
    for want in &expected {
        let found = lines[at..]
            .iter()
            .position(|l| l.starts_with(want.as_str()));
        assert!(
            found.is_some(),
            "want, in this order after line {at}:\n  {want}\ngot:\n{stderr}"
        );
        at += found.unwrap_or(0) + 1;
    }
}
