//! Overload and faults against the real binary (issue 7): garbage
//! datagrams, a GeoIP database broken under a running server, an
//! unwritable state file, `kill -9` during override writes, and SIGTERM
//! with open TCP connections. Each ends by checking that the server still
//! answers (or, for SIGTERM, that it answered and then exited).

mod common;

use std::net::UdpSocket;
use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hickory_proto::op::{Message, MessageType};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use common::{
    Server, admin_fixture, build_query, eventually, geo_fixture, geo_server, rcode, tcp_recv,
    tcp_send,
};

const TOKEN: &str = "test-token-0123";

/// The admin fixture (tests/fixtures/admin): `www.gslb.test` answers
/// eu-west (198.51.100.10) for 10/8 clients, us-east otherwise; the state
/// file is `var/state.json`.
fn admin_server() -> Server {
    common::admin_server(&admin_fixture("admin.yaml"), TOKEN)
}

/// The geo fixture (tests/fixtures/geo, ECS on) with the admin API, and its
/// database `geo.mmdb` built from geo.csv.
fn geo_admin_server() -> Server {
    let config = geo_fixture("geo.yaml").replace("ECS", "true")
        + "admin:\n  listen: \"ADMIN_LISTEN\"\n  token_file: token.txt\n";
    let token = format!("{TOKEN}\n");
    geo_server(
        &config,
        &[
            ("gslb.test.zone", &geo_fixture("gslb.test.zone")),
            ("token.txt", &token),
        ],
    )
}

/// `www.gslb.test A` from an EU client (ECS 81.2.69.0/24, GB in geo.csv):
/// sorted addresses.
fn eu_www(s: &Server) -> Vec<String> {
    let d = s.dig(&["www.gslb.test", "A", "+subnet=81.2.69.0/24"]);
    assert_eq!(d.status, "NOERROR", "{}", d.raw);
    let mut a = d.answers("A");
    a.sort();
    assert!(!a.is_empty(), "empty answer: {}", d.raw);
    a
}

/// A normal query answered over UDP and over TCP (NOERROR, an A record).
fn answers_udp_and_tcp(s: &Server) {
    let udp = eventually(Duration::from_secs(10), "a UDP answer", || {
        let d = s.dig(&["static.gslb.test", "A"]);
        (d.status == "NOERROR").then_some(d)
    });
    assert_eq!(udp.answers("A"), vec!["192.0.2.1"], "{}", udp.raw);
    let tcp = s.dig(&["+tcp", "static.gslb.test", "A"]);
    assert_eq!(tcp.status, "NOERROR", "{}", tcp.raw);
    assert_eq!(tcp.answers("A"), vec!["192.0.2.1"], "{}", tcp.raw);
    // A raw TCP exchange too (not only through dig).
    let mut conn = s.tcp();
    tcp_send(&mut conn, &build_query(0x4242, "static.gslb.test", 1));
    let reply = tcp_recv(&mut conn).expect("TCP reply");
    assert_eq!(reply[..2], [0x42, 0x42]);
    assert_eq!(rcode(&reply), 0);
}

/// Real queries as dig and kdig send them: the fuzz seed corpus (captured
/// by fuzz/seeds/capture.py), and a few built here.
fn real_queries() -> Vec<Vec<u8>> {
    let mut v: Vec<Vec<u8>> = Vec::new();
    let dir = common::repo().join("fuzz/corpus/packet");
    if let Ok(entries) = std::fs::read_dir(&dir) {
        let mut paths: Vec<_> = entries.filter_map(Result::ok).map(|e| e.path()).collect();
        paths.sort();
        for p in paths {
            if p.extension().is_some_and(|e| e == "bin") {
                v.push(std::fs::read(p).expect("corpus file"));
            }
        }
    }
    for (name, qtype) in [
        ("www.gslb.test", 1),
        ("www.gslb.test", 28),
        ("static.gslb.test", 255),
        ("to-www.gslb.test", 1),
        ("gslb.test", 6),
        ("nope.gslb.test", 16),
    ] {
        v.push(build_query(7, name, qtype));
    }
    v
}

