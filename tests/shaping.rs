//! Traffic shaping (issue 15) as a resolver sees it, over real UDP with
//! EDNS Client Subnet: sticky answers per client network with weights
//! respected and minimal movement, spill between tiers, slow start after
//! recovery.

mod common;

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, UdpSocket};
use std::time::{Duration, Instant};

use common::Server;

const CONFIG: &str = r#"
dns:
  listen: ["LISTEN"]
admin:
  listen: "ADMIN_LISTEN"
state_file: state.json
regions:
  a: {}
  b: {}
  c: {}
  d: {}
zones:
  - origin: gslb.test.
    file: gslb.test.zone
    services:
      sticky:
        policy: failover
        selection: sticky
        pools:
          a: { endpoints: [127.0.1.1, 127.0.1.2, 127.0.1.3, 127.0.1.4, 127.0.1.5] }
          b: { endpoints: [127.0.2.1] }
      heavy:
        policy: failover
        selection: sticky
        pools:
          a: { endpoints: [127.0.1.1, { address: 127.0.1.2, weight: 300 }] }
      spilly:
        policy: failover
        pools:
          a: { endpoints: [127.0.1.1] }
          b: { endpoints: [127.0.2.1] }
      guarded:
        policy: failover
        guards: { min_available_pools: 1 }
        pools:
          a: { endpoints: [127.0.1.1] }
          b: { endpoints: [127.0.2.1] }
      ramp:
        policy: failover
        pools:
          c: { endpoints: [127.0.3.1], slow_start: { window: 4s, floor: 10% } }
          d: { endpoints: [127.0.4.1] }
"#;

fn server() -> Server {
    Server::start(CONFIG, &[("gslb.test.zone", common::GSLB_TEST_ZONE)])
}

/// An A query for `name` carrying ECS `addr/prefix`.
fn ecs_query(id: u16, name: &str, addr: Ipv4Addr, prefix: u8) -> Vec<u8> {
    let mut p = common::build_query(id, name, 1);
    p[11] = 1; // ARCOUNT
    let bytes = usize::from(prefix.div_ceil(8));
    let octets = addr.octets();
    p.extend_from_slice(&[0, 0, 41, 0x10, 0x00, 0, 0, 0, 0]);
    let option_len = 4 + bytes;
    p.extend_from_slice(&u16::try_from(4 + option_len).expect("len").to_be_bytes());
    p.extend_from_slice(&[0, 8]);
    p.extend_from_slice(&u16::try_from(option_len).expect("len").to_be_bytes());
    p.extend_from_slice(&[0, 1, prefix, 0]);
    p.extend_from_slice(&octets[..bytes]);
    p
}

/// The A addresses of an answer and the ECS scope it carries.
fn answer_of(resp: &[u8]) -> (Vec<Ipv4Addr>, Option<u8>) {
    let msg = hickory_proto::op::Message::from_vec(resp).expect("a DNS message");
    let addrs = msg
        .answers
        .iter()
        .filter_map(|r| match &r.data {
            hickory_proto::rr::RData::A(a) => Some(a.0),
            _ => None,
        })
        .collect();
    // The ECS option is the last thing in the packet: family 1, source,
    // scope, address bytes.
    let scope = resp
        .windows(4)
        .rposition(|w| w[0] == 0 && w[1] == 8)
        .and_then(|i| resp.get(i + 7).copied());
    (addrs, scope)
}

/// Ask `name` once for each network; the first address answered and the
/// scope, by network.
fn ask_all(
    s: &Server,
    name: &str,
    nets: &[Ipv4Addr],
    prefix: u8,
) -> BTreeMap<Ipv4Addr, (Ipv4Addr, Option<u8>)> {
    let sock = UdpSocket::bind("127.0.0.1:0").expect("bind");
    sock.set_read_timeout(Some(Duration::from_secs(2)))
        .expect("timeout");
    let mut out = BTreeMap::new();
    let mut buf = [0u8; 1500];
    for (i, net) in nets.iter().enumerate() {
        let id = u16::try_from(i % 65_536).expect("id");
        sock.send_to(&ecs_query(id, name, *net, prefix), s.dns)
            .expect("send");
        let (n, _) = sock.recv_from(&mut buf).expect("an answer");
        let (addrs, scope) = answer_of(&buf[..n]);
        out.insert(*net, (*addrs.first().expect("an address"), scope));
    }
    out
}

