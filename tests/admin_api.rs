//! The admin API over real HTTP (curl) against the running binary, with
//! `dig` showing the effect on answers (SPEC 5).

mod common;

use std::collections::BTreeSet;
use std::time::Duration;

use common::{Server, admin_fixture, admin_server, eventually, repo};

const TOKEN: &str = "test-token-0123";
const EU_CLIENT: &str = "+subnet=10.1.2.0/24";

fn config() -> String {
    admin_fixture("admin.yaml")
}

fn server_with(config: &str) -> Server {
    admin_server(config, TOKEN)
}

fn server() -> Server {
    server_with(&config())
}

/// The regions answering `www` for an EU client.
fn www_answer(s: &Server) -> Vec<String> {
    let d = s.dig(&["www.gslb.test", "A", EU_CLIENT]);
    assert_eq!(d.status, "NOERROR", "{}", d.raw);
    assert!(!d.answers("A").is_empty(), "empty answer: {}", d.raw);
    d.answers("A")
}

fn state_file(s: &Server) -> serde_json::Value {
    let text = std::fs::read_to_string(s.dir.path().join("var/state.json")).unwrap_or_default();
    serde_json::from_str(&text).unwrap_or(serde_json::Value::Null)
}

fn region<'a>(regions: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    regions["regions"]
        .as_array()
        .and_then(|a| a.iter().find(|r| r["name"] == name))
        .unwrap_or_else(|| panic!("no region {name} in {regions}"))
}

