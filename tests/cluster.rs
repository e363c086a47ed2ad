//! Several instances as one (issue 8): three meridians and a real etcd on
//! loopback. Overrides made on one instance reach the others; conflicting
//! changes get 409; with etcd down answers go on, changes get 503, and
//! everyone catches up when it is back; shared health takes an endpoint
//! out only when a quorum of the live instances see it down, and a killed
//! instance's votes lapse with its lease.

mod common;

use std::time::Duration;

use common::etcd::Etcd;
use common::http::Backend;
use common::{HttpReply, Server, eventually};

const ZONE: &str = common::GSLB_TEST_ZONE;

/// us-east (127.0.0.11, probed through PROBE) is first for every client;
/// eu-west (127.0.0.21, not monitored) takes over when it is out.
const CONFIG: &str = r#"
dns:
  listen: ["LISTEN"]
  nsid: NAME
admin:
  listen: "ADMIN_LISTEN"
state_file: state.json
cluster:
  endpoints: ["http://127.0.0.1:ETCD"]
  instance: NAME
  lease_ttl: 2s
regions:
  us-east: {}
  eu-west: {}
monitors:
  web: { type: http, path: /ready, interval: 300ms, timeout: 250ms, rise: 1, fall: 1 }
zones:
  - origin: gslb.test.
    file: gslb.test.zone
    services:
      www:
        policy: failover
        pools:
          us-east:
            monitor: web
            endpoints:
              - { address: 127.0.0.11, probe: "127.0.0.1:PROBE" }
          eu-west:
            endpoints: [127.0.0.21]
"#;

/// One meridian of the fleet, probing us-east through `probe`.
fn instance(etcd: &Etcd, name: &str, probe: u16) -> Server {
    let config = CONFIG
        .replace("NAME", name)
        .replace("ETCD", &etcd.client.to_string())
        .replace("PROBE", &probe.to_string());
    Server::start(&config, &[("gslb.test.zone", ZONE)])
}

/// Three instances, ns1..ns3, each probing its own backend.
fn fleet(etcd: &Etcd, backends: &[Backend; 3]) -> Vec<Server> {
    (0..3)
        .map(|i| instance(etcd, &format!("ns{}", i + 1), backends[i].port()))
        .collect()
}

fn backends() -> [Backend; 3] {
    [Backend::http(), Backend::http(), Backend::http()]
}

/// Which region `s` answers www from.
fn region(s: &Server) -> &'static str {
    let d = s.dig(&["www.gslb.test", "A"]);
    match d.answers("A").as_slice() {
        [a] if a == "127.0.0.11" => "us-east",
        [a] if a == "127.0.0.21" => "eu-west",
        _ => "other",
    }
}

fn all_answer(fleet: &[Server], want: &str) -> Option<()> {
    fleet.iter().all(|s| region(s) == want).then_some(())
}

/// `curl` the admin API with extra request headers.
fn admin_with(s: &Server, method: &str, path: &str, body: &str, headers: &[&str]) -> HttpReply {
    let addr = s.admin.expect("admin API");
    common::curl_with(
        method,
        &format!("http://{addr}{path}"),
        Some(body),
        None,
        headers,
    )
}

