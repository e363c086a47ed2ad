//! Message-level rules of SPEC 3.5: EDNS(0) (RFC 6891), truncation and TCP
//! (RFC 7766), opcodes, malformed and unwanted packets.

mod common;

use std::io::Read;
use std::time::{Duration, Instant};

use common::{Server, build_query, rcode, repo, tcp_recv, tcp_send};

fn server() -> Server {
    let dir = repo().join("tests/fixtures/static");
    let read = |f: &str| std::fs::read_to_string(dir.join(f)).expect("fixture");
    Server::start(
        &read("static.yaml"),
        &[
            ("gslb.test.zone", &read("gslb.test.zone")),
            ("other.test.zone", &read("other.test.zone")),
        ],
    )
}

const TXT: u16 = 16;
const A: u16 = 1;

#[test]
fn rfc6891_query_with_opt_gets_opt_back() {
    let s = server();
    let d = s.dig(&["+edns=0", "static.gslb.test", "A"]);
    let edns = d.edns_line().unwrap_or_else(|| panic!("no OPT: {}", d.raw));
    assert!(edns.contains("version: 0"), "{edns}");
    assert!(
        edns.contains("udp: 1232"),
        "we advertise max_udp_payload: {edns}"
    );
}

#[test]
fn query_without_opt_gets_no_opt() {
    let s = server();
    let d = s.dig(&["+noedns", "static.gslb.test", "A"]);
    assert_eq!(d.status, "NOERROR");
    assert!(d.edns_line().is_none(), "{}", d.raw);
}

#[test]
fn rfc6891_edns_version_above_zero_is_badvers() {
    let s = server();
    let d = s.dig(&["+edns=1", "+noednsneg", "static.gslb.test", "A"]);
    assert_eq!(d.status, "BADVERS", "{}", d.raw);
    assert!(
        d.edns_line().is_some_and(|l| l.contains("version: 0")),
        "{}",
        d.raw
    );
    assert!(d.answer.is_empty());
}

#[test]
fn large_answer_over_udp_is_truncated_to_the_client_payload() {
    let s = server();
    let d = s.dig(&["+ignore", "+bufsize=1232", "big.gslb.test", "TXT"]);
    assert!(d.has_flag("tc"), "TC expected: {}", d.raw);
    assert!(d.msg_size.unwrap_or(0) <= 1232, "{}", d.raw);
    // Still an EDNS answer, so the client learns our payload size.
    assert!(d.edns_line().is_some(), "{}", d.raw);
}

#[test]
fn udp_answer_without_edns_stays_within_512_bytes() {
    let s = server();
    let d = s.dig(&["+ignore", "+noedns", "big.gslb.test", "TXT"]);
    assert!(d.has_flag("tc"), "{}", d.raw);
    assert!(d.msg_size.unwrap_or(0) <= 512, "{}", d.raw);
}

#[test]
fn payload_is_capped_by_max_udp_payload_not_just_the_client() {
    let s = server();
    // The client offers 4096; we answer within 1232 (max_udp_payload).
    let d = s.dig(&["+ignore", "+bufsize=4096", "big.gslb.test", "TXT"]);
    assert!(d.has_flag("tc"), "{}", d.raw);
    assert!(d.msg_size.unwrap_or(0) <= 1232, "{}", d.raw);
}

#[test]
fn dig_retries_truncated_answer_over_tcp_and_gets_all_of_it() {
    let s = server();
    let d = s.dig(&["big.gslb.test", "TXT"]);
    assert_eq!(d.status, "NOERROR", "{}", d.raw);
    assert!(!d.has_flag("tc"));
    assert_eq!(d.answers("TXT").len(), 60, "{}", d.raw);
    assert!(d.msg_size.unwrap_or(0) > 1232);
}

#[test]
fn rfc7766_several_queries_on_one_tcp_connection() {
    let s = server();
    let mut conn = s.tcp();
    for id in 1..=3u16 {
        tcp_send(&mut conn, &build_query(id, "static.gslb.test", A));
    }
    for id in 1..=3u16 {
        let resp = tcp_recv(&mut conn).expect("answer on the same connection");
        assert_eq!(u16::from_be_bytes([resp[0], resp[1]]), id);
        assert_eq!(rcode(&resp), 0);
        assert_eq!(u16::from_be_bytes([resp[6], resp[7]]), 1, "one answer");
    }
    // A large answer over TCP is whole.
    tcp_send(&mut conn, &build_query(9, "big.gslb.test", TXT));
    let resp = tcp_recv(&mut conn).expect("big answer");
    assert_eq!(resp[2] & 0x02, 0, "no TC over TCP");
    assert_eq!(u16::from_be_bytes([resp[6], resp[7]]), 60);
}

