use std::collections::{HashMap, HashSet};
use std::net::IpAddr;
use std::path::Path;

use rand::SeedableRng;
use rand::rngs::StdRng;

use super::*;
use crate::config;
use crate::geo::build::build_bytes;

const CSV: &str = "network,country,continent,latitude,longitude,subdivision\n\
81.2.69.0/24,GB,EU,51.5,-0.09,\n\
203.0.113.0/24,JP,AS,35.68,139.69,\n\
192.0.2.0/24,US,NA,37.39,-122.08,CA\n\
198.51.100.0/24,US,NA,38.95,-77.35,VA\n\
2001:db8:1::/48,GB,EU,51.5,-0.12,\n";

const BASE: &str = r#"
regions:
  us-east: { location: [39.04, -77.49] }
  eu-west: { location: [53.35, -6.26] }
  ap-northeast: { location: [35.68, 139.69] }
geo_maps:
  world:
    nets:
      "10.0.0.0/8": [us-east]
      "10.1.0.0/16": [ap-northeast]
    countries:
      JP: [ap-northeast, us-east]
      US-CA: [ap-northeast]
    continents:
      EU: [eu-west, us-east]
      NA: [[us-east, eu-west]]
    default: nearest
zones:
  - origin: t.
    file: t.zone
    services:
"#;

struct Fixture {
    config: Config,
    compiled: Compiled,
    db: GeoDb,
    overrides: Overrides,
    ramps: crate::policy::Ramps,
}

impl Fixture {
    fn new(services: &str) -> Self {
        Self::from_text(&format!("{BASE}{services}"))
    }

    fn from_text(text: &str) -> Self {
        let config = match config::parse(text, Path::new("test.yaml")) {
            Ok(c) => c,
            Err(e) => panic!("{e}"),
        };
        let (bytes, _) = build_bytes(CSV, Path::new("t.csv")).unwrap();
        let db = GeoDb::from_bytes(bytes).unwrap();
        let places = crate::geo::place::Places::build(&config, Some(&db), None).unwrap();
        Self {
            compiled: Compiled::new(&config, std::sync::Arc::new(places)),
            config,
            db,
            overrides: Overrides::default(),
            ramps: crate::policy::Ramps::default(),
        }
    }

    fn inputs(&self) -> Inputs<'_> {
        Inputs {
            config: &self.config,
            compiled: &self.compiled,
            geoip: Some(&self.db),
            asn_db: None,
            overrides: &self.overrides,
            ramps: &self.ramps,
            verdicts: None,
        }
    }

    fn region(&self, name: &str) -> usize {
        self.config
            .regions
            .iter()
            .position(|r| r.name == name)
            .unwrap()
    }

    /// Decide for service `s` (index in zone 0) from `client`.
    fn decide(
        &self,
        s: usize,
        qtype: RecordType,
        client: &str,
        health: &impl Health,
        rng: &mut StdRng,
    ) -> Decision {
        decide(&self.inputs(), health, &query(s, qtype, client), rng, None)
    }

    /// Region name of the answering pool.
    fn region_of(&self, s: usize, d: &Decision) -> Option<String> {
        let pool = match &d.outcome {
            Outcome::Answer { pool, .. } => *pool,
            Outcome::NoData { pool: Some(p) } => *p,
            _ => return None,
        };
        let region = self.config.zones[0].services[s].pools[pool].region;
        Some(self.config.regions[region].name.clone())
    }
}

/// A query for service `s` (index in zone 0) from `client` (a test's
/// literal address).
fn query(s: usize, qtype: RecordType, client: &str) -> Query {
    Query {
        zone: 0,
        service: s,
        qtype,
        client: client
            .parse()
            .expect("invariant: the tests' client addresses parse"),
        ecs_zero: false,
        now_ms: 0,
    }
}

/// Endpoints listed as (pool, endpoint) are down; everything else is up.
struct Down(HashSet<(usize, usize)>);

