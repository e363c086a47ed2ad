//! The GSLB decision (SPEC 3.1 to 3.4): who is asking, where they are,
//! which regions in what order, which pool answers, which endpoints.
//!
//! `decide` is a pure function of the snapshot, the health view, the
//! client and a random source: no I/O, no locks, no clock. The DNS path and
//! `/v1/explain` both call it; `explain` passes a `Trace` to record each
//! step. Each pool's survey (available, why, which endpoints a draw may
//! pick) is read from the `Verdicts` worked out for the same snapshot and
//! health view when the inputs carry them (`verdict`), else made per
//! query, by the same function.

pub mod hash;
pub mod rng;
mod select;
#[cfg(test)]
mod tests;
pub mod verdict;

use std::collections::HashMap;
use std::fmt;
use std::net::IpAddr;
use std::sync::Arc;

use hickory_proto::rr::RecordType;
use ipnet::IpNet;
use rand::Rng;
use smallvec::SmallVec;

use crate::config::{AllDown, Config, Fallback, Policy, RegionId, Selection, Service, Target};
use crate::geo::lookup::GeoDb;
use crate::geo::map::{CompiledMap, MapRule};
use crate::geo::place::{self, Entry, Places};

pub use select::draw_weighted;
pub use verdict::Verdicts;

/// Health of endpoints as the decision sees it.
pub trait Health {
    /// One pool's view, looked up once for a pass over its endpoints.
    type Pool<'h>: PoolHealth
    where
        Self: 'h;

    /// The view of pool `pool` of `service` in `zone`.
    fn pool(&self, zone: usize, service: usize, pool: usize) -> Self::Pool<'_>;

    /// Whether endpoint `endpoint` of pool `pool` of `service` in `zone` is
    /// healthy. Pools without a monitor are always healthy.
    fn endpoint_up(&self, zone: usize, service: usize, pool: usize, endpoint: usize) -> bool {
        self.pool(zone, service, pool).up(endpoint)
    }
}

/// The health of one pool's endpoints.
pub trait PoolHealth {
    /// Whether endpoint `endpoint` (an index into the pool's endpoints) is
    /// healthy.
    fn up(&self, endpoint: usize) -> bool;
}

/// The view before any check has run, and for pools without monitors.
#[derive(Debug, Clone, Copy, Default)]
pub struct AllHealthy;

impl Health for AllHealthy {
    type Pool<'h> = Self;

    fn pool(&self, _: usize, _: usize, _: usize) -> Self {
        Self
    }
}

impl PoolHealth for AllHealthy {
    fn up(&self, _: usize) -> bool {
        true
    }
}

/// A region forced by an operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Forced {
    #[default]
    Auto,
    Up,
    Down,
}

/// An endpoint forced by an operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum EndpointForced {
    #[default]
    Auto,
    /// Healthy whatever its probes say.
    Up,
    /// Out of the answers, as failed.
    Down,
    /// Out of the answers, on purpose: its drain is reported.
    Drain,
}

/// What an operator set on one endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct EndpointOverride {
    pub state: EndpointForced,
    /// In place of the configured (or registered) weight.
    pub weight: Option<u16>,
}

/// (zone, service, pool, endpoint), the key of endpoint overrides.
pub type EndpointKey = (u32, u32, u32, u32);

/// Operator overrides in effect, resolved to indices.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    /// By region id; missing means `Auto`.
    pub regions: Vec<Forced>,
    /// (zone, service, pool) → weight in place of the configured one.
    pub weights: Vec<((usize, usize, usize), u16)>,
    /// Endpoint overrides, sorted by key (binary search per endpoint; the
    /// answering path skips it when there are none).
    pub endpoints: Vec<(EndpointKey, EndpointOverride)>,
    /// (zone, service, pool) → spill percent in place of the configured one.
    pub spills: Vec<((usize, usize, usize), u8)>,
}

/// Pools ramping up after becoming available again (`slow_start`): when
/// each ramp began (Unix ms). Kept by the slow-start task, published with
/// the snapshot.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Ramps {
    pub pools: Vec<((usize, usize, usize), u64)>,
}

impl Ramps {
    /// The share (floor..=1.0) of its weight and clients pool `pool` takes
    /// at `now_ms`.
    pub fn factor(&self, config: &Config, key: (usize, usize, usize), now_ms: u64) -> f64 {
        let Some(&(_, start)) = self.pools.iter().find(|(k, _)| *k == key) else {
            return 1.0;
        };
        let Some(ss) = config.zones[key.0].services[key.1].pools[key.2].slow_start else {
            return 1.0;
        };
        let window = u64::try_from(ss.window.as_millis())
            .unwrap_or(u64::MAX)
            .max(1);
        let elapsed = now_ms.saturating_sub(start);
        if elapsed >= window {
            return 1.0;
        }
        #[allow(clippy::cast_precision_loss)]
        let done = elapsed as f64 / window as f64;
        ss.floor + (1.0 - ss.floor) * done
    }
}