#[test]
fn rfc7766_idle_tcp_connection_is_closed_after_the_timeout() {
    let s = server(); // tcp_idle_timeout: 1s
    let mut conn = s.tcp();
    conn.set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    let start = Instant::now();
    let mut byte = [0u8; 1];
    let n = conn.read(&mut byte).unwrap_or(0);
    let waited = start.elapsed();
    assert_eq!(n, 0, "server closed the connection");
    assert!(
        waited >= Duration::from_millis(800) && waited < Duration::from_secs(4),
        "closed after {waited:?}, configured 1s"
    );
}

#[test]
fn opcode_other_than_query_is_notimp() {
    let s = server();
    for opcode in ["+opcode=1", "+opcode=2", "+opcode=4", "+opcode=5"] {
        let d = s.dig(&[opcode, "static.gslb.test", "A"]);
        assert_eq!(d.status, "NOTIMP", "{opcode}: {}", d.raw);
    }
}

#[test]
fn question_count_other_than_one_is_formerr() {
    let s = server();
    // Two questions.
    let mut q = build_query(0x1234, "static.gslb.test", A);
    q[5] = 2;
    common::push_name(&mut q, "alias.gslb.test");
    q.extend_from_slice(&[0, 1, 0, 1]);
    let resp = s.udp_raw(&q, Duration::from_secs(2)).expect("reply");
    assert_eq!(rcode(&resp), 1, "FORMERR");
    assert_eq!(&resp[0..2], &[0x12, 0x34]);
    assert_ne!(resp[2] & 0x80, 0, "QR set");
    // No question at all.
    let q = [0x43, 0x21, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
    let resp = s.udp_raw(&q, Duration::from_secs(2)).expect("reply");
    assert_eq!(rcode(&resp), 1, "FORMERR");
}

#[test]
fn garbage_after_the_header_is_formerr() {
    let s = server();
    let mut q = build_query(7, "static.gslb.test", A);
    q.truncate(16); // question cut in the middle of the name
    let resp = s.udp_raw(&q, Duration::from_secs(2)).expect("reply");
    assert_eq!(rcode(&resp), 1);
}

#[test]
fn packets_with_qr_set_and_short_packets_are_dropped() {
    let s = server();
    let mut q = build_query(7, "static.gslb.test", A);
    q[2] |= 0x80;
    assert!(
        s.udp_raw(&q, Duration::from_millis(500)).is_none(),
        "QR=1 answered"
    );
    for len in [0usize, 1, 5, 11] {
        let short = vec![0u8; len];
        assert!(
            s.udp_raw(&short, Duration::from_millis(300)).is_none(),
            "{len}-byte packet answered"
        );
    }
    // And the server still answers afterwards.
    let d = s.dig(&["static.gslb.test", "A"]);
    assert_eq!(d.status, "NOERROR");
}

#[test]
fn response_copies_id_rd_and_cd() {
    let s = server();
    let mut q = build_query(0xbeef, "static.gslb.test", A);
    q[2] |= 0x01; // RD
    q[3] |= 0x10; // CD
    let resp = s.udp_raw(&q, Duration::from_secs(2)).expect("reply");
    assert_eq!(&resp[0..2], &[0xbe, 0xef]);
    assert_ne!(resp[2] & 0x01, 0, "RD copied");
    assert_ne!(resp[3] & 0x10, 0, "CD copied");
    assert_eq!(resp[3] & 0x80, 0, "RA clear");
    assert_ne!(resp[2] & 0x04, 0, "AA set");
}

#[test]
fn kdig_gets_the_same_answer() {
    let s = server();
    let out = std::process::Command::new("kdig")
        .arg(format!("@{}", s.dns.ip()))
        .args(["-p", &s.dns.port().to_string(), "+time=2", "+retry=0"])
        .args(["static.gslb.test", "AAAA"])
        .output()
        .expect("run kdig (install knot-dnsutils)");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("status: NOERROR"), "{text}");
    assert!(text.contains("2001:db8::1"), "{text}");
    assert!(text.contains(" aa"), "{text}");
}
