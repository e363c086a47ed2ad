//! Static answers from zone files, as `dig` sees them (SPEC 3.5,
//! RFC 1034 4.3.2, RFC 2308, RFC 4592, RFC 8482).

mod common;

use common::{Dig, Server, repo};

fn server() -> Server {
    let dir = repo().join("tests/fixtures/static");
    let read = |f: &str| std::fs::read_to_string(dir.join(f)).expect("fixture");
    let config = read("static.yaml");
    let zone = read("gslb.test.zone");
    let other = read("other.test.zone");
    Server::start(
        &config,
        &[("gslb.test.zone", &zone), ("other.test.zone", &other)],
    )
}

fn both(s: &Server, args: &[&str]) -> [Dig; 2] {
    let udp = s.dig(args);
    let mut tcp_args = args.to_vec();
    tcp_args.push("+tcp");
    let tcp = s.dig(&tcp_args);
    [udp, tcp]
}

#[test]
fn answer_from_zone_is_authoritative_without_recursion() {
    let s = server();
    for d in both(&s, &["static.gslb.test", "A"]) {
        assert_eq!(d.status, "NOERROR", "{}", d.raw);
        assert!(d.has_flag("aa"), "AA missing: {}", d.raw);
        assert!(!d.has_flag("ra"), "RA set: {}", d.raw);
        assert_eq!(d.answers("A"), vec!["192.0.2.1"]);
        assert_eq!(d.answer[0].ttl, 300);
    }
}

#[test]
fn name_outside_our_zones_is_refused() {
    let s = server();
    for d in both(&s, &["www.example.com", "A"]) {
        assert_eq!(d.status, "REFUSED", "{}", d.raw);
        assert!(!d.has_flag("aa"));
        assert!(d.answer.is_empty());
    }
}

#[test]
fn longest_matching_zone_answers() {
    let s = server();
    let d = s.dig(&["www.other.test", "A"]);
    assert_eq!(d.answers("A"), vec!["198.51.100.7"]);
}

#[test]
fn rfc2308_nxdomain_carries_soa_with_negative_ttl() {
    let s = server();
    for d in both(&s, &["nope.gslb.test", "A"]) {
        assert_eq!(d.status, "NXDOMAIN", "{}", d.raw);
        assert!(d.has_flag("aa"));
        assert!(d.answer.is_empty());
        assert_eq!(d.authority.len(), 1, "{}", d.raw);
        assert_eq!(d.authority[0].rtype, "SOA");
        // min(SOA TTL 300, SOA minimum 45)
        assert_eq!(d.authority[0].ttl, 45);
    }
    // Here the SOA TTL (600) is the smaller one.
    let d = s.dig(&["nope.other.test", "A"]);
    assert_eq!(d.authority[0].ttl, 600, "{}", d.raw);
}

#[test]
fn rfc2308_nodata_is_noerror_with_soa() {
    let s = server();
    let d = s.dig(&["static.gslb.test", "MX"]);
    assert_eq!(d.status, "NOERROR");
    assert!(d.has_flag("aa"));
    assert!(d.answer.is_empty());
    assert_eq!(d.authority[0].rtype, "SOA");
    assert_eq!(d.authority[0].ttl, 45);
}

#[test]
fn rfc8020_empty_non_terminal_is_nodata() {
    let s = server();
    let d = s.dig(&["b.deep.gslb.test", "A"]);
    assert_eq!(d.status, "NOERROR", "{}", d.raw);
    assert!(d.answer.is_empty());
    assert_eq!(d.authority[0].rtype, "SOA");
}

#[test]
fn cname_chain_inside_the_zone_is_followed() {
    let s = server();
    let d = s.dig(&["chain.gslb.test", "A"]);
    assert_eq!(d.status, "NOERROR");
    let types: Vec<&str> = d.answer.iter().map(|r| r.rtype.as_str()).collect();
    assert_eq!(types, vec!["CNAME", "CNAME", "A"], "{}", d.raw);
    assert_eq!(d.answers("A"), vec!["192.0.2.1"]);
}

#[test]
fn cname_leaving_the_zone_is_answered_alone() {
    let s = server();
    let d = s.dig(&["outside.gslb.test", "A"]);
    assert_eq!(d.status, "NOERROR");
    assert_eq!(d.answers("CNAME"), vec!["www.elsewhere.example."]);
    assert_eq!(d.answer.len(), 1);
}

#[test]
fn rfc6604_cname_to_missing_name_is_nxdomain() {
    let s = server();
    let d = s.dig(&["dangling.gslb.test", "A"]);
    assert_eq!(d.status, "NXDOMAIN", "{}", d.raw);
    assert_eq!(d.answers("CNAME"), vec!["missing.gslb.test."]);
    assert_eq!(d.authority[0].rtype, "SOA");
}

#[test]
fn cname_query_returns_the_cname_itself() {
    let s = server();
    let d = s.dig(&["alias.gslb.test", "CNAME"]);
    assert_eq!(d.answer.len(), 1);
    assert_eq!(d.answers("CNAME"), vec!["static.gslb.test."]);
}

