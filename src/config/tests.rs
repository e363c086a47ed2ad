//! Unit tests of configuration parsing and validation: the SPEC example
//! parses into the expected model, and each class of error is reported with
//! its line, column, key path and message.

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use hickory_proto::rr::Name;

use super::*;

const SOURCE: &str = "conf/meridian.yaml";

/// The example from SPEC section 2, verbatim.
const SPEC_EXAMPLE: &str = r#"dns:
  listen: ["127.0.0.1:5300", "[::1]:5300"]   # UDP and TCP on each
  max_udp_payload: 1232                      # EDNS payload we answer with at most
admin:
  listen: "127.0.0.1:8053"
  token_env: MERIDIAN_ADMIN_TOKEN            # bearer token for changes (5.1)
state_file: var/state.json                   # admin overrides persist here (5.3)

geoip:
  database: geoip/demo.mmdb                  # GeoIP2/GeoLite2 City or Country, or built by `meridian geoip build`
  ecs: true                                  # honour EDNS Client Subnet (3.1)

regions:                                     # where endpoints live
  us-east:      { location: [39.04, -77.49] }   # latitude, longitude
  eu-west:      { location: [53.35, -6.26] }
  ap-northeast: { location: [35.68, 139.69] }

monitors:
  web:
    type: http                  # http | https | tcp
    port: 80                    # default 80 / 443; tcp needs it
    path: /ready                # http(s)
    host: www.example.com       # Host header and TLS SNI; default: the endpoint address
    expect_status: [200]        # default: any 2xx or 3xx
    expect_body: "ok"           # optional substring
    interval: 5s
    timeout: 2s
    rise: 3                     # consecutive successes to become healthy
    fall: 3                     # consecutive failures to become unhealthy

geo_maps:
  world:
    nets:                        # most specific network wins, before any geo lookup
      "10.0.0.0/8": [us-east]
    countries:
      JP: [ap-northeast, us-east]
    continents:
      EU: [eu-west, us-east]
      NA: [us-east, eu-west]
      AS: [[ap-northeast, us-east], eu-west]   # an inner list is a tier (3.3)
    default: nearest             # or a list of regions

zones:
  - origin: gslb.example.
    file: gslb.example.zone      # RFC 1035 master file, relative to this file; holds SOA and NS
    services:                    # GSLB names inside the zone ("@" is the apex)
      www:
        ttl: 30
        policy: geo              # geo | nearest | weighted | failover
        map: world               # policy geo only
        max_answers: 2           # addresses per answer
        all_down: serve_all      # serve_all | servfail (3.4)
        pools:                   # one per region, listed in failover order
          us-east:
            weight: 100          # 0..=1000; 0 takes no traffic
            monitor: web
            min_healthy: 1
            endpoints:
              - 192.0.2.10
              - { address: 192.0.2.11, weight: 50 }
              - { address: 2001:db8::10, probe: "127.0.0.1:18080" }  # probe another address
          eu-west:
            monitor: web
            endpoints: [198.51.100.10]
"#;

/// A small valid configuration; tests append to it or copy it with a change.
const MINIMAL: &str = "\
regions:
  us-east: { location: [39.04, -77.49] }
  eu-west: { location: [53.35, -6.26] }
zones:
  - origin: gslb.example.
    file: gslb.example.zone
    services:
      www:
        policy: failover
        pools:
          us-east:
            endpoints: [192.0.2.10]
";

fn parse_ok(yaml: &str) -> Config {
    match parse(yaml, Path::new(SOURCE)) {
        Ok(config) => config,
        Err(errors) => panic!("expected a valid config, got:\n{errors}"),
    }
}

fn parse_err(yaml: &str) -> Vec<ConfigError> {
    match parse(yaml, Path::new(SOURCE)) {
        Ok(_) => panic!("expected errors, config was accepted:\n{yaml}"),
        Err(errors) => errors.0,
    }
}

/// The single error `yaml` produces.
fn only_error(yaml: &str) -> ConfigError {
    let errors = parse_err(yaml);
    assert_eq!(
        errors.len(),
        1,
        "expected one error, got:\n{}",
        ConfigErrors(errors.clone())
    );
    errors.into_iter().next().unwrap()
}

#[track_caller]
fn assert_error(e: &ConfigError, line: u64, column: u64, path: &str, message: &str) {
    assert_eq!(
        (e.line, e.column, e.path.as_str()),
        (line, column, path),
        "position or path of: {e}"
    );
    assert!(
        e.message.contains(message),
        "message of {e}\n  does not contain {message:?}"
    );
    assert_eq!(e.file, PathBuf::from(SOURCE));
}

/// `MINIMAL` with the `www` service's body replaced.
fn with_service(body: &str) -> String {
    let head = MINIMAL.split("        policy: failover").next().unwrap();
    format!("{head}{body}")
}

// ---------------------------------------------------------------- valid

#[test]
fn spec_example_parses_into_the_model() {
    let c = parse_ok(SPEC_EXAMPLE);
    assert_eq!(c.source, PathBuf::from(SOURCE));

    assert_eq!(
        c.dns.listen,
        vec![
            SocketAddr::from((Ipv4Addr::LOCALHOST, 5300)),
            SocketAddr::from((Ipv6Addr::LOCALHOST, 5300)),
        ]
    );
    assert_eq!(c.dns.max_udp_payload, 1232);
    assert_eq!(c.dns.tcp_idle_timeout, Duration::from_secs(10));

    let admin = c.admin.as_ref().unwrap();
    assert_eq!(admin.listen, SocketAddr::from((Ipv4Addr::LOCALHOST, 8053)));
    assert_eq!(admin.token_env.as_deref(), Some("MERIDIAN_ADMIN_TOKEN"));
    assert_eq!(admin.token_file, None);
    assert_eq!(c.state_file, Some(PathBuf::from("conf/var/state.json")));

    let geoip = c.geoip.as_ref().unwrap();
    assert_eq!(geoip.database, PathBuf::from("conf/geoip/demo.mmdb"));
    assert!(geoip.ecs);
    assert_eq!(
        geoip.loc,
        Loc {
            line: 10,
            column: 13
        }
    );

    let names: Vec<_> = c.regions.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(names, ["us-east", "eu-west", "ap-northeast"]);
    assert_eq!(c.regions[0].location, Some((39.04, -77.49)));
    assert_eq!(c.regions[2].location, Some((35.68, 139.69)));

    let web = &c.monitors[0];
    assert_eq!(web.name, "web");
    assert_eq!(web.kind, MonitorKind::Http);
    assert_eq!(web.port, 80);
    assert_eq!(web.path, "/ready");
    assert_eq!(web.host.as_deref(), Some("www.example.com"));
    assert_eq!(web.expect_status, [200]);
    assert_eq!(web.expect_body.as_deref(), Some("ok"));
    assert_eq!(web.interval, Duration::from_secs(5));
    assert_eq!(web.timeout, Duration::from_secs(2));
    assert_eq!((web.rise, web.fall), (3, 3));
    assert!(web.tls_verify);

    let world = &c.geo_maps[0];
    assert_eq!(world.name, "world");
    assert_eq!(
        world.nets,
        vec![("10.0.0.0/8".parse().unwrap(), vec![vec![0]])]
    );
    assert_eq!(
        world.countries,
        vec![("JP".to_owned(), vec![vec![2], vec![0]])]
    );
    assert_eq!(world.continents.len(), 3);
    assert_eq!(
        world.continents[2],
        ("AS".to_owned(), vec![vec![2, 0], vec![1]])
    );
    assert!(matches!(world.default, MapDefault::Nearest));

    let zone = &c.zones[0];
    assert_eq!(zone.origin, Name::from_ascii("gslb.example.").unwrap());
    assert_eq!(zone.file, PathBuf::from("conf/gslb.example.zone"));
    assert_eq!(zone.loc.line, 44);

    let www = &zone.services[0];
    assert_eq!(www.label, "www");
    assert_eq!(www.name, Name::from_ascii("www.gslb.example.").unwrap());
    assert!(www.name.is_fqdn());
    assert_eq!(www.ttl, 30);
    assert_eq!(www.policy, Policy::Geo(0));
    assert_eq!(www.max_answers, 2);
    assert_eq!(www.all_down, AllDown::ServeAll);
    assert_eq!(
        www.loc,
        Loc {
            line: 47,
            column: 7
        }
    );
    assert_eq!(www.path, "zones[0].services.www");

    assert_eq!(www.pools.len(), 2);
    let us = &www.pools[0];
    assert_eq!(
        (us.region, us.weight, us.monitor, us.min_healthy),
        (0, 100, Some(0), 1)
    );
    let targets: Vec<_> = us
        .endpoints
        .iter()
        .map(|e| (e.target.clone(), e.weight))
        .collect();
    assert_eq!(
        targets,
        [
            (Target::V4(Ipv4Addr::new(192, 0, 2, 10)), 100),
            (Target::V4(Ipv4Addr::new(192, 0, 2, 11)), 50),
            (Target::V6("2001:db8::10".parse().unwrap()), 100),
        ]
    );
    assert_eq!(us.endpoints[2].probe.as_deref(), Some("127.0.0.1:18080"));
    let eu = &www.pools[1];
    assert_eq!((eu.region, eu.weight, eu.min_healthy), (1, 100, 1));
}