impl Health for Down {
    type Pool<'h> = (&'h Self, usize);

    fn pool(&self, _: usize, _: usize, pool: usize) -> (&Self, usize) {
        (self, pool)
    }
}

impl PoolHealth for (&Down, usize) {
    fn up(&self, endpoint: usize) -> bool {
        !self.0.0.contains(&(self.1, endpoint))
    }
}

fn down(list: &[(usize, usize)]) -> Down {
    Down(list.iter().copied().collect())
}

fn rng() -> StdRng {
    StdRng::seed_from_u64(7)
}

const GEO: &str = r#"
      www:
        policy: geo
        map: world
        max_answers: 2
        pools:
          us-east: { endpoints: [192.0.2.10, 192.0.2.11, "2001:db8::10"] }
          eu-west: { endpoints: [198.51.100.10, 198.51.100.11] }
          ap-northeast: { endpoints: [203.0.113.10] }
"#;

#[test]
fn geo_nets_entry_wins_and_scopes_to_its_prefix() {
    let f = Fixture::new(GEO);
    let d = f.decide(0, RecordType::A, "10.1.2.3", &AllHealthy, &mut rng());
    assert_eq!(f.region_of(0, &d).as_deref(), Some("ap-northeast"));
    assert_eq!(d.scope, 16);
    let d = f.decide(0, RecordType::A, "10.200.0.1", &AllHealthy, &mut rng());
    assert_eq!(f.region_of(0, &d).as_deref(), Some("us-east"));
    // The /8 answer must not be cached for 10.1/16: scope lengthened.
    assert_eq!(d.scope, 9);
}

#[test]
fn geo_subdivision_then_country_then_continent_then_nearest_default() {
    let f = Fixture::new(GEO);
    let mut r = rng();
    // US-CA → ap-northeast (subdivision beats continent NA).
    let d = f.decide(0, RecordType::A, "192.0.2.1", &AllHealthy, &mut r);
    assert_eq!(f.region_of(0, &d).as_deref(), Some("ap-northeast"));
    assert_eq!(d.scope, 24);
    // JP → ap-northeast by country.
    let d = f.decide(0, RecordType::A, "203.0.113.9", &AllHealthy, &mut r);
    assert_eq!(f.region_of(0, &d).as_deref(), Some("ap-northeast"));
    // GB → continent EU → eu-west.
    let d = f.decide(0, RecordType::A, "81.2.69.1", &AllHealthy, &mut r);
    assert_eq!(f.region_of(0, &d).as_deref(), Some("eu-west"));
    // Unknown to the database: nearest without a location = config order,
    // scope = the empty network around it, never 0.
    let d = f.decide(0, RecordType::A, "8.8.8.8", &AllHealthy, &mut r);
    assert_eq!(f.region_of(0, &d).as_deref(), Some("us-east"));
    assert!(d.scope > 0);
}

#[test]
fn tier_of_several_regions_shares_by_weight() {
    let f = Fixture::new(GEO);
    let mut r = rng();
    let mut seen = HashMap::new();
    for _ in 0..400 {
        // US-VA → continent NA → one tier [us-east, eu-west] with equal weight.
        let d = f.decide(0, RecordType::A, "198.51.100.1", &AllHealthy, &mut r);
        *seen.entry(f.region_of(0, &d).unwrap()).or_insert(0) += 1;
    }
    let east = seen.get("us-east").copied().unwrap_or(0);
    let west = seen.get("eu-west").copied().unwrap_or(0);
    assert_eq!(east + west, 400, "{seen:?}");
    assert!((150..=250).contains(&east), "{seen:?}");
}

#[test]
fn unhealthy_region_moves_clients_to_the_next_tier() {
    let f = Fixture::new(GEO);
    // eu-west is pool 1; both endpoints down.
    let d = f.decide(
        0,
        RecordType::A,
        "81.2.69.1",
        &down(&[(1, 0), (1, 1)]),
        &mut rng(),
    );
    assert_eq!(f.region_of(0, &d).as_deref(), Some("us-east"));
}

