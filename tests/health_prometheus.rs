//! Health from Prometheus (issue 17, part 4) against a real Prometheus
//! (Debian `prometheus`) scraping a small exporter the test runs (a
//! `tests/common/http.rs` backend serving `/metrics` text it can change).
//! An error ratio above the threshold takes an endpoint out and back;
//! Prometheus going away counts as `on_no_data` (kept, healthy or
//! unhealthy as configured), never as failures; an expression Prometheus
//! rejects stops the start and a reload, naming the monitor and its line.

mod common;

use std::process::{Command, Stdio};
use std::time::Duration;

use common::http::{Backend, Mode};
use common::prom::Prometheus;
use common::{BIN, GSLB_TEST_ZONE, Server, eventually, prepare};

const TOKEN: &str = "test-token-0123";

const CONFIG: &str = r#"
dns:
  listen: ["LISTEN"]
admin:
  listen: "ADMIN_LISTEN"
  token_file: token.txt
regions:
  us-east: {}
monitors:
  errors:
    type: prometheus
    url: "PROM_URL"
    query: 'max(app_error_ratio{endpoint="{endpoint}", region="{region}"})'
    unhealthy_above: 0.05
    on_no_data: NO_DATA
    interval: 400ms
    timeout: 300ms
    rise: 1
    fall: 1
zones:
  - origin: gslb.test.
    file: gslb.test.zone
    services:
      www:
        policy: failover
        max_answers: 2
        all_down: servfail
        pools:
          us-east:
            monitor: errors
            endpoints: [127.0.0.11, 127.0.0.12]
"#;

fn metrics(a: f64, b: f64) -> Mode {
    Mode::Status(
        200,
        format!(
            "# TYPE app_error_ratio gauge\n\
             app_error_ratio{{endpoint=\"127.0.0.11\",region=\"us-east\"}} {a}\n\
             app_error_ratio{{endpoint=\"127.0.0.12\",region=\"us-east\"}} {b}\n"
        ),
    )
}

fn config(prom_url: &str, no_data: &str) -> String {
    CONFIG
        .replace("PROM_URL", prom_url)
        .replace("NO_DATA", no_data)
}

fn start(config: &str) -> Server {
    Server::start(
        config,
        &[
            ("gslb.test.zone", GSLB_TEST_ZONE),
            ("token.txt", &format!("{TOKEN}\n")),
        ],
    )
}

fn answers(s: &Server) -> Vec<String> {
    let mut a = s.dig(&["www.gslb.test", "A"]).answers("A");
    a.sort();
    a
}

fn until_answers(s: &Server, want: &[&str]) {
    eventually(Duration::from_secs(8), &format!("answers {want:?}"), || {
        (answers(s) == want).then_some(())
    });
}

/// The endpoint `address` as `/v1/regions` shows it.
fn endpoint(s: &Server, address: &str) -> serde_json::Value {
    let regions = s.admin("GET", "/v1/regions", None, None).json();
    regions["regions"][0]["pools"][0]["endpoints"]
        .as_array()
        .and_then(|e| e.iter().find(|e| e["address"] == address).cloned())
        .unwrap_or_default()
}

fn until_reason(s: &Server, address: &str, part: &str) -> serde_json::Value {
    eventually(Duration::from_secs(8), part, || {
        let e = endpoint(s, address);
        e["reason"]
            .as_str()
            .is_some_and(|r| r.contains(part))
            .then_some(e)
    })
}