#[test]
fn absent_sections_take_their_defaults() {
    let c = parse_ok(MINIMAL);
    assert_eq!(
        c.dns.listen,
        [SocketAddr::from((Ipv4Addr::LOCALHOST, 5300))]
    );
    assert_eq!(c.dns.max_udp_payload, 1232);
    assert_eq!(c.dns.tcp_idle_timeout, Duration::from_secs(10));
    assert!(c.admin.is_none());
    assert!(c.state_file.is_none());
    assert!(c.geoip.is_none());
    assert!(c.monitors.is_empty() && c.geo_maps.is_empty());
    let www = &c.zones[0].services[0];
    assert_eq!(www.ttl, 30);
    assert_eq!(www.policy, Policy::Failover);
    assert_eq!(www.max_answers, 1);
    assert_eq!(www.all_down, AllDown::ServeAll);
    let pool = &www.pools[0];
    assert_eq!(
        (pool.weight, pool.monitor, pool.min_healthy),
        (100, None, 1)
    );
    assert_eq!(pool.endpoints[0].weight, 100);
    assert_eq!(pool.endpoints[0].probe, None);
}

#[test]
fn monitor_defaults_depend_on_type() {
    let yaml = format!(
        "{MINIMAL}monitors:
  plain: {{ type: http }}
  secure: {{ type: https, tls_verify: false }}
  conn: {{ type: tcp, port: 5432, interval: 1m30s, timeout: 500ms }}
"
    );
    let c = parse_ok(&yaml);
    let [plain, secure, conn] = c.monitors.as_slice() else {
        panic!("three monitors expected");
    };
    assert_eq!(
        (plain.kind, plain.port, plain.path.as_str()),
        (MonitorKind::Http, 80, "/")
    );
    assert!(plain.expect_status.is_empty() && plain.tls_verify);
    assert_eq!(
        (secure.kind, secure.port, secure.tls_verify),
        (MonitorKind::Https, 443, false)
    );
    assert_eq!((conn.kind, conn.port), (MonitorKind::Tcp, 5432));
    assert_eq!(conn.interval, Duration::from_secs(90));
    assert_eq!(conn.timeout, Duration::from_millis(500));
}

#[test]
fn relative_paths_join_the_config_directory_absolute_paths_stay() {
    let yaml = MINIMAL.replace(
        "file: gslb.example.zone",
        "file: /srv/zones/gslb.example.zone",
    ) + "state_file: state.json\nadmin: { listen: \"[::1]:8053\", token_file: secret/token }\n";
    let c = parse_ok(&yaml);
    assert_eq!(
        c.zones[0].file,
        PathBuf::from("/srv/zones/gslb.example.zone")
    );
    assert_eq!(c.state_file, Some(PathBuf::from("conf/state.json")));
    let admin = c.admin.unwrap();
    assert_eq!(admin.token_file, Some(PathBuf::from("conf/secret/token")));
    assert_eq!(admin.listen, "[::1]:8053".parse().unwrap());
}

#[test]
fn apex_and_multi_label_services_are_fully_qualified() {
    let yaml = format!(
        "{MINIMAL}      \"@\":
        policy: weighted
        pools: {{ us-east: {{ endpoints: [2001:db8::1] }} }}
      api.v2:
        policy: nearest
        pools: {{ eu-west: {{ endpoints: [lb.example.net.] }}, us-east: {{ endpoints: [192.0.2.1] }} }}
"
    );
    let c = parse_ok(&yaml);
    let s = &c.zones[0].services;
    assert_eq!(s[1].label, "@");
    assert_eq!(s[1].name, Name::from_ascii("gslb.example.").unwrap());
    assert_eq!(s[2].name, Name::from_ascii("api.v2.gslb.example.").unwrap());
    assert_eq!(s[2].path, "zones[0].services.\"api.v2\"");
    assert_eq!(s[2].policy, Policy::Nearest);
    assert_eq!(
        s[2].pools[0].endpoints[0].target,
        Target::Name(Name::from_ascii("lb.example.net.").unwrap())
    );
}

#[test]
fn codes_are_upper_cased_and_yaml11_booleans_stay_strings() {
    // `NO` and `no` would be `false` under YAML 1.1; here they are names.
    let yaml = "\
regions:
  no: {}
  yes: {}
geo_maps:
  m:
    countries: { NO: [no], jp: [yes, no], us-ca: [[no, yes]] }
    continents: { eu: [no] }
    default: [yes]
zones:
  - origin: gslb.example.
    file: z
    services:
      www:
        policy: geo
        map: m
        pools: { no: { endpoints: [192.0.2.1] } }
";
    let c = parse_ok(yaml);
    assert_eq!(c.regions[0].name, "no");
    let m = &c.geo_maps[0];
    let codes: Vec<_> = m.countries.iter().map(|(c, _)| c.as_str()).collect();
    assert_eq!(codes, ["NO", "JP", "US-CA"]);
    assert_eq!(m.countries[2].1, vec![vec![0, 1]]);
    assert_eq!(m.continents[0].0, "EU");
    assert!(matches!(&m.default, MapDefault::Tiers(t) if *t == vec![vec![1]]));
}

#[test]
fn empty_region_and_null_region_have_no_location() {
    let yaml = MINIMAL.replace(
        "  eu-west: { location: [53.35, -6.26] }",
        "  eu-west: {}\n  ap:",
    );
    let c = parse_ok(&yaml);
    assert_eq!(c.regions[1].location, None);
    assert_eq!(c.regions[2].name, "ap");
}

// ---------------------------------------------------------------- YAML level

#[test]
fn yaml_syntax_error_is_reported_alone_with_its_position() {
    let e = only_error("zones: [a, b\nregions: x\n");
    assert_eq!((e.line, e.column), (2, 8));
    assert!(e.message.starts_with("invalid YAML: "), "{e}");
    assert_eq!(e.path, "");
}

