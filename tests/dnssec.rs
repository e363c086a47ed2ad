//! DNSSEC (issue 16) as validators see it: unbound with the zone's DS as
//! trust anchor, resolving through a stub delegation to meridian, sets AD
//! on static and GSLB answers and on compact denials (RFC 9824), and fails
//! (SERVFAIL) when meridian signs with another key; `delv` says "fully
//! validated"; keys made by BIND's `dnssec-keygen` load, and `meridian
//! dnssec ds` prints what `dnssec-dsfromkey` prints; `dnsviz probe` and
//! `dnsviz grok` find no error or warning in the zone. Answers to queries
//! without DO stay byte for byte what an unsigned zone gives.

mod common;

use std::net::{Ipv4Addr, SocketAddr, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use common::Server;

const ZONE: &str = "$ORIGIN gslb.test.
$TTL 300
@      IN SOA ns1 hostmaster ( 1 3600 600 86400 45 )
@      IN NS  ns1
ns1    IN A   192.0.2.53
static IN A   192.0.2.10
static IN A   192.0.2.11
alias  IN CNAME static
*.wild IN TXT \"wild\"
sub    IN NS  ns.sub
ns.sub IN A   192.0.2.99
";

const CONFIG: &str = r#"
dns:
  listen: ["LISTEN"]
admin:
  listen: "ADMIN_LISTEN"
regions:
  a: {}
  b: {}
zones:
  - origin: gslb.test.
    file: gslb.test.zone
DNSSEC
    services:
      sticky:
        policy: failover
        selection: sticky
        pools:
          a: { endpoints: [127.0.1.1, 127.0.1.2, 127.0.1.3, 127.0.1.4, 127.0.1.5] }
          b: { endpoints: [127.0.2.1] }
"#;

/// Whether `tool` is on the PATH; prints why the test is skipped if not.
fn have(tool: &str, package: &str) -> bool {
    let found = Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        eprintln!("SKIPPED: {tool} is not installed (Debian package {package})");
    }
    found
}

/// `meridian dnssec keygen gslb.test ARGS --dir DIR`: the key's file stem.
fn keygen(dir: &Path, args: &[&str]) -> PathBuf {
    let mut all: Vec<&std::ffi::OsStr> = ["dnssec", "keygen", "gslb.test"]
        .iter()
        .map(std::ffi::OsStr::new)
        .collect();
    all.extend(args.iter().map(std::ffi::OsStr::new));
    all.push("--dir".as_ref());
    all.push(dir.as_os_str());
    PathBuf::from(common::meridian(&all).trim())
}

/// A key's file with extension `ext`, from its stem or either file.
fn key_file(key: &Path, ext: &str) -> PathBuf {
    let s = key.display().to_string();
    let stem = s
        .strip_suffix(".private")
        .or_else(|| s.strip_suffix(".key"))
        .unwrap_or(&s);
    PathBuf::from(format!("{stem}.{ext}"))
}

/// `meridian dnssec ds gslb.test --key KEY`: the DS line.
fn ds_of(key: &Path) -> String {
    let key = key_file(key, "key");
    common::meridian(&[
        "dnssec".as_ref(),
        "ds".as_ref(),
        "gslb.test".as_ref(),
        "--key".as_ref(),
        key.as_os_str(),
    ])
    .trim()
    .to_string()
}

/// The config with `dnssec.keys` naming `keys` (or unsigned for none).
fn config_with(keys: &[PathBuf]) -> String {
    let section = if keys.is_empty() {
        String::new()
    } else {
        let list: Vec<String> = keys
            .iter()
            .map(|k| format!("\"{}\"", k.display()))
            .collect();
        format!("    dnssec:\n      keys: [{}]\n", list.join(", "))
    };
    CONFIG.replace("DNSSEC\n", &section)
}

/// A server for gslb.test signed with keys made by `make(dir)`.
fn start_signed(make: impl FnOnce(&Path) -> Vec<PathBuf>) -> (Server, Vec<PathBuf>) {
    start_signed_zone(ZONE, make)
}

