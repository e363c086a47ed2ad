//! Unit tests of configuration parsing and validation: the SPEC example
//! parses into the expected model, defaults and name resolution, and every
//! truncated file is an error with a position. The error cases are fixture
//! files (tests/fixtures/config/bad/, run by tests/config_errors.rs).

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;
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
    assert_eq!(www.path(0), "zones[0].services.www");

    assert_eq!(www.pools.len(), 2);
    let us = &www.pools[0];
    assert_eq!(
        (us.region, us.weight, us.monitor(), us.min_healthy),
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
    assert_eq!(us.endpoints[2].probe(), Some("127.0.0.1:18080"));
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
        (pool.weight, pool.monitor(), pool.min_healthy),
        (100, None, 1)
    );
    assert_eq!(pool.endpoints[0].weight, 100);
    assert_eq!(pool.endpoints[0].probe(), None);
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
    assert_eq!(s[2].path(0), "zones[0].services.\"api.v2\"");
    assert_eq!(s[2].policy, Policy::Nearest);
    assert_eq!(
        s[2].pools[0].endpoints[0].target,
        Target::Name(Box::new(Name::from_ascii("lb.example.net.").unwrap()))
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

// ---------------------------------------------------------------- errors
//
// Each class of error, with its line, column, key path and message, is a
// fixture in tests/fixtures/config/bad/, checked by tests/config_errors.rs
// against `meridian check`.

/// Whether the last line of `text` leaves a quoted string or a flow
/// list or map open (the SPEC example keeps each on one line).
fn cut_inside_a_value(text: &str) -> bool {
    let last = text.rsplit('\n').next().unwrap_or_default();
    let (mut depth, mut quoted) = (0i32, false);
    for c in last.chars() {
        match c {
            '"' => quoted = !quoted,
            '#' if !quoted => break,
            '[' | '{' if !quoted => depth += 1,
            ']' | '}' if !quoted => depth -= 1,
            _ => {}
        }
    }
    quoted || depth > 0
}

#[test]
fn truncated_configs_are_errors_not_panics() {
    // Every prefix of the SPEC example, cut at any character. A cut inside
    // a quoted string or a flow list, or anywhere before the zone has its
    // origin and file, must be an error; every error, whatever the cut,
    // names the file, line and column to look at. (A cut between two
    // complete entries can be a valid, smaller configuration.)
    let zone_complete = SPEC_EXAMPLE
        .find("file: gslb.example.zone")
        .expect("the example has a zone file")
        + "file: g".len();
    let (mut refused, mut syntax) = (0, 0);
    for (i, _) in SPEC_EXAMPLE.char_indices() {
        let text = &SPEC_EXAMPLE[..i];
        let must_fail = i < zone_complete || cut_inside_a_value(text);
        let errors = match parse(text, Path::new(SOURCE)) {
            Ok(_) => {
                assert!(!must_fail, "a cut at byte {i} was accepted:\n{text}");
                continue;
            }
            Err(errors) => errors.0,
        };
        refused += 1;
        assert!(!errors.is_empty(), "byte {i}: an empty error list");
        if cut_inside_a_value(text) {
            assert!(
                errors[0].message.starts_with("invalid YAML: "),
                "byte {i}: {}",
                errors[0]
            );
            syntax += 1;
        }
        for e in &errors {
            let at = format!("{SOURCE}:{}:{}: ", e.line, e.column);
            assert!(
                e.line >= 1 && e.column >= 1 && e.to_string().starts_with(&at),
                "byte {i}: an error without file:line:col: {e}"
            );
        }
    }
    assert!(
        refused > zone_complete && syntax > 100,
        "{refused} refused, {syntax} syntax"
    );
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

/// A zone of three services, the second one's endpoint `b`; `prefix` first.
fn three_services(prefix: &str, b: &str) -> String {
    format!(
        "{prefix}regions:\n  a: {{}}\nzones:\n  - origin: t.\n    file: t.zone\n    services:\n      \
         s0: {{policy: failover, pools: {{a: {{endpoints: [192.0.2.1]}}}}}}\n      \
         s1: {{policy: failover, pools: {{a: {{endpoints: [{b}]}}}}}}\n      \
         s2:\n        policy: failover\n        pools: {{a: {{endpoints: [192.0.2.3]}}}}\n"
    )
}

#[test]
fn a_reread_takes_the_pools_of_the_services_that_did_not_change_as_it_reads() {
    let path = Path::new("t.yaml");
    let read = |text: &str, previous: Option<&Config>| match parse_sharing(text, path, previous) {
        Ok(c) => c,
        Err(e) => panic!("{e}"),
    };
    // The fast reader (services read entry by entry), then the others (a
    // tab in a comment is not the fast reader's).
    for prefix in ["", "#\t\n"] {
        let old = read(&three_services(prefix, "192.0.2.2"), None);
        let shared = |new: &Config| -> Vec<bool> {
            new.zones[0]
                .services
                .iter()
                .zip(&old.zones[0].services)
                .map(|(a, b)| Arc::ptr_eq(&a.pools, &b.pools))
                .collect()
        };
        let new = read(&three_services(prefix, "192.0.2.9"), Some(&old));
        assert_eq!(shared(&new), [true, false, true], "prefix {prefix:?}");
        assert!(!new.zones[0].services.shares(&old.zones[0].services));
        assert_eq!(
            new.zones[0].services[1].pools[0].endpoints[0].target,
            Target::V4(Ipv4Addr::new(192, 0, 2, 9))
        );
        // Nothing changed: the zone's list itself is the old one.
        let new = read(&three_services(prefix, "192.0.2.2"), Some(&old));
        assert!(new.zones[0].services.shares(&old.zones[0].services));
        let mut copy = read(&three_services(prefix, "192.0.2.2"), None);
        assert_eq!(copy.share_unchanged(&old), 3);
        assert!(copy.zones[0].services.shares(&old.zones[0].services));
        let new = read(&three_services(prefix, "192.0.2.2"), None);
        assert_eq!(shared(&new), [false, false, false]);
        // A service moved to another line is kept as read.
        let new = read(
            &three_services(&format!("{prefix}\n"), "192.0.2.2"),
            Some(&old),
        );
        assert_eq!(shared(&new), [false, false, false]);
    }
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
        pool.endpoints[0].labels().get("rack").map(String::as_str),
        Some("r7")
    );
    assert_eq!(
        pool.endpoints[0].labels().get("tier").map(String::as_str),
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
fn pool_monitor_groups_parse() {
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
    assert_eq!(p.monitor(), Some(0), "the first must_be_healthy monitor");
    assert_eq!(
        *p.monitors,
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
    assert_eq!((p.monitor(), p.monitors.len()), (Some(1), 1));
    let c = parse_ok(&pool("monitors: [{ name: web, mode: monitoring_only }]"));
    assert_eq!(c.zones[0].services[0].pools[0].monitor(), None);
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
fn notify_webhooks_parse() {
    let yaml = format!(
        "notify:\n  - {{ url: \"http://127.0.0.1:9000/hook\", events: [reload], retries: 2, backoff: 250ms }}\n{MINIMAL}"
    );
    let c = parse_ok(&yaml);
    assert_eq!(c.notify.len(), 1);
    assert_eq!(c.notify[0].events, ["reload"]);
    assert_eq!(c.notify[0].retries, 2);
    assert_eq!(c.notify[0].backoff, Duration::from_millis(250));
    assert_eq!(c.notify[0].timeout, Duration::from_secs(5));
}

// ---------------------------------------------------------------- layering

/// The rooms of `validate`, lowest first (see its module comment), with
/// their source.
const ROOMS: [(&str, &str); 15] = [
    ("common", include_str!("validate/common.rs")),
    ("dns", include_str!("validate/dns.rs")),
    ("admin", include_str!("validate/admin.rs")),
    ("geoip", include_str!("validate/geoip.rs")),
    ("cluster", include_str!("validate/cluster.rs")),
    ("regions", include_str!("validate/regions.rs")),
    ("probe", include_str!("validate/probe.rs")),
    ("prometheus", include_str!("validate/prometheus.rs")),
    ("monitors", include_str!("validate/monitors.rs")),
    ("notify", include_str!("validate/notify.rs")),
    ("geo_maps", include_str!("validate/geo_maps.rs")),
    ("endpoints", include_str!("validate/endpoints.rs")),
    ("pools", include_str!("validate/pools.rs")),
    ("services", include_str!("validate/services.rs")),
    ("zones", include_str!("validate/zones.rs")),
];

/// The rooms a source file names through `super::` (a `use` or a path).
fn rooms_named(source: &str) -> Vec<&str> {
    let mut named = Vec::new();
    for (at, _) in source.match_indices("super::") {
        let rest = &source[at + "super::".len()..];
        let end = rest
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(rest.len());
        named.push(&rest[..end]);
    }
    named
}

#[test]
fn rooms_use_only_rooms_below_them() {
    let rank = |name: &str| ROOMS.iter().position(|(room, _)| *room == name);
    let mut wrong = Vec::new();
    for (i, (room, source)) in ROOMS.iter().enumerate() {
        assert!(source.starts_with("//! "), "{room}.rs opens without //!");
        for named in rooms_named(source) {
            match rank(named) {
                Some(j) if j < i => {}
                _ => wrong.push(format!("{room} uses super::{named}")),
            }
        }
    }
    assert!(wrong.is_empty(), "a room uses one above it: {wrong:?}");
    // The scan finds what it looks for.
    assert_eq!(
        rooms_named("use super::common::{Names};\nuse super::dns::x;"),
        ["common", "dns"]
    );
}
