//! The log of an incident, as an operator reads it (issue 18): a health
//! check turning bad is one WARN naming region, service and reason; the
//! periodic heartbeat stays out of INFO; every override set and lapsed
//! names what, until when and which client; refused changes are logged,
//! rate-limited; with `--log-format json` every line, the fatal one
//! included, is JSON, and no field is named `target` (the module's key).

mod common;

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{curl, eventually};

const TOKEN: &str = "incident-token-42";

/// `www` has a monitored pool in ap-northeast whose probe port refuses
/// connections, so it turns bad on the first round.
fn config(closed_port: u16) -> String {
    format!(
        "dns:
  listen: [\"127.0.0.1:0\"]
admin:
  listen: \"127.0.0.1:0\"
  token_file: token.txt
state_file: var/state.json
regions:
  us-east: {{}}
  ap-northeast: {{}}
monitors:
  web:
    type: http
    path: /
    port: {closed_port}
    interval: 1s
    timeout: 500ms
    rise: 1
    fall: 1
zones:
  - origin: gslb.test.
    file: gslb.test.zone
    services:
      www:
        policy: failover
        pools:
          us-east: {{ endpoints: [192.0.2.10] }}
          ap-northeast: {{ monitor: web, endpoints: [127.0.0.1] }}
"
    )
}

/// A running meridian with JSON logs, killed on drop.
struct JsonServer {
    child: Child,
    log: Arc<Mutex<Vec<String>>>,
    _dir: tempfile::TempDir,
}

impl JsonServer {
    fn lines(&self) -> Vec<String> {
        self.log.lock().expect("log").clone()
    }

    fn json(&self) -> Vec<serde_json::Value> {
        self.lines()
            .iter()
            .map(|l| {
                serde_json::from_str(l).unwrap_or_else(|e| panic!("not a JSON line ({e}): {l}"))
            })
            .collect()
    }

    /// The first line whose message contains `text`.
    fn wait_for(&self, text: &str) -> serde_json::Value {
        eventually(Duration::from_secs(10), text, || {
            self.json().into_iter().find(|l| {
                l["fields"]["message"]
                    .as_str()
                    .is_some_and(|m| m.contains(text))
            })
        })
    }
}

impl Drop for JsonServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_json(config: &str) -> JsonServer {
    let (dir, path) = common::prepare(
        config,
        &[
            ("gslb.test.zone", common::GSLB_TEST_ZONE),
            ("token.txt", TOKEN),
            ("var/.keep", ""),
        ],
    );
    let mut child = Command::new(common::BIN)
        .args(["run", "--log-format", "json", "-c"])
        .arg(&path)
        .env("RUST_LOG", "info")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn meridian");
    let stderr = child.stderr.take().expect("stderr");
    let log = Arc::new(Mutex::new(Vec::new()));
    let sink = log.clone();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            sink.lock().expect("log").push(line);
        }
    });
    JsonServer {
        child,
        log,
        _dir: dir,
    }
}

/// The admin address from the "listening for admin HTTP on" line.
fn admin_addr(s: &JsonServer) -> SocketAddr {
    let line = s.wait_for("listening for admin HTTP on ");
    let message = line["fields"]["message"].as_str().expect("message");
    message
        .rsplit(' ')
        .next()
        .and_then(|a| a.parse().ok())
        .unwrap_or_else(|| panic!("no address in {message}"))
}