/// A server for gslb.test from `zone`, signed with keys made by `make(dir)`.
fn start_signed_zone(
    zone: &str,
    make: impl FnOnce(&Path) -> Vec<PathBuf>,
) -> (Server, Vec<PathBuf>) {
    let (dir, path) = common::prepare(&config_with(&[]), &[("gslb.test.zone", zone)]);
    let keys = make(dir.path());
    let config = std::fs::read_to_string(&path).expect("config");
    let signed = config_with(&keys)
        .replace("ADMIN_LISTEN", "127.0.0.1:0")
        .replace("LISTEN", "127.0.0.1:0");
    assert!(config.contains("127.0.0.1:0"));
    std::fs::write(&path, signed).expect("config");
    (Server::start_prepared(dir, &path), keys)
}

/// The digest part of a DS line: `TAG ALG DIGESTTYPE HEX`.
fn ds_rdata(line: &str) -> String {
    line.split_whitespace()
        .skip(3)
        .collect::<Vec<_>>()
        .join(" ")
}

/// unbound validating gslb.test with `anchor` (DS RDATA) as trust anchor,
/// the zone stub-delegated to `server`. Killed (by PID) on drop.
struct Unbound {
    child: std::process::Child,
    addr: SocketAddr,
    _dir: tempfile::TempDir,
}

impl Drop for Unbound {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Unbound {
    fn start(server: SocketAddr, anchor: &str) -> Option<Self> {
        let bin = ["/usr/sbin/unbound", "/usr/bin/unbound"]
            .into_iter()
            .find(|p| Path::new(p).exists());
        let Some(bin) = bin else {
            eprintln!("SKIPPED: unbound is not installed (Debian package unbound)");
            return None;
        };
        let dir = tempfile::tempdir().expect("tempdir");
        let port = common::etcd::free_port();
        let conf = dir.path().join("unbound.conf");
        std::fs::write(
            &conf,
            format!(
                "server:\n  interface: 127.0.0.1@{port}\n  port: {port}\n  do-daemonize: no\n  use-syslog: no\n  \
                 chroot: \"\"\n  username: \"\"\n  directory: \"{dir}\"\n  pidfile: \"{dir}/unbound.pid\"\n  \
                 do-not-query-localhost: no\n  access-control: 127.0.0.0/8 allow\n  \
                 module-config: \"subnetcache validator iterator\"\n  send-client-subnet: 127.0.0.1\n  \
                 client-subnet-always-forward: yes\n  max-client-subnet-ipv4: 24\n  verbosity: 1\n  \
                 val-log-level: 2\n  local-zone: \"test.\" nodefault\n  \
                 trust-anchor: \"gslb.test. DS {anchor}\"\n\
                 stub-zone:\n  name: \"gslb.test\"\n  stub-addr: {ip}@{dport}\n",
                dir = dir.path().display(),
                ip = server.ip(),
                dport = server.port(),
            ),
        )
        .expect("unbound.conf");
        let child = Command::new(bin)
            .args(["-d", "-c"])
            .arg(&conf)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("start unbound");
        let u = Self {
            child,
            addr: format!("127.0.0.1:{port}").parse().expect("addr"),
            _dir: dir,
        };
        common::eventually(Duration::from_secs(10), "unbound to answer", || {
            Some(()).filter(|()| !u.ask(&["gslb.test", "NS"]).status.is_empty())
        });
        Some(u)
    }

