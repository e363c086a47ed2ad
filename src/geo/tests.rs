//! Tests for `geo`: CSV validation, the writer's tree (overlaps, IPv4
//! aliasing, record sizes, dedup), round trips through `GeoDb`, and reading
//! MaxMind's own GeoIP2/GeoLite2 test databases.

use std::net::IpAddr;
use std::path::{Path, PathBuf};

use ipnet::IpNet;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::build::{BuildError, build_bytes_at, build_file, epoch_from};
use super::lookup::{GeoDb, Lookup};
use super::mmdb_writer::{Metadata, Value, Writer};

const HEADER: &str = "network,country,continent,latitude,longitude,subdivision,asn\n";
const EPOCH: u64 = 1_700_000_000;

fn build(csv: &str) -> Result<GeoDb, BuildError> {
    let (bytes, _) = build_bytes_at(csv, Path::new("test.csv"), EPOCH)?;
    Ok(GeoDb::from_bytes(bytes).unwrap())
}

fn lookup(db: &GeoDb, ip: &str) -> Lookup {
    db.lookup(ip.parse().unwrap()).unwrap()
}

fn net(s: &str) -> IpNet {
    s.parse().unwrap()
}

/// The messages of a failed build, one string per row error.
fn row_errors(csv: &str) -> Vec<String> {
    match build_bytes_at(csv, Path::new("geoip/demo.csv"), EPOCH) {
        Err(e @ BuildError::Rows(_)) => e.rows().iter().map(ToString::to_string).collect(),
        Err(e) => panic!("expected row errors, got {e}"),
        Ok(_) => panic!("expected row errors, the build succeeded"),
    }
}

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/geoip")
        .join(name)
}

// ---------------------------------------------------------------------------
// Round trips

#[test]
fn built_database_returns_fields_and_network() {
    let db = build(&format!(
        "{HEADER}81.2.69.0/24,GB,EU,51.5142,-0.0931,GB-ENG,64510\n\
         2001:db8:1::/48,SG,AS,1.3521,103.8198\n"
    ))
    .unwrap();
    assert_eq!(db.database_type(), "Meridian-GeoIP2-City");
    let l = lookup(&db, "81.2.69.77");
    assert_eq!(
        l,
        Lookup {
            network: net("81.2.69.0/24"),
            found: true,
            country: Some("GB".into()),
            continent: Some("EU".into()),
            subdivision: Some("ENG".into()),
            location: Some((51.5142, -0.0931)),
            asn: Some(64510),
        }
    );
    let l = lookup(&db, "2001:db8:1:ffff::1");
    assert_eq!(l.network, net("2001:db8:1::/48"));
    assert_eq!(l.country.as_deref(), Some("SG"));
    assert_eq!(l.subdivision, None);
    assert_eq!(l.asn, None);
}

#[test]
fn metadata_is_complete_and_the_file_verifies() {
    let (bytes, summary) = build_bytes_at(
        &format!("{HEADER}192.0.2.0/24,US,NA,1,2\n2001:db8::/32,US,NA,1,2\n"),
        Path::new("some/dir/demo.csv"),
        EPOCH,
    )
    .unwrap();
    assert_eq!(summary.networks_v4, 1);
    assert_eq!(summary.networks_v6, 1);
    assert_eq!(summary.bytes, bytes.len());
    let reader = maxminddb::Reader::from_source(bytes).unwrap();
    reader.verify().unwrap();
    let m = reader.metadata();
    assert_eq!(m.binary_format_major_version, 2);
    assert_eq!(m.binary_format_minor_version, 0);
    assert_eq!(m.ip_version, 6);
    assert_eq!(m.record_size, 24);
    assert_eq!(m.node_count, summary.node_count);
    assert_eq!(m.build_epoch, EPOCH);
    assert_eq!(m.languages, vec!["en".to_owned()]);
    assert_eq!(
        m.description.get("en").map(String::as_str),
        Some("meridian GeoIP database built from demo.csv")
    );
}