fn drain(s: &Server, state: &str) -> HttpReply {
    s.admin(
        "PUT",
        "/v1/regions/us-east/override",
        Some(&format!(r#"{{"state": "{state}"}}"#)),
        None,
    )
}

fn revision(s: &Server) -> i64 {
    let r = s.admin("GET", "/v1/overrides", None, None);
    assert_eq!(r.status, 200, "{}", r.body);
    r.json()["revision"].as_i64().expect("revision")
}

/// The us-east endpoint as `/v1/regions` of `s` shows it.
fn endpoint(s: &Server) -> serde_json::Value {
    let r = s.admin("GET", "/v1/regions", None, None);
    let regions = r.json();
    regions["regions"]
        .as_array()
        .and_then(|rs| rs.iter().find(|r| r["name"] == "us-east"))
        .map(|r| r["pools"][0]["endpoints"][0].clone())
        .expect("us-east endpoint")
}

#[test]
fn override_on_one_instance_reaches_all_within_a_second() {
    let etcd = Etcd::start();
    let b = backends();
    let fleet = fleet(&etcd, &b);
    eventually(Duration::from_secs(5), "all to answer us-east", || {
        all_answer(&fleet, "us-east")
    });

    let r = drain(&fleet[0], "down");
    assert_eq!(r.status, 200, "{}", r.body);
    eventually(
        Duration::from_secs(1),
        "the drain on ns1 to reach all three",
        || all_answer(&fleet, "eu-west"),
    );
    // Every instance shows the same overrides at the same revision, and
    // keeps them in its state file as a cache.
    let rev = r.json()["revision"].as_i64().expect("revision");
    assert!(rev > 0);
    for s in &fleet {
        let o = s.admin("GET", "/v1/overrides", None, None).json();
        assert_eq!(o["revision"], rev);
        assert_eq!(o["regions"]["us-east"]["state"], "down");
        let cache = std::fs::read_to_string(s.dir.path().join("state.json")).expect("cache");
        assert!(cache.contains("\"down\""), "{cache}");
    }

    // Back to auto from another instance.
    let r = drain(&fleet[2], "auto");
    assert_eq!(r.status, 200, "{}", r.body);
    eventually(Duration::from_secs(1), "auto to reach all three", || {
        all_answer(&fleet, "us-east")
    });
}

#[test]
fn a_change_made_from_a_stale_revision_gets_409() {
    let etcd = Etcd::start();
    let b = backends();
    let fleet = fleet(&etcd, &b);
    // Operator A reads the overrides on ns1; operator B drains on ns2.
    let seen = revision(&fleet[0]);
    assert_eq!(drain(&fleet[1], "down").status, 200);
    // A's change, made from what A saw, must not silently undo B's.
    let r = admin_with(
        &fleet[0],
        "PUT",
        "/v1/regions/us-east/override",
        r#"{"state": "auto"}"#,
        &[&format!("If-Match: \"{seen}\"")],
    );
    assert_eq!(r.status, 409, "{}", r.body);
    assert!(
        r.json()["error"]
            .as_str()
            .unwrap_or("")
            .starts_with("conflict: "),
        "{}",
        r.body
    );
    eventually(
        Duration::from_secs(1),
        "B's drain to stand everywhere",
        || all_answer(&fleet, "eu-west"),
    );
    // From the current revision the same change goes through.
    let now = eventually(Duration::from_secs(1), "ns1 to see B's change", || {
        let r = revision(&fleet[0]);
        (r > seen).then_some(r)
    });
    let r = admin_with(
        &fleet[0],
        "PUT",
        "/v1/regions/us-east/override",
        r#"{"state": "auto"}"#,
        &[&format!("If-Match: \"{now}\"")],
    );
    assert_eq!(r.status, 200, "{}", r.body);
    // Without If-Match, a change applies to whatever is current.
    let r = fleet[2].admin(
        "PUT",
        "/v1/services/www.gslb.test./pools/eu-west/weight",
        Some(r#"{"weight": 5}"#),
        None,
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let o = fleet[1].admin("GET", "/v1/overrides", None, None);
    let etag = o
        .headers
        .lines()
        .find_map(|l| l.strip_prefix("etag: "))
        .unwrap_or_default()
        .to_string();
    assert_eq!(etag.trim(), format!("\"{}\"", o.json()["revision"]));
}

#[test]
fn etcd_down_answers_go_on_changes_get_503_and_everyone_catches_up() {
    let mut etcd = Etcd::start();
    let b = backends();
    let mut fleet = fleet(&etcd, &b);
    assert_eq!(drain(&fleet[0], "down").status, 200);
    eventually(Duration::from_secs(1), "the drain everywhere", || {
        all_answer(&fleet, "eu-west")
    });

    etcd.stop();
    let r = drain(&fleet[1], "auto");
    assert_eq!(r.status, 503, "{}", r.body);
    let error = r.json()["error"].as_str().unwrap_or("").to_string();
    assert!(
        error.contains("etcd is unreachable") && error.contains("nothing was changed"),
        "{error}"
    );
    // Answers go on with the last overrides seen, and an instance started
    // while etcd is down starts from its state file.
    assert!(all_answer(&fleet, "eu-west").is_some());
    let ns3 = fleet.pop().expect("ns3").restart();
    assert_eq!(region(&ns3), "eu-west", "{}", ns3.log());
    fleet.push(ns3);

    etcd.run();
    // Changes work again once the instance is back in touch, and every
    // instance catches up, the restarted one included.
    let r = eventually(Duration::from_secs(10), "changes to be accepted", || {
        let r = drain(&fleet[1], "auto");
        (r.status == 200).then_some(r)
    });
    assert!(r.json()["revision"].as_i64().unwrap_or(0) > 0);
    eventually(Duration::from_secs(5), "all three to catch up", || {
        all_answer(&fleet, "us-east")
    });
}

#[test]
fn an_endpoint_leaves_when_a_quorum_sees_it_down_and_dead_instances_stop_counting() {
    let etcd = Etcd::start();
    let b = backends();
    let mut fleet = fleet(&etcd, &b);
    eventually(
        Duration::from_secs(5),
        "every instance to see the others",
        || {
            fleet
                .iter()
                .all(|s| {
                    endpoint(s)["votes"]
                        .as_object()
                        .is_some_and(|v| v.len() == 3)
                })
                .then_some(())
        },
    );

    // One of three sees it down: it stays in, everywhere.
    b[0].status(503);
    eventually(Duration::from_secs(5), "ns3 to hear ns1's vote", || {
        (endpoint(&fleet[2])["votes"]["ns1"] == "unhealthy").then_some(())
    });
    assert!(all_answer(&fleet, "us-east").is_some());
    let e = endpoint(&fleet[0]);
    assert_eq!(e["state"], "healthy", "{e}");
    assert_eq!(e["votes"]["ns1"], "unhealthy", "{e}");
    assert!(
        e["verdict"].as_str().unwrap_or("").contains("1 of 3"),
        "{e}"
    );

    // Two of three: it leaves the answers of all three, the one whose own
    // probes still pass included.
    b[1].status(503);
    eventually(
        Duration::from_secs(5),
        "the endpoint to leave everywhere",
        || all_answer(&fleet, "eu-west"),
    );
    let e = endpoint(&fleet[2]);
    assert_eq!(e["state"], "unhealthy", "{e}");
    assert_eq!(e["last_result"], "ok", "ns3's own probe passes: {e}");
    assert!(
        e["verdict"].as_str().unwrap_or("").contains("2 of 3"),
        "{e}"
    );

    // ns2 dies: when its lease lapses its vote is gone, one of the two
    // live instances sees it down, and it is back in.
    drop(fleet.remove(1));
    eventually(
        Duration::from_secs(10),
        "ns2's lease to lapse and the endpoint to return",
        || all_answer(&fleet, "us-east"),
    );
    let e = endpoint(&fleet[1]);
    assert!(e["votes"].get("ns2").is_none(), "{e}");
    assert!(
        e["verdict"].as_str().unwrap_or("").contains("1 of 2"),
        "{e}"
    );
}

#[test]
fn alone_if_match_counts_changes_since_start() {
    let b = Backend::http();
    let config = CONFIG
        .split("cluster:")
        .next()
        .map(|head| {
            let tail = CONFIG.split("  lease_ttl: 2s\n").nth(1).unwrap_or_default();
            format!("{head}{tail}")
        })
        .unwrap_or_default()
        .replace("NAME", "alone")
        .replace("PROBE", &b.port().to_string());
    let s = Server::start(&config, &[("gslb.test.zone", ZONE)]);
    let seen = revision(&s);
    let r = admin_with(
        &s,
        "PUT",
        "/v1/regions/us-east/override",
        r#"{"state": "down"}"#,
        &[&format!("If-Match: {seen}")],
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["revision"], seen + 1);
    let r = admin_with(
        &s,
        "PUT",
        "/v1/regions/us-east/override",
        r#"{"state": "auto"}"#,
        &[&format!("If-Match: {seen}")],
    );
    assert_eq!(r.status, 409, "{}", r.body);
    let r = admin_with(
        &s,
        "PUT",
        "/v1/regions/us-east/override",
        r#"{"state": "auto"}"#,
        &["If-Match: yesterday"],
    );
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(s.admin("GET", "/v1/overrides", None, None).json()["instance"].is_null());
}
