//! Change events (issue 17, part 7): a backend that fails, an override set
//! for a second and lapsing, and a reload each become events, posted to a
//! real HTTP receiver the test runs (`notify:`; it refuses the first
//! deliveries, so meridian must retry) and streamed by `GET /v1/events`
//! (Server-Sent Events read with curl, replay and `Last-Event-ID`).

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::http::Backend;
use common::{GSLB_TEST_ZONE, Server, eventually};

const TOKEN: &str = "test-token-0123";

const CONFIG: &str = r#"
dns:
  listen: ["LISTEN"]
admin:
  listen: "ADMIN_LISTEN"
  token_file: token.txt
regions:
  us-east: {}
  eu-west: {}
monitors:
  web: { type: http, port: WEB, interval: 400ms, timeout: 300ms, rise: 1, fall: 1 }
notify:
  - url: "http://127.0.0.1:HOOK/hook"
    headers: { Authorization: "Bearer hook-secret" }
    backoff: 100ms
    retries: 5
zones:
  - origin: gslb.test.
    file: gslb.test.zone
    services:
      www:
        policy: failover
        pools:
          us-east: { monitor: web, endpoints: [127.0.0.11] }
          eu-west: { endpoints: [127.0.0.21] }
"#;

/// A webhook receiver: records each request's body and Authorization, and
/// answers 503 to the first `refuse` requests, 200 after.
struct Receiver {
    port: u16,
    bodies: Arc<Mutex<Vec<(String, String)>>>,
    requests: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
}

impl Receiver {
    fn start(refuse: usize) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let bodies = Arc::new(Mutex::new(Vec::new()));
        let requests = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (b, r, s) = (bodies.clone(), requests.clone(), stop.clone());
        std::thread::spawn(move || {
            while !s.load(Ordering::SeqCst) {
                let Ok((stream, _)) = listener.accept() else {
                    continue;
                };
                if s.load(Ordering::SeqCst) {
                    break;
                }
                let _ = stream.set_nonblocking(false);
                let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
                // Each connection on its own thread: a kept-alive idle one
                // must not keep the next connection from being served.
                let (b, r) = (b.clone(), r.clone());
                std::thread::spawn(move || {
                    let mut reader = BufReader::new(stream);
                    loop {
                        let mut length = 0usize;
                        let mut auth = String::new();
                        let mut line = String::new();
                        if reader.read_line(&mut line).unwrap_or(0) == 0 {
                            break;
                        }
                        loop {
                            let mut h = String::new();
                            if reader.read_line(&mut h).unwrap_or(0) == 0 || h == "\r\n" {
                                break;
                            }
                            let lower = h.to_ascii_lowercase();
                            if let Some(v) = lower.strip_prefix("content-length:") {
                                length = v.trim().parse().unwrap_or(0);
                            }
                            if lower.starts_with("authorization:") {
                                auth = h["authorization:".len()..].trim().to_string();
                            }
                        }
                        let mut body = vec![0u8; length];
                        if reader.read_exact(&mut body).is_err() {
                            break;
                        }
                        let n = r.fetch_add(1, Ordering::SeqCst);
                        let status = if n < refuse {
                            "503 Service Unavailable"
                        } else {
                            b.lock()
                                .expect("bodies")
                                .push((String::from_utf8_lossy(&body).into_owned(), auth));
                            "200 OK"
                        };
                        let reply = format!("HTTP/1.1 {status}\r\nContent-Length: 0\r\n\r\n");
                        if reader.get_mut().write_all(reply.as_bytes()).is_err() {
                            break;
                        }
                    }
                });
            }
        });
        Self {
            port,
            bodies,
            requests,
            stop,
        }
    }

    fn events(&self) -> Vec<serde_json::Value> {
        self.bodies
            .lock()
            .expect("bodies")
            .iter()
            .filter_map(|(b, _)| serde_json::from_str(b).ok())
            .collect()
    }

    fn wait_for(&self, kind: &str, what: &str, state: &str) -> serde_json::Value {
        eventually(
            Duration::from_secs(30),
            &format!("{kind} {what} {state} at the webhook"),
            || {
                self.events().into_iter().find(|e| {
                    e["kind"] == kind
                        && e["what"].as_str().is_some_and(|w| w.contains(what))
                        && e["state"] == state
                })
            },
        )
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the blocked accept, which then sees `stop`.
        let _ = std::net::TcpStream::connect(("127.0.0.1", self.port));
    }
}

