//! Geo routing and EDNS Client Subnet as `dig` sees them (SPEC 3.1–3.4,
//! RFC 7871). The database is built from a CSV by `meridian geoip build`.

mod common;

use std::collections::HashMap;

use common::{Dig, Server, geo_fixture, geo_server};

fn server(ecs: bool) -> Server {
    let config = geo_fixture("geo.yaml").replace("ECS", if ecs { "true" } else { "false" });
    geo_server(
        &config,
        &[("gslb.test.zone", &geo_fixture("gslb.test.zone"))],
    )
}

fn ask(s: &Server, name: &str, qtype: &str, subnet: &str) -> Dig {
    let subnet = format!("+subnet={subnet}");
    s.dig(&[name, qtype, &subnet])
}

/// Which demo region an address belongs to, by its documentation range.
fn region_of(addr: &str) -> &'static str {
    if addr.starts_with("192.0.2.") || addr.starts_with("2001:db8:a:") {
        "us-east"
    } else if addr.starts_with("198.51.100.") || addr.starts_with("2001:db8:b:") {
        "eu-west"
    } else if addr.starts_with("203.0.113.") {
        "ap-northeast"
    } else {
        "?"
    }
}

fn regions(d: &Dig, rtype: &str) -> Vec<&'static str> {
    let mut v: Vec<_> = d.answers(rtype).iter().map(|a| region_of(a)).collect();
    v.dedup();
    v
}

#[test]
fn eu_and_asian_subnets_get_different_regions_with_scope() {
    let s = server(true);
    let eu = ask(&s, "www.gslb.test", "A", "81.2.69.0/24");
    assert_eq!(eu.status, "NOERROR", "{}", eu.raw);
    assert!(eu.has_flag("aa"));
    assert_eq!(regions(&eu, "A"), vec!["eu-west"], "{}", eu.raw);
    assert_eq!(eu.answers("A").len(), 2, "max_answers 2");
    assert_eq!(eu.answer[0].ttl, 20, "service TTL");
    assert_eq!(eu.client_subnet().as_deref(), Some("81.2.69.0/24/24"));

    let asia = ask(&s, "www.gslb.test", "A", "203.0.113.0/24");
    assert_eq!(regions(&asia, "A"), vec!["ap-northeast"], "{}", asia.raw);
    assert_eq!(asia.client_subnet().as_deref(), Some("203.0.113.0/24/24"));
}

#[test]
fn map_levels_nets_subdivision_country_continent_default() {
    let s = server(true);
    // (client subnet, expected region, expected scope)
    let cases = [
        ("10.1.2.0/24", "ap-northeast", 16),  // most specific nets entry
        ("10.9.0.0/16", "us-east", 13),       // /8 entry, scope kept off 10.1/16
        ("192.0.2.0/24", "ap-northeast", 24), // subdivision US-CA
        ("203.0.113.0/24", "ap-northeast", 24), // country JP
        ("198.51.100.0/24", "us-east", 24),   // continent NA
        ("100.64.0.0/16", "eu-west", 10),     // SA: no rule, default list
    ];
    for (subnet, want, scope) in cases {
        let d = ask(&s, "www.gslb.test", "A", subnet);
        assert_eq!(regions(&d, "A"), vec![want], "{subnet}: {}", d.raw);
        let ecs = d.client_subnet().unwrap_or_default();
        assert_eq!(ecs, format!("{subnet}/{scope}"), "{subnet}: {}", d.raw);
    }
}

#[test]
fn address_unknown_to_the_database_gets_default_with_nonzero_scope() {
    let s = server(true);
    let d = ask(&s, "www.gslb.test", "A", "8.8.8.0/24");
    assert_eq!(regions(&d, "A"), vec!["eu-west"], "{}", d.raw);
    let ecs = d.client_subnet().expect("ECS echoed");
    let scope: u8 = ecs.rsplit('/').next().unwrap().parse().unwrap();
    assert!(
        scope > 0,
        "scope 0 would hand the default to every client: {ecs}"
    );
}

#[test]
fn ipv6_clients_and_aaaa_answers() {
    let s = server(true);
    let d = ask(&s, "www.gslb.test", "AAAA", "2001:db8:1::/48");
    assert_eq!(d.status, "NOERROR", "{}", d.raw);
    assert_eq!(d.answers("AAAA"), vec!["2001:db8:b::10"], "{}", d.raw);
    assert_eq!(d.client_subnet().as_deref(), Some("2001:db8:1::/48/48"));
}

#[test]
fn aaaa_from_a_region_without_ipv6_is_nodata() {
    let s = server(true);
    let d = ask(&s, "www.gslb.test", "AAAA", "203.0.113.0/24");
    assert_eq!(d.status, "NOERROR", "{}", d.raw);
    assert!(d.answer.is_empty(), "not sent to another region: {}", d.raw);
    assert_eq!(d.authority[0].rtype, "SOA");
    assert_eq!(d.client_subnet().as_deref(), Some("203.0.113.0/24/24"));
}

#[test]
fn nearest_policy_orders_by_distance() {
    let s = server(true);
    for (subnet, want) in [
        ("81.2.69.0/24", "eu-west"),
        ("203.0.113.0/24", "ap-northeast"),
        ("198.51.100.0/24", "us-east"),
    ] {
        let d = ask(&s, "near.gslb.test", "A", subnet);
        assert_eq!(regions(&d, "A"), vec![want], "{subnet}: {}", d.raw);
        assert!(
            d.client_subnet().is_some_and(|e| e.ends_with("/24")),
            "{}",
            d.raw
        );
    }
}

