//! The HTML status page (`GET /`) in a real headless browser (Debian's
//! chromium, driven over the DevTools protocol): what it shows after a
//! region is drained; the incident view: summary, share bars and
//! sparklines, updated after a drain without a reload, through the change
//! events stream (`GET /v1/events`) and not a poll; polling while that
//! stream is refused, and back to the stream when it returns; a screenshot.

mod common;

use std::process::Command;

use common::{Server, admin_fixture, admin_server, repo};

const TOKEN: &str = "page-token";

#[test]
fn status_page_shows_a_drained_region_as_down() {
    let s = admin_server(&admin_fixture("admin.yaml"), TOKEN);
    let r = s.admin(
        "PUT",
        "/v1/regions/eu-west/override",
        Some(r#"{"state":"down","for":"1h"}"#),
        Some(TOKEN),
    );
    assert_eq!(r.status, 200, "{r:?}");
    // One endpoint drained by its label (split's us-east endpoint is tier=gold).
    let r = s.admin(
        "PUT",
        "/v1/endpoints/override",
        Some(r#"{"labels":{"tier":"gold"},"state":"drain"}"#),
        Some(TOKEN),
    );
    assert_eq!(r.status, 200, "{r:?}");

    // The page as drawn once its first fetches are in (it keeps the
    // change events stream open, so it is never "done loading": read the
    // DOM over the DevTools protocol rather than with `--dump-dom`).
    let mut b = Browser::start();
    b.open(&format!("http://{}/", s.admin.expect("admin")));
    let dom = common::eventually(std::time::Duration::from_secs(30), "the page drawn", || {
        b.eval(
            r#"document.querySelector('[data-region="eu-west"]') &&
               document.getElementById("meta").innerText.includes("generation")
               ? document.documentElement.outerHTML : null"#,
        )
        .as_str()
        .map(String::from)
    });
    let section = |name: &str| -> String {
        let start = dom
            .find(&format!("data-region=\"{name}\""))
            .unwrap_or_else(|| panic!("region {name} not on the page:\n{dom}"));
        let end = dom[start..]
            .find("</section>")
            .map_or(dom.len(), |e| start + e);
        dom[start..end].to_string()
    };
    let eu = section("eu-west");
    assert!(eu.contains("data-state=\"down\""), "{eu}");
    assert!(eu.contains("forced down by an operator until"), "{eu}");
    assert!(eu.contains("www.gslb.test."), "pools listed: {eu}");
    assert!(eu.contains("198.51.100.10"), "endpoints listed: {eu}");
    let us = section("us-east");
    assert!(us.contains("data-source=\"config\""), "{us}");
    assert!(us.contains("tier=gold"), "labels shown: {us}");
    assert!(
        us.contains("data-service=\"drained\"") || us.contains("data-service=\"draining\""),
        "the drained endpoint's state: {us}"
    );
    assert!(us.contains(">forced drain"), "its override: {us}");
    assert!(dom.contains("generation 1"), "status line rendered");

    // The screenshot step.
    let png = b.screenshot();
    assert!(
        png.starts_with(b"\x89PNG") && png.len() > 10_000,
        "{} bytes",
        png.len()
    );
}

/// Headless chromium driven over `--remote-debugging-pipe` (the DevTools
/// protocol on fds 3 and 4, here two FIFOs): no WebSocket client needed.
struct Browser {
    child: std::process::Child,
    to: std::fs::File,
    from: std::sync::mpsc::Receiver<serde_json::Value>,
    next: u64,
    session: Option<String>,
    _dir: tempfile::TempDir,
}

impl Browser {
    fn start() -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let (to_path, from_path) = (dir.path().join("to"), dir.path().join("from"));
        for p in [&to_path, &from_path] {
            let ok = Command::new("mkfifo").arg(p).status().expect("mkfifo");
            assert!(ok.success());
        }
        let script = format!(
            "exec timeout 120 chromium --headless --no-sandbox --disable-gpu --disable-quic \
             --no-first-run --disable-background-networking --disable-component-update \
             --disable-sync --user-data-dir={} --remote-debugging-pipe 3<{} 4>{}",
            dir.path().join("profile").display(),
            to_path.display(),
            from_path.display()
        );
        let child = Command::new("bash")
            .args(["-c", &script])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("chromium");
        // The same order as the shell: its fd 3 (our writer), then fd 4.
        let to = std::fs::OpenOptions::new()
            .write(true)
            .open(&to_path)
            .expect("open the pipe to chromium");
        let from = std::fs::File::open(&from_path).expect("open the pipe from chromium");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            use std::io::BufRead;
            let mut reader = std::io::BufReader::new(from);
            let mut buf = Vec::new();
            while reader.read_until(0, &mut buf).is_ok_and(|n| n > 0) {
                buf.pop();
                if let Ok(v) = serde_json::from_slice(&buf)
                    && tx.send(v).is_err()
                {
                    break;
                }
                buf.clear();
            }
        });
        Self {
            child,
            to,
            from: rx,
            next: 0,
            session: None,
            _dir: dir,
        }
    }

    /// Send one command and wait (bounded) for its result.
    fn call(&mut self, method: &str, params: serde_json::Value) -> serde_json::Value {
        use std::io::Write;
        self.next += 1;
        let id = self.next;
        let mut msg = serde_json::json!({"id": id, "method": method, "params": params});
        if let Some(s) = &self.session {
            msg["sessionId"] = serde_json::Value::String(s.clone());
        }
        let mut bytes = serde_json::to_vec(&msg).expect("json");
        bytes.push(0);
        self.to.write_all(&bytes).expect("write to chromium");
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            let v = self
                .from
                .recv_timeout(left)
                .unwrap_or_else(|_| panic!("no reply to {method} from chromium"));
            if v["id"] == id {
                assert!(v.get("error").is_none(), "{method}: {v}");
                return v["result"].clone();
            }
        }
    }

    /// Open `url` in a new tab and talk to it from now on.
    fn open(&mut self, url: &str) {
        self.attach();
        self.call("Page.navigate", serde_json::json!({"url": url}));
    }

    /// Open a blank tab and talk to it from now on.
    fn attach(&mut self) {
        let target = self.call(
            "Target.createTarget",
            serde_json::json!({"url": "about:blank"}),
        );
        let attached = self.call(
            "Target.attachToTarget",
            serde_json::json!({"targetId": target["targetId"], "flatten": true}),
        );
        self.session = attached["sessionId"].as_str().map(String::from);
        self.call(
            "Emulation.setDeviceMetricsOverride",
            serde_json::json!({"width": 1200, "height": 1500, "deviceScaleFactor": 1, "mobile": false}),
        );
    }

    /// Requests whose URL matches one of `patterns` fail as if the network
    /// refused them (an empty list lets everything through again).
    fn block(&mut self, patterns: &[&str]) {
        self.call("Network.enable", serde_json::json!({}));
        self.call(
            "Network.setBlockedURLs",
            serde_json::json!({ "urls": patterns }),
        );
    }

    /// Evaluate a JavaScript expression in the page; its JSON value.
    fn eval(&mut self, expression: &str) -> serde_json::Value {
        let r = self.call(
            "Runtime.evaluate",
            serde_json::json!({"expression": expression, "returnByValue": true}),
        );
        r["result"]["value"].clone()
    }

    fn screenshot(&mut self) -> Vec<u8> {
        let r = self.call(
            "Page.captureScreenshot",
            serde_json::json!({"format": "png", "captureBeyondViewport": true}),
        );
        base64_decode(r["data"].as_str().expect("screenshot data"))
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn base64_decode(text: &str) -> Vec<u8> {
    let value = |c: u8| -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        } as u32)
    };
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0);
    for v in text.bytes().filter_map(value) {
        acc = (acc << 6) | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    out
}

