//! Probes that backends accept (issue 17, part 1): the method, headers
//! (from the config, an environment variable or a file, never logged or
//! shown by the admin API), the default `User-Agent: meridian/<version>`,
//! `expect_body_regex`, redirects judged and not followed, and mutual TLS
//! with a private CA. Real HTTP(S) backends on loopback, answers seen with
//! `dig`.

mod common;

use std::time::Duration;

use common::http::{Backend, Mode};
use common::{Dig, Server, eventually};

const ZONE: &str = "$ORIGIN gslb.test.
$TTL 300
@    IN SOA ns1 hostmaster ( 1 3600 600 86400 45 )
@    IN NS  ns1
ns1  IN A   192.0.2.53
";

/// One region whose single endpoint is probed at `127.0.0.1:PORT`;
/// SERVFAIL when it is down.
const CONFIG: &str = r#"
dns:
  listen: ["LISTEN"]
admin:
  listen: "ADMIN_LISTEN"
regions:
  us-east: {}
monitors:
  check: MONITOR
zones:
  - origin: gslb.test.
    file: gslb.test.zone
    services:
      www:
        policy: failover
        all_down: servfail
        pools:
          us-east:
            monitor: check
            endpoints:
              - { address: 127.0.0.11, probe: "127.0.0.1:PORT" }
"#;

fn start(monitor: &str, port: u16, files: &[(&str, &str)]) -> Server {
    let config = CONFIG
        .replace("MONITOR", monitor)
        .replace("PORT", &port.to_string());
    let mut all = vec![("gslb.test.zone", ZONE)];
    all.extend_from_slice(files);
    Server::start(&config, &all)
}

fn up(d: &Dig) -> bool {
    d.answers("A") == ["127.0.0.11"]
}

/// Wait (bounded) until the answer is `healthy` (an address) or not
/// (SERVFAIL).
fn until(s: &Server, healthy: bool) {
    eventually(Duration::from_secs(6), "the answer to change", || {
        let d = s.dig(&["www.gslb.test", "A"]);
        (up(&d) == healthy && (healthy || d.status == "SERVFAIL")).then_some(())
    });
}

fn log_has(s: &Server, text: &str) {
    eventually(Duration::from_secs(5), text, || {
        s.log().contains(text).then_some(())
    });
}

#[test]
fn method_headers_from_env_and_file_and_user_agent_reach_the_backend() {
    let backend = Backend::http();
    // The variable is set in this process (one test in this binary reads
    // it) and inherited by the server.
    // SAFETY: no other thread of this test binary reads or writes the
    // environment while this runs: no other test here touches it.
    unsafe { std::env::set_var("MERIDIAN_TEST_PROBE_KEY", "key-from-env") };
    let monitor = "{ type: http, method: HEAD, path: /ready, interval: 400ms, timeout: 300ms, rise: 1, fall: 1, \
         headers: { Authorization: { file: token }, X-Api-Key: { env: MERIDIAN_TEST_PROBE_KEY }, X-Team: gslb } }";
    let s = start(
        monitor,
        backend.port(),
        &[("token", "Bearer s3cret-from-file\n")],
    );
    assert!(up(&s.dig(&["www.gslb.test", "A"])));
    assert_eq!(backend.last_method().as_deref(), Some("HEAD"));
    assert_eq!(
        backend.last_header("authorization").as_deref(),
        Some("Bearer s3cret-from-file")
    );
    assert_eq!(
        backend.last_header("x-api-key").as_deref(),
        Some("key-from-env")
    );
    assert_eq!(backend.last_header("x-team").as_deref(), Some("gslb"));
    assert_eq!(
        backend.last_header("user-agent"),
        Some(format!("meridian/{}", env!("CARGO_PKG_VERSION")))
    );

    // A backend that refuses requests without the token: 403 turns the
    // endpoint down, and the token is nowhere in what operators see.
    backend.status(403);
    until(&s, false);
    log_has(&s, "is now unhealthy: HTTP 403");
    for path in ["/v1/regions", "/v1/status", "/v1/services"] {
        let reply = s.admin("GET", path, None, None);
        for secret in ["s3cret-from-file", "key-from-env"] {
            assert!(!reply.body.contains(secret), "{path} shows {secret}");
        }
    }
    for secret in ["s3cret-from-file", "key-from-env"] {
        assert!(!s.log().contains(secret), "the log shows {secret}");
    }
}

#[test]
fn user_agent_in_headers_replaces_the_default() {
    let backend = Backend::http();
    let monitor = "{ type: http, interval: 400ms, timeout: 300ms, rise: 1, fall: 1, headers: { User-Agent: probe/7 } }";
    let s = start(monitor, backend.port(), &[]);
    assert!(up(&s.dig(&["www.gslb.test", "A"])));
    assert_eq!(
        backend.last_header("user-agent").as_deref(),
        Some("probe/7")
    );
}

