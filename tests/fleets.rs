//! Fleets that change (issue 12), against a real etcd and real meridian
//! processes: endpoints registered in etcd with leases are answered after
//! their first passing probe and leave when their lease ends; losing etcd
//! keeps the last good set (marked stale) and a wiped prefix is held; an
//! endpoint drained by label on one instance of three leaves every
//! instance's answers, and its drain report says `drained` only once the
//! last answer naming it has expired.

mod common;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use common::etcd::Etcd;
use common::http::Backend;
use common::{Server, eventually};

const ZONE: &str = common::GSLB_TEST_ZONE;

/// us-east takes its endpoints from the registry (probed on the port they
/// register); eu-west (127.0.0.21, static) answers when us-east has none.
const REGISTRY_CONFIG: &str = r#"
dns:
  listen: ["LISTEN"]
admin:
  listen: "ADMIN_LISTEN"
state_file: state.json
discovery:
  etcd: { endpoints: ["http://127.0.0.1:ETCD"] }
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
        ttl: 5
        max_answers: 16
        pools:
          us-east:
            monitor: web
            discover: { etcd: { prefix: "/services/www/us-east/", hold: HOLD } }
          eu-west:
            endpoints: [127.0.0.21]
"#;

fn registry_server(etcd: &Etcd, hold: &str) -> Server {
    let config = REGISTRY_CONFIG
        .replace("ETCD", &etcd.client.to_string())
        .replace("HOLD", hold);
    Server::start(&config, &[("gslb.test.zone", ZONE)])
}

/// The A records `server` answers for www now.
fn answers(server: &Server) -> BTreeSet<String> {
    server
        .dig(&["www.gslb.test", "A"])
        .answers("A")
        .into_iter()
        .collect()
}

fn set(addrs: &[&str]) -> BTreeSet<String> {
    addrs.iter().map(|s| (*s).to_string()).collect()
}