const INCIDENT: &str = "\
dns:
  listen: [\"LISTEN\"]
admin:
  listen: \"ADMIN_LISTEN\"
  token_file: token.txt
state_file: var/state.json
regions:
  us-east: {}
  eu-west: {}
  ap-northeast: {}
monitors:
  web: { type: http, path: /, port: CLOSED, interval: 1s, timeout: 300ms, rise: 1, fall: 1 }
zones:
  - origin: gslb.test.
    file: gslb.test.zone
    services:
      www:
        policy: weighted
        pools:
          us-east: { weight: 60, endpoints: [192.0.2.10] }
          eu-west: { weight: 40, endpoints: [198.51.100.10] }
      api:
        policy: weighted
        pools:
          us-east: { weight: 50, endpoints: [192.0.2.20] }
          eu-west: { weight: 50, endpoints: [198.51.100.20] }
          ap-northeast: { weight: 50, monitor: web, endpoints: [{ address: 203.0.113.10, probe: \"127.0.0.1:CLOSED\" }] }
";

#[test]
fn incident_view_summarises_shares_and_follows_a_drain_without_reload() {
    let closed = common::etcd::free_port().to_string();
    let s = Server::start(
        &INCIDENT.replace("CLOSED", &closed),
        &[
            ("gslb.test.zone", common::GSLB_TEST_ZONE),
            ("token.txt", TOKEN),
            ("var/.keep", ""),
        ],
    );
    // Traffic all along: the share bars and sparklines come from the
    // answer counters as they move.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let traffic = {
        let (stop, dns) = (stop.clone(), s.dns);
        std::thread::spawn(move || {
            let sock = std::net::UdpSocket::bind("127.0.0.1:0").expect("udp");
            sock.set_read_timeout(Some(std::time::Duration::from_millis(200)))
                .expect("timeout");
            let mut id = 0u16;
            let mut buf = [0u8; 1500];
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                for name in ["www.gslb.test", "api.gslb.test"] {
                    id = id.wrapping_add(1);
                    let _ = sock.send_to(&common::build_query(id, name, 1), dns);
                    let _ = sock.recv_from(&mut buf);
                }
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
        })
    };
    let mut b = Browser::start();
    b.open(&format!("http://{}/", s.admin.expect("admin")));
    let wait = |b: &mut Browser, what: &str, js: &str| -> serde_json::Value {
        common::eventually(std::time::Duration::from_secs(30), what, || {
            let v = b.eval(js);
            (!v.is_null() && v != false).then_some(v)
        })
    };

    // The summary names what is down and why.
    let summary = wait(
        &mut b,
        "summary names ap-northeast",
        r#"(() => { const t = document.getElementById("summary").innerText;
             return t.includes("ap-northeast is degraded") || t.includes("ap-northeast is down") ? t : null; })()"#,
    );
    let summary = summary.as_str().unwrap_or_default().to_string();
    assert!(summary.contains("not healthy"), "{summary}");
    assert!(summary.contains("203.0.113.10 (web)"), "{summary}");
    // Share bars: api's answers split over us-east and eu-west.
    let shares = wait(
        &mut b,
        "api's share bar with two regions",
        r#"(() => { const s = [...document.querySelectorAll('[data-share-service="api.gslb.test."] [data-share-region]')];
             return s.length >= 2 ? s.map(e => [e.dataset.shareRegion, Number(e.dataset.share)]) : null; })()"#,
    );
    let shares: Vec<(String, f64)> = serde_json::from_value(shares).expect("shares");
    let total: f64 = shares.iter().map(|(_, p)| p).sum();
    assert!((total - 100.0).abs() < 0.5, "{shares:?}");
    assert!(
        shares.iter().all(|(r, _)| r != "ap-northeast"),
        "an unhealthy region gets no share: {shares:?}"
    );
    // Answers per second and a sparkline per region; monitor and probe.
    wait(
        &mut b,
        "us-east answers/s with a sparkline",
        r#"(() => { const r = document.querySelector('[data-region="us-east"] [data-rate]');
             const s = document.querySelector('[data-region="us-east"] svg[data-sparkline]');
             return r && Number(r.dataset.rate) > 0 && Number(s.dataset.sparkline) >= 2; })()"#,
    );
    let probe = b.eval(
        r#"(() => { const row = document.querySelector('[data-region="ap-northeast"] [data-probe]');
             return row ? [row.dataset.probe, row.previousElementSibling.dataset.monitor] : null; })()"#,
    );
    assert_eq!(
        probe,
        serde_json::json!([format!("127.0.0.1:{closed}"), "web"])
    );
    let meta = b.eval(r#"document.getElementById("meta").innerText"#);
    assert!(
        meta.as_str()
            .is_some_and(|m| m.contains(" UTC (all times UTC)")),
        "{meta}"
    );

    // A drain, seen by the open page without a reload, through the change
    // events stream: no poll of the state happens in between (with the
    // stream up the page polls once a minute).
    wait(
        &mut b,
        "the page on the events stream",
        r#"document.body.dataset.updates === "stream""#,
    );
    b.eval("window.__notReloaded = true");
    let counters = |b: &mut Browser| -> (u64, u64) {
        let v =
            b.eval("[Number(document.body.dataset.polls), Number(document.body.dataset.events)]");
        (v[0].as_u64().unwrap_or(0), v[1].as_u64().unwrap_or(0))
    };
    let (polls, events) = counters(&mut b);
    let changed = std::time::Instant::now();
    let r = s.admin(
        "PUT",
        "/v1/regions/eu-west/override",
        Some(r#"{"state":"down","for":"1h"}"#),
        Some(TOKEN),
    );
    assert_eq!(r.status, 200, "{r:?}");
    let until = r.json()["override"]["until"]
        .as_str()
        .expect("until")
        .replace('T', " ")
        .replace('Z', " UTC");
    let forced = wait(
        &mut b,
        "the drain on the open page",
        r#"(() => { const t = document.getElementById("summary").innerText;
             const f = document.querySelector('[data-region="eu-west"] [data-forced="down"]');
             return t.includes("region eu-west forced down") && f ? [t, f.innerText] : null; })()"#,
    );
    let took = changed.elapsed();
    assert!(
        forced[0].as_str().is_some_and(|t| t.contains(&until)),
        "{forced}"
    );
    let (polls_after, events_after) = counters(&mut b);
    assert_eq!(polls_after, polls, "the state was polled, not pushed");
    assert!(events_after > events, "no change event reached the page");
    assert!(
        took < std::time::Duration::from_secs(2),
        "the drain took {took:?} to show"
    );
    eprintln!("the drain showed on the page {took:?} after the PUT");
    // Forced and health states told apart: the health badge stays its own.
    let badges = b.eval(
        r#"[...document.querySelectorAll('[data-region="eu-west"] h3 .badge')].map(e => e.className)"#,
    );
    assert_eq!(
        badges,
        serde_json::json!(["badge down", "badge forced"]),
        "health badge, then the forced one"
    );
    assert_eq!(
        b.eval("window.__notReloaded === true"),
        true,
        "the page reloaded"
    );
    // The traffic moves off eu-west: its share of www shrinks in the bar.
    wait(
        &mut b,
        "www's share moving to us-east",
        r#"(() => { const e = document.querySelector('[data-share-service="www.gslb.test."] [data-share-region="us-east"]');
             return e && Number(e.dataset.share) > 85; })()"#,
    );

    let png = b.screenshot();
    assert!(
        png.starts_with(b"\x89PNG") && png.len() > 20_000,
        "{} bytes",
        png.len()
    );
    // `MERIDIAN_STATUS_SCREENSHOT=docs/status-page.png cargo test --test
    // status_page` refreshes the screenshot in the docs.
    if let Ok(path) = std::env::var("MERIDIAN_STATUS_SCREENSHOT") {
        std::fs::write(repo().join(path), &png).expect("write the screenshot");
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let _ = traffic.join();
}