impl Overrides {
    /// The override of one endpoint (`Auto` and no weight when none).
    #[inline]
    pub fn endpoint(&self, zone: usize, service: usize, pool: usize, e: usize) -> EndpointOverride {
        if self.endpoints.is_empty() {
            return EndpointOverride::default();
        }
        let key = (
            u32::try_from(zone).unwrap_or(u32::MAX),
            u32::try_from(service).unwrap_or(u32::MAX),
            u32::try_from(pool).unwrap_or(u32::MAX),
            u32::try_from(e).unwrap_or(u32::MAX),
        );
        self.endpoints
            .binary_search_by(|(k, _)| k.cmp(&key))
            .map_or_else(|_| EndpointOverride::default(), |i| self.endpoints[i].1)
    }

    pub fn region(&self, region: RegionId) -> Forced {
        self.regions.get(region).copied().unwrap_or_default()
    }

    pub fn spill(&self, zone: usize, service: usize, pool: usize, configured: u8) -> u8 {
        self.spills
            .iter()
            .find(|(k, _)| *k == (zone, service, pool))
            .map_or(configured, |(_, w)| *w)
    }

    pub fn weight(&self, zone: usize, service: usize, pool: usize, configured: u16) -> u16 {
        self.weights
            .iter()
            .find(|(k, _)| *k == (zone, service, pool))
            .map_or(configured, |(_, w)| *w)
    }
}

/// Everything compiled from the configuration that decisions need.
#[derive(Debug)]
pub struct Compiled {
    pub maps: Vec<CompiledMap>,
    /// The placement trees (SPEC 3.1 to 3.3 compiled over the database),
    /// shared by configurations that differ in endpoints only.
    pub places: Arc<Places>,
    /// The tiers of pools for each tree entry, one plan per distinct
    /// (policy, pools' regions, fallback).
    plans: Vec<Plan>,
    /// [zone][service]: what a decision looks up about the service, in
    /// one place (16 bytes a service).
    services: Vec<Vec<ServiceFacts>>,
    /// Unique to this compilation within the process (what is derived
    /// is keyed by it).
    id: u64,
}

impl Compiled {
    pub fn new(config: &Config, places: Arc<Places>) -> Self {
        static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
        let mut plans = Vec::new();
        let mut known: HashMap<(Policy, Vec<RegionId>, Fallback), usize> = HashMap::new();
        let services = config
            .zones
            .iter()
            .map(|z| {
                z.services
                    .iter()
                    .map(|s| {
                        let regions: Vec<RegionId> = s.pools.iter().map(|p| p.region).collect();
                        let key = (s.policy, regions, s.fallback);
                        let plan =
                            *known
                                .entry(key)
                                .or_insert_with_key(|(policy, regions, fallback)| {
                                    plans.push(Plan::new(*policy, regions, *fallback, &places));
                                    plans.len() - 1
                                });
                        ServiceFacts::new(config, s, u32::try_from(plan).unwrap_or(u32::MAX))
                    })
                    .collect()
            })
            .collect();
        Self {
            maps: config.geo_maps.iter().map(CompiledMap::new).collect(),
            places,
            plans,
            services,
            id: NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
        }
    }

    /// What is compiled for service `service` of zone `zone`.
    #[inline]
    fn service(&self, zone: usize, service: usize) -> Option<&ServiceFacts> {
        self.services.get(zone)?.get(service)
    }

    /// Whether service `service` of zone `zone` shapes traffic by its
    /// configuration.
    #[inline]
    pub fn shapes(&self, zone: usize, service: usize) -> bool {
        self.service(zone, service).is_some_and(|f| f.shapes)
    }

    /// Whether a pool of service `service` of zone `zone` answers with a
    /// name (a CNAME endpoint).
    #[inline]
    pub fn answers_names(&self, zone: usize, service: usize) -> bool {
        self.service(zone, service).is_some_and(|f| f.names)
    }

    /// The ids a sticky service hashes by (None for other services).
    fn sticky(&self, zone: usize, service: usize) -> Option<&StickyIds> {
        self.service(zone, service)?.sticky.as_deref()
    }

    /// Unique to this compilation (so to this loaded configuration) within
    /// the process: caches of what was derived from it are keyed by it.
    pub fn id(&self) -> u64 {
        self.id
    }
}

/// What a decision looks up about one service.
#[derive(Debug)]
struct ServiceFacts {
    /// Index into `Compiled::plans`.
    plan: u32,
    /// The configuration shapes traffic (sticky, a spill or a slow start
    /// on a pool).
    shapes: bool,
    /// A pool answers with a name (CNAME).
    names: bool,
    /// Ids of pools and endpoints for sticky selection (None for services
    /// that do not hash: most, so it is boxed).
    sticky: Option<Box<StickyIds>>,
}

impl ServiceFacts {
    fn new(config: &Config, s: &Service, plan: u32) -> Self {
        let sticky = (s.selection == Selection::Sticky).then(|| {
            Box::new(StickyIds {
                pools: s
                    .pools
                    .iter()
                    .map(|p| hash::id_of(config.regions[p.region].name.as_bytes()))
                    .collect(),
                endpoints: s
                    .pools
                    .iter()
                    .map(|p| {
                        p.endpoints
                            .iter()
                            .map(|e| hash::id_of(target_id(&e.target).as_bytes()))
                            .collect()
                    })
                    .collect(),
            })
        });
        Self {
            plan,
            shapes: s.selection == Selection::Sticky
                || s.pools
                    .iter()
                    .any(|p| p.spill > 0 || p.slow_start.is_some()),
            names: s.pools.iter().any(|p| {
                p.endpoints
                    .iter()
                    .any(|e| matches!(e.target, Target::Name(_)))
            }),
            sticky,
        }
    }
}

