//! Alertmanager's webhook (issue 17, part 5) driven by a real
//! `prometheus-alertmanager` (Debian): the test posts alerts to
//! Alertmanager's own API as Prometheus would, Alertmanager notifies
//! meridian's `POST /v1/alerts` with its bearer token, and `dig` watches
//! the answers. A firing alert naming a region takes it out, one that would
//! break a guard is held, a resolved one puts it back; the override shows
//! as `source: alertmanager` with the alert's name. A body that is not JSON
//! is a 400, no token a 401.

mod common;

use std::time::Duration;

use common::prom::Alertmanager;
use common::{GSLB_TEST_ZONE, Server, eventually};

const TOKEN: &str = "test-token-0123";

const CONFIG: &str = r#"
dns:
  listen: ["LISTEN"]
admin:
  listen: "ADMIN_LISTEN"
  token_file: token.txt
state_file: state.json
regions:
  us-east: {}
  eu-west: {}
zones:
  - origin: gslb.test.
    file: gslb.test.zone
    services:
      www:
        policy: failover
        guards: { min_available_pools: 1 }
        pools:
          us-east: { endpoints: [127.0.0.11] }
          eu-west: { endpoints: [127.0.0.21] }
"#;

fn start() -> Server {
    Server::start(
        CONFIG,
        &[
            ("gslb.test.zone", GSLB_TEST_ZONE),
            ("token.txt", &format!("{TOKEN}\n")),
        ],
    )
}

fn answer(s: &Server) -> Vec<String> {
    s.dig(&["www.gslb.test", "A"]).answers("A")
}

fn until_answer(s: &Server, want: &str) {
    eventually(Duration::from_secs(15), want, || {
        (answer(s) == [want]).then_some(())
    });
}

#[test]
fn alertmanager_alerts_mark_a_region_down_until_resolved_within_the_guards() {
    let s = start();
    let admin = s.admin.expect("admin");
    let am = Alertmanager::start(&format!("http://{admin}/v1/alerts"), TOKEN);
    assert_eq!(answer(&s), ["127.0.0.11"]);

    am.post(
        r#"{"alertname":"RegionDown","meridian_region":"us-east","severity":"page"}"#,
        false,
    );
    until_answer(&s, "127.0.0.21");
    let o = s.admin("GET", "/v1/overrides", None, None).json();
    let alerts = o["alerts"].as_array().cloned().unwrap_or_default();
    assert_eq!(alerts.len(), 1, "{o}");
    assert_eq!(alerts[0]["source"], "alertmanager", "{o}");
    assert_eq!(alerts[0]["alert"], "RegionDown", "{o}");
    assert_eq!(alerts[0]["region"], "us-east", "{o}");
    assert!(
        o["regions"].as_object().is_some_and(|r| r.is_empty()),
        "its own kind: {o}"
    );
    assert!(
        s.log()
            .contains("alert RegionDown marks region us-east down"),
        "{}",
        s.log()
    );

    // The last available pool: the guard holds this alert back.
    am.post(
        r#"{"alertname":"PoolErrors","meridian_pool":"eu-west","meridian_service":"www.gslb.test"}"#,
        false,
    );
    eventually(Duration::from_secs(15), "the alert to be held", || {
        s.log()
            .contains("alert PoolErrors held: guard:")
            .then_some(())
    });
    assert_eq!(answer(&s), ["127.0.0.21"]);

    // Resolved: us-east is back.
    am.post(
        r#"{"alertname":"RegionDown","meridian_region":"us-east","severity":"page"}"#,
        true,
    );
    until_answer(&s, "127.0.0.11");
    let o = s.admin("GET", "/v1/overrides", None, None).json();
    assert!(o.get("alerts").is_none(), "{o}");
    let state = std::fs::read_to_string(s.dir.path().join("state.json")).expect("state file");
    assert!(!state.contains("RegionDown"), "{state}");
}

/// The example payload of Alertmanager's documentation (webhook_config),
/// with meridian's labels, sent as Alertmanager sends it.
const DOC_PAYLOAD: &str = r#"{
  "version": "4",
  "groupKey": "{}:{alertname=\"EndpointErrors\"}",
  "truncatedAlerts": 0,
  "status": "firing",
  "receiver": "meridian",
  "groupLabels": {"alertname": "EndpointErrors"},
  "commonLabels": {"alertname": "EndpointErrors"},
  "commonAnnotations": {},
  "externalURL": "http://alertmanager.example:9093",
  "alerts": [
    {
      "status": "firing",
      "labels": {"alertname": "EndpointErrors", "meridian_endpoint": "127.0.0.11"},
      "annotations": {"summary": "5xx above 5%"},
      "startsAt": "2026-11-30T19:00:00Z",
      "endsAt": "0001-01-01T00:00:00Z",
      "generatorURL": "http://prometheus.example:9090/graph",
      "fingerprint": "c0ffee0000000001"
    },
    {
      "status": "firing",
      "labels": {"alertname": "Unrelated", "severity": "info"},
      "annotations": {},
      "startsAt": "2026-11-30T19:00:00Z",
      "endsAt": "0001-01-01T00:00:00Z",
      "generatorURL": "http://prometheus.example:9090/graph",
      "fingerprint": "c0ffee0000000002"
    }
  ]
}"#;

#[test]
fn the_webhook_needs_the_token_and_json_and_marks_an_endpoint_down() {
    let s = start();
    let r = s.admin("POST", "/v1/alerts", Some(DOC_PAYLOAD), None);
    assert_eq!(r.status, 401, "{}", r.body);
    let r = s.admin("POST", "/v1/alerts", Some("alerts: firing"), Some(TOKEN));
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(
        r.body.contains("not Alertmanager's webhook JSON"),
        "{}",
        r.body
    );
    assert_eq!(answer(&s), ["127.0.0.11"], "nothing changed");

    let r = s.admin("POST", "/v1/alerts", Some(DOC_PAYLOAD), Some(TOKEN));
    assert_eq!(r.status, 200, "{}", r.body);
    let j = r.json();
    assert_eq!(j["applied"][0]["alert"], "EndpointErrors", "{j}");
    assert_eq!(j["ignored"][0]["alert"], "Unrelated", "{j}");
    until_answer(&s, "127.0.0.21");

    let resolved = DOC_PAYLOAD.replace("\"firing\"", "\"resolved\"");
    let r = s.admin("POST", "/v1/alerts", Some(&resolved), Some(TOKEN));
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["resolved"][0]["detail"], "endpoint 127.0.0.11");
    until_answer(&s, "127.0.0.11");
}
