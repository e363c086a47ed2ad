//! Geo maps keyed by autonomous system (issue 17 part 6): `asns` keys come
//! after `nets` and before countries and continents, looked up in MaxMind's
//! GeoLite2-ASN test database (`geoip.asn_database`) or, without one, in
//! the `asn` column of our own CSV. What `dig` sees.

mod common;

use std::ffi::OsStr;

use common::{Server, meridian, prepare, repo};

const ZONE: &str = "$ORIGIN gslb.test.\n$TTL 300\n\
    @ IN SOA ns1 hostmaster 1 3600 600 86400 60\n@ IN NS ns1\nns1 IN A 127.0.0.1\n";

/// A map whose ASN keys send Telstra (AS1221) to ap-northeast and Merit
/// (AS237) to us-east; GB goes to eu-west by country.
fn config(geoip: &str) -> String {
    format!(
        r#"
dns:
  listen: ["127.0.0.1:0"]
admin:
  listen: "127.0.0.1:0"
geoip:
{geoip}
regions:
  us-east: {{ location: [39.04, -77.49] }}
  eu-west: {{ location: [53.35, -6.26] }}
  ap-northeast: {{ location: [35.68, 139.69] }}
geo_maps:
  world:
    nets:
      "1.128.9.0/24": [eu-west]
    asns:
      1221: [ap-northeast]
      AS237: [us-east]
    countries:
      GB: [eu-west]
    default: [us-east]
zones:
  - origin: gslb.test.
    file: gslb.test.zone
    services:
      www:
        ttl: 20
        policy: geo
        map: world
        fallback: none
        pools:
          us-east: {{ endpoints: [192.0.2.10] }}
          eu-west: {{ endpoints: [198.51.100.10] }}
          ap-northeast: {{ endpoints: [203.0.113.10] }}
"#
    )
}

fn answer(s: &Server, subnet: &str) -> (String, Option<String>) {
    let d = s.dig(&["www.gslb.test", "A", &format!("+subnet={subnet}")]);
    assert_eq!(d.status, "NOERROR", "{}", d.raw);
    (d.answers("A").join(","), d.client_subnet())
}

#[test]
fn asn_keys_route_by_the_asn_database_after_nets_before_countries() {
    let fixtures = repo().join("tests/fixtures/geoip");
    let geoip = format!(
        "  database: {}\n  asn_database: {}",
        fixtures.join("GeoIP2-City-Test.mmdb").display(),
        fixtures.join("GeoLite2-ASN-Test.mmdb").display()
    );
    let (tmp, path) = prepare(&config(&geoip), &[("gslb.test.zone", ZONE)]);
    let s = Server::start_prepared(tmp, &path);
    // 1.128.0.0/11 is AS1221 in GeoLite2-ASN-Test.
    let (a, ecs) = answer(&s, "1.128.1.0/24");
    assert_eq!(a, "203.0.113.10");
    // Scope: the ASN network (/11), lengthened so that it does not cover
    // the more specific nets entry 1.128.9.0/24 (they differ at bit 21).
    assert_eq!(ecs.as_deref(), Some("1.128.1.0/24/21"));
    let far = answer(&s, "1.150.0.0/16");
    // 1.150 shares 11 bits with 1.128.9.0: one more keeps the entry out.
    assert_eq!(far, ("203.0.113.10".into(), Some("1.150.0.0/16/12".into())));
    // A nets entry inside that AS wins over the ASN key.
    assert_eq!(answer(&s, "1.128.9.0/24").0, "198.51.100.10");
    // AS237 (an IPv6 network of the ASN database).
    let (a, _) = answer(&s, "2600:6000::/32");
    assert_eq!(a, "192.0.2.10");
    // No ASN key: the country (GB in the City test database).
    assert_eq!(answer(&s, "81.2.69.142/32").0, "198.51.100.10");
    // `explain` names the rule.
    let e = s.admin(
        "GET",
        "/v1/explain?name=www.gslb.test&client=1.128.1.1",
        None,
        None,
    );
    assert!(e.body.contains("AS1221"), "{}", e.body);
}

#[test]
fn without_an_asn_database_the_records_own_numbers_decide() {
    let csv = "network,country,continent,latitude,longitude,subdivision,asn\n\
               81.2.69.0/24,GB,EU,51.5,-0.09,,1221\n\
               81.2.70.0/24,GB,EU,51.5,-0.09,,\n";
    let (tmp, path) = prepare(
        &config("  database: geo.mmdb"),
        &[("gslb.test.zone", ZONE), ("geo.csv", csv)],
    );
    meridian(&[
        OsStr::new("geoip"),
        OsStr::new("build"),
        tmp.path().join("geo.csv").as_os_str(),
        OsStr::new("-o"),
        tmp.path().join("geo.mmdb").as_os_str(),
    ]);
    let s = Server::start_prepared(tmp, &path);
    assert_eq!(
        answer(&s, "81.2.69.0/24").0,
        "203.0.113.10",
        "AS1221 by the record"
    );
    assert_eq!(
        answer(&s, "81.2.70.0/24").0,
        "198.51.100.10",
        "GB by country"
    );
}