/// Ids a sticky service hashes by: a pool's region name, an endpoint's
/// address, so the choice survives reorders and reloads.
#[derive(Debug, Default)]
struct StickyIds {
    pools: Vec<u64>,
    endpoints: Vec<Vec<u64>>,
}

/// Which tree places a client for a plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Placer {
    /// The answer does not depend on the client (weighted, failover).
    Anywhere,
    Map(usize),
    Nearest,
}

/// SPEC 3.3 for one kind of service: its tiers of pools for each entry of
/// its tree (one entry for `Anywhere`).
#[derive(Debug)]
struct Plan {
    placer: Placer,
    tiers: Vec<Vec<Vec<usize>>>,
}

impl Plan {
    fn new(policy: Policy, pools: &[RegionId], fallback: Fallback, places: &Places) -> Self {
        let n = pools.len();
        let nearest = |e: &Entry| -> Vec<Vec<usize>> {
            place::nearest(pools, &e.ranks)
                .into_iter()
                .map(|p| vec![p])
                .collect()
        };
        let anywhere = |tiers| Self {
            placer: Placer::Anywhere,
            tiers: vec![tiers],
        };
        match policy {
            Policy::Weighted => anywhere(vec![(0..n).collect()]),
            Policy::Failover => anywhere((0..n).map(|p| vec![p]).collect()),
            Policy::Nearest => match &places.nearest {
                Some(tree) => Self {
                    placer: Placer::Nearest,
                    tiers: tree.entries.iter().map(nearest).collect(),
                },
                None => anywhere((0..n).map(|p| vec![p]).collect()),
            },
            Policy::Geo(m) => match places.maps.get(m).and_then(Option::as_ref) {
                Some(tree) => Self {
                    placer: Placer::Map(m),
                    tiers: tree
                        .entries
                        .iter()
                        .map(|e| match &e.list {
                            None => nearest(e),
                            Some(list) => listed(pools, list, fallback, e),
                        })
                        .collect(),
                },
                None => anywhere((0..n).map(|p| vec![p]).collect()),
            },
        }
    }
}

/// A map's list as tiers of pools (regions without a pool skipped, empty
/// tiers dropped), then unless `fallback: none` the pools it did not name,
/// nearest first, one a tier (SPEC 3.3).
fn listed(
    pools: &[RegionId],
    list: &[Vec<RegionId>],
    fallback: Fallback,
    entry: &Entry,
) -> Vec<Vec<usize>> {
    let pool_of = |region: RegionId| pools.iter().position(|&r| r == region);
    let mut tiers: Vec<Vec<usize>> = list
        .iter()
        .map(|t| t.iter().filter_map(|&r| pool_of(r)).collect::<Vec<_>>())
        .filter(|t| !t.is_empty())
        .collect();
    if fallback == Fallback::Nearest {
        let named: Vec<usize> = tiers.iter().flatten().copied().collect();
        tiers.extend(
            place::nearest(pools, &entry.ranks)
                .into_iter()
                .filter(|p| !named.contains(p))
                .map(|p| vec![p]),
        );
    }
    tiers
}

/// SPEC 3.1 to 3.3 for a client: the entry of service `service` of zone
/// `zone`'s plan the client lands on (what the verdicts settle by), its
/// tiers of pools, and the ECS scope, from one walk of the compiled tree.
/// The DNS path and `/v1/explain` both come here (through `decide`).
pub fn place<'a>(
    inputs: &Inputs<'a>,
    zone: usize,
    service: usize,
    client: IpAddr,
) -> (usize, &'a [Vec<usize>], u8) {
    let compiled = inputs.compiled;
    let Some(plan) = compiled
        .service(zone, service)
        .and_then(|f| compiled.plans.get(f.plan as usize))
    else {
        return (0, &[], 0);
    };
    let tree = match plan.placer {
        Placer::Anywhere => None,
        Placer::Map(m) => compiled.places.maps.get(m).and_then(Option::as_ref),
        Placer::Nearest => compiled.places.nearest.as_ref(),
    };
    let placed = tree.map_or_else(place::Placed::default, |t| t.place(client));
    let entry = placed.entry as usize;
    let tiers = plan.tiers.get(entry).map_or(&[][..], Vec::as_slice);
    (entry, tiers, placed.scope)
}

fn target_id(t: &Target) -> String {
    match t {
        Target::V4(a) => a.to_string(),
        Target::V6(a) => a.to_string(),
        Target::Name(n) => n.to_ascii().to_ascii_lowercase(),
    }
}

/// Where a client is, as far as we know.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Location {
    /// The autonomous system (from `geoip.asn_database`, else the record).
    pub asn: Option<u32>,
    pub country: Option<String>,
    pub continent: Option<String>,
    pub subdivision: Option<String>,
    pub coordinates: Option<(f64, f64)>,
    /// The database network that holds the client (or the empty network
    /// around it); None without a database.
    pub network: Option<IpNet>,
}

