//! Zone files load as BIND and Knot load them (issue 13): every file of the
//! corpus in `tests/fixtures/zones/` loads to exactly the records its
//! `.expect` file lists, every bad file fails with file:line:column, a
//! record is never dropped, `meridian check` names the position, and the
//! records of the corpus are served as loaded.

mod common;

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Instant;

use common::{Server, repo};
use hickory_proto::rr::{Name, RData, Record, RecordType};
use hickory_proto::serialize::binary::BinDecodable;
use meridian::zone::load_zone_file;

fn corpus() -> PathBuf {
    repo().join("tests/fixtures/zones")
}

fn origin() -> Name {
    Name::from_str("corpus.test.").unwrap()
}

/// A name as dig prints it: `\X` for special printable bytes, `\DDD` for
/// the others.
fn show_name(name: &Name) -> String {
    if name.is_root() {
        return ".".into();
    }
    let mut out = String::new();
    for label in name.iter() {
        for &b in label {
            match b {
                b'.' | b';' | b'(' | b')' | b'"' | b'@' | b'\\' | b'$' => {
                    out.push('\\');
                    out.push(b as char);
                }
                0x21..=0x7e => out.push(b as char),
                _ => out.push_str(&format!("\\{b:03}")),
            }
        }
        out.push('.');
    }
    out
}

fn show_string(s: &[u8]) -> String {
    let mut out = String::from("\"");
    for &b in s {
        match b {
            b'"' | b'\\' => {
                out.push('\\');
                out.push(b as char);
            }
            0x20..=0x7e => out.push(b as char),
            _ => out.push_str(&format!("\\{b:03}")),
        }
    }
    out.push('"');
    out
}

/// `owner TTL TYPE data`, the data as dig prints it for the types of the
/// corpus (RFC 3597 form for data hickory keeps opaque).
fn show(record: &Record) -> String {
    let data = match &record.data {
        RData::A(a) => a.to_string(),
        RData::NS(ns) => show_name(&ns.0),
        RData::CNAME(c) => show_name(&c.0),
        RData::MX(mx) => format!("{} {}", mx.preference, show_name(&mx.exchange)),
        RData::SOA(soa) => format!(
            "{} {} {} {} {} {} {}",
            show_name(&soa.mname),
            show_name(&soa.rname),
            soa.serial,
            soa.refresh,
            soa.retry,
            soa.expire,
            soa.minimum
        ),
        RData::TXT(txt) => txt
            .txt_data
            .iter()
            .map(|s| show_string(s))
            .collect::<Vec<_>>()
            .join(" "),
        RData::Unknown { code, rdata } if u16::from(*code) == 39 => {
            let target = Name::from_bytes(&rdata.anything).expect("DNAME target");
            show_name(&target)
        }
        RData::Unknown { rdata, .. } => {
            let hex: String = rdata.anything.iter().map(|b| format!("{b:02X}")).collect();
            format!("\\# {} {hex}", rdata.anything.len())
                .trim_end()
                .to_string()
        }
        RData::Update0(_) => "\\# 0".to_string(),
        other => format!("{other}"),
    };
    let rtype = match record.record_type() {
        RecordType::Unknown(code) => format!("TYPE{code}"),
        known => known.to_string(),
    };
    format!("{} {} {rtype} {data}", show_name(&record.name), record.ttl)
}

fn expected_lines(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .lines()
        .map(|l| l.trim_end().to_string())
        .filter(|l| !l.is_empty())
        .collect()
}

fn files_ending(dir: &Path, suffix: &str) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().ends_with(suffix))
        .collect();
    files.sort();
    files
}

#[test]
fn corpus_loads_to_the_expected_records() {
    let zones = files_ending(&corpus(), ".zone");
    assert!(zones.len() >= 4, "corpus missing: {zones:?}");
    for zone in zones {
        let loaded = load_zone_file(&zone, &origin())
            .unwrap_or_else(|e| panic!("{} does not load: {e:?}", zone.display()));
        let mut got: Vec<String> = loaded.records.iter().map(show).collect();
        got.sort();
        if std::env::var_os("ZONE_CORPUS_PRINT").is_some() {
            eprintln!("== {}\n{}", zone.display(), got.join("\n"));
            continue;
        }
        let mut want = expected_lines(&zone.with_extension("expect"));
        want.sort();
        assert_eq!(got, want, "{} loads to other records", zone.display());
    }
}