#[test]
fn an_incident_reads_as_warnings_with_names_in_json() {
    let closed = common::etcd::free_port();
    let s = start_json(&config(closed));
    let admin = admin_addr(&s);
    s.wait_for("listening for DNS on TCP");

    // Health turning bad: WARN, naming region, service, probe and reason.
    let bad = s.wait_for("is now unhealthy");
    assert_eq!(bad["level"], "WARN", "{bad}");
    let f = &bad["fields"];
    assert_eq!(f["region"], "ap-northeast", "{bad}");
    assert_eq!(f["service"], "www.gslb.test.", "{bad}");
    assert_eq!(f["probe"], format!("127.0.0.1:{closed}"), "{bad}");
    assert_eq!(f["reason"], "connection refused", "{bad}");
    let message = f["message"].as_str().unwrap_or_default();
    for part in ["ap-northeast", "www.gslb.test.", "connection refused"] {
        assert!(message.contains(part), "{message}");
    }

    // Refused changes: logged with the client, at most one line per 10 s.
    let url = format!("http://{admin}/v1/regions/us-east/override");
    for _ in 0..5 {
        let r = curl("PUT", &url, Some(r#"{"state":"down"}"#), Some("wrong"));
        assert_eq!(r.status, 401, "{r:?}");
    }
    let refused = s.wait_for("admin: refused PUT /v1/regions/us-east/override");
    assert_eq!(refused["level"], "WARN", "{refused}");
    assert!(
        refused["fields"]["client"]
            .as_str()
            .is_some_and(|c| c.starts_with("127.0.0.1:")),
        "{refused}"
    );

    // An override set: what, until when, from which client; then lapsed.
    let r = curl(
        "PUT",
        &url,
        Some(r#"{"state":"down","for":"1s"}"#),
        Some(TOKEN),
    );
    assert_eq!(r.status, 200, "{r:?}");
    let until = r.json()["override"]["until"]
        .as_str()
        .expect("until")
        .to_string();
    let set = s.wait_for("admin: region us-east set down");
    assert!(
        set["fields"]["message"]
            .as_str()
            .is_some_and(|m| m.contains(&format!("until {until}"))),
        "{set}"
    );
    assert!(
        set["span"]["client"]
            .as_str()
            .is_some_and(|c| c.starts_with("127.0.0.1:")),
        "no client in {set}"
    );
    let lapsed = s.wait_for("override lapsed at its time: region us-east down");
    assert_eq!(lapsed["level"], "INFO", "{lapsed}");

    // Let one heartbeat period pass: it stays out of INFO.
    std::thread::sleep(Duration::from_secs(11));
    let lines = s.json();
    let refusals = lines
        .iter()
        .filter(|l| {
            l["fields"]["message"]
                .as_str()
                .is_some_and(|m| m.starts_with("admin: refused"))
        })
        .count();
    assert_eq!(refusals, 1, "five refusals in a second log one line");
    for l in &lines {
        let message = l["fields"]["message"].as_str().unwrap_or_default();
        assert!(
            !message.contains(" checks in the last "),
            "heartbeat at INFO: {l}"
        );
        // `target` is the module; no event field may take the name.
        assert!(l["fields"].get("target").is_none(), "field clash: {l}");
        assert!(
            l["target"]
                .as_str()
                .is_some_and(|t| t.starts_with("meridian")),
            "{l}"
        );
    }
}

#[test]
fn a_fatal_start_is_json_too_and_says_each_error_once() {
    let mut s = start_json(&config(1).replace("regions:", "regions:\n  mars: []\n"));
    let exit = eventually(Duration::from_secs(10), "meridian to exit", || {
        s.child.try_wait().ok().flatten()
    });
    assert_eq!(exit.code(), Some(1));
    // The reader thread may still be draining the pipe.
    let lines = eventually(Duration::from_secs(5), "the fatal line", || {
        let lines = s.json();
        lines
            .iter()
            .any(|l| {
                l["fields"]["message"]
                    .as_str()
                    .is_some_and(|m| m.contains("not started"))
            })
            .then_some(lines)
    });
    let errors: Vec<&str> = lines
        .iter()
        .filter(|l| l["level"] == "ERROR")
        .filter_map(|l| l["fields"]["message"].as_str())
        .collect();
    assert_eq!(errors.len(), 2, "one error and the fatal line: {errors:#?}");
    assert!(errors[0].contains("regions.mars"), "{errors:#?}");
    assert!(!errors[1].contains("regions.mars"), "repeated: {errors:#?}");
}
