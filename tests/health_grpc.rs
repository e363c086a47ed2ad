//! gRPC health checks (issue 17, part 2) against a real gRPC health server:
//! `grpcio-health-checking` in tests/fixtures/grpc/health_server.py,
//! started by each test, switched between SERVING and NOT_SERVING while
//! `dig` watches the answers. Plaintext and TLS (private CA, client
//! certificate).

mod common;

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::time::Duration;

use common::{Dig, Server, eventually, repo};

const ZONE: &str = "$ORIGIN gslb.test.
$TTL 300
@    IN SOA ns1 hostmaster ( 1 3600 600 86400 45 )
@    IN NS  ns1
ns1  IN A   192.0.2.53
";

const CONFIG: &str = r#"
dns:
  listen: ["LISTEN"]
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

/// The Python health server, killed by PID when dropped.
struct HealthServer {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
    port: u16,
}

impl HealthServer {
    fn start(args: &[&str]) -> Self {
        let script = repo().join("tests/fixtures/grpc/health_server.py");
        let mut child = Command::new("python3")
            .arg(script)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("python3 (install grpcio-health-checking: make deps-test)");
        let stdin = child.stdin.take().expect("stdin");
        let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
        let mut line = String::new();
        // Bounded: the server prints its port once listening, or exits.
        stdout.read_line(&mut line).expect("read port");
        let Some(port) = line
            .strip_prefix("listening ")
            .and_then(|p| p.trim().parse().ok())
        else {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "the gRPC health server did not start (pip install grpcio-health-checking?): {line:?}"
            );
        };
        Self {
            child,
            stdin,
            stdout,
            port,
        }
    }

    /// Set `service` ("-": the server as a whole) to `status`.
    fn set(&mut self, service: &str, status: &str) {
        writeln!(self.stdin, "{service} {status}").expect("write");
        self.stdin.flush().expect("flush");
        let mut ack = String::new();
        self.stdout.read_line(&mut ack).expect("ack");
        assert_eq!(ack.trim(), "ok");
    }
}

impl Drop for HealthServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

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

const TIMING: &str = "interval: 400ms, timeout: 300ms, rise: 1, fall: 1";

#[test]
fn grpc_service_serving_and_not_serving_move_traffic() {
    let mut grpc = HealthServer::start(&[]);
    grpc.set("orders.v1.Orders", "SERVING");
    let s = start(
        &format!("{{ type: grpc, port: 1, service: orders.v1.Orders, {TIMING} }}"),
        grpc.port,
        &[],
    );
    let d = s.dig(&["www.gslb.test", "A"]);
    assert!(up(&d), "{}\n{}", d.raw, s.log());

    grpc.set("orders.v1.Orders", "NOT_SERVING");
    until(&s, false);
    log_has(&s, "is now unhealthy: gRPC NOT_SERVING");

    grpc.set("orders.v1.Orders", "SERVING");
    until(&s, true);

    // The server going away is a failure too.
    drop(grpc);
    until(&s, false);
}

#[test]
fn grpc_unknown_service_and_whole_server() {
    let mut grpc = HealthServer::start(&[]);
    // A service the server does not know: NOT_FOUND.
    let s = start(
        &format!("{{ type: grpc, port: 1, service: nope, {TIMING} }}"),
        grpc.port,
        &[],
    );
    assert_eq!(s.dig(&["www.gslb.test", "A"]).status, "SERVFAIL");
    log_has(&s, "is now unhealthy: gRPC status NotFound");
    drop(s);

    // No service: the server as a whole.
    let s = start(
        &format!("{{ type: grpc, port: 1, {TIMING} }}"),
        grpc.port,
        &[],
    );
    assert!(up(&s.dig(&["www.gslb.test", "A"])));
    grpc.set("-", "NOT_SERVING");
    until(&s, false);
}

#[test]
fn grpc_over_tls_with_a_private_ca_and_client_certificate() {
    use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
    let mut params = CertificateParams::new(Vec::<String>::new()).expect("params");
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    // Not rcgen's default name, which the leaves carry too: a leaf whose
    // issuer name is its own subject looks self-signed to OpenSSL.
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "meridian test CA");
    let ca = CertifiedIssuer::self_signed(params, KeyPair::generate().expect("key")).expect("CA");
    let leaf = |names: Vec<String>| {
        let key = KeyPair::generate().expect("key");
        let cert = CertificateParams::new(names)
            .expect("params")
            .signed_by(&key, &ca)
            .expect("sign");
        (cert.pem(), key.serialize_pem())
    };
    let (server_cert, server_key) = leaf(vec!["localhost".into(), "127.0.0.1".into()]);
    let (client_cert, client_key) = leaf(vec!["probe.meridian.test".into()]);
    let dir = tempfile::tempdir().expect("tempdir");
    let write = |name: &str, text: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, text).expect("write");
        path.display().to_string()
    };
    let (cert_path, key_path, ca_path) = (
        write("server.pem", &server_cert),
        write("server.key", &server_key),
        write("ca.pem", &ca.pem()),
    );
    let mut grpc = HealthServer::start(&["--tls", &cert_path, &key_path, "--client-ca", &ca_path]);
    let files = [
        ("ca.pem", ca.pem()),
        ("client.pem", client_cert),
        ("client.key", client_key),
    ];
    let files: Vec<(&str, &str)> = files.iter().map(|(n, t)| (*n, t.as_str())).collect();
    let s = start(
        &format!(
            "{{ type: grpc, port: 1, tls: true, tls_ca: ca.pem, tls_client_cert: client.pem, tls_client_key: client.key, {TIMING} }}"
        ),
        grpc.port,
        &files,
    );
    let d = s.dig(&["www.gslb.test", "A"]);
    assert!(up(&d), "{}\n{}", d.raw, s.log());
    grpc.set("-", "NOT_SERVING");
    until(&s, false);
    drop(s);

    // Plaintext to a TLS server, and TLS without the client certificate:
    // both fail.
    grpc.set("-", "SERVING");
    let s = start(
        &format!("{{ type: grpc, port: 1, {TIMING} }}"),
        grpc.port,
        &files,
    );
    assert_eq!(s.dig(&["www.gslb.test", "A"]).status, "SERVFAIL");
    drop(s);
    let s = start(
        &format!("{{ type: grpc, port: 1, tls: true, tls_ca: ca.pem, {TIMING} }}"),
        grpc.port,
        &files,
    );
    assert_eq!(s.dig(&["www.gslb.test", "A"]).status, "SERVFAIL");
}