#[test]
fn rfc4592_wildcard_answers_with_the_query_name() {
    let s = server();
    let d = s.dig(&["anything.wild.gslb.test", "A"]);
    assert_eq!(d.status, "NOERROR");
    assert!(d.has_flag("aa"));
    assert_eq!(d.answer[0].name, "anything.wild.gslb.test.");
    assert_eq!(d.answers("A"), vec!["192.0.2.99"]);
    // A type the wildcard lacks: NODATA, not NXDOMAIN.
    let d = s.dig(&["anything.wild.gslb.test", "AAAA"]);
    assert_eq!(d.status, "NOERROR");
    assert!(d.answer.is_empty());
    // The wildcard does not cover the name that owns it, nor names beside it.
    let d = s.dig(&["wild.gslb.test", "A"]);
    assert_eq!(d.status, "NOERROR");
    assert!(d.answer.is_empty());
    let d = s.dig(&["x.deep.gslb.test", "A"]);
    assert_eq!(d.status, "NXDOMAIN");
}

#[test]
fn delegation_below_the_apex_is_a_referral_with_glue() {
    let s = server();
    for d in both(&s, &["host.sub.gslb.test", "A"]) {
        assert_eq!(d.status, "NOERROR", "{}", d.raw);
        assert!(
            !d.has_flag("aa"),
            "referral must not be authoritative: {}",
            d.raw
        );
        assert!(d.answer.is_empty());
        let mut ns: Vec<String> = d.authority.iter().map(|r| r.data.clone()).collect();
        ns.sort();
        assert_eq!(ns, vec!["ns.elsewhere.example.", "ns.sub.gslb.test."]);
        assert_eq!(d.additional.len(), 1, "{}", d.raw);
        assert_eq!(d.additional[0].name, "ns.sub.gslb.test.");
        assert_eq!(d.additional[0].data, "192.0.2.54");
    }
}

#[test]
fn apex_serves_soa_and_ns() {
    let s = server();
    let d = s.dig(&["gslb.test", "SOA"]);
    assert_eq!(d.answers("SOA").len(), 1);
    assert!(d.has_flag("aa"));
    let d = s.dig(&["gslb.test", "NS"]);
    assert_eq!(d.answers("NS").len(), 2);
    // In-zone name server addresses ride along in additional.
    assert!(
        d.additional.iter().any(|r| r.data == "192.0.2.53"),
        "{}",
        d.raw
    );
}

#[test]
fn rfc8482_any_gets_a_minimal_answer() {
    let s = server();
    let d = s.dig(&["static.gslb.test", "ANY"]);
    assert_eq!(d.status, "NOERROR");
    assert!(d.has_flag("aa"));
    let types: std::collections::BTreeSet<&str> =
        d.answer.iter().map(|r| r.rtype.as_str()).collect();
    assert_eq!(types.len(), 1, "one RRset only: {}", d.raw);
}

#[test]
fn zone_transfers_are_refused() {
    let s = server();
    // dig reports only "Transfer failed." for a refused transfer.
    let d = s.dig(&["gslb.test", "AXFR"]);
    assert!(d.raw.contains("Transfer failed"), "{}", d.raw);
    // On the wire: REFUSED for AXFR (252) and IXFR (251), over TCP and UDP.
    for qtype in [252u16, 251] {
        let mut conn = s.tcp();
        common::tcp_send(&mut conn, &common::build_query(77, "gslb.test", qtype));
        let resp = common::tcp_recv(&mut conn).expect("answer over TCP");
        assert_eq!(common::rcode(&resp), 5, "type {qtype} over TCP");
        let resp = s
            .udp_raw(
                &common::build_query(78, "gslb.test", qtype),
                std::time::Duration::from_secs(2),
            )
            .expect("answer over UDP");
        assert_eq!(common::rcode(&resp), 5, "type {qtype} over UDP");
        assert_eq!(u16::from_be_bytes([resp[6], resp[7]]), 0, "no records");
    }
}

#[test]
fn class_other_than_in_is_refused() {
    let s = server();
    for class in ["CH", "HS"] {
        let d = s.dig(&["-c", class, "static.gslb.test", "TXT"]);
        assert_eq!(d.status, "REFUSED", "{}", d.raw);
    }
}

#[test]
fn question_keeps_the_case_it_was_asked_in() {
    let s = server();
    let d = s.dig(&["StAtIc.GsLb.TeSt", "A"]);
    assert_eq!(d.status, "NOERROR", "{}", d.raw);
    assert!(
        d.question[0].starts_with("StAtIc.GsLb.TeSt."),
        "{:?}",
        d.question
    );
    assert_eq!(d.answers("A"), vec!["192.0.2.1"]);
}

#[test]
fn unknown_type_at_an_existing_name_is_nodata() {
    let s = server();
    let d = s.dig(&["static.gslb.test", "TYPE65000"]);
    assert_eq!(d.status, "NOERROR", "{}", d.raw);
    assert!(d.answer.is_empty());
    assert_eq!(d.authority[0].rtype, "SOA");
}