#[test]
fn error_ratio_above_threshold_takes_the_endpoint_out_and_an_outage_keeps_state() {
    let exporter = Backend::http();
    exporter.set(metrics(0.01, 0.01));
    let mut prom = Prometheus::start(exporter.addr);
    prom.wait_for_samples("app_error_ratio");
    let s = start(&config(&prom.url(""), "last_known"));
    assert_eq!(answers(&s), ["127.0.0.11", "127.0.0.12"], "{}", s.log());
    let e = endpoint(&s, "127.0.0.12");
    assert_eq!(e["state"], "healthy", "{e}");
    assert_eq!(e["reason"], "value 0.01", "{e}");

    // 127.0.0.12's error ratio goes above 0.05: out of the answers.
    exporter.set(metrics(0.01, 0.5));
    until_answers(&s, &["127.0.0.11"]);
    let e = endpoint(&s, "127.0.0.12");
    assert_eq!(e["state"], "unhealthy", "{e}");
    assert_eq!(e["reason"], "value 0.5 is above 0.05", "{e}");

    // Prometheus goes away: no data, and last_known keeps both states.
    prom.kill();
    let e = until_reason(&s, "127.0.0.12", "Prometheus unreachable");
    assert_eq!(e["state"], "unhealthy", "{e}");
    let e = until_reason(&s, "127.0.0.11", "Prometheus unreachable");
    assert_eq!(e["state"], "healthy", "{e}");
    assert!(
        e["reason"]
            .as_str()
            .is_some_and(|r| r.ends_with("(state kept: on_no_data is last_known)")),
        "{e}"
    );
    assert_eq!(answers(&s), ["127.0.0.11"]);
    let log = s.log();
    assert!(
        !log.contains("127.0.0.11:0 (errors) is now unhealthy"),
        "an outage of Prometheus is not a failure: {log}"
    );
}

#[test]
fn on_no_data_healthy_and_unhealthy_decide_when_prometheus_is_unreachable() {
    // Nothing listens there: every check is "no data".
    let url = format!("http://127.0.0.1:{}", common::etcd::free_port());
    let s = start(&config(&url, "healthy"));
    assert_eq!(answers(&s), ["127.0.0.11", "127.0.0.12"], "{}", s.log());
    until_reason(
        &s,
        "127.0.0.11",
        "Prometheus unreachable: connection refused",
    );
    assert!(
        s.log().contains("cannot check its expression now"),
        "{}",
        s.log()
    );
    drop(s);

    let s = start(&config(&url, "unhealthy"));
    let d = s.dig(&["www.gslb.test", "A"]);
    assert_eq!(d.status, "SERVFAIL", "{}\n{}", d.raw, s.log());
    let e = endpoint(&s, "127.0.0.11");
    assert_eq!(e["state"], "unhealthy", "{e}");
}

#[test]
fn an_expression_prometheus_rejects_stops_the_start_and_a_reload() {
    let exporter = Backend::http();
    exporter.set(metrics(0.01, 0.01));
    let prom = Prometheus::start(exporter.addr);
    let bad = config(&prom.url(""), "last_known").replace(
        "query: 'max(app_error_ratio{endpoint=\"{endpoint}\", region=\"{region}\"})'",
        "query: 'max(app_error_ratio{endpoint=\"{endpoint}\"}'",
    );
    let (dir, path) = prepare(
        &bad,
        &[
            ("gslb.test.zone", GSLB_TEST_ZONE),
            ("token.txt", &format!("{TOKEN}\n")),
        ],
    );
    let out = Command::new(BIN)
        .args(["run", "-c"])
        .arg(&path)
        .stdin(Stdio::null())
        .output()
        .expect("run meridian");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(
        stderr.contains("meridian.yaml:13:12: monitors.errors.query: Prometheus at")
            && stderr.contains("rejects the expression of monitor \"errors\""),
        "{stderr}"
    );
    drop(dir);

    // A good configuration, then the same mistake in a reload.
    let s = start(&config(&prom.url(""), "last_known"));
    std::fs::write(s.dir.path().join("meridian.yaml"), {
        let text = std::fs::read_to_string(s.dir.path().join("meridian.yaml")).expect("config");
        text.replace("region=\"{region}\"})'", "region=\"{region}\"}'")
    })
    .expect("write config");
    let r = s.admin("POST", "/v1/reload", None, Some(TOKEN));
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(
        r.body.contains("monitors.errors.query: Prometheus at")
            && r.body.contains("rejects the expression of monitor"),
        "{}",
        r.body
    );
    assert_eq!(answers(&s), ["127.0.0.11", "127.0.0.12"]);
}