/// The inputs a decision needs besides the snapshot.
#[derive(Debug, Clone, Copy)]
pub struct Query {
    pub zone: usize,
    pub service: usize,
    pub qtype: RecordType,
    /// The address to locate: the ECS address or the packet source.
    pub client: IpAddr,
    /// True when the query carried ECS with a source prefix of 0: the
    /// answer then uses the source address and the scope is 0.
    pub ecs_zero: bool,
    /// Now, in Unix ms (slow start's ramp); passed in so `decide` reads no
    /// clock.
    pub now_ms: u64,
}

/// Endpoints of an answer: indices into the pool's endpoints, in order
/// (inline up to four: no allocation per query).
pub type Endpoints = SmallVec<[usize; 4]>;

/// What the service answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// These endpoints (indices into the pool's endpoints) of `pool`.
    Answer {
        pool: usize,
        endpoints: Endpoints,
    },
    /// The chosen pool has no endpoint of the asked type.
    NoData {
        pool: Option<usize>,
    },
    ServFail,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub outcome: Outcome,
    /// ECS scope prefix for the response.
    pub scope: u8,
    /// No pool was available and `all_down: serve_all` answered anyway.
    pub fail_open: bool,
}

/// A record of each step, for `/v1/explain`.
#[derive(Debug, Default, Clone)]
pub struct Trace {
    pub location: Option<Location>,
    pub rule: Option<MapRule>,
    /// Tiers as pool indices, in order.
    pub tiers: Vec<Vec<usize>>,
    /// Per pool: available, and why not.
    pub pools: Vec<(usize, bool, String)>,
    pub fail_open: bool,
    /// What traffic shaping did: sticky choice, spill, slow start.
    pub shaping: Vec<String>,
}

/// The state a decision reads: the configuration and its compiled form,
/// the database, and operator overrides.
pub struct Inputs<'a> {
    pub config: &'a Config,
    pub compiled: &'a Compiled,
    pub geoip: Option<&'a GeoDb>,
    /// `geoip.asn_database`, when configured.
    pub asn_db: Option<&'a GeoDb>,
    pub overrides: &'a Overrides,
    pub ramps: &'a Ramps,
    /// Every pool's survey for this configuration, overrides and the
    /// health view the decision is given, when one was worked out for that
    /// pair (`Verdicts`); None: each pool is surveyed per query.
    pub verdicts: Option<&'a Verdicts>,
}