#[test]
fn body_regex_decides_health() {
    let backend = Backend::http();
    backend.set(Mode::Status(200, "status: ok build 42".into()));
    let monitor = r#"{ type: http, interval: 400ms, timeout: 300ms, rise: 1, fall: 1, expect_body_regex: "^status: (ok|degraded) build [0-9]+$" }"#;
    let s = start(monitor, backend.port(), &[]);
    assert!(up(&s.dig(&["www.gslb.test", "A"])));
    backend.set(Mode::Status(200, "status: failing build 42".into()));
    until(&s, false);
    log_has(
        &s,
        "is now unhealthy: body does not match /^status: (ok|degraded)",
    );
    backend.set(Mode::Status(200, "status: degraded build 43".into()));
    until(&s, true);
}

#[test]
fn redirect_is_judged_by_expect_status_and_not_followed() {
    let backend = Backend::http();
    backend.set(Mode::Status(302, "moved".into()));
    // By default any 2xx or 3xx passes: the 302 itself, not where it points.
    let s = start(
        "{ type: http, path: /ready, interval: 400ms, timeout: 300ms, rise: 1, fall: 1 }",
        backend.port(),
        &[],
    );
    assert!(up(&s.dig(&["www.gslb.test", "A"])));
    drop(s);
    let hits = backend.hits();
    // With `expect_status: [200]`, the redirect is a failure; following it
    // would have fetched /elsewhere (which this backend answers 302 too,
    // so the request line tells).
    let s = start(
        "{ type: http, path: /ready, interval: 400ms, timeout: 300ms, rise: 1, fall: 1, expect_status: [200] }",
        backend.port(),
        &[],
    );
    let d = s.dig(&["www.gslb.test", "A"]);
    assert_eq!(d.status, "SERVFAIL", "{}", d.raw);
    log_has(&s, "is now unhealthy: HTTP 302");
    assert!(backend.hits() > hits);
    let _ = backend.last_header("host");
    assert_eq!(backend.last_method().as_deref(), Some("GET"));
    eventually(Duration::from_secs(2), "a request line", || {
        backend.last_request_line()
    });
    assert!(
        backend
            .last_request_line()
            .is_some_and(|l| l.starts_with("GET /ready ")),
        "{:?}",
        backend.last_request_line()
    );
}

#[test]
fn mutual_tls_with_a_private_ca() {
    let backend = Backend::https_mutual();
    let pki = backend.pki.as_ref().expect("pki");
    let files = [
        ("ca.pem", pki.ca.as_str()),
        ("client.pem", pki.client_cert.as_str()),
        ("client.key", pki.client_key.as_str()),
        ("stranger.pem", pki.stranger_cert.as_str()),
        ("stranger.key", pki.stranger_key.as_str()),
    ];
    let base = "type: https, path: /ready, host: localhost, interval: 1s, timeout: 900ms, rise: 1, fall: 1";

    // The private CA and a certificate it signed: healthy.
    let s = start(
        &format!(
            "{{ {base}, tls_ca: ca.pem, tls_client_cert: client.pem, tls_client_key: client.key }}"
        ),
        backend.port(),
        &files,
    );
    let d = s.dig(&["www.gslb.test", "A"]);
    assert!(up(&d), "{}\n{}", d.raw, s.log());
    assert_eq!(backend.last_method().as_deref(), Some("GET"));
    drop(s);

    // Without a client certificate the server ends the handshake.
    let s = start(
        &format!("{{ {base}, tls_ca: ca.pem }}"),
        backend.port(),
        &files,
    );
    assert_eq!(s.dig(&["www.gslb.test", "A"]).status, "SERVFAIL");
    log_has(&s, "is now unhealthy:");
    drop(s);

    // A client certificate from another CA: refused too.
    let s = start(
        &format!(
            "{{ {base}, tls_ca: ca.pem, tls_client_cert: stranger.pem, tls_client_key: stranger.key }}"
        ),
        backend.port(),
        &files,
    );
    assert_eq!(s.dig(&["www.gslb.test", "A"]).status, "SERVFAIL");
    drop(s);

    // The right client certificate but the system's CAs: the server's
    // certificate is not trusted.
    let s = start(
        &format!("{{ {base}, tls_client_cert: client.pem, tls_client_key: client.key }}"),
        backend.port(),
        &files,
    );
    assert_eq!(s.dig(&["www.gslb.test", "A"]).status, "SERVFAIL");
    log_has(&s, "is now unhealthy: TLS: invalid peer certificate");
}
