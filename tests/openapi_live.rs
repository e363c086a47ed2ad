//! The API contract (issue 18): `docs/openapi.json` validates under
//! `openapi-spec-validator`, and live replies of every endpoint, successes
//! and documented errors, with overrides absent and present (so nullable
//! fields are seen both ways), match its schemas
//! (`tests/openapi/validate.py`, with `openapi-schema-validator`).

mod common;

use std::process::Command;

use common::{Server, repo};

const TOKEN: &str = "openapi-token-1";

const CONFIG: &str = "\
dns:
  listen: [\"LISTEN\"]
admin:
  listen: \"ADMIN_LISTEN\"
  token_file: token.txt
state_file: var/state.json
geoip:
  database: GEO_DB
regions:
  us-east: { location: [39.04, -77.49] }
  eu-west: {}
  ap-northeast: {}
monitors:
  web: { type: tcp, port: CLOSED_PORT, interval: 1s, timeout: 300ms, rise: 1, fall: 1 }
geo_maps:
  world:
    nets:
      \"10.0.0.0/8\": [eu-west, us-east]
    default: [us-east]
zones:
  - origin: gslb.test.
    file: gslb.test.zone
    services:
      www:
        policy: geo
        map: world
        pools:
          us-east: { endpoints: [192.0.2.10] }
          eu-west: { endpoints: [198.51.100.10] }
          ap-northeast: { monitor: web, endpoints: [127.0.0.1] }
      split:
        policy: weighted
        pools:
          us-east: { weight: 100, endpoints: [{ address: 192.0.2.30, labels: { tier: gold } }] }
          eu-west: { weight: 100, endpoints: [198.51.100.30] }
";

/// One reply as the validator reads it.
#[derive(serde::Serialize)]
struct Case {
    method: String,
    path: String,
    template: String,
    status: u16,
    content_type: String,
    body: String,
}

struct Recorder<'a> {
    server: &'a Server,
    cases: Vec<Case>,
}

impl Recorder<'_> {
    /// Call `method path` (the route `template`) and record the reply.
    /// `json`: send `Content-Type: application/json`; `host`: a `Host`.
    #[allow(clippy::too_many_arguments)]
    fn call_with(
        &mut self,
        method: &str,
        template: &str,
        path: &str,
        body: Option<&str>,
        token: Option<&str>,
        json: bool,
        host: Option<&str>,
    ) -> u16 {
        let addr = self.server.admin.expect("admin");
        let mut cmd = Command::new("curl");
        cmd.args(["-s", "-i", "--max-time", "10", "-X", method]);
        cmd.arg(format!("http://{addr}{path}"));
        if json {
            cmd.args(["-H", "content-type: application/json"]);
        }
        if let Some(b) = body {
            cmd.args(["--data-binary", b]);
        }
        if let Some(t) = token {
            cmd.args(["-H", &format!("authorization: Bearer {t}")]);
        }
        if let Some(h) = host {
            cmd.args(["-H", &format!("host: {h}")]);
        }
        let out = cmd.output().expect("curl");
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
        let status = head
            .lines()
            .next()
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|c| c.parse().ok())
            .unwrap_or(0);
        let content_type = head
            .lines()
            .find_map(|l| {
                l.to_ascii_lowercase()
                    .strip_prefix("content-type:")
                    .map(|v| v.trim().to_string())
            })
            .unwrap_or_default();
        self.cases.push(Case {
            method: method.into(),
            path: path.into(),
            template: template.into(),
            status,
            content_type,
            body: body.into(),
        });
        status
    }

    /// A call with the token and JSON content type; asserts the status.
    fn call(&mut self, method: &str, template: &str, path: &str, body: Option<&str>, want: u16) {
        let json = method != "GET";
        let got = self.call_with(method, template, path, body, Some(TOKEN), json, None);
        assert_eq!(
            got,
            want,
            "{method} {path}: {}",
            self.cases.last().map_or("", |c| c.body.as_str())
        );
    }

    /// Every read, as it stands now.
    fn reads(&mut self) {
        for (template, path) in [
            ("/", "/"),
            ("/v1/status", "/v1/status"),
            ("/v1/regions", "/v1/regions"),
            ("/v1/services", "/v1/services"),
            ("/v1/overrides", "/v1/overrides"),
            ("/v1/drains", "/v1/drains"),
            ("/metrics", "/metrics"),
            ("/healthz", "/healthz"),
            ("/readyz", "/readyz"),
            ("/openapi.json", "/openapi.json"),
        ] {
            self.call("GET", template, path, None, 200);
        }
        for client in ["10.1.2.3", "192.0.2.1/24", "2001:db8::1"] {
            self.call(
                "GET",
                "/v1/explain",
                &format!("/v1/explain?name=www.gslb.test&client={client}"),
                None,
                200,
            );
        }
        self.call(
            "GET",
            "/v1/explain",
            "/v1/explain?name=static.gslb.test&type=A&client=10.0.0.1",
            None,
            200,
        );
    }
}