#[test]
fn bad_zone_files_name_file_line_and_column() {
    let dir = corpus().join("bad");
    let zones = files_ending(&dir, ".zone");
    assert!(zones.len() >= 8, "bad corpus missing: {zones:?}");
    for zone in zones {
        let errors = match load_zone_file(&zone, &origin()) {
            Ok(z) => panic!("{} loads ({} records)", zone.display(), z.records.len()),
            Err(e) => e,
        };
        let got: Vec<String> = errors
            .iter()
            .map(|e| {
                e.to_string()
                    .strip_prefix(&format!("{}/", dir.display()))
                    .unwrap_or_else(|| panic!("error without the file name: {e}"))
                    .to_string()
            })
            .collect();
        let want = expected_lines(&zone.with_extension("expect"));
        assert_eq!(got.len(), want.len(), "{}: {got:#?}", zone.display());
        for (g, w) in got.iter().zip(&want) {
            assert!(
                g.starts_with(w.as_str()),
                "{}: got {g:?}, want {w:?}",
                zone.display()
            );
        }
    }
}

const CONFIG: &str = "\
dns:
  listen: [\"LISTEN\"]
regions:
  here: {}
zones:
  - origin: corpus.test.
    file: corpus.zone
";

#[test]
fn check_reports_a_bad_record_with_file_line_column() {
    let head = "$ORIGIN corpus.test.\n$TTL 300\n@ IN SOA ns1 hostmaster 1 3600 600 86400 60\n@ IN NS ns1\nns1 IN A 192.0.2.53\n";
    let check = |body: &str| {
        let (dir, config) = common::prepare(CONFIG, &[("corpus.zone", &format!("{head}{body}"))]);
        let out = std::process::Command::new(common::BIN)
            .args(["check", "-c"])
            .arg(&config)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1), "check must fail");
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        (stderr, dir.path().join("corpus.zone").display().to_string())
    };
    // Every bad record, each with its position.
    let (stderr, file) =
        check("good IN A 192.0.2.1\n  IN AAAA 2001:db8::zz\nx\\(y IN A 192.0.2.300\n");
    for want in [
        format!("{file}:7:11: bad IPv6 address \"2001:db8::zz\""),
        format!("{file}:8:11: bad IPv4 address \"192.0.2.300\""),
    ] {
        assert!(stderr.contains(&want), "missing {want:?} in:\n{stderr}");
    }
    // Zone consistency errors carry the record's position too.
    let (stderr, file) = check("good IN A 192.0.2.1\nalias IN A 192.0.2.9\nalias IN CNAME good\n");
    let want = format!("{file}:7:1: alias.corpus.test. has a CNAME and other records");
    assert!(stderr.contains(&want), "missing {want:?} in:\n{stderr}");
}

#[test]
fn corpus_records_are_served_as_loaded() {
    let server = Server::start(
        CONFIG,
        &[(
            "corpus.zone",
            &std::fs::read_to_string(corpus().join("escapes.zone")).unwrap(),
        )],
    );
    let d = server.dig(&["+norec", "semi\\;colon.corpus.test", "A"]);
    assert_eq!(d.status, "NOERROR", "{}", d.raw);
    assert_eq!(d.answers("A"), vec!["192.0.2.1"], "{}", d.raw);
    for (owner, addr) in [
        ("sp\\032ace.corpus.test", "192.0.2.2"),
        ("x\\(y.corpus.test", "192.0.2.3"),
        ("q\\\"q.corpus.test", "192.0.2.4"),
        ("at\\@.corpus.test", "192.0.2.5"),
        ("dot\\.inside.corpus.test", "192.0.2.6"),
    ] {
        let d = server.dig(&["+norec", owner, "A"]);
        assert_eq!(d.answers("A"), vec![addr], "{owner}: {}", d.raw);
        assert!(d.has_flag("aa"), "{}", d.raw);
    }
}

#[test]
fn a_million_record_zone_loads_in_seconds() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("big.zone");
    let mut text = String::with_capacity(40_000_000);
    text.push_str("$ORIGIN corpus.test.\n$TTL 300\n@ IN SOA ns1 hostmaster 1 3600 600 86400 60\n@ IN NS ns1\nns1 IN A 192.0.2.53\n");
    let n = if cfg!(debug_assertions) {
        100_000
    } else {
        1_000_000
    };
    for i in 0..n {
        text.push_str(&format!(
            "host{i} IN A 10.{}.{}.{}\n",
            i >> 16 & 255,
            i >> 8 & 255,
            i & 255
        ));
    }
    text.push_str("bad IN A 10.0.0.256\n");
    std::fs::write(&path, &text).unwrap();
    let started = Instant::now();
    let errors = load_zone_file(&path, &origin()).unwrap_err();
    let took = started.elapsed();
    let line = n + 6;
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(
        errors[0].to_string().ends_with(&format!(
            "big.zone:{line}:10: bad IPv4 address \"10.0.0.256\""
        )),
        "{}",
        errors[0]
    );
    // Linear: far below what a quadratic re-parse would take, even in a
    // debug build.
    assert!(took.as_secs() < 20, "{n} records took {took:?}");
    eprintln!("{n} records loaded in {took:?}");
}