#[test]
fn endpoints_are_distinct_healthy_of_the_asked_family_and_capped() {
    let f = Fixture::new(GEO);
    let mut r = rng();
    for _ in 0..300 {
        let d = f.decide(0, RecordType::A, "8.8.8.8", &down(&[(0, 1)]), &mut r);
        let Outcome::Answer { pool, endpoints } = d.outcome else {
            panic!("{d:?}")
        };
        assert_eq!(pool, 0);
        // Endpoint 1 is down, endpoint 2 is IPv6: only endpoint 0 is left.
        assert_eq!(endpoints.as_slice(), [0]);
    }
    for _ in 0..300 {
        let d = f.decide(0, RecordType::A, "8.8.8.8", &AllHealthy, &mut r);
        let Outcome::Answer { endpoints, .. } = d.outcome else {
            panic!()
        };
        let set: HashSet<_> = endpoints.iter().collect();
        assert_eq!(set.len(), endpoints.len(), "distinct");
        assert!(endpoints.len() <= 2);
        assert!(
            endpoints.iter().all(|&e| e < 2),
            "only IPv4 endpoints for A"
        );
    }
}

#[test]
fn aaaa_for_a_pool_without_ipv6_is_nodata_not_another_region() {
    let f = Fixture::new(GEO);
    let d = f.decide(0, RecordType::AAAA, "81.2.69.1", &AllHealthy, &mut rng());
    assert_eq!(d.outcome, Outcome::NoData { pool: Some(1) });
    assert_eq!(d.scope, 24);
}

#[test]
fn types_a_gslb_name_never_holds_are_nodata_with_scope_zero() {
    let f = Fixture::new(GEO);
    let d = f.decide(0, RecordType::MX, "81.2.69.1", &AllHealthy, &mut rng());
    assert_eq!(d.outcome, Outcome::NoData { pool: None });
    assert_eq!(d.scope, 0);
}

const WEIGHTED: &str = r#"
      w:
        policy: weighted
        pools:
          us-east: { weight: 0, endpoints: [192.0.2.1] }
          eu-west: { weight: 100, endpoints: [192.0.2.2] }
          ap-northeast: { weight: 300, endpoints: [192.0.2.3, { address: 192.0.2.4, weight: 0 }] }
"#;

#[test]
fn weighted_draw_follows_weights_and_never_draws_weight_zero() {
    let f = Fixture::new(WEIGHTED);
    let mut r = rng();
    let mut counts = [0u32; 3];
    for _ in 0..2000 {
        let d = f.decide(0, RecordType::A, "81.2.69.1", &AllHealthy, &mut r);
        assert_eq!(d.scope, 0, "weighted answers do not depend on the client");
        let Outcome::Answer { pool, endpoints } = d.outcome else {
            panic!()
        };
        counts[pool] += 1;
        if pool == 2 {
            assert_eq!(endpoints.as_slice(), [0], "endpoint weight 0 never drawn");
        }
    }
    assert_eq!(counts[0], 0);
    // Expect 500 / 1500; allow a generous band.
    assert!((400..=600).contains(&counts[1]), "{counts:?}");
}

#[test]
fn weight_override_takes_effect() {
    let mut f = Fixture::new(WEIGHTED);
    f.overrides.weights = vec![((0, 0, 0), 100), ((0, 0, 1), 0), ((0, 0, 2), 0)];
    let d = f.decide(0, RecordType::A, "81.2.69.1", &AllHealthy, &mut rng());
    assert_eq!(f.region_of(0, &d).as_deref(), Some("us-east"));
}