#[test]
fn drain_moves_clients_at_once_persists_across_restart_and_auto_restores() {
    let s = server();
    assert_eq!(www_answer(&s), vec!["198.51.100.10"], "eu-west first");

    let r = s.admin(
        "PUT",
        "/v1/regions/eu-west/override",
        Some(r#"{"state":"down"}"#),
        Some(TOKEN),
    );
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.json()["override"]["state"], "down");
    // The next query sees it.
    assert_eq!(www_answer(&s), vec!["192.0.2.10"]);
    // On disk before the reply.
    assert_eq!(state_file(&s)["regions"]["eu-west"]["state"], "down");
    assert_eq!(state_file(&s)["version"], 1);
    let regions = s.admin("GET", "/v1/regions", None, None).json();
    assert_eq!(region(&regions, "eu-west")["state"], "down");
    assert_eq!(region(&regions, "eu-west")["override"]["state"], "down");

    // A restart keeps it.
    let s = s.restart();
    assert_eq!(
        www_answer(&s),
        vec!["192.0.2.10"],
        "still drained after restart"
    );

    // auto restores it, on disk too.
    let r = s.admin(
        "PUT",
        "/v1/regions/eu-west/override",
        Some(r#"{"state":"auto"}"#),
        Some(TOKEN),
    );
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(www_answer(&s), vec!["198.51.100.10"]);
    assert!(state_file(&s)["regions"]["eu-west"].is_null());
}

#[test]
fn forcing_a_region_up_serves_it_while_its_weight_counts() {
    let s = server();
    let r = s.admin(
        "PUT",
        "/v1/regions/us-east/override",
        Some(r#"{"state":"up"}"#),
        Some(TOKEN),
    );
    assert_eq!(r.status, 200);
    let regions = s.admin("GET", "/v1/regions", None, None).json();
    assert_eq!(region(&regions, "us-east")["override"]["state"], "up");
    assert_eq!(region(&regions, "us-east")["state"], "healthy");
}

#[test]
fn override_for_a_while_lapses_by_itself() {
    let s = server();
    let r = s.admin(
        "PUT",
        "/v1/regions/eu-west/override",
        Some(r#"{"state":"down","for":"2s"}"#),
        Some(TOKEN),
    );
    assert_eq!(r.status, 200, "{r:?}");
    let until = r.json()["override"]["until"]
        .as_str()
        .unwrap_or("")
        .to_string();
    assert!(until.ends_with('Z'), "until shown as RFC 3339: {until}");
    assert_eq!(www_answer(&s), vec!["192.0.2.10"]);
    let regions = s.admin("GET", "/v1/regions", None, None).json();
    assert_eq!(
        region(&regions, "eu-west")["override"]["until"],
        until.as_str()
    );
    eventually(Duration::from_secs(6), "the override to lapse", || {
        (www_answer(&s) == vec!["198.51.100.10"]).then_some(())
    });
    eventually(
        Duration::from_secs(3),
        "the state file to forget it",
        || state_file(&s)["regions"]["eu-west"].is_null().then_some(()),
    );
}

#[test]
fn expired_override_is_gone_after_restart() {
    let s = server();
    // An override whose time passed while the server was down.
    let stale = r#"{"version":1,"regions":{"eu-west":{"state":"down","until":1000}},"weights":{}}"#;
    std::fs::write(s.dir.path().join("var/state.json"), stale).expect("write");
    let s = s.restart();
    assert_eq!(www_answer(&s), vec!["198.51.100.10"]);
    assert!(
        state_file(&s)["regions"]["eu-west"].is_null(),
        "rewritten without it"
    );
}

#[test]
fn weight_change_and_delete() {
    let s = server();
    let r = s.admin(
        "PUT",
        "/v1/services/split.gslb.test./pools/eu-west/weight",
        Some(r#"{"weight":0}"#),
        Some(TOKEN),
    );
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.json()["effective_weight"], 0);
    for _ in 0..20 {
        let d = s.dig(&["split.gslb.test", "A"]);
        assert_eq!(
            d.answers("A"),
            vec!["192.0.2.30"],
            "weight 0 takes no traffic"
        );
    }
    let services = s.admin("GET", "/v1/services", None, None).json();
    let split = services["services"]
        .as_array()
        .and_then(|a| a.iter().find(|x| x["name"] == "split.gslb.test."))
        .expect("split")
        .clone();
    let eu = split["pools"]
        .as_array()
        .and_then(|a| a.iter().find(|p| p["region"] == "eu-west"))
        .expect("pool");
    assert_eq!(eu["configured_weight"], 100);
    assert_eq!(eu["effective_weight"], 0);
    assert_eq!(
        state_file(&s)["weights"]["split.gslb.test."]["eu-west"]["weight"],
        0
    );

    let r = s.admin(
        "DELETE",
        "/v1/services/split.gslb.test./pools/eu-west/weight",
        None,
        Some(TOKEN),
    );
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.json()["effective_weight"], 100);
    let seen: BTreeSet<String> = (0..40)
        .flat_map(|_| s.dig(&["split.gslb.test", "A"]).answers("A"))
        .collect();
    assert_eq!(seen.len(), 2, "both pools answer again: {seen:?}");
    assert!(state_file(&s)["weights"]["split.gslb.test."].is_null());
}

#[test]
fn changes_need_the_token_and_reads_do_not() {
    let s = server();
    for token in [None, Some("wrong")] {
        let r = s.admin(
            "PUT",
            "/v1/regions/eu-west/override",
            Some(r#"{"state":"down"}"#),
            token,
        );
        assert_eq!(r.status, 401, "{r:?}");
        assert!(r.json()["error"].is_string());
        assert!(
            r.headers
                .to_ascii_lowercase()
                .contains("www-authenticate: bearer"),
            "{}",
            r.headers
        );
        let r = s.admin("POST", "/v1/reload", None, token);
        assert_eq!(r.status, 401);
    }
    assert_eq!(www_answer(&s), vec!["198.51.100.10"], "nothing changed");
    for path in [
        "/v1/status",
        "/v1/regions",
        "/v1/services",
        "/healthz",
        "/readyz",
        "/metrics",
        "/",
    ] {
        assert_eq!(s.admin("GET", path, None, None).status, 200, "{path}");
    }
}

#[test]
fn bad_requests_get_400_and_unknown_names_404() {
    let s = server();
    let cases = [
        (
            "PUT",
            "/v1/regions/eu-west/override",
            r#"{"state":"sideways"}"#,
            400,
        ),
        (
            "PUT",
            "/v1/regions/eu-west/override",
            r#"{"state":"down","for":"soon"}"#,
            400,
        ),
        (
            "PUT",
            "/v1/regions/eu-west/override",
            r#"{"state":"down","extra":1}"#,
            400,
        ),
        ("PUT", "/v1/regions/eu-west/override", "not json", 400),
        (
            "PUT",
            "/v1/regions/mars/override",
            r#"{"state":"down"}"#,
            404,
        ),
        (
            "PUT",
            "/v1/services/split.gslb.test./pools/eu-west/weight",
            r#"{"weight":1001}"#,
            400,
        ),
        (
            "PUT",
            "/v1/services/split.gslb.test./pools/eu-west/weight",
            r#"{"weight":-1}"#,
            400,
        ),
        (
            "PUT",
            "/v1/services/nope.gslb.test./pools/eu-west/weight",
            r#"{"weight":1}"#,
            404,
        ),
        (
            "PUT",
            "/v1/services/split.gslb.test./pools/ap-northeast/weight",
            r#"{"weight":1}"#,
            404,
        ),
        ("GET", "/v1/nothing", "", 404),
    ];
    for (method, path, body, want) in cases {
        let body = (!body.is_empty()).then_some(body);
        let r = s.admin(method, path, body, Some(TOKEN));
        assert_eq!(r.status, want, "{method} {path} {body:?}: {r:?}");
        assert!(
            r.json()["error"].as_str().is_some_and(|e| !e.is_empty()),
            "{r:?}"
        );
    }
    assert!(state_file(&s).is_null(), "nothing written");
}

#[test]
fn failed_state_write_answers_500_and_changes_nothing() {
    let config = config().replace("var/state.json", "var/missing/state.json");
    let s = server_with(&config);
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
            .unwrap_or("")
            .contains("nothing was changed")
    );
    assert_eq!(
        www_answer(&s),
        vec!["198.51.100.10"],
        "still answering, unchanged"
    );
    let regions = s.admin("GET", "/v1/regions", None, None).json();
    assert!(region(&regions, "eu-west")["override"].is_null());
}

#[test]
fn reload_good_and_bad() {
    let s = server();
    let path = s.dir.path().join("meridian.yaml");
    let original = std::fs::read_to_string(&path).expect("config");

    std::fs::write(&path, original.replace("ttl: 20", "ttl: 7")).expect("write");
    let r = s.admin("POST", "/v1/reload", None, Some(TOKEN));
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.json()["generation"], 2);
    let d = s.dig(&["www.gslb.test", "A", EU_CLIENT]);
    assert_eq!(d.answer[0].ttl, 7, "{}", d.raw);

    std::fs::write(
        &path,
        original.replace("[eu-west, us-east]", "[eu-wset, us-east]"),
    )
    .expect("write");
    let r = s.admin("POST", "/v1/reload", None, Some(TOKEN));
    assert_eq!(r.status, 400, "{r:?}");
    let body = r.json();
    let errors = body["errors"].as_array().expect("errors listed");
    assert!(
        errors.iter().any(|e| e
            .as_str()
            .unwrap_or("")
            .contains("unknown region \"eu-wset\"")),
        "{body}"
    );
    // The old configuration keeps serving.
    let d = s.dig(&["www.gslb.test", "A", EU_CLIENT]);
    assert_eq!(d.answer[0].ttl, 7);
    assert_eq!(
        s.admin("GET", "/v1/status", None, None).json()["generation"],
        2
    );
}

#[test]
fn sighup_reloads_through_the_same_task() {
    let s = server();
    let path = s.dir.path().join("meridian.yaml");
    let original = std::fs::read_to_string(&path).expect("config");
    std::fs::write(&path, original.replace("ttl: 20", "ttl: 9")).expect("write");
    let status = std::process::Command::new("kill")
        .args(["-HUP", &s.pid().to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
    eventually(Duration::from_secs(5), "the reload", || {
        let d = s.dig(&["www.gslb.test", "A", EU_CLIENT]);
        (d.answer.first().map(|r| r.ttl) == Some(9)).then_some(())
    });
    assert_eq!(
        s.admin("GET", "/v1/status", None, None).json()["generation"],
        2
    );
}

#[test]
fn explain_shows_each_step() {
    let s = server();
    s.admin(
        "PUT",
        "/v1/regions/eu-west/override",
        Some(r#"{"state":"down"}"#),
        Some(TOKEN),
    );
    let e = s
        .admin(
            "GET",
            "/v1/explain?name=www.gslb.test&type=A&client=10.1.2.3/24",
            None,
            None,
        )
        .json();
    assert_eq!(e["kind"], "service");
    assert_eq!(e["rule"], "nets 10.0.0.0/8");
    assert_eq!(e["tiers"], serde_json::json!([["eu-west"], ["us-east"]]));
    let pools = e["pools"].as_array().expect("pools");
    assert!(pools.iter().any(|p| p["region"] == "eu-west"
        && p["available"] == false
        && p["reason"] == "region forced down"));
    assert_eq!(e["rcode"], "NOERROR");
    assert_eq!(
        e["answer"][0].as_str().unwrap_or(""),
        "www.gslb.test. 20 IN A 192.0.2.10"
    );
    assert_eq!(e["scope"], 8);
    // Static names and names outside our zones.
    let e = s
        .admin(
            "GET",
            "/v1/explain?name=static.gslb.test&client=192.0.2.1",
            None,
            None,
        )
        .json();
    assert_eq!(e["kind"], "static");
    let e = s
        .admin(
            "GET",
            "/v1/explain?name=www.example.com&client=192.0.2.1",
            None,
            None,
        )
        .json();
    assert_eq!(e["rcode"], "REFUSED");
    let r = s.admin("GET", "/v1/explain?client=192.0.2.1", None, None);
    assert_eq!(r.status, 400);
    let r = s.admin(
        "GET",
        "/v1/explain?name=www.gslb.test&client=banana",
        None,
        None,
    );
    assert_eq!(r.status, 400);
}

#[test]
fn metrics_count_queries_answers_and_generation() {
    let s = server();
    for _ in 0..3 {
        www_answer(&s);
    }
    s.dig(&["nope.gslb.test", "A", "+tcp"]);
    let m = s.admin("GET", "/metrics", None, None);
    assert!(m.headers.contains("text/plain"), "{}", m.headers);
    let body = m.body;
    assert!(
        body.contains(
            "meridian_queries_total{zone=\"gslb.test.\",type=\"A\",rcode=\"NOERROR\",transport=\"udp\"} 3"
        ),
        "{body}"
    );
    assert!(
        body.contains("rcode=\"NXDOMAIN\",transport=\"tcp\"} 1"),
        "{body}"
    );
    assert!(
        body.contains("meridian_answers_total{service=\"www.gslb.test.\",region=\"eu-west\"} 3"),
        "{body}"
    );
    assert!(body.contains("meridian_config_generation 1"), "{body}");
}

#[test]
fn status_healthz_and_readyz() {
    let s = server();
    let st = s.admin("GET", "/v1/status", None, None).json();
    assert_eq!(st["generation"], 1);
    assert_eq!(st["zones"], 1);
    assert_eq!(st["services"], 2);
    assert_eq!(st["regions"], 3);
    assert_eq!(st["ready"], true);
    assert_eq!(s.admin("GET", "/healthz", None, None).status, 200);
    assert_eq!(s.admin("GET", "/readyz", None, None).status, 200);
}

/// Every path and method in docs/openapi.json is served (not 404/405), and
/// the server's route table lists nothing the document lacks.
#[test]
fn openapi_document_matches_the_server() {
    let s = server();
    let served = s.admin("GET", "/openapi.json", None, None).json();
    let shipped: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(repo().join("docs/openapi.json")).expect("openapi"),
    )
    .expect("valid JSON");
    assert_eq!(served, shipped, "served document is the shipped one");
    let mut documented = BTreeSet::new();
    for (path, ops) in shipped["paths"].as_object().expect("paths") {
        for method in ops.as_object().expect("ops").keys() {
            documented.insert((method.to_uppercase(), path.clone()));
        }
    }
    let routed: BTreeSet<(String, String)> = meridian::admin::ROUTES
        .iter()
        .map(|(m, p)| (m.to_string(), p.to_string()))
        .collect();
    assert_eq!(documented, routed);
    // A rollout for GET and DELETE .../rollouts to find.
    let r = s.admin(
        "POST",
        "/v1/services/split.gslb.test./rollouts",
        Some(r#"{"pool":"eu-west","steps":[{"weight":50,"hold":"1h"},{"weight":100}]}"#),
        Some(TOKEN),
    );
    assert_eq!(r.status, 200, "{r:?}");
    // A drain for GET /v1/drains/{id} to find.
    let r = s.admin(
        "PUT",
        "/v1/regions/ap-northeast/override",
        Some(r#"{"state":"down"}"#),
        Some(TOKEN),
    );
    assert_eq!(r.status, 200, "{r:?}");
    for (method, path) in &documented {
        let concrete = path
            .replace("{region}", "eu-west")
            .replace("{service}", "split.gslb.test.")
            .replace("{address}", "192.0.2.30")
            .replace("{id}", "region:ap-northeast");
        let (concrete, body) = match (method.as_str(), concrete.as_str()) {
            ("GET", "/v1/explain") => (
                "/v1/explain?name=www.gslb.test&client=10.0.0.1".into(),
                None,
            ),
            ("PUT", p) if p.ends_with("/spill") => (p.to_string(), Some(r#"{"percent":0}"#)),
            ("POST", "/v1/alerts") => (concrete.clone(), Some(r#"{"alerts":[]}"#)),
            ("POST", p) if p.ends_with("/rollouts") => (
                p.to_string(),
                Some(r#"{"pool":"eu-west","steps":[{"weight":100}]}"#),
            ),
            ("PUT", "/v1/endpoints/override") => (
                concrete.clone(),
                Some(r#"{"labels":{"tier":"gold"},"state":"auto"}"#),
            ),
            ("PUT", p) if p.ends_with("/override") => (p.to_string(), Some(r#"{"state":"auto"}"#)),
            ("PUT", p) => (p.to_string(), Some(r#"{"weight":100}"#)),
            (_, p) => (p.to_string(), None),
        };
        let r = s.admin(method, &concrete, body, Some(TOKEN));
        assert_eq!(r.status, 200, "{method} {concrete}: {r:?}");
    }
}

#[test]
fn non_loopback_admin_without_token_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let text = config()
        .replace("ADMIN_LISTEN", "0.0.0.0:0")
        .replace("LISTEN", "127.0.0.1:0")
        .replace("  token_file: token.txt\n", "");
    std::fs::write(dir.path().join("meridian.yaml"), &text).expect("write");
    std::fs::write(
        dir.path().join("gslb.test.zone"),
        admin_fixture("gslb.test.zone"),
    )
    .expect("write");
    let out = std::process::Command::new(common::BIN)
        .args(["run", "-c"])
        .arg(dir.path().join("meridian.yaml"))
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("loopback"), "{stderr}");
}

/// Queries at full speed (dnsperf) while weights flip and reloads run:
/// every query is answered.
#[test]
fn no_query_is_lost_while_weights_flip_and_reloads_run() {
    let s = server();
    let queries = s.dir.path().join("queries.txt");
    std::fs::write(
        &queries,
        "www.gslb.test A\nsplit.gslb.test A\nstatic.gslb.test A\n",
    )
    .expect("write");
    let port = s.dns.port().to_string();
    let perf = std::process::Command::new("dnsperf")
        .args([
            "-s",
            "127.0.0.1",
            "-p",
            &port,
            "-l",
            "4",
            "-c",
            "4",
            "-t",
            "2",
        ])
        .arg("-d")
        .arg(&queries)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("run dnsperf (install dnsperf)");
    let path = s.dir.path().join("meridian.yaml");
    let original = std::fs::read_to_string(&path).expect("config");
    let start = std::time::Instant::now();
    let mut flips = 0u32;
    while start.elapsed() < Duration::from_secs(3) {
        let w = if flips.is_multiple_of(2) { 0 } else { 100 };
        let r = s.admin(
            "PUT",
            "/v1/services/split.gslb.test./pools/eu-west/weight",
            Some(&format!("{{\"weight\":{w}}}")),
            Some(TOKEN),
        );
        assert_eq!(r.status, 200);
        if flips.is_multiple_of(3) {
            let ttl = 10 + flips % 7;
            std::fs::write(&path, original.replace("ttl: 20", &format!("ttl: {ttl}")))
                .expect("write");
            assert_eq!(s.admin("POST", "/v1/reload", None, Some(TOKEN)).status, 200);
        }
        flips += 1;
    }
    let out = perf.wait_with_output().expect("dnsperf");
    let text = String::from_utf8_lossy(&out.stdout);
    let sent: u64 = field(&text, "Queries sent:");
    let lost: u64 = field(&text, "Queries lost:");
    assert!(flips >= 5, "only {flips} changes made");
    assert!(sent > 1000, "{text}");
    assert_eq!(lost, 0, "{text}");
    assert!(text.contains("NOERROR"), "{text}");
    assert!(!text.contains("SERVFAIL"), "{text}");
}

fn field(text: &str, name: &str) -> u64 {
    text.lines()
        .find_map(|l| l.trim().strip_prefix(name))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no {name} in {text}"))
}

/// SPEC 5.3 (issue 14 item 5): a reload that lacks a region keeps its
/// override, dormant, until the name comes back or an operator deletes it.
#[test]
fn a_reload_with_a_typo_keeps_the_override_dormant() {
    let s = server();
    let r = s.admin(
        "PUT",
        "/v1/regions/ap-northeast/override",
        Some(r#"{"state":"down"}"#),
        Some(TOKEN),
    );
    assert_eq!(r.status, 200, "{r:?}");
    let path = s.dir.path().join("meridian.yaml");
    let original = std::fs::read_to_string(&path).expect("config");
    std::fs::write(
        &path,
        original.replace("ap-northeast: {}", "ap-nrotheast: {}"),
    )
    .expect("write");
    let r = s.admin("POST", "/v1/reload", None, Some(TOKEN));
    assert_eq!(r.status, 200, "{r:?}");
    let o = s.admin("GET", "/v1/overrides", None, None).json();
    assert_eq!(o["regions"]["ap-northeast"]["state"], "down", "{o}");
    assert!(
        o["dormant"].as_array().is_some_and(|d| d
            .iter()
            .any(|w| w.as_str().unwrap_or("").contains("ap-northeast"))),
        "{o}"
    );
    assert_eq!(state_file(&s)["regions"]["ap-northeast"]["state"], "down");
    // The name comes back: the override applies again.
    std::fs::write(&path, &original).expect("write");
    let r = s.admin("POST", "/v1/reload", None, Some(TOKEN));
    assert_eq!(r.status, 200, "{r:?}");
    let regions = s.admin("GET", "/v1/regions", None, None).json();
    assert_eq!(
        region(&regions, "ap-northeast")["override"]["state"],
        "down"
    );
    assert!(s.admin("GET", "/v1/overrides", None, None).json()["dormant"].is_null());
    // A dormant override is removed by its name.
    std::fs::write(
        &path,
        original.replace("ap-northeast: {}", "ap-nrotheast: {}"),
    )
    .expect("write");
    assert_eq!(s.admin("POST", "/v1/reload", None, Some(TOKEN)).status, 200);
    let r = s.admin(
        "PUT",
        "/v1/regions/ap-northeast/override",
        Some(r#"{"state":"auto"}"#),
        Some(TOKEN),
    );
    assert_eq!(r.status, 200, "{r:?}");
    assert!(state_file(&s)["regions"].get("ap-northeast").is_none());
}

#[test]
fn unknown_names_404_with_the_known_ones_and_wrong_methods_405_in_json() {
    let s = server();
    let error = |method: &str, path: &str, body: Option<&str>, want: u16| {
        let r = s.admin(method, path, body, Some(TOKEN));
        assert_eq!(r.status, want, "{method} {path}: {r:?}");
        r.json()["error"]
            .as_str()
            .unwrap_or_else(|| panic!("{method} {path}: no JSON error: {r:?}"))
            .to_string()
    };
    let e = error(
        "PUT",
        "/v1/regions/mars/override",
        Some(r#"{"state":"down"}"#),
        404,
    );
    assert!(
        e.contains("known regions: us-east, eu-west, ap-northeast"),
        "{e}"
    );
    let e = error(
        "PUT",
        "/v1/services/nope/pools/eu-west/weight",
        Some(r#"{"weight":1}"#),
        404,
    );
    assert!(
        e.contains("known services: www.gslb.test., split.gslb.test."),
        "{e}"
    );
    let e = error(
        "PUT",
        "/v1/services/split.gslb.test/pools/ap-northeast/weight",
        Some(r#"{"weight":1}"#),
        404,
    );
    assert!(e.contains("its pools are in us-east, eu-west"), "{e}");
    let e = error("GET", "/v1/services/nope/rollouts", None, 404);
    assert!(e.contains("known services: "), "{e}");
    let e = error("GET", "/v1/nothing", None, 404);
    assert!(
        e.contains("/v1/regions") && e.contains("/openapi.json"),
        "{e}"
    );

    // A service named without the final dot is the same service.
    let r = s.admin(
        "PUT",
        "/v1/services/split.gslb.test/pools/eu-west/weight",
        Some(r#"{"weight":7}"#),
        Some(TOKEN),
    );
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.json()["service"], "split.gslb.test.");

    // A wrong method: 405, a JSON error naming the methods, and Allow.
    for (method, path, allowed) in [
        ("PUT", "/v1/status", "GET"),
        ("POST", "/v1/regions", "GET"),
        ("GET", "/v1/reload", "POST"),
        ("GET", "/v1/regions/eu-west/override", "PUT"),
        (
            "POST",
            "/v1/services/split.gslb.test./pools/eu-west/weight",
            "PUT, DELETE",
        ),
    ] {
        let e = error(method, path, Some("{}"), 405);
        assert!(
            e.contains(&format!(
                "{method} is not allowed on {path}; it takes {allowed}"
            )),
            "{e}"
        );
    }
}