#[test]
fn check_and_run_warn_like_named_checkzone() {
    let zone = "$ORIGIN corpus.test.\n$TTL 300\n\
        @ IN SOA ns1 hostmaster 1 3600 600 86400 60\n\
        @ IN NS ns1\n\
        @ IN NS ns2\n\
        sub IN NS ns.sub\n\
        sub IN NS ns1.sub\n\
        ns.sub IN A 192.0.2.9\n\
        @ IN MX 10 alias\n\
        alias IN CNAME ns1\n\
        ns1 IN A 192.0.2.53\n\
        out IN NS ns.elsewhere.example.\n";
    let (dir, config) = common::prepare(CONFIG, &[("corpus.zone", zone)]);
    let file = dir.path().join("corpus.zone").display().to_string();
    let want = [
        format!(
            "{file}:5:1: corpus.test. NS ns2.corpus.test.: the target is in this zone but has no A or AAAA record"
        ),
        format!(
            "{file}:7:1: sub.corpus.test. NS ns1.sub.corpus.test.: missing glue: the target is inside the delegated zone"
        ),
        format!(
            "{file}:9:1: corpus.test. MX alias.corpus.test.: the target is a CNAME, which an MX record must not name"
        ),
    ];
    // `check` says ok (the zone serves) and prints each warning once.
    let out = std::process::Command::new(common::BIN)
        .args(["check", "-c"])
        .arg(&config)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(0), "check must pass: {stderr}");
    let warnings: Vec<&str> = stderr
        .lines()
        .filter(|l| l.starts_with("warning: "))
        .collect();
    assert_eq!(warnings.len(), want.len(), "{stderr}");
    for (got, want) in warnings.iter().zip(&want) {
        assert!(got.contains(want.as_str()), "got {got:?}, want {want:?}");
    }
    // Glue present and out-of-zone targets give none.
    assert!(!stderr.contains("ns.sub.corpus.test.:"), "{stderr}");
    assert!(!stderr.contains("elsewhere"), "{stderr}");
    // `run` serves the zone and logs the same warnings at WARN.
    let server = common::Server::start_prepared(dir, &config);
    let log = server.log();
    for w in &want {
        assert!(
            log.lines()
                .any(|l| l.contains("WARN") && l.contains(w.as_str())),
            "run did not warn {w:?}:\n{log}"
        );
    }
    // A reload (SIGHUP) warns about what the new zone file has.
    let zone_path = server.dir.path().join("corpus.zone");
    std::fs::write(&zone_path, format!("{zone}@ IN NS ns3\n")).expect("rewrite zone");
    let hup = std::process::Command::new("kill")
        .args(["-HUP", &server.pid().to_string()])
        .status()
        .expect("kill");
    assert!(hup.success());
    common::eventually(
        std::time::Duration::from_secs(10),
        "the reload's warning",
        || {
            server
                .log()
                .lines()
                .any(|l| {
                    l.contains("WARN")
                        && l.contains("reload: ")
                        && l.contains(":13:1: corpus.test. NS ns3.corpus.test.")
                })
                .then_some(())
        },
    );
}

#[test]
fn record_data_errors_carry_no_parser_internals() {
    let head = "$ORIGIN corpus.test.\n$TTL 300\n@ IN SOA ns1 hostmaster 1 3600 600 86400 60\n@ IN NS ns1\nns1 IN A 192.0.2.53\n";
    let body = "c IN CAA 0 issue\ns IN SSHFP 1 zz abc\nt IN TLSA 3 1 1 XYZ\nv IN SVCB 1 . bogus=1\nu IN A \\# 4 0001\n";
    let (dir, config) = common::prepare(CONFIG, &[("corpus.zone", &format!("{head}{body}"))]);
    let out = std::process::Command::new(common::BIN)
        .args(["check", "-c"])
        .arg(&config)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    let file = dir.path().join("corpus.zone").display().to_string();
    for want in [
        format!("{file}:6:10: CAA: bad data \"0 issue\""),
        format!("{file}:7:12: SSHFP: bad data \"1 zz abc\""),
        format!("{file}:8:11: TLSA: bad data \"3 1 1 XYZ\""),
        format!("{file}:9:11: SVCB: bad data \"1 . bogus=1\""),
        format!("{file}:10:"),
    ] {
        assert!(stderr.contains(&want), "missing {want:?} in:\n{stderr}");
    }
    for internal in [
        "proto error",
        "decoding error",
        "data encoding error",
        "error parsing",
    ] {
        assert!(!stderr.contains(internal), "{internal:?} in:\n{stderr}");
    }
}