#[test]
fn duplicate_key_names_line_path_and_first_occurrence() {
    let yaml = MINIMAL.replace(
        "            endpoints: [192.0.2.10]\n",
        "            endpoints: [192.0.2.10]\n            endpoints: [192.0.2.11]\n",
    );
    let e = only_error(&yaml);
    assert_error(
        &e,
        13,
        13,
        "zones[0].services.www.pools.us-east.endpoints",
        "duplicate key \"endpoints\" (first at line 12)",
    );
}

#[test]
fn duplicate_region_keys_are_reported_and_the_first_one_kept() {
    let yaml = MINIMAL.replace("  eu-west:", "  us-east:");
    let e = only_error(&yaml);
    assert_error(&e, 3, 3, "regions.us-east", "duplicate key \"us-east\"");
}

#[test]
fn empty_file_is_missing_zones() {
    let e = only_error("");
    assert_eq!(e.message, "missing required key \"zones\"");
    let e = only_error("# nothing but a comment\n");
    assert_eq!(e.message, "missing required key \"zones\"");
}

#[test]
fn document_that_is_not_a_map_is_a_type_error() {
    let e = only_error("- zones\n");
    assert_error(&e, 1, 1, "", "expected a map, found a list");
}

// ---------------------------------------------------------------- keys and types

#[test]
fn unknown_key_names_the_key_and_lists_the_allowed_ones() {
    let e = only_error(&format!("{MINIMAL}dns:\n  listne: [\"127.0.0.1:53\"]\n"));
    assert_error(
        &e,
        14,
        3,
        "dns.listne",
        "unknown key \"listne\" (allowed: listen, max_udp_payload, tcp_idle_timeout, tcp_timeout, tcp_max_connections, nsid, rrl)",
    );
}

#[test]
fn unknown_key_in_a_pool_is_reported_at_the_key() {
    let yaml = with_service(
        "        policy: failover
        pools:
          us-east:
            wieght: 5
            endpoints: [192.0.2.10]
",
    );
    let e = only_error(&yaml);
    assert_error(
        &e,
        12,
        13,
        "zones[0].services.www.pools.us-east.wieght",
        "unknown key \"wieght\" (allowed: weight, monitor, min_healthy, endpoints, discover, spill, slow_start, monitors)",
    );
}

#[test]
fn quoted_number_is_a_string_not_an_integer() {
    let yaml = with_service(
        "        ttl: \"30\"
        policy: failover
        pools: { us-east: { endpoints: [192.0.2.10] } }
",
    );
    let e = only_error(&yaml);
    assert_error(
        &e,
        9,
        14,
        "zones[0].services.www.ttl",
        "expected an integer, found a string (\"30\")",
    );
}

#[test]
fn wrong_container_type_is_named() {
    let e = only_error(&format!("{MINIMAL}dns: [1]\n"));
    assert_error(&e, 13, 6, "dns", "expected a map, found a list");
    let e = only_error(&format!(
        "{MINIMAL}geoip: {{ database: x.mmdb, ecs: yes }}\n"
    ));
    assert_error(
        &e,
        13,
        33,
        "geoip.ecs",
        "expected a boolean (true or false), found a string (\"yes\")",
    );
}

#[test]
fn missing_required_key_is_reported_at_the_parent_key() {
    let yaml = with_service("        pools: { us-east: { endpoints: [192.0.2.10] } }\n");
    let e = only_error(&yaml);
    assert_error(
        &e,
        8,
        7,
        "zones[0].services.www",
        "missing required key \"policy\"",
    );
}

// ---------------------------------------------------------------- durations and ranges

#[test]
fn duration_without_unit_is_rejected_with_a_hint() {
    let e = only_error(&format!(
        "{MINIMAL}monitors:\n  web:\n    type: http\n    interval: 5\n"
    ));
    assert_error(
        &e,
        16,
        15,
        "monitors.web.interval",
        "found the integer 5 with no unit; write e.g. 5s",
    );
}

#[test]
fn malformed_and_zero_durations_are_rejected() {
    let yaml = format!(
        "{MINIMAL}monitors:\n  a: {{ type: http, interval: 5 s }}\n  b: {{ type: http, interval: -1s }}\n  c: {{ type: http, timeout: 0s }}\ndns: {{ tcp_idle_timeout: 1d }}\n"
    );
    let errors = parse_err(&yaml);
    assert_eq!(errors.len(), 4, "{}", ConfigErrors(errors.clone()));
    assert_error(
        &errors[0],
        14,
        30,
        "monitors.a.interval",
        "\"5 s\" is not a duration",
    );
    assert_error(
        &errors[1],
        15,
        30,
        "monitors.b.interval",
        "\"-1s\" is not a duration",
    );
    assert_error(&errors[2], 16, 29, "monitors.c.timeout", "\"0s\" is zero");
    assert_error(
        &errors[3],
        17,
        26,
        "dns.tcp_idle_timeout",
        "unknown unit \"d\"",
    );
}

#[test]
fn weight_outside_range_names_line_and_range() {
    let yaml = with_service(
        "        policy: weighted
        pools:
          us-east:
            weight: 1200
            endpoints: [192.0.2.10]
",
    );
    let e = only_error(&yaml);
    assert_error(
        &e,
        12,
        21,
        "zones[0].services.www.pools.us-east.weight",
        "1200 is outside 0..=1000",
    );
}

#[test]
fn endpoint_weight_ttl_and_max_answers_ranges() {
    let yaml = with_service(
        "        policy: weighted
        ttl: 86401
        max_answers: 17
        pools:
          us-east:
            endpoints: [{ address: 192.0.2.10, weight: -1 }]
",
    );
    let errors = parse_err(&yaml);
    assert_eq!(errors.len(), 3, "{}", ConfigErrors(errors.clone()));
    assert_error(
        &errors[0],
        10,
        14,
        "zones[0].services.www.ttl",
        "86401 is outside 0..=86400",
    );
    assert_error(
        &errors[1],
        11,
        22,
        "zones[0].services.www.max_answers",
        "17 is outside 1..=16",
    );
    assert_error(
        &errors[2],
        14,
        56,
        "zones[0].services.www.pools.us-east.endpoints[0].weight",
        "-1 is outside 0..=1000",
    );
}

#[test]
fn max_udp_payload_outside_range() {
    let e = only_error(&format!("{MINIMAL}dns:\n  max_udp_payload: 511\n"));
    assert_error(
        &e,
        14,
        20,
        "dns.max_udp_payload",
        "511 is outside 512..=65535",
    );
}

#[test]
fn region_location_out_of_range_or_wrong_shape() {
    let yaml = MINIMAL
        .replace("[39.04, -77.49]", "[91, -77.49]")
        .replace("[53.35, -6.26]", "[53.35]");
    let errors = parse_err(&yaml);
    assert_eq!(errors.len(), 2, "{}", ConfigErrors(errors.clone()));
    assert_error(
        &errors[0],
        2,
        25,
        "regions.us-east.location[0]",
        "91 is outside -90..=90",
    );
    assert_error(
        &errors[1],
        3,
        24,
        "regions.eu-west.location",
        "expected [latitude, longitude], found a list of 1",
    );
}

#[test]
fn bad_region_name_is_reported_at_its_key() {
    let yaml = MINIMAL.replace("  eu-west:", "  \"eu west\":");
    let e = only_error(&yaml);
    assert_error(
        &e,
        3,
        3,
        "regions.\"eu west\"",
        "region name \"eu west\" must be non-empty and hold only letters, digits, '-' and '_'",
    );
}

// ---------------------------------------------------------------- references