/// Decide the answer for `query` (SPEC 3.1–3.4).
pub fn decide(
    inputs: &Inputs<'_>,
    health: &impl Health,
    query: &Query,
    rng: &mut impl Rng,
    mut trace: Option<&mut Trace>,
) -> Decision {
    let config = inputs.config;
    let service = &config.zones[query.zone].services[query.service];

    // Types a GSLB name never holds: NODATA for everyone.
    let names = inputs.compiled.answers_names(query.zone, query.service);
    let Some(wanted) = wanted_type(names, query.qtype) else {
        return Decision {
            outcome: Outcome::NoData { pool: None },
            scope: 0,
            fail_open: false,
        };
    };

    // 3.1 to 3.3: the tiers of pools for this client, and the scope.
    let (entry, tiers, scope) = place(inputs, query.zone, query.service, query.client);
    if let Some(t) = trace.as_deref_mut() {
        describe(inputs, service, query.client, t);
        t.tiers = tiers.to_vec();
    }
    let scope = if query.ecs_zero { 0 } else { scope };
    if trace.is_none()
        && let Some(decision) = settled(inputs, query, service, (entry, wanted, scope), rng)
    {
        return decision;
    }

    // 3.4: the first tier with an available pool.
    let ctx = PoolCtx {
        inputs,
        health,
        zone: query.zone,
        service_index: query.service,
        service,
        now_ms: query.now_ms,
        net: None,
        names,
    };
    // Traffic shaping hashes the client's network: sticky choices, and
    // which clients spill or wait out a slow start.
    let ctx = PoolCtx {
        net: ctx
            .shapes()
            .then(|| hash::network(query.client, service.client_prefix)),
        ..ctx
    };
    let mut fail_open = false;
    let mut chosen = None;
    // Tiers are looked at in order and only as far as needed: the first
    // with an available pool answers (unless shaping passes this client on
    // and a later tier has one).
    // The last pool surveyed; when it is chosen, its candidates are not
    // looked for twice.
    let mut survey = Survey::unavailable(Why::NoEndpoints);
    let mut surveyed = None;
    for (i, tier) in tiers.iter().enumerate() {
        // A tier of one pool (most lists) needs no list to draw from.
        let (one, mut many);
        let avail: &[(usize, u16)] = if let [p] = tier[..] {
            one = ctx.look(p, wanted, &mut survey);
            note_pool(trace.as_deref_mut(), p, &survey);
            one.as_slice()
        } else {
            many = Weighted::new();
            for &p in tier {
                many.extend(ctx.look(p, wanted, &mut survey));
                note_pool(trace.as_deref_mut(), p, &survey);
            }
            &many
        };
        surveyed = tier.last().copied();
        if avail.is_empty() {
            continue;
        }
        if ctx.net.is_some()
            && let Some(why) = ctx.passes_on(avail)
            && tiers[i + 1..]
                .iter()
                .any(|t| t.iter().any(|&p| ctx.available(p).0))
        {
            if let Some(t) = trace.as_deref_mut() {
                t.shaping.push(why);
            }
            continue;
        }
        if let Some(p) = ctx.draw_pool(avail, rng) {
            if ctx.net.is_some()
                && let Some(t) = trace.as_deref_mut()
            {
                t.shaping.push(format!(
                    "{}: pool {} by the client network's hash",
                    if service.selection == Selection::Sticky {
                        "sticky"
                    } else {
                        "random"
                    },
                    inputs.config.regions[service.pools[p].region].name
                ));
            }
            chosen = Some(p);
            break;
        }
    }
    if chosen.is_none() && service.all_down == AllDown::ServeAll {
        // Fail open: every pool not drained is treated as healthy.
        fail_open = true;
        for tier in tiers.iter() {
            let avail: SmallVec<[(usize, u16); 8]> = tier
                .iter()
                .filter(|&&p| ctx.not_drained(p))
                .map(|&p| (p, ctx.weight(p)))
                .collect();
            if let Some(p) = ctx.draw_pool(&avail, rng) {
                chosen = Some(p);
                break;
            }
        }
    }
    if let Some(t) = trace {
        t.fail_open = fail_open;
    }
    // A hashed answer depends on the client's network: never tell a
    // resolver it holds for more (RFC 7871 7.2.1).
    let scope = match (ctx.net, query.ecs_zero, query.client) {
        (Some(_), false, IpAddr::V4(_)) => scope.max(service.client_prefix.0),
        (Some(_), false, IpAddr::V6(_)) => scope.max(service.client_prefix.1),
        _ => scope,
    };
    let Some(pool_index) = chosen else {
        return Decision {
            outcome: Outcome::ServFail,
            scope,
            fail_open,
        };
    };

    let survey = (surveyed == Some(pool_index)).then_some(&survey);
    let endpoints = ctx.endpoints(pool_index, wanted, fail_open, survey, rng);
    let outcome = if endpoints.is_empty() {
        Outcome::NoData {
            pool: Some(pool_index),
        }
    } else {
        Outcome::Answer {
            pool: pool_index,
            endpoints,
        }
    };
    Decision {
        outcome,
        scope,
        fail_open,
    }
}

/// 3.4 when the verdicts settled which tier answers the client's entry
/// (`Verdicts::settled`: a service that does not shape traffic, with an
/// available pool): a pool of that tier by weight, then its endpoints,
/// as the tier loop below would draw them. None: decide in full.
#[inline]
fn settled(
    inputs: &Inputs<'_>,
    query: &Query,
    service: &Service,
    (entry, wanted, scope): (usize, Wanted, u8),
    rng: &mut impl Rng,
) -> Option<Decision> {
    let settled = inputs
        .verdicts?
        .settled((query.zone, query.service), entry)?;
    let pool = draw_weighted(settled.tier, rng)?;
    let candidates = settled.candidates(pool, wanted)?;
    let endpoints = select::draw_without_replacement(candidates, service.max_answers, rng);
    let outcome = if endpoints.is_empty() {
        Outcome::NoData { pool: Some(pool) }
    } else {
        Outcome::Answer { pool, endpoints }
    };
    Some(Decision {
        outcome,
        scope,
        fail_open: false,
    })
}

/// For `/v1/explain`: what the survey of pool `pool` found.
#[inline]
fn note_pool(trace: Option<&mut Trace>, pool: usize, survey: &Survey<'_>) {
    if let Some(t) = trace {
        t.pools.push((pool, survey.ok, survey.why.to_string()));
    }
}

/// Pools (or endpoints) with the weight a draw uses.
type Weighted = SmallVec<[(usize, u16); 8]>;

/// Which endpoints a query type asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Wanted {
    V4,
    V6,
    /// Every type: pools answering with a CNAME answer it for any type.
    NameOnly,
}

impl Wanted {
    /// Whether an endpoint at `target` answers this type with an address.
    #[inline]
    fn holds(self, target: &Target) -> bool {
        matches!(
            (self, target),
            (Self::V4, Target::V4(_)) | (Self::V6, Target::V6(_))
        )
    }

    /// The address family's index (IPv4 0, IPv6 1); None for names.
    #[inline]
    fn family(self) -> Option<usize> {
        match self {
            Self::V4 => Some(0),
            Self::V6 => Some(1),
            Self::NameOnly => None,
        }
    }
}

/// What one pass over a pool's endpoints found (`PoolCtx::survey`), or
/// what the verdicts say it would find (`Verdicts::fill`).
struct Survey<'v> {
    /// SPEC 3.4: whether the pool is available, and why (or why not).
    ok: bool,
    why: Why,
    /// The usable endpoints of the wanted type that are healthy (all of
    /// them in a region forced up), with their weights, as the pass found
    /// them...
    found: Weighted,
    /// ...or as the verdicts hold them (then `found` is not used).
    judged: Option<&'v [(usize, u16)]>,
    /// The usable endpoints of the wanted type left out for health.
    others: usize,
    /// The pool's effective weight (an operator's, else the configured).
    weight: u16,
}

