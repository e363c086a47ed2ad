//! Monitor groups (issue 17, part 3): a pool lists several monitors; an
//! endpoint is answered while every `must_be_healthy` one passes, and a
//! `monitoring_only` one shows in `/v1/regions` and `/metrics` but never
//! moves traffic. Real HTTP backends on loopback (one per monitor, all on
//! the endpoint's address), answers seen with `dig`, the API with `curl`.

mod common;

use std::time::Duration;

use common::http::Backend;
use common::{Server, eventually};

const ZONE: &str = "$ORIGIN gslb.test.
$TTL 300
@    IN SOA ns1 hostmaster ( 1 3600 600 86400 45 )
@    IN NS  ns1
ns1  IN A   192.0.2.53
";

const CONFIG: &str = r#"
dns:
  listen: ["LISTEN"]
admin:
  listen: "ADMIN_LISTEN"
regions:
  us-east: {}
  eu-west: {}
monitors:
  web: { type: http, port: WEB, TIMING }
  api: { type: http, port: API, TIMING }
  extra: { type: http, port: EXTRA, TIMING }
zones:
  - origin: gslb.test.
    file: gslb.test.zone
    services:
      www:
        policy: failover
        pools:
          us-east:
            monitors: [web, { name: api, mode: must_be_healthy }, { name: extra, mode: monitoring_only }]
            endpoints: [127.0.0.11]
          eu-west:
            monitor: web
            endpoints: [127.0.0.21]
"#;

fn answer(s: &Server) -> Vec<String> {
    s.dig(&["www.gslb.test", "A"]).answers("A")
}

fn until_answer(s: &Server, want: &str) {
    eventually(Duration::from_secs(6), want, || {
        (answer(s) == [want]).then_some(())
    });
}

/// The us-east endpoint as `/v1/regions` shows it.
fn us_endpoint(s: &Server) -> serde_json::Value {
    let regions = s.admin("GET", "/v1/regions", None, None).json();
    let list = regions["regions"].as_array().cloned().unwrap_or_default();
    let us = list
        .iter()
        .find(|r| r["name"] == "us-east")
        .expect("us-east in /v1/regions");
    us["pools"][0]["endpoints"][0].clone()
}

fn check_state(endpoint: &serde_json::Value, monitor: &str) -> String {
    endpoint["checks"]
        .as_array()
        .and_then(|c| c.iter().find(|c| c["monitor"] == monitor))
        .and_then(|c| c["state"].as_str())
        .unwrap_or("absent")
        .to_string()
}

#[test]
fn required_monitors_decide_and_monitoring_only_never_moves_traffic() {
    let web = Backend::http_at("127.0.0.11");
    let api = Backend::http_at("127.0.0.11");
    let extra = Backend::http_at("127.0.0.11");
    // eu-west's monitor `web` probes 127.0.0.21 on web's port.
    let eu = Backend::http_at_port("127.0.0.21", web.port());
    let config = CONFIG
        .replace("WEB", &web.port().to_string())
        .replace("API", &api.port().to_string())
        .replace("EXTRA", &extra.port().to_string())
        .replace(
            "TIMING",
            "interval: 400ms, timeout: 300ms, rise: 1, fall: 1",
        );
    let s = Server::start(&config, &[("gslb.test.zone", ZONE)]);
    assert_eq!(answer(&s), ["127.0.0.11"], "{}", s.log());
    let ep = us_endpoint(&s);
    assert_eq!(ep["state"], "healthy", "{ep}");
    assert_eq!(check_state(&ep, "web"), "healthy", "{ep}");
    assert_eq!(ep["checks"][1]["mode"], "must_be_healthy", "{ep}");
    assert_eq!(ep["checks"][2]["mode"], "monitoring_only", "{ep}");

    // The monitoring-only check fails: shown, counted, never acted on.
    extra.status(503);
    eventually(Duration::from_secs(5), "extra unhealthy in the API", || {
        (check_state(&us_endpoint(&s), "extra") == "unhealthy").then_some(())
    });
    let ep = us_endpoint(&s);
    assert_eq!(ep["state"], "healthy", "{ep}");
    assert_eq!(answer(&s), ["127.0.0.11"]);
    let metrics = s.admin("GET", "/metrics", None, None).body;
    assert!(
        metrics.contains("meridian_health_changes_total{monitor=\"extra\",state=\"unhealthy\"} 1"),
        "{metrics}"
    );

    // A required one fails: the endpoint is down, clients go to eu-west.
    api.status(503);
    until_answer(&s, "127.0.0.21");
    let ep = us_endpoint(&s);
    assert_eq!(ep["state"], "unhealthy", "{ep}");
    assert_eq!(ep["reason"], "HTTP 503", "{ep}");
    assert_eq!(check_state(&ep, "api"), "unhealthy", "{ep}");
    assert_eq!(check_state(&ep, "web"), "healthy", "{ep}");

    // It recovers (the monitoring-only one still failing): back.
    api.status(200);
    until_answer(&s, "127.0.0.11");
    drop(eu);
}