#[test]
fn three_thousand_garbage_datagrams_then_normal_answers() {
    let mut s = geo_admin_server();
    let real = real_queries();
    assert!(real.len() > 10, "seed queries: {}", real.len());
    let mut rng = StdRng::seed_from_u64(0x6d65_7269_6469_616e);
    let sock = UdpSocket::bind("127.0.0.1:0").expect("bind");
    sock.set_read_timeout(Some(Duration::from_millis(300)))
        .expect("timeout");
    let mut buf = vec![0u8; 65535];
    let mut replies = 0usize;
    let mut sent = 0usize;
    for batch in 0..15 {
        for i in 0..200 {
            let packet: Vec<u8> = match (batch * 200 + i) % 3 {
                // Random bytes, 0 to 600 long.
                0 => {
                    let mut p = vec![0u8; rng.random_range(0..600)];
                    rng.fill(&mut p[..]);
                    p
                }
                // A real query cut short.
                1 => {
                    let q = &real[rng.random_range(0..real.len())];
                    q[..rng.random_range(0..q.len())].to_vec()
                }
                // A real query with 1 to 8 bits flipped.
                _ => {
                    let mut q = real[rng.random_range(0..real.len())].clone();
                    for _ in 0..rng.random_range(1..=8) {
                        let at = rng.random_range(0..q.len());
                        q[at] ^= 1 << rng.random_range(0..8);
                    }
                    q
                }
            };
            sock.send_to(&packet, s.dns).expect("send");
            sent += 1;
        }
        // Every reply that came back is a well-formed response.
        sock.set_nonblocking(true).expect("nonblocking");
        while let Ok((n, _)) = sock.recv_from(&mut buf) {
            let reply = &buf[..n];
            let msg = Message::from_vec(reply)
                .unwrap_or_else(|e| panic!("malformed reply ({e}): {reply:02x?}"));
            assert_eq!(msg.metadata.message_type, MessageType::Response);
            replies += 1;
        }
        sock.set_nonblocking(false).expect("blocking");
        // Between batches, a real query is still answered.
        let ok = eventually(Duration::from_secs(10), "an answer between batches", || {
            s.udp_raw(
                &build_query(0x1234, "www.gslb.test", 1),
                Duration::from_secs(1),
            )
        });
        assert_eq!(ok[..2], [0x12, 0x34]);
        assert_eq!(rcode(&ok), 0);
    }
    assert_eq!(sent, 3000);
    assert!(replies > 0, "some garbage deserves a FORMERR");
    assert!(s.is_running(), "meridian exited; log:\n{}", s.log());
    answers_udp_and_tcp(&s);
    assert_eq!(
        eu_www(&s),
        vec!["198.51.100.10", "198.51.100.11"],
        "geo answers unchanged"
    );
    assert!(s.is_running(), "meridian exited; log:\n{}", s.log());
}

#[test]
fn broken_geoip_database_is_refused_on_reload_and_the_old_one_serves() {
    let s = geo_admin_server();
    let before = eu_www(&s);
    assert_eq!(before, vec!["198.51.100.10", "198.51.100.11"]);
    let db = s.dir.path().join("geo.mmdb");
    let good = std::fs::read(&db).expect("read geo.mmdb");

    let mut garbage = vec![0u8; 4096];
    StdRng::seed_from_u64(7).fill(&mut garbage[..]);
    let broken: [(&str, Vec<u8>); 4] = [
        ("garbage", garbage),
        ("truncated to half", good[..good.len() / 2].to_vec()),
        ("truncated to 100 bytes", good[..100].to_vec()),
        ("empty", Vec::new()),
    ];
    for (what, bytes) in broken {
        // Replaced the way an operator's copy does it: written in place.
        std::fs::write(&db, &bytes).expect("write broken database");
        let r = s.admin("POST", "/v1/reload", None, Some(TOKEN));
        assert_eq!(r.status, 400, "{what}: {r:?}");
        let body = r.json();
        let errors = body["errors"].to_string();
        assert!(
            errors.contains("geo.mmdb"),
            "{what}: the error names the database: {body}"
        );
        assert!(
            body["error"]
                .as_str()
                .is_some_and(|e| e.contains("still serving generation 1")),
            "{what}: {body}"
        );
        assert_eq!(eu_www(&s), before, "{what}: the old database answers");
        answers_udp_and_tcp(&s);
    }

    // Fixed again, a reload takes.
    std::fs::write(&db, &good).expect("restore database");
    let r = s.admin("POST", "/v1/reload", None, Some(TOKEN));
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.json()["generation"], 2);
    assert_eq!(eu_www(&s), before);
}

/// Make the state file's directory unwritable; returns how to undo it.
///
/// `chmod 0555` is the natural way, but root ignores directory permissions
/// (and tests often run as root in containers). So after the chmod we probe
/// with a real write; if it still succeeds, the directory is replaced by a
/// regular *file* of the same name, so that creating `var/.state.json.tmp`
/// fails with ENOTDIR for any user.
fn make_unwritable(dir: &Path) -> Box<dyn FnOnce()> {
    use std::os::unix::fs::PermissionsExt;
    let set_mode = |mode| {
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(mode)).expect("chmod");
    };
    set_mode(0o555);
    let probe = dir.join(".probe");
    let chmod_works = std::fs::write(&probe, b"x").is_err();
    let _ = std::fs::remove_file(&probe);
    if chmod_works {
        let dir = dir.to_path_buf();
        return Box::new(move || {
            std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755))
                .expect("chmod back");
        });
    }
    set_mode(0o755);
    std::fs::remove_dir_all(dir).expect("remove state directory");
    std::fs::write(dir, b"not a directory\n").expect("file in its place");
    let dir = dir.to_path_buf();
    Box::new(move || {
        std::fs::remove_file(&dir).expect("remove the file");
        std::fs::create_dir(&dir).expect("state directory back");
    })
}