/// `GET /v1/events` for up to `secs` seconds (curl), with an optional
/// `Last-Event-ID`; the SSE text.
fn sse(s: &Server, last: Option<u64>, secs: &str) -> String {
    let admin = s.admin.expect("admin");
    let mut cmd = Command::new("curl");
    cmd.args(["-sN", "--max-time", secs]);
    if let Some(id) = last {
        cmd.args(["-H", &format!("Last-Event-ID: {id}")]);
    }
    cmd.arg(format!("http://{admin}/v1/events"));
    String::from_utf8_lossy(&cmd.output().expect("curl").stdout).into_owned()
}

#[test]
fn changes_reach_a_webhook_with_retries_and_the_event_stream() {
    let web = Backend::http_at("127.0.0.11");
    let hook = Receiver::start(2);
    let config = CONFIG
        .replace("WEB", &web.port().to_string())
        .replace("HOOK", &hook.port.to_string());
    let s = Server::start(
        &config,
        &[
            ("gslb.test.zone", GSLB_TEST_ZONE),
            ("token.txt", &format!("{TOKEN}\n")),
        ],
    );

    // Endpoint health and, with it, the pool's availability.
    web.status(503);
    let e = hook.wait_for("endpoint_health", "127.0.0.11", "unhealthy");
    assert_eq!(e["why"], "HTTP 503", "{e}");
    assert_eq!(e["source"], "probe", "{e}");
    assert!(e["time"].as_str().is_some_and(|t| t.ends_with('Z')), "{e}");
    let p = hook.wait_for(
        "pool_availability",
        "www.gslb.test pool us-east",
        "unavailable",
    );
    assert_eq!(p["source"], "health", "{p}");
    assert!(
        hook.requests.load(Ordering::SeqCst) >= 2 + hook.events().len(),
        "the first two deliveries were refused and retried"
    );
    assert!(
        hook.bodies
            .lock()
            .expect("bodies")
            .iter()
            .all(|(_, a)| a == "Bearer hook-secret"),
        "the webhook's own header is sent"
    );
    web.status(200);
    hook.wait_for("endpoint_health", "127.0.0.11", "healthy");

    // An override for one second: set, then lapsed.
    let r = s.admin(
        "PUT",
        "/v1/regions/eu-west/override",
        Some(r#"{"state":"down","for":"1s"}"#),
        Some(TOKEN),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let o = hook.wait_for("override_set", "region eu-west", "down");
    assert_eq!(o["source"], "admin", "{o}");
    hook.wait_for("region_state", "region eu-west", "down");
    let l = hook.wait_for("override_lapsed", "region eu-west", "auto");
    assert_eq!(l["source"], "expiry", "{l}");
    hook.wait_for("region_state", "region eu-west", "auto");

    // A reload.
    let r = s.admin("POST", "/v1/reload", None, Some(TOKEN));
    assert_eq!(r.status, 200, "{}", r.body);
    let reload = hook.wait_for("reload", "config", "ok");

    // The stream replays what happened, in order, with ids.
    let text = sse(&s, None, "2");
    for kind in [
        "endpoint_health",
        "pool_availability",
        "override_set",
        "override_lapsed",
        "region_state",
        "reload",
    ] {
        assert!(text.contains(&format!("event: {kind}\n")), "{kind}: {text}");
    }
    assert!(text.contains("data: {\"id\":"), "{text}");
    // A client that reconnects gets what it missed only.
    let id = reload["id"].as_u64().expect("id");
    let text = sse(&s, Some(id - 1), "2");
    assert!(text.contains(&format!("id: {id}\n")), "{text}");
    assert!(!text.contains(&format!("id: {}\n", id - 1)), "{text}");
    let metrics = s.admin("GET", "/metrics", None, None).body;
    assert!(
        metrics.contains("meridian_events_dropped_total 0"),
        "{metrics}"
    );
}