#[test]
fn ipv4_is_reachable_as_ipv4_mapped_ipv6() {
    let db = build(&format!("{HEADER}81.2.69.0/24,GB,EU,51.5,-0.1\n")).unwrap();
    let l = lookup(&db, "::ffff:81.2.69.1");
    assert!(l.found);
    assert_eq!(l.country.as_deref(), Some("GB"));
    assert_eq!(l.network, net("::ffff:81.2.69.0/120"));
}

#[test]
fn ipv4_is_reachable_through_6to4() {
    let db = build(&format!("{HEADER}81.2.69.0/24,GB,EU,51.5,-0.1\n")).unwrap();
    // 2002:5102:4501:: embeds 81.2.69.1.
    let l = lookup(&db, "2002:5102:4501::1");
    assert_eq!(l.country.as_deref(), Some("GB"));
    assert_eq!(l.network, net("2002:5102:4500::/40"));
}

#[test]
fn ipv4_miss_reports_the_ipv4_empty_network_around_it() {
    let db = build(&format!("{HEADER}81.2.69.0/24,GB,EU,51.5,-0.1\n")).unwrap();
    let l = lookup(&db, "8.8.8.8");
    assert!(!l.found);
    assert_eq!(l.country, None);
    let IpNet::V4(n) = l.network else {
        panic!("an IPv4 query must get an IPv4 network, got {}", l.network)
    };
    assert!(n.contains(&"8.8.8.8".parse::<std::net::Ipv4Addr>().unwrap()));
    assert!(n.prefix_len() > 0, "never a /0 while data exists elsewhere");
    assert!(!n.contains(&"81.2.69.1".parse::<std::net::Ipv4Addr>().unwrap()));
    // The widest empty block: 8.8.8.8 is 00001000..., 81.x is 01010001...
    assert_eq!(l.network, net("0.0.0.0/2"));
}

#[test]
fn ipv6_miss_reports_the_empty_network_around_it() {
    let db = build(&format!("{HEADER}2001:db8::/32,US,NA,1,2\n")).unwrap();
    let l = lookup(&db, "2a00::1");
    assert!(!l.found);
    assert!(l.network.contains(&"2a00::1".parse::<IpAddr>().unwrap()));
    assert!(
        !l.network
            .contains(&"2001:db8::1".parse::<IpAddr>().unwrap())
    );
}

#[test]
fn ipv4_only_csv_answers_no_ipv6() {
    let db = build(&format!("{HEADER}0.0.0.0/0,US,NA,1,2\n")).unwrap();
    let l = lookup(&db, "8.8.8.8");
    assert!(l.found);
    assert_eq!(l.network, net("0.0.0.0/0"));
    assert!(lookup(&db, "::ffff:8.8.8.8").found);
    assert!(!lookup(&db, "2001:db8::1").found);
}

#[test]
fn ipv6_default_network_does_not_leak_into_ipv4_space() {
    let db = build(&format!(
        "{HEADER}::/0,DE,EU,0,0\n81.2.69.0/24,GB,EU,51.5,-0.1\n"
    ))
    .unwrap();
    assert_eq!(lookup(&db, "2001:db8::1").country.as_deref(), Some("DE"));
    assert_eq!(lookup(&db, "81.2.69.1").country.as_deref(), Some("GB"));
    // IPv4 space, its mapped and 6to4 aliases: only IPv4 rows count.
    for ip in ["8.8.8.8", "::ffff:8.8.8.8", "2002:808:808::1"] {
        let l = lookup(&db, ip);
        assert!(!l.found, "{ip} must not get the ::/0 record");
    }
    // Just outside the aliases, ::/0 applies again.
    assert_eq!(lookup(&db, "2003::1").country.as_deref(), Some("DE"));
    assert_eq!(lookup(&db, "::1:0:0:1").country.as_deref(), Some("DE"));
}