/// Register `ip:port` under `key` (on `lease`, if given).
fn register(etcd: &Etcd, key: &str, addr: &str, lease: Option<&str>, meta: &str) {
    let value = format!(r#"{{"Addr":"{addr}","Metadata":{meta}}}"#);
    let mut args = vec!["put"];
    let lease_arg;
    if let Some(l) = lease {
        lease_arg = format!("--lease={l}");
        args.push(&lease_arg);
    }
    args.extend([key, value.as_str()]);
    etcd.ctl(&args);
}

/// The us-east pool of www in `GET /v1/regions`.
fn us_east_pool(server: &Server) -> serde_json::Value {
    let regions = server.admin("GET", "/v1/regions", None, None).json();
    regions["regions"]
        .as_array()
        .and_then(|r| r.iter().find(|r| r["name"] == "us-east"))
        .map(|r| r["pools"][0].clone())
        .expect("us-east pool in /v1/regions")
}

#[test]
fn registered_endpoints_are_answered_after_their_first_probe_and_leave_with_their_lease() {
    let etcd = Etcd::start();
    let backends = [
        Backend::http_at("127.0.0.11"),
        Backend::http_at("127.0.0.12"),
        Backend::http_at("127.0.0.13"),
    ];
    // The third one fails its checks when it registers.
    backends[2].status(503);
    let leases: Vec<String> = (0..3).map(|_| etcd.lease(60)).collect();
    register(
        &etcd,
        "/services/www/us-east/a",
        &format!("127.0.0.11:{}", backends[0].port()),
        Some(&leases[0]),
        r#"{"labels":{"rack":"r7"}}"#,
    );
    let server = registry_server(&etcd, "30s");
    assert_eq!(
        answers(&server),
        set(&["127.0.0.11"]),
        "registered before start: answered from the first query"
    );

    register(
        &etcd,
        "/services/www/us-east/b",
        &format!("127.0.0.12:{}", backends[1].port()),
        Some(&leases[1]),
        "null",
    );
    register(
        &etcd,
        "/services/www/us-east/c",
        &format!("127.0.0.13:{}", backends[2].port()),
        Some(&leases[2]),
        "null",
    );
    let registered = Instant::now();
    eventually(Duration::from_secs(1), "b answered within 1 s", || {
        (answers(&server) == set(&["127.0.0.11", "127.0.0.12"])).then_some(())
    });
    assert!(registered.elapsed() < Duration::from_secs(1));
    // c is registered and probed, but never answered while it fails.
    eventually(Duration::from_secs(3), "c probed and failing", || {
        let pool = us_east_pool(&server);
        let c = pool["endpoints"]
            .as_array()?
            .iter()
            .find(|e| e["address"] == "127.0.0.13")?
            .clone();
        (c["state"] == "unhealthy").then_some(c)
    });
    for _ in 0..10 {
        assert!(!answers(&server).contains("127.0.0.13"));
    }
    backends[2].status(200);
    eventually(Duration::from_secs(3), "c answered once healthy", || {
        answers(&server).contains("127.0.0.13").then_some(())
    });

    // What the operator sees: source, key, labels.
    let pool = us_east_pool(&server);
    let a = pool["endpoints"]
        .as_array()
        .and_then(|e| e.iter().find(|e| e["address"] == "127.0.0.11"))
        .expect("a listed")
        .clone();
    assert_eq!(a["source"], "registry", "{a}");
    assert_eq!(a["key"], "/services/www/us-east/a", "{a}");
    assert_eq!(a["labels"]["rack"], "r7", "{a}");
    assert_eq!(pool["discover"]["prefix"], "/services/www/us-east/");
    assert_eq!(pool["discover"]["endpoints"], 3);
    assert_eq!(pool["discover"]["stale"], false);

    // The lease of a ends: a leaves the answers within 1 s.
    etcd.ctl(&["lease", "revoke", &leases[0]]);
    let revoked = Instant::now();
    eventually(Duration::from_secs(1), "a gone within 1 s", || {
        (answers(&server) == set(&["127.0.0.12", "127.0.0.13"])).then_some(())
    });
    assert!(revoked.elapsed() < Duration::from_secs(1));
    let metrics = server.admin("GET", "/metrics", None, None).body;
    assert!(
        metrics.contains("meridian_registry_endpoints{prefix=\"/services/www/us-east/\"} 2"),
        "{metrics}"
    );
}

#[test]
fn losing_etcd_keeps_the_last_good_set_and_a_wiped_prefix_is_held() {
    let mut etcd = Etcd::start();
    let backends = [
        Backend::http_at("127.0.0.11"),
        Backend::http_at("127.0.0.12"),
    ];
    for (i, b) in backends.iter().enumerate() {
        register(
            &etcd,
            &format!("/services/www/us-east/{i}"),
            &format!("127.0.0.1{}:{}", i + 1, b.port()),
            None,
            "null",
        );
    }
    let server = registry_server(&etcd, "3s");
    let both = set(&["127.0.0.11", "127.0.0.12"]);
    assert_eq!(answers(&server), both);

    // etcd goes away: answers stay, the source is marked stale.
    etcd.stop();
    eventually(Duration::from_secs(10), "the source marked stale", || {
        (us_east_pool(&server)["discover"]["stale"] == true).then_some(())
    });
    let metrics = server.admin("GET", "/metrics", None, None).body;
    assert!(
        metrics.contains("meridian_registry_stale{prefix=\"/services/www/us-east/\"} 1"),
        "{metrics}"
    );
    for _ in 0..5 {
        assert_eq!(
            answers(&server),
            both,
            "answers unchanged while etcd is away"
        );
    }

    // Back: whatever changed meanwhile is caught up.
    etcd.run();
    let b3 = Backend::http_at("127.0.0.13");
    register(
        &etcd,
        "/services/www/us-east/2",
        &format!("127.0.0.13:{}", b3.port()),
        None,
        "null",
    );
    eventually(
        Duration::from_secs(10),
        "caught up after etcd returns",
        || {
            (answers(&server).len() == 3 && us_east_pool(&server)["discover"]["stale"] == false)
                .then_some(())
        },
    );

    // A wipe of the prefix would remove every endpoint: held for `hold`.
    etcd.ctl(&["del", "--prefix", "/services/www/us-east/"]);
    let wiped = Instant::now();
    eventually(Duration::from_secs(2), "the removal shown as held", || {
        (us_east_pool(&server)["discover"]["held_removal"] == 3).then_some(())
    });
    assert_eq!(answers(&server).len(), 3, "still answered while held");
    eventually(Duration::from_secs(2), "the hold logged", || {
        server.log().contains("held for 3s").then_some(())
    });
    eventually(Duration::from_secs(6), "applied after the hold", || {
        (answers(&server) == set(&["127.0.0.21"])).then_some(())
    });
    assert!(
        wiped.elapsed() >= Duration::from_millis(2900),
        "applied only after the hold: {:?}",
        wiped.elapsed()
    );
}

/// Three instances sharing overrides through etcd; www answers both
/// endpoints (TTL 2) and 127.0.0.11 is in rack r7.
const CLUSTER_CONFIG: &str = r#"
dns:
  listen: ["LISTEN"]
admin:
  listen: "ADMIN_LISTEN"
state_file: state.json
cluster:
  endpoints: ["http://127.0.0.1:ETCD"]
  instance: NAME
  lease_ttl: 2s
regions:
  us-east: {}
zones:
  - origin: gslb.test.
    file: gslb.test.zone
    services:
      www:
        policy: weighted
        ttl: 2
        max_answers: 2
        pools:
          us-east:
            endpoints:
              - { address: 127.0.0.11, labels: { rack: r7 } }
              - { address: 127.0.0.12, labels: { rack: r8 } }
"#;

#[test]
fn an_endpoint_drained_by_label_leaves_every_instance_and_reports_when_done() {
    let etcd = Etcd::start();
    let fleet: Vec<Server> = (1..=3)
        .map(|i| {
            let config = CLUSTER_CONFIG
                .replace("NAME", &format!("ns{i}"))
                .replace("ETCD", &etcd.client.to_string());
            Server::start(&config, &[("gslb.test.zone", ZONE)])
        })
        .collect();
    let both = set(&["127.0.0.11", "127.0.0.12"]);
    for s in &fleet {
        assert_eq!(answers(s), both, "every instance hands out both");
    }

    let reply = fleet[0].admin(
        "PUT",
        "/v1/endpoints/override",
        Some(r#"{"labels": {"rack": "r7"}, "state": "drain", "for": "8s"}"#),
        None,
    );
    assert_eq!(reply.status, 200, "{}", reply.body);
    let drained_at = Instant::now();
    assert_eq!(
        reply.json()["endpoints"]["127.0.0.11"]["state"],
        "drain",
        "{}",
        reply.body
    );
    for s in &fleet {
        eventually(
            Duration::from_secs(1),
            "r7 out of every instance within 1 s",
            || (answers(s) == set(&["127.0.0.12"])).then_some(()),
        );
    }
    assert!(drained_at.elapsed() < Duration::from_secs(3));

    // Handed out just before the drain with TTL 2: not drained yet.
    let id = "endpoint:127.0.0.11";
    let now = fleet[1].admin("GET", &format!("/v1/drains/{id}"), None, None);
    assert_eq!(now.status, 200, "{}", now.body);
    let report = now.json();
    assert_eq!(report["state"], "draining", "{report}");
    assert_eq!(report["cause"], "endpoint drain");
    assert_eq!(report["max_ttl"], 2);

    // ?wait= holds until the last answer has expired, not before.
    let waited = fleet[2].admin("GET", &format!("/v1/drains/{id}?wait=20s"), None, None);
    let report = waited.json();
    assert_eq!(report["state"], "drained", "{report}");
    assert_eq!(report["answers_since"], 0, "{report}");
    assert!(
        drained_at.elapsed() >= Duration::from_millis(1500),
        "drained only after the TTL ran out: {:?}",
        drained_at.elapsed()
    );
    let instances = report["instances"].as_object().expect("per instance");
    assert_eq!(instances.len(), 3, "{report}");
    let list = fleet[0].admin("GET", "/v1/drains", None, None).json();
    assert!(
        list["drains"]
            .as_array()
            .is_some_and(|d| d.iter().any(|d| d["id"] == id)),
        "{list}"
    );
    let metrics = fleet[0].admin("GET", "/metrics", None, None).body;
    assert!(
        metrics.contains("meridian_drain_remaining_seconds{drain=\"endpoint:127.0.0.11\"} 0"),
        "{metrics}"
    );

    // The `for` runs out: the endpoint comes back everywhere.
    for s in &fleet {
        eventually(Duration::from_secs(12), "back after `for`", || {
            (answers(s) == both).then_some(())
        });
    }
    let gone = fleet[0].admin("GET", &format!("/v1/drains/{id}"), None, None);
    assert_eq!(gone.status, 404, "{}", gone.body);
}

#[test]
fn bad_registrations_and_selectors_are_refused_and_change_nothing() {
    let etcd = Etcd::start();
    let b = Backend::http_at("127.0.0.11");
    register(
        &etcd,
        "/services/www/us-east/a",
        &format!("127.0.0.11:{}", b.port()),
        None,
        "null",
    );
    let server = registry_server(&etcd, "30s");
    assert_eq!(answers(&server), set(&["127.0.0.11"]));

    etcd.ctl(&["put", "/services/www/us-east/junk", "not json"]);
    etcd.ctl(&[
        "put",
        "/services/www/us-east/name",
        r#"{"Addr":"www.example.com:80"}"#,
    ]);
    // An update that breaks a good key keeps its last good value.
    etcd.ctl(&["put", "/services/www/us-east/a", "{broken"]);
    eventually(Duration::from_secs(3), "each bad value logged", || {
        let log = server.log();
        (log.contains("/services/www/us-east/junk")
            && log.contains("not a registration")
            && log.contains("\"www.example.com:80\" is not an IP address")
            && log.contains("ignoring a change to /services/www/us-east/a"))
        .then_some(())
    });
    assert_eq!(
        answers(&server),
        set(&["127.0.0.11"]),
        "nothing else changed"
    );

    let before = server.admin("GET", "/v1/overrides", None, None).json()["revision"].clone();
    let none = server.admin(
        "PUT",
        "/v1/endpoints/override",
        Some(r#"{"labels": {"rack": "nowhere"}, "state": "drain"}"#),
        None,
    );
    assert_eq!(none.status, 400, "{}", none.body);
    assert!(
        none.json()["error"]
            .as_str()
            .is_some_and(|e| e.contains("rack=nowhere"))
    );
    let bad_state = server.admin(
        "PUT",
        "/v1/endpoints/127.0.0.11/override",
        Some(r#"{"state": "sideways"}"#),
        None,
    );
    assert_eq!(bad_state.status, 400, "{}", bad_state.body);
    let not_addr = server.admin(
        "PUT",
        "/v1/endpoints/not-an-address/override",
        Some(r#"{"state": "drain"}"#),
        None,
    );
    assert_eq!(not_addr.status, 400, "{}", not_addr.body);
    let unknown = server.admin(
        "PUT",
        "/v1/endpoints/192.0.2.99/override",
        Some(r#"{"state": "drain"}"#),
        None,
    );
    assert_eq!(unknown.status, 404, "{}", unknown.body);
    let after = server.admin("GET", "/v1/overrides", None, None).json();
    assert_eq!(after["revision"], before, "nothing was changed: {after}");
    assert_eq!(answers(&server), set(&["127.0.0.11"]));

    // A weight and a forced state by address, then back to auto.
    let up = server.admin(
        "PUT",
        "/v1/endpoints/127.0.0.11/override",
        Some(r#"{"state": "down"}"#),
        None,
    );
    assert_eq!(up.status, 200, "{}", up.body);
    assert_eq!(
        answers(&server),
        set(&["127.0.0.21"]),
        "forced down: eu-west answers"
    );
    let state = std::fs::read_to_string(server.dir.path().join("state.json")).expect("state file");
    assert!(
        state.contains("127.0.0.11"),
        "on disk before the reply: {state}"
    );
    let back = server.admin("DELETE", "/v1/endpoints/127.0.0.11/override", None, None);
    assert_eq!(back.status, 200, "{}", back.body);
    assert_eq!(answers(&server), set(&["127.0.0.11"]));
}