#[test]
fn weighted_policy_splits_by_weight_with_scope_zero() {
    let s = server(true);
    let mut counts: HashMap<&str, u32> = HashMap::new();
    for _ in 0..200 {
        let d = ask(&s, "split.gslb.test", "A", "81.2.69.0/24");
        assert_eq!(
            d.client_subnet().as_deref(),
            Some("81.2.69.0/24/0"),
            "{}",
            d.raw
        );
        for r in regions(&d, "A") {
            *counts.entry(r).or_default() += 1;
        }
    }
    assert_eq!(counts.get("ap-northeast"), None, "weight 0 never answers");
    let west = counts.get("eu-west").copied().unwrap_or(0);
    // 300 of 400: expect 150 of 200.
    assert!((120..=180).contains(&west), "{counts:?}");
}

#[test]
fn failover_policy_answers_first_pool_with_scope_zero() {
    let s = server(true);
    let d = ask(&s, "backup.gslb.test", "A", "203.0.113.0/24");
    assert_eq!(d.answers("A"), vec!["198.51.100.40"]);
    assert_eq!(d.client_subnet().as_deref(), Some("203.0.113.0/24/0"));
}

#[test]
fn name_endpoint_answers_cname() {
    let s = server(true);
    let d = s.dig(&["cdn.gslb.test", "A"]);
    assert_eq!(d.answers("CNAME"), vec!["edge.cdn.example."], "{}", d.raw);
    assert_eq!(d.answer[0].ttl, 60);
}

#[test]
fn static_cname_to_a_service_is_followed() {
    let s = server(true);
    let d = ask(&s, "to-www.gslb.test", "A", "81.2.69.0/24");
    assert_eq!(d.answers("CNAME"), vec!["www.gslb.test."], "{}", d.raw);
    assert_eq!(regions(&d, "A"), vec!["eu-west"], "{}", d.raw);
}

#[test]
fn static_answers_echo_ecs_with_scope_zero() {
    let s = server(true);
    let d = ask(&s, "static.gslb.test", "A", "81.2.69.0/24");
    assert_eq!(d.answers("A"), vec!["192.0.2.1"]);
    assert_eq!(d.client_subnet().as_deref(), Some("81.2.69.0/24/0"));
    let d = ask(&s, "nope.gslb.test", "A", "81.2.69.0/24");
    assert_eq!(d.status, "NXDOMAIN");
    assert_eq!(d.client_subnet().as_deref(), Some("81.2.69.0/24/0"));
}

#[test]
fn ecs_source_prefix_zero_uses_the_source_address_and_scope_zero() {
    let s = server(true);
    // The source, 127.0.0.1, is unknown to the database: default eu-west.
    let d = ask(&s, "www.gslb.test", "A", "0.0.0.0/0");
    assert_eq!(regions(&d, "A"), vec!["eu-west"], "{}", d.raw);
    assert_eq!(d.client_subnet().as_deref(), Some("0.0.0.0/0/0"));
}

#[test]
fn without_ecs_the_source_address_decides() {
    let s = server(true);
    let d = s.dig(&["www.gslb.test", "A"]);
    assert_eq!(regions(&d, "A"), vec!["eu-west"], "{}", d.raw);
    assert!(d.client_subnet().is_none());
}

#[test]
fn ecs_off_ignores_the_option_and_does_not_echo_it() {
    let s = server(false);
    let d = ask(&s, "www.gslb.test", "A", "203.0.113.0/24");
    assert_eq!(
        regions(&d, "A"),
        vec!["eu-west"],
        "located by source: {}",
        d.raw
    );
    assert!(d.client_subnet().is_none(), "{}", d.raw);
}

/// Raw ECS options sent with dig's `+ednsopt=8:HEX` (family, source
/// prefix, scope prefix, address).
#[test]
fn malformed_ecs_is_formerr() {
    let s = server(true);
    let cases = [
        ("0001210001020304", "IPv4 source prefix 33"),
        ("00028100", "IPv6 source prefix 129"),
        ("00011800cb007100", "address longer than a /24 needs"),
        ("00011400cb0071", "bits set past a /20"),
        ("00031000cb00", "unknown family 3"),
    ];
    for (hex, what) in cases {
        let opt = format!("+ednsopt=8:{hex}");
        let d = s.dig(&["www.gslb.test", "A", &opt]);
        assert_eq!(d.status, "FORMERR", "{what}: {}", d.raw);
    }
    // A valid one by the same route is answered.
    let d = s.dig(&["www.gslb.test", "A", "+ednsopt=8:00011800cb0071"]);
    assert_eq!(d.status, "NOERROR", "{}", d.raw);
    assert_eq!(regions(&d, "A"), vec!["ap-northeast"]);
}

#[test]
fn every_answer_is_a_configured_endpoint_over_many_queries() {
    let s = server(true);
    let eu: Vec<String> = vec!["198.51.100.10".into(), "198.51.100.11".into()];
    let mut firsts = HashMap::new();
    for _ in 0..100 {
        let d = ask(&s, "www.gslb.test", "A", "81.2.69.0/24");
        let mut got = d.answers("A");
        *firsts.entry(got[0].clone()).or_insert(0u32) += 1;
        got.sort();
        assert_eq!(got, eu, "{}", d.raw);
    }
    // Random order: each endpoint comes first sometimes.
    assert_eq!(firsts.len(), 2, "{firsts:?}");
}