/// Without the change events stream (the browser refuses `/v1/events`)
/// the page polls, and still follows a drain; once the stream is back it
/// switches to it and redraws on the next change without polling.
#[test]
fn status_page_polls_while_the_events_stream_is_down() {
    let closed = common::etcd::free_port().to_string();
    let s = Server::start(
        &INCIDENT.replace("CLOSED", &closed),
        &[
            ("gslb.test.zone", common::GSLB_TEST_ZONE),
            ("token.txt", TOKEN),
            ("var/.keep", ""),
        ],
    );
    let mut b = Browser::start();
    b.attach();
    b.block(&["*/v1/events*"]);
    b.call(
        "Page.navigate",
        serde_json::json!({"url": format!("http://{}/", s.admin.expect("admin"))}),
    );
    let wait = |b: &mut Browser, what: &str, js: &str| -> serde_json::Value {
        common::eventually(std::time::Duration::from_secs(30), what, || {
            let v = b.eval(js);
            (!v.is_null() && v != false).then_some(v)
        })
    };
    let counter = |b: &mut Browser, name: &str| -> u64 {
        b.eval(&format!("Number(document.body.dataset.{name})"))
            .as_u64()
            .unwrap_or(0)
    };
    wait(
        &mut b,
        "the page polling",
        r#"document.body.dataset.updates === "poll" && Number(document.body.dataset.polls) >= 2"#,
    );
    let meta = b.eval(r#"document.getElementById("meta").innerText"#);
    assert!(
        meta.as_str()
            .is_some_and(|m| m.contains("polling every 2 s")),
        "{meta}"
    );
    let polls = counter(&mut b, "polls");
    let r = s.admin(
        "PUT",
        "/v1/regions/eu-west/override",
        Some(r#"{"state":"down","for":"1h"}"#),
        Some(TOKEN),
    );
    assert_eq!(r.status, 200, "{r:?}");
    wait(
        &mut b,
        "the drain on the polling page",
        r#"document.querySelector('[data-region="eu-west"] [data-forced="down"]') !== null"#,
    );
    assert!(counter(&mut b, "polls") > polls, "shown without a poll");
    assert_eq!(counter(&mut b, "events"), 0, "an event got through");

    // The stream comes back: the page moves to it by itself.
    b.block(&[]);
    wait(
        &mut b,
        "the page back on the events stream",
        r#"document.body.dataset.updates === "stream""#,
    );
    let polls = counter(&mut b, "polls");
    let r = s.admin(
        "PUT",
        "/v1/regions/us-east/override",
        Some(r#"{"state":"down","for":"1h"}"#),
        Some(TOKEN),
    );
    assert_eq!(r.status, 200, "{r:?}");
    wait(
        &mut b,
        "the second drain, through the stream",
        r#"document.querySelector('[data-region="us-east"] [data-forced="down"]') !== null"#,
    );
    assert_eq!(counter(&mut b, "polls"), polls, "polled with the stream up");
    assert!(counter(&mut b, "events") > 0, "no event reached the page");
}