const FAILOVER: &str = r#"
      f:
        policy: failover
        all_down: servfail
        pools:
          eu-west: { endpoints: [192.0.2.2, 192.0.2.3], min_healthy: 2 }
          us-east: { endpoints: [192.0.2.1] }
      g:
        policy: failover
        pools:
          eu-west: { endpoints: [192.0.2.2] }
          us-east: { endpoints: [192.0.2.1] }
"#;

#[test]
fn failover_uses_config_order_and_min_healthy() {
    let f = Fixture::new(FAILOVER);
    let mut r = rng();
    let d = f.decide(0, RecordType::A, "203.0.113.1", &AllHealthy, &mut r);
    assert_eq!(f.region_of(0, &d).as_deref(), Some("eu-west"));
    assert_eq!(d.scope, 0);
    // One of two healthy with min_healthy 2: the pool is not available.
    let d = f.decide(0, RecordType::A, "203.0.113.1", &down(&[(0, 0)]), &mut r);
    assert_eq!(f.region_of(0, &d).as_deref(), Some("us-east"));
}

#[test]
fn all_down_servfail_and_serve_all() {
    let f = Fixture::new(FAILOVER);
    let all = down(&[(0, 0), (0, 1), (1, 0)]);
    let d = f.decide(0, RecordType::A, "203.0.113.1", &all, &mut rng());
    assert_eq!(d.outcome, Outcome::ServFail);
    // serve_all: fail open to the first tier, every endpoint.
    let d = f.decide(
        1,
        RecordType::A,
        "203.0.113.1",
        &down(&[(0, 0), (1, 0)]),
        &mut rng(),
    );
    assert_eq!(f.region_of(1, &d).as_deref(), Some("eu-west"));
    assert!(matches!(d.outcome, Outcome::Answer { .. }));
    assert!(d.fail_open);
    let d = f.decide(1, RecordType::A, "203.0.113.1", &AllHealthy, &mut rng());
    assert!(!d.fail_open);
}

#[test]
fn forced_regions_override_health() {
    let mut f = Fixture::new(FAILOVER);
    let eu = f.region("eu-west");
    f.overrides.regions = vec![Forced::Auto; 3];
    f.overrides.regions[eu] = Forced::Down;
    let d = f.decide(1, RecordType::A, "203.0.113.1", &AllHealthy, &mut rng());
    assert_eq!(f.region_of(1, &d).as_deref(), Some("us-east"));
    f.overrides.regions[eu] = Forced::Up;
    let d = f.decide(
        1,
        RecordType::A,
        "203.0.113.1",
        &down(&[(0, 0)]),
        &mut rng(),
    );
    assert_eq!(f.region_of(1, &d).as_deref(), Some("eu-west"));
    // Everything drained: SERVFAIL even with serve_all.
    f.overrides.regions = vec![Forced::Down; 3];
    let d = f.decide(1, RecordType::A, "203.0.113.1", &AllHealthy, &mut rng());
    assert_eq!(d.outcome, Outcome::ServFail);
}

const NEAREST: &str = r#"
      n:
        policy: nearest
        pools:
          us-east: { endpoints: [192.0.2.1] }
          eu-west: { endpoints: [192.0.2.2] }
          ap-northeast: { endpoints: [192.0.2.3] }
"#;

#[test]
fn nearest_orders_by_great_circle_distance() {
    let f = Fixture::new(NEAREST);
    let mut r = rng();
    let cases = [
        ("203.0.113.1", "ap-northeast"),
        ("81.2.69.1", "eu-west"),
        ("198.51.100.1", "us-east"),
        ("2001:db8:1::1", "eu-west"),
        // Not in the database: no location, config order.
        ("8.8.8.8", "us-east"),
    ];
    for (client, want) in cases {
        let d = f.decide(0, RecordType::A, client, &AllHealthy, &mut r);
        assert_eq!(f.region_of(0, &d).as_deref(), Some(want), "{client}");
        assert!(d.scope > 0, "{client}");
    }
    // The nearest region down: the next nearest (from Tokyo, Dublin at
    // about 9,600 km is nearer than Ashburn at about 10,900 km).
    let d = f.decide(0, RecordType::A, "203.0.113.1", &down(&[(2, 0)]), &mut r);
    assert_eq!(f.region_of(0, &d).as_deref(), Some("eu-west"));
}

