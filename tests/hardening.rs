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

/// The value of a `/metrics` line `name{labels} value`, or None.
fn metric(s: &Server, series: &str) -> Option<u64> {
    let body = s.admin("GET", "/metrics", None, None).body;
    body.lines()
        .find_map(|l| l.strip_prefix(&format!("{series} ")))
        .and_then(|v| v.trim().parse().ok())
}

/// A query for `static.gslb.test` whose OPT record holds one option
/// (code 65001) that says it is `claimed` bytes long and carries the
/// rest of the record, `rdlen` bytes in all: hickory reads it, warns with
/// every byte collected, and drops the options.
fn edns_option_past_the_record(id: u16, rdlen: u16, claimed: u16) -> Vec<u8> {
    let mut p = build_query(id, "static.gslb.test", 1);
    p[11] = 1; // ARCOUNT
    p.extend_from_slice(&[0, 0, 41, 0x04, 0xd0, 0, 0, 0, 0]);
    p.extend_from_slice(&rdlen.to_be_bytes());
    p.extend_from_slice(&65001u16.to_be_bytes());
    p.extend_from_slice(&claimed.to_be_bytes());
    p.extend(std::iter::repeat_n(0xab, usize::from(rdlen) - 4));
    p
}

/// Issue 14 item 3: 1,000 packets with an EDNS option longer than its
/// record each get FORMERR, are counted by reason, and cost a bounded,
/// sampled log: not hickory's multi-kilobyte line per packet.
#[test]
fn malformed_edns_options_are_counted_and_do_not_flood_the_log() {
    let s = server("");
    let before = s.log().len();
    let sock = UdpSocket::bind("127.0.0.1:0").expect("bind");
    sock.set_read_timeout(Some(Duration::from_secs(2)))
        .expect("timeout");
    let mut formerr = 0;
    let mut buf = [0u8; 2048];
    let started = Instant::now();
    for id in 0..1000u16 {
        let packet = edns_option_past_the_record(id, 1000, 1000);
        sock.send_to(&packet, s.dns).expect("send");
        if let Ok((n, _)) = sock.recv_from(&mut buf)
            && n >= 12
            && buf[3] & 0x0f == 1
        {
            formerr += 1;
        }
    }
    let elapsed = started.elapsed();
    assert_eq!(formerr, 1000, "every such packet is answered FORMERR");
    let counted = eventually(Duration::from_secs(5), "the malformed counter", || {
        metric(
            &s,
            "meridian_malformed_queries_total{reason=\"edns_option_length\"}",
        )
        .filter(|n| *n >= 1000)
    });
    assert_eq!(counted, 1000);
    // The neighbour: a well-formed unknown option is neither refused nor
    // counted.
    let d = s.dig(&["+ednsopt=65001:abcd", "static.gslb.test", "A"]);
    assert_eq!(d.status, "NOERROR", "{}", d.raw);
    assert_eq!(
        metric(
            &s,
            "meridian_malformed_queries_total{reason=\"edns_option_length\"}"
        ),
        Some(1000)
    );
    // At most one sample line a second (plus one), each short.
    let log = s.log();
    let grown = &log[before.min(log.len())..];
    let lines = grown.lines().filter(|l| l.contains("malformed")).count();
    let allowed = usize::try_from(elapsed.as_secs()).unwrap_or(usize::MAX) + 2;
    assert!(
        !grown.contains("poorly formatted") && grown.len() < 600 * allowed,
        "{} bytes of log for 1,000 packets ({lines} lines, {elapsed:?}):\n{}",
        grown.len(),
        &grown[..grown.len().min(3000)]
    );
    assert!(
        lines >= 1 && lines <= allowed,
        "{lines} sample lines in {elapsed:?}:\n{grown}"
    );
}