#[test]
fn more_specific_network_wins_regardless_of_row_order() {
    let rows = [
        "10.0.0.0/8,US,NA,1,1",
        "10.1.0.0/16,DE,EU,2,2",
        "10.1.2.0/24,JP,AS,3,3",
        "2001:db8::/32,US,NA,1,1",
        "2001:db8:1::/48,DE,EU,2,2",
    ];
    let forward = format!("{HEADER}{}\n", rows.join("\n"));
    let mut reversed_rows = rows;
    reversed_rows.reverse();
    let reversed = format!("{HEADER}{}\n", reversed_rows.join("\n"));

    let (a, _) = build_bytes_at(&forward, Path::new("x.csv"), EPOCH).unwrap();
    let (b, _) = build_bytes_at(&reversed, Path::new("x.csv"), EPOCH).unwrap();
    assert_eq!(a, b, "row order must not change the output");

    let db = GeoDb::from_bytes(a).unwrap();
    let check = |ip: &str, cc: &str, network: &str| {
        let l = lookup(&db, ip);
        assert_eq!(l.country.as_deref(), Some(cc), "{ip}");
        assert_eq!(l.network, net(network), "{ip}");
    };
    check("10.1.2.3", "JP", "10.1.2.0/24");
    check("10.1.3.3", "DE", "10.1.3.0/24");
    check("10.1.128.1", "DE", "10.1.128.0/17");
    check("10.2.0.1", "US", "10.2.0.0/15");
    check("10.255.0.1", "US", "10.128.0.0/9");
    check("2001:db8:1::1", "DE", "2001:db8:1::/48");
    check("2001:db8:2::1", "US", "2001:db8:2::/47");
}

#[test]
fn identical_records_are_stored_once() {
    let many_same: String = (0..1000)
        .map(|i| {
            format!(
                "10.{}.{}.0/24,US,NA,37.3861,-122.0839,US-CA,64496\n",
                i / 256,
                i % 256
            )
        })
        .collect();
    let many_distinct: String = (0..1000)
        .map(|i| {
            format!(
                "10.{}.{}.0/24,US,NA,37.3861,-122.0839,US-CA,{}\n",
                i / 256,
                i % 256,
                64496 + i
            )
        })
        .collect();
    let (same, s) = build_bytes_at(&format!("{HEADER}{many_same}"), Path::new("x"), 0).unwrap();
    let (distinct, d) =
        build_bytes_at(&format!("{HEADER}{many_distinct}"), Path::new("x"), 0).unwrap();
    assert_eq!(s.node_count, d.node_count);
    let tree = s.node_count as usize * 6 + 16;
    let data_same = same.len() - tree;
    let data_distinct = distinct.len() - tree;
    // One record (~100 bytes) plus the metadata.
    assert!(
        data_same < 600,
        "data section + metadata is {data_same} bytes"
    );
    // Distinct records still share keys and sub-maps through pointers:
    // each costs far less than a full ~100-byte record.
    assert!(
        data_distinct < 600 + 1000 * 30,
        "1000 distinct records took {data_distinct} bytes"
    );
    let db = GeoDb::from_bytes(distinct).unwrap();
    let l = lookup(&db, "10.3.231.1");
    assert_eq!(l.asn, Some(64496 + 999));
    assert_eq!(l.subdivision.as_deref(), Some("CA"));
    assert_eq!(l.location, Some((37.3861, -122.0839)));
}

#[test]
fn larger_record_sizes_round_trip() {
    for bits in [24, 28, 32] {
        let mut w = Writer::new();
        w.set_min_record_size(bits);
        let rec =
            |cc: &str| Value::map([("country", Value::map([("iso_code", Value::string(cc))]))]);
        w.insert(net("81.2.69.0/24"), rec("GB")).unwrap();
        w.insert(net("2001:218::/32"), rec("JP")).unwrap();
        let meta = Metadata {
            database_type: "t".into(),
            languages: vec![],
            description: vec![("en".into(), "t".into())],
            build_epoch: 0,
        };
        let (bytes, stats) = w.to_bytes(&meta).unwrap();
        assert_eq!(stats.record_size, bits);
        let reader = maxminddb::Reader::from_source(bytes.clone()).unwrap();
        reader.verify().unwrap();
        assert_eq!(reader.metadata().record_size, bits);
        let db = GeoDb::from_bytes(bytes).unwrap();
        assert_eq!(
            lookup(&db, "81.2.69.9").country.as_deref(),
            Some("GB"),
            "{bits}"
        );
        assert_eq!(
            lookup(&db, "::ffff:81.2.69.9").country.as_deref(),
            Some("GB"),
            "{bits}"
        );
        assert_eq!(
            lookup(&db, "2001:218::9").network,
            net("2001:218::/32"),
            "{bits}"
        );
        assert!(!lookup(&db, "8.8.8.8").found, "{bits}");
    }
}