impl Survey<'_> {
    fn unavailable(why: Why) -> Self {
        Self {
            ok: false,
            why,
            found: Weighted::new(),
            judged: None,
            others: 0,
            weight: 0,
        }
    }

    /// The candidates, wherever they are.
    #[inline]
    fn candidates(&self) -> &[(usize, u16)] {
        self.judged.unwrap_or(&self.found)
    }
}

/// `any_name`: some pool of the service answers with a name (CNAME).
fn wanted_type(any_name: bool, qtype: RecordType) -> Option<Wanted> {
    match qtype {
        RecordType::A | RecordType::ANY => Some(Wanted::V4),
        RecordType::AAAA => Some(Wanted::V6),
        RecordType::CNAME if any_name => Some(Wanted::NameOnly),
        _ if any_name => Some(Wanted::NameOnly),
        _ => None,
    }
}

/// For `/v1/explain`: where the database puts the client and which rule
/// of the map applies (the tiers themselves come from `place`).
fn describe(inputs: &Inputs<'_>, service: &Service, client: IpAddr, trace: &mut Trace) {
    match service.policy {
        Policy::Weighted | Policy::Failover => {}
        Policy::Nearest => trace.location = Some(locate(inputs, client)),
        Policy::Geo(m) => {
            let map = &inputs.compiled.maps[m];
            if let Some((net, _)) = map.match_net(client) {
                trace.rule = Some(MapRule::Net(*net));
                return;
            }
            let location = locate(inputs, client);
            let (_, rule) = map.by_location(
                location.asn,
                location.country.as_deref(),
                location.subdivision.as_deref(),
                location.continent.as_deref(),
            );
            trace.rule = Some(rule);
            trace.location = Some(location);
        }
    }
}

/// Whether pool `pool` of a service is available now (SPEC 3.4), why, and
/// its effective weight: for the admin API's views.
pub fn pool_status(
    inputs: &Inputs<'_>,
    health: &impl Health,
    zone: usize,
    service: usize,
    pool: usize,
) -> (bool, String, u16) {
    let ctx = PoolCtx {
        inputs,
        health,
        zone,
        service_index: service,
        service: &inputs.config.zones[zone].services[service],
        now_ms: 0,
        net: None,
        names: inputs.compiled.answers_names(zone, service),
    };
    let (ok, why) = ctx.available(pool);
    (ok, why.to_string(), ctx.weight(pool))
}

/// Look the client up in the database.
pub fn locate(inputs: &Inputs<'_>, client: IpAddr) -> Location {
    let Some(db) = inputs.geoip else {
        return Location::default();
    };
    let asn_of = |found: &crate::geo::lookup::Lookup| match inputs.asn_db {
        Some(asn_db) => asn_db.lookup(client).ok().and_then(|a| a.asn),
        None => found.asn,
    };
    match db.lookup(client) {
        Ok(found) => Location {
            asn: asn_of(&found),
            country: found.country,
            continent: found.continent,
            subdivision: found.subdivision,
            coordinates: found.location,
            network: Some(found.network),
        },
        Err(_) => Location::default(),
    }
}

/// Why a pool is available or not; shown by `/v1/explain` and the views.
#[derive(Debug, Clone, Copy)]
enum Why {
    ForcedDown,
    WeightZero,
    ForcedUp,
    /// Every endpoint is drained or forced down (or the pool has none).
    NoEndpoints,
    Healthy {
        healthy: usize,
        min: usize,
    },
}

impl fmt::Display for Why {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::ForcedDown => f.write_str("region forced down"),
            Self::WeightZero => f.write_str("weight 0"),
            Self::ForcedUp => f.write_str("region forced up"),
            Self::NoEndpoints => {
                f.write_str("no endpoint in service (all drained, down or none registered)")
            }
            Self::Healthy { healthy, min } => {
                write!(f, "{healthy} healthy endpoint(s), min_healthy {min}")
            }
        }
    }
}

struct PoolCtx<'a, H> {
    inputs: &'a Inputs<'a>,
    health: &'a H,
    zone: usize,
    service_index: usize,
    service: &'a Service,
    now_ms: u64,
    /// The client network's hash, when the service shapes traffic.
    net: Option<u64>,
    /// A pool of the service answers with a name (CNAME).
    names: bool,
}

impl<'a, H: Health> PoolCtx<'a, H> {
    /// Whether this service hashes the client's network: its
    /// configuration shapes traffic, or an operator set a spill on it.
    fn shapes(&self) -> bool {
        self.inputs.compiled.shapes(self.zone, self.service_index)
            || self
                .inputs
                .overrides
                .spills
                .iter()
                .any(|((z, s, _), pct)| (*z, *s) == (self.zone, self.service_index) && *pct > 0)
    }

    fn spill(&self, pool: usize) -> u8 {
        self.inputs.overrides.spill(
            self.zone,
            self.service_index,
            pool,
            self.service.pools[pool].spill,
        )
    }