#[test]
fn ecs_source_prefix_zero_answers_with_scope_zero() {
    let f = Fixture::new(GEO);
    let query = Query {
        zone: 0,
        service: 0,
        qtype: RecordType::A,
        client: "81.2.69.1".parse::<IpAddr>().unwrap(),
        ecs_zero: true,
        now_ms: 0,
    };
    let d = decide(&f.inputs(), &AllHealthy, &query, &mut rng(), None);
    assert_eq!(d.scope, 0);
}

#[test]
fn trace_records_each_step() {
    let f = Fixture::new(GEO);
    let query = Query {
        zone: 0,
        service: 0,
        qtype: RecordType::A,
        client: "81.2.69.1".parse().unwrap(),
        ecs_zero: false,
        now_ms: 0,
    };
    let mut trace = Trace::default();
    decide(
        &f.inputs(),
        &down(&[(1, 0), (1, 1)]),
        &query,
        &mut rng(),
        Some(&mut trace),
    );
    assert_eq!(trace.rule, Some(MapRule::Continent("EU".into())));
    assert_eq!(trace.location.unwrap().country.as_deref(), Some("GB"));
    // EU's list, then (SPEC 3.3) the pool it does not name: ap-northeast.
    assert_eq!(trace.tiers, vec![vec![1], vec![0], vec![2]]);
    assert_eq!(trace.pools[0].0, 1);
    assert!(!trace.pools[0].1, "eu-west unavailable");
    assert!(trace.pools[1].1, "us-east available");
}

/// Property: over many random weight vectors, a pool of weight 0 is never
/// drawn and every draw is of a positive-weight item.
#[test]
fn property_weight_zero_never_drawn() {
    let mut r = StdRng::seed_from_u64(42);
    for _ in 0..500 {
        let n = rand::Rng::random_range(&mut r, 1..8);
        let items: Vec<(usize, u16)> = (0..n)
            .map(|i| {
                let w = if rand::Rng::random_bool(&mut r, 0.4) {
                    0
                } else {
                    rand::Rng::random_range(&mut r, 1..=1000)
                };
                (i, w)
            })
            .collect();
        let any_positive = items.iter().any(|(_, w)| *w > 0);
        for _ in 0..20 {
            match draw_weighted(&items, &mut r) {
                Some(i) => assert!(items[i].1 > 0, "{items:?} drew {i}"),
                None => assert!(!any_positive),
            }
        }
        let k = rand::Rng::random_range(&mut r, 1..5);
        let drawn = select::draw_without_replacement(&items, k, &mut r);
        let set: HashSet<_> = drawn.iter().collect();
        assert_eq!(set.len(), drawn.len());
        let positive = items.iter().filter(|(_, w)| *w > 0).count();
        assert_eq!(drawn.len(), k.min(positive));
        assert!(drawn.iter().all(|&i| items[i].1 > 0));
    }
}