#[test]
fn unwritable_state_file_refuses_the_override_and_changes_nothing() {
    let s = admin_server();
    let www = |s: &Server| {
        let d = s.dig(&["www.gslb.test", "A", "+subnet=10.1.2.0/24"]);
        assert_eq!(d.status, "NOERROR", "{}", d.raw);
        d.answers("A")
    };
    assert_eq!(www(&s), vec!["198.51.100.10"], "eu-west first");
    let undo = make_unwritable(&s.dir.path().join("var"));

    let r = s.admin(
        "PUT",
        "/v1/regions/eu-west/override",
        Some(r#"{"state":"down"}"#),
        Some(TOKEN),
    );
    assert_eq!(r.status, 500, "{r:?}");
    assert!(
        r.json()["error"]
            .as_str()
            .is_some_and(|e| e.contains("state.json")),
        "the error names the state file: {r:?}"
    );
    let r = s.admin(
        "PUT",
        "/v1/services/split.gslb.test./pools/eu-west/weight",
        Some(r#"{"weight":0}"#),
        Some(TOKEN),
    );
    assert_eq!(r.status, 500, "{r:?}");

    // Nothing changed: answers, the regions view, the overrides list.
    assert_eq!(www(&s), vec!["198.51.100.10"], "still eu-west");
    let regions = s.admin("GET", "/v1/regions", None, None).json();
    let eu = regions["regions"]
        .as_array()
        .and_then(|a| a.iter().find(|r| r["name"] == "eu-west"))
        .expect("eu-west")
        .clone();
    assert!(eu["override"].is_null(), "no override shown: {eu}");
    let services = s.admin("GET", "/v1/services", None, None).json();
    let split_eu = services["services"]
        .as_array()
        .and_then(|a| a.iter().find(|x| x["name"] == "split.gslb.test."))
        .and_then(|x| x["pools"].as_array())
        .and_then(|p| p.iter().find(|p| p["region"] == "eu-west"))
        .expect("split eu-west pool")
        .clone();
    assert_eq!(split_eu["effective_weight"], 100, "{split_eu}");
    answers_udp_and_tcp(&s);

    // Writable again, the same change is accepted and takes effect.
    undo();
    let r = s.admin(
        "PUT",
        "/v1/regions/eu-west/override",
        Some(r#"{"state":"down"}"#),
        Some(TOKEN),
    );
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(www(&s), vec!["192.0.2.10"]);
}

/// The weight the state file holds for split/eu-west (None: no override),
/// after checking the file is whole: valid JSON of version 1.
fn state_weight(s: &Server) -> Option<u64> {
    let path = s.dir.path().join("var/state.json");
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return None,
        Err(e) => panic!("cannot read {}: {e}", path.display()),
    };
    let v: serde_json::Value =
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("state file corrupt ({e}):\n{text}"));
    assert_eq!(v["version"], 1, "{text}");
    v["weights"]["split.gslb.test."]["eu-west"]["weight"].as_u64()
}

#[test]
fn kill_9_during_override_writes_leaves_the_old_or_the_new_state() {
    let mut rng = StdRng::seed_from_u64(0x6b69_6c6c);
    let mut s = admin_server();
    let mut last_acked: Option<u64> = None;
    let mut next_weight: u64 = 1;
    for round in 0..10 {
        // A writer fires changes as fast as it can: the region override
        // alternates down/auto and the weight counts up, one value per
        // request, so the file tells which write it holds.
        let acked = Arc::new(Mutex::new(last_acked));
        let writes = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let admin = s.admin.expect("admin API");
        let start_weight = next_weight;
        let writer = {
            let (acked, writes, stop) = (acked.clone(), writes.clone(), stop.clone());
            std::thread::spawn(move || {
                let mut w = start_weight;
                while !stop.load(Ordering::Relaxed) && w < start_weight + 400 {
                    let state = if w.is_multiple_of(2) { "down" } else { "auto" };
                    let r = common::curl(
                        "PUT",
                        &format!("http://{admin}/v1/regions/eu-west/override"),
                        Some(&format!(r#"{{"state":"{state}"}}"#)),
                        Some(TOKEN),
                    );
                    if r.status != 200 {
                        return w;
                    }
                    let r = common::curl(
                        "PUT",
                        &format!(
                            "http://{admin}/v1/services/split.gslb.test./pools/eu-west/weight"
                        ),
                        Some(&format!(r#"{{"weight":{}}}"#, w % 1000)),
                        Some(TOKEN),
                    );
                    if r.status != 200 {
                        return w;
                    }
                    *acked.lock().expect("lock") = Some(w % 1000);
                    w += 1;
                    writes.fetch_add(1, Ordering::Relaxed);
                }
                w
            })
        };
        // The random moment: after a random number of acknowledged writes
        // (and so mid-way through a later one, most likely).
        let after = rng.random_range(1..12);
        eventually(Duration::from_secs(30), "writes to be acknowledged", || {
            (writes.load(Ordering::Relaxed) >= after).then_some(())
        });
        let pid = s.pid().to_string();
        let status = Command::new("kill")
            .args(["-9", &pid])
            .status()
            .expect("kill");
        assert!(status.success());
        stop.store(true, Ordering::Relaxed);
        let in_flight = writer.join().expect("writer thread");
        let acked_before_kill = *acked.lock().expect("lock");
        next_weight = in_flight + 1;

        let on_disk = state_weight(&s);
        // Old or new: the last acknowledged weight, or the one being
        // written when the process died. Never an older one, never junk.
        let allowed = [acked_before_kill, Some(in_flight % 1000)];
        assert!(
            allowed.contains(&on_disk),
            "round {round}: state file weight {on_disk:?}, acknowledged {acked_before_kill:?}, in flight {in_flight}"
        );

        s = s.restart();
        assert!(
            s.admin.is_some(),
            "round {round}: no admin API after restart; log:\n{}",
            s.log()
        );
        // The restarted server reads the file and shows what it holds.
        let services = s.admin("GET", "/v1/services", None, None).json();
        let eff = services["services"]
            .as_array()
            .and_then(|a| a.iter().find(|x| x["name"] == "split.gslb.test."))
            .and_then(|x| x["pools"].as_array())
            .and_then(|p| p.iter().find(|p| p["region"] == "eu-west"))
            .map(|p| p["effective_weight"].clone())
            .expect("split eu-west pool");
        assert_eq!(
            eff.as_u64(),
            Some(on_disk.unwrap_or(100)),
            "round {round}: the restarted server serves the file's weight"
        );
        let d = s.dig(&["static.gslb.test", "A"]);
        assert_eq!(d.status, "NOERROR", "round {round}: {}", d.raw);
        last_acked = on_disk;
    }
}

#[test]
fn sigterm_answers_the_queries_in_flight_then_exits() {
    let mut s = admin_server();
    let query = |id: u16| build_query(id, "static.gslb.test", 1);
    // Three connections, each known to be accepted (one exchange done).
    let mut conns: Vec<_> = (0..3u16)
        .map(|i| {
            let mut c = s.tcp();
            tcp_send(&mut c, &query(i));
            let r = tcp_recv(&mut c).expect("first reply");
            assert_eq!(r[..2], i.to_be_bytes());
            c
        })
        .collect();
    // conns[0]: a whole query sent just before the signal.
    tcp_send(&mut conns[0], &query(0x0a0a));
    // conns[1]: half a query (length and 5 bytes) before the signal, the
    // rest after it.
    let half = query(0x0b0b);
    let len = u16::try_from(half.len()).expect("len").to_be_bytes();
    {
        use std::io::Write;
        conns[1].write_all(&len).expect("write len");
        conns[1].write_all(&half[..5]).expect("write half");
    }
    // conns[2]: idle; it must not hold the shutdown up.

    let status = Command::new("kill")
        .args(["-TERM", &s.pid().to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
    eventually(Duration::from_secs(5), "the shutdown to begin", || {
        s.log().contains("shutting down").then_some(())
    });

    let r = tcp_recv(&mut conns[0]).expect("the query sent before SIGTERM is answered");
    assert_eq!(r[..2], [0x0a, 0x0a]);
    assert_eq!(rcode(&r), 0);
    {
        use std::io::Write;
        conns[1].write_all(&half[5..]).expect("write the rest");
    }
    let r = tcp_recv(&mut conns[1]).expect("the query in flight at SIGTERM is answered");
    assert_eq!(r[..2], [0x0b, 0x0b]);
    assert_eq!(rcode(&r), 0);

    let status = s
        .wait_exit(Duration::from_secs(12))
        .unwrap_or_else(|| panic!("still running 12s after SIGTERM; log:\n{}", s.log()));
    assert!(status.success(), "exit status {status}; log:\n{}", s.log());
    // The connections were closed, not left hanging.
    for (i, c) in conns.iter_mut().enumerate() {
        assert!(tcp_recv(c).is_none(), "connection {i} still open");
    }
}