    fn ramp(&self, pool: usize) -> f64 {
        self.inputs.ramps.factor(
            self.inputs.config,
            (self.zone, self.service_index, pool),
            self.now_ms,
        )
    }

    /// Pool `pool` with the weight a draw uses, when it is available
    /// (its survey into `survey`).
    #[inline]
    fn look(&self, pool: usize, wanted: Wanted, survey: &mut Survey<'a>) -> Option<(usize, u16)> {
        self.judge(pool, Some(wanted), survey);
        survey
            .ok
            .then(|| (pool, self.ramped_weight(pool, survey.weight)))
    }

    /// The weight a draw uses: the effective weight `w` times the
    /// slow-start ramp (at least 1 while above 0).
    #[inline]
    fn ramped_weight(&self, pool: usize, w: u16) -> u16 {
        if self.inputs.ramps.pools.is_empty() {
            return w;
        }
        let f = self.ramp(pool);
        if f >= 1.0 || w == 0 {
            return w;
        }
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let ramped = (f64::from(w) * f).round() as u16;
        ramped.max(1)
    }

    /// Whether this client goes on to the next tier with an available pool
    /// (and why): it is in the tier's `spill` share, or the tier's only
    /// pool is ramping up and has not admitted it yet.
    fn passes_on(&self, avail: &[(usize, u16)]) -> Option<String> {
        let net = self.net?;
        let name = |p: usize| &self.inputs.config.regions[self.service.pools[p].region].name;
        let spill = avail.iter().map(|&(p, _)| self.spill(p)).max().unwrap_or(0);
        if spill > 0 && hash::admitted(net, hash::SPILL_SALT, f64::from(spill) / 100.0) {
            return Some(format!(
                "spill: this client network is in the {spill}% of {} sent to the next tier",
                name(avail[0].0)
            ));
        }
        if let [(p, _)] = avail {
            let f = self.ramp(*p);
            if f < 1.0 && !hash::admitted(net, hash::RAMP_SALT, f) {
                return Some(format!(
                    "slow start: {} admits {:.0}% of its clients so far; this one goes to the next tier",
                    name(*p),
                    f * 100.0
                ));
            }
        }
        None
    }

    /// One pool of a tier: by weighted rendezvous hashing of the client's
    /// network when sticky, else a weighted random draw.
    fn draw_pool(&self, avail: &[(usize, u16)], rng: &mut impl Rng) -> Option<usize> {
        // A tier of one available pool (most lists): nothing to draw.
        if let [(p, w)] = avail {
            return (*w > 0).then_some(*p);
        }
        match (self.service.selection, self.net) {
            (Selection::Sticky, Some(net)) => {
                let ids = &self
                    .inputs
                    .compiled
                    .sticky(self.zone, self.service_index)?
                    .pools;
                avail
                    .iter()
                    .filter(|(_, w)| *w > 0)
                    .max_by(|a, b| {
                        hash::score(net, ids[a.0], a.1).total_cmp(&hash::score(net, ids[b.0], b.1))
                    })
                    .map(|(p, _)| *p)
            }
            _ => draw_weighted(avail, rng),
        }
    }

    #[inline]
    fn weight(&self, pool: usize) -> u16 {
        let configured = self.service.pools[pool].weight;
        self.inputs
            .overrides
            .weight(self.zone, self.service_index, pool, configured)
    }

    #[inline]
    fn forced(&self, pool: usize) -> Forced {
        self.inputs
            .overrides
            .region(self.service.pools[pool].region)
    }

    fn not_drained(&self, pool: usize) -> bool {
        self.forced(pool) != Forced::Down && self.weight(pool) > 0 && self.any_usable(pool)
    }

    #[inline]
    fn endpoint_override(&self, pool: usize, e: usize) -> EndpointOverride {
        self.inputs
            .overrides
            .endpoint(self.zone, self.service_index, pool, e)
    }

    /// Not drained or forced down by an operator, nor draining in the
    /// registry: such an endpoint is never answered, not even failing open.
    #[inline]
    fn usable(&self, pool: usize, e: usize) -> bool {
        !self.service.pools[pool].endpoints[e].draining
            && !matches!(
                self.endpoint_override(pool, e).state,
                EndpointForced::Down | EndpointForced::Drain
            )
    }

    fn any_usable(&self, pool: usize) -> bool {
        (0..self.service.pools[pool].endpoints.len()).any(|e| self.usable(pool, e))
    }

    /// The endpoint's weight after an operator's override.
    #[inline]
    fn endpoint_weight(&self, pool: usize, e: usize) -> u16 {
        self.endpoint_override(pool, e)
            .weight
            .unwrap_or(self.service.pools[pool].endpoints[e].weight)
    }

    /// SPEC 3.4: not forced down, weight above 0, and forced up or at least
    /// `min_healthy` healthy endpoints, and why (or why not).
    fn available(&self, pool: usize) -> (bool, Why) {
        let mut survey = Survey::unavailable(Why::NoEndpoints);
        self.judge(pool, None, &mut survey);
        (survey.ok, survey.why)
    }