/// Write framed queries to `conn` without ever reading, until the server
/// closes the connection (a write fails) or `within` passes. Returns how
/// many bytes went out, when a write first blocked, and when the server
/// was seen to close the connection, if it did.
fn send_without_reading(
    mut conn: TcpStream,
    within: Duration,
    on_block: Option<std::sync::mpsc::Sender<()>>,
) -> (usize, Option<Instant>, Option<Instant>) {
    use std::io::Write;
    let query = build_query(3, "static.gslb.test", 1);
    let mut frame = u16::try_from(query.len())
        .expect("small")
        .to_be_bytes()
        .to_vec();
    frame.extend_from_slice(&query);
    let chunk: Vec<u8> = frame
        .iter()
        .copied()
        .cycle()
        .take(frame.len() * 2000)
        .collect();
    conn.set_write_timeout(Some(Duration::from_millis(200)))
        .expect("timeout");
    let start = Instant::now();
    let mut sent = 0;
    let mut blocked: Option<Instant> = None;
    while start.elapsed() < within {
        match conn.write(&chunk) {
            Ok(n) => sent += n,
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                if blocked.is_none()
                    && let Some(tx) = &on_block
                {
                    let _ = tx.send(());
                }
                blocked.get_or_insert_with(Instant::now);
            }
            Err(_) => return (sent, blocked, Some(Instant::now())),
        }
        // Once blocked, knock now and then rather than spin.
        if blocked.is_some() {
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    (sent, blocked, None)
}

/// Poll `/metrics` until the count of TCP answers stays the same for
/// half a second (bounded).
fn wait_until_tcp_answers_stop(s: &Server) {
    let answered = || {
        let body = s.admin("GET", "/metrics", None, None).body;
        body.lines()
            .filter(|l| l.starts_with("meridian_queries_total{") && l.contains("transport=\"tcp\""))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
            .sum::<u64>()
    };
    let mut last = answered();
    eventually(
        Duration::from_secs(20),
        "the server to stop answering",
        || {
            std::thread::sleep(Duration::from_millis(500));
            let now = answered();
            let quiet = now == last;
            last = now;
            quiet.then_some(())
        },
    );
}

/// Issue 14 item 4: clients that send 4 MB of queries and read nothing
/// block the server's writes; each is closed after the idle timeout
/// (2 s here), far before its 60 s lifetime, and counted.
#[test]
fn a_client_that_never_reads_is_closed_by_the_idle_timeout() {
    let s = server("  tcp_idle_timeout: 2s\n  tcp_timeout: 60s\n  tcp_max_connections: 50\n");
    let clients: Vec<_> = (0..4)
        .map(|_| {
            let conn = s.tcp();
            std::thread::spawn(move || send_without_reading(conn, Duration::from_secs(40), None))
        })
        .collect();
    for c in clients {
        let (sent, blocked, closed) = c.join().expect("client");
        let closed = closed.unwrap_or_else(|| {
            panic!("the server never closed a client that sent {sent} bytes and read nothing")
        });
        let after = closed.duration_since(blocked.unwrap_or(closed));
        assert!(sent >= 1 << 20, "only {sent} bytes of queries went out");
        // The server may still be answering the queries in its buffer when
        // the client blocks; it blocks in turn, then closes 2 s later.
        assert!(
            after < Duration::from_secs(30),
            "closed {after:?} after it blocked (tcp_timeout is 60s)"
        );
    }
    let timeouts = eventually(Duration::from_secs(5), "write timeouts counted", || {
        metric(&s, "meridian_tcp_closed_total{reason=\"write_timeout\"}").filter(|n| *n >= 4)
    });
    assert_eq!(timeouts, 4);
    // The server still answers over TCP.
    let d = s.dig(&["+tcp", "static.gslb.test", "A"]);
    assert_eq!(d.answers("A"), vec!["192.0.2.1"]);
}

/// Issue 14 item 4: eviction reaches a connection blocked in a write. With
/// a limit of 2 and a long idle timeout, two non-reading clients are
/// evicted by the connections that come after them.
#[test]
fn eviction_closes_a_connection_blocked_in_a_write() {
    let s = server("  tcp_idle_timeout: 30s\n  tcp_timeout: 60s\n  tcp_max_connections: 2\n");
    let (tx, blocked) = std::sync::mpsc::channel();
    let stuck: Vec<_> = (0..2)
        .map(|_| {
            let conn = s.tcp();
            let tx = tx.clone();
            std::thread::spawn(move || {
                send_without_reading(conn, Duration::from_secs(40), Some(tx))
            })
        })
        .collect();
    // Both fill the buffers; once the server has stopped answering (it
    // is blocked writing to each), two new connections each evict the
    // connection idle longest.
    for _ in 0..2 {
        blocked
            .recv_timeout(Duration::from_secs(15))
            .expect("a client that does not read blocks");
    }
    wait_until_tcp_answers_stop(&s);
    let newer: Vec<TcpStream> = (0..2)
        .map(|_| {
            let c = s.tcp();
            std::thread::sleep(Duration::from_millis(100));
            c
        })
        .collect();
    let d = s.dig(&["+tcp", "static.gslb.test", "A"]);
    assert_eq!(d.answers("A"), vec!["192.0.2.1"], "{}", d.raw);
    let evicted = Instant::now();
    for c in stuck {
        let (sent, _, closed) = c.join().expect("client");
        // Closed soon after the eviction, not by the 30 s idle timeout.
        let after = closed.map(|t| t.saturating_duration_since(evicted));
        assert!(
            after.is_some_and(|d| d < Duration::from_secs(10)),
            "an evicted connection blocked in a write stayed open ({sent} bytes sent): {after:?}\n{}",
            s.admin("GET", "/metrics", None, None).body
        );
    }
    assert!(metric(&s, "meridian_tcp_closed_total{reason=\"evicted\"}").is_some_and(|n| n >= 2));
    drop(newer);
}

/// Issue 14 item 6: packets dropped for being too short or having QR set,
/// RRL drops, and UDP socket errors each have a counter in `/metrics`.
#[test]
fn drops_and_socket_errors_are_counted_in_metrics() {
    let s = server("  rrl: { responses_per_second: 5, slip: 0 }\n");
    assert_eq!(
        s.udp_raw(&[0, 1, 0, 0, 0], Duration::from_millis(300)),
        None
    );
    let mut response = build_query(4, "static.gslb.test", 1);
    response[2] |= 0x80;
    assert_eq!(s.udp_raw(&response, Duration::from_millis(300)), None);
    assert_eq!(s.udp_raw(&response, Duration::from_millis(300)), None);
    let (replies, _) = flood(&s, "127.0.0.1:0", 100);
    let read =
        |series: &str| metric(&s, series).unwrap_or_else(|| panic!("no {series} in /metrics"));
    // What RRL dropped is not counted as answered (issue 20 moved RRL
    // before rendering): the answers counted are the replies received.
    let answered = read(
        "meridian_queries_total{zone=\"gslb.test.\",type=\"A\",rcode=\"NOERROR\",transport=\"udp\"}",
    );
    assert_eq!(answered, u64::try_from(replies).unwrap_or(0));
    assert!(replies < 100, "RRL dropped some of the flood");
    eventually(Duration::from_secs(5), "the drop counters", || {
        (read("meridian_dropped_queries_total{reason=\"too_short\"}") == 1
            && read("meridian_dropped_queries_total{reason=\"qr_set\"}") == 2)
            .then_some(())
    });
    assert!(read("meridian_dropped_queries_total{reason=\"rrl\"}") > 0);
    read("meridian_udp_errors_total{op=\"receive\"}");
    read("meridian_udp_errors_total{op=\"send\"}");
    // The neighbour: a real query is answered and not counted as dropped.
    let other = UdpSocket::bind("127.0.2.1:0").expect("bind");
    other
        .set_read_timeout(Some(Duration::from_secs(2)))
        .expect("timeout");
    other
        .send_to(&build_query(5, "static.gslb.test", 1), s.dns)
        .expect("send");
    let mut buf = [0u8; 512];
    assert!(other.recv_from(&mut buf).is_ok());
    assert_eq!(read("meridian_dropped_queries_total{reason=\"qr_set\"}"), 2);
}
