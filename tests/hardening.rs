//! Abuse and protocol compliance (issue 7): response rate limiting, TCP
//! connection limits against slow clients, and EDNS as resolvers expect it
//! (DNS Flag Day): NSID, DO, unknown options and flags.

mod common;

use std::net::{TcpStream, UdpSocket};
use std::time::{Duration, Instant};

use common::{Server, build_query, eventually, repo, tcp_recv, tcp_send};

fn zone() -> String {
    std::fs::read_to_string(repo().join("tests/fixtures/static/gslb.test.zone")).expect("zone")
}

fn server(dns_extra: &str) -> Server {
    let config = format!(
        "dns:\n  listen: [\"LISTEN\"]\n{dns_extra}admin:\n  listen: \"ADMIN_LISTEN\"\n\
         regions:\n  here: {{}}\nzones:\n  - origin: gslb.test.\n    file: gslb.test.zone\n"
    );
    Server::start(&config, &[("gslb.test.zone", &zone())])
}

/// Send `n` queries from `from` as fast as the socket allows; count the
/// replies and how many were truncated.
fn flood(s: &Server, from: &str, n: u16) -> (usize, usize) {
    let sock = UdpSocket::bind(from).expect("bind a loopback source");
    sock.set_read_timeout(Some(Duration::from_millis(300)))
        .expect("timeout");
    for id in 0..n {
        sock.send_to(&build_query(id, "static.gslb.test", 1), s.dns)
            .expect("send");
    }
    let (mut replies, mut truncated) = (0, 0);
    let mut buf = [0u8; 2048];
    while let Ok((len, _)) = sock.recv_from(&mut buf) {
        replies += 1;
        if len >= 12 && buf[2] & 0x02 != 0 {
            truncated += 1;
        }
    }
    (replies, truncated)
}

#[test]
fn rrl_limits_a_flooding_prefix_slips_some_and_spares_others() {
    let s = server("  rrl: { responses_per_second: 20, slip: 2 }\n");
    let (replies, truncated) = flood(&s, "127.0.0.1:0", 400);
    // 20 full answers in this second (maybe 40 if the flood straddles a
    // second), then every 2nd limited response truncated, the rest dropped.
    assert!(replies < 400, "nothing was limited: {replies}");
    assert!(
        truncated > 50,
        "slipped answers expected: {replies} replies, {truncated} TC"
    );
    assert!(
        replies - truncated <= 60,
        "{replies} replies, {truncated} TC"
    );

    // Another /24 is answered while the flood's budget is spent.
    let other = UdpSocket::bind("127.0.1.1:0").expect("bind 127.0.1.1");
    other
        .set_read_timeout(Some(Duration::from_secs(2)))
        .expect("timeout");
    other
        .send_to(&build_query(7, "static.gslb.test", 1), s.dns)
        .expect("send");
    let mut buf = [0u8; 512];
    let (len, _) = other
        .recv_from(&mut buf)
        .expect("the other prefix is answered");
    assert!(len > 12 && buf[2] & 0x02 == 0, "full answer, not truncated");

    // TCP is never limited: the truncated clients' retry works.
    let d = s.dig(&["+tcp", "static.gslb.test", "A"]);
    assert_eq!(d.answers("A"), vec!["192.0.2.1"]);

    let metrics = s.admin("GET", "/metrics", None, None).body;
    let count = |action: &str| -> u64 {
        metrics
            .lines()
            .find_map(|l| {
                l.strip_prefix(&format!(
                    "meridian_rrl_responses_total{{action=\"{action}\"}} "
                ))
            })
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0)
    };
    assert!(count("dropped") > 0 && count("slipped") > 0, "{metrics}");
}

#[test]
fn without_rrl_every_query_is_answered() {
    let s = server("");
    let (replies, truncated) = flood(&s, "127.0.0.1:0", 200);
    assert_eq!(truncated, 0);
    // UDP may drop under a burst in the kernel, but not by policy.
    assert!(replies >= 190, "{replies}");
}