#[test]
fn cached_decisions_equal_fresh_ones_and_follow_health_and_reloads() {
    let f = Fixture::new(GEO);
    let clients = [
        "10.1.2.3",
        "10.200.0.1",
        "192.0.2.1",
        "198.51.100.7",
        "203.0.113.9",
        "81.2.69.1",
        "8.8.8.8",
        "2001:db8:1::5",
        "::ffff:81.2.69.1",
    ];
    // Many more clients, so sets of the by-client table fill and entries
    // are pushed out: a hit is still never another client's answer.
    let many = (0..40_000u32).map(|i| {
        let b = i.to_be_bytes();
        match i % 4 {
            0 => format!("81.2.{}.{}", b[2], b[3]),
            1 => format!("192.0.2.{}", b[3]),
            2 => format!("10.{}.{}.1", b[2], b[3]),
            _ => format!("2001:db8:{:x}::{:x}", i % 3, i),
        }
    });
    let clients: Vec<String> = clients.iter().map(|c| c.to_string()).chain(many).collect();
    // Twice: the second round is answered from this thread's cache.
    for _ in 0..2 {
        for c in &clients {
            let cached = f.decide(0, RecordType::A, c, &AllHealthy, &mut rng());
            let query = Query {
                zone: 0,
                service: 0,
                qtype: RecordType::A,
                client: c.parse().unwrap(),
                ecs_zero: false,
                now_ms: 0,
            };
            // With a trace, decide works the tiers out afresh.
            let mut trace = Trace::default();
            let fresh = decide(
                &f.inputs(),
                &AllHealthy,
                &query,
                &mut rng(),
                Some(&mut trace),
            );
            assert_eq!(cached, fresh, "client {c}");
        }
    }
    // Health is read per query, never cached: eu-west down moves GB on.
    let d = f.decide(
        0,
        RecordType::A,
        "81.2.69.1",
        &down(&[(1, 0), (1, 1)]),
        &mut rng(),
    );
    assert_eq!(f.region_of(0, &d).as_deref(), Some("us-east"));
    // A new configuration (a reload) on the same thread: the new map rules.
    let g = Fixture::from_text(
        &format!("{BASE}{GEO}").replace("EU: [eu-west, us-east]", "EU: [ap-northeast]"),
    );
    let d = g.decide(0, RecordType::A, "81.2.69.1", &AllHealthy, &mut rng());
    assert_eq!(g.region_of(0, &d).as_deref(), Some("ap-northeast"));
    // And back to the first: its answers again, not the second's.
    let d = f.decide(0, RecordType::A, "81.2.69.1", &AllHealthy, &mut rng());
    assert_eq!(f.region_of(0, &d).as_deref(), Some("eu-west"));
}

/// SPEC 3.3: after the map's list, the service's other pools follow in
/// `nearest` order, so a `nets` entry naming one region does not make its
/// clients' answers SERVFAIL when that region is down; `fallback: none`
/// stops at the list.
#[test]
fn pools_the_list_does_not_name_follow_nearest_first_unless_fallback_none() {
    let f = Fixture::new(GEO);
    let mut r = rng();
    // 10.200.x: the /8 names us-east only; its endpoints are all down.
    let east_down = down(&[(0, 0), (0, 1), (0, 2)]);
    let d = f.decide(0, RecordType::A, "10.200.0.1", &east_down, &mut r);
    assert!(!d.fail_open, "{d:?}");
    assert!(
        matches!(
            f.region_of(0, &d).as_deref(),
            Some("eu-west" | "ap-northeast")
        ),
        "{d:?}"
    );
    // GB (EU list: eu-west, us-east) with both down: ap-northeast.
    let both_down = down(&[(0, 0), (0, 1), (0, 2), (1, 0), (1, 1)]);
    let d = f.decide(0, RecordType::A, "81.2.69.1", &both_down, &mut r);
    assert_eq!(f.region_of(0, &d).as_deref(), Some("ap-northeast"));
    assert!(!d.fail_open);

    let strict = Fixture::new(
        &GEO.replace(
            "        policy: geo\n",
            "        policy: geo\n        fallback: none\n",
        )
        .replace(
            "max_answers: 2\n",
            "max_answers: 2\n        all_down: servfail\n",
        ),
    );
    let d = strict.decide(0, RecordType::A, "10.200.0.1", &east_down, &mut r);
    assert_eq!(d.outcome, Outcome::ServFail, "{d:?}");
}

