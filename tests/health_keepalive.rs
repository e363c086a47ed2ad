//! Probing at scale (issue 17, part 8): HTTP checks reuse their connection
//! (keep-alive) instead of opening one per check, and a server that goes
//! away is still seen as down at once. A keep-alive HTTP server the test
//! runs counts the connections it accepts and the requests it answers.

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use common::{GSLB_TEST_ZONE, Server, eventually};

/// HTTP/1.1 with keep-alive on 127.0.0.1; stopped (listener closed, every
/// connection dropped) by `stop`.
struct KeepAlive {
    addr: SocketAddr,
    accepted: Arc<AtomicUsize>,
    requests: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
}

impl KeepAlive {
    fn start(port: u16) -> Self {
        let listener = TcpListener::bind(("127.0.0.1", port)).expect("bind");
        let addr = listener.local_addr().expect("addr");
        let accepted = Arc::new(AtomicUsize::new(0));
        let requests = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (a, r, s) = (accepted.clone(), requests.clone(), stop.clone());
        std::thread::spawn(move || {
            while !s.load(Ordering::SeqCst) {
                let Ok((mut stream, _)) = listener.accept() else {
                    continue;
                };
                if s.load(Ordering::SeqCst) {
                    break;
                }
                a.fetch_add(1, Ordering::SeqCst);
                let (r, s) = (r.clone(), s.clone());
                std::thread::spawn(move || {
                    let _ = stream.set_nonblocking(false);
                    let _ = stream.set_read_timeout(Some(Duration::from_millis(50)));
                    let mut buf = Vec::new();
                    let mut chunk = [0u8; 1024];
                    while !s.load(Ordering::SeqCst) {
                        match stream.read(&mut chunk) {
                            Ok(0) => return,
                            Ok(n) => buf.extend_from_slice(&chunk[..n]),
                            Err(e)
                                if e.kind() == std::io::ErrorKind::WouldBlock
                                    || e.kind() == std::io::ErrorKind::TimedOut =>
                            {
                                continue;
                            }
                            Err(_) => return,
                        }
                        while let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                            buf.drain(..end + 4);
                            r.fetch_add(1, Ordering::SeqCst);
                            let reply = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
                            if stream.write_all(reply).is_err() {
                                return;
                            }
                        }
                    }
                });
            }
        });
        Self {
            addr,
            accepted,
            requests,
            stop,
        }
    }
}

impl Drop for KeepAlive {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the blocked accept, which then sees `stop`.
        let _ = std::net::TcpStream::connect(self.addr);
    }
}

const CONFIG: &str = r#"
dns:
  listen: ["LISTEN"]
regions:
  us-east: {}
monitors:
  web: { type: http, port: 1, interval: 200ms, timeout: 150ms, rise: 1, fall: 1 }
zones:
  - origin: gslb.test.
    file: gslb.test.zone
    services:
      www:
        policy: failover
        all_down: servfail
        pools:
          us-east:
            monitor: web
            endpoints: [{ address: 127.0.0.11, probe: "127.0.0.1:PORT" }]
"#;

fn answer(s: &Server) -> String {
    let d = s.dig(&["www.gslb.test", "A"]);
    if d.status == "SERVFAIL" {
        "SERVFAIL".into()
    } else {
        d.answers("A").join(",")
    }
}

#[test]
fn http_checks_reuse_one_connection_and_a_server_gone_is_down_at_once() {
    let backend = KeepAlive::start(0);
    let port = backend.addr.port();
    let s = Server::start(
        &CONFIG.replace("PORT", &port.to_string()),
        &[("gslb.test.zone", GSLB_TEST_ZONE)],
    );
    assert_eq!(answer(&s), "127.0.0.11", "{}", s.log());
    eventually(Duration::from_secs(10), "ten checks", || {
        (backend.requests.load(Ordering::SeqCst) >= 10).then_some(())
    });
    let accepted = backend.accepted.load(Ordering::SeqCst);
    assert!(
        accepted <= 2,
        "{accepted} connections for {} checks: each check should not connect anew",
        backend.requests.load(Ordering::SeqCst)
    );

    // The server goes away: its connection closes, the next check is
    // refused, and the endpoint is out.
    drop(backend);
    eventually(Duration::from_secs(5), "SERVFAIL", || {
        (answer(&s) == "SERVFAIL").then_some(())
    });
    assert!(
        s.log().contains("is now unhealthy: connection refused"),
        "{}",
        s.log()
    );
    // Back on the same port: healthy again.
    let again = KeepAlive::start(port);
    eventually(Duration::from_secs(5), "back", || {
        (answer(&s) == "127.0.0.11").then_some(())
    });
    drop(again);
}