/// 1,000 client /24s.
fn networks() -> Vec<Ipv4Addr> {
    (0..1000u32)
        .map(|i| Ipv4Addr::from(0x0a00_0000 | (i * 7919 % 65_536) << 8))
        .collect()
}

fn counts(answers: &BTreeMap<Ipv4Addr, (Ipv4Addr, Option<u8>)>) -> BTreeMap<Ipv4Addr, usize> {
    let mut c = BTreeMap::new();
    for (addr, _) in answers.values() {
        *c.entry(*addr).or_insert(0) += 1;
    }
    c
}

#[test]
fn sticky_answers_follow_the_client_network_and_move_little() {
    let s = server();
    let nets = networks();
    let first = ask_all(&s, "sticky.gslb.test", &nets, 24);
    // Every network keeps its answer over 100 queries, and any host in it
    // (a /32 source) gets the same one.
    let one = nets[17];
    let expected = first[&one].0;
    for i in 0..100u8 {
        let host = Ipv4Addr::from(u32::from(one) | u32::from(i));
        let again = ask_all(&s, "sticky.gslb.test", &[host], 32);
        assert_eq!(again[&host].0, expected, "host {host} of {one}");
    }
    // The scope is never shorter than the hashing prefix.
    assert!(
        first.values().all(|(_, scope)| *scope == Some(24)),
        "scopes"
    );
    // Equal weights: 200 each of 1,000, within 30% (a chi-square of 5
    // buckets at this size stays far inside it).
    let c = counts(&first);
    assert_eq!(c.len(), 5, "{c:?}");
    assert!(c.values().all(|n| (140..=260).contains(n)), "{c:?}");
    // Weights are respected: 300 against 100 is three quarters.
    let heavy = counts(&ask_all(&s, "heavy.gslb.test", &nets, 24));
    let n = heavy[&Ipv4Addr::new(127, 0, 1, 2)];
    assert!((690..=810).contains(&n), "{heavy:?}");

    // One endpoint of five leaves: only its networks move.
    let r = s.admin(
        "PUT",
        "/v1/endpoints/127.0.1.5/override",
        Some(r#"{"state":"down"}"#),
        None,
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let after = ask_all(&s, "sticky.gslb.test", &nets, 24);
    let gone = Ipv4Addr::new(127, 0, 1, 5);
    let mut moved = 0;
    for net in &nets {
        if after[net].0 != first[net].0 {
            assert_eq!(first[net].0, gone, "{net} moved though its endpoint stayed");
            moved += 1;
        }
    }
    assert!((140..=260).contains(&moved), "{moved} of 1000 moved");
}

#[test]
fn spill_sends_its_share_of_networks_to_the_next_tier() {
    let s = server();
    let nets = networks();
    let before = counts(&ask_all(&s, "spilly.gslb.test", &nets, 24));
    assert_eq!(before.get(&Ipv4Addr::new(127, 0, 1, 1)), Some(&1000));
    let bad = s.admin(
        "PUT",
        "/v1/services/spilly.gslb.test./pools/a/spill",
        Some(r#"{"percent": 150}"#),
        None,
    );
    assert_eq!(bad.status, 400, "{}", bad.body);
    let r = s.admin(
        "PUT",
        "/v1/services/spilly.gslb.test./pools/a/spill",
        Some(r#"{"percent": 20, "for": "1h"}"#),
        None,
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let first = ask_all(&s, "spilly.gslb.test", &nets, 24);
    let spilled = counts(&first)
        .get(&Ipv4Addr::new(127, 0, 2, 1))
        .copied()
        .unwrap_or(0);
    assert!((150..=250).contains(&spilled), "{spilled} of 1000 spilled");
    // Stable per network, and said in /v1/services and the scope.
    assert_eq!(ask_all(&s, "spilly.gslb.test", &nets, 24), first);
    assert!(first.values().all(|(_, scope)| *scope == Some(24)));
    let services = s.admin("GET", "/v1/services", None, None).json();
    let spilly = services["services"]
        .as_array()
        .and_then(|a| a.iter().find(|s| s["name"] == "spilly.gslb.test."))
        .expect("spilly");
    assert_eq!(spilly["pools"][0]["spill"], 20, "{spilly}");
    let back = s.admin(
        "DELETE",
        "/v1/services/spilly.gslb.test./pools/a/spill",
        None,
        None,
    );
    assert_eq!(back.status, 200, "{}", back.body);
    let after = counts(&ask_all(&s, "spilly.gslb.test", &nets, 24));
    assert_eq!(after.get(&Ipv4Addr::new(127, 0, 1, 1)), Some(&1000));
}

#[test]
fn slow_start_admits_the_ramps_share_of_networks() {
    let s = server();
    let nets = networks();
    let r = s.admin(
        "PUT",
        "/v1/regions/c/override",
        Some(r#"{"state":"down"}"#),
        None,
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let c = Ipv4Addr::new(127, 0, 3, 1);
    let share = |s: &Server| {
        let n = counts(&ask_all(s, "ramp.gslb.test", &nets, 24))
            .get(&c)
            .copied()
            .unwrap_or(0);
        #[allow(clippy::cast_precision_loss)]
        let share = n as f64 / 1000.0;
        share
    };
    assert!(share(&s) < 0.001, "c is down");
    // The slow-start task looks four times a second: let it see c down.
    std::thread::sleep(Duration::from_millis(600));
    let r = s.admin(
        "PUT",
        "/v1/regions/c/override",
        Some(r#"{"state":"auto"}"#),
        None,
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let back = Instant::now();
    // The ramp task notices within a quarter second.
    common::eventually(Duration::from_secs(2), "the ramp to begin", || {
        let services = s.admin("GET", "/v1/services", None, None).json();
        let ramp = services["services"]
            .as_array()?
            .iter()
            .find(|s| s["name"] == "ramp.gslb.test.")?
            .clone();
        ramp["pools"][0]["slow_start"]["factor"].as_f64()
    });
    // 4s window from 10%: a quarter in, about 32%; half, 55%; the end, all.
    let at = |secs: f64| {
        let wait = Duration::from_secs_f64(secs).saturating_sub(back.elapsed());
        std::thread::sleep(wait);
        share(&s)
    };
    let quarter = at(1.0);
    let half = at(2.0);
    let end = at(4.6);
    assert!((0.15..=0.5).contains(&quarter), "a quarter in: {quarter}");
    assert!((0.4..=0.75).contains(&half), "half way: {half}");
    assert!(quarter < half, "{quarter} then {half}");
    assert!(end > 0.999, "at the end: {end}");
    let explain = s
        .admin(
            "GET",
            "/v1/explain?name=ramp.gslb.test&client=10.0.0.0/24",
            None,
            None,
        )
        .json();
    assert!(explain["shaping"].is_array() || explain.get("shaping").is_none());
}

#[test]
fn a_guard_refuses_the_last_drain_unless_forced() {
    let s = server();
    let first = s.admin(
        "PUT",
        "/v1/regions/a/override",
        Some(r#"{"state":"down"}"#),
        None,
    );
    assert_eq!(first.status, 200, "one of two pools may go: {}", first.body);
    let before = s.admin("GET", "/v1/overrides", None, None).json()["revision"].clone();
    let last = s.admin(
        "PUT",
        "/v1/regions/b/override",
        Some(r#"{"state":"down"}"#),
        None,
    );
    assert_eq!(last.status, 409, "{}", last.body);
    let error = last.json()["error"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(
        error.contains("guarded.gslb.test.") && error.contains("min_available_pools 1"),
        "{error}"
    );
    let weight = s.admin(
        "PUT",
        "/v1/services/guarded.gslb.test./pools/b/weight",
        Some(r#"{"weight":0}"#),
        None,
    );
    assert_eq!(
        weight.status, 409,
        "a weight of 0 is a drain too: {}",
        weight.body
    );
    let endpoint = s.admin(
        "PUT",
        "/v1/endpoints/127.0.2.1/override",
        Some(r#"{"state":"drain"}"#),
        None,
    );
    assert_eq!(
        endpoint.status, 409,
        "so is an endpoint drain: {}",
        endpoint.body
    );
    assert_eq!(
        s.admin("GET", "/v1/overrides", None, None).json()["revision"],
        before,
        "nothing changed"
    );
    assert_eq!(
        s.dig(&["guarded.gslb.test", "A"]).answers("A"),
        ["127.0.2.1"]
    );
    let forced = s.admin(
        "PUT",
        "/v1/regions/b/override",
        Some(r#"{"state":"down","force":true}"#),
        None,
    );
    assert_eq!(forced.status, 200, "{}", forced.body);
    common::eventually(Duration::from_secs(3), "the forced change logged", || {
        s.log().contains("forced past a guard").then_some(())
    });
}

const ROLLOUT_CONFIG: &str = r#"
dns:
  listen: ["LISTEN"]
admin:
  listen: "ADMIN_LISTEN"
state_file: state.json
regions:
  stable: {}
  canary: {}
monitors:
  web: { type: http, path: /ready, interval: 200ms, timeout: 150ms, rise: 1, fall: 1 }
zones:
  - origin: gslb.test.
    file: gslb.test.zone
    services:
      www:
        policy: weighted
        pools:
          stable: { endpoints: [127.0.1.1] }
          canary:
            weight: 0
            monitor: web
            endpoints: [{ address: 127.0.2.1, probe: "127.0.0.1:PROBE" }]
"#;

fn canary_weight(s: &Server) -> u64 {
    let services = s.admin("GET", "/v1/services", None, None).json();
    services["services"][0]["pools"][1]["effective_weight"]
        .as_u64()
        .expect("weight")
}

#[test]
fn a_rollout_steps_by_itself_and_rolls_back_when_the_canary_fails() {
    let backend = common::http::Backend::http();
    let config = ROLLOUT_CONFIG.replace("PROBE", &backend.port().to_string());
    let s = Server::start(&config, &[("gslb.test.zone", common::GSLB_TEST_ZONE)]);
    let post = |body: &str| {
        s.admin(
            "POST",
            "/v1/services/www.gslb.test./rollouts",
            Some(body),
            None,
        )
    };

    // Bad input: 400 with the reason, nothing changed.
    let before = s.admin("GET", "/v1/overrides", None, None).json()["revision"].clone();
    for (body, want) in [
        (r#"{"pool":"mars","steps":[{"weight":10}]}"#, "has no pool"),
        (
            r#"{"pool":"canary","steps":[{"weight":10,"hold":"soon"},{"weight":100}]}"#,
            "steps[0].hold",
        ),
        (
            r#"{"pool":"canary","steps":[{"weight":10},{"weight":100}]}"#,
            "steps[0].hold is needed",
        ),
        (r#"{"pool":"canary","steps":[]}"#, "at least one step"),
    ] {
        let r = post(body);
        assert_eq!(r.status, 400, "{body}: {}", r.body);
        assert!(r.body.contains(want), "{body}: {}", r.body);
    }
    assert_eq!(
        s.admin("GET", "/v1/overrides", None, None).json()["revision"],
        before
    );

    // A healthy canary goes through every step by itself.
    let r = post(
        r#"{"pool":"canary","steps":[{"weight":10,"hold":"1s"},{"weight":50,"hold":"1s"},{"weight":100}]}"#,
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(canary_weight(&s), 10);
    let overlapping = post(r#"{"pool":"canary","steps":[{"weight":5}]}"#);
    assert_eq!(overlapping.status, 409, "{}", overlapping.body);
    common::eventually(Duration::from_secs(6), "the rollout to complete", || {
        let r = s
            .admin("GET", "/v1/services/www.gslb.test./rollouts", None, None)
            .json();
        (r["phase"] == "completed").then_some(r)
    });
    assert_eq!(canary_weight(&s), 100);
    for _ in 0..40 {
        s.dig(&["www.gslb.test", "A"]);
    }
    let done = s
        .admin("GET", "/v1/services/www.gslb.test./rollouts", None, None)
        .json();
    assert!(
        done["steps"][2]["answers"]
            .as_u64()
            .is_some_and(|n| n >= 40),
        "{done}"
    );
    let share = done["steps"][2]["canary_share"].as_f64().unwrap_or(-1.0);
    assert!(
        (0.25..=0.75).contains(&share),
        "half the answers name the canary: {done}"
    );

    // The next rollout fails: the canary's probe starts failing.
    let r = post(r#"{"pool":"canary","steps":[{"weight":300,"hold":"1m"},{"weight":1000}]}"#);
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(canary_weight(&s), 300);
    backend.status(503);
    let aborted = common::eventually(Duration::from_secs(5), "the rollback", || {
        let r = s
            .admin("GET", "/v1/services/www.gslb.test./rollouts", None, None)
            .json();
        (r["phase"] == "aborted").then_some(r)
    });
    assert!(
        aborted["reason"]
            .as_str()
            .is_some_and(|r| r.contains("failed their checks")),
        "{aborted}"
    );
    assert_eq!(canary_weight(&s), 100, "back to where it was");
    let state = std::fs::read_to_string(s.dir.path().join("state.json")).expect("state file");
    assert!(
        state.contains("\"aborted\"") && state.contains("failed their checks"),
        "{state}"
    );
    let metrics = s.admin("GET", "/metrics", None, None).body;
    assert!(
        metrics.contains("meridian_rollouts_aborted_total 1"),
        "{metrics}"
    );
    let gone = s.admin("DELETE", "/v1/services/www.gslb.test./rollouts", None, None);
    assert_eq!(gone.status, 404, "nothing running: {}", gone.body);
}

/// unbound with ECS (`subnetcache`) delegating to meridian caches a sticky
/// answer per client subnet (its scope is /24), not one for everyone.
#[test]
fn unbound_with_ecs_caches_sticky_answers_per_subnet() {
    let Some(unbound) = ["/usr/sbin/unbound", "/usr/bin/unbound"]
        .into_iter()
        .find(|p| std::path::Path::new(p).exists())
    else {
        eprintln!("SKIPPED: unbound is not installed (Debian package unbound)");
        return;
    };
    let s = server();
    // Two /24s that meridian answers with different endpoints.
    let nets = networks();
    let direct = ask_all(&s, "sticky.gslb.test", &nets, 24);
    let a = nets[0];
    let b = *nets
        .iter()
        .find(|n| direct[*n].0 != direct[&a].0)
        .expect("two networks with different answers");
    let dir = tempfile::tempdir().expect("tempdir");
    let port = common::etcd::free_port();
    let conf = dir.path().join("unbound.conf");
    let dns = format!("{}@{}", s.dns.ip(), s.dns.port());
    std::fs::write(
        &conf,
        format!(
            "server:\n  interface: 127.0.0.1@{port}\n  port: {port}\n  do-daemonize: no\n  use-syslog: no\n  \
             chroot: \"\"\n  username: \"\"\n  directory: \"{dir}\"\n  pidfile: \"{dir}/unbound.pid\"\n  \
             do-not-query-localhost: no\n  access-control: 127.0.0.0/8 allow\n  \
             module-config: \"subnetcache iterator\"\n  send-client-subnet: 127.0.0.1\n  \
             client-subnet-always-forward: yes\n  max-client-subnet-ipv4: 24\n  verbosity: 1\n  \
             local-zone: \"test.\" nodefault\n\
             stub-zone:\n  name: \"gslb.test\"\n  stub-addr: {dns}\n",
            dir = dir.path().display(),
        ),
    )
    .expect("unbound.conf");
    /// Killed (by PID) when dropped, even if an assertion fails first.
    struct Child(std::process::Child);
    impl Drop for Child {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let child = Child(
        std::process::Command::new(unbound)
            .args(["-d", "-c"])
            .arg(&conf)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("start unbound"),
    );
    let resolver: std::net::SocketAddr = format!("127.0.0.1:{port}").parse().expect("addr");
    let via = |net: Ipv4Addr| {
        common::dig(
            resolver,
            &["sticky.gslb.test", "A", &format!("+subnet={net}/24")],
        )
        .answers("A")
    };
    let first = common::eventually(Duration::from_secs(10), "unbound to answer", || {
        Some(via(a)).filter(|r| !r.is_empty())
    });
    let second = via(b);
    let again = via(a);
    drop(child);
    assert_eq!(
        first,
        [direct[&a].0.to_string()],
        "a's answer through unbound"
    );
    assert_eq!(
        second,
        [direct[&b].0.to_string()],
        "b gets its own answer, not a's from the cache"
    );
    assert_eq!(again, first, "a's answer again (cached per subnet)");
}