#[test]
fn every_endpoint_replies_as_docs_openapi_json_says() {
    let closed = common::etcd::free_port();
    let config = CONFIG
        .replace("CLOSED_PORT", &closed.to_string())
        .replace("GEO_DB", &common::demo_mmdb().display().to_string());
    let zone = format!("{}static IN A 192.0.2.1\n", common::GSLB_TEST_ZONE);
    let s = Server::start(
        &config,
        &[
            ("gslb.test.zone", zone.as_str()),
            ("token.txt", TOKEN),
            ("var/.keep", ""),
        ],
    );
    common::eventually(
        std::time::Duration::from_secs(10),
        "ap-northeast down",
        || {
            let r = s.admin("GET", "/v1/regions", None, None).json();
            r["regions"]
                .as_array()?
                .iter()
                .any(|r| r["name"] == "ap-northeast" && r["state"] == "down")
                .then_some(())
        },
    );
    let mut r = Recorder {
        server: &s,
        cases: Vec::new(),
    };
    let weight = "/v1/services/{service}/pools/{region}/weight";
    let spill = "/v1/services/{service}/pools/{region}/spill";
    let rollouts = "/v1/services/{service}/rollouts";
    let region = "/v1/regions/{region}/override";
    let endpoint = "/v1/endpoints/{address}/override";

    // Nothing overridden yet.
    r.reads();
    r.call(
        "GET",
        rollouts,
        "/v1/services/split.gslb.test/rollouts",
        None,
        404,
    );

    // Every change, with an end where it takes one.
    r.call(
        "PUT",
        region,
        "/v1/regions/eu-west/override",
        Some(r#"{"state":"down","for":"1h"}"#),
        200,
    );
    r.call(
        "PUT",
        region,
        "/v1/regions/us-east/override",
        Some(r#"{"state":"up"}"#),
        200,
    );
    r.call(
        "PUT",
        weight,
        "/v1/services/www.gslb.test./pools/us-east/weight",
        Some(r#"{"weight":40,"for":"30m"}"#),
        200,
    );
    r.call(
        "PUT",
        spill,
        "/v1/services/www.gslb.test./pools/us-east/spill",
        Some(r#"{"percent":10,"for":"30m"}"#),
        200,
    );
    r.call(
        "PUT",
        endpoint,
        "/v1/endpoints/198.51.100.30/override",
        Some(r#"{"state":"drain","for":"1h"}"#),
        200,
    );
    r.call(
        "PUT",
        "/v1/endpoints/override",
        "/v1/endpoints/override",
        Some(r#"{"labels":{"tier":"gold"},"weight":5}"#),
        200,
    );
    r.call(
        "POST",
        rollouts,
        "/v1/services/split.gslb.test./rollouts",
        Some(r#"{"pool":"eu-west","steps":[{"weight":50,"hold":"1h"},{"weight":100}]}"#),
        200,
    );
    r.call(
        "GET",
        rollouts,
        "/v1/services/split.gslb.test/rollouts",
        None,
        200,
    );
    r.call(
        "GET",
        "/v1/drains/{id}",
        "/v1/drains/region:eu-west",
        None,
        200,
    );
    r.call(
        "GET",
        "/v1/drains/{id}",
        "/v1/drains/endpoint:198.51.100.30?wait=1s",
        None,
        200,
    );
    // Everything overridden: the nullable fields are set.
    r.reads();

    // Errors each operation documents.
    r.call(
        "PUT",
        region,
        "/v1/regions/mars/override",
        Some(r#"{"state":"down"}"#),
        404,
    );
    r.call(
        "PUT",
        region,
        "/v1/regions/eu-west/override",
        Some(r#"{"state":"sideways"}"#),
        400,
    );
    r.call(
        "PUT",
        weight,
        "/v1/services/nope/pools/us-east/weight",
        Some(r#"{"weight":1}"#),
        404,
    );
    r.call(
        "PUT",
        weight,
        "/v1/services/www.gslb.test/pools/us-east/weight",
        Some(r#"{"weight":5000}"#),
        400,
    );
    r.call(
        "PUT",
        spill,
        "/v1/services/www.gslb.test/pools/us-east/spill",
        Some(r#"{"percent":101}"#),
        400,
    );
    r.call(
        "PUT",
        endpoint,
        "/v1/endpoints/203.0.113.99/override",
        Some(r#"{"state":"down"}"#),
        404,
    );
    r.call(
        "PUT",
        "/v1/endpoints/override",
        "/v1/endpoints/override",
        Some(r#"{"state":"down"}"#),
        400,
    );
    r.call(
        "POST",
        rollouts,
        "/v1/services/split.gslb.test./rollouts",
        Some(r#"{"pool":"eu-west","steps":[{"weight":100}]}"#),
        409,
    );
    r.call(
        "GET",
        "/v1/explain",
        "/v1/explain?name=www.gslb.test",
        None,
        400,
    );
    r.call(
        "GET",
        "/v1/drains/{id}",
        "/v1/drains/region:nope",
        None,
        404,
    );
    let status = r.call_with(
        "PUT",
        region,
        "/v1/regions/eu-west/override",
        Some(r#"{"state":"auto"}"#),
        None,
        true,
        None,
    );
    assert_eq!(status, 401);
    let status = r.call_with(
        "PUT",
        region,
        "/v1/regions/eu-west/override",
        Some(r#"{"state":"auto"}"#),
        Some(TOKEN),
        false,
        None,
    );
    assert_eq!(status, 415);
    let status = r.call_with(
        "POST",
        "/v1/reload",
        "/v1/reload",
        None,
        Some(TOKEN),
        true,
        Some("evil.example"),
    );
    assert_eq!(status, 403);

    // Back to configured.
    r.call(
        "DELETE",
        rollouts,
        "/v1/services/split.gslb.test./rollouts",
        None,
        200,
    );
    r.call(
        "DELETE",
        weight,
        "/v1/services/www.gslb.test./pools/us-east/weight",
        None,
        200,
    );
    r.call(
        "DELETE",
        spill,
        "/v1/services/www.gslb.test./pools/us-east/spill",
        None,
        200,
    );
    r.call(
        "DELETE",
        endpoint,
        "/v1/endpoints/198.51.100.30/override",
        None,
        200,
    );
    r.call(
        "DELETE",
        endpoint,
        "/v1/endpoints/192.0.2.30/override",
        None,
        200,
    );
    r.call(
        "PUT",
        region,
        "/v1/regions/eu-west/override",
        Some(r#"{"state":"auto"}"#),
        200,
    );
    // Alertmanager's webhook (issue 17 part 5): an empty batch, and a body
    // that is not its JSON.
    r.call(
        "POST",
        "/v1/alerts",
        "/v1/alerts",
        Some(r#"{"alerts":[]}"#),
        200,
    );
    r.call(
        "POST",
        "/v1/alerts",
        "/v1/alerts",
        Some("alerts: none"),
        400,
    );
    // The event stream (issue 17 part 7): one second of it.
    {
        let addr = s.admin.expect("admin");
        let out = Command::new("curl")
            .args(["-s", "-i", "-N", "--max-time", "1"])
            .arg(format!("http://{addr}/v1/events"))
            .output()
            .expect("curl");
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
        let status = head
            .lines()
            .next()
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|c| c.parse().ok())
            .unwrap_or(0);
        let content_type = head
            .lines()
            .find_map(|l| {
                l.to_ascii_lowercase()
                    .strip_prefix("content-type:")
                    .map(|v| v.trim().to_string())
            })
            .unwrap_or_default();
        assert_eq!(status, 200, "{text}");
        r.cases.push(Case {
            method: "GET".into(),
            path: "/v1/events".into(),
            template: "/v1/events".into(),
            status,
            content_type,
            body: body.into(),
        });
    }
    r.call("POST", "/v1/reload", "/v1/reload", None, 200);
    // A reload that fails lists every problem.
    std::fs::write(s.dir.path().join("meridian.yaml"), "regions: [").expect("write");
    r.call("POST", "/v1/reload", "/v1/reload", None, 400);

    let cases = serde_json::to_string_pretty(&r.cases).expect("cases");
    let file = s.dir.path().join("cases.json");
    std::fs::write(&file, cases).expect("write cases");
    let out = Command::new("python3")
        .arg(repo().join("tests/openapi/validate.py"))
        .arg(repo().join("docs/openapi.json"))
        .arg(&file)
        .output()
        .expect("python3");
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success(),
        "replies that do not match docs/openapi.json:\n{report}"
    );
    assert!(report.contains(" 0 problem(s)"), "{report}");
}