fn aliased(n: &IpNet) -> bool {
    matches!(n, IpNet::V6(v6) if super::mmdb_writer::aliased_range(v6).is_some())
}

/// Random networks, some nested inside others, against a linear scan:
/// the most specific containing row must decide, and the reported network
/// must contain the address, lie inside the winning row and not overlap
/// any more specific row.
#[test]
fn random_networks_match_a_linear_scan() {
    let mut rng = StdRng::seed_from_u64(0x6d65_7269_6469_616e);
    for round in 0..8 {
        let mut rows: Vec<(IpNet, u32)> = Vec::new();
        while rows.len() < 200 {
            let candidate = if rng.random_bool(0.6) {
                let p = rng.random_range(4..=32);
                IpNet::new(IpAddr::from(rng.random::<u32>().to_be_bytes()), p)
            } else {
                // Global unicast-ish, away from ::/96, ::ffff:0:0/96, 2002::/16.
                let addr = (rng.random::<u128>() >> 3) | (1_u128 << 125);
                let p = rng.random_range(17..=128);
                IpNet::new(IpAddr::from(addr.to_be_bytes()), p)
            };
            let candidate = candidate.unwrap().trunc();
            if aliased(&candidate) {
                continue;
            }
            if rows.iter().all(|(n, _)| *n != candidate) {
                rows.push((candidate, rng.random_range(1..=u32::MAX)));
            }
        }
        // Nest some networks inside earlier ones so overlaps are exercised.
        for i in 0..60 {
            let (outer, _) = rows[i];
            let extra = rng.random_range(1..=8_u8);
            let max = outer.max_prefix_len();
            let prefix = (outer.prefix_len() + extra).min(max);
            let inner = match outer {
                IpNet::V4(n) => {
                    let host = rng.random::<u32>() & !u32::from(n.netmask());
                    let addr = u32::from(n.network()) | host;
                    IpNet::new(IpAddr::from(addr.to_be_bytes()), prefix)
                }
                IpNet::V6(n) => {
                    let host = rng.random::<u128>() & !u128::from(n.netmask());
                    let addr = u128::from(n.network()) | host;
                    IpNet::new(IpAddr::from(addr.to_be_bytes()), prefix)
                }
            }
            .unwrap()
            .trunc();
            if rows.iter().all(|(n, _)| *n != inner) {
                rows.push((inner, rng.random_range(1..=u32::MAX)));
            }
        }

        let csv: String = rows
            .iter()
            .map(|(n, asn)| format!("{n},US,NA,0,0,,{asn}\n"))
            .collect();
        let db = build(&format!("{HEADER}{csv}")).unwrap();

        let mut probes: Vec<IpAddr> = Vec::new();
        for (n, _) in &rows {
            probes.push(n.network());
            probes.push(n.broadcast());
            let random_inside = match n {
                IpNet::V4(n) => IpAddr::from(
                    (u32::from(n.network()) | (rng.random::<u32>() & !u32::from(n.netmask())))
                        .to_be_bytes(),
                ),
                IpNet::V6(n) => IpAddr::from(
                    (u128::from(n.network()) | (rng.random::<u128>() & !u128::from(n.netmask())))
                        .to_be_bytes(),
                ),
            };
            probes.push(random_inside);
        }
        for _ in 0..300 {
            probes.push(IpAddr::from(rng.random::<u32>().to_be_bytes()));
            probes.push(IpAddr::from(
                ((rng.random::<u128>() >> 3) | (1 << 125)).to_be_bytes(),
            ));
        }
        // The aliases answer with IPv4 data, which a scan of IPv6 rows can't
        // predict; they have their own tests.
        probes.retain(|ip| !aliased(&IpNet::from(*ip)));

        for ip in probes {
            let got = db.lookup(ip).unwrap();
            let winner = rows
                .iter()
                .filter(|(n, _)| n.contains(&ip))
                .max_by_key(|(n, _)| n.prefix_len());
            assert!(
                got.network.contains(&ip),
                "round {round}: {ip} not in {}",
                got.network
            );
            assert_eq!(
                got.network.max_prefix_len(),
                IpNet::from(ip).max_prefix_len()
            );
            match winner {
                Some((n, asn)) => {
                    assert!(got.found, "round {round}: {ip} should be in {n}");
                    assert_eq!(got.asn, Some(*asn), "round {round}: {ip} should get {n}");
                    assert!(
                        n.contains(&got.network),
                        "round {round}: {} outside {n}",
                        got.network
                    );
                    for (other, _) in &rows {
                        if other.prefix_len() > n.prefix_len() {
                            assert!(
                                !got.network.contains(other) && !other.contains(&got.network),
                                "round {round}: {ip}: {} overlaps more specific {other}",
                                got.network
                            );
                        }
                    }
                }
                None => {
                    assert!(!got.found, "round {round}: {ip} should not be found");
                    for (other, _) in &rows {
                        assert!(
                            !got.network.contains(other) && !other.contains(&got.network),
                            "round {round}: empty {} overlaps {other}",
                            got.network
                        );
                    }
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------
// CSV validation

#[test]
fn every_bad_row_is_reported_with_its_line() {
    let csv = "\
# comment
network,country,continent,latitude,longitude,subdivision,asn
192.0.2.0/24,US,NA,37.4,-122.1,US-CA,64496
10.0.0.0/33,US,NA,1,1
10.0.0.1/24,US,NA,1,1
10.1.0.0/16,us,XX,91,181
10.2.0.0/16,US,NA,north,1,GB-ENG,AS1
10.3.0.0/16,US,NA,1
::ffff:10.4.0.0/112,US,NA,1,1
2002::/24,US,NA,1,1
10.5.0.0/16,US,NA,1,1,,0
";
    assert_eq!(
        row_errors(csv),
        vec![
            "geoip/demo.csv:4: \"10.0.0.0/33\" is not a CIDR network",
            "geoip/demo.csv:5: \"10.0.0.1/24\" has host bits set (the network is 10.0.0.0/24)",
            "geoip/demo.csv:6: country \"us\" is not two uppercase letters (ISO 3166-1 alpha-2, e.g. GB)",
            "geoip/demo.csv:6: continent \"XX\" is not one of AF AN AS EU NA OC SA",
            "geoip/demo.csv:6: latitude \"91\" is not a number from -90 to 90",
            "geoip/demo.csv:6: longitude \"181\" is not a number from -180 to 180",
            "geoip/demo.csv:7: latitude \"north\" is not a number from -90 to 90",
            "geoip/demo.csv:7: subdivision \"GB-ENG\" belongs to GB, not to the row's country US",
            "geoip/demo.csv:7: asn \"AS1\" is not an AS number from 1 to 4294967295",
            "geoip/demo.csv:8: expected 5 to 7 fields (network,country,continent,latitude,longitude,subdivision,asn), found 4",
            "geoip/demo.csv:9: \"::ffff:10.4.0.0/112\" is inside ::ffff:0:0/96, the IPv4-mapped range, an alias of the IPv4 networks; write IPv4 networks in dotted form",
            "geoip/demo.csv:10: \"2002::/24\" is inside 2002::/16, the 6to4 range, an alias of the IPv4 networks; write IPv4 networks in dotted form",
            "geoip/demo.csv:11: asn \"0\" is not an AS number from 1 to 4294967295",
        ]
    );
}

#[test]
fn row_errors_display_one_per_line() {
    let err = build_bytes_at(
        &format!("{HEADER}10.0.0.0/33,US,NA,1,1\n10.0.0.0/8,US,NA,1,1\n10.0.0.0/8,GB,EU,1,1\n"),
        Path::new("demo.csv"),
        EPOCH,
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "demo.csv:2: \"10.0.0.0/33\" is not a CIDR network\n\
         demo.csv:4: network 10.0.0.0/8 is already on line 3"
    );
}

#[test]
fn duplicate_network_names_both_lines() {
    let csv = format!(
        "{HEADER}2001:db8::/32,US,NA,1,1\n192.0.2.0/24,US,NA,1,1\n2001:0db8::/32,GB,EU,1,1\n2001:db8::/32,GB,EU,1,1\n"
    );
    assert_eq!(
        row_errors(&csv),
        vec![
            "geoip/demo.csv:4: network 2001:db8::/32 is already on line 2",
            "geoip/demo.csv:5: network 2001:db8::/32 is already on line 2",
        ]
    );
}

#[test]
fn header_is_required() {
    assert_eq!(
        row_errors("192.0.2.0/24,US,NA,1,1\n10.0.0.0/33,US,NA,1,1\n"),
        vec![
            "geoip/demo.csv:1: expected the header \"network,country,continent,latitude,longitude[,subdivision,asn]\", found \"192.0.2.0/24,US,NA,1,1\"",
            "geoip/demo.csv:2: \"10.0.0.0/33\" is not a CIDR network",
        ]
    );
    assert_eq!(
        row_errors("# only a comment\n\n"),
        vec![
            "geoip/demo.csv:1: missing header line \"network,country,continent,latitude,longitude[,subdivision,asn]\""
        ]
    );
    assert_eq!(
        row_errors("net,country,continent,lat,lon\n"),
        vec![
            "geoip/demo.csv:1: expected the header \"network,country,continent,latitude,longitude[,subdivision,asn]\", found \"net,country,continent,lat,lon\""
        ]
    );
}

#[test]
fn header_only_is_an_empty_database_error() {
    let err = build_bytes_at(HEADER, Path::new("demo.csv"), EPOCH).unwrap_err();
    assert!(matches!(err, BuildError::Empty(_)), "{err}");
    assert_eq!(err.to_string(), "demo.csv: no networks to write");
}

#[test]
fn short_header_limits_the_row_width() {
    let db =
        build("network,country,continent,latitude,longitude\n192.0.2.0/24,US,NA,1,1\n").unwrap();
    assert!(lookup(&db, "192.0.2.1").found);
    assert_eq!(
        row_errors("network,country,continent,latitude,longitude\n192.0.2.0/24,US,NA,1,1,CA\n"),
        vec![
            "geoip/demo.csv:2: expected 5 fields (network,country,continent,latitude,longitude), found 6"
        ]
    );
    // With the subdivision column, an asn column is still too many.
    let db = build(
        "network,country,continent,latitude,longitude,subdivision\n192.0.2.0/24,US,NA,1,1,CA\n",
    )
    .unwrap();
    assert_eq!(lookup(&db, "192.0.2.1").subdivision.as_deref(), Some("CA"));
}

#[test]
fn comments_blank_lines_whitespace_crlf_and_bom_are_accepted() {
    let csv = "\u{feff}# demo\r\n\r\n  Network , Country,CONTINENT,latitude,longitude,subdivision,asn \r\n\
               \t# indented comment\r\n\
               192.0.2.0/24 , US , NA , 37.5 , -122.25 ,  , \r\n\
               198.51.100.0/24,DE,EU,50,8,DE-HE,\r\n";
    let db = build(csv).unwrap();
    let l = lookup(&db, "192.0.2.1");
    assert_eq!(l.country.as_deref(), Some("US"));
    assert_eq!(l.location, Some((37.5, -122.25)));
    assert_eq!((l.subdivision, l.asn), (None, None));
    assert_eq!(
        lookup(&db, "198.51.100.1").subdivision.as_deref(),
        Some("HE")
    );
}

#[test]
fn subdivision_is_stored_without_the_country_prefix() {
    let db = build(&format!(
        "{HEADER}192.0.2.0/25,US,NA,1,1,US-CA\n192.0.2.128/25,US,NA,1,1,CA\n"
    ))
    .unwrap();
    assert_eq!(lookup(&db, "192.0.2.1").subdivision.as_deref(), Some("CA"));
    assert_eq!(
        lookup(&db, "192.0.2.200").subdivision.as_deref(),
        Some("CA")
    );
    assert_eq!(
        row_errors(&format!(
            "{HEADER}192.0.2.0/24,US,NA,1,1,CALIF\n192.0.2.0/25,US,NA,1,1,US-\n"
        )),
        vec![
            "geoip/demo.csv:2: subdivision \"CALIF\" is not an ISO 3166-2 code such as CA or US-CA",
            "geoip/demo.csv:3: subdivision \"US-\" is not an ISO 3166-2 code such as CA or US-CA",
        ]
    );
}

#[test]
fn coordinate_bounds_are_inclusive() {
    let db = build(&format!(
        "{HEADER}192.0.2.0/25,AQ,AN,-90,-180\n192.0.2.128/25,US,NA,90,180\n"
    ))
    .unwrap();
    assert_eq!(lookup(&db, "192.0.2.1").location, Some((-90.0, -180.0)));
    assert_eq!(lookup(&db, "192.0.2.129").location, Some((90.0, 180.0)));
    assert_eq!(
        row_errors(&format!("{HEADER}192.0.2.0/24,US,NA,NaN,inf\n")),
        vec![
            "geoip/demo.csv:2: latitude \"NaN\" is not a number from -90 to 90",
            "geoip/demo.csv:2: longitude \"inf\" is not a number from -180 to 180",
        ]
    );
}

#[test]
fn source_date_epoch_sets_the_build_epoch() {
    assert_eq!(epoch_from(Ok("1700000000".into())).unwrap(), 1_700_000_000);
    assert_eq!(epoch_from(Ok(" 42 ".into())).unwrap(), 42);
    assert!(matches!(
        epoch_from(Ok("yesterday".into())),
        Err(BuildError::SourceDateEpoch(_))
    ));
    // Unset or empty: now.
    let now = epoch_from(Err(std::env::VarError::NotPresent)).unwrap();
    assert!(now > 1_700_000_000);
    assert!(epoch_from(Ok(String::new())).unwrap() >= now);
}

// ---------------------------------------------------------------------------
// Files

#[test]
fn build_file_writes_atomically_and_replaces_the_old_file() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("in.csv");
    let out = dir.path().join("out.mmdb");
    std::fs::write(&csv, format!("{HEADER}192.0.2.0/24,US,NA,1,1\n")).unwrap();
    std::fs::write(&out, b"old contents").unwrap();
    let summary = build_file(&csv, &out).unwrap();
    assert_eq!(
        std::fs::metadata(&out).unwrap().len() as usize,
        summary.bytes
    );
    let db = GeoDb::open(&out).unwrap();
    assert_eq!(lookup(&db, "192.0.2.1").country.as_deref(), Some("US"));
    let mut names: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert_eq!(
        names,
        ["in.csv", "out.mmdb"],
        "no temporary file left behind"
    );
}

#[test]
fn failed_build_leaves_the_old_file_alone() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("in.csv");
    let out = dir.path().join("out.mmdb");
    std::fs::write(&csv, format!("{HEADER}192.0.2.0/33,US,NA,1,1\n")).unwrap();
    std::fs::write(&out, b"old contents").unwrap();
    let err = build_file(&csv, &out).unwrap_err();
    assert_eq!(err.rows().len(), 1);
    assert!(
        err.to_string()
            .starts_with(&format!("{}:2: ", csv.display()))
    );
    assert_eq!(std::fs::read(&out).unwrap(), b"old contents");

    let missing = build_file(&dir.path().join("nope.csv"), &out).unwrap_err();
    assert!(matches!(missing, BuildError::Read { .. }), "{missing}");
    assert!(missing.to_string().contains("nope.csv: cannot read"));
}

#[test]
fn open_reports_missing_and_invalid_files() {
    let err = GeoDb::open(Path::new("/nonexistent/geo.mmdb")).unwrap_err();
    assert!(
        err.to_string()
            .starts_with("/nonexistent/geo.mmdb: cannot read"),
        "{err}"
    );
    let dir = tempfile::tempdir().unwrap();
    let junk = dir.path().join("junk.mmdb");
    std::fs::write(&junk, b"not a database").unwrap();
    let err = GeoDb::open(&junk).unwrap_err();
    assert!(err.to_string().contains("not a valid MaxMind DB"), "{err}");
    assert!(GeoDb::from_bytes(Vec::new()).is_err());
}

#[test]
fn demo_csv_builds_and_covers_every_continent() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("geoip/demo.csv");
    let text = std::fs::read_to_string(&path).unwrap();
    let (bytes, summary) = build_bytes_at(&text, Path::new("geoip/demo.csv"), EPOCH).unwrap();
    assert!(
        summary.networks_v4 >= 15 && summary.networks_v6 >= 6,
        "{summary}"
    );
    let db = GeoDb::from_bytes(bytes).unwrap();
    let expect = [
        ("192.0.2.1", "US", "NA"),
        ("198.51.100.1", "DE", "EU"),
        ("198.51.100.200", "IE", "EU"),
        ("203.0.113.1", "JP", "AS"),
        ("81.2.69.1", "GB", "EU"),
        ("2001:db8::1", "US", "NA"),
        ("2001:db8:1::1", "GB", "EU"),
        ("2001:db8:2::1", "SG", "AS"),
        ("2001:db8:3::1", "BR", "SA"),
        ("2001:db8:4::1", "AU", "OC"),
        ("2001:db8:5::1", "ZA", "AF"),
    ];
    for (ip, cc, cont) in expect {
        let l = lookup(&db, ip);
        assert_eq!(
            (l.country.as_deref(), l.continent.as_deref()),
            (Some(cc), Some(cont)),
            "{ip}"
        );
    }
    for private in ["10.0.0.1", "127.0.0.1", "::1", "fd00::1"] {
        assert!(
            !lookup(&db, private).found,
            "{private} must not be in the demo data"
        );
    }
}

// ---------------------------------------------------------------------------
// Display

#[test]
fn lookup_display_lists_every_field() {
    let db = build(&format!(
        "{HEADER}192.0.2.0/24,US,NA,37.5,-122.25,US-CA,64496\n"
    ))
    .unwrap();
    assert_eq!(
        lookup(&db, "192.0.2.1").to_string(),
        "network:     192.0.2.0/24\n\
         country:     US\n\
         continent:   NA\n\
         subdivision: CA\n\
         location:    37.5, -122.25\n\
         asn:         AS64496"
    );
    let l = lookup(&db, "8.8.8.8");
    assert_eq!(
        l.to_string(),
        format!("network:     {}\nnot found", l.network)
    );
}

// ---------------------------------------------------------------------------
// MaxMind's own databases

#[test]
fn reads_geoip2_city_test_database() {
    let db = GeoDb::open(&fixture("GeoIP2-City-Test.mmdb")).unwrap();
    assert_eq!(db.database_type(), "GeoIP2-City");

    let l = lookup(&db, "81.2.69.142");
    assert!(l.found);
    assert_eq!(l.network, net("81.2.69.142/31"));
    assert_eq!(l.country.as_deref(), Some("GB"));
    assert_eq!(l.continent.as_deref(), Some("EU"));
    assert_eq!(l.subdivision.as_deref(), Some("ENG"));
    assert_eq!(l.location, Some((51.5142, -0.0931)));

    let mapped = lookup(&db, "::ffff:81.2.69.142");
    assert_eq!(mapped.network, net("::ffff:81.2.69.142/127"));
    assert_eq!(mapped.country.as_deref(), Some("GB"));

    let l = lookup(&db, "2001:218::1");
    assert_eq!(l.network, net("2001:218::/32"));
    assert_eq!(l.country.as_deref(), Some("JP"));
    assert_eq!(l.continent.as_deref(), Some("AS"));
    assert_eq!(l.subdivision, None);
    assert_eq!(l.location, Some((35.68536, 139.75309)));

    let miss = lookup(&db, "8.8.8.8");
    assert!(!miss.found);
    assert!(matches!(miss.network, IpNet::V4(_)), "{}", miss.network);
    assert!(miss.network.contains(&"8.8.8.8".parse::<IpAddr>().unwrap()));
}

#[test]
fn reads_geolite2_country_test_database_without_location() {
    let db = GeoDb::open(&fixture("GeoLite2-Country-Test.mmdb")).unwrap();
    assert_eq!(db.database_type(), "GeoLite2-Country");
    let l = lookup(&db, "81.2.69.142");
    assert!(l.found);
    assert_eq!(l.country.as_deref(), Some("GB"));
    assert_eq!(l.continent.as_deref(), Some("EU"));
    assert_eq!(l.location, None);
    assert!(matches!(l.network, IpNet::V4(_)));
    assert_eq!(lookup(&db, "2001:218::1").country.as_deref(), Some("JP"));
}
