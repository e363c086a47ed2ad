//! `meridian geoip build` output read by MaxMind's own C reader
//! (`mmdblookup`, Debian package mmdb-bin), and the `geoip build` /
//! `geoip lookup` commands end to end.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use meridian::geo::build::build_file;

fn demo_csv() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("geoip/demo.csv")
}

fn run(cmd: &mut Command) -> Output {
    let shown = format!("{cmd:?}");
    match cmd.output() {
        Ok(out) => out,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => panic!(
            "{shown}: program not found. These tests need mmdblookup from libmaxminddb: \
             install it with `apt-get install mmdb-bin`."
        ),
        Err(e) => panic!("{shown}: {e}"),
    }
}

/// `mmdblookup --file DB --ip IP PATH...`, trimmed stdout; panics on failure.
fn mmdblookup(db: &Path, ip: &str, path: &[&str]) -> String {
    let out = run(Command::new("mmdblookup")
        .arg("--file")
        .arg(db)
        .args(["--ip", ip])
        .args(path));
    assert!(
        out.status.success(),
        "mmdblookup --ip {ip} {path:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

#[test]
fn mmdblookup_reads_the_built_demo_database() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("demo.mmdb");
    let summary = build_file(&demo_csv(), &db).unwrap();
    assert!(summary.networks_v4 > 0 && summary.networks_v6 > 0);

    assert_eq!(
        mmdblookup(&db, "81.2.69.1", &["country", "iso_code"]),
        "\"GB\" <utf8_string>"
    );
    // IPv4 through the IPv4-mapped alias, and the IPv6 documentation range.
    assert_eq!(
        mmdblookup(&db, "::ffff:81.2.69.1", &["continent", "code"]),
        "\"EU\" <utf8_string>"
    );
    assert_eq!(
        mmdblookup(&db, "192.0.2.1", &["subdivisions", "0", "iso_code"]),
        "\"CA\" <utf8_string>"
    );
    assert_eq!(
        mmdblookup(&db, "192.0.2.1", &["autonomous_system_number"]),
        "64496 <uint32>"
    );
    let latitude = mmdblookup(&db, "2001:db8:4::1", &["location", "latitude"]);
    assert_eq!(latitude, "-33.868800 <double>");

    // Metadata as the C library sees it; the record prefix is IPv6-relative
    // in mmdblookup (96 + 24).
    let verbose = mmdblookup(&db, "81.2.69.1", &["--verbose"]);
    assert!(
        verbose.contains("Type:          Meridian-GeoIP2-City"),
        "{verbose}"
    );
    assert!(verbose.contains("IP version:    IPv6"), "{verbose}");
    assert!(verbose.contains("Record prefix length: 120"), "{verbose}");

    // An address the demo data does not hold.
    let miss = run(Command::new("mmdblookup")
        .arg("--file")
        .arg(&db)
        .args(["--ip", "10.0.0.1"]));
    let text = String::from_utf8_lossy(&miss.stdout) + String::from_utf8_lossy(&miss.stderr);
    assert!(text.contains("Could not find an entry"), "{text}");
}

/// Needs the CLI (`meridian geoip build|lookup`).
#[test]
fn geoip_build_then_lookup_with_the_binary() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("demo.mmdb");
    let bin = env!("CARGO_BIN_EXE_meridian");

    let build = run(Command::new(bin)
        .args(["geoip", "build"])
        .arg(demo_csv())
        .arg("-o")
        .arg(&db));
    assert!(
        build.status.success(),
        "meridian geoip build failed ({}): {}",
        build.status,
        String::from_utf8_lossy(&build.stderr)
    );
    assert!(db.is_file(), "no database written at {}", db.display());

    let lookup = run(Command::new(bin)
        .args(["geoip", "lookup", "--db"])
        .arg(&db)
        .arg("192.0.2.1"));
    let stdout = String::from_utf8_lossy(&lookup.stdout);
    assert!(
        lookup.status.success(),
        "meridian geoip lookup failed ({}): {}",
        lookup.status,
        String::from_utf8_lossy(&lookup.stderr)
    );
    assert!(
        stdout.contains("192.0.2.0/24"),
        "network missing from:\n{stdout}"
    );
    assert!(stdout.contains("US"), "country missing from:\n{stdout}");

    // A bad CSV: exit 1 and every bad row named with its line.
    let bad = dir.path().join("bad.csv");
    std::fs::write(
        &bad,
        "network,country,continent,latitude,longitude\n\
         10.0.0.0/33,US,NA,1,1\n\
         10.1.0.0/16,US,XX,1,1\n",
    )
    .unwrap();
    let failed = run(Command::new(bin)
        .args(["geoip", "build"])
        .arg(&bad)
        .arg("-o")
        .arg(dir.path().join("bad.mmdb")));
    assert_eq!(failed.status.code(), Some(1), "invalid input exits 1");
    let stderr = String::from_utf8_lossy(&failed.stderr);
    assert!(
        stderr.contains("bad.csv:2: \"10.0.0.0/33\" is not a CIDR network"),
        "{stderr}"
    );
    assert!(stderr.contains("bad.csv:3: continent \"XX\""), "{stderr}");
}
