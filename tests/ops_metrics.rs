//! The metrics an SRE expects next to PowerDNS's and Knot's exporters
//! (issue 18): build info, process metrics from /proc, probe durations per
//! monitor, region and override state, effective pool weights, the last
//! reload, fail-open answers by service; the whole exposition passes
//! `promtool check metrics`, and every series is bounded by the
//! configuration.

mod common;

use std::collections::BTreeMap;
use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::{Server, eventually};

const TOKEN: &str = "metrics-token-7";

const CONFIG: &str = "\
dns:
  listen: [\"LISTEN\"]
admin:
  listen: \"ADMIN_LISTEN\"
  token_file: token.txt
state_file: var/state.json
regions:
  us-east: {}
  eu-west: {}
monitors:
  web: { type: tcp, port: PROBE_PORT, interval: 500ms, timeout: 300ms, rise: 1, fall: 1 }
zones:
  - origin: gslb.test.
    file: gslb.test.zone
    services:
      www:
        policy: weighted
        pools:
          us-east: { weight: 100, endpoints: [192.0.2.10] }
          eu-west: { weight: 100, monitor: web, endpoints: [127.0.0.1] }
      api:
        policy: failover
        all_down: serve_all
        pools:
          us-east: { endpoints: [192.0.2.20] }
          eu-west: { endpoints: [198.51.100.20] }
";

fn now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// `name{labels} value` lines by their full series name.
fn series(body: &str) -> BTreeMap<String, f64> {
    body.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .filter_map(|l| {
            let (name, value) = l.rsplit_once(' ')?;
            Some((name.to_string(), value.parse().ok()?))
        })
        .collect()
}

fn value(m: &BTreeMap<String, f64>, name: &str) -> f64 {
    *m.get(name)
        .unwrap_or_else(|| panic!("no series {name} in {:#?}", m.keys().collect::<Vec<_>>()))
}

#[test]
fn metrics_for_an_sre_pass_promtool_and_follow_state() {
    // The probe port: a listener that accepts, so eu-west is healthy.
    let probe = std::net::TcpListener::bind("127.0.0.1:0").expect("bind probe");
    let port = probe.local_addr().expect("addr").port();
    std::thread::spawn(move || for _ in probe.incoming() {});
    let config = CONFIG.replace("PROBE_PORT", &port.to_string());
    let s = Server::start(
        &config,
        &[
            ("gslb.test.zone", common::GSLB_TEST_ZONE),
            ("token.txt", TOKEN),
            ("var/.keep", ""),
        ],
    );
    let scrape = || {
        let r = s.admin("GET", "/metrics", None, None);
        assert_eq!(r.status, 200, "{r:?}");
        r.body
    };

    // Probes ran: the histogram of the monitor has counts.
    let body = eventually(Duration::from_secs(10), "probe durations", || {
        let body = scrape();
        let m = series(&body);
        m.get("meridian_probe_duration_seconds_count{monitor=\"web\"}")
            .is_some_and(|n| *n >= 2.0)
            .then_some(body)
    });
    let m = series(&body);
    assert_eq!(
        value(
            &m,
            "meridian_probe_duration_seconds_bucket{monitor=\"web\",le=\"+Inf\"}"
        ),
        value(&m, "meridian_probe_duration_seconds_count{monitor=\"web\"}")
    );

    // Build info names the commit `--version` prints.
    let version = common::meridian(&[std::ffi::OsStr::new("--version")]);
    let commit = version
        .split("commit ")
        .nth(1)
        .and_then(|c| c.split(')').next())
        .unwrap_or_else(|| panic!("no commit in {version:?}"));
    let build = format!(
        "meridian_build_info{{version=\"{}\",commit=\"{commit}\"}}",
        env!("CARGO_PKG_VERSION")
    );
    assert_eq!(value(&m, &build), 1.0, "{body}");

    // Process metrics from /proc/self, for this very process.
    let start = value(&m, "process_start_time_seconds");
    assert!((now() - start).abs() < 120.0, "start time {start}");
    assert!(value(&m, "process_resident_memory_bytes") > 1e6);
    assert!(value(&m, "process_open_fds") >= 4.0);
    assert!(value(&m, "process_max_fds") >= value(&m, "process_open_fds"));
    assert!(value(&m, "process_cpu_seconds_total") >= 0.0);
    let loaded = value(&m, "meridian_last_reload_timestamp_seconds");
    assert!((now() - loaded).abs() < 120.0, "last reload {loaded}");
    assert_eq!(value(&m, "meridian_last_reload_success"), 1.0);
    assert_eq!(
        value(
            &m,
            "meridian_region_state{region=\"eu-west\",state=\"healthy\"}"
        ),
        1.0
    );
    assert_eq!(
        value(
            &m,
            "meridian_region_override{region=\"eu-west\",state=\"none\"}"
        ),
        1.0
    );

    // An operator drains eu-west for an hour and halves us-east's weight
    // for www; api loses both regions and answers fail open.
    let put = |path: &str, body: &str| {
        let r = s.admin("PUT", path, Some(body), Some(TOKEN));
        assert_eq!(r.status, 200, "{path}: {r:?}");
    };
    put(
        "/v1/regions/eu-west/override",
        r#"{"state":"down","for":"1h"}"#,
    );
    put(
        "/v1/services/www.gslb.test./pools/us-east/weight",
        r#"{"weight":50}"#,
    );
    put("/v1/regions/us-east/override", r#"{"state":"down"}"#);
    for _ in 0..3 {
        s.dig(&["api.gslb.test", "A"]);
    }
    let body = scrape();
    let m = series(&body);
    for (name, want) in [
        (
            "meridian_region_override{region=\"eu-west\",state=\"down\"}",
            1.0,
        ),
        (
            "meridian_region_override{region=\"eu-west\",state=\"none\"}",
            0.0,
        ),
        (
            "meridian_region_state{region=\"eu-west\",state=\"down\"}",
            1.0,
        ),
        (
            "meridian_pool_available{service=\"www.gslb.test.\",region=\"eu-west\"}",
            0.0,
        ),
        (
            "meridian_pool_effective_weight{service=\"www.gslb.test.\",region=\"us-east\"}",
            50.0,
        ),
        (
            "meridian_pool_weight_overridden{service=\"www.gslb.test.\",region=\"us-east\"}",
            1.0,
        ),
        ("meridian_overrides{kind=\"region\"}", 2.0),
        ("meridian_overrides{kind=\"weight\"}", 1.0),
        (
            "meridian_fail_open_answers_total{service=\"api.gslb.test.\"}",
            3.0,
        ),
        (
            "meridian_fail_open_answers_total{service=\"www.gslb.test.\"}",
            0.0,
        ),
    ] {
        assert_eq!(value(&m, name), want, "{name}");
    }
    let expiry = value(&m, "meridian_override_next_expiry_timestamp_seconds");
    assert!((expiry - now() - 3600.0).abs() < 120.0, "expiry {expiry}");

    // A failed reload shows as such, with its time.
    std::fs::write(s.dir.path().join("meridian.yaml"), "regions: [").expect("write");
    let r = s.admin("POST", "/v1/reload", None, Some(TOKEN));
    assert_eq!(r.status, 400, "{r:?}");
    let body = scrape();
    let m = series(&body);
    assert_eq!(value(&m, "meridian_last_reload_success"), 0.0);

    // The whole exposition is valid Prometheus text, lint included.
    let mut child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool (apt prometheus) is a test tool: make deps-test");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(body.as_bytes())
        .expect("write");
    let out = child.wait_with_output().expect("promtool");
    assert!(
        out.status.success(),
        "promtool check metrics:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    dashboard_matches(&body);
    // Bounded: nothing labelled by client, query name or address beyond
    // the configured endpoints.
    assert!(m.len() < 400, "{} series", m.len());
}

/// docs/grafana-dashboard.json queries only metrics this server exports
/// (`meridian_etcd_connected` only in a cluster) and each query is valid
/// PromQL (`promtool check rules`, Grafana's variables filled in).
fn dashboard_matches(exposition: &str) {
    let path = common::repo().join("docs/grafana-dashboard.json");
    let dashboard: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).expect("dashboard")).expect("JSON");
    let served: std::collections::BTreeSet<&str> = exposition
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    let mut exprs = Vec::new();
    for panel in dashboard["panels"].as_array().expect("panels") {
        for target in panel["targets"].as_array().into_iter().flatten() {
            exprs.push(target["expr"].as_str().expect("expr").to_string());
        }
    }
    for annotation in dashboard["annotations"]["list"]
        .as_array()
        .into_iter()
        .flatten()
    {
        if let Some(e) = annotation["expr"].as_str() {
            exprs.push(e.to_string());
        }
    }
    assert!(exprs.len() >= 20, "{} queries", exprs.len());
    let mut used = std::collections::BTreeSet::new();
    for e in &exprs {
        for word in e.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')) {
            if word.starts_with("meridian_") || word.starts_with("process_") {
                let base = ["_bucket", "_sum", "_count"]
                    .iter()
                    .find_map(|s| word.strip_suffix(s).filter(|b| served.contains(b)))
                    .unwrap_or(word);
                used.insert(base.to_string());
            }
        }
    }
    for name in &used {
        assert!(
            served.contains(name.as_str()) || name == "meridian_etcd_connected",
            "the dashboard queries {name}, which /metrics does not export"
        );
    }
    for name in [
        "meridian_answers_total",
        "meridian_region_state",
        "meridian_region_override",
        "meridian_pool_effective_weight",
        "meridian_probe_duration_seconds",
        "meridian_fail_open_answers_total",
        "meridian_last_reload_success",
        "process_resident_memory_bytes",
    ] {
        assert!(used.contains(name), "the dashboard does not show {name}");
    }
    let mut rules = String::from("groups:\n  - name: dashboard\n    rules:\n");
    for (i, e) in exprs.iter().enumerate() {
        let e = e
            .replace("$__rate_interval", "1m")
            .replace("$instance", ".*")
            .replace("$job", ".*");
        rules.push_str(&format!(
            "      - record: dashboard:query{i}\n        expr: {}\n",
            serde_json::to_string(&e).expect("quote")
        ));
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("rules.yaml");
    std::fs::write(&file, rules).expect("write rules");
    let out = Command::new("promtool")
        .args(["check", "rules"])
        .arg(&file)
        .output()
        .expect("promtool");
    assert!(
        out.status.success(),
        "dashboard PromQL:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