#[test]
fn unknown_region_lists_the_defined_regions() {
    let yaml = with_service(
        "        policy: failover
        pools:
          eu-wset:
            endpoints: [192.0.2.10]
",
    );
    let e = only_error(&yaml);
    assert_error(
        &e,
        11,
        11,
        "zones[0].services.www.pools.eu-wset",
        "unknown region \"eu-wset\" (regions: us-east, eu-west)",
    );
}

#[test]
fn unknown_monitor_lists_the_defined_monitors() {
    let yaml = with_service(
        "        policy: failover
        pools:
          us-east:
            monitor: wbe
            endpoints: [192.0.2.10]
monitors:
  web: { type: http }
",
    );
    let e = only_error(&yaml);
    assert_error(
        &e,
        12,
        22,
        "zones[0].services.www.pools.us-east.monitor",
        "unknown monitor \"wbe\" (monitors: web)",
    );
}

#[test]
fn unknown_map_and_geo_without_map_and_map_on_another_policy() {
    let yaml = format!(
        "{}      api:
        policy: geo
        map: wrld
        pools: {{ us-east: {{ endpoints: [192.0.2.1] }} }}
      geo2:
        policy: geo
        pools: {{ us-east: {{ endpoints: [192.0.2.1] }} }}
geo_maps:
  world: {{}}
",
        MINIMAL.replace(
            "        policy: failover\n",
            "        policy: failover\n        map: world\n"
        )
    );
    let errors = parse_err(&yaml);
    assert_eq!(errors.len(), 3, "{}", ConfigErrors(errors.clone()));
    assert_error(
        &errors[0],
        10,
        9,
        "zones[0].services.www.map",
        "\"map\" applies to policy geo only, not to policy failover",
    );
    assert_error(
        &errors[1],
        16,
        14,
        "zones[0].services.api.map",
        "unknown map \"wrld\" (geo_maps: world)",
    );
    assert_error(
        &errors[2],
        18,
        7,
        "zones[0].services.geo2",
        "missing required key \"map\": policy geo needs one (geo_maps: world)",
    );
}

#[test]
fn map_naming_an_unknown_region_or_a_region_twice() {
    let yaml = format!(
        "{MINIMAL}geo_maps:
  world:
    continents:
      EU: [eu-west, us-esat]
      NA: [us-east, [eu-west, us-east]]
"
    );
    let errors = parse_err(&yaml);
    assert_eq!(errors.len(), 2, "{}", ConfigErrors(errors.clone()));
    assert_error(
        &errors[0],
        16,
        21,
        "geo_maps.world.continents.EU[1]",
        "unknown region \"us-esat\" (regions: us-east, eu-west)",
    );
    assert_error(
        &errors[1],
        17,
        31,
        "geo_maps.world.continents.NA[1][1]",
        "region \"us-east\" appears twice in this list",
    );
}

#[test]
fn nets_must_be_networks_without_host_bits() {
    let yaml = format!(
        "{MINIMAL}geo_maps:
  world:
    nets:
      \"10.0.0.1/8\": [us-east]
      \"10.0.0.0/33\": [us-east]
      \"192.0.2.1\": [us-east]
      \"2001:db8::/32\": [eu-west]
"
    );
    let errors = parse_err(&yaml);
    assert_eq!(errors.len(), 3, "{}", ConfigErrors(errors.clone()));
    assert_error(
        &errors[0],
        16,
        7,
        "geo_maps.world.nets.\"10.0.0.1/8\"",
        "\"10.0.0.1/8\" has host bits set; did you mean 10.0.0.0/8?",
    );
    assert_error(
        &errors[1],
        17,
        7,
        "geo_maps.world.nets.\"10.0.0.0/33\"",
        "is not a network; write a CIDR",
    );
    assert_error(
        &errors[2],
        18,
        7,
        "geo_maps.world.nets.\"192.0.2.1\"",
        "is not a network",
    );
}

#[test]
fn bad_country_and_continent_codes() {
    let yaml = format!(
        "{MINIMAL}geo_maps:
  world:
    countries: {{ JPN: [us-east], US-CALIF: [us-east], jp: [us-east], JP: [eu-west] }}
    continents: {{ EU: [eu-west], XX: [us-east] }}
    default: closest
"
    );
    let errors = parse_err(&yaml);
    assert_eq!(errors.len(), 5, "{}", ConfigErrors(errors.clone()));
    assert_error(
        &errors[0],
        15,
        18,
        "geo_maps.world.countries.JPN",
        "\"JPN\" is not a country code",
    );
    assert_error(
        &errors[1],
        15,
        34,
        "geo_maps.world.countries.US-CALIF",
        "is not a country code",
    );
    assert_error(
        &errors[2],
        15,
        70,
        "geo_maps.world.countries.JP",
        "JP is listed twice",
    );
    assert_error(
        &errors[3],
        16,
        34,
        "geo_maps.world.continents.XX",
        "\"XX\" is not a continent code (continents: AF, AN, AS, EU, NA, OC, SA)",
    );
    assert_error(
        &errors[4],
        17,
        14,
        "geo_maps.world.default",
        "expected \"nearest\" or a list of regions, found \"closest\"",
    );
}

// ---------------------------------------------------------------- endpoints