    fn ask(&self, args: &[&str]) -> common::Dig {
        let mut all = vec!["+dnssec"];
        all.extend_from_slice(args);
        common::dig(self.addr, &all)
    }
}

fn metric(s: &Server, name: &str) -> u64 {
    let body = s.admin("GET", "/metrics", None, None).body;
    body.lines()
        .find_map(|l| l.strip_prefix(name)?.trim().parse().ok())
        .unwrap_or(0)
}

/// unbound, with the DS as trust anchor, validates every kind of answer:
/// static, GSLB for several client subnets (each its own answer), a name
/// that does not exist (compact denial: NOERROR, no answer) and NODATA.
#[test]
fn unbound_validates_static_gslb_and_compact_denials() {
    let (s, keys) = start_signed(|dir| vec![keygen(dir, &[])]);
    let Some(u) = Unbound::start(s.dns, &ds_rdata(&ds_of(&keys[0]))) else {
        return;
    };

    let st = u.ask(&["static.gslb.test", "A"]);
    assert_eq!(st.status, "NOERROR", "{}", st.raw);
    assert!(st.has_flag("ad"), "AD on a static answer: {}", st.raw);
    let mut addrs = st.answers("A");
    addrs.sort();
    assert_eq!(addrs, ["192.0.2.10", "192.0.2.11"]);

    let alias = u.ask(&["alias.gslb.test", "A"]);
    assert!(alias.has_flag("ad"), "AD on a CNAME chain: {}", alias.raw);

    let wild = u.ask(&["x.wild.gslb.test", "TXT"]);
    assert!(wild.has_flag("ad"), "AD on a wildcard answer: {}", wild.raw);

    // GSLB: several /24s, each answered for itself and validated.
    let mut seen = std::collections::BTreeSet::new();
    for i in 0..8u8 {
        let net = Ipv4Addr::new(10, 0, i, 0);
        let direct = s.dig(&[
            "+dnssec",
            "sticky.gslb.test",
            "A",
            &format!("+subnet={net}/24"),
        ]);
        let via = u.ask(&["sticky.gslb.test", "A", &format!("+subnet={net}/24")]);
        assert_eq!(via.status, "NOERROR", "{}", via.raw);
        assert!(
            via.has_flag("ad"),
            "AD on a GSLB answer for {net}: {}",
            via.raw
        );
        assert_eq!(via.answers("A"), direct.answers("A"), "{net}: {}", via.raw);
        seen.extend(via.answers("A"));
    }
    assert!(
        seen.len() >= 2,
        "different subnets, different answers: {seen:?}"
    );

    let nx = u.ask(&["nope.gslb.test", "A"]);
    assert_eq!(nx.status, "NOERROR", "compact denial: {}", nx.raw);
    assert!(nx.answer.is_empty(), "{}", nx.raw);
    assert!(nx.has_flag("ad"), "AD on a denial of existence: {}", nx.raw);

    let nodata = u.ask(&["static.gslb.test", "AAAA"]);
    assert_eq!(nodata.status, "NOERROR", "{}", nodata.raw);
    assert!(nodata.answer.is_empty(), "{}", nodata.raw);
    assert!(nodata.has_flag("ad"), "AD on NODATA: {}", nodata.raw);

    let gslb_nodata = u.ask(&["sticky.gslb.test", "AAAA"]);
    assert!(
        gslb_nodata.has_flag("ad"),
        "AD on GSLB NODATA: {}",
        gslb_nodata.raw
    );
}

/// meridian signing with a key other than the one the parent's DS names:
/// unbound refuses the answers (SERVFAIL), as a validator must.
#[test]
fn wrong_key_gives_servfail_from_unbound() {
    let elsewhere = tempfile::tempdir().expect("tempdir");
    let trusted = keygen(elsewhere.path(), &[]);
    let (s, keys) = start_signed(|dir| vec![keygen(dir, &[])]);
    let anchor = ds_rdata(&ds_of(&trusted));
    assert_ne!(anchor, ds_rdata(&ds_of(&keys[0])));
    let Some(u) = Unbound::start(s.dns, &anchor) else {
        return;
    };
    let r = u.ask(&["static.gslb.test", "A"]);
    assert_eq!(r.status, "SERVFAIL", "{}", r.raw);
    assert!(r.answer.is_empty(), "{}", r.raw);
}

/// Run delv against the server with the DS of `key` as the trust anchor.
fn delv(s: &Server, key: &Path, args: &[&str]) -> String {
    let line = ds_of(key);
    let f: Vec<&str> = line.split_whitespace().collect();
    let anchors = s.dir.path().join("anchors.conf");
    std::fs::write(
        &anchors,
        format!(
            "trust-anchors {{\n  \"gslb.test.\" static-ds {} {} {} \"{}\";\n}};\n",
            f[3], f[4], f[5], f[6]
        ),
    )
    .expect("anchors");
    let out = Command::new("timeout")
        .arg("20")
        .arg("delv")
        .arg(format!("@{}", s.dns.ip()))
        .args(["-p", &s.dns.port().to_string()])
        .arg("-a")
        .arg(&anchors)
        .arg("+root=gslb.test")
        .args(args)
        .output()
        .expect("run delv");
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// delv, with a KSK/ZSK split in Ed25519: "fully validated" for static and
/// GSLB answers and for a denial; the DNSKEY set is signed by the KSK only.
#[test]
fn delv_fully_validates_a_ksk_zsk_split() {
    if !have("delv", "bind9-dnsutils") {
        return;
    }
    let (s, keys) = start_signed(|dir| {
        vec![
            keygen(dir, &["--ksk", "--algorithm", "15"]),
            keygen(dir, &["--zsk", "--algorithm", "15"]),
        ]
    });
    let ksk = &keys[0];
    for q in [
        ["static.gslb.test", "A"],
        ["sticky.gslb.test", "A"],
        ["gslb.test", "DNSKEY"],
    ] {
        let out = delv(&s, ksk, &q);
        assert!(out.contains("; fully validated"), "{q:?}: {out}");
    }
    let out = delv(&s, ksk, &["nope.gslb.test", "A"]);
    assert!(
        out.contains("negative response, fully validated"),
        "denial: {out}"
    );
    let keyset = s.dig(&["+dnssec", "gslb.test", "DNSKEY"]);
    let sigs: Vec<String> = keyset
        .answer
        .iter()
        .filter(|r| r.rtype == "RRSIG")
        .map(|r| r.data.clone())
        .collect();
    assert_eq!(
        sigs.len(),
        1,
        "one signature (KSK) on DNSKEY: {}",
        keyset.raw
    );
    let ksk_tag = ds_of(ksk)
        .split_whitespace()
        .nth(3)
        .expect("tag")
        .to_string();
    assert!(
        sigs[0].contains(&format!(" {ksk_tag} gslb.test.")),
        "{sigs:?}"
    );
    let cds = s.dig(&["gslb.test", "CDS"]);
    assert_eq!(
        cds.answers("CDS").len(),
        1,
        "CDS for the KSK only: {}",
        cds.raw
    );
}

/// Keys made by BIND's dnssec-keygen load, sign answers delv validates,
/// and `meridian dnssec ds` prints exactly what dnssec-dsfromkey prints,
/// for BIND's keys and for meridian's own.
#[test]
fn bind_keys_load_and_ds_matches_dnssec_dsfromkey() {
    if !have("dnssec-keygen", "bind9-utils") || !have("delv", "bind9-dnsutils") {
        return;
    }
    let (s, keys) = start_signed(|dir| {
        let out = Command::new("dnssec-keygen")
            .args(["-q", "-a", "ECDSAP256SHA256", "-K"])
            .arg(dir)
            .arg("gslb.test.")
            .output()
            .expect("dnssec-keygen");
        assert!(out.status.success(), "{out:?}");
        let stem = String::from_utf8_lossy(&out.stdout).trim().to_string();
        vec![dir.join(format!("{stem}.private"))]
    });
    let ours = keygen(s.dir.path(), &["-a", "15"]);
    for key in [&keys[0], &ours] {
        let key_file = key_file(key, "key");
        for digest in [("SHA-256", "2"), ("SHA-384", "4")] {
            let bind = Command::new("dnssec-dsfromkey")
                .args(["-a", digest.0])
                .arg(&key_file)
                .output()
                .expect("dnssec-dsfromkey");
            assert!(bind.status.success(), "{bind:?}");
            let ours = common::meridian(&[
                "dnssec".as_ref(),
                "ds".as_ref(),
                "gslb.test".as_ref(),
                "--key".as_ref(),
                key_file.as_os_str(),
                "--digest".as_ref(),
                digest.1.as_ref(),
            ]);
            assert_eq!(ours, String::from_utf8_lossy(&bind.stdout), "{key_file:?}");
        }
    }
    let out = delv(&s, &keys[0], &["static.gslb.test", "A"]);
    assert!(out.contains("; fully validated"), "BIND's key: {out}");
}

/// Queries without DO get exactly the bytes an unsigned zone gives, and
/// DO is echoed in the OPT record of signed answers.
#[test]
fn answers_without_do_are_byte_identical_to_an_unsigned_zone() {
    let (signed, _) = start_signed(|dir| vec![keygen(dir, &[])]);
    let plain = Server::start(&config_with(&[]), &[("gslb.test.zone", ZONE)]);
    let sock = UdpSocket::bind("127.0.0.1:0").expect("bind");
    sock.set_read_timeout(Some(Duration::from_secs(2)))
        .expect("timeout");
    let ask = |to: SocketAddr, q: &[u8]| -> Vec<u8> {
        sock.send_to(q, to).expect("send");
        let mut buf = [0u8; 4096];
        let (n, _) = sock.recv_from(&mut buf).expect("an answer");
        buf[..n].to_vec()
    };
    for (name, qtype) in [
        ("static.gslb.test", 1),
        ("nope.gslb.test", 1),
        ("static.gslb.test", 28),
        ("sticky.gslb.test", 1),
        ("sub.gslb.test", 1),
        ("alias.gslb.test", 1),
    ] {
        let bare = common::build_query(7, name, qtype);
        let mut edns = bare.clone();
        edns[11] = 1;
        edns.extend_from_slice(&[0, 0, 41, 0x04, 0xd0, 0, 0, 0, 0, 0, 0]);
        for q in [&bare, &edns] {
            assert_eq!(ask(signed.dns, q), ask(plain.dns, q), "{name} {qtype}");
        }
    }
    let d = signed.dig(&["+dnssec", "static.gslb.test", "A"]);
    assert!(
        d.edns_line().is_some_and(|l| l.contains("flags: do")),
        "DO echoed: {}",
        d.raw
    );
    assert!(!d.answers("RRSIG").is_empty(), "{}", d.raw);
}

/// Signatures come from the cache keyed by answer content: many client
/// networks with a handful of distinct answers cost a handful of signing
/// operations, counted in /metrics.
#[test]
fn signature_cache_shares_signatures_between_clients() {
    let (s, _) = start_signed(|dir| vec![keygen(dir, &[])]);
    const MISS: &str = "meridian_dnssec_signature_cache_total{result=\"miss\"}";
    let before = metric(&s, "meridian_dnssec_signatures_total");
    let misses_before = metric(&s, MISS);
    let mut answers = std::collections::BTreeSet::new();
    for i in 0..60u8 {
        let d = s.dig(&[
            "+dnssec",
            "sticky.gslb.test",
            "A",
            &format!("+subnet=10.1.{i}.0/24"),
        ]);
        assert_eq!(d.answers("RRSIG").len(), 1, "{}", d.raw);
        answers.extend(d.answers("A"));
    }
    let made = metric(&s, "meridian_dnssec_signatures_total") - before;
    assert!(
        made <= answers.len() as u64,
        "{made} signatures for {} distinct answers",
        answers.len()
    );
    let hits = metric(&s, "meridian_dnssec_signature_cache_total{result=\"hit\"}");
    assert!(hits >= 60 - answers.len() as u64, "hits {hits}");
    // One key: each miss is one signing operation, and the first query of
    // each distinct answer is a miss.
    let misses = metric(&s, MISS) - misses_before;
    assert!(
        misses >= 1 && misses == made,
        "{misses} misses, {made} signatures"
    );
    // Both are counters, so Prometheus' rate() gives signatures per second
    // and the hit rate is hit / (hit + miss).
    let text = s.admin("GET", "/metrics", None, None).body;
    for name in [
        "meridian_dnssec_signatures_total",
        "meridian_dnssec_signature_cache_total",
    ] {
        assert!(
            text.contains(&format!("# TYPE {name} counter")),
            "{name} is not a counter"
        );
    }
}

/// Missing, mismatched and foreign key files are configuration errors at
/// the key's entry, naming the file; a reload with a bad key keeps the
/// zone signed with the old one.
#[test]
fn bad_key_files_are_config_errors_and_reload_keeps_old_keys() {
    let (s, keys) = start_signed(|dir| vec![keygen(dir, &[])]);
    let dir = s.dir.path();
    let path = dir.join("meridian.yaml");
    let good = std::fs::read_to_string(&path).expect("config");
    let check = |config: &str| -> String {
        std::fs::write(&path, config).expect("config");
        let out = Command::new(common::BIN)
            .args(["check", "-c"])
            .arg(&path)
            .output()
            .expect("check");
        assert_eq!(out.status.code(), Some(1), "{out:?}");
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    let key = keys[0].display().to_string();
    let line = good
        .lines()
        .position(|l| l.contains("keys: ["))
        .expect("keys line")
        + 1;

    let missing = good.replace(&key, &format!("{key}x"));
    let err = check(&missing);
    assert!(
        err.contains(&format!("meridian.yaml:{line}:"))
            && err.contains("zones[0].dnssec.keys[0]")
            && err.contains("cannot read"),
        "{err}"
    );

    // Another key pair's private half under this key's name.
    let other = keygen(dir, &[]);
    let stem = &key;
    let mixed = dir.join("Kmixed");
    std::fs::copy(format!("{stem}.key"), mixed.with_extension("key")).expect("copy");
    std::fs::copy(
        format!("{}.private", other.display()),
        mixed.with_extension("private"),
    )
    .expect("copy");
    let err = check(&good.replace(&key, &mixed.display().to_string()));
    assert!(
        err.contains("Kmixed.private") && err.contains("does not match"),
        "{err}"
    );

    // A key for another zone.
    let foreign = PathBuf::from(
        common::meridian(&[
            "dnssec".as_ref(),
            "keygen".as_ref(),
            "other.test".as_ref(),
            "--dir".as_ref(),
            dir.as_os_str(),
        ])
        .trim(),
    );
    let err = check(&good.replace(&key, &foreign.display().to_string()));
    assert!(err.contains("not for the zone gslb.test."), "{err}");

    // The running server reloads the bad configuration: refused, and the
    // old key still signs.
    let tag = |d: &common::Dig| d.answers("DNSKEY").first().cloned().unwrap_or_default();
    let before = tag(&s.dig(&["gslb.test", "DNSKEY"]));
    std::fs::write(&path, &missing).expect("config");
    let r = s.admin("POST", "/v1/reload", None, None);
    assert_eq!(r.status, 400, "{r:?}");
    assert!(r.body.contains("cannot read"), "{}", r.body);
    let after = s.dig(&["+dnssec", "gslb.test", "DNSKEY"]);
    assert_eq!(tag(&after), before);
    assert_eq!(after.answers("RRSIG").len(), 1, "{}", after.raw);
    // Private keys are never shown by the admin API or logged.
    let private = std::fs::read_to_string(key_file(&keys[0], "private")).expect("private key");
    let secret = private
        .lines()
        .find_map(|l| l.strip_prefix("PrivateKey: "))
        .expect("PrivateKey line");
    for p in ["/v1/status", "/v1/services", "/", "/metrics"] {
        let body = s.admin("GET", p, None, None).body;
        assert!(!body.contains(secret), "{p} shows the private key");
    }
    assert!(!s.log().contains(secret), "the log shows the private key");
}

/// `dnsviz grok` run by Debian's python with Debian's dnsviz modules.
/// Debian 12's dnsviz 0.9.4 checks for `pygraphviz.release`, which its
/// pygraphviz 1.7 no longer has, and refuses a trust anchor ("pygraphviz is
/// required, but not installed"); the wrapper gives it that version module
/// when it is missing, and changes nothing else.
const GROK: &str = r#"
import sys, types, pygraphviz
if not hasattr(pygraphviz, "release"):
    release = types.ModuleType("pygraphviz.release")
    release.version = pygraphviz.__version__
    sys.modules["pygraphviz.release"] = release
    pygraphviz.release = release
from dnsviz.commands import grok
grok.main(["grok"] + sys.argv[1:])
"#;

/// Every `errors`/`warnings` entry of a grok report (with its path), and
/// every `status` value (with the key it sits under).
fn grok_findings(v: &serde_json::Value) -> (Vec<String>, Vec<(String, String)>) {
    fn walk(
        v: &serde_json::Value,
        path: &str,
        problems: &mut Vec<String>,
        statuses: &mut Vec<(String, String)>,
    ) {
        match v {
            serde_json::Value::Object(m) => {
                for (k, v) in m {
                    let here = format!("{path}/{k}");
                    if (k == "errors" || k == "warnings")
                        && v.as_array().is_some_and(|a| !a.is_empty())
                    {
                        problems.push(format!("{here}: {v}"));
                    }
                    if k == "status"
                        && let Some(s) = v.as_str()
                    {
                        let under = path.rsplit('/').next().unwrap_or_default();
                        statuses.push((under.to_string(), s.to_string()));
                    }
                    walk(v, &here, problems, statuses);
                }
            }
            serde_json::Value::Array(a) => {
                for v in a {
                    walk(v, path, problems, statuses);
                }
            }
            _ => {}
        }
    }
    let (mut problems, mut statuses) = (Vec::new(), Vec::new());
    walk(v, "", &mut problems, &mut statuses);
    (problems, statuses)
}

/// dnsviz (Debian's `dnsviz`), the analyser behind dnsviz.net: `dnsviz
/// probe -A -x gslb.test+:ns1.gslb.test=ADDR` asks meridian as the zone's
/// only authority (no parent, no recursion; `+`: no DS lookup above it),
/// for the apex, static, GSLB (with an ECS option), CNAME, wildcard and
/// nonexistent names; `dnsviz grok` with the zone's key as trust anchor
/// finds no error or warning, and every RRset and proof SECURE. With
/// another key as the anchor grok reports an error and the zone BOGUS.
#[test]
fn dnsviz_probe_and_grok_find_no_errors() {
    let python = Path::new("/usr/bin/python3");
    let installed = Path::new("/usr/bin/dnsviz").exists()
        && Command::new(python)
            .args(["-c", "import dnsviz, pygraphviz"])
            .output()
            .is_ok_and(|o| o.status.success());
    if !installed {
        eprintln!("SKIPPED: dnsviz is not installed (Debian package dnsviz)");
        return;
    }
    // ns1's address is where dnsviz is told meridian is: an NS address it
    // cannot reach would time every query out.
    let zone = ZONE.replace("ns1    IN A   192.0.2.53", "ns1    IN A   127.0.0.1");
    assert_ne!(zone, ZONE);
    let (s, keys) = start_signed_zone(&zone, |dir| vec![keygen(dir, &[])]);
    let dir = s.dir.path();
    let probe = dir.join("probe.json");
    let out = Command::new("timeout")
        .arg("60")
        .arg("/usr/bin/dnsviz")
        .args(["probe", "-A", "-x"])
        .arg(format!("gslb.test+:ns1.gslb.test={}", s.dns))
        .args(["-e", "10.0.3.0/24", "-o"])
        .arg(&probe)
        .args([
            "gslb.test",
            "static.gslb.test",
            "sticky.gslb.test",
            "alias.gslb.test",
            "x.wild.gslb.test",
            "nope.gslb.test",
        ])
        .output()
        .expect("run dnsviz probe");
    assert!(out.status.success(), "dnsviz probe: {out:?}");
    std::fs::write(dir.join("grok.py"), GROK).expect("grok.py");
    let grok = |anchor: &Path| -> serde_json::Value {
        // A trusted-keys file is DNSKEY records in zone-file form: the
        // key's `.key` file without its comments.
        let key = std::fs::read_to_string(key_file(anchor, "key")).expect("key file");
        let trusted = dir.join("trusted-keys");
        let lines: Vec<&str> = key.lines().filter(|l| !l.starts_with(';')).collect();
        std::fs::write(&trusted, lines.join("\n")).expect("trusted keys");
        let out = Command::new("timeout")
            .arg("60")
            .arg(python)
            .arg(dir.join("grok.py"))
            .args(["-P", "-t"])
            .arg(&trusted)
            .arg("-r")
            .arg(&probe)
            .output()
            .expect("run dnsviz grok");
        assert!(out.status.success(), "dnsviz grok: {out:?}");
        serde_json::from_slice(&out.stdout).expect("grok's JSON")
    };

    let report = grok(&keys[0]);
    let (problems, statuses) = grok_findings(&report);
    assert!(problems.is_empty(), "dnsviz grok: {problems:#?}");
    assert_eq!(report["gslb.test."]["zone"]["status"], "SECURE", "{report}");
    let dnskeys = report["gslb.test."]["dnskey"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert!(
        !dnskeys.is_empty() && dnskeys.iter().all(|k| k["status"] == "SECURE"),
        "{dnskeys:?}"
    );
    for name in ["static", "sticky", "alias", "x.wild", "nope"] {
        assert_eq!(
            report[format!("{name}.gslb.test.")]["status"],
            "NOERROR",
            "{name}"
        );
    }
    let secure = |under: &str| {
        statuses
            .iter()
            .filter(|(u, s)| u == under && s == "SECURE")
            .count()
    };
    assert!(secure("answer") >= 4, "{statuses:?}");
    assert!(secure("nodata") >= 1, "{statuses:?}");
    let unsound: Vec<_> = statuses
        .iter()
        .filter(|(_, s)| !["SECURE", "VALID", "NOERROR"].contains(&s.as_str()))
        .collect();
    assert!(unsound.is_empty(), "{unsound:?}");

    // The check can fail: another key as the trust anchor.
    let elsewhere = tempfile::tempdir().expect("tempdir");
    let report = grok(&keygen(elsewhere.path(), &[]));
    let (problems, statuses) = grok_findings(&report);
    assert!(
        problems
            .iter()
            .any(|p| p.contains("NO_TRUST_ANCHOR_SIGNING")),
        "{problems:#?}"
    );
    assert!(statuses.iter().any(|(_, s)| s == "BOGUS"), "{statuses:?}");
}