/// The published verdicts (`Verdicts`) decide exactly as a survey per
/// query does, whatever the health, overrides, client and type: the same
/// pool, endpoints, scope and fail-open flag from the same random draws.
/// Services whose decisions the verdicts do not settle: one shapes
/// traffic (sticky), one answers with a name.
const UNSETTLED: &str = r#"
      s:
        policy: weighted
        selection: sticky
        max_answers: 2
        pools:
          us-east: { endpoints: [192.0.2.1, 192.0.2.5, 192.0.2.6] }
          eu-west: { endpoints: [192.0.2.2] }
      c:
        policy: failover
        pools:
          eu-west: { endpoints: [lb.example.net.] }
          us-east: { endpoints: [192.0.2.1] }
"#;

#[test]
fn verdicts_decide_as_a_survey_per_query_does() {
    // Geo, failover (a SERVFAIL and a fail-open service), weighted (a tier
    // of several pools: a drawn pool) and nearest are settled; the last
    // two are not.
    let mut f = Fixture::new(&format!("{GEO}{FAILOVER}{WEIGHTED}{NEAREST}{UNSETTLED}"));
    let services = 7;
    let (us, eu) = (f.region("us-east"), f.region("eu-west"));
    let healths = [
        down(&[]),
        down(&[(0, 0)]),
        down(&[(0, 0), (0, 1)]),
        down(&[(0, 2), (1, 0)]),
        down(&[(0, 0), (0, 1), (0, 2), (1, 0), (1, 1), (2, 0)]),
    ];
    let overrides = |case: usize| {
        let mut o = Overrides::default();
        match case {
            0 => {}
            1 => {
                o.regions = vec![Forced::Auto; 3];
                o.regions[us] = Forced::Down;
            }
            2 => {
                o.regions = vec![Forced::Auto; 3];
                o.regions[eu] = Forced::Up;
            }
            3 => {
                o.endpoints = vec![
                    (
                        (0, 0, 0, 0),
                        EndpointOverride {
                            state: EndpointForced::Drain,
                            weight: None,
                        },
                    ),
                    (
                        (0, 0, 0, 1),
                        EndpointOverride {
                            state: EndpointForced::Up,
                            weight: Some(7),
                        },
                    ),
                    (
                        (0, 1, 0, 1),
                        EndpointOverride {
                            state: EndpointForced::Down,
                            weight: None,
                        },
                    ),
                ];
            }
            _ => o.weights = vec![((0, 0, 0), 0)],
        }
        o
    };
    let clients = [
        "192.0.2.1",
        "81.2.69.1",
        "203.0.113.9",
        "10.1.2.3",
        "2001:db8:1::1",
        "100.64.0.1",
    ];
    let mut compared = 0;
    for case in 0..5 {
        f.overrides = overrides(case);
        for (h, health) in healths.iter().enumerate() {
            let verdicts = Verdicts::compute(&f.inputs(), health);
            // With every pool up and no override, the first five settle
            // (so the comparison below covers the settled path); the
            // others never do.
            for s in 0..services {
                let settled = (0..64).any(|e| verdicts.settled((0, s), e).is_some());
                if s >= 5 {
                    assert!(!settled, "service {s} settled");
                } else if (case, h) == (0, 0) {
                    assert!(settled, "service {s} not settled");
                }
            }
            let judged = Inputs {
                verdicts: Some(&verdicts),
                ..f.inputs()
            };
            for s in 0..services {
                for qtype in [
                    RecordType::A,
                    RecordType::AAAA,
                    RecordType::TXT,
                    RecordType::ANY,
                ] {
                    for client in clients {
                        let query = query(s, qtype, client);
                        let surveyed = decide(&f.inputs(), health, &query, &mut rng(), None);
                        let read = decide(&judged, health, &query, &mut rng(), None);
                        assert_eq!(
                            read, surveyed,
                            "case {case}, service {s}, {qtype} from {client}"
                        );
                        compared += 1;
                    }
                }
            }
        }
    }
    assert_eq!(compared, 5 * 5 * services * 4 * 6);
}