#[test]
fn endpoint_that_is_neither_address_nor_name() {
    let yaml = with_service(
        "        policy: failover
        pools:
          us-east:
            endpoints: [www.example.net, \"192.0.2.300\", \"[2001:db8::1]\", 42]
",
    );
    let errors = parse_err(&yaml);
    assert_eq!(errors.len(), 4, "{}", ConfigErrors(errors.clone()));
    let path = "zones[0].services.www.pools.us-east.endpoints";
    assert_error(
        &errors[0],
        12,
        25,
        &format!("{path}[0]"),
        "\"www.example.net\" is not an IPv4 or IPv6 address or a domain name ending in \".\" \
         (for a CNAME, write www.example.net.)",
    );
    assert_error(
        &errors[1],
        12,
        42,
        &format!("{path}[1]"),
        "\"192.0.2.300\" is not an IPv4",
    );
    assert_error(
        &errors[2],
        12,
        57,
        &format!("{path}[2]"),
        "without brackets",
    );
    assert_error(
        &errors[3],
        12,
        74,
        &format!("{path}[3]"),
        "found an integer",
    );
}

#[test]
fn name_endpoint_is_alone_in_its_pool() {
    let yaml = with_service(
        "        policy: failover
        pools:
          us-east:
            endpoints: [a.example.net., b.example.net.]
          eu-west:
            endpoints: [192.0.2.1, c.example.net.]
",
    );
    let errors = parse_err(&yaml);
    assert_eq!(errors.len(), 2, "{}", ConfigErrors(errors.clone()));
    assert_error(
        &errors[0],
        12,
        41,
        "zones[0].services.www.pools.us-east.endpoints[1]",
        "a pool holds at most one name endpoint (answered as CNAME)",
    );
    assert_error(
        &errors[1],
        14,
        36,
        "zones[0].services.www.pools.eu-west.endpoints[1]",
        "cannot share a pool with addresses",
    );
}

#[test]
fn duplicate_endpoint_in_a_pool() {
    let yaml = with_service(
        "        policy: failover
        pools:
          us-east:
            endpoints: [2001:db8::1, { address: \"2001:DB8:0::1\", weight: 5 }]
",
    );
    let e = only_error(&yaml);
    assert_error(
        &e,
        12,
        38,
        "zones[0].services.www.pools.us-east.endpoints[1]",
        "endpoint 2001:db8::1 is listed twice in this pool",
    );
}

#[test]
fn probe_must_be_host_and_port() {
    let yaml = with_service(
        "        policy: failover
        pools:
          us-east:
            endpoints:
              - { address: 192.0.2.1, probe: \"192.0.2.1\" }
              - { address: 192.0.2.2, probe: \"2001:db8::1:80\" }
              - { address: 192.0.2.3, probe: \"[2001:db8::1]:80\" }
              - { address: 192.0.2.4, probe: \"probe.example.net:8080\" }
",
    );
    let errors = parse_err(&yaml);
    assert_eq!(errors.len(), 2, "{}", ConfigErrors(errors.clone()));
    assert_error(
        &errors[0],
        13,
        46,
        "zones[0].services.www.pools.us-east.endpoints[0].probe",
        "probe \"192.0.2.1\" is not host:port",
    );
    assert_eq!(errors[1].line, 14);
}

#[test]
fn min_healthy_cannot_exceed_the_endpoint_count() {
    let yaml = with_service(
        "        policy: failover
        pools:
          us-east:
            min_healthy: 3
            endpoints: [192.0.2.1, 192.0.2.2]
",
    );
    let e = only_error(&yaml);
    assert_error(
        &e,
        12,
        26,
        "zones[0].services.www.pools.us-east.min_healthy",
        "min_healthy 3 is more than the pool's 2 endpoints",
    );
}

#[test]
fn nearest_needs_every_pool_region_located() {
    let yaml = with_service(
        "        policy: nearest
        pools:
          us-east: { endpoints: [192.0.2.1] }
          ap: { endpoints: [192.0.2.2] }
",
    )
    .replacen("regions:\n", "regions:\n  ap: {}\n", 1);
    let e = only_error(&yaml);
    assert_error(
        &e,
        13,
        11,
        "zones[0].services.www.pools.ap",
        "region \"ap\" has no location, but policy nearest orders pools by distance",
    );
}

// ---------------------------------------------------------------- zones and services

#[test]
fn origin_must_be_fully_qualified_and_unique() {
    let yaml = MINIMAL.replace("origin: gslb.example.", "origin: gslb.example")
        + "  - origin: other.example.\n    file: o.zone\n  - origin: OTHER.example.\n    file: o2.zone\n";
    let errors = parse_err(&yaml);
    assert_eq!(errors.len(), 2, "{}", ConfigErrors(errors.clone()));
    assert_error(
        &errors[0],
        5,
        13,
        "zones[0].origin",
        "origin \"gslb.example\" must be fully qualified, ending in \".\"",
    );
    assert_error(
        &errors[1],
        15,
        13,
        "zones[2].origin",
        "origin OTHER.example. is already used by zones[1]",
    );
}

#[test]
fn service_name_must_be_relative_and_valid() {
    let yaml = format!(
        "{MINIMAL}      www.gslb.example.:
        policy: failover
        pools: {{ us-east: {{ endpoints: [192.0.2.1] }} }}
      \"bad name\":
        policy: failover
        pools: {{ us-east: {{ endpoints: [192.0.2.1] }} }}
      WWW:
        policy: failover
        pools: {{ us-east: {{ endpoints: [192.0.2.1] }} }}
"
    );
    let errors = parse_err(&yaml);
    assert_eq!(errors.len(), 3, "{}", ConfigErrors(errors.clone()));
    assert_error(
        &errors[0],
        13,
        7,
        "zones[0].services.\"www.gslb.example.\"",
        "must be relative to the zone origin, without a trailing \".\"",
    );
    assert_error(
        &errors[1],
        16,
        7,
        "zones[0].services.\"bad name\"",
        "is not a relative domain name: ' ' is not allowed",
    );
    assert_error(
        &errors[2],
        19,
        7,
        "zones[0].services.WWW",
        "\"WWW\" is the same name as service \"www\"",
    );
}

#[test]
fn service_without_pools_or_pool_without_endpoints() {
    let yaml = format!(
        "{MINIMAL}      a:
        policy: failover
        pools: {{}}
      b:
        policy: failover
        pools: {{ us-east: {{ endpoints: [] }} }}
"
    );
    let errors = parse_err(&yaml);
    assert_eq!(errors.len(), 2, "{}", ConfigErrors(errors.clone()));
    assert_error(
        &errors[0],
        15,
        16,
        "zones[0].services.a.pools",
        "at least one pool",
    );
    assert_error(
        &errors[1],
        18,
        40,
        "zones[0].services.b.pools.us-east.endpoints",
        "a pool needs at least one endpoint",
    );
}

// ---------------------------------------------------------------- monitors

#[test]
fn monitor_timeout_longer_than_interval() {
    let yaml = format!("{MINIMAL}monitors:\n  web: {{ type: http, interval: 1s, timeout: 2s }}\n");
    let e = only_error(&yaml);
    assert_error(
        &e,
        14,
        45,
        "monitors.web.timeout",
        "timeout 2s is longer than interval 1s",
    );
}

#[test]
fn tcp_monitor_needs_a_port_and_no_http_keys() {
    let yaml = format!(
        "{MINIMAL}monitors:\n  db:\n    type: tcp\n    path: /ready\n  web:\n    type: http\n    tls_verify: false\n  x:\n    type: icmp\n    rise: 0\n"
    );
    let errors = parse_err(&yaml);
    assert_eq!(errors.len(), 5, "{}", ConfigErrors(errors.clone()));
    assert_error(
        &errors[0],
        14,
        3,
        "monitors.db",
        "missing required key \"port\" (tcp monitors have no default port)",
    );
    assert_error(
        &errors[1],
        16,
        5,
        "monitors.db.path",
        "\"path\" applies to http and https monitors only",
    );
    assert_error(
        &errors[2],
        19,
        5,
        "monitors.web.tls_verify",
        "\"tls_verify\" applies to https monitors only",
    );
    assert_error(
        &errors[3],
        21,
        11,
        "monitors.x.type",
        "unknown monitor type \"icmp\" (types: http, https, tcp, grpc, prometheus)",
    );
    assert_error(
        &errors[4],
        22,
        11,
        "monitors.x.rise",
        "0 is too small; it must be at least 1",
    );
}

#[test]
fn monitor_path_and_status_codes() {
    let yaml = format!(
        "{MINIMAL}monitors:\n  web: {{ type: http, path: ready, expect_status: [200, 99] }}\n"
    );
    let errors = parse_err(&yaml);
    assert_eq!(errors.len(), 2, "{}", ConfigErrors(errors.clone()));
    assert_error(
        &errors[0],
        14,
        28,
        "monitors.web.path",
        "must start with '/'",
    );
    assert_error(
        &errors[1],
        14,
        56,
        "monitors.web.expect_status[1]",
        "99 is outside 100..=599",
    );
}

// ---------------------------------------------------------------- dns and admin

#[test]
fn listen_addresses_must_be_ip_and_port() {
    let yaml = format!(
        "{MINIMAL}dns:\n  listen: [\"localhost:53\", \"127.0.0.1\", \"[::1]:53\", \"[::1]:53\"]\n"
    );
    let errors = parse_err(&yaml);
    assert_eq!(errors.len(), 3, "{}", ConfigErrors(errors.clone()));
    assert_error(
        &errors[0],
        14,
        12,
        "dns.listen[0]",
        "\"localhost:53\" is not an address and port; write ip:port",
    );
    assert_error(
        &errors[1],
        14,
        28,
        "dns.listen[1]",
        "\"127.0.0.1\" is not an address and port",
    );
    assert_error(
        &errors[2],
        14,
        53,
        "dns.listen[3]",
        "[::1]:53 is listed twice",
    );
}

#[test]
fn token_env_and_token_file_are_exclusive() {
    let yaml = format!(
        "{MINIMAL}admin:\n  listen: 127.0.0.1:8053\n  token_env: TOKEN\n  token_file: token.txt\n"
    );
    let e = only_error(&yaml);
    assert_error(
        &e,
        16,
        3,
        "admin.token_file",
        "set token_env or token_file, not both",
    );
}

#[test]
fn non_loopback_admin_needs_a_token() {
    let yaml = format!("{MINIMAL}admin:\n  listen: 0.0.0.0:8053\n");
    let e = only_error(&yaml);
    assert_error(
        &e,
        14,
        11,
        "admin.listen",
        "0.0.0.0:8053 is not a loopback address, so changes need a token",
    );
    let ok = format!("{MINIMAL}admin:\n  listen: 0.0.0.0:8053\n  token_env: T\n");
    assert!(parse_ok(&ok).admin.is_some());
}

// ---------------------------------------------------------------- every error

#[test]
fn check_reports_every_error_in_file_order() {
    let yaml = "\
dns:
  max_udp_payload: 100
regions:
  us-east: {}
monitors:
  web: { type: http, interval: 5 }
zones:
  - origin: gslb.example.
    file: z
    services:
      www:
        policy: failover
        pools:
          eu-wset:
            weight: 1200
            endpoints: [www.example.net]
colour: blue
";
    let errors = parse_err(yaml);
    let got: Vec<_> = errors
        .iter()
        .map(|e| (e.line, e.column, e.path.as_str()))
        .collect();
    assert_eq!(
        got,
        [
            (2, 20, "dns.max_udp_payload"),
            (6, 32, "monitors.web.interval"),
            (14, 11, "zones[0].services.www.pools.eu-wset"),
            (15, 21, "zones[0].services.www.pools.eu-wset.weight"),
            (16, 25, "zones[0].services.www.pools.eu-wset.endpoints[0]"),
            (17, 1, "colour"),
        ]
    );
    // The Display form operators read: file:line:col: path: message.
    assert_eq!(
        errors[3].to_string(),
        "conf/meridian.yaml:15:21: zones[0].services.www.pools.eu-wset.weight: 1200 is outside 0..=1000"
    );
}

#[test]
fn truncated_configs_are_errors_not_panics() {
    // Every prefix of the SPEC example, cut at any character: syntax errors,
    // missing keys and half-written values must all come back as errors.
    for (i, _) in SPEC_EXAMPLE.char_indices() {
        let _ = parse(&SPEC_EXAMPLE[..i], Path::new(SOURCE));
    }
}

// ---------------------------------------------------------------- cluster

#[test]
fn cluster_section_parses_with_defaults() {
    let yaml =
        format!("{MINIMAL}cluster:\n  endpoints: [\"http://127.0.0.1:2379\"]\n  instance: ns1\n");
    let c = parse_ok(&yaml).cluster.expect("cluster");
    assert_eq!(c.endpoints, ["http://127.0.0.1:2379"]);
    assert_eq!(c.prefix, "/meridian/");
    assert_eq!(c.instance, "ns1");
    assert_eq!(c.quorum, None);
    assert_eq!(c.lease_ttl, Duration::from_secs(10));
    assert_eq!((c.tls, c.username, c.password_env), (None, None, None));
    assert!(parse_ok(MINIMAL).cluster.is_none(), "absent = alone");
}

#[test]
fn cluster_section_parses_every_option() {
    let yaml = format!(
        "{MINIMAL}cluster:
  endpoints: [\"https://etcd1:2379\", \"https://etcd2:2379\"]
  prefix: /gslb/prod/
  instance: ns2.fra
  quorum: 2
  lease_ttl: 5s
  tls: {{ ca_file: ca.pem, cert_file: client.pem, key_file: client.key }}
  username: meridian
  password_env: ETCD_PASSWORD
"
    );
    let c = parse_ok(&yaml).cluster.expect("cluster");
    assert_eq!(c.endpoints.len(), 2);
    assert_eq!(c.prefix, "/gslb/prod/");
    assert_eq!(c.instance, "ns2.fra");
    assert_eq!(c.quorum, Some(2));
    assert_eq!(c.lease_ttl, Duration::from_secs(5));
    let tls = c.tls.expect("tls");
    assert_eq!(tls.ca_file, Some(PathBuf::from("conf/ca.pem")));
    assert_eq!(tls.key_file, Some(PathBuf::from("conf/client.key")));
    assert_eq!(c.username.as_deref(), Some("meridian"));
    assert_eq!(c.password_env.as_deref(), Some("ETCD_PASSWORD"));
}

#[test]
fn cluster_needs_endpoints_and_an_instance() {
    let errors = parse_err(&format!("{MINIMAL}cluster:\n  prefix: /m/\n"));
    let messages: Vec<String> = errors.iter().map(ToString::to_string).collect();
    assert_eq!(errors.len(), 2, "{messages:?}");
    assert!(
        messages.iter().any(|m| m.contains("endpoints")),
        "{messages:?}"
    );
    assert!(
        messages.iter().any(|m| m.contains("instance")),
        "{messages:?}"
    );
}

#[test]
fn cluster_endpoint_must_be_a_url_with_a_port() {
    let yaml = format!("{MINIMAL}cluster:\n  endpoints: [127.0.0.1:2379]\n  instance: ns1\n");
    let e = only_error(&yaml);
    assert_error(
        &e,
        14,
        15,
        "cluster.endpoints[0]",
        "is not an etcd endpoint; write http://host:port",
    );
}

#[test]
fn cluster_instance_prefix_quorum_and_lease_are_checked() {
    let base = "cluster:\n  endpoints: [\"http://127.0.0.1:2379\"]\n";
    let e = only_error(&format!("{MINIMAL}{base}  instance: \"ns 1\"\n"));
    assert_error(&e, 15, 13, "cluster.instance", "is not an instance name");
    let e = only_error(&format!(
        "{MINIMAL}{base}  instance: ns1\n  prefix: meridian\n"
    ));
    assert_error(&e, 16, 11, "cluster.prefix", "must start and end with '/'");
    let e = only_error(&format!("{MINIMAL}{base}  instance: ns1\n  quorum: 0\n"));
    assert_error(&e, 16, 11, "cluster.quorum", "0 is outside 1..=1000");
    let e = only_error(&format!(
        "{MINIMAL}{base}  instance: ns1\n  lease_ttl: 500ms\n"
    ));
    assert_error(&e, 16, 14, "cluster.lease_ttl", "outside 2s..=5m");
}

#[test]
fn cluster_credentials_and_client_certificates_come_in_pairs() {
    let base = "cluster:\n  endpoints: [\"https://127.0.0.1:2379\"]\n  instance: ns1\n";
    let e = only_error(&format!("{MINIMAL}{base}  username: meridian\n"));
    assert_error(
        &e,
        16,
        3,
        "cluster.username",
        "set username and password_env together",
    );
    let e = only_error(&format!("{MINIMAL}{base}  tls: {{ cert_file: c.pem }}\n"));
    assert_error(&e, 16, 10, "cluster.tls.cert_file", "key_file is missing");
}

#[test]
fn cluster_tls_needs_https_endpoints() {
    let yaml = format!(
        "{MINIMAL}cluster:\n  endpoints: [\"http://127.0.0.1:2379\"]\n  instance: ns1\n  tls: {{ ca_file: ca.pem }}\n"
    );
    let e = only_error(&yaml);
    assert_error(&e, 16, 3, "cluster.tls", "use https:// endpoints with tls");
}

#[test]
fn large_configurations_parse() {
    // 12,000 services: past serde-saphyr's default node budget.
    let mut text = String::from(
        "regions:\n  a: {}\n  b: {}\nzones:\n  - origin: big.example.\n    file: big.zone\n    services:\n",
    );
    for i in 0..12_000 {
        text.push_str(&format!(
            "      s{i}:\n        policy: failover\n        pools:\n          a: {{ endpoints: [192.0.2.1, 192.0.2.2] }}\n          b: {{ endpoints: [198.51.100.1] }}\n"
        ));
    }
    let config = match parse(&text, Path::new("big.yaml")) {
        Ok(c) => c,
        Err(e) => panic!(
            "{}",
            e.0.first().map(ToString::to_string).unwrap_or_default()
        ),
    };
    assert_eq!(config.zones[0].services.len(), 12_000);
}

const DISCOVER: &str = r#"regions:
  eu-west: {}
monitors:
  web: { type: http }
  app: { type: http, port: 8080 }
discovery:
  etcd: { endpoints: ["http://127.0.0.1:2379"] }
zones:
  - origin: gslb.example.
    file: z.zone
    services:
      www:
        policy: failover
        pools:
          eu-west:
            monitor: web
            discover: { etcd: { prefix: "/services/www/eu-west/", max_removal: "25%", hold: 1m } }
            endpoints:
              - { address: 192.0.2.1, labels: { rack: r7, tier: 2 } }
"#;

#[test]
fn a_pool_discovers_endpoints_with_labels_and_a_removal_rule() {
    let c = parse_ok(DISCOVER);
    let pool = &c.zones[0].services[0].pools[0];
    let d = pool.discover.as_ref().expect("discover");
    assert_eq!(d.prefix, "/services/www/eu-west/");
    assert!((d.max_removal - 0.25).abs() < 1e-9);
    assert_eq!(d.hold, Duration::from_secs(60));
    assert_eq!(
        pool.endpoints[0].labels.get("rack").map(String::as_str),
        Some("r7")
    );
    assert_eq!(
        pool.endpoints[0].labels.get("tier").map(String::as_str),
        Some("2")
    );
    assert_eq!(
        c.discovery.as_ref().map(|d| d.endpoints.clone()),
        Some(vec!["http://127.0.0.1:2379".to_string()])
    );
    assert!(!c.monitors[0].port_set && c.monitors[1].port_set);
    // Endpoints are optional with discover, and the defaults apply.
    let bare = DISCOVER
        .replace(", max_removal: \"25%\", hold: 1m", "")
        .replace(
            "            endpoints:\n              - { address: 192.0.2.1, labels: { rack: r7, tier: 2 } }\n",
            "",
        );
    let c = parse_ok(&bare);
    let pool = &c.zones[0].services[0].pools[0];
    assert!(pool.endpoints.is_empty());
    let d = pool.discover.as_ref().expect("discover");
    assert!((d.max_removal - 0.5).abs() < 1e-9);
    assert_eq!(d.hold, Duration::from_secs(30));
}

#[test]
fn discover_without_an_etcd_or_with_bad_values_is_an_error_at_its_key() {
    let no_etcd = DISCOVER.replace(
        "discovery:\n  etcd: { endpoints: [\"http://127.0.0.1:2379\"] }\n",
        "",
    );
    let e = only_error(&no_etcd);
    assert!(e.message.contains("discover needs an etcd"), "{e}");
    assert_eq!(e.path, "zones[0].services.www.pools.eu-west.discover.etcd");
    let e = only_error(&DISCOVER.replace("\"25%\"", "\"150%\""));
    assert!(e.message.contains("not a share"), "{e}");
    let e = only_error(&DISCOVER.replace("\"/services/www/eu-west/\"", "\"services\""));
    assert!(e.message.contains("not a key prefix"), "{e}");
    let e = only_error(&DISCOVER.replace("tier: 2", "tier: [2]"));
    assert!(e.message.contains("label value"), "{e}");
}

/// A monitor `body` in MINIMAL, used by the pool.
fn with_monitor(body: &str) -> String {
    format!(
        "monitors:\n  web: {body}\n{}",
        MINIMAL.replace(
            "endpoints: [192.0.2.10]",
            "monitor: web\n            endpoints: [192.0.2.10]"
        )
    )
}

#[test]
fn probe_request_settings_parse_and_never_show_header_values() {
    let dir = tempfile::tempdir().expect("tempdir");
    let token = dir.path().join("token");
    std::fs::write(&token, "Bearer from-a-file\n").expect("write");
    let yaml = with_monitor(&format!(
        "{{ type: http, method: head, headers: {{ Authorization: {{ file: {} }}, X-Team: gslb }}, expect_status: [200] }}",
        token.display()
    ));
    let c = parse_ok(&yaml);
    let m = &c.monitors[0];
    assert_eq!(m.method, HttpMethod::Head);
    assert_eq!(m.headers[0].0, "Authorization");
    assert_eq!(m.headers[0].1.0, "Bearer from-a-file");
    assert_eq!(m.headers[1].1.0, "gslb");
    assert!(!format!("{m:?}").contains("from-a-file"), "{m:?}");

    let c = parse_ok(&with_monitor(
        "{ type: https, expect_body_regex: \"^ok( [0-9]+)?$\" }",
    ));
    let re = c.monitors[0].expect_body_regex.as_ref().expect("regex");
    assert!(re.0.is_match("ok 42"));

    let c = parse_ok(&with_monitor(
        "{ type: grpc, port: 50051, service: api, tls: true }",
    ));
    assert_eq!(c.monitors[0].kind, MonitorKind::Grpc);
    assert_eq!(c.monitors[0].service, "api");
    assert!(c.monitors[0].tls);
}

#[test]
fn bad_probe_request_settings_are_errors_at_their_line() {
    let e = only_error(&with_monitor(
        "{ type: http, headers: { X-Bad: \"a\\nb\" } }",
    ));
    assert_error(
        &e,
        2,
        40,
        "monitors.web.headers.X-Bad",
        "the header value is not valid for HTTP (control characters or a line break)",
    );
    let e = only_error(&with_monitor(
        "{ type: http, headers: { \"Bad Name\": x } }",
    ));
    assert!(e.message.contains("not a valid HTTP header name"), "{e}");
    let e = only_error(&with_monitor(
        "{ type: http, headers: { Authorization: { env: MERIDIAN_TEST_SURELY_UNSET_VAR } } }",
    ));
    assert!(
        e.message
            .contains("MERIDIAN_TEST_SURELY_UNSET_VAR is not set"),
        "{e}"
    );
    let e = only_error(&with_monitor(
        "{ type: https, tls_ca: /nonexistent/ca.pem }",
    ));
    assert_eq!(e.path, "monitors.web.tls_ca");
    assert!(
        e.message.starts_with("cannot read /nonexistent/ca.pem"),
        "{e}"
    );
    let e = only_error(&with_monitor("{ type: https, tls_client_cert: /x.pem }"));
    assert!(e.message.contains("together"), "{e}");
    let e = only_error(&with_monitor("{ type: http, expect_body_regex: \"(\" }"));
    assert!(e.message.contains("is not a regular expression"), "{e}");
    let e = only_error(&with_monitor(
        "{ type: http, method: HEAD, expect_body: ok }",
    ));
    assert_eq!(e.path, "monitors.web.expect_body");
    let e = only_error(&with_monitor("{ type: http, method: POST }"));
    assert!(e.message.contains("GET, HEAD"), "{e}");
    let e = only_error(&with_monitor("{ type: tcp, port: 22, headers: { a: b } }"));
    assert!(e.message.contains("http and https monitors only"), "{e}");
    let e = only_error(&with_monitor("{ type: grpc }"));
    assert!(
        e.message.contains("grpc monitors have no default port"),
        "{e}"
    );
}

#[test]
fn pool_monitor_groups_parse_and_bad_ones_are_errors() {
    let base = "monitors:\n  web: { type: http }\n  api: { type: tcp, port: 9 }\n";
    let pool = |entry: &str| {
        format!(
            "{base}{}",
            MINIMAL.replace(
                "endpoints: [192.0.2.10]",
                &format!("{entry}\n            endpoints: [192.0.2.10]")
            )
        )
    };
    let c = parse_ok(&pool(
        "monitors: [{ name: api, mode: monitoring_only }, web]",
    ));
    let p = &c.zones[0].services[0].pools[0];
    assert_eq!(p.monitor, Some(0), "the first must_be_healthy monitor");
    assert_eq!(
        p.monitors,
        [
            PoolMonitor {
                monitor: 1,
                mode: MonitorMode::MonitoringOnly
            },
            PoolMonitor {
                monitor: 0,
                mode: MonitorMode::MustBeHealthy
            }
        ]
    );
    let c = parse_ok(&pool("monitor: api"));
    let p = &c.zones[0].services[0].pools[0];
    assert_eq!((p.monitor, p.monitors.len()), (Some(1), 1));
    let c = parse_ok(&pool("monitors: [{ name: web, mode: monitoring_only }]"));
    assert_eq!(c.zones[0].services[0].pools[0].monitor, None);

    let e = only_error(&pool("monitor: web\n            monitors: [api]"));
    assert!(e.message.contains("not both"), "{e}");
    let e = only_error(&pool("monitors: [web, web]"));
    assert!(e.message.contains("already listed"), "{e}");
    let e = only_error(&pool("monitors: [{ name: web, mode: sometimes }]"));
    assert!(
        e.message.contains("must_be_healthy, monitoring_only"),
        "{e}"
    );
    let e = only_error(&pool("monitors: [nope]"));
    assert!(e.message.contains("nope"), "{e}");
}

// ------------------------------------------------------------ dnssec (16)

fn with_dnssec(section: &str) -> String {
    MINIMAL.replace(
        "    file: gslb.example.zone\n",
        &format!("    file: gslb.example.zone\n    dnssec:\n{section}"),
    )
}

#[test]
fn dnssec_keys_join_the_config_directory_and_take_defaults() {
    let c = parse_ok(&with_dnssec("      keys: [Kgslb.example.+013+12345]\n"));
    let d = c.zones[0].dnssec.as_ref().expect("dnssec");
    assert_eq!(
        d.keys[0].path,
        PathBuf::from("conf/Kgslb.example.+013+12345")
    );
    assert_eq!(d.keys[0].key_path, "zones[0].dnssec.keys[0]");
    assert_eq!((d.keys[0].loc.line, d.keys[0].loc.column), (8, 14));
    assert_eq!(d.signature_validity, Duration::from_secs(3 * 86_400));
    assert_eq!(d.signature_cache, 65_536);
    let c = parse_ok(&with_dnssec(
        "      keys: [k]\n      signature_validity: 12h\n      signature_cache: 1000\n",
    ));
    let d = c.zones[0].dnssec.as_ref().expect("dnssec");
    assert_eq!(d.signature_validity, Duration::from_secs(12 * 3600));
    assert_eq!(d.signature_cache, 1000);
    assert!(parse_ok(MINIMAL).zones[0].dnssec.is_none());
}

#[test]
fn dnssec_rejects_no_keys_short_validity_and_unknown_keys() {
    let e = only_error(&with_dnssec("      keys: []\n"));
    assert_error(&e, 8, 13, "zones[0].dnssec.keys", "at least one key file");
    let e = only_error(&with_dnssec(
        "      keys: [k]\n      signature_validity: 30m\n",
    ));
    assert_error(
        &e,
        9,
        27,
        "zones[0].dnssec.signature_validity",
        "outside 1h..=90d",
    );
    let e = only_error(&with_dnssec(
        "      keys: [k]\n      signature_validity: 91d\n",
    ));
    assert!(e.message.contains("outside 1h..=90d"), "{e}");
    let e = only_error(&with_dnssec("      keys: [k]\n      nsec3: yes\n"));
    assert!(e.message.contains("unknown key \"nsec3\""), "{e}");
}

#[test]
fn prometheus_monitors_parse_their_query_threshold_and_no_data() {
    let c = parse_ok(&with_monitor(
        "{ type: prometheus, url: \"http://127.0.0.1:9090/\", query: 'max(err{region=\"{region}\"})', unhealthy_above: 0.05, on_no_data: unhealthy }",
    ));
    let m = &c.monitors[0];
    assert_eq!(m.kind, MonitorKind::Prometheus);
    let p = m.prometheus.as_ref().expect("prometheus settings");
    assert_eq!(p.url, "http://127.0.0.1:9090");
    assert_eq!(p.threshold, Threshold::Above(0.05));
    assert_eq!(p.on_no_data, NoData::Unhealthy);
    let c = parse_ok(&with_monitor(
        "{ type: prometheus, url: \"http://p:9090\", query: up, unhealthy_below: 1 }",
    ));
    let p = c.monitors[0]
        .prometheus
        .as_ref()
        .expect("prometheus settings");
    assert_eq!(p.threshold, Threshold::Below(1.0));
    assert_eq!(p.on_no_data, NoData::LastKnown, "the default");
}

#[test]
fn bad_prometheus_monitors_are_errors_at_their_line() {
    let e = only_error(&with_monitor(
        "{ type: prometheus, url: \"http://p:9090\", query: up, unhealthy_above: 1, unhealthy_below: 0 }",
    ));
    assert!(e.message.contains("not both"), "{e}");
    let e = only_error(&with_monitor(
        "{ type: prometheus, url: \"http://p:9090\", query: up, unhealthy_above: 1, on_no_data: maybe }",
    ));
    assert_eq!(e.path, "monitors.web.on_no_data");
    assert!(
        e.message
            .contains("(values: healthy, unhealthy, last_known)"),
        "{e}"
    );
    let e = only_error(&with_monitor(
        "{ type: prometheus, url: \"ftp://p\", query: up, unhealthy_above: 1 }",
    ));
    assert_eq!(e.path, "monitors.web.url");
    let e = only_error(&with_monitor(
        "{ type: prometheus, url: \"http://p:9090\", query: up }",
    ));
    assert!(e.message.contains("unhealthy_above"), "{e}");
    let e = only_error(&with_monitor(
        "{ type: prometheus, port: 80, url: \"http://p:9090\", query: up, unhealthy_above: 1 }",
    ));
    assert_eq!(e.path, "monitors.web.port");
    let e = only_error(&with_monitor("{ type: http, query: up }"));
    assert!(
        e.message.contains("applies to prometheus monitors only"),
        "{e}"
    );
}

#[test]
fn notify_webhooks_parse_and_bad_ones_are_errors_at_their_line() {
    let yaml = format!(
        "notify:\n  - {{ url: \"http://127.0.0.1:9000/hook\", events: [reload], retries: 2, backoff: 250ms }}\n{MINIMAL}"
    );
    let c = parse_ok(&yaml);
    assert_eq!(c.notify.len(), 1);
    assert_eq!(c.notify[0].events, ["reload"]);
    assert_eq!(c.notify[0].retries, 2);
    assert_eq!(c.notify[0].backoff, Duration::from_millis(250));
    assert_eq!(c.notify[0].timeout, Duration::from_secs(5));
    let e = only_error(&format!(
        "notify:\n  - {{ url: \"http://h/\", events: [weather] }}\n{MINIMAL}"
    ));
    assert_error(
        &e,
        2,
        34,
        "notify[0].events[0]",
        "unknown event kind \"weather\"",
    );
    let e = only_error(&format!(
        "notify:\n  - {{ url: \"mailto:x@y\" }}\n{MINIMAL}"
    ));
    assert_eq!(e.path, "notify[0].url");
}