#[test]
fn stalled_tcp_connections_do_not_starve_others() {
    let s = server("  tcp_max_connections: 100\n  tcp_idle_timeout: 30s\n");
    // 500 clients that connect and send nothing (or half a length).
    let mut stalled = Vec::new();
    for i in 0..500 {
        let mut c = TcpStream::connect_timeout(&s.dns, Duration::from_secs(5)).expect("connect");
        if i % 2 == 0 {
            use std::io::Write;
            let _ = c.write_all(&[0]);
        }
        stalled.push(c);
    }
    // A real client still gets its answer.
    let d = s.dig(&["+tcp", "static.gslb.test", "A"]);
    assert_eq!(d.status, "NOERROR", "{}", d.raw);
    assert_eq!(d.answers("A"), vec!["192.0.2.1"]);
    let mut conn = s.tcp();
    tcp_send(&mut conn, &build_query(9, "static.gslb.test", 1));
    assert!(
        tcp_recv(&mut conn).is_some(),
        "answered beside 500 stalled connections"
    );
    drop(stalled);
}

#[test]
fn tcp_connection_is_closed_after_its_total_lifetime_even_if_busy() {
    let s = server("  tcp_idle_timeout: 5s\n  tcp_timeout: 2s\n");
    let mut conn = s.tcp();
    let start = Instant::now();
    let mut answered = 0;
    // Keep it busy: one query every 200ms, never idle.
    let closed_after = eventually(Duration::from_secs(6), "the connection to close", || {
        use std::io::Write;
        let query = build_query(1, "static.gslb.test", 1);
        let mut framed = u16::try_from(query.len())
            .expect("small")
            .to_be_bytes()
            .to_vec();
        framed.extend_from_slice(&query);
        if conn.write_all(&framed).is_err() {
            return Some(start.elapsed());
        }
        match tcp_recv(&mut conn) {
            Some(_) => {
                answered += 1;
                std::thread::sleep(Duration::from_millis(200));
                None
            }
            None => Some(start.elapsed()),
        }
    });
    assert!(answered >= 5, "{answered} answers before the close");
    assert!(
        closed_after >= Duration::from_millis(1800) && closed_after < Duration::from_secs(4),
        "closed after {closed_after:?}, tcp_timeout 2s"
    );
}

#[test]
fn nsid_is_sent_when_asked_and_configured() {
    let s = server("  nsid: \"ns1.example\"\n");
    let d = s.dig(&["+nsid", "static.gslb.test", "A"]);
    assert!(
        d.raw.contains("NSID:") && d.raw.contains("ns1.example"),
        "{}",
        d.raw
    );
    let d = s.dig(&["static.gslb.test", "A"]);
    assert!(!d.raw.contains("NSID:"), "only when asked: {}", d.raw);
    let plain = server("");
    let d = plain.dig(&["+nsid", "static.gslb.test", "A"]);
    assert!(!d.raw.contains("NSID:"), "not configured: {}", d.raw);
    assert_eq!(d.status, "NOERROR");
}

#[test]
fn do_bit_is_copied_and_unknown_options_and_flags_are_ignored() {
    let s = server("");
    let d = s.dig(&["+dnssec", "static.gslb.test", "A"]);
    let edns = d.edns_line().unwrap_or_default().to_string();
    assert!(edns.contains("flags: do"), "{edns}");
    // An unknown option (code 65001) is answered normally and not echoed.
    let d = s.dig(&["+ednsopt=65001:abcd", "static.gslb.test", "A"]);
    assert_eq!(d.status, "NOERROR", "{}", d.raw);
    assert!(!d.opt.iter().any(|l| l.contains("65001")), "{:?}", d.opt);
    // Unknown (must-be-zero) EDNS flags are ignored, not echoed.
    let d = s.dig(&["+ednsflags=0x0100", "static.gslb.test", "A"]);
    assert_eq!(d.status, "NOERROR", "{}", d.raw);
    assert!(!d.raw.contains("MBZ"), "{}", d.raw);
    assert_eq!(d.answers("A"), vec!["192.0.2.1"]);
}

#[test]
fn kdig_sees_the_same_edns_behaviour() {
    let s = server("  nsid: \"ns1.example\"\n");
    let out = std::process::Command::new("kdig")
        .arg(format!("@{}", s.dns.ip()))
        .args([
            "-p",
            &s.dns.port().to_string(),
            "+time=2",
            "+retry=0",
            "+nsid",
            "+dnssec",
        ])
        .args(["static.gslb.test", "A"])
        .output()
        .expect("run kdig");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("NSID:") && text.contains("\"ns1.example\""),
        "{text}"
    );
    assert!(text.contains("flags: do"), "{text}");
}