    /// Pool `pool`'s survey (see [`Self::survey`]): read from the
    /// verdicts when the inputs carry them, else worked out.
    #[inline]
    fn judge(&self, pool: usize, wanted: Option<Wanted>, survey: &mut Survey<'a>) {
        let read = self
            .inputs
            .verdicts
            .is_some_and(|v| v.fill((self.zone, self.service_index, pool), wanted, survey));
        if !read {
            self.survey(pool, wanted, survey);
        }
    }

    /// One pass over the endpoints of pool `pool`: whether it is available
    /// (SPEC 3.4) and why, and the endpoints of the `wanted` type a draw
    /// may pick, into `survey` (whose buffer is reused).
    fn survey(&self, pool: usize, wanted: Option<Wanted>, survey: &mut Survey<'_>) {
        survey.ok = false;
        survey.found.clear();
        survey.judged = None;
        survey.others = 0;
        let forced = self.forced(pool);
        if forced == Forced::Down {
            survey.why = Why::ForcedDown;
            return;
        }
        survey.weight = self.weight(pool);
        if survey.weight == 0 {
            survey.why = Why::WeightZero;
            return;
        }
        survey.why = Why::NoEndpoints;
        let p = &self.service.pools[pool];
        let health = self.health.pool(self.zone, self.service_index, pool);
        let (mut usable, mut healthy) = (0, 0);
        for (e, endpoint) in p.endpoints.iter().enumerate() {
            let o = self.endpoint_override(pool, e);
            if endpoint.draining || matches!(o.state, EndpointForced::Down | EndpointForced::Drain)
            {
                continue;
            }
            usable += 1;
            // A region forced up trusts every endpoint: health is not asked.
            let up = forced == Forced::Up || o.state == EndpointForced::Up || health.up(e);
            healthy += usize::from(up);
            if wanted.is_some_and(|w| w.holds(&endpoint.target)) {
                if up {
                    let weight = o.weight.unwrap_or(endpoint.weight);
                    survey.found.push((e, weight));
                } else {
                    survey.others += 1;
                }
            }
        }
        if usable > 0 {
            (survey.ok, survey.why) = if forced == Forced::Up {
                (true, Why::ForcedUp)
            } else {
                let min = p.min_healthy;
                (healthy >= min, Why::Healthy { healthy, min })
            };
        }
    }

    /// Every usable endpoint of the `wanted` type of pool `pool`, healthy
    /// or not, with its weight.
    fn of_type(&self, pool: usize, wanted: Wanted) -> Weighted {
        let p = &self.service.pools[pool];
        (0..p.endpoints.len())
            .filter(|&i| wanted.holds(&p.endpoints[i].target) && self.usable(pool, i))
            .map(|i| (i, self.endpoint_weight(pool, i)))
            .collect()
    }

    /// Up to `max_answers` endpoints of the wanted type, drawn by weight
    /// without replacement. `surveyed` is the pool's survey when the tier
    /// loop kept it.
    fn endpoints(
        &self,
        pool: usize,
        wanted: Wanted,
        fail_open: bool,
        surveyed: Option<&Survey<'a>>,
        rng: &mut impl Rng,
    ) -> Endpoints {
        let p = &self.service.pools[pool];
        // A pool answering with a name answers with it alone.
        if self.names
            && let Some(i) = p
                .endpoints
                .iter()
                .position(|e| matches!(e.target, Target::Name(_)))
        {
            return if self.usable(pool, i) {
                std::iter::once(i).collect()
            } else {
                Endpoints::new()
            };
        }
        if wanted == Wanted::NameOnly {
            return Endpoints::new();
        }
        // Failing open trusts every usable endpoint; otherwise the healthy
        // ones, or, when the pool is available on the strength of its
        // other family, this family's endpoints rather than nothing.
        let (own, fresh);
        let candidates: &[(usize, u16)] = if fail_open {
            own = self.of_type(pool, wanted);
            &own
        } else {
            let survey: &Survey<'a> = match surveyed {
                Some(survey) => survey,
                None => {
                    let mut walked = Survey::unavailable(Why::NoEndpoints);
                    self.judge(pool, Some(wanted), &mut walked);
                    fresh = walked;
                    &fresh
                }
            };
            if survey.candidates().is_empty() && survey.others > 0 {
                own = self.of_type(pool, wanted);
                &own
            } else {
                survey.candidates()
            }
        };
        // (The sticky ids are looked up only for a sticky service.)
        if self.service.selection == Selection::Sticky
            && let Some(net) = self.net
            && let Some(ids) = self
                .inputs
                .compiled
                .sticky(self.zone, self.service_index)
                .and_then(|ids| ids.endpoints.get(pool))
        {
            // The highest scores for this network, best first.
            let mut ranked: Weighted = candidates.iter().copied().filter(|(_, w)| *w > 0).collect();
            ranked.sort_by(|a, b| {
                hash::score(net, ids[b.0], b.1).total_cmp(&hash::score(net, ids[a.0], a.1))
            });
            return ranked
                .iter()
                .take(self.service.max_answers)
                .map(|(i, _)| *i)
                .collect();
        }
        select::draw_without_replacement(candidates, self.service.max_answers, rng)
    }
}
